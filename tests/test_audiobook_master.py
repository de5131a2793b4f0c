"""Mastering a chapter: room-tone pauses, loudness to the target, the true-peak limiter, determinism."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voicebank.audiobook.master import (
    MasteringSettings,
    Piece,
    assemble,
    limit,
    loudness_lufs,
    master,
    rms_db,
    true_peak,
)
from voicebank.errors import AudioFormatError, UsageError

SETTINGS = MasteringSettings(watermark=False)  # the watermark is another helper's; tested with it off
SENTENCES = [
    "The lamp on the desk had burned all night, and nobody had noticed.",
    "At a quarter past seven, Mrs. Hale opened the shutters.",
    "Outside, the street was already loud with carts.",
]


@pytest.fixture(scope="module")
def speech(engine) -> tuple[list[np.ndarray], int]:  # type: ignore[no-untyped-def]
    """Three sentences in the stock voice (float32 mono) and their rate."""
    chunks = [engine.synthesize(text) for text in SENTENCES]
    return [c.as_float32() for c in chunks], chunks[0].sample_rate


@pytest.fixture(scope="module")
def chapter(speech) -> tuple[np.ndarray, np.ndarray, int]:  # type: ignore[no-untyped-def]
    """A chapter with head, sentence pauses and a tail: assembled, and mastered."""
    sentences, rate = speech
    pieces = [Piece(None, 0.75), *(Piece(s, 0.6) for s in sentences), Piece(None, 2.0)]
    assembled = assemble(pieces, rate, seed=11, settings=SETTINGS)
    return assembled, master(assembled, rate, SETTINGS), rate


def test_pauses_are_room_tone_of_the_right_length_and_level(speech, chapter) -> None:  # type: ignore[no-untyped-def]
    sentences, rate = speech
    _, mastered, _ = chapter
    expected = round(0.75 * rate) + sum(len(s) + round(0.6 * rate) for s in sentences) + round(2.0 * rate)
    assert len(mastered) == expected
    head = mastered[: round(0.75 * rate)].astype(np.float64)
    tail = mastered[-round(2.0 * rate) :].astype(np.float64)
    for pause in (head, tail):
        assert abs(rms_db(pause) - SETTINGS.room_tone_db) < 3.0  # at the level asked for, after mastering
        assert np.count_nonzero(pause) == pause.size  # not digital silence
    # shaped like a room: most of its energy low, not white
    spectrum = np.abs(np.fft.rfft(tail)) ** 2
    freqs = np.fft.rfftfreq(tail.size, 1 / rate)
    assert spectrum[freqs < 1000].sum() > 4 * spectrum[freqs > 4000].sum()


def test_speech_edges_fade_against_room_tone() -> None:
    rate = 22050
    block = np.full(rate // 10, 0.5, np.float32)  # a piece that starts and stops at full level
    out = assemble([Piece(None, 0.2), Piece(block, 0.2)], rate, seed=1, settings=SETTINGS)
    start = round(0.2 * rate)
    assert abs(out[start]) < 0.01 and abs(out[start + len(block) - 1]) < 0.01
    assert np.abs(np.diff(out)).max() < 0.02  # no step anywhere: no click


def test_master_meets_loudness_rms_and_true_peak(chapter) -> None:  # type: ignore[no-untyped-def]
    _, mastered, rate = chapter
    assert abs(loudness_lufs(mastered, rate) - SETTINGS.loudness_lufs) < 0.3
    assert SETTINGS.rms_min_db - 0.5 <= rms_db(mastered) <= SETTINGS.rms_max_db
    assert 20 * np.log10(true_peak(mastered, rate)) <= SETTINGS.true_peak_db + 1e-6


def test_assemble_and_master_are_bit_identical_on_repeat(speech, chapter) -> None:  # type: ignore[no-untyped-def]
    sentences, rate = speech
    assembled, mastered, _ = chapter
    pieces = [Piece(None, 0.75), *(Piece(s, 0.6) for s in sentences), Piece(None, 2.0)]
    again = assemble(pieces, rate, seed=11, settings=SETTINGS)
    assert again.tobytes() == assembled.tobytes()
    assert master(again, rate, SETTINGS).tobytes() == mastered.tobytes()
    other = assemble(pieces, rate, seed=12, settings=SETTINGS)
    assert other.tobytes() != assembled.tobytes()  # the seed picks the room tone


def test_limiter_keeps_square_bursts_under_the_ceiling_without_clipping() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    bursts = []
    for freq in (100.0, 1000.0, rate / 4 + 17.0):  # near fs/4 the samples miss the peaks between them
        bursts += [np.sign(np.sin(2 * np.pi * freq * t[: rate // 4] + 0.3)), np.zeros(rate // 8)]
    x = np.concatenate(bursts)
    assert 20 * np.log10(true_peak(x, rate)) > 0.0  # the worst case: intersample peaks over full scale
    y = limit(x, rate, SETTINGS)
    assert 20 * np.log10(true_peak(y, rate)) <= SETTINGS.true_peak_db + 1e-6
    gain = np.divide(y, x, out=np.zeros_like(y), where=x != 0)
    inside = (x[1:] != 0) & (x[:-1] != 0)  # within a burst
    assert np.abs(np.diff(gain))[inside].max() < 0.01  # a smooth gain, not a clipped waveform


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_limited_true_peak_agrees_with_ffmpeg_ebur128(tmp_path: Path) -> None:
    import soundfile as sf

    rate = 48000
    t = np.arange(rate) / rate
    x = np.sign(np.sin(2 * np.pi * (rate / 4 + 31.0) * t)) * np.hanning(rate)
    y = limit(x, rate, SETTINGS)
    sf.write(tmp_path / "y.wav", y, rate, subtype="FLOAT")
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(tmp_path / "y.wav"), "-af", "ebur128=peak=true", "-f", "null", "-"]
    log = subprocess.run(args, capture_output=True, text=True, check=True).stderr
    ffmpeg_tp = float(re.findall(r"Peak:\s+(-?[\d.]+) dBFS", log)[-1])
    assert abs(ffmpeg_tp - 20 * np.log10(true_peak(y, rate))) < 0.3
    assert ffmpeg_tp <= SETTINGS.true_peak_db + 0.3


def test_settings_round_trip_and_ignore_unknown_keys() -> None:
    settings = MasteringSettings(loudness_lufs=-21.0, watermark=False)
    data = settings.to_dict()
    assert data["schema_version"] == 1
    assert MasteringSettings.from_dict({**data, "from_a_newer_version": 1}) == settings
    with pytest.raises(UsageError, match="true_peak_db 3"):
        MasteringSettings.from_dict({**data, "true_peak_db": 3.0})


@pytest.mark.parametrize(
    "piece",
    [
        Piece(np.zeros((10, 2), np.float32)),
        Piece(np.array([0.0, np.nan], np.float32)),
        Piece(None, -1.0),
    ],
    ids=["stereo", "nan", "negative-pause"],
)
def test_unusable_pieces_are_refused(piece: Piece) -> None:
    with pytest.raises(AudioFormatError, match="Piece 1"):
        assemble([Piece(None, 0.1), piece], 22050, seed=0, settings=SETTINGS)


def test_watermark_is_the_last_step_and_keeps_the_ceiling(chapter) -> None:  # type: ignore[no-untyped-def]
    from voicebank.provenance import watermark

    assembled, _, rate = chapter
    marked_settings = MasteringSettings()
    try:
        marked = master(assembled, rate, marked_settings)
    except NotImplementedError:
        pytest.skip("voicebank.provenance.watermark has not landed yet")
    assert 20 * np.log10(true_peak(marked, rate)) <= marked_settings.true_peak_db + 1e-6
    assert watermark.detect(marked, rate).present is True


def test_a_heading_alone_keeps_its_room_tone_quiet(speech) -> None:  # type: ignore[no-untyped-def]
    """A part title ("Part Two") is a chapter of one short phrase and long pauses: the gain that
    would bring its RMS into ACX's range is mostly taken back by the limiter, and must not be
    chased up into the pauses (a divergence once lifted them to -29 dB)."""
    sentences, rate = speech
    short = sentences[2][: rate]  # about a second of speech
    pieces = [Piece(None, 0.75), Piece(short, 0.0), Piece(None, 2.0)]
    mastered = master(assemble(pieces, rate, seed=3, settings=SETTINGS), rate, SETTINGS).astype(np.float64)
    tail = mastered[-round(2.0 * rate) :]
    assert rms_db(tail) < -60.0
    assert true_peak(mastered, rate) <= 10 ** (SETTINGS.true_peak_db / 20) * 1.001
