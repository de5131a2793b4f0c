"""Mastering a chapter: speech and room-tone pauses joined, loudness to a target (BS.1770), true-peak limited, watermarked.

Order for a chapter (what the narrator does): :func:`assemble` its speech pieces and pauses,
then :func:`master` the whole chapter once. Both are deterministic: the same pieces, rate,
seed and settings give bit-identical samples (every reduction here is a fixed-order numpy
or scipy one; nothing depends on threads).

What it is not: it encodes nothing (see :mod:`.outputs`) and measures no file (see :mod:`.acx`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from ..errors import AudioFormatError, MissingDependencyError, UsageError

SCHEMA_VERSION = 1
GATE_SECONDS = 0.4  # BS.1770's gating block: shorter audio has no integrated loudness
_BLOCK = 1 << 16  # true-peak detection works on blocks this long (bounded memory for hours of audio)
_AIM_UNDER_DB = 0.02  # the limiter aims this far under the ceiling: interpolation under a moving gain lands within it
_MAX_NUDGE_DB = 3.0  # the RMS range moves the loudness gain by at most this (a chapter mostly pause stays quiet)
_MAX_MAKEUP_DB = 3.0  # the limiter's loss is made up by at most this: past it, more gain only raises the room tone
PEAK_CONTEXT = 64  # samples of context each side of a block (the interpolation filter reaches 10)
# Paul Kellet's pink-noise filter (-3 dB/octave): the spectrum of a quiet room's air and hum
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)


@dataclass(frozen=True)
class MasteringSettings:
    """How a chapter is mastered; the defaults give files that pass ACX after AAC or MP3 encoding."""

    loudness_lufs: float = -20.0  # integrated loudness target (ITU-R BS.1770, pyloudnorm)
    rms_min_db: float = -22.0  # whole-file RMS kept at or above this (ACX: -23 dB)
    rms_max_db: float = -19.0  # ... and at or below this (ACX: -18 dB)
    true_peak_db: float = -4.0  # limiter ceiling, dBTP; leaves room for the codec's overshoot (ACX: -3 dBFS)
    room_tone_db: float = -72.0  # RMS of the room tone in pauses once mastered (ACX noise floor: -60 dB)
    fade_ms: float = 4.0  # raised-cosine fade at each speech edge (no clicks against room tone)
    lookahead_ms: float = 3.0  # limiter: the gain reaches its floor over twice this before a peak
    release_ms: float = 40.0  # limiter: the gain holds this long after a peak before it recovers
    oversample: int = 4  # true-peak detection at this multiple of the sample rate
    watermark: bool = True  # mark the result with voicebank.provenance.watermark (the last step)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        times_ok = self.fade_ms >= 0 and self.lookahead_ms > 0 and self.release_ms >= 0
        checks = [
            (-40.0 <= self.loudness_lufs <= -6.0, f"loudness_lufs {self.loudness_lufs} (use -40 to -6; ACX: about -20)"),
            (self.rms_min_db < self.rms_max_db, f"rms_min_db {self.rms_min_db} is not under rms_max_db {self.rms_max_db}"),
            (-20.0 <= self.true_peak_db <= 0.0, f"true_peak_db {self.true_peak_db} (use -20 to 0 dBTP)"),
            (self.room_tone_db <= -40.0, f"room_tone_db {self.room_tone_db} (room tone is quiet: -40 dB or lower)"),
            (times_ok, "fade_ms, lookahead_ms and release_ms must be 0 or more (look-ahead above 0)"),
            (1 <= self.oversample <= 16, f"oversample {self.oversample} (use 1 to 16)"),
        ]
        wrong = [why for ok, why in checks if not ok]
        if wrong:
            raise UsageError("Mastering settings out of range: " + "; ".join(wrong) + ".")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MasteringSettings:
        """Settings from their JSON (keys a newer voicebank added are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Piece:
    """A piece of a chapter: speech samples (float32 mono), then ``pause`` seconds of room tone.

    A pure pause has ``samples=None``.
    """

    samples: np.ndarray | None
    pause: float = 0.0


def assemble(
    pieces: Sequence[Piece], rate: int, seed: int, settings: MasteringSettings | None = None
) -> np.ndarray:
    """The pieces joined (float32 mono), pauses filled with room tone, speech edges faded.

    The room tone is a continuous bed of quiet pink noise under the whole chapter, the same
    for the same ``seed`` and length; it is set so that after :func:`master` with the same
    ``settings`` it sits at ``settings.room_tone_db`` (the gain master will apply is known
    here already: it depends only on the speech). Give a chapter room tone at its head and
    tail too (ACX asks for 0.5-1 s and 1-5 s): ``Piece(None, 0.75)`` first, ``Piece(None, 2.0)`` last.
    """
    settings = settings or MasteringSettings()
    if rate <= 0:
        raise AudioFormatError(f"The sample rate must be above 0 Hz (got {rate}).")
    spans = [_piece_frames(i, piece, rate) for i, piece in enumerate(pieces)]
    out = np.zeros(sum(speech + pause for speech, pause in spans), np.float64)
    fade = max(1, round(settings.fade_ms * rate / 1000))
    at = 0
    for piece, (speech, pause) in zip(pieces, spans):
        if speech:
            out[at : at + speech] = _faded(np.asarray(piece.samples, np.float64), fade)
        at += speech + pause
    if out.size:
        level_db = settings.room_tone_db - _gain_db(out, rate, settings)
        out += room_tone(out.size, rate, seed) * 10 ** (level_db / 20)
    return out.astype(np.float32)


def master(samples: np.ndarray, rate: int, settings: MasteringSettings | None = None) -> np.ndarray:
    """A chapter mastered (float32): loudness to the target, true peaks under the ceiling, then the watermark.

    A gain brings the integrated loudness (BS.1770) to ``settings.loudness_lufs``, moved as
    little as needed to keep the whole-file RMS within ``rms_min_db``…``rms_max_db``; the
    limiter lowers only what would pass ``true_peak_db`` (oversampled detection, look-ahead
    smoothed gain: no clipping); the gain is then raised by what the limiter took off, so the
    result meets the target, not the audio before the limiter. The watermark
    (``settings.watermark``) comes last; it lifts some peaks (~1 dB), so the limiter goes
    over it once more, touching only those peaks (the mark is still found after).
    """
    settings = settings or MasteringSettings()
    x = np.asarray(samples, np.float64)
    if x.ndim != 1:
        raise AudioFormatError(f"Mastering takes mono samples (shape (frames,)), not shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise AudioFormatError("The samples to master hold NaN or infinite values; the synthesis went wrong.")
    if x.size == 0:
        return x.astype(np.float32)
    x = limit(_loudness_matched(x, rate, settings), rate, settings)
    if settings.watermark:
        x = _watermarked(x, rate, settings)
    return x.astype(np.float32)


def limit(
    samples: np.ndarray, rate: int, settings: MasteringSettings | None = None, *, envelope: np.ndarray | None = None
) -> np.ndarray:
    """``samples`` (float64) with a smooth gain that keeps the true peak at or under ``settings.true_peak_db``.

    Interpolated peaks move a little under a changing gain, so the result is measured and
    limited again where needed (rarely), with a plain gain as the last resort. ``envelope``:
    :func:`peak_envelope` of ``samples`` when the caller has it already.
    """
    settings = settings or MasteringSettings()
    ceiling = 10 ** (settings.true_peak_db / 20)
    x = np.asarray(samples, np.float64)
    env = peak_envelope(x, rate, settings.oversample) if envelope is None else envelope
    for _ in range(4):
        if env.size == 0 or env.max() <= ceiling:
            return x
        x = _limited(x, env, rate, settings)
        env = peak_envelope(x, rate, settings.oversample)
    peak = float(env.max())
    return x * (ceiling / peak) if peak > ceiling else x


def _limited(x: np.ndarray, env: np.ndarray, rate: int, settings: MasteringSettings) -> np.ndarray:
    """One pass of the limiter over ``x`` whose true-peak envelope is ``env``.

    The gain each sample needs (just under the ceiling / its oversampled peak) is held for
    ``release_ms`` after it and reached over ``2 * lookahead_ms`` before it: a sliding
    minimum, then two moving averages, an S-shaped ramp never above what any sample in its
    reach needs.
    """
    from scipy.ndimage import minimum_filter1d

    aim = 10 ** ((settings.true_peak_db - _AIM_UNDER_DB) / 20)
    width = max(1, round(settings.lookahead_ms * rate / 1000))
    hold = max(0, round(settings.release_ms * rate / 1000))
    need = np.minimum(1.0, aim / np.maximum(env, 1e-12))
    gain = _window(minimum_filter1d, need, hold, 2 * width - 2)
    gain = _trailing_mean(_trailing_mean(gain, width), width)
    return x * np.minimum(gain, 1.0)  # a running mean of values <= 1 may round a hair above 1


def _loudness_matched(x: np.ndarray, rate: int, settings: MasteringSettings) -> np.ndarray:
    """``x`` at the gain that meets the loudness target once limited, limited in one pass (unchecked).

    The limiter takes loudness off the peaks, more the higher the gain: the gain is found by
    the secant method on the loudness still missing (within 0.1 dB in two or three steps).
    ``x``'s envelope scales with the gain, so it is measured once.
    """
    env = peak_envelope(x, rate, settings.oversample)

    def attempt(gain_db: float) -> tuple[np.ndarray, float]:
        k = 10 ** (gain_db / 20)
        y = _limited(x * k, env * k, rate, settings)
        return y, _gain_db(y, rate, settings)

    first = gain = _gain_db(x, rate, settings)
    y, miss = attempt(gain)
    last: tuple[float, float] | None = None
    for _ in range(3):
        if abs(miss) < 0.1:
            break
        slope = 1.0 if last is None else (last[1] - miss) / (gain - last[0])  # loudness per dB of gain
        step = miss / min(1.0, max(slope, 0.2))
        target = float(np.clip(gain + step, first - _MAX_MAKEUP_DB, first + _MAX_MAKEUP_DB))
        if target == gain:
            break  # the limiter takes what more gain would add: stop rather than lift the pauses
        last = (gain, miss)
        gain = target
        y, miss = attempt(gain)
    return y


def true_peak(samples: np.ndarray, rate: int, oversample: int = 4) -> float:
    """The highest absolute value of the signal reconstructed at ``oversample`` times the rate (linear)."""
    env = peak_envelope(samples, rate, oversample)
    return float(env.max()) if env.size else 0.0


def peak_envelope(samples: np.ndarray, rate: int, oversample: int = 4) -> np.ndarray:
    """Per sample, the largest absolute value of the band-limited signal between it and the next (BS.1770 true peak).

    ``rate`` is unused by the arithmetic (the interpolation is relative to it) but names
    the signal; blocks of 64 Ki samples keep memory bounded for a chapter of hours.
    """
    from scipy.signal import resample_poly

    x = np.asarray(samples, np.float64)
    env = np.abs(x)
    if oversample <= 1:
        return env
    for start in range(0, x.size, _BLOCK):
        stop = min(start + _BLOCK, x.size)
        lo, hi = max(0, start - PEAK_CONTEXT), min(x.size, stop + PEAK_CONTEXT)
        up = resample_poly(x[lo:hi], oversample, 1)
        part = np.abs(up[(start - lo) * oversample : (stop - lo) * oversample])
        for phase in range(oversample):  # strided maxima: faster than a max over a (n, 4) axis
            np.maximum(env[start:stop], part[phase::oversample], out=env[start:stop])
    return env


def room_tone(frames: int, rate: int, seed: int) -> np.ndarray:
    """``frames`` samples of room tone at RMS 1, fixed by ``seed``.

    Pink noise, darkened above 3 kHz and without rumble below 40 Hz: the soft air of a quiet
    room rather than the hiss of white noise.
    """
    from scipy.signal import butter, lfilter, sosfilt

    noise = np.random.default_rng(seed).standard_normal(frames)
    pink = lfilter(_PINK_B, _PINK_A, noise)
    band = butter(1, [40.0, min(3000.0, 0.45 * rate)], "bandpass", fs=rate, output="sos")
    tone = sosfilt(band, pink)
    rms = float(np.sqrt(np.mean(tone**2))) if frames else 0.0
    return tone / rms if rms > 0 else tone


def loudness_lufs(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4, pyloudnorm), LUFS; ``-inf`` for silence or under 0.4 s."""
    x = np.asarray(samples, np.float64)
    if x.size < GATE_SECONDS * rate + 1:
        return float("-inf")
    try:
        import pyloudnorm
    except ImportError as exc:
        raise MissingDependencyError("pyloudnorm (loudness measurement for narration)", "narrate") from exc
    return float(pyloudnorm.Meter(rate).integrated_loudness(x))


def rms_db(samples: np.ndarray) -> float:
    """The RMS of all samples in dB (full-scale square wave = 0 dB), as ACX measures it; -inf for none."""
    x = np.asarray(samples, np.float64)
    power = float(np.mean(x * x)) if x.size else 0.0
    return 10 * np.log10(power) if power > 0 else float("-inf")


def _gain_db(x: np.ndarray, rate: int, settings: MasteringSettings) -> float:
    """The gain :func:`master` applies: loudness to the target, nudged to keep the RMS in its range."""
    loudness = loudness_lufs(x, rate)
    if not np.isfinite(loudness):
        return 0.0  # silence, or too short to measure: leave the level alone
    gain = settings.loudness_lufs - loudness
    rms = rms_db(x) + gain
    nudge = float(np.clip(rms, settings.rms_min_db, settings.rms_max_db)) - rms
    return gain + float(np.clip(nudge, -_MAX_NUDGE_DB, _MAX_NUDGE_DB))


def _watermarked(x: np.ndarray, rate: int, settings: MasteringSettings) -> np.ndarray:
    from ..provenance.watermark import mark

    marked = np.asarray(mark(x.astype(np.float32), rate), np.float64)
    return limit(marked, rate, settings)  # the mark lifts some peaks (~1 dB); it survives the limiter


def _piece_frames(index: int, piece: Piece, rate: int) -> tuple[int, int]:
    """(speech frames, pause frames) of a piece, once it is known to be usable."""
    if not (np.isfinite(piece.pause) and piece.pause >= 0):
        raise AudioFormatError(f"Piece {index}: a pause must be 0 s or longer (got {piece.pause}).")
    speech = 0
    if piece.samples is not None:
        samples = np.asarray(piece.samples)
        if samples.ndim != 1:
            raise AudioFormatError(f"Piece {index}: speech must be mono samples (shape (frames,)), not {samples.shape}.")
        if not np.all(np.isfinite(samples)):
            raise AudioFormatError(f"Piece {index}: the speech holds NaN or infinite values; synthesize it again.")
        speech = samples.size
    return speech, round(piece.pause * rate)


def _faded(samples: np.ndarray, fade: int) -> np.ndarray:
    """``samples`` with a raised-cosine fade in and out of ``fade`` samples (less on a short piece)."""
    n = min(fade, samples.size // 2)
    if n == 0:
        return samples
    ramp = np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2
    out = samples.copy()
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def _trailing_mean(x: np.ndarray, width: int) -> np.ndarray:
    """The mean of ``x[n - width + 1 .. n]`` for each n (1.0 before the start), by a running sum."""
    if width <= 1:
        return x
    sums = np.concatenate([[0.0], np.cumsum(np.concatenate([np.ones(width - 1), x]))])
    return (sums[width:] - sums[:-width]) / width


def _window(fn: Callable[..., np.ndarray], x: np.ndarray, before: int, after: int) -> np.ndarray:
    """A scipy.ndimage sliding filter over ``x[n - before .. n + after]`` for each n (1.0 beyond the ends)."""
    size = before + after + 1
    if size == 1:
        return x
    padded = np.pad(x, size, constant_values=1.0)
    out = fn(padded, size, mode="constant", cval=1.0)
    start = size - before + size // 2
    return out[start : start + x.size]
