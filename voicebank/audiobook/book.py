"""What a book is once read: metadata and chapters of headings and paragraphs, with every source character accounted for.

Readers (:mod:`.read_txt`, :mod:`.read_markdown`, :mod:`.read_epub`) produce a :class:`Book`; the
script writer, the planner and the narration report consume it. A reader never drops text
silently: what it does not keep as a block it records as a :class:`Skipped` piece with a
reason, so that ``len`` of every block's ``source`` plus every skipped piece's ``chars``
equals the chapter's ``source_chars``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "note"]
ChapterRole = Literal["body", "front", "back"]


@dataclass(frozen=True)
class Block:
    """One readable unit: a heading, a paragraph, or a note read at the chapter's end."""

    kind: BlockKind
    text: str  # the text as it will be read (cleaned of markup, not yet normalised)
    source_chars: int  # characters of the source text this block stands for


@dataclass(frozen=True)
class Skipped:
    """Source text deliberately not read, and why (``"footnote marker"``, ``"front matter"``, ...)."""

    text: str  # the skipped text itself, or a short excerpt of a long piece
    chars: int  # how many source characters it stands for
    reason: str


@dataclass
class Chapter:
    """A chapter in reading order, titled from the table of contents, a heading or its first words."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    role: ChapterRole = "body"  # "front"/"back" matter is skipped unless asked for
    skipped: list[Skipped] = field(default_factory=list)
    source_chars: int = 0  # characters of source text in this chapter, read or skipped

    def accounted_chars(self) -> int:
        """Characters covered by blocks and skipped pieces; equals ``source_chars`` for a sound reader."""
        return sum(b.source_chars for b in self.blocks) + sum(s.chars for s in self.skipped)


@dataclass
class Book:
    """A whole book: metadata, an optional cover image and its chapters in reading order."""

    title: str
    author: str = ""
    language: str = "en"
    chapters: list[Chapter] = field(default_factory=list)
    cover: bytes | None = None  # image bytes (JPEG or PNG), None when the book has none
    cover_mime: str = ""  # "image/jpeg" or "image/png"
    source: str = ""  # the file it was read from

    def source_chars(self) -> int:
        return sum(c.source_chars for c in self.chapters)
