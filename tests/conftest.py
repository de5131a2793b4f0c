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


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One VOICEBANK_HOME for the whole test session (the cut graphs are made once)."""
    path = tmp_path_factory.getbasetemp() / "voicebank-home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOICEBANK_HOME", str(path))
        yield path


@pytest.fixture(scope="module")
def engine(home: Path):  # type: ignore[no-untyped-def]
    """The stock voice's streaming engine."""
    from voicebank.engines import load_engine

    return load_engine("joe")


# Play-and-record tests: a private PulseAudio server with a null sink (tests/pulse.py).
import sys as _sys  # noqa: E402

if str(REPO) not in _sys.path:  # `tests.pulse` must import however pytest was started
    _sys.path.insert(0, str(REPO))
from tests.pulse import pulse_server  # noqa: E402,F401
