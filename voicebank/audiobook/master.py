"""Mastering a chapter: speech and room-tone pauses joined, loudness to a target (BS.1770), true-peak limited, watermarked.

Order for a chapter (what the narrator does): :func:`assemble` its speech pieces and pauses,
then :func:`master` the whole chapter once. Both are deterministic: the same pieces, rate,
seed and settings give bit-identical samples (every reduction here is a fixed-order numpy
or scipy one; nothing depends on threads).

What it is not: it encodes nothing (see :mod:`.outputs`) and measures no file (see :mod:`.acx`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class MasteringSettings:
    """How a chapter is mastered; the defaults give files that pass ACX after AAC or MP3 encoding."""

    loudness_lufs: float = -18.0  # integrated loudness target (ITU-R BS.1770, pyloudnorm)
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MasteringSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Piece:
    """A piece of a chapter: speech samples (float32 mono), then ``pause`` seconds of room tone.

    A pure pause has ``samples=None``.
    """

    samples: np.ndarray | None
    pause: float = 0.0


def assemble(pieces: list[Piece], rate: int, seed: int, settings: MasteringSettings | None = None) -> np.ndarray:
    """The pieces joined, pauses filled with room tone (deterministic from ``seed``), speech edges faded."""
    raise NotImplementedError


def master(samples: np.ndarray, rate: int, settings: MasteringSettings | None = None) -> np.ndarray:
    """Loudness to the target, true-peak limited under the ceiling, then watermarked (when asked)."""
    raise NotImplementedError


def true_peak(samples: np.ndarray, rate: int, oversample: int = 4) -> float:
    """The highest absolute value of the signal reconstructed at ``oversample`` times the rate (linear)."""
    raise NotImplementedError
