"""Speaking rate: the speech extent of real clips and the length scale measured from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import LJSPEECH
from voicebank.audio import resample
from voicebank.errors import PaceError, VoicebankError
from voicebank.train.pace import LIMITS, measure_pace, speech_seconds

pytestmark = pytest.mark.skipif(not (LJSPEECH / "metadata.csv").is_file(), reason=f"real recordings not available: {LJSPEECH} is absent")


def _clips(n: int = 6) -> list[tuple[str, np.ndarray, int]]:
    rows = [r.split("|") for r in (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines() if r.strip()]
    out = []
    for uid, _, text in rows[:n]:
        x, rate = sf.read(str(LJSPEECH / "wavs" / f"{uid}.wav"), dtype="float32")
        out.append((text, x, rate))
    return out


def test_speech_extent_ignores_the_silence_around_a_recording() -> None:
    text, x, rate = _clips(1)[0]
    speech = speech_seconds(x, rate)
    assert 0.5 * len(x) / rate < speech <= len(x) / rate
    quiet = np.zeros(int(0.8 * rate), dtype=np.float32)
    hiss = (1e-4 * np.random.default_rng(0).standard_normal(int(0.8 * rate))).astype(np.float32)
    padded = np.concatenate([quiet, x, hiss])
    assert speech_seconds(padded, rate) == pytest.approx(speech, abs=2 * 256 / rate)
    assert speech_seconds(np.zeros(rate, dtype=np.float32), rate) == 0.0


def test_a_voice_that_speaks_a_quarter_faster_gets_a_quarter_longer_durations() -> None:
    clips = _clips()
    recorded = {text: (x, rate) for text, x, rate in clips}

    def fast(text: str) -> tuple[np.ndarray, int]:  # the recording itself, played 1.25x as fast
        x, rate = recorded[text]
        return resample(x, rate, int(rate / 1.25)), rate

    pace = measure_pace(fast, [(text, speech_seconds(x, rate)) for text, x, rate in clips], length_scale=0.9)
    assert pace.utterances == len(clips)
    assert pace.ratio == pytest.approx(1.25, rel=0.03)
    assert pace.length_scale == pytest.approx(0.9 * pace.ratio, abs=1e-3) and pace.previous == 0.9

    same = measure_pace(lambda t: recorded[t], [(t, speech_seconds(x, r)) for t, x, r in clips], length_scale=1.1)
    assert same.ratio == pytest.approx(1.0, abs=1e-9) and same.length_scale == 1.1  # within tolerance: unchanged

    crawl = measure_pace(lambda t: (recorded[t][0][: recorded[t][1] // 10], recorded[t][1]), [(t, speech_seconds(x, r)) for t, x, r in clips])
    assert crawl.length_scale == LIMITS[1]  # a measurement far outside a human range is bounded



def test_nothing_to_measure_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    """Silent recordings, or a voice that says nothing: the user is told which and what to do."""
    clips = _clips(3)
    recorded = {text: (x, rate) for text, x, rate in clips}
    speech = [(t, speech_seconds(x, r)) for t, x, r in clips]
    with pytest.raises(PaceError, match="the voice said nothing audible for 3 of them") as info:
        measure_pace(lambda t: (np.zeros(22050, dtype=np.float32), 22050), speech)
    assert isinstance(info.value, VoicebankError) and "export without --pace recordings" in str(info.value)

    silent = []  # a dataset whose recordings are silence (a muted microphone), read back from real files
    for i, (text, x, rate) in enumerate(clips):
        sf.write(str(tmp_path / f"{i}.wav"), np.zeros_like(x), rate, subtype="PCM_16")
        y, r = sf.read(str(tmp_path / f"{i}.wav"), dtype="float32")
        silent.append((text, speech_seconds(y, r)))
    with pytest.raises(PaceError, match="3 of the 3 recordings hold no speech"):
        measure_pace(lambda t: recorded[t], silent)
    with pytest.raises(PaceError, match="no training clips"):
        measure_pace(lambda t: recorded[t], [])
