"""``voicebank bench wyoming``: both servers really start and answer, the JSON has every figure and the ratio.

Timing goals are reported by the benchmark, never asserted here (the machine may be loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("wyoming")
pytest.importorskip("wyoming_piper")


@pytest.mark.slow
def test_bench_wyoming_reports_both_servers_and_the_ratio(home: Path) -> None:
    env = dict(os.environ, VOICEBANK_HOME=str(home))
    proc = subprocess.run([sys.executable, "-m", "voicebank.cli.main", "bench", "wyoming", "--runs", "1", "--json"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["words"] == 20 and res["goal"] == 0.4
    for server in ("voicebank", "wyoming-piper"):
        for mode in ("synthesize", "streamed"):
            figures = res["results"][server][mode]
            assert figures["runs"] == 1 and 0 < figures["first_chunk_ms_p50"] <= figures["total_ms_p50"]
            assert 4.0 < figures["audio_s"] < 9.0  # both spoke the whole sentence
    assert res["ratio"] == res["ratio_first_chunk"]["synthesize"] > 0
    assert set(res["ratio_first_chunk"]) == {"synthesize", "streamed"}
