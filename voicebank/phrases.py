"""Saved phrases for type-to-speak: typed text, or a message recorded in a bank.

A phrase that points at a bank message is played back verbatim from the chosen take
(message banking); a text phrase is spoken by the voice. Stored as JSON in the data
folder, written atomically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .audio import AudioChunk, Pacing
from .config import data_home
from .durable import atomic_write_json, read_json_dict
from .errors import CorruptFileError, UsageError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Phrase:
    """``text`` to speak; with ``bank`` and ``prompt_id`` it is a recorded message instead."""

    text: str
    bank: str = ""
    prompt_id: str = ""

    @property
    def recorded(self) -> bool:
        return bool(self.bank and self.prompt_id)

    def label(self) -> str:
        return f"{self.text}  [recorded]" if self.recorded else self.text


def default_path() -> Path:
    return data_home() / "phrases.json"


class PhraseBook:
    """An ordered list of saved phrases, numbered from 1 for the user."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.phrases: list[Phrase] = []
        data = read_json_dict(self.path, what="phrase list")  # missing: no phrases yet
        try:
            self.phrases = [Phrase(**{k: v for k, v in p.items() if k in ("text", "bank", "prompt_id")}) for p in data.get("phrases", [])]
        except (AttributeError, TypeError) as exc:
            raise CorruptFileError(
                f"The phrase list {self.path} is damaged ({exc}); move it away to start a new phrase list."
            ) from exc

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, {"schema_version": SCHEMA_VERSION, "phrases": [asdict(p) for p in self.phrases]}, indent=1)

    def add(self, phrase: Phrase) -> int:
        if not phrase.text.strip() and not phrase.recorded:
            raise UsageError("A saved phrase needs some text.")
        self.phrases.append(phrase)
        self.save()
        return len(self.phrases)

    def remove(self, number: int) -> Phrase:
        gone = self.get(number)
        del self.phrases[number - 1]
        self.save()
        return gone

    def get(self, number: int) -> Phrase:
        if not 1 <= number <= len(self.phrases):
            raise UsageError(f"There is no saved phrase {number}; there are {len(self.phrases)}.")
        return self.phrases[number - 1]


def recorded_message(bank_path: str, prompt_id: str) -> Phrase:
    """A phrase for a message recorded in a bank (checks that a chosen take exists)."""
    from .bank.store import Bank

    with Bank.open(bank_path, writable=False) as bank:
        prompt = bank.prompts.get(prompt_id)
        if prompt is None:
            raise UsageError(f"{bank_path} has no prompt {prompt_id!r} (see 'voicebank bank message list').")
        if bank.chosen_take(prompt_id) is None:
            raise UsageError(f"{prompt_id} has no chosen take yet; record it first.")
        return Phrase(prompt.text, str(Path(bank_path).resolve()), prompt_id)


def message_chunks(phrase: Phrase, block: int = 4096) -> Iterator[AudioChunk]:
    """The recorded take of a message phrase, as a chunk stream (played verbatim)."""
    from .bank.store import Bank

    with Bank.open(phrase.bank, writable=False) as bank:
        take = bank.chosen_take(phrase.prompt_id)
        if take is None:
            raise UsageError(f"{phrase.prompt_id} has no chosen take in {phrase.bank}.")
        data, rate = bank.read_take(take)
    mono: np.ndarray = data.mean(axis=1).astype(np.float32)
    for start in range(0, len(mono), block):
        end = min(len(mono), start + block)
        yield AudioChunk(mono[start:end], rate, sentence_start=start == 0, utterance_end=end == len(mono))


def phrase_chunks(phrase: Phrase, engine: Any, options: Any = None, pacing: Pacing | None = None) -> Iterator[AudioChunk]:
    """Chunks for any phrase: the recording for a message, the voice for text.

    ``options`` and ``pacing`` go to the voice as for typed text (speed; the consumer's lead).
    """
    if phrase.recorded:
        return message_chunks(phrase)
    return iter(engine.stream(phrase.text, options, pacing))


def as_dict(phrase: Phrase) -> dict[str, Any]:
    return asdict(phrase)
