"""The narration plan: a script's chapters → ordered chunk jobs (one sentence each) and pauses, with content hashes.

A chunk is a whole sentence (batch synthesis is throughput, not latency): a sentence longer
than ``NarrationSettings.max_chunk_chars`` is packed at clause boundaries up to that cap.
Each chunk has a key, the sha256 of everything its audio depends on (voice id, the model's
sha256, the voice's lexicon, the text, the synthesis settings, the seed and :data:`SYNTH_VERSION`), so the cache
(:mod:`.cache`) holds a chunk's audio under its key and a rerun finds what is done. The same
sentence twice in a book is one job.

How a chapter is assembled (:mod:`.narrate`): its ``pieces`` in order, a chunk followed by
its pause, become :class:`.master.Piece` (samples, then seconds of room tone) for
:func:`.master.assemble`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ..errors import UsageError

SCHEMA_VERSION = 1
# Bump when the samples a job produces change for the same inputs (seeded synthesis, engine
# cut, checks that pick a take): every cached chunk is then synthesized again.
SYNTH_VERSION = 1
MAX_CHUNK_CHARS = 400  # the engine's own sentence cap: longer sentences are cut at clauses
FORMATS = ("m4b", "mp3", "opus")


@dataclass(frozen=True)
class NarrationSettings:
    """Everything a narration's audio depends on (the book aside); stored in the report."""

    schema_version: int = SCHEMA_VERSION
    voice: str = "joe"  # a voice reference (registry name, folder or .onnx path)
    length_scale: float | None = None  # >1 slower; None: the voice's own
    noise_scale: float | None = None  # None: the voice's own
    noise_w_scale: float | None = None  # None: the voice's own
    pause_sentence: float = 0.35  # seconds of room tone after a sentence
    pause_paragraph: float = 0.8  # … after a paragraph (instead of the sentence pause)
    pause_heading: float = 1.0  # … after a heading line
    pause_chapter: float = 2.0  # … at a chapter's end (its head and tail are mastering's)
    seed: int = 0  # the synthesis seed of every chunk (a failed chunk retries with seed+1000·k)
    attempts: int = 3  # takes per chunk before it is kept as failed and reported
    max_chunk_chars: int = MAX_CHUNK_CHARS
    front_matter: bool = False  # read chapters the reader marked as front matter
    back_matter: bool = False  # … and back matter
    notes: bool = False  # read footnotes/endnotes at the chapter's end
    watermark: bool = True  # an inaudible watermark in the output (issue 19's provenance)
    mastering: dict[str, Any] = field(default_factory=dict)  # master.MasteringSettings.to_dict()
    formats: tuple[str, ...] = ("m4b",)  # "m4b" plus per-chapter "mp3" or "opus"

    def __post_init__(self) -> None:
        for name in ("pause_sentence", "pause_paragraph", "pause_heading", "pause_chapter"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 30.0:
                raise UsageError(f"{name.replace('_', ' ')} must be between 0 and 30 seconds, not {value}.")
        if not 1 <= self.attempts <= 20:
            raise UsageError(f"attempts must be between 1 and 20, not {self.attempts}.")
        if not 40 <= self.max_chunk_chars <= 2000:
            raise UsageError(f"max_chunk_chars must be between 40 and 2000, not {self.max_chunk_chars}.")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise UsageError(f"Unknown output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")

    def synthesis(self) -> dict[str, Any]:
        """The per-call synthesis settings (``SynthesisOptions`` fields) every chunk uses."""
        return {"length_scale": self.length_scale, "noise_scale": self.noise_scale, "noise_w_scale": self.noise_w_scale}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["formats"] = list(self.formats)
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> NarrationSettings:
        known = {f.name for f in fields(NarrationSettings)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"Unknown narration setting(s): {', '.join(unknown)}.")
        values = dict(data)
        if "formats" in values:
            values["formats"] = tuple(values["formats"])
        return NarrationSettings(**values)


@dataclass(frozen=True)
class ChunkJob:
    """One chunk to synthesize: picklable, self-contained (a worker process or Ray task needs nothing else)."""

    key: str  # sha256 hex of what the audio depends on (see :func:`chunk_key`)
    chapter: int  # where it first occurs (0-based chapter, chunk index within the chapter)
    index: int
    text: str  # the words to say, as the script reads them
    voice: str  # how a worker loads the voice: "joe" or a model path
    synthesis: dict[str, Any]  # SynthesisOptions fields (length/noise scales)
    seed: int
    attempts: int = 3  # takes before a chunk that fails its checks is kept and reported
    lexicon: str = ""  # the voice's lexicon as JSON ("" for none): words typed into a script in written form


@dataclass(frozen=True)
class Piece:
    """One step of a chapter's timeline: a chunk (by key) or a pause."""

    kind: Literal["chunk", "pause"]
    key: str = ""  # the chunk's cache key (kind "chunk")
    seconds: float = 0.0  # the pause's length (kind "pause")
    after: str = ""  # what the pause follows: "sentence", "paragraph", "heading" or "chapter"


@dataclass
class PlannedChapter:
    """A chapter to narrate: its title and timeline, and the text of each of its chunks."""

    number: int  # 0-based among the chapters that are read
    title: str
    source: int = 0  # its index among the script's chapters
    pieces: list[Piece] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)  # chunk index in this chapter → its text
    read_chars: int = 0  # source characters of the lines read
    unread: list[tuple[str, int]] = field(default_factory=list)  # lines with no words to say: (text, chars)

    def keys(self) -> list[str]:
        return [p.key for p in self.pieces if p.kind == "chunk"]

    def words(self) -> int:
        return sum(len(t.split()) for t in self.texts.values())


