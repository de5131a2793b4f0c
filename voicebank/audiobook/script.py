"""The editable script: a book's text exactly as it will be read, as a model and as a plain text file.

:func:`book_to_script` turns a :class:`~.book.Book` into a :class:`Script`: for each block, the
regex replacement file runs first on the block's raw text, then the text frontend's
normalisation (:func:`voicebank.text.normalize`) with the lexicon (the voice's, overridden
entry by entry by the book's lexicon) — the lexicon is applied inside normalisation, before
the built-in rules, exactly as the engines apply it. The script's text is final: a person can
read and fix it, and the narrator speaks it as it stands (normalising it again changes nothing
but what the person typed in written form).

The file (UTF-8; :func:`write_script`, :func:`read_script`)::

    voicebank-script: 1
    title: The Lighthouse Keeper's Ledger
    author: The voicebank contributors
    language: en
    source: samples/book/the-lighthouse-keeper.md

    # Chapter One: The Ledger

    ## Chapter One: The Ledger.

    Maren Hollis arrived at Gull Point on the third of March, nineteen twenty-one, ...

    [note] Each lighthouse has its own pattern of flashes, ...

* the first line marks the file; ``key: value`` header lines follow up to the first blank line;
* ``# Title`` starts a chapter: the title is the chapter mark in the audiobook, it is not read;
* ``## text`` is a heading that is read (with a longer pause after it), ``[note] text`` a note;
* every other paragraph is read as it stands; blank lines separate paragraphs, and lines of one
  paragraph are joined with a space (so a long paragraph may be wrapped by hand);
* a paragraph that would begin with ``#``, ``[note]`` or ``\\`` is written with a ``\\`` in front.

:func:`write_script` then :func:`read_script` gives back an equal script. A script read from a
file is its own source: each line's source characters are its own, and nothing is skipped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..durable import atomic_write_text
from ..errors import UsageError
from .book import BlockKind, Book, ChapterRole, Skipped, collapse, excerpt, source_chars

if TYPE_CHECKING:
    from ..text.lexicon import Lexicon

MAGIC = "voicebank-script: 1"
HEADER_KEYS = ("title", "author", "language", "source")
NOTE_PREFIX = "[note] "
DEFAULT_WORDS_PER_MINUTE = 155  # a comfortable audiobook pace
NOTHING_TO_SAY = "nothing left to say after replacements and normalisation"
_ESCAPE = re.compile(r"^(#|\[note\]|\\)")


@dataclass(frozen=True)
class Line:
    """One line of the script: a heading, paragraph or note, in the words the voice will say."""

    kind: BlockKind
    text: str  # normalised, one line
    source_chars: int  # source characters of the book this line stands for


@dataclass
class ScriptChapter:
    """A chapter of the script, carrying over the book chapter's accounting."""

    title: str
    lines: list[Line] = field(default_factory=list)
    role: ChapterRole = "body"
    skipped: list[Skipped] = field(default_factory=list)
    source_chars: int = 0

    def accounted_chars(self) -> int:
        return sum(line.source_chars for line in self.lines) + sum(s.chars for s in self.skipped)

    def words(self) -> int:
        return sum(len(line.text.split()) for line in self.lines)


@dataclass
class Script:
    """A whole book as it will be read; chapters without lines were skipped entirely."""

    title: str
    author: str = ""
    language: str = "en"
    chapters: list[ScriptChapter] = field(default_factory=list)
    source: str = ""  # the book (or script file) it was made from
    cover: bytes | None = field(default=None, compare=False, repr=False)  # not part of the file
    cover_mime: str = field(default="", compare=False)

    def read_chapters(self) -> list[ScriptChapter]:
        """The chapters that have something to read."""
        return [c for c in self.chapters if c.lines]

    def source_chars(self) -> int:
        return sum(c.source_chars for c in self.chapters)


@dataclass(frozen=True)
class Replacement:
    """One line of a replacement file: a regex and what to put in its place."""

    pattern: re.Pattern[str]
    replacement: str
    line: int  # 1-based line number in the file, for error messages
    path: str


