"""Saved phrases for type-to-speak: typed text, or a message recorded in a bank.

A phrase that plays a recorded message holds its own copy of the recording: the chosen
take's file is copied into the data folder (``phrase-audio/<sha256>.flac``, named by the
take's checksum) when the phrase is saved, so it still plays after the bank is moved or
gone. If the copy is missing too, the phrase speaks its text and says why
(:attr:`PhraseAudio.notice`). Phrase books written before copies were kept are given
their copies when they are opened and the bank is still where it was. Stored as JSON in
the data folder, written atomically.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from .audio import AudioChunk, Pacing, to_mono
from .config import data_home
from .durable import atomic_write, atomic_write_json, read_json_dict, storage_error
from .errors import CorruptFileError, UsageError, VoicebankError

SCHEMA_VERSION = 2
AUDIO_DIR = "phrase-audio"
_FIELDS = ("text", "bank", "prompt_id", "audio")


@dataclass(frozen=True)
class Phrase:
    """``text`` to speak; with ``bank`` and ``prompt_id`` it is a recorded message instead,
    played from ``audio``, its own copy of the recording (a file name in the phrase-audio folder)."""

    text: str
    bank: str = ""
    prompt_id: str = ""
    audio: str = ""

    @property
    def recorded(self) -> bool:
        return bool(self.audio or (self.bank and self.prompt_id))

    def label(self) -> str:
        return f"{self.text}  [recorded]" if self.recorded else self.text


def default_path() -> Path:
    return data_home() / "phrases.json"


@dataclass(frozen=True)
class PhraseAudio:
    """What a phrase will play: its ``recording`` verbatim, or (None) its text in the voice.

    ``notice`` tells the person why a recorded message is spoken from its text instead.
    """

    phrase: Phrase
    recording: Path | None
    notice: str = ""

    def chunks(self, engine: Any, options: Any = None, pacing: Pacing | None = None) -> Iterator[AudioChunk]:
        """The audio as a chunk stream; ``options`` and ``pacing`` go to the voice as for typed text."""
        if self.recording is not None:
            return _file_chunks(self.recording)
        return iter(engine.stream(self.phrase.text, options, pacing))


class PhraseBook:
    """An ordered list of saved phrases, numbered from 1 for the user, with their recordings' copies."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.audio_dir = self.path.parent / AUDIO_DIR
        self.phrases: list[Phrase] = []
        data = read_json_dict(self.path, what="phrase list")  # missing: no phrases yet
        try:
            self.phrases = [Phrase(**{k: v for k, v in p.items() if k in _FIELDS}) for p in data.get("phrases", [])]
        except (AttributeError, TypeError) as exc:
            raise CorruptFileError(
                f"The phrase list {self.path} is damaged ({exc}); move it away to start a new phrase list."
            ) from exc
        self.migrated = self._migrate()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, {"schema_version": SCHEMA_VERSION, "phrases": [asdict(p) for p in self.phrases]}, indent=1)

    def add(self, phrase: Phrase) -> int:
        if not phrase.text.strip() and not phrase.recorded:
            raise UsageError("A saved phrase needs some text.")
        if phrase.recorded and not phrase.audio:
            phrase = self.keep_audio(phrase)
        self.phrases.append(phrase)
        self.save()
        return len(self.phrases)

    def remove(self, number: int) -> Phrase:
        gone = self.get(number)
        del self.phrases[number - 1]
        self.save()
        if gone.audio and all(p.audio != gone.audio for p in self.phrases):
            (self.audio_dir / gone.audio).unlink(missing_ok=True)  # nobody plays it any more
        return gone

    def get(self, number: int) -> Phrase:
        if not 1 <= number <= len(self.phrases):
            raise UsageError(f"There is no saved phrase {number}; there are {len(self.phrases)}.")
        return self.phrases[number - 1]

    def resolve(self, number: int) -> PhraseAudio:
        """What phrase ``number`` will play (see :func:`resolve`)."""
        return resolve(self.get(number), self.audio_dir)

    def keep_audio(self, phrase: Phrase) -> Phrase:
        """``phrase`` with its own copy of its bank take (copied now, checked against the take's sha256)."""
        take_file, sha256 = _chosen_take_file(phrase.bank, phrase.prompt_id)
        try:
            data = take_file.read_bytes()
        except OSError as exc:
            raise storage_error(exc, take_file, action="read", what="the recording") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CorruptFileError(
                f"The recording {take_file} does not match its checksum (damaged); "
                f"check the bank with: voicebank bank verify {phrase.bank}"
            )
        name = f"{sha256}{take_file.suffix}"
        target = self.audio_dir / name
        if not _intact(target):
            self.audio_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
        return replace(phrase, audio=name)

    def _migrate(self) -> int:
        """Give recorded phrases saved before copies were kept their copy, where the bank still is."""
        copied = 0
        for i, phrase in enumerate(self.phrases):
            if phrase.bank and phrase.prompt_id and not phrase.audio:
                try:
                    self.phrases[i] = self.keep_audio(phrase)
                    copied += 1
                except VoicebankError:  # the bank moved or is damaged: it keeps playing its text
                    continue
        if copied:
            self.save()
        return copied


def resolve(phrase: Phrase, audio_dir: Path | None = None) -> PhraseAudio:
    """The recording a phrase plays: its own copy, else its bank's take while the bank is
    still there, else none — then its text is spoken, with a notice saying why."""
    if not phrase.recorded:
        return PhraseAudio(phrase, None)
    audio_dir = audio_dir or default_path().parent / AUDIO_DIR
    if phrase.audio and _intact(audio_dir / phrase.audio):
        return PhraseAudio(phrase, audio_dir / phrase.audio)
    try:
        take_file, _ = _chosen_take_file(phrase.bank, phrase.prompt_id)
        return PhraseAudio(phrase, take_file)
    except VoicebankError:
        pass
    where = f"its copy {audio_dir / phrase.audio} is gone" if phrase.audio else "it was never copied"
    if phrase.bank:
        where += f" and the bank {phrase.bank} is not there"
    again = (
        f" To play it again, record or find the bank and save it anew: voicebank phrases add --bank BANK --message {phrase.prompt_id}"
        if phrase.prompt_id
        else ""
    )
    notice = f"The recording of \"{phrase.text}\" is missing ({where}); speaking the words in your voice instead.{again}"
    return PhraseAudio(phrase, None, notice)


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


def _chosen_take_file(bank_path: str, prompt_id: str) -> tuple[Path, str]:
    """The chosen take's file of a bank message and its sha256 (the bank must be where it was)."""
    from .bank.store import Bank

    if not bank_path or not Path(bank_path).is_dir():
        raise UsageError(f"The bank {bank_path or '(none)'} is not there.")
    with Bank.open(bank_path, writable=False) as bank:
        take = bank.chosen_take(prompt_id)
        if take is None:
            raise UsageError(f"{prompt_id} has no chosen take in {bank_path}.")
        return bank.take_path(take), take.sha256


def _intact(path: Path) -> bool:
    """A content-addressed copy is whole when its bytes still hash to its name."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == path.name.split(".")[0]
    except OSError:
        return False


def _file_chunks(path: Path, block: int = 4096) -> Iterator[AudioChunk]:
    """A recording as a chunk stream, mixed to mono (played verbatim)."""
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = to_mono(data)
    for start in range(0, len(mono), block):
        end = min(len(mono), start + block)
        yield AudioChunk(mono[start:end], rate, sentence_start=start == 0, utterance_end=end == len(mono))


def as_dict(phrase: Phrase) -> dict[str, Any]:
    return asdict(phrase)
