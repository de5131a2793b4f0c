"""``voicebank bench startup`` runs both one-shot commands for real and reports them side by side."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_bench_startup_reports_both_and_their_ratio(tmp_path: Path) -> None:
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-m", "voicebank.cli.main", "bench", "startup", "--runs", "1", "--json"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    vb, piper = res["voicebank_s"], res["piper_s"]
    assert len(vb["runs"]) == len(piper["runs"]) == 1 and vb["median"] > 0 and piper["median"] > 0
    assert abs(res["ratio"] - vb["median"] / piper["median"]) < 0.01
    assert res["meets_goal"] == (res["ratio"] <= 1.0)  # reported, not asserted: no timing in tests
