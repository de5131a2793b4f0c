"""An imperceptible mark on synthesized audio (PerTh, from ``resemble-perth``), for whole clips and for chunk streams.

Owned by the watermark work of issue 19. Contract used by speak, serve, narrate and consent:

* :func:`mark(samples, rate) -> samples` marks a whole clip (same length, float32 in [-1, 1]);
* :class:`StreamMarker` marks an ``AudioChunk`` stream block by block (``feed(chunk)`` returns
  the chunks ready to send, ``finish()`` the rest); :func:`mark_stream` wraps a generator;
* :func:`detect(samples, rate) -> Detection` says whether the mark is present, or that the clip
  is too short to judge (``MIN_JUDGE_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..audio import AudioChunk

MIN_JUDGE_SECONDS = 3.0  # placeholder until calibrated


@dataclass(frozen=True)
class Detection:
    present: bool | None  # None: the clip is too short (or too quiet) to judge
    confidence: float
    seconds: float
    reason: str = ""


def mark(samples: np.ndarray, rate: int) -> np.ndarray:
    raise NotImplementedError


def detect(samples: np.ndarray, rate: int) -> Detection:
    raise NotImplementedError


class StreamMarker:
    def feed(self, chunk: AudioChunk) -> list[AudioChunk]:
        raise NotImplementedError

    def finish(self) -> list[AudioChunk]:
        raise NotImplementedError


def mark_stream(chunks: Iterator[AudioChunk]) -> Iterator[AudioChunk]:
    raise NotImplementedError
