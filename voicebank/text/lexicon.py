"""The user's pronunciation lexicon: word or phrase → respelling or phonemes.

Stored as ``lexicon.json`` in a voice folder (or one global file)::

    {
      "schema_version": 1,
      "entries": [
        {"word": "Nguyen", "respelling": "Win"},
        {"word": "Mary Ann", "respelling": "Marianne"},
        {"word": "Siobhan", "phonemes": "ʃɪvˈɔːn"}
      ]
    }

An entry of several words is matched as a phrase (any spacing, any case), the
longest phrase first, before single words.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..durable import atomic_write_json, read_json
from ..errors import LexiconError
from .clean import Protected, phoneme_marker

SCHEMA_VERSION = 1
FILE_NAME = "lexicon.json"  # in a voice folder, or in the data folder for the global lexicon
KINDS = ("respelling", "phonemes")
MAX_WORD = 64
MAX_PRONUNCIATION = 200
MAX_PHRASE_WORDS = 8
_ABSENT = object()  # read_json default: tells a missing lexicon from one holding null

# A word: starts with a letter or digit; may hold ' . - inside; may end with
# a dot ("Dr.", "e.g."). An entry is one word or a phrase of words separated by spaces.
_WORD_PATTERN = r"[^\W_](?:[\w'.\-]*[^\W_])?\.*"
_WORD = re.compile(rf"{_WORD_PATTERN}(?: {_WORD_PATTERN}){{0,{MAX_PHRASE_WORDS - 1}}}")
_TOKEN = re.compile(_WORD_PATTERN)
_SEPARATORS = re.compile(r"([-'.])")


def _key(word: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", word).replace("’", "'").casefold().split())


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


def make_entry(
    word: str, pronunciation: str, *, phonemes: bool = False, alphabet: Collection[str] | None = None
) -> LexiconEntry:
    """A validated entry; raises LexiconError with a fix the user can make.

    ``alphabet``: the phoneme symbols the voice knows; phonemes outside it are refused.
    """
    word = " ".join(unicodedata.normalize("NFKC", word).replace("’", "'").split())
    pronunciation = unicodedata.normalize("NFC", " ".join(pronunciation.split()))
    if not word or len(word) > MAX_WORD or not _WORD.fullmatch(word):
        raise LexiconError(
            f"{word!r} cannot be a lexicon word: use a word of letters or digits "
            f'(\' . - allowed inside, a final dot for abbreviations like "Dr."), or up to {MAX_PHRASE_WORDS} '
            f'such words separated by spaces ("Mary Ann"), at most {MAX_WORD} characters'
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
    if phonemes and alphabet is not None:
        check_phonemes(word, pronunciation, alphabet)
    return LexiconEntry(word, pronunciation, "phonemes" if phonemes else "respelling")


def check_phonemes(word: str, phonemes: str, alphabet: Collection[str]) -> None:
    """Refuse phonemes the voice has no symbol for (the engine would drop them silently).

    Symbols are compared after NFD decomposition, as the engine splits them.
    """
    known = {c for symbol in alphabet for c in unicodedata.normalize("NFD", symbol)}
    unknown: list[str] = []
    for c in unicodedata.normalize("NFD", phonemes):
        if not c.isspace() and c not in known and c not in unknown:
            unknown.append(c)
    if unknown:
        listed = ", ".join(f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed').lower()})" for c in unknown)
        raise LexiconError(
            f"the phonemes for {word!r} hold {listed}, which the voice has no sound for. "
            "Use the voice's espeak-ng IPA symbols (e.g. ɹ, ɡ, ʃ, ˈ for stress, ː for length), "
            "or give a respelling instead (leave out --phonemes)"
        )


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
        self._pattern: re.Pattern[str] | None = None  # phrases, then single words; built on first use
        for entry in entries:
            self._entries[_key(entry.word)] = entry

    # --- file -----------------------------------------------------------------

    @classmethod
    def for_voice(cls, folder: str | os.PathLike[str] | None) -> Lexicon:
        """What a voice speaks with: the global lexicon, overridden entry by entry by the voice folder's.

        ``folder`` None (the stock voice, or a voice given as a file): the global lexicon alone.
        """
        from ..config import data_home

        merged = cls.load(data_home() / FILE_NAME)
        if folder is not None:
            for entry in cls.load(Path(folder) / FILE_NAME):
                merged._entries[_key(entry.word)] = entry
        return merged

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

    def add(
        self, word: str, pronunciation: str, *, phonemes: bool = False, alphabet: Collection[str] | None = None
    ) -> LexiconEntry:
        """Add or replace the entry for ``word`` (a word or a phrase).

        ``alphabet``: the voice's phoneme symbols; phonemes outside it are refused with the reason.
        """
        entry = make_entry(word, pronunciation, phonemes=phonemes, alphabet=alphabet)
        self._entries[_key(entry.word)] = entry
        self._pattern = None
        return entry

    def remove(self, word: str) -> bool:
        """Remove ``word``; False if it was not there."""
        self._pattern = None
        return self._entries.pop(_key(word), None) is not None

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

        return self._matcher().sub(replace, text)

    def _matcher(self) -> re.Pattern[str]:
        """Phrase entries (longest first, any spacing and case), then any single word."""
        if self._pattern is None:
            phrases = sorted((k for k in self._entries if " " in k), key=len, reverse=True)
            alternatives = [r"[ \t]+".join(re.escape(w) for w in p.split(" ")) for p in phrases]
            if alternatives:
                joined = "|".join(alternatives)
                self._pattern = re.compile(rf"(?<![\w'.\-])(?i:{joined})(?![\w-])|{_WORD_PATTERN}")
            else:
                self._pattern = _TOKEN
        return self._pattern
