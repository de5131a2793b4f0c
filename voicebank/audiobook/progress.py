"""What a narration tells its caller while it runs: typed events (the CLI draws the bars; the library prints nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Optional

from .synth import ChunkOutcome

Stage = Literal["read", "plan", "synthesize", "assemble", "encode", "report"]


@dataclass(frozen=True)
class ChapterCount:
    """A chapter's chunks to synthesize (distinct, counted where they first occur) and how many were cached."""

    title: str
    total: int
    cached: int


@dataclass(frozen=True)
class NarrationEvent:
    """One event: a stage starts, the plan is known, a chunk is done, or a chapter is assembled.

    * ``stage``: ``stage`` names the stage now starting;
    * ``planned``: ``chapters`` holds each chapter's chunk counts, ``total``/``cached`` the book's;
    * ``chunk``: ``outcome`` is a chunk synthesized just now (cached chunks are only counted);
    * ``chapter``: chapter ``chapter`` is assembled and mastered (``seconds`` long).
    """

    kind: Literal["stage", "planned", "chunk", "chapter"]
    stage: Optional[Stage] = None
    chapters: tuple[ChapterCount, ...] = field(default=())
    total: int = 0
    cached: int = 0
    outcome: Optional[ChunkOutcome] = None
    chapter: int = -1
    seconds: float = 0.0


ProgressFn = Callable[[NarrationEvent], None]
