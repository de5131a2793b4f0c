"""Reading any supported book file: the reader chosen by suffix, and what every reader shares.

Shared here: footnote markers in plain text, front/back matter recognised by title, and
:func:`apply_options` (front/back matter and notes turned into :class:`Skipped` pieces
unless the :class:`ReadOptions` ask for them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import UsageError
from .book import NOTE_MARKER, NOTE_NOT_READ, Book, Chapter, ChapterRole, Piece, ReadOptions, Skipped, excerpt

__all__ = ["SUFFIXES", "SUP_MARKER", "ReadOptions", "apply_options", "matter_for_title", "read_book", "split_markers"]

SUFFIXES = {".txt": "txt", ".text": "txt", ".md": "markdown", ".markdown": "markdown", ".epub": "epub"}

# Note markers in running text: "[1]", "[^note]", and "*", "†", "‡" glued to the end of a word
# or sentence ("…the lamp.*"). "[sic]", bullets ("* item") and plain-text emphasis ("*very*",
# matched first as the group "emphasis" so its closing star is not taken for a marker) are text.
_MARKERS = re.compile(
    r"(?P<emphasis>(?<![\w*])\*{1,2}(?=[^\s*])[^*\n]{1,200}?(?<=[^\s*])\*{1,2}(?![\w*]))"
    r"|\[\^[^\]\s]{1,20}\]"
    r"|\[\d{1,3}\]"
    r"|(?<=[^\s*†‡])(?:\*{1,3}|[†‡]{1,3})(?=[\s.,;:!?\"')\]]|$)"
)

# The whole text of a superscript that is a note marker: "1", "[12]", "*", "†", "a".
SUP_MARKER = re.compile(r"^[\[(]?(?:\d{1,3}|[*†‡§¶#]{1,3}|[a-z])[\])]?$")

# Titles that mark a chapter as front or back matter (compared lower-case, without a trailing dot).
_FRONT_TITLES = {
    "contents": "contents",
    "table of contents": "contents",
    "copyright": "copyright page",
    "copyright page": "copyright page",
    "title page": "title page",
    "cover": "cover",
    "dedication": "dedication",
    "half title": "title page",
    "epigraph": "epigraph",
    "list of illustrations": "contents",
}
_BACK_TITLES = {
    "acknowledgments": "acknowledgments",
    "acknowledgements": "acknowledgments",
    "index": "index",
    "about the author": "about the author",
    "about the authors": "about the author",
    "about the publisher": "about the publisher",
    "colophon": "colophon",
    "notes": "notes",
    "endnotes": "notes",
    "footnotes": "notes",
    "bibliography": "bibliography",
    "glossary": "glossary",
}
_ALSO_BY = re.compile(r"^(also by|books by|other books by)\b", re.IGNORECASE)


def read_book(path: str | os.PathLike[str], options: ReadOptions | None = None) -> Book:
    """Read a TXT, Markdown or EPUB file into a :class:`Book`.

    Raises :class:`UsageError` naming the file for a missing or empty file, an unknown
    suffix, a file that is not a book (binary, damaged, DRM-protected), or a book with no
    text to read.
    """
    path = Path(path)
    options = options or ReadOptions()
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UsageError(
            f"{path}: cannot read {path.suffix or 'a file without a suffix'} files; "
            f"give a book as {', '.join(sorted(SUFFIXES))}"
        )
    if not path.is_file():
        raise UsageError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise UsageError(f"{path}: the file is empty (0 bytes); give the book's file")
    if kind == "txt":
        from .read_txt import read_txt as read
    elif kind == "markdown":
        from .read_markdown import read_markdown as read
    else:
        from .read_epub import read_epub as read
    book = read(path, options)
    book.source = str(path)
    apply_options(book, options)
    if not any(c.blocks for c in book.chapters):
        skipped = sum(len(c.skipped) for c in book.chapters)
        hint = (
            " (everything in it was skipped as front/back matter, notes or images; "
            "to read those, narrate with --front-matter, --back-matter or --notes)"
            if skipped
            else " (a book of images only, such as scanned pages or a comic, cannot be narrated)"
        )
        raise UsageError(f"{path}: the book has no text to read{hint}")
    return book


def split_markers(text: str) -> list[Piece]:
    """Plain text → pieces, with footnote markers ("[1]", "[^a]", "word*") as skipped pieces."""
    pieces: list[Piece] = []
    pos = 0
    for m in _MARKERS.finditer(text):
        if m.group("emphasis"):
            continue  # stays in the text around it
        if m.start() > pos:
            pieces.append((text[pos : m.start()], None))
        pieces.append((m.group(0), NOTE_MARKER))
        pos = m.end()
    if pos < len(text):
        pieces.append((text[pos:], None))
    return pieces


def matter_for_title(title: str) -> tuple[ChapterRole, str] | None:
    """("front"|"back", why) when a chapter's title names front or back matter, else None."""
    key = " ".join(title.lower().split()).rstrip(".:")
    if key in _FRONT_TITLES:
        return "front", _FRONT_TITLES[key]
    if key in _BACK_TITLES:
        return "back", _BACK_TITLES[key]
    if _ALSO_BY.match(key):
        return "back", "also by the author"
    return None


def apply_options(book: Book, options: ReadOptions) -> None:
    """Front/back matter and notes that the options leave out become skipped pieces, with their reason."""
    for chapter in book.chapters:
        if chapter.role == "front" and not options.include_front_matter:
            _skip_all(chapter, f"front matter: {chapter.role_reason or 'before the text'}")
        elif chapter.role == "back" and not options.include_back_matter:
            _skip_all(chapter, f"back matter: {chapter.role_reason or 'after the text'}")
        elif not options.read_notes:
            notes = [b for b in chapter.blocks if b.kind == "note"]
            chapter.blocks = [b for b in chapter.blocks if b.kind != "note"]
            chapter.skipped.extend(Skipped(excerpt(b.text), b.source_chars, NOTE_NOT_READ) for b in notes)


def _skip_all(chapter: Chapter, reason: str) -> None:
    if chapter.blocks:
        text = " ".join(b.text for b in chapter.blocks)
        chapter.skipped.insert(0, Skipped(excerpt(text), sum(b.source_chars for b in chapter.blocks), reason))
        chapter.blocks = []
