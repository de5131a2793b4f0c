"""What a book is once read: metadata and chapters of headings and paragraphs, with every source character accounted for.

Readers (:mod:`.read_txt`, :mod:`.read_markdown`, :mod:`.read_epub`, chosen by :func:`.reader.read_book`)
produce a :class:`Book`; the script writer, the planner and the narration report consume it.

**Source text and its accounting.** A chapter's *source text* is the text a reader of the
book would see in that chapter once markup is removed: for a TXT file the file's own
characters; for Markdown the rendered text (no ``#``, ``*``, link targets or HTML tags, but
link text, footnote text and image alt text); for EPUB the text content of the chapter's
XHTML (no tags, no ``<script>``/``<style>``, but alt text of images). *Source characters*
are the non-whitespace characters of that text: whitespace is layout (line wrapping,
indentation, the gaps between paragraphs) and differs between formats of the same book,
while every other character is content that is either read or deliberately skipped.

A reader never drops text silently: what it does not keep in a :class:`Block` it records as a
:class:`Skipped` piece with a reason, so that for every chapter
``sum(block.source_chars) + sum(skipped.chars) == chapter.source_chars``
(:meth:`Chapter.accounted_chars`). Use :class:`ChapterBuilder` to keep that true by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "note"]
ChapterRole = Literal["body", "front", "back"]

# Reasons a reader gives for what it skips (the narration report groups by them).
NOTE_MARKER = "note marker"
ALT_TEXT = "image alt text"
PAGE_NUMBER = "page number"
NOTE_NOT_READ = "note (notes are not read)"
EXCERPT_CHARS = 80  # how much of a long skipped piece is kept as its excerpt


def source_chars(text: str) -> int:
    """The source characters of ``text``: its non-whitespace characters (see the module docstring)."""
    return len(text) - sum(1 for c in text if c.isspace())


def collapse(text: str) -> str:
    """Whitespace runs → one space, no leading or trailing space."""
    return " ".join(text.split())


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of ``text`` (collapsed), cut at a word with "…" when longer than ``limit``."""
    text = collapse(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut + "…"


@dataclass(frozen=True)
class ReadOptions:
    """What a reader keeps of a book beyond its body text."""

    include_front_matter: bool = False  # read cover, title page, copyright, contents, dedication
    include_back_matter: bool = False  # read acknowledgments, index, about the author, notes sections
    read_notes: bool = False  # read footnotes and endnotes at the end of the chapter that cites them
    read_alt_text: bool = False  # read images' alt text where the image stands


@dataclass(frozen=True)
class Block:
    """One readable unit: a heading, a paragraph, or a note read at the chapter's end."""

    kind: BlockKind
    text: str  # the text as it will be read (cleaned of markup, not yet normalised; one line)
    source_chars: int  # characters of the source text this block stands for


@dataclass(frozen=True)
class Skipped:
    """Source text deliberately not read, and why (``"note marker"``, ``"front matter: copyright page"``, ...)."""

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
    role_reason: str = ""  # why it is front/back matter ("copyright page", "titled 'Contents'")

    def accounted_chars(self) -> int:
        """Characters covered by blocks and skipped pieces; equals ``source_chars`` for a sound reader."""
        return sum(b.source_chars for b in self.blocks) + sum(s.chars for s in self.skipped)

    def words(self) -> int:
        return sum(len(b.text.split()) for b in self.blocks)


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

    def words(self) -> int:
        return sum(c.words() for c in self.chapters)


Piece = tuple[str, str | None]  # (text, None to read it or the reason it is skipped)


class ChapterBuilder:
    """Builds one :class:`Chapter` whose accounting holds by construction.

    Every piece of source text goes through :meth:`add` or :meth:`skip`, which count its
    source characters into the chapter before deciding where they go.
    """

    def __init__(self, title: str = "", role: ChapterRole = "body", role_reason: str = "") -> None:
        self.chapter = Chapter(title=title, role=role, role_reason=role_reason)

    def add(self, kind: BlockKind, pieces: list[Piece]) -> Block | None:
        """One block from pieces of text; skipped pieces become :class:`Skipped` with their reason."""
        kept: list[str] = []
        for text, reason in pieces:
            if reason is None:
                kept.append(text)
            else:
                self.skip(text, reason)
        joined = "".join(kept)
        chars = source_chars(joined)
        if not chars:
            return None
        block = Block(kind, collapse(joined), chars)
        self.chapter.blocks.append(block)
        self.chapter.source_chars += chars
        return block

    def skip(self, text: str, reason: str) -> None:
        chars = source_chars(text)
        if chars:
            self.chapter.skipped.append(Skipped(excerpt(text), chars, reason))
            self.chapter.source_chars += chars

    def is_empty(self) -> bool:
        return not self.chapter.source_chars

    def has_text(self) -> bool:
        return bool(self.chapter.blocks)

    def finish(self) -> Chapter:
        """The chapter, titled from its first heading or first words when nothing better was given."""
        if not self.chapter.title:
            self.chapter.title = fallback_title(self.chapter)
        return self.chapter


def fallback_title(chapter: Chapter) -> str:
    """The first heading's text, else the first words, else "Untitled"."""
    for block in chapter.blocks:
        if block.kind == "heading":
            return excerpt(block.text, 60)
    for block in chapter.blocks:
        return excerpt(block.text, 40)
    return "Untitled"
