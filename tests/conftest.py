"""Shared test fixtures and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LJSPEECH = SHARED / "data" / "ljspeech-sample"


@pytest.fixture
def ljspeech() -> Path:
    """The 32 real LJSpeech clips from ../shared (skipped where that folder is absent)."""
    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    return LJSPEECH


# Play-and-record tests: a private PulseAudio server with a null sink (tests/pulse.py).
import sys as _sys  # noqa: E402

if str(REPO) not in _sys.path:  # `tests.pulse` must import however pytest was started
    _sys.path.insert(0, str(REPO))
from tests.pulse import pulse_server  # noqa: E402,F401
