"""An imperceptible mark on synthesized audio (PerTh, from ``resemble-perth``), for whole clips and for chunk streams.

Owned by the watermark work of issue 19. Contract used by speak, serve, narrate and consent:

* :func:`mark(samples, rate) -> samples` marks a whole clip (same length, float32 in [-1, 1]);
* :class:`StreamMarker` marks an ``AudioChunk`` stream block by block (``feed(chunk)`` returns
  the chunks ready to send, ``finish()`` the rest); :func:`mark_stream` wraps a generator;
* :func:`detect(samples, rate) -> Detection` says whether the mark is present, or that the clip
  is too short to judge (``MIN_JUDGE_SECONDS``).

The mark carries no payload: it says "made by a marking synthesizer", not which voice (that is
in the file's tags and stamp). Measurements and design choices: docs/watermark.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AudioFormatError
from .watermark_core import load, mark_window, score
from .watermark_stream import StreamMarker, mark_stream

__all__ = ["MIN_JUDGE_SECONDS", "THRESHOLD", "Detection", "StreamMarker", "detect", "load", "mark", "mark_stream"]

# Shortest clip detect() judges, and the score from which the mark is present: chosen together so
# that under 1 % of windows of real recordings are taken for marked (`voicebank bench watermark`,
# docs/watermark.md); marked speech scores about 1.0, after MP3 and 16 kHz too.
MIN_JUDGE_SECONDS = 2.0
THRESHOLD = 0.7
MARK_WINDOW_S = 20.0  # a long clip is marked in windows this long (memory stays bounded)
MARK_CONTEXT_S = 1.0  # audio each side of a window that steers the mark at its edges
JUDGE_WINDOW_S = 20.0  # a long clip is judged on windows this long ...
JUDGE_MAX_WINDOWS = 12  # ... at most this many, spread evenly over it
SILENCE_RMS = 1e-4  # quieter than this (-80 dBFS) there is nothing to judge


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` found in a clip.

    ``present``: True (marked), False (not marked), None (not judged: too short or silent;
    ``reason`` says which). ``confidence``: the network's score that the mark is present,
    0..1 (``THRESHOLD`` and above: present); 0 when not judged. ``seconds``: the clip's length.
    """

    present: bool | None  # None: the clip is too short (or too quiet) to judge
    confidence: float
    seconds: float
    reason: str = ""


def _mono_float(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate <= 0:
        raise AudioFormatError(f"Sample rate must be above 0 Hz, not {rate}.")
    x = np.asarray(samples)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise AudioFormatError(f"The watermark works on mono audio; these samples have shape {x.shape}. Mix to mono first.")
    if x.dtype == np.int16:
        return x.astype(np.float32) / 32768.0
    return np.ascontiguousarray(x, dtype=np.float32)


def mark(samples: np.ndarray, rate: int) -> np.ndarray:
    """``samples`` (mono, float or int16) with the mark: same length, float32 in [-1, 1].

    Deterministic: the same samples give bit-identical output. A clip too short to carry a
    detectable mark is still marked (see docs/watermark.md for how short clips fare).
    """
    x = _mono_float(samples, rate)
    window = max(1, int(MARK_WINDOW_S * rate))
    context = int(MARK_CONTEXT_S * rate)
    if x.size <= window + 2 * context:
        return mark_window(x, rate)
    out = np.empty_like(x)
    for start in range(0, x.size, window):
        stop = min(start + window, x.size)
        lo, hi = max(0, start - context), min(x.size, stop + context)
        out[start:stop] = mark_window(x[lo:hi], rate, start - lo, stop - lo)
    return out


def _judge_windows(x: np.ndarray, rate: int) -> list[np.ndarray]:
    """The windows a clip is judged on: itself, or evenly spread pieces of a long one."""
    size = int(JUDGE_WINDOW_S * rate)
    if x.size <= size:
        return [x]
    count = min(JUDGE_MAX_WINDOWS, int(np.ceil(x.size / size)))
    starts = np.linspace(0, x.size - size, count).astype(int)
    return [x[s : s + size] for s in starts]


def detect(samples: np.ndarray, rate: int) -> Detection:
    """Whether ``samples`` (mono, float or int16, any rate) carry the mark.

    Clips shorter than :data:`MIN_JUDGE_SECONDS`, or silent, are not judged (``present`` is
    None): on short clips the network calls real speech marked too often.
    """
    x = _mono_float(samples, rate)
    seconds = x.size / float(rate)
    if seconds < MIN_JUDGE_SECONDS:
        return Detection(None, 0.0, seconds, f"too short to judge: {seconds:.1f} s (at least {MIN_JUDGE_SECONDS:g} s needed)")
    scores = []
    for window in _judge_windows(x, rate):
        if float(np.sqrt(np.mean(np.square(window, dtype=np.float64)))) < SILENCE_RMS:
            continue
        value = score(window, rate)
        if np.isfinite(value):
            scores.append(min(1.0, max(0.0, value)))
    if not scores:
        return Detection(None, 0.0, seconds, "silent: nothing to judge")
    confidence = float(np.mean(scores))
    return Detection(confidence >= THRESHOLD, round(confidence, 4), seconds)
