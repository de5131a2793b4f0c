"""``voicebank bench serve``: a real server and a separate client process; the report's shape and sane numbers.

Timing goals are reported by the benchmark, never asserted here (the machine may be loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

from voicebank.benchmarks.serve_clients import Playback  # noqa: E402


def _bench(home: Path, *args: str) -> dict[str, Any]:
    env = dict(os.environ, VOICEBANK_HOME=str(home))
    proc = subprocess.run([sys.executable, "-m", "voicebank.cli.main", "bench", "serve", "--json", *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_playback_clock_counts_a_late_frame_as_an_underrun_and_stalls() -> None:
    play = Playback(rate=1000, jitter=0.1)
    play.frame(0.0, 500)  # plays from 0.1 s to 0.6 s
    play.frame(0.55, 500)  # due at 0.6 s: in time
    assert play.underruns == 0 and play.end == pytest.approx(1.1)
    play.frame(1.3, 100)  # due at 1.1 s: 0.2 s late, the player waits for it
    assert play.underruns == 1 and play.worst == pytest.approx(0.2) and play.end == pytest.approx(1.4)


@pytest.mark.slow
def test_bench_serve_reports_first_bytes_and_concurrent_clients(home: Path) -> None:
    res = _bench(home, "--runs", "3", "--clients", "2", "--duration", "4", "--every", "1")
    fb = res["first_byte"]
    assert fb["runs"] == 3 and fb["errors"] == []
    for kind in ("engine", "ws", "http"):
        assert fb["first_ms"][kind]["n"] == 3 and 0 < fb["first_ms"][kind]["p50"] <= fb["first_ms"][kind]["max"]
    for kind in ("ws", "http"):
        extra = fb["minus_engine_ms"][kind]
        assert extra["p50_minus_engine_p50"] == pytest.approx(fb["first_ms"][kind]["p50"] - fb["first_ms"]["engine"]["p50"], abs=0.15)
    conc = res["concurrency"]
    overall = conc["overall"]
    assert conc["clients"] == 2 and len(conc["per_client"]) == 2
    assert overall["errors"] == 0 and overall["completed"] == overall["utterances"] > 0
    assert all(c["completed"] > 0 for c in conc["per_client"])
    assert overall["first_audio_ms"]["p50"] > 0 and overall["audio_s"] > 0
    assert sum(c["utterances"] for c in conc["per_client"]) == overall["utterances"]
    assert res["acceptance"] == {"first_byte": fb["meets_goal"], "concurrency": conc["meets_goal"]}
    assert res["machine"]["before"]["cpus"] and "load_avg" in res["machine"]["after"]
    assert res["words"] == 20 and res["server"]["auth"] == "bearer token"


@pytest.mark.slow
def test_bench_serve_sweep_steps_through_the_counts(home: Path) -> None:
    res = _bench(home, "--runs", "0", "--clients-sweep", "1,2", "--duration", "2", "--every", "1")
    assert "first_byte" not in res and "concurrency" not in res
    steps = res["sweep"]["steps"]
    assert [s["clients"] for s in steps][: len(steps)] == [1, 2][: len(steps)]
    assert all(s["overall"]["utterances"] > 0 for s in steps)
    passed = [s["clients"] for s in steps if s["meets_goal"]]
    assert res["sweep"]["highest_meeting_goal"] == (passed[-1] if passed else None)
