"""Markdown books: ATX and setext headings, ``#`` headings as chapters, footnotes as notes.

Parsed with markdown-it-py (CommonMark). The source text is the rendered text: heading marks,
emphasis marks, link targets and HTML tags are markup; link text, code, image alt text and
footnote text are source. Metadata may open the file as a ``---`` block of ``key: value``
lines (``title``, ``author``, ``language``/``lang``); it is not source text.

Chapters start at the top heading level in use (``#``; or ``##`` when a single ``#`` heading
opens the file, which is then the book's title). Footnote references (``[^1]``) are dropped
as note markers; their definitions (``[^1]: text``, indented lines continuing them) become
notes at the end of the chapter that first cites them.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError
from .book import ALT_TEXT, NOTE_MARKER, Book, Chapter, ChapterBuilder, Piece
from .read_txt import decode_text
from .reader import SUP_MARKER, ReadOptions, matter_for_title, split_markers

_META = re.compile(r"\A---[ \t]*\n((?:[^\n]*\n)*?)(?:---|\.\.\.)[ \t]*(?:\n|\Z)")
_META_LINE = re.compile(r"^\s*([A-Za-z][\w-]*)\s*:\s*(.*?)\s*$")
_FOOTNOTE_DEF = re.compile(r"^\[\^([^\]\s]{1,20})\]:[ \t]?(.*)$")
_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]{1,20})\]")
_SUP_OPEN = re.compile(r"<sup\b[^>]*>$", re.IGNORECASE)
_SUP_CLOSE = re.compile(r"</sup\s*>$", re.IGNORECASE)


@dataclass
class _Note:
    text: str
    line: int  # where the definition stands (0-based), for notes nobody cites
    placed: bool = False


@dataclass
class _Chapter:
    builder: ChapterBuilder
    start: int  # first line
    cites: list[str] = field(default_factory=list)


def read_markdown(path: Path, options: ReadOptions) -> Book:
    """A Markdown book; title from its metadata, its only top heading, or the file name."""
    try:
        from markdown_it import MarkdownIt
    except ImportError as e:
        raise MissingDependencyError("markdown-it-py (to read Markdown books)", "narrate") from e
    text = decode_text(path).replace("\r\n", "\n").replace("\r", "\n")
    meta, body_start = _metadata(text)
    lines = text.split("\n")
    for i in range(body_start):
        lines[i] = ""  # keep line numbers; the metadata is not source text
    notes = _take_footnotes(lines)
    md = MarkdownIt("commonmark")
    tokens = md.parse("\n".join(lines))
    title = meta.get("title", "")
    level = _chapter_level(tokens)
    if not title and level == 2:
        title = _inline_text(tokens[1].children or [])
    title = title or path.stem.replace("_", " ").replace("-", " ")
    chapters = _Reading(md, options, notes).chapters(tokens, level, title)
    return Book(
        title=title,
        author=meta.get("author", ""),
        language=meta.get("language", meta.get("lang", "en")) or "en",
        chapters=chapters,
    )


def _metadata(text: str) -> tuple[dict[str, str], int]:
    m = _META.match(text)
    if not m:
        return {}, 0
    meta = {}
    for line in m.group(1).split("\n"):
        kv = _META_LINE.match(line)
        if kv:
            meta[kv.group(1).lower()] = kv.group(2).strip("\"'")
    return meta, text[: m.end()].count("\n")


def _take_footnotes(lines: list[str]) -> dict[str, _Note]:
    """Remove footnote definitions from ``lines`` (left blank) and return them by id."""
    notes: dict[str, _Note] = {}
    current: _Note | None = None
    for i, line in enumerate(lines):
        m = _FOOTNOTE_DEF.match(line)
        if m:
            current = notes.setdefault(m.group(1), _Note("", i))
            current.text += ("\n\n" if current.text else "") + m.group(2)  # a repeated label adds a paragraph
        elif current is not None and line.strip() and (line[:1] in " \t" or not _starts_block(line)):
            current.text += "\n" + line.strip()
        elif current is not None and not line.strip():
            # a blank line ends the note unless an indented line continues it
            following = next((x for x in lines[i + 1 :] if x.strip()), "")
            if following[:1] in " \t" and following.strip():
                current.text += "\n\n"
                continue
            current = None
            continue
        else:
            current = None
            continue
        lines[i] = ""
    return notes


def _starts_block(line: str) -> bool:
    return bool(re.match(r"\s{0,3}(#|>|[-*+] |\d+[.)] |```|~~~|\[\^)", line))


def _chapter_level(tokens: list[Any]) -> int:
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    if not levels:
        return 0
    top = min(levels)
    if top == 1 and levels.count(1) == 1 and levels[0] == 1 and 2 in levels:
        return 2  # a single "# Title" over "## Chapter" headings
    return top


def _inline_text(children: list[Any]) -> str:
    return " ".join("".join(c.content for c in children if c.type in ("text", "code_inline")).split())


class _Reading:
    """One pass over markdown-it's tokens, building chapters."""

    def __init__(self, md: Any, options: ReadOptions, notes: dict[str, _Note]) -> None:
        self.md = md
        self.options = options
        self.notes = notes

    def chapters(self, tokens: list[Any], level: int, book_title: str) -> list[Chapter]:
        parts = [_Chapter(ChapterBuilder(title=book_title if not level else ""), 0)]  # no headings: one chapter
        for i, token in enumerate(tokens):
            if token.type == "heading_open":
                children = tokens[i + 1].children or []
                if int(token.tag[1]) == level:  # (a single "# Title" over "##" chapters stays in the opening part)
                    title = " ".join(t for t, r in self.pieces(children, None) if r is None).strip()
                    parts.append(_Chapter(ChapterBuilder(title=" ".join(title.split())), token.map[0]))
                self.add(parts[-1], "heading", children)
            elif token.type == "inline" and tokens[i - 1].type == "paragraph_open":
                self.add(parts[-1], "paragraph", token.children or [])
            elif token.type in ("fence", "code_block"):
                parts[-1].builder.add("paragraph", [(token.content, None)])
            elif token.type == "html_block":
                parts[-1].builder.add("paragraph", [(_html_text(token.content), None)])
        self.place_notes(parts)
        out = []
        for index, part in enumerate(parts):
            if part.builder.is_empty():
                continue
            chapter = part.builder.finish()
            matter = matter_for_title(chapter.title)
            if matter:
                chapter.role, chapter.role_reason = matter
            elif index == 0 and level == 2 and len(chapter.blocks) == 1:
                chapter.role, chapter.role_reason = "front", "title page"
            out.append(chapter)
        return out

    def add(self, part: _Chapter, kind: str, children: list[Any]) -> None:
        part.builder.add(kind, self.pieces(children, part))  # type: ignore[arg-type]

    def pieces(self, children: list[Any], part: _Chapter | None) -> list[Piece]:
        out: list[Piece] = []
        sup_start: int | None = None  # where an inline <sup> began in ``out``
        for child in children:
            if child.type == "text":
                if part is not None:
                    part.cites.extend(m.group(1) for m in _FOOTNOTE_REF.finditer(child.content))
                out.extend(split_markers(child.content))
            elif child.type == "code_inline":
                out.append((child.content, None))
            elif child.type in ("softbreak", "hardbreak"):
                out.append((" ", None))
            elif child.type == "image":
                out.append((f" {child.content} ", None if self.options.read_alt_text else ALT_TEXT))
            elif child.type == "html_inline" and _SUP_OPEN.match(child.content):
                sup_start = len(out)
            elif child.type == "html_inline" and _SUP_CLOSE.match(child.content) and sup_start is not None:
                inside = "".join(text for text, _ in out[sup_start:])
                if SUP_MARKER.match(inside.strip()):  # "<sup>1</sup>": a note marker, as in EPUB
                    out[sup_start:] = [(inside, NOTE_MARKER)]
                sup_start = None
            # emphasis, links and other inline HTML are markup: nothing to read or count
        return out

    def place_notes(self, parts: list[_Chapter]) -> None:
        """Each note at the end of the chapter that first cites it; uncited notes where they stand."""
        for part in parts:
            for ident in part.cites:
                note = self.notes.get(ident)
                if note and not note.placed:
                    note.placed = True
                    self.add_note(part, note)
        starts = [p.start for p in parts]
        for note in self.notes.values():
            if not note.placed:
                self.add_note(parts[max(0, bisect.bisect_right(starts, note.line) - 1)], note)

    def add_note(self, part: _Chapter, note: _Note) -> None:
        for paragraph in note.text.split("\n\n"):
            children = self.md.parseInline(paragraph)[0].children or []
            part.builder.add("note", self.pieces(children, None))


def _html_text(html: str) -> str:
    """The text content of a raw HTML block (tags are markup)."""
    from lxml import html as lxml_html

    from lxml.etree import ParserError

    try:
        return lxml_html.fromstring(f"<div>{html}</div>").text_content()
    except ParserError:  # nothing lxml can parse: keep the block as it stands, so no text is lost
        return html
