"""The word lexicon sherpa-onnx 2.x reads for a Piper voice: ``words || phonemes`` lines from our espeak-ng.

sherpa-onnx 2.x has no espeak-ng of its own: it reads text word by word (split at spaces
and at , ; : . ! ?, lower-cased) and looks every word up in this file; a word that is not
there is skipped. So the file holds a large word list (Debian's ``wamerican``), the numbers
0-9999, and the person's own lexicon on top, each phonemized by the same espeak-ng voicebank's
engine speaks with. The word-list part depends only on the espeak-ng build, its voice and the
phoneme set, so it is cached (a second voice exports in seconds).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import cache_dir
from ..durable import atomic_write_text
from ..errors import ExportError

WORD_LIST = Path("/usr/share/dict/words")  # Debian's wamerican (install.sh installs it)
NUMBERS = range(10000)  # sherpa-onnx reads digits as words: "1984" must be in the file to be said
SEPARATOR = " || "
FORMAT_VERSION = 1  # of the cached word-list part
_SPLITS = re.compile(r"[\s,;:.!?]")  # where sherpa-onnx 2.x cuts text into words
_TRIM = " ,;:.!?"
# espeak-ng says a lone letter by its name ("a" -> "ay"); the article is what text means.
_IN_CONTEXT = {"a": "a cat"}

Phonemize = Callable[[str], str]  # text -> espeak-ng phonemes (one string)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LexiconFile:
    """What was written: how many entries of each kind, and the user entries that could not be."""

    path: Path
    entries: int  # lines in the file (words, numbers, the voice's own, and the ’ spellings)
    words: int  # distinct words from the word list and the numbers
    user_entries: int
    skipped: tuple[str, ...] = field(default=())  # user entries sherpa-onnx could never match, with why
    size_bytes: int = 0
    word_list: str = ""


def read_word_list(path: Path = WORD_LIST) -> list[str]:
    """The words of a word list (one a line), or an :class:`ExportError` naming the package to install."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ExportError(
            f"The word list {path} cannot be read ({exc.strerror or exc}). On Debian or Ubuntu: "
            "sudo apt-get install wamerican; or give another list with --word-list FILE (one word a line)."
        ) from exc
    return [w.strip() for w in text.splitlines() if w.strip()]


def word_entries(words: Iterable[str], phonemize: Phonemize, progress: Progress | None = None) -> dict[str, str]:
    """Lower-cased word → phonemes for every word sherpa-onnx could look up (one word, no separators)."""
    chosen: dict[str, str] = {}  # key -> the spelling to phonemize: the lower-case one where both exist
    for word in words:
        word = unicodedata.normalize("NFC", word)
        key = word.lower()
        if not key or _SPLITS.search(key) or key.startswith("#"):
            continue
        if key not in chosen or word == key:
            chosen[key] = word
    for n in NUMBERS:
        chosen.setdefault(str(n), str(n))
    out: dict[str, str] = {}
    total = len(chosen)
    for i, (key, spelling) in enumerate(sorted(chosen.items())):
        phonemes = _first_word(phonemize(_IN_CONTEXT[key])) if key in _IN_CONTEXT else phonemize(spelling)
        phonemes = phonemes.strip(_TRIM)
        if phonemes:
            out[key] = phonemes
        if progress is not None and (i % 2000 == 0 or i == total - 1):
            progress(i + 1, total)
    return out


def _first_word(phonemes: str) -> str:
    return phonemes.split(" ", 1)[0]


def user_entries(lexicon: object, phonemize: Phonemize) -> tuple[dict[str, str], list[str]]:
    """The person's lexicon as keys → phonemes; entries sherpa-onnx cannot match come back as reasons."""
    out: dict[str, str] = {}
    skipped: list[str] = []
    for entry in lexicon:  # a voicebank.text.Lexicon
        key = " ".join(unicodedata.normalize("NFKC", entry.word).replace("’", "'").lower().split()).rstrip(".")
        if _SPLITS.search(key.replace(" ", "")):
            skipped.append(f"{entry.word!r} (holds a character sherpa-onnx splits words at: , ; : . ! ?)")
            continue
        if entry.is_phonemes:
            phonemes = unicodedata.normalize("NFD", entry.pronunciation)
        else:
            phonemes = phonemize(entry.pronunciation)
        phonemes = phonemes.strip(_TRIM)
        if not phonemes:
            skipped.append(f"{entry.word!r} (its pronunciation has no phonemes)")
            continue
        out[key] = phonemes
    return out, skipped


def lexicon_lines(entries: dict[str, str], known: set[str]) -> list[str]:
    """``key || phonemes`` lines, sorted, with a ’ twin of each ' word; phonemes the voice has no id for are left out."""
    lines = []
    for key in sorted(entries):
        phonemes = "".join(c for c in unicodedata.normalize("NFD", entries[key]) if c in known or c == " ")
        phonemes = " ".join(phonemes.split())
        if not phonemes:
            continue
        lines.append(f"{key}{SEPARATOR}{phonemes}")
        curly = key.replace("'", "’")  # phone keyboards type don’t; sherpa-onnx matches code points as they are
        if curly != key and curly not in entries:
            lines.append(f"{curly}{SEPARATOR}{phonemes}")
    return lines


def cached_word_entries(
    words_path: Path, describe: str, phonemize: Phonemize, progress: Progress | None = None
) -> dict[str, str]:
    """:func:`word_entries` for a word list, kept in the cache folder keyed by list, espeak-ng and voice."""
    words = read_word_list(words_path)
    digest = hashlib.sha256(
        "\n".join([str(FORMAT_VERSION), describe, *words]).encode("utf-8", "replace")
    ).hexdigest()[:24]
    store = cache_dir() / "lexicons" / f"{digest}.txt"
    try:
        cached = store.read_text(encoding="utf-8")
    except OSError:
        cached = None
    if cached is not None:
        pairs = (line.split(SEPARATOR, 1) for line in cached.splitlines() if SEPARATOR in line)
        return {k: v for k, v in pairs}
    entries = word_entries(words, phonemize, progress)
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(store, "".join(f"{k}{SEPARATOR}{v}\n" for k, v in sorted(entries.items())))
    except OSError:
        pass  # a read-only cache only costs the time again next export
    return entries
