"""The user's pronunciation lexicon: word → respelling or phonemes.

Stored as ``lexicon.json`` in a voice folder (or one global file)::

    {
      "schema_version": 1,
      "entries": [
        {"word": "Nguyen", "respelling": "Win"},
        {"word": "Siobhan", "phonemes": "ʃɪvˈɔːn"}
      ]
    }
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..durable import atomic_write_json, read_json
from ..errors import LexiconError
from .clean import Protected, phoneme_marker

SCHEMA_VERSION = 1
KINDS = ("respelling", "phonemes")
MAX_WORD = 64
MAX_PRONUNCIATION = 200
_ABSENT = object()  # read_json default: tells a missing lexicon from one holding null

# A word: starts with a letter or digit; may hold ' . - inside; may end with
# a dot ("Dr.", "e.g."). No spaces: entries are single words.
_WORD = re.compile(r"[^\W_](?:[\w'.\-]*[^\W_])?\.*")
_TOKEN = re.compile(r"[^\W_](?:[\w'.\-]*[^\W_])?\.*")
_SEPARATORS = re.compile(r"([-'.])")


def _key(word: str) -> str:
    return unicodedata.normalize("NFKC", word).replace("’", "'").casefold()


@dataclass(frozen=True)
class LexiconEntry:
    """One fix: how ``word`` (matched case-insensitively) should be said."""

    word: str
    pronunciation: str
    kind: str = "respelling"  # "respelling" (plain words) or "phonemes" (espeak-ng IPA)

    @property
    def is_phonemes(self) -> bool:
        return self.kind == "phonemes"

    def to_dict(self) -> dict[str, str]:
        return {"word": self.word, self.kind: self.pronunciation}

    @classmethod
    def from_dict(cls, data: object) -> LexiconEntry:
        if not isinstance(data, dict) or not isinstance(data.get("word"), str):
            raise LexiconError(f'an entry must be an object with a "word", not {data!r}')
        kinds = [k for k in KINDS if k in data]
        if len(kinds) != 1 or not isinstance(data[kinds[0]], str):
            raise LexiconError(
                f'the entry for {data["word"]!r} needs exactly one of "respelling" or "phonemes" (a string)'
            )
        return make_entry(data["word"], data[kinds[0]], phonemes=kinds[0] == "phonemes")


def make_entry(word: str, pronunciation: str, *, phonemes: bool = False) -> LexiconEntry:
    """A validated entry; raises LexiconError with a fix the user can make."""
    word = unicodedata.normalize("NFKC", word.strip()).replace("’", "'")
    pronunciation = unicodedata.normalize("NFC", " ".join(pronunciation.split()))
    if not word or len(word) > MAX_WORD or not _WORD.fullmatch(word):
        raise LexiconError(
            f"{word!r} cannot be a lexicon word: use one word of letters or digits "
            f'(\' . - allowed inside, a final dot for abbreviations like "Dr."), at most {MAX_WORD} characters'
        )
    if not pronunciation or len(pronunciation) > MAX_PRONUNCIATION:
        raise LexiconError(f"the pronunciation for {word!r} must be 1 to {MAX_PRONUNCIATION} characters")
    if any(unicodedata.category(c)[0] == "C" for c in pronunciation):
        raise LexiconError(f"the pronunciation for {word!r} contains control characters")
    if "[" in pronunciation or "]" in pronunciation:
        raise LexiconError(
            f"the pronunciation for {word!r} must not contain [ or ]; give phonemes without brackets and add --phonemes"
        )
    if not phonemes and not any(c.isalnum() for c in pronunciation):
        raise LexiconError(f"the respelling for {word!r} needs at least one letter")
    return LexiconEntry(word, pronunciation, "phonemes" if phonemes else "respelling")


class Lexicon:
    """A user's pronunciation fixes for one voice.

    Responsible for: validating entries, the JSON file (atomic saves), and
    replacing whole words, case-insensitively, in written text. A word with
    a trailing possessive or hyphenated part still matches ("Nguyen's").
    Not responsible for: the built-in normalisation rules (they run after the
    lexicon, so an entry overrides them) or turning phonemes into sound.
    """

    def __init__(self, entries: Iterable[LexiconEntry] = ()) -> None:
        self._entries: dict[str, LexiconEntry] = {}
        for entry in entries:
            self._entries[_key(entry.word)] = entry

    # --- file -----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Lexicon:
        """Read a lexicon file; a missing file is an empty lexicon."""
        path = Path(path)
        data = read_json(path, _ABSENT, what="lexicon")  # damaged JSON: CorruptFileError naming the file
        if data is _ABSENT:
            return cls()
        try:
            return cls.from_dict(data)
        except LexiconError as e:
            raise LexiconError(f"the lexicon {path} is damaged: {e}") from e

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the lexicon atomically (a crash leaves the old file or the new one)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, self.to_dict())

    def to_dict(self) -> dict[str, object]:
        return {"schema_version": SCHEMA_VERSION, "entries": [e.to_dict() for e in self.items()]}

    @classmethod
    def from_dict(cls, data: object) -> Lexicon:
        if not isinstance(data, dict):
            raise LexiconError('expected a JSON object with "schema_version" and "entries"')
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise LexiconError('"schema_version" must be a positive integer')
        if version > SCHEMA_VERSION:
            raise LexiconError(
                f"it was written by a newer voicebank (schema {version}, this one reads {SCHEMA_VERSION}); upgrade voicebank"
            )
        entries = data.get("entries", [])
        if not isinstance(entries, list):
            raise LexiconError('"entries" must be a list')
        return cls(LexiconEntry.from_dict(e) for e in entries)

    # --- editing --------------------------------------------------------------

    def add(self, word: str, pronunciation: str, *, phonemes: bool = False) -> LexiconEntry:
        """Add or replace the entry for ``word``."""
        entry = make_entry(word, pronunciation, phonemes=phonemes)
        self._entries[_key(entry.word)] = entry
        return entry

    def remove(self, word: str) -> bool:
        """Remove ``word``; False if it was not there."""
        return self._entries.pop(_key(word.strip()), None) is not None

    def get(self, word: str) -> LexiconEntry | None:
        return self._entries.get(_key(word))

    def items(self) -> list[LexiconEntry]:
        """All entries, sorted by word."""
        return sorted(self._entries.values(), key=lambda e: (_key(e.word), e.word))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and _key(word) in self._entries

    def __iter__(self) -> Iterator[LexiconEntry]:
        return iter(self.items())

    def __repr__(self) -> str:
        return f"Lexicon({len(self)} entries)"

    # --- use ------------------------------------------------------------------

    def apply(self, text: str) -> str:
        """Replace known words: respellings as text, phonemes as ``[[...]]`` markers."""
        return self.substitute(text, None)

    def substitute(self, text: str, protected: Protected | None) -> str:
        """Like :meth:`apply`; phonemes go into ``protected`` when given (the frontend's way)."""
        if not self._entries:
            return text

        def render(entry: LexiconEntry) -> str:
            if not entry.is_phonemes:
                return entry.pronunciation
            if protected is None:
                return phoneme_marker(entry.pronunciation)
            return protected.hide(entry.pronunciation)

        def replace(m: re.Match[str]) -> str:
            token = m.group(0)
            entry = self._entries.get(_key(token))
            if entry:
                return render(entry)
            stem = token.rstrip(".")
            dots = token[len(stem) :]
            entry = self._entries.get(_key(stem)) if dots else None
            if entry:
                return render(entry) + dots
            parts = _SEPARATORS.split(stem)
            if len(parts) == 1:
                return token
            out = []
            for part in parts:
                entry = self._entries.get(_key(part)) if part and part not in "-'." else None
                out.append(render(entry) if entry else part)
            return "".join(out) + dots

        return _TOKEN.sub(replace, text)
