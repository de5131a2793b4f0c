"""Prompt scripts for recording, message-banking suggestions, and diphone coverage.

A *script* is an ordered list of sentences shipped as package data
(``voicebank/bank/prompts/<name>.json``). It is ordered so that the earliest prompts
add the most new phonetic material: someone who can only record 50 or 150
sentences still gets as many different sound transitions as possible.

Phonetic coverage is measured in *diphones* (pairs of adjacent phones). Each prompt's
phones were computed with espeak-ng when the script was built
(``scripts/build_prompt_script.py``) and are stored next to its text, together with
the *denominator*: the diphone set of a large English word list. Nothing here needs
espeak-ng at run time.

Phones and diphones, as used throughout (the builder uses the same functions):

* Phones come from espeak-ng's IPA output. Stress marks (ˈ ˌ) and espeak's
  glide marker (ʲ) are dropped; the length mark (ː) and combining diacritics
  (for example syllabic n̩, nasal ɑ̃) stay attached to the symbol before them.
* The diphthongs aɪ aʊ ɔɪ eɪ oʊ and the affricates tʃ dʒ count as one phone each.
  R-coloured vowels written with a separate ɹ (ɑːɹ, ɔːɹ) are two phones; ɚ is one.
* Diphones are counted *within words*, with the word boundary ``#`` as a phone at
  both ends: "cat" gives ``# k``, ``k æ``, ``æ t``, ``t #``. Cross-word pairs are
  not counted, because a word list cannot define which of them exist; the same
  rule applied to the word list and to the prompts keeps the fraction honest.
  A "word" is what espeak-ng writes between spaces; it sometimes joins a function
  word to the next one ("of the" becomes ʌvðə), and that is kept as it comes.

This module is responsible for loading shipped prompt lists and answering coverage
questions. It is not responsible for recording, for storing which prompts were
recorded (the bank does that), or for phonemizing text.
"""

from __future__ import annotations

import heapq
import json
import unicodedata
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

from ..errors import UsageError, VoicebankError

__all__ = [
    "CHECKPOINTS",
    "DEFAULT_MESSAGES",
    "DEFAULT_SCRIPT",
    "CoveragePoint",
    "Denominator",
    "Prompt",
    "Script",
    "coverage_curve",
    "coverage_of",
    "diphones_of",
    "greedy_order",
    "list_message_lists",
    "list_scripts",
    "load_messages",
    "load_script",
    "open_script",
    "split_phones",
    "tokenize_ipa",
]

SCHEMA_VERSION = 1
DEFAULT_SCRIPT = "en-core"
DEFAULT_MESSAGES = "en-messages"
CHECKPOINTS: tuple[int, ...] = (50, 150, 300, 1000)
WORD_BOUNDARY = "#"
SCRIPT_KIND = "script"
MESSAGE_KIND = "message"

Diphone = tuple[str, str]

# Symbols espeak-ng writes that are not phones of their own.
_DROPPED = frozenset("ˈˌʲ")
# Symbols that modify the phone before them.
_ATTACHED = frozenset("ː")
# Two-symbol sequences that count as a single phone.
_MERGED = frozenset({"aɪ", "aʊ", "ɔɪ", "eɪ", "oʊ", "tʃ", "dʒ"})
# Marks that are not IPA symbols at all (clause punctuation, tie bars, separators).
_SKIPPED_CATEGORIES = frozenset({"Po", "Pd", "Ps", "Pe", "Pi", "Pf", "Zs", "Cc", "Sk"})

_DATA_FOLDER = "prompts"
_MESSAGES_SUFFIX = "-messages"


@dataclass(frozen=True)
class Prompt:
    """One thing to say into the microphone."""

    id: str  # "s0001" for script prompts (recording order), "m0001" for messages
    text: str  # what the speaker reads, exactly as shown
    kind: str  # "script" (phonetic coverage) or "message" (kept and played back verbatim)
    category: str = ""  # message group ("Greetings", "Family"...); empty for script prompts


