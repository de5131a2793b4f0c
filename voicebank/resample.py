"""Sample-rate conversion of a stream, chunk by chunk, with the filter's state kept between chunks.

Every consumer that plays or encodes a chunk stream at another rate (the player, the
encoders) converts through :class:`StreamResampler`: converting chunk by chunk gives the
same samples as converting the whole stream at once, so there is no click at a seam.
soxr (libsoxr) does the filtering; it is imported when a conversion is first needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from .audio import AudioChunk
from .errors import AudioFormatError


class StreamResampler:
    """Converts one stream from ``src_rate`` to ``dst_rate``; call :meth:`flush` once at its end.

    Samples are float32, ``(frames,)`` for mono or ``(frames, channels)``. The filter holds
    back a few milliseconds, so early calls may return fewer frames than they were given;
    :meth:`flush` returns what is held back, and the total is the whole stream's length at
    the new rate. Equal rates pass samples through untouched.
    """

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1, quality: str = "HQ") -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise AudioFormatError(f"Sample rates must be above 0 Hz (got {src_rate} -> {dst_rate}).")
        self.src_rate = int(src_rate)
        self.dst_rate = int(dst_rate)
        self.channels = int(channels)
        self._stream: Any = None
        if self.src_rate != self.dst_rate:
            import soxr

            self._stream = soxr.ResampleStream(self.src_rate, self.dst_rate, self.channels, dtype="float32", quality=quality)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """The converted samples that are ready after ``samples``."""
        x = np.ascontiguousarray(samples, dtype=np.float32)
        if self._stream is None:
            return x
        return self._stream.resample_chunk(x, last=False)

    def flush(self) -> np.ndarray:
        """The samples held back at the end of the stream (the resampler is then spent)."""
        shape = (0,) if self.channels == 1 else (0, self.channels)
        if self._stream is None:
            return np.zeros(shape, np.float32)
        return self._stream.resample_chunk(np.zeros(shape, np.float32), last=True)


def resample_chunks(chunks: Iterable[AudioChunk], rate: int) -> Iterator[AudioChunk]:
    """The stream ``chunks`` (one rate throughout) at ``rate``, flags kept, as float32.

    What the filter holds back at the end goes into the chunk that ends the utterance
    (or into a last chunk of its own when none says so).
    """
    resampler: StreamResampler | None = None
    for chunk in chunks:
        if resampler is None:
            channels = 1 if chunk.samples.ndim == 1 else chunk.samples.shape[1]
            resampler = StreamResampler(chunk.sample_rate, rate, channels)
        elif chunk.sample_rate != resampler.src_rate:
            raise AudioFormatError(
                f"A stream changed its sample rate ({resampler.src_rate} -> {chunk.sample_rate} Hz); "
                "convert each stream on its own."
            )
        out = resampler.process(chunk.as_float32())
        if chunk.utterance_end:
            out = np.concatenate([out, resampler.flush()])
        yield replace(chunk, samples=out, sample_rate=rate)
        if chunk.utterance_end:
            resampler = None
    if resampler is not None:
        tail = resampler.flush()
        if len(tail):
            yield AudioChunk(tail, rate, utterance_end=True)
