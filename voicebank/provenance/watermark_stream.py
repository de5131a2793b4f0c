"""The watermark on a chunk stream: audio marked block by block as the engine makes it.

:class:`StreamMarker` holds back a short lookahead so that each block's mark is computed with
audio on both sides, except where waiting would cost the listener: the stream's first audio
(time to first audio) and the end of a sentence or utterance are marked with what has arrived.
Output chunks keep the input's flags and word timings; the marked stream has exactly the
unmarked stream's length. Measurements: docs/watermark.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..audio import AudioChunk, WordTiming, to_int16
from ..errors import AudioFormatError
from .watermark_core import residual

HISTORY_S = 0.5  # marked audio already sent, heard again as context for the next block
LOOKAHEAD_S = 0.25  # audio held back as context for the end of a block
MIN_BLOCK_S = 0.25  # a block shorter than this waits for more audio (unless the stream must not wait)
MAX_BLOCK_S = 20.0  # longer blocks are marked in pieces (memory stays bounded)
# Of a first chunk longer than these two, the first FIRST_BLOCK_S is marked (with FIRST_LOOKAHEAD_S after
# it) and sent before the rest: a small window is quick to mark, and time to first audio is what waits.
FIRST_BLOCK_S = 0.1
FIRST_LOOKAHEAD_S = 0.15
# A block marked without its full lookahead ends in a mark that the next block would not continue
# (a click); the mark fades out over this long before such a seam and back in after it.
SEAM_FADE_S = 0.01


@dataclass
class _Mark:
    """Where an input chunk began in the pending audio, and what it carried."""

    offset: int
    sentence_start: bool
    words: tuple[WordTiming, ...] = field(default_factory=tuple)


class StreamMarker:
    """Marks one chunk stream; ``feed`` each chunk, then ``finish`` once.

    Responsible for: the mark on every sample, the same total length, the input's flags and
    words on the output, and sending audio as soon as a block can be marked. Not responsible
    for: pacing (the engine's, given a lead larger by ``lookahead``; see ``MarkedEngine``) or
    resampling the stream for a player. Mono chunks only; float32 or int16 (kept as given).
    Several utterances may follow each other; each ``utterance_end`` starts afresh.
    """

    def __init__(self, history: float = HISTORY_S, lookahead: float = LOOKAHEAD_S, min_block: float = MIN_BLOCK_S) -> None:
        self.history_s = history
        self.lookahead_s = lookahead
        self.min_block_s = min_block
        self._rate: int | None = None
        self._dtype: np.dtype = np.dtype(np.float32)
        self._reset()

    def _reset(self) -> None:
        self._past = np.zeros(0, np.float32)  # unmarked samples already sent (the last `history`)
        self._pending = np.zeros(0, np.float32)  # unmarked samples not yet sent
        self._marks: list[_Mark] = []
        self._sent_any = False
        self._fade_in = False  # the last block ended at a seam without lookahead

    def _seconds(self, s: float) -> int:
        assert self._rate is not None
        return int(round(s * self._rate))

    def feed(self, chunk: AudioChunk) -> list[AudioChunk]:
        """The marked chunks ready to send after ``chunk`` (possibly none)."""
        return list(self.after(chunk))

    def after(self, chunk: AudioChunk) -> Iterator[AudioChunk]:
        """As :meth:`feed`, yielding each marked chunk as soon as it is marked (the first audio before the rest)."""
        samples = chunk.samples
        if samples.ndim == 2 and samples.shape[1] == 1:
            samples = samples[:, 0]
        if samples.ndim != 1:
            raise AudioFormatError(f"The watermark marks mono streams; this chunk has shape {chunk.samples.shape}.")
        if self._rate is None:
            self._rate = chunk.sample_rate
        elif chunk.sample_rate != self._rate:
            raise AudioFormatError(f"A stream changed its sample rate ({self._rate} -> {chunk.sample_rate} Hz) within an utterance.")
        self._dtype = samples.dtype
        if chunk.sentence_start and self._pending.size:  # a sentence starts on a chunk of its own
            yield from self._emit(self._pending.size)
        self._marks.append(_Mark(self._pending.size, chunk.sentence_start, chunk.words))
        self._pending = np.concatenate([self._pending, chunk.as_float32().reshape(-1)])
        lookahead, first, first_after = (self._seconds(s) for s in (self.lookahead_s, FIRST_BLOCK_S, FIRST_LOOKAHEAD_S))
        first_audio = not self._sent_any  # sent whole at once: the listener waits for nothing else
        if first_audio and self._pending.size > first + first_after:  # its start goes out first
            yield from self._emit(first, lookahead=FIRST_LOOKAHEAD_S)
        if chunk.sentence_end or chunk.utterance_end or first_audio:
            yield from self._emit(self._pending.size, sentence_end=chunk.sentence_end, utterance_end=chunk.utterance_end)
        elif self._pending.size - lookahead >= self._seconds(self.min_block_s):
            yield from self._emit(self._pending.size - lookahead)
        if chunk.utterance_end:
            self._reset()
            self._rate = None

    def finish(self) -> list[AudioChunk]:
        """What is still held back, marked (call once, at the end of the stream)."""
        if self._rate is None or not (self._pending.size or self._marks):
            return []
        out = self._emit(self._pending.size)
        self._reset()
        return out

    def _emit(
        self, count: int, sentence_end: bool = False, utterance_end: bool = False, lookahead: float | None = None
    ) -> list[AudioChunk]:
        """Mark and send the first ``count`` pending samples (one chunk, carrying their flags)."""
        assert self._rate is not None
        whole = count >= self._pending.size  # a flush takes every mark, an empty chunk's too
        taken = [m for m in self._marks if whole or m.offset < count]
        self._marks = [_Mark(m.offset - count, m.sentence_start, m.words) for m in self._marks[len(taken) :]]
        if count == 0 and not (taken or sentence_end or utterance_end):
            return []
        marked = self._mark(count, seam=not utterance_end, lookahead_s=lookahead)
        words = tuple(w for m in taken for w in m.words)
        sentence_start = bool(taken) and taken[0].offset == 0 and taken[0].sentence_start
        samples = to_int16(marked) if self._dtype == np.int16 else marked
        self._sent_any = self._sent_any or count > 0
        return [AudioChunk(samples, self._rate, sentence_start, sentence_end, utterance_end, words)]

    def _mark(self, count: int, seam: bool, lookahead_s: float | None = None) -> np.ndarray:
        """The first ``count`` pending samples marked (history before, lookahead after), moved to the past.

        ``seam``: more audio may follow, so a block that lacks its lookahead fades its mark out.
        """
        assert self._rate is not None
        lookahead_s = self.lookahead_s if lookahead_s is None else lookahead_s
        history, lookahead, piece = (self._seconds(s) for s in (self.history_s, lookahead_s, MAX_BLOCK_S))
        out = self._pending[:count].copy()
        for start in range(0, count, piece):
            stop = min(start + piece, count)
            before = np.concatenate([self._past, self._pending[:start]])[-history:] if history else self._past[:0]
            after = self._pending[stop : stop + lookahead]
            mark = residual(np.concatenate([before, self._pending[start:stop], after]), self._rate)
            mark = mark[before.size : before.size + stop - start]
            fade = min(self._seconds(SEAM_FADE_S), mark.size // 2)
            if self._fade_in and fade:
                mark[:fade] *= np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32)
            self._fade_in = seam and after.size < lookahead
            if self._fade_in and fade:
                mark[-fade:] *= np.linspace(1.0, 0.0, fade + 1, dtype=np.float32)[1:]
            out[start:stop] += mark
        self._past = np.concatenate([self._past, self._pending[:count]])[-history:] if history else self._past[:0]
        self._pending = self._pending[count:]
        return np.clip(out, -1.0, 1.0)


def mark_stream(chunks: Iterable[AudioChunk], marker: StreamMarker | None = None) -> Iterator[AudioChunk]:
    """``chunks`` marked, as soon as each block can be (see :class:`StreamMarker`)."""
    marker = marker or StreamMarker()
    for chunk in chunks:
        yield from marker.after(chunk)
    yield from marker.finish()

