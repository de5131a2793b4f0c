"""An engine whose audio carries the watermark: any engine, wrapped, with ``stream`` and ``synthesize`` marked.

Used where audio leaves the toolkit (``speak``, ``serve`` and its HTTP, WebSocket, Wyoming and
AAC routes). Not applied inside :func:`voicebank.engines.load_engine`: the raw engine stays
available for exactness tests and for code that marks the finished product itself (the
audiobook's mastering marks once, after its loudness processing).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..audio import AudioChunk, Pacing, to_int16
from ..provenance import watermark_core
from ..provenance.watermark import mark
from ..provenance.watermark_stream import LOOKAHEAD_S, StreamMarker, mark_stream
from .base import SynthesisOptions

# The engine's own sentence-level entry points (the typing prompt's) give audio that this
# wrapper would not see, so they are hidden rather than passed through unmarked.
_UNMARKED_PATHS = frozenset({"plan", "open_sentence", "sentence_audio", "seam_frame", "first_clause_cut"})


class _LaterLead:
    """The consumer's pacing, its lead larger by ``extra`` once the first audio is out.

    The marker sends the first block whole, so the engine sizes its first window for the
    listener's own lead; after that it holds back up to ``extra`` seconds of lookahead, which
    the engine must keep in hand as well. Read by the engine as a :class:`Pacing`.
    """

    def __init__(self, pacing: Pacing, extra: float) -> None:
        self._base = pacing
        self._extra = extra
        self._grown = False
        self.now = pacing.now

    @property
    def lead(self) -> float | None:
        base = self._base.lead
        return None if base is None else base + (self._extra if self._grown else 0.0)

    @property
    def realtime(self) -> bool:
        return self._base.realtime

    def grow(self) -> None:
        self._grown = True


class MarkedEngine:
    """Wraps ``inner``: the same voice and chunk stream, every sample marked (see :mod:`voicebank.provenance.watermark`).

    The stream holds back a quarter second of lookahead (never before the first audio or past a
    sentence's end), so after the first audio the inner engine is told a consumer lead that much
    larger and sizes its windows for the listener's real buffer. Other attributes are the inner
    engine's, except its sentence-level entry points (their audio would not be marked).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        watermark_core.preload()  # torch and the network load beside whatever the caller does next

    def __getattr__(self, attr: str) -> Any:
        if attr in _UNMARKED_PATHS:
            raise AttributeError(f"{attr!r} gives unmarked audio; use stream() on a marked engine")
        return getattr(self.inner, attr)

    def load(self) -> None:
        """Load the voice and the watermark's network now, not in the first sentence's time to first audio."""
        getattr(self.inner, "load", lambda: None)()
        watermark_core.load()

    def stream(self, text: str, options: SynthesisOptions | None = None, pacing: Pacing | None = None) -> Iterator[AudioChunk]:
        clock = _LaterLead(pacing or Pacing(), LOOKAHEAD_S)  # None means a listener with the default lead
        for chunk in mark_stream(self.inner.stream(text, options, clock), StreamMarker()):  # type: ignore[arg-type]
            yield chunk
            if chunk.frames:
                clock.grow()

    def synthesize(self, text: str, options: SynthesisOptions | None = None) -> AudioChunk:
        """The whole utterance, marked as one clip (the same length as the unmarked one)."""
        chunk = self.inner.synthesize(text, options)
        marked = mark(chunk.as_float32(), chunk.sample_rate) if chunk.frames else chunk.as_float32()
        return replace(chunk, samples=to_int16(marked) if chunk.samples.dtype.kind == "i" else marked)
