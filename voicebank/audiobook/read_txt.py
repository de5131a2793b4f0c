"""Plain-text books: chapters at heading-like lines ("Chapter 1", "CHAPTER ONE", "Part II"), paragraphs at blank lines.

The source text is the file's own text (UTF-8, UTF-16 with a byte-order mark, or Windows-1252).
A heading line follows a blank line (or the start, or another heading line) and is followed by
one, unless it is in capitals; so a wrapped paragraph whose first line starts "Book one of the
series…" stays text. A heading line starts a chapter and is its title and its first (heading)
block; text before the first heading is a chapter of its own (front matter when it reads like
a copyright page). Without any heading line the whole file is one chapter titled by the file.
In a Project Gutenberg file, the header before "*** START OF THE PROJECT GUTENBERG EBOOK" and
the licence from "*** END OF ..." on are front and back matter.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UsageError
from .book import Book, Chapter, ChapterBuilder, ChapterRole, excerpt
from .reader import ReadOptions, matter_for_title, split_markers

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|first|second|third|fourth|"
    "fifth|sixth|seventh|eighth|ninth|tenth|last|final"
)
_HEADING = re.compile(
    rf"^(?:(?:chapter|part|book|act|section)\s+(?:\d{{1,4}}|[ivxlcdm]{{1,8}}|(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))?)\b"
    r"|(?:prologue|epilogue|interlude|preface|foreword|afterword|introduction)\b)"
    r"(?:\s*[.:\-–—]\s*|\s+)?[^\n]{0,80}$",
    re.IGNORECASE,
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n|\n(?=[ \t]{2,}\S|\t)")
_GUTENBERG_START = re.compile(r"^\*{3} ?START OF (?:THE|THIS) PROJECT GUTENBERG E?BOOK[^\n]*$", re.I | re.M)
_GUTENBERG_END = re.compile(r"^\*{3} ?END OF (?:THE|THIS) PROJECT GUTENBERG E?BOOK", re.I | re.M)
_FRONT_HINT = re.compile(r"copyright|©|all rights reserved|isbn", re.IGNORECASE)
_BINARY_CONTROLS = set(range(0, 9)) | {11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}


def read_txt(path: Path, options: ReadOptions) -> Book:
    """A plain-text book; its title is the file name (without suffix) made readable."""
    text = decode_text(path).replace("\r\n", "\n").replace("\r", "\n")
    title = path.stem.replace("_", " ").replace("-", " ").strip() or path.name
    start, end = _gutenberg_bounds(text)
    chapters = chapters_of_text(text[start:end], title)
    if start:
        chapters.insert(0, _licence(text[:start], "Project Gutenberg header", "front"))
    if end < len(text):
        chapters.append(_licence(text[end:], "Project Gutenberg licence", "back"))
    return Book(title=title, chapters=chapters)


def _gutenberg_bounds(text: str) -> tuple[int, int]:
    """Where the book proper starts and ends in a Project Gutenberg file (its whole text otherwise)."""
    start = _GUTENBERG_START.search(text)
    end = _GUTENBERG_END.search(text, start.end() if start else 0)
    return (start.end() if start else 0), (end.start() if end else len(text))


def _licence(text: str, title: str, role: ChapterRole) -> Chapter:
    builder = ChapterBuilder(title=title, role=role, role_reason="Project Gutenberg licence")
    builder.add("paragraph", [(text, None)])
    return builder.finish()


def decode_text(path: Path) -> str:
    """The file's text; :class:`UsageError` for a binary file."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    sample = data[:65536]
    controls = sum(1 for b in sample if b in _BINARY_CONTROLS)
    if b"\x00" in sample or controls > len(sample) // 100:
        raise UsageError(f"{path}: this is not a text file (it holds binary data); give the book as UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def chapters_of_text(text: str, title: str) -> list[Chapter]:
    """Split text into chapters at heading lines and paragraphs at blank (or indented) lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chapters: list[Chapter] = []
    builder = ChapterBuilder()
    lines: list[str] = []
    previous_blank = True
    all_lines = text.split("\n")
    for i, line in enumerate(all_lines):
        stripped = line.strip()
        if previous_blank and _is_heading(stripped, all_lines[i + 1] if i + 1 < len(all_lines) else ""):
            first_line = next((x for x in lines if x.strip()), "")
            _paragraphs(builder, "\n".join(lines))
            lines = []
            if not builder.is_empty():
                chapters.append(_finish_untitled(builder, excerpt(first_line, 60)))
            builder = ChapterBuilder(title=" ".join(stripped.split()))
            builder.add("heading", split_markers(stripped))
            previous_blank = True  # a heading may follow a heading ("Part II" then "Chapter 3")
            continue
        lines.append(line)
        previous_blank = not stripped
    _paragraphs(builder, "\n".join(lines))
    if not builder.is_empty() or not chapters:
        chapters.append(_finish_untitled(builder, title, whole=not chapters))
    return chapters


def _is_heading(line: str, following: str) -> bool:
    """A heading-like line standing alone: a blank line (or the end, or another heading) follows it."""
    if not line or not _HEADING.match(line):
        return False
    return not following.strip() or bool(_HEADING.match(following.strip())) or line.isupper()


def _paragraphs(builder: ChapterBuilder, text: str) -> None:
    for paragraph in _PARAGRAPH_BREAK.split(text):
        if paragraph.strip():
            builder.add("paragraph", split_markers(paragraph))


def _finish_untitled(builder: ChapterBuilder, title: str, whole: bool = False) -> Chapter:
    """A chapter without a heading line: the text before the first heading, or a file without any."""
    chapter = builder.chapter
    if not chapter.title:
        chapter.title = title
        head = " ".join(b.text for b in chapter.blocks[:3])
        matter = matter_for_title(chapter.blocks[0].text) if chapter.blocks else None
        if matter:
            chapter.role, chapter.role_reason = matter
        elif not whole and _FRONT_HINT.search(head):
            chapter.role, chapter.role_reason = "front", "copyright page"
    return builder.finish()