@dataclass
class Plan:
    """A whole book's narration: chapters in order and the distinct chunk jobs they need."""

    settings: NarrationSettings
    voice_id: str  # the voice's name and model hash, as keyed
    chapters: list[PlannedChapter] = field(default_factory=list)
    jobs: list[ChunkJob] = field(default_factory=list)  # one per distinct key, in reading order
    # per script chapter (by index): source characters read, and lines with no words to say
    read: dict[int, tuple[int, list[tuple[str, int]]]] = field(default_factory=dict)

    def words(self) -> int:
        return sum(c.words() for c in self.chapters)


@dataclass(frozen=True)
class VoiceIdentity:
    """What keys depend on about the voice: how workers load it, its name and its model's sha256."""

    ref: str
    name: str
    model_sha256: str
    lexicon: str = ""  # the voice's lexicon (global entries, then the voice folder's) as JSON; "" when empty


def voice_identity(voice: str) -> VoiceIdentity:
    """Resolve a voice reference here (the engine loads in the workers)."""
    from ..voice.registry import file_sha256, resolve_voice

    from ..text import Lexicon

    files = resolve_voice(voice)
    ref = "joe" if files.stock else str(files.model.resolve())
    lexicon = Lexicon.for_voice(None if files.stock else files.model.parent)
    words = json.dumps(lexicon.to_dict(), sort_keys=True, ensure_ascii=False) if len(lexicon) else ""
    return VoiceIdentity(ref=ref, name=files.name, model_sha256=file_sha256(files.model), lexicon=words)


def chunk_key(voice: VoiceIdentity, text: str, synthesis: dict[str, Any], seed: int) -> str:
    """The content hash of a chunk's audio."""
    blob = json.dumps(
        {
            "v": SYNTH_VERSION,
            "voice": voice.name,
            "model": voice.model_sha256,
            "text": text,
            "synthesis": synthesis,
            "seed": seed,
            "lexicon": voice.lexicon,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def split_chunks(paragraph: str, max_chars: int) -> list[str]:
    """A paragraph's chunks: its sentences, a long one packed at clause boundaries up to ``max_chars``.

    A piece with no letter or digit ("…", "— !") has nothing to say and is left out (it would
    come back silent and fail its checks); its line is still read.
    """
    from ..text.split import chunk, sentences_of_paragraph

    out: list[str] = []
    for sentence in sentences_of_paragraph(paragraph):
        out.extend(piece for piece in chunk(sentence, max_chars) if any(c.isalnum() for c in piece))
    return out


def plan_script(script: Any, settings: NarrationSettings, voice: VoiceIdentity | None = None) -> Plan:
    """Chapters → pieces (chunks and pauses) and the distinct jobs, for the chapters the settings read.

    ``script`` is :class:`.script.Script`: chapters of heading, paragraph and note lines, already
    normalized (the text as it will be read). ``voice``: resolved from the settings if not given.
    """
    voice = voice or voice_identity(settings.voice)
    synthesis = settings.synthesis()
    plan = Plan(settings=settings, voice_id=f"{voice.name}@{voice.model_sha256[:16]}")
    seen: set[str] = set()
    lead_in: PlannedChapter | None = None
    for source, chapter in enumerate(script.chapters):
        planned = PlannedChapter(number=len(plan.chapters), title=chapter.title, source=source)
        if lead_in is not None:  # a part title read at the head of this chapter
            planned.title = f"{lead_in.title} — {chapter.title}"
            planned.pieces, planned.texts = lead_in.pieces, lead_in.texts
            planned.read_chars, planned.unread = lead_in.read_chars, list(lead_in.unread)
            lead_in = None
        before = (planned.read_chars, len(planned.unread))
        for line in chapter.lines:
            kind, text = line.kind, line.text
            chunks = split_chunks(text, settings.max_chunk_chars)
            if not chunks:
                planned.unread.append((text, line.source_chars))
                continue
            planned.read_chars += line.source_chars
            for i, words in enumerate(chunks):
                key = chunk_key(voice, words, synthesis, settings.seed)
                index = len(planned.texts)
                planned.texts[index] = words
                planned.pieces.append(Piece("chunk", key=key))
                if key not in seen:
                    seen.add(key)
                    plan.jobs.append(
                        ChunkJob(key, planned.number, index, words, voice.ref, synthesis, settings.seed, settings.attempts, voice.lexicon)
                    )
                last = i == len(chunks) - 1
                after = "heading" if kind == "heading" and last else "paragraph" if last else "sentence"
                planned.pieces.append(Piece("pause", seconds=_pause(settings, after), after=after))
        plan.read[source] = (planned.read_chars - before[0], planned.unread[before[1] :])
        if not planned.pieces:
            continue
        if _heading_only(chapter) and source < len(script.chapters) - 1:
            # a heading alone ("Part Two") is too short to be a file of its own (ACX measures RMS
            # per file, and a few words in room tone cannot meet it): it leads into the next chapter
            lead_in = planned
            continue
        planned.pieces[-1] = Piece("pause", seconds=settings.pause_chapter, after="chapter")
        plan.chapters.append(planned)
    return plan


def _heading_only(chapter: Any) -> bool:
    return bool(chapter.lines) and all(line.kind == "heading" for line in chapter.lines)


def _pause(settings: NarrationSettings, after: str) -> float:
    return float(getattr(settings, f"pause_{after}"))