@dataclass(frozen=True)
class CoveragePoint:
    """Diphone coverage after the first ``prompts`` prompts of a list."""

    prompts: int  # prompts counted (fewer than the checkpoint when the list is shorter)
    covered: int  # denominator diphones present in those prompts
    total: int  # size of the denominator
    weighted: float  # share of the word list's diphone occurrences that are covered

    @property
    def fraction(self) -> float:
        """Covered diphone types as a fraction of the denominator (0..1)."""
        return self.covered / self.total if self.total else 0.0


@dataclass(frozen=True)
class Denominator:
    """The diphone set coverage is measured against, and how it was made."""

    description: str  # one sentence for people: word list, phonemizer, unit
    words: int  # words of the list that were phonemized
    counts: Mapping[Diphone, int]  # diphone -> number of words containing it

    @property
    def diphones(self) -> frozenset[Diphone]:
        """The denominator's diphone types."""
        return frozenset(self.counts)


@dataclass(frozen=True)
class Script:
    """A shipped recording script: ordered prompts, their phones, and the denominator."""

    name: str
    language: str  # espeak-ng voice the phones were made with, e.g. "en-us"
    description: str
    phonemizer: str  # what made the phones (name and version)
    prompts: tuple[Prompt, ...]
    phones: Mapping[str, tuple[tuple[str, ...], ...]]  # prompt id -> words -> phones
    denominator: Denominator

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Script:
        """Build from the JSON form written by ``scripts/build_prompt_script.py``.

        Raises ``ValueError``, ``KeyError`` or ``TypeError`` on malformed data.
        """
        if data["schema_version"] != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {data['schema_version']}")
        prompts: list[Prompt] = []
        phones: dict[str, tuple[tuple[str, ...], ...]] = {}
        for entry in data["prompts"]:
            prompt = Prompt(id=entry["id"], text=entry["text"], kind=SCRIPT_KIND)
            if prompt.id in phones:
                raise ValueError(f"prompt id {prompt.id} appears twice")
            prompts.append(prompt)
            phones[prompt.id] = tuple(tuple(word.split()) for word in entry["phones"])
        den = data["denominator"]
        counts: dict[Diphone, int] = {}
        for key, n in den["diphones"].items():
            pair = tuple(key.split())
            if len(pair) != 2:
                raise ValueError(f"denominator key {key!r} is not two phones")
            counts[(pair[0], pair[1])] = int(n)
        return cls(
            name=data["name"],
            language=data["language"],
            description=data["description"],
            phonemizer=data["phonemizer"],
            prompts=tuple(prompts),
            phones=MappingProxyType(phones),
            denominator=Denominator(
                description=den["description"],
                words=int(den["words"]),
                counts=MappingProxyType(counts),
            ),
        )

    @cached_property
    def _diphone_sets(self) -> dict[str, frozenset[Diphone]]:
        return {prompt_id: diphones_of(words) for prompt_id, words in self.phones.items()}

    def diphones(self, prompt_id: str) -> frozenset[Diphone]:
        """Diphones of one prompt; empty for an id that is not in this script."""
        return self._diphone_sets.get(prompt_id, frozenset())

    def coverage_curve(
        self, prompt_ids: Sequence[str], checkpoints: Iterable[int] = CHECKPOINTS
    ) -> list[CoveragePoint]:
        """Coverage after the first N of ``prompt_ids`` for each N in ``checkpoints``.

        Ids that are not in this script (messages, the user's own sentences) add nothing.
        """
        wanted = sorted({int(n) for n in checkpoints})
        if wanted and wanted[0] < 0:
            raise UsageError(f"coverage checkpoints must be 0 or more, got {wanted[0]}")
        counts = self.denominator.counts
        occurrences = sum(counts.values())
        covered: set[Diphone] = set()
        weight = 0
        points: list[CoveragePoint] = []
        ids = list(prompt_ids)
        done = 0
        for n in wanted:
            for prompt_id in ids[done:n]:
                for diphone in self.diphones(prompt_id):
                    if diphone in counts and diphone not in covered:
                        covered.add(diphone)
                        weight += counts[diphone]
            done = max(done, min(n, len(ids)))
            points.append(
                CoveragePoint(
                    prompts=done,
                    covered=len(covered),
                    total=len(counts),
                    weighted=weight / occurrences if occurrences else 0.0,
                )
            )
        return points

    def coverage_of(self, prompt_ids: Iterable[str]) -> float:
        """Coverage (0..1) reached by the prompts with these ids, in any order."""
        ids = list(dict.fromkeys(prompt_ids))
        return self.coverage_curve(ids, (len(ids),))[0].fraction


