"""`voicebank speak` with text the voice cannot read: a clear note, and no gibberish spoken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


def speak(text: str, out: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VOICEBANK_HOME=str(home))
    proc = subprocess.run(
        VOICEBANK + ["speak", text, "--out", str(out)], capture_output=True, text=True, env=env, timeout=300
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    return proc


def test_chinese_only_says_it_cannot_read_it_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    proc = speak("你好", out, tmp_path / "home")
    assert "Skipped 2 Chinese letters (你好)" in proc.stderr
    assert "Nothing to say" in proc.stdout
    assert not out.exists()


def test_mixed_text_speaks_only_what_it_can_read(tmp_path: Path) -> None:
    plain, mixed = tmp_path / "plain.wav", tmp_path / "mixed.wav"
    assert "Skipped" not in speak("Hello there.", plain, tmp_path / "home").stderr
    proc = speak("Hello 你好世界 there.", mixed, tmp_path / "home")
    assert "Skipped 4 Chinese letters" in proc.stderr
    # Spelled out, four letters would add seconds ("Chinese letter" each); skipped, they add nothing.
    assert abs(sf.info(mixed).duration - sf.info(plain).duration) < 0.3
