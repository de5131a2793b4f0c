"""Speaking rate: the speech extent of real clips and the length scale measured from it."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import LJSPEECH
from voicebank.audio import resample
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
    with pytest.raises(ValueError, match="pace cannot be measured"):
        measure_pace(lambda t: (np.zeros(22050, dtype=np.float32), 22050), [(t, 1.0) for t, _, _ in clips])