def load_replacements(path: str | os.PathLike[str]) -> list[Replacement]:
    """Read a replacement file: ``pattern<TAB>replacement`` a line, ``#`` comments, blank lines ignored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the replacement file ({e}); give a UTF-8 text file") from e
    out: list[Replacement] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" not in raw:
            raise UsageError(
                f"{path}, line {number}: no tab between pattern and replacement; "
                "write each rule as PATTERN<TAB>REPLACEMENT (an empty replacement deletes the match)"
            )
        pattern, replacement = raw.split("\t", 1)
        try:
            compiled = re.compile(pattern)
            compiled.sub(replacement, "")  # parses the replacement too: a bad group reference fails here
        except re.error as e:
            raise UsageError(f"{path}, line {number}: {pattern!r} is not a valid rule: {e}") from e
        out.append(Replacement(compiled, replacement, number, str(path)))
    return out


def apply_replacements(text: str, rules: list[Replacement]) -> str:
    for rule in rules:
        try:
            text = rule.pattern.sub(rule.replacement, text)
        except (re.error, IndexError) as e:
            raise UsageError(f"{rule.path}, line {rule.line}: the replacement {rule.replacement!r} fails: {e}") from e
    return text


def book_to_script(
    book: Book,
    *,
    lexicon: Lexicon | None = None,
    book_lexicon_path: str | os.PathLike[str] | None = None,
    replacements_path: str | os.PathLike[str] | None = None,
) -> Script:
    """The book's text as it will be read (see the module docstring for the order of steps).

    ``lexicon``: the voice's :class:`voicebank.text.Lexicon` (None: none); ``book_lexicon_path``:
    a lexicon JSON file for this book, whose entries win over the voice's.
    """
    from ..text import normalize, unreadable

    merged = _merge_lexicons(lexicon, book_lexicon_path)
    rules = load_replacements(replacements_path) if replacements_path else []
    script = Script(book.title, book.author, book.language, source=book.source, cover=book.cover,
                    cover_mime=book.cover_mime)  # fmt: skip
    for chapter in book.chapters:
        out = ScriptChapter(chapter.title, role=chapter.role, skipped=list(chapter.skipped),
                            source_chars=chapter.source_chars)  # fmt: skip
        for block in chapter.blocks:
            raw = apply_replacements(block.text, rules) if rules else block.text
            text = collapse(normalize(raw, lexicon=merged))
            chars = block.source_chars
            for warning in unreadable(raw, lexicon=merged):
                lost = min(warning.letters, chars)
                chars -= lost
                out.skipped.append(Skipped(warning.sample, lost, f"{warning.script} letters the voice cannot read"))
            if text:
                out.lines.append(Line(block.kind, text, chars))
            elif chars:
                out.skipped.append(Skipped(excerpt(block.text), chars, NOTHING_TO_SAY))
        script.chapters.append(out)
    return script


def _merge_lexicons(lexicon: Lexicon | None, book_lexicon_path: str | os.PathLike[str] | None) -> Lexicon | None:
    from ..text.lexicon import Lexicon

    if book_lexicon_path is None:
        return lexicon
    if not Path(book_lexicon_path).is_file():
        raise UsageError(f"{book_lexicon_path}: no such lexicon file; check the path")
    book_lexicon = Lexicon.load(book_lexicon_path)
    entries = lexicon.items() if lexicon is not None else []
    return Lexicon([*entries, *book_lexicon.items()])  # later entries win


def is_script(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a script file (its first line is the marker), not a book."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            return f.readline().strip() == MAGIC
    except OSError:
        return False


def format_script(script: Script) -> str:
    """The script as the text of a script file."""
    out = [MAGIC]
    for key in HEADER_KEYS:
        value = " ".join(str(getattr(script, key)).split())
        if value:
            out.append(f"{key}: {value}")
    for chapter in script.read_chapters():
        out += ["", f"# {' '.join(chapter.title.split()) or 'Untitled'}"]
        for line in chapter.lines:
            if "\n" in line.text or not line.text.strip():
                raise UsageError(f"a script line must be one non-empty line of text, not {line.text!r}")
            if line.kind == "heading":
                out += ["", f"## {line.text}"]
            elif line.kind == "note":
                out += ["", NOTE_PREFIX + line.text]
            else:
                out += ["", "\\" + line.text if _ESCAPE.match(line.text) else line.text]
    return "\n".join(out) + "\n"


def write_script(script: Script, path: str | os.PathLike[str]) -> None:
    """Write the script file atomically (a crash leaves the old file or the new one)."""
    atomic_write_text(path, format_script(script))


def read_script(path: str | os.PathLike[str]) -> Script:
    """Read a script file; its own text is the source (each line accounts for itself)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise UsageError(f"{path}: no such script file; check the path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the script ({e}); a script file is UTF-8 text") from e
    return parse_script(text, str(path))