# --- phones and diphones ---------------------------------------------------------


def split_phones(ipa_word: str) -> list[str]:
    """Split one word of espeak-ng IPA into phones (see the module docstring)."""
    phones: list[str] = []
    for char in unicodedata.normalize("NFD", ipa_word):
        if char in _DROPPED:
            continue
        if char in _ATTACHED or unicodedata.category(char) == "Mn":
            if phones:
                phones[-1] += char
            continue
        if unicodedata.category(char) in _SKIPPED_CATEGORIES:
            continue
        if phones and len(phones[-1]) == 1 and phones[-1] + char in _MERGED:
            phones[-1] += char
            continue
        phones.append(char)
    return [unicodedata.normalize("NFC", phone) for phone in phones]


def tokenize_ipa(ipa: str) -> list[list[str]]:
    """Split espeak-ng IPA for a whole sentence into words of phones (empty words dropped)."""
    words = (split_phones(chunk) for chunk in ipa.split())
    return [word for word in words if word]


def diphones_of(words: Iterable[Sequence[str]]) -> frozenset[Diphone]:
    """Word-internal diphones of phone sequences, with ``#`` at both word edges."""
    found: set[Diphone] = set()
    for word in words:
        padded = [WORD_BOUNDARY, *word, WORD_BOUNDARY]
        found.update(zip(padded, padded[1:]))
    return frozenset(found)


# --- greedy ordering ---------------------------------------------------------------


def greedy_order(
    unit_sets: Sequence[Collection[Hashable]],
    tie_keys: Sequence[Any] | None = None,
) -> list[int]:
    """Order candidates so that each next one adds the most units not yet covered.

    ``unit_sets[i]`` are the units (diphones) candidate ``i`` contains. Among equal
    gains the smaller ``tie_keys[i]`` wins (the builder passes word count, length and
    pool position, so shorter, easier sentences come first); without tie keys the
    earlier candidate wins. When no candidate adds anything new, the target rises:
    units seen fewer than twice count as new, then fewer than three times, and so on,
    so the rest of the list still spreads out over less common diphones.

    Returns candidate indices, each once. Uses lazy evaluation: gains only shrink as
    coverage grows, so a stale gain is an upper bound and rarely needs recomputing.
    """
    keys = list(tie_keys) if tie_keys is not None else list(range(len(unit_sets)))
    if len(keys) != len(unit_sets):
        raise ValueError("tie_keys must have one entry per candidate")
    sets = [frozenset(units) for units in unit_sets]
    seen: Counter[Hashable] = Counter()
    target = 1

    def gain(i: int) -> int:
        return sum(1 for unit in sets[i] if seen[unit] < target)

    remaining = set(range(len(sets)))
    heap = [(-gain(i), keys[i], i) for i in remaining]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        _, key, i = heapq.heappop(heap)
        fresh = (-gain(i), key, i)
        if heap and fresh > heap[0]:
            heapq.heappush(heap, fresh)
            continue
        if fresh[0] == 0 and remaining:
            # Nothing adds anything at this target: raise it just enough to matter.
            levels = [seen[u] for j in remaining for u in sets[j]]
            if not levels:
                order.extend(sorted(remaining, key=lambda j: (keys[j], j)))
                break
            target = min(levels) + 1
            heap = [(-gain(j), keys[j], j) for j in remaining]
            heapq.heapify(heap)
            continue
        order.append(i)
        remaining.discard(i)
        seen.update(sets[i])
    return order


