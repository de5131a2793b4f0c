"""Speech detection on real recordings: the LJSpeech sample next to the repository."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.audio import resample
from voicebank.bank import vad
from voicebank.errors import AudioFormatError, UsageError

DATA = Path(__file__).parents[1].parent / "shared/data/ljspeech-sample"


def _wavs() -> list[Path]:
    wavs = sorted((DATA / "wavs").glob("*.wav"))
    if not wavs:
        pytest.skip(f"the LJSpeech sample is not at {DATA} (it lives in ../shared/data)")
    return wavs


def _read(path: Path) -> tuple[np.ndarray, int]:
    x, sr = sf.read(str(path), dtype="float32")
    return x, int(sr)


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, int]:
    return _read(_wavs()[0])  # LJ001-0001, 9.7 s, 22.05 kHz


@pytest.fixture(scope="module")
def detector() -> vad.SpeechDetector:
    return vad.SpeechDetector()


def _long_recording(seconds: float, seed: int = 0) -> tuple[np.ndarray, int, list[tuple[float, float]]]:
    """Clips in random order with silences (faint hiss) of 0.4-2.5 s between them.

    Returns samples, rate and the inserted pauses ``(start_s, end_s)``.
    """
    rng = np.random.default_rng(seed)
    clips = [_read(p)[0] for p in _wavs()]
    sr = 22050
    parts, gaps, t = [], [], 0.0
    while t < seconds:
        x = clips[rng.integers(len(clips))]
        g = rng.uniform(0.4, 2.5)
        parts += [x, (rng.standard_normal(int(g * sr)) * 1e-3).astype(np.float32)]
        gaps.append((t + len(x) / sr, t + len(x) / sr + g))
        t += len(x) / sr + g
    return np.concatenate(parts), sr, gaps


def test_detector_is_silero_here(detector: vad.SpeechDetector) -> None:
    assert detector.backend == "silero"


def test_one_probability_per_32_ms(clip, detector) -> None:
    x, sr = clip
    p = detector.probabilities(x, sr)
    assert len(p) == int(np.ceil(len(x) / sr / vad.FRAME_S))
    assert p.dtype == np.float32 and 0.0 <= p.min() and p.max() <= 1.0


def test_streaming_resampler_matches_whole_signal(clip) -> None:
    x, sr = clip
    for rate in (22050, 44100, 8000):
        y = resample(x, sr, rate) if rate != sr else x
        r = vad._Resampler(rate)
        blocks = list(vad.iter_blocks(y, rate, seconds=0.37))
        out = np.concatenate([r.process(b, final=i == len(blocks) - 1) for i, b in enumerate(blocks)])
        whole = resample(y, rate, vad.VAD_RATE)
        assert len(out) == len(whole)
        assert np.max(np.abs(out - whole)) < 1e-5


def test_block_size_and_channels_do_not_change_the_answer(clip, detector) -> None:
    x, sr = clip
    whole = detector.probabilities(x, sr)
    odd_blocks = np.concatenate(list(detector.stream(vad.iter_blocks(x, sr, seconds=1.3), sr)))
    np.testing.assert_allclose(odd_blocks, whole, atol=1e-4)
    stereo = detector.probabilities(np.column_stack([x, x]), sr)
    np.testing.assert_allclose(stereo, whole, atol=1e-4)


def test_state_is_reset_between_recordings(clip, detector) -> None:
    x, sr = clip
    first = detector.probabilities(x, sr)
    other, sr2 = _read(_wavs()[5])
    detector.probabilities(other, sr2)
    again = detector.probabilities(x, sr)
    np.testing.assert_array_equal(first, again)


def test_finds_the_speech_in_a_real_clip(clip, detector) -> None:
    x, sr = clip
    segs = vad.speech_segments(x, sr, detector=detector)
    dur = len(x) / sr
    speech = sum(e - s for s, e in segs)
    assert segs and segs[0][0] < 0.5 and segs[-1][1] > dur - 0.5
    assert 0.7 * dur < speech <= dur
    assert all(s < e for s, e in segs) and all(a[1] < b[0] for a, b in zip(segs, segs[1:]))


def test_speech_is_found_where_it_was_put(clip, detector) -> None:
    x, sr = clip
    pad = np.zeros(int(2.0 * sr), dtype=np.float32)
    segs = vad.speech_segments(np.concatenate([pad, x, pad]), sr, detector=detector)
    assert 1.8 < segs[0][0] < 2.6
    assert 2.0 + len(x) / sr - 0.6 < segs[-1][1] < 2.0 + len(x) / sr + 0.3


@pytest.mark.parametrize("kind", ["silence", "white", "brown", "hum"])
def test_no_speech_in_silence_or_noise(kind: str, detector) -> None:
    rng = np.random.default_rng(1)
    n = 4 * 16000
    t = np.arange(n) / 16000
    signal = {
        "silence": np.zeros(n),
        "white": rng.standard_normal(n) * 0.05,
        "brown": np.cumsum(rng.standard_normal(n)) * 2e-4,
        "hum": 0.1 * np.sin(2 * np.pi * 50 * t) + 0.03 * np.sin(2 * np.pi * 150 * t),
    }[kind].astype(np.float32)
    assert vad.speech_segments(signal, 16000, detector=detector) == []


def test_energy_fallback_tells_speech_from_silence(clip) -> None:
    x, sr = clip
    det = vad.SpeechDetector(backend="energy")
    assert det.backend == "energy"
    hiss = (np.random.default_rng(2).standard_normal(int(2 * sr)) * 3e-4).astype(np.float32)
    segs = vad.speech_segments(np.concatenate([hiss, x, hiss]), sr, detector=det)
    speech = sum(e - s for s, e in segs)
    assert segs and 1.7 < segs[0][0] < 2.5 and 0.6 * len(x) / sr < speech < len(x) / sr + 0.5
    assert vad.speech_segments(hiss, sr, detector=det) == []


def test_segments_hysteresis_and_edges() -> None:
    p = np.array([0, 0.9, 0.9, 0.9, 0.2, 0.9, 0.9, 0, 0, 0, 0, 0, 0.9], dtype=np.float32)
    dur = len(p) * vad.FRAME_S
    segs = vad.segments_from_probabilities(p, dur, min_silence_s=0.1, min_speech_s=0.1)
    assert len(segs) == 1  # the one-frame dip is bridged; the final lone frame is too short
    assert segs[0][0] == pytest.approx(vad.FRAME_S)
    kept = vad.segments_from_probabilities(p, dur, min_silence_s=0.1, min_speech_s=0.1, keep_edges=True)
    assert len(kept) == 2 and kept[-1][1] == pytest.approx(dur)


def test_split_long_recording_cuts_in_pauses() -> None:
    y, sr, gaps = _long_recording(180)
    dur = len(y) / sr
    pieces = vad.split_long_recording(y, sr, max_len=15.0, min_len=1.0)
    lengths = [b - a for a, b in pieces]
    assert len(pieces) >= 12
    assert min(lengths) >= 1.0 and max(lengths) <= 15.0 + 1e-9
    assert all(a[1] <= b[0] for a, b in zip(pieces, pieces[1:]))
    inner = [t for a, b in pieces for t in (a, b) if 0.0 < t < dur]
    in_gap = [any(g0 <= t <= g1 for g0, g1 in gaps) for t in inner]
    assert all(in_gap), [round(t, 2) for t, ok in zip(inner, in_gap) if not ok]
    # nearly all of the speech is kept
    clip_spans = [(0.0, gaps[0][0])] + [(g[1], n[0]) for g, n in zip(gaps, gaps[1:])]
    covered = sum(
        sum(max(0.0, min(e, b) - max(s, a)) for a, b in pieces) for s, e in clip_spans
    ) / sum(e - s for s, e in clip_spans)
    assert covered > 0.95


def test_split_without_pauses_still_fits() -> None:
    clips = [_read(p)[0] for p in _wavs()[:6]]
    y = np.concatenate(clips)  # 45 s read back to back
    pieces = vad.split_long_recording(y, 22050, max_len=10.0, min_len=1.0)
    assert pieces and all(1.0 <= b - a <= 10.0 + 1e-9 for a, b in pieces)
    assert sum(b - a for a, b in pieces) > 0.85 * len(y) / 22050


def test_short_utterance_is_widened_to_min_len(clip) -> None:
    x, sr = clip
    word = x[: int(0.7 * sr)]  # "Printing," on its own
    y = np.concatenate([np.zeros(3 * sr, np.float32), word, np.zeros(3 * sr, np.float32)])
    pieces = vad.split_long_recording(y, sr, min_len=2.0)
    assert len(pieces) == 1 and pieces[0][1] - pieces[0][0] >= 2.0 - 1e-9
    assert pieces[0][0] < 3.1 and pieces[0][1] > 3.6


def test_split_long_file_streams_from_disk(tmp_path) -> None:
    y, sr, _ = _long_recording(40, seed=3)
    path = tmp_path / "long.wav"
    sf.write(str(path), np.column_stack([y, y]), sr, subtype="PCM_16")
    from_file = vad.split_long_file(path, max_len=12.0)
    in_memory = vad.split_long_recording(sf.read(str(path), dtype="float32")[0], sr, max_len=12.0)
    assert np.allclose(np.array(from_file), np.array(in_memory), atol=1e-6)


def test_unusable_settings_are_clear_errors(clip) -> None:
    x, sr = clip
    with pytest.raises(UsageError, match="Raise the longest take allowed"):
        vad.split_long_recording(x, sr, max_len=0.25)  # a QC limit set below the silence kept around a piece
    with pytest.raises(UsageError, match="'auto', 'silero' or 'energy'"):
        vad.SpeechDetector("webrtc")
    with pytest.raises(AudioFormatError, match="sample rate"):
        vad.SpeechDetector("energy").probabilities(x, 0)


@pytest.mark.slow
def test_an_hour_is_split_into_utterances() -> None:
    rng = np.random.default_rng(0)
    clips = [resample(_read(p)[0], 22050, 16000) for p in _wavs()]
    n = 3600 * 16000
    y = (rng.standard_normal(n) * 3e-4).astype(np.float32)
    t = 0
    while True:
        c = clips[rng.integers(len(clips))]
        if t + len(c) > n:
            break
        y[t : t + len(c)] += c
        t += len(c) + int(rng.uniform(0.3, 2.0) * 16000)
    pieces = vad.split_long_recording(y, 16000)
    assert len(pieces) > 300 and all(1.0 <= b - a <= 15.0 + 1e-9 for a, b in pieces)