def parse_script(text: str, name: str = "<script>") -> Script:
    """The inverse of :func:`format_script`."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or lines[0].strip() != MAGIC:
        raise UsageError(f"{name}: not a voicebank script (its first line must be {MAGIC!r}); "
                         "make one with: voicebank narrate BOOK --export-text FILE")  # fmt: skip
    header: dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i].strip():
        key, sep, value = lines[i].partition(":")
        if not sep or key.strip() not in HEADER_KEYS:
            raise UsageError(f"{name}, line {i + 1}: expected a header line 'key: value' with key one of "
                             f"{', '.join(HEADER_KEYS)}; leave a blank line before the text")  # fmt: skip
        header[key.strip()] = value.strip()
        i += 1
    script = Script(header.get("title", Path(name).stem), header.get("author", ""),
                    header.get("language", "en") or "en", source=header.get("source", ""))  # fmt: skip
    for kind, body in _paragraphs(lines[i:]):
        if kind == "chapter":
            script.chapters.append(ScriptChapter(body))
            continue
        if not script.chapters:
            script.chapters.append(ScriptChapter(script.title))
        chapter = script.chapters[-1]
        chapter.lines.append(Line(kind, body, source_chars(body)))  # type: ignore[arg-type]
        chapter.source_chars += source_chars(body)
    if not any(c.lines for c in script.chapters):
        raise UsageError(f"{name}: the script has no text to read")
    return script


def _paragraphs(lines: list[str]) -> list[tuple[str, str]]:
    """(kind, text) for each chapter mark and paragraph of the script body."""
    out: list[tuple[str, str]] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            joined = " ".join(" ".join(current).split())
            if joined.startswith("## "):
                out.append(("heading", joined[3:].strip()))
            elif joined.startswith(NOTE_PREFIX.strip()):
                out.append(("note", joined[len(NOTE_PREFIX.strip()) :].strip()))
            else:
                out.append(("paragraph", joined[1:] if joined.startswith("\\") else joined))
            current.clear()

    for line in lines:
        stripped = line.strip()
        if stripped.startswith("# ") or stripped == "#":
            flush()
            out.append(("chapter", " ".join(stripped[1:].split()) or "Untitled"))
        elif not stripped:
            flush()
        else:
            current.append(stripped)
    flush()
    return [(k, t) for k, t in out if t or k == "chapter"]


@dataclass(frozen=True)
class ChapterSummary:
    title: str
    words: int
    seconds: float  # estimated audio length


@dataclass(frozen=True)
class ScriptSummary:
    """What ``--dry-run`` prints: chapters, words and the estimated audio length."""

    chapters: list[ChapterSummary]
    words: int
    seconds: float
    words_per_minute: float

    def to_dict(self) -> dict[str, object]:
        return {
            "chapters": [{"title": c.title, "words": c.words, "seconds": c.seconds} for c in self.chapters],
            "words": self.words,
            "seconds": self.seconds,
            "words_per_minute": self.words_per_minute,
        }


def summary(script: Script, *, words_per_minute: float = DEFAULT_WORDS_PER_MINUTE) -> ScriptSummary:
    """Chapters that will be read, their words and estimated audio length at ``words_per_minute``."""
    if words_per_minute <= 0:
        raise UsageError(f"words per minute must be positive, not {words_per_minute}")
    chapters = [
        ChapterSummary(c.title, c.words(), round(c.words() * 60 / words_per_minute, 1)) for c in script.read_chapters()
    ]
    words = sum(c.words for c in chapters)
    return ScriptSummary(chapters, words, round(words * 60 / words_per_minute, 1), words_per_minute)