# --- shipped data ------------------------------------------------------------------


def _data_dir() -> Traversable:
    return resources.files(__package__) / _DATA_FOLDER


def _data_names(suffix: str) -> list[str]:
    folder = _data_dir()
    if not folder.is_dir():
        return []
    return sorted(
        entry.name[: -len(suffix)] for entry in folder.iterdir() if entry.name.endswith(suffix)
    )


def list_scripts() -> list[str]:
    """Names of the recording scripts shipped with voicebank, e.g. ``["en-core"]``."""
    return _data_names(".json")


def list_message_lists() -> list[str]:
    """Names of the shipped message-banking suggestion lists, e.g. ``["en-messages"]``."""
    return [name for name in _data_names(".txt") if name.endswith(_MESSAGES_SUFFIX)]


def _read_data(name: str, suffix: str, available: list[str], what: str) -> str:
    if name not in available:
        known = ", ".join(available) or "none"
        raise UsageError(f"there is no {what} called {name!r}; available: {known}")
    try:
        return (_data_dir() / f"{name}{suffix}").read_text(encoding="utf-8")
    except OSError as e:
        raise VoicebankError(
            f"the {what} {name!r} cannot be read ({e}); reinstall voicebank"
        ) from e


@lru_cache(maxsize=8)
def open_script(name: str = DEFAULT_SCRIPT) -> Script:
    """Load a shipped script with its phones and denominator (cached)."""
    raw = _read_data(name, ".json", list_scripts(), "prompt script")
    try:
        return Script.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError) as e:
        raise VoicebankError(
            f"the prompt script {name!r} is damaged ({e}); reinstall voicebank"
        ) from e


def load_script(name: str = DEFAULT_SCRIPT) -> list[Prompt]:
    """The prompts of a shipped script in recording order (ids ``s0001``, ``s0002``...)."""
    return list(open_script(name).prompts)


def load_messages(name: str = DEFAULT_MESSAGES) -> list[Prompt]:
    """Message-banking suggestions: phrases to record and later play back as they are.

    The file has ``[Category]`` lines followed by one phrase per line; ``#`` starts
    a comment line. Ids are ``m0001``, ``m0002``... in file order.
    """
    raw = _read_data(name, ".txt", list_message_lists(), "message list")
    prompts: list[Prompt] = []
    category = ""
    for line in raw.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("[") and text.endswith("]"):
            category = text[1:-1].strip()
            continue
        prompts.append(
            Prompt(id=f"m{len(prompts) + 1:04d}", text=text, kind=MESSAGE_KIND, category=category)
        )
    return prompts


def coverage_curve(
    prompts: Sequence[Prompt],
    checkpoints: Iterable[int] = CHECKPOINTS,
    script: str = DEFAULT_SCRIPT,
) -> list[CoveragePoint]:
    """Diphone coverage after the first N ``prompts`` for each checkpoint N.

    Phones are looked up by prompt id in ``script``; prompts that are not in it
    (messages, the user's own sentences) add nothing. A checkpoint beyond the end
    of the list reports the whole list.
    """
    return open_script(script).coverage_curve([p.id for p in prompts], checkpoints)


def coverage_of(prompt_ids: Iterable[str], script: str = DEFAULT_SCRIPT) -> float:
    """Diphone coverage (0..1) once the prompts with these ids have been recorded.

    This is what the recorder shows as "coverage reached"; order does not matter and
    ids that are not in ``script`` are ignored.
    """
    return open_script(script).coverage_of(prompt_ids)
