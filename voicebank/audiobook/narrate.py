"""A whole narration: read → plan → synthesize what the cache lacks → assemble and master each chapter → files out → report.

Every file it writes is written atomically, and the chunk cache commits whole chunks only,
so a run killed at any moment is resumed by running the same command: chunks already
committed are used as they are, and the final audio (``OUT/pcm/NN.wav``, float32) is
bit-identical to an uninterrupted run's (seeded synthesis, one thread per engine,
deterministic mastering).

Output folder::

    OUT/cache/            the chunk cache (unless a shared one is given)
    OUT/pcm/01.wav …      each chapter mastered, 32-bit float WAV
    OUT/<title>.m4b       the audiobook with chapter marks (format "m4b")
    OUT/chapters/         a file per chapter (formats "mp3" or "opus")
    OUT/report.json       the narration report (and report.md to read)
"""

from __future__ import annotations

import os
import re
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import atomic_write
from ..errors import UsageError
from .cache import ChunkCache, ensure_writable
from .local import cached_outcomes, default_workers, run_local
from .plan import ChunkJob, NarrationSettings, Plan, PlannedChapter, plan_script, voice_identity
from .progress import ChapterCount, NarrationEvent, ProgressFn
from .synth import ChunkOutcome

PCM_HEADER_BYTES = 58  # RIFF/WAVE, fmt (18 bytes), fact, then the data chunk's header: see write_pcm
HEAD_S = 0.75  # room tone before a chapter's first word (ACX asks for 0.5-1 s; its tail is pause_chapter)
# Seconds of narration one worker makes per second, checks and mastering included, for --dry-run's
# estimate (stock voice, 2 cores: about 10 quiet, 3-4 busy; see docs/narrate.md, "Speed").
AUDIO_S_PER_WORKER_S = 6.0


class NarrationStopped(KeyboardInterrupt):
    """Ctrl-C during synthesis: the chunks in hand were finished and committed; ``done`` of ``total`` are kept."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"{done} of {total} chunks done")
        self.done, self.total = done, total


@dataclass
class NarrationResult:
    """What a narration made: where its files are, its report, and how long each stage took."""

    out_dir: Path
    plan: Plan
    report: dict[str, Any]
    report_json: Path
    report_md: Path
    pcm: list[Path] = field(default_factory=list)  # OUT/pcm/NN.wav, one per chapter
    m4b: Path | None = None
    chapter_files: list[Path] = field(default_factory=list)
    outcomes: list[ChunkOutcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (see stage_timings)
    already_done: int = 0  # chunks found in the cache when the run started
    synthesized: int = 0  # chunks synthesized by this run

    @property
    def failed(self) -> list[ChunkOutcome]:
        return [o for o in self.outcomes if not o.ok]


def load_script(
    source: str | os.PathLike[str],
    settings: NarrationSettings,
    *,
    lexicon: str | os.PathLike[str] | None = None,
    replacements: str | os.PathLike[str] | None = None,
) -> Any:
    """The :class:`.script.Script` to narrate: a script file as it stands, or a book read and normalized."""
    from .reader import read_book
    from .script import book_to_script, is_script, read_script

    if is_script(source):
        return read_script(source)
    from ..text import Lexicon
    from ..voice.registry import resolve_voice
    from .book import ReadOptions

    book = read_book(
        source,
        ReadOptions(
            include_front_matter=settings.front_matter,
            include_back_matter=settings.back_matter,
            read_notes=settings.notes,
        ),
    )
    files = resolve_voice(settings.voice)
    voice_lexicon = Lexicon.for_voice(None if files.stock else files.model.parent)
    return book_to_script(book, lexicon=voice_lexicon, book_lexicon_path=lexicon, replacements_path=replacements)


def check_language(script: Any, voice: str) -> None:
    """Refuse a book in a language the voice does not read (its espeak language), with the reason."""
    from ..voice.config import PiperVoiceConfig
    from ..voice.registry import resolve_voice

    config = PiperVoiceConfig.load(resolve_voice(voice).config)
    book = (script.language or "en").lower().replace("_", "-").split("-")[0]
    reads = config.espeak_voice.lower().split("-")[0]
    if book != reads:
        raise UsageError(
            f"The book is in {script.language!r} but the voice {voice!r} reads {config.espeak_voice!r} "
            "(and the text frontend reads English). Choose a voice for that language with --voice, "
            "or, if the book's language tag is wrong, export the script with --export-text, fix its "
            "'language:' line and narrate the script."
        )


def estimate(script: Any, settings: NarrationSettings, cache_dir: str | os.PathLike[str], workers: int | None = None) -> dict[str, Any]:
    """What ``--dry-run`` prints: chapters, words, audio length, chunks (and how many are cached), run time."""
    from .script import summary

    check_language(script, settings.voice)
    brief = summary(script)
    plan = plan_script(script, settings)
    cache = ChunkCache(cache_dir)
    cached = sum(1 for job in plan.jobs if cache.has(job.key))
    n = workers or default_workers()
    left = brief.seconds * (1 - cached / len(plan.jobs)) if plan.jobs else 0.0
    per_word = brief.seconds / brief.words if brief.words else 0.0
    chapters = [  # as the files will hold them (a part title leads into the chapter after it)
        {"title": c.title, "words": c.words(), "seconds": round(c.words() * per_word, 1)} for c in plan.chapters
    ]
    return {
        **brief.to_dict(),
        "chapters": chapters,
        "chunks": len(plan.jobs),
        "cached": cached,
        "workers": n,
        "run_seconds": round(left / (AUDIO_S_PER_WORKER_S * n), 1),
    }


def narrate(
    source: str | os.PathLike[str],
    settings: NarrationSettings,
    out_dir: str | os.PathLike[str],
    *,
    ray: str | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    lexicon: str | os.PathLike[str] | None = None,
    replacements: str | os.PathLike[str] | None = None,
) -> NarrationResult:
    """Narrate ``source`` (a book or a script file) into ``out_dir``; rerun the same call to resume.

    ``ray``: ``"auto"`` or a cluster address to run chunks as Ray tasks (the cache must then be
    on storage every node sees); None: local worker processes (``workers``, default one per CPU).
    ``progress`` receives :class:`.progress.NarrationEvent` s. Ctrl-C raises :class:`NarrationStopped`
    (a ``KeyboardInterrupt``) once the chunks in hand are committed.
    """
    emit = progress or (lambda event: None)
    timings: dict[str, float] = {}
    out = Path(out_dir)
    cache_root = Path(cache_dir) if cache_dir else out / "cache"
    t0 = time.perf_counter()
    emit(NarrationEvent("stage", stage="read"))
    script = load_script(source, settings, lexicon=lexicon, replacements=replacements)
    check_language(script, settings.voice)
    t1 = time.perf_counter()
    emit(NarrationEvent("stage", stage="plan"))
    plan = plan_script(script, settings, voice_identity(settings.voice))
    if not plan.jobs:
        raise UsageError(f"{source}: nothing to read (every chapter is empty or skipped); see --dry-run")
    ensure_writable(cache_root)
    ChunkCache(cache_root).remove_stale_temporaries()
    t2 = time.perf_counter()
    timings.update(read=t1 - t0, plan=t2 - t1)
    result = NarrationResult(out, plan, {}, out / "report.json", out / "report.md")
    committed = Committed()
    # each chapter is mastered in this thread as soon as its chunks are in, while later ones are synthesized
    with ThreadPoolExecutor(1, thread_name_prefix="voicebank-master") as pool:
        mastering = pool.submit(_assemble, plan, ChunkCache(cache_root), out, result, timings, emit, committed.wait_for)
        try:
            outcomes, already = _synthesize(plan, str(cache_root), ray, workers, emit, committed.add)
        except KeyboardInterrupt:
            committed.close()
            cache = ChunkCache(cache_root)
            raise NarrationStopped(sum(1 for job in plan.jobs if cache.has(job.key)), len(plan.jobs)) from None
        finally:
            committed.close()
        t3 = time.perf_counter()
        emit(NarrationEvent("stage", stage="assemble"))
        chapters, rate = mastering.result()
    timings["synthesize"] = t3 - t2
    timings["after_synthesis"] = time.perf_counter() - t3  # the mastering still to do once the last chunk is in
    timings["synth_worker"] = sum(o.synth_s for o in outcomes)
    timings["check_worker"] = sum(o.check_s for o in outcomes)
    result.outcomes = outcomes
    result.already_done, result.synthesized = already, sum(1 for o in outcomes if not o.cached)
    _write_outputs(script, plan, chapters, rate, out, result, timings, emit)
    emit(NarrationEvent("stage", stage="report"))
    from .report import build_report, write_report

    timings["total"] = time.perf_counter() - t0
    result.timings = timings
    result.report = build_report(script, plan, result, source=str(source))
    write_report(result.report, result.report_json, result.report_md)
    return result


class Committed:
    """The chunk keys committed so far: the mastering thread waits here until a chapter's chunks are all in."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._closed = False
        self._changed = threading.Condition()

    def add(self, key: str) -> None:
        with self._changed:
            self._keys.add(key)
            self._changed.notify_all()

    def close(self) -> None:
        """Synthesis has ended (done, stopped or failed): nothing more will come."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait_for(self, keys: list[str]) -> bool:
        """True once all ``keys`` are committed; False if synthesis ended without them."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._keys.issuperset(keys))
            return self._keys.issuperset(keys)


def _synthesize(
    plan: Plan, cache_dir: str, ray: str | None, workers: int | None, emit: ProgressFn, on_key: Any = None
) -> tuple[list[ChunkOutcome], int]:
    """Run the jobs the cache lacks (locally or on Ray); all outcomes, and how many were cached.

    ``on_key(key)`` hears of every committed chunk, those already in the cache first.
    """
    done, todo = cached_outcomes(plan.jobs, cache_dir)
    cached = {o.key for o in done}
    for key in cached:
        if on_key:
            on_key(key)
    counts = []
    for chapter in plan.chapters:
        mine = [j for j in plan.jobs if j.chapter == chapter.number]
        counts.append(ChapterCount(chapter.title, len(mine), sum(1 for j in mine if j.key in cached)))
    emit(NarrationEvent("planned", chapters=tuple(counts), total=len(plan.jobs), cached=len(done)))
    emit(NarrationEvent("stage", stage="synthesize"))
    outcomes = list(done)

    def on_outcome(outcome: ChunkOutcome) -> None:
        outcomes.append(outcome)
        if on_key:
            on_key(outcome.key)
        emit(NarrationEvent("chunk", outcome=outcome))

    if todo:
        _run(todo, cache_dir, ray, workers, on_outcome)
    return outcomes, len(done)


def _run(todo: list[ChunkJob], cache_dir: str, ray: str | None, workers: int | None, on_outcome: Any) -> None:
    if ray:
        from .ray_runner import run_ray

        run_ray(todo, cache_dir, ray, on_outcome)
    else:
        run_local(todo, cache_dir, workers, on_outcome)


def _assemble(
    plan: Plan,
    cache: ChunkCache,
    out: Path,
    result: NarrationResult,
    timings: dict[str, float],
    emit: ProgressFn,
    ready: Any = None,
) -> tuple[list[Any], int]:
    """Each chapter assembled from its chunks and pauses, mastered, written to OUT/pcm/NN.wav.

    ``ready(keys)`` blocks until a chapter's chunks are committed (False: synthesis ended
    without them, and the chapters so far are returned).
    """
    from . import master
    from .outputs import ChapterAudio

    mastering = master.MasteringSettings.from_dict({**plan.settings.mastering, "watermark": plan.settings.watermark})
    (out / "pcm").mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(len(plan.chapters))))
    chapters, rate = [], 0
    timings.setdefault("assemble", 0.0)
    timings.setdefault("master", 0.0)
    for chapter in plan.chapters:
        if ready is not None and not ready(chapter.keys()):
            return chapters, rate
        t0 = time.perf_counter()
        pieces, rate = chapter_pieces(chapter, cache)
        joined = master.assemble(pieces, rate, plan.settings.seed + chapter.number, mastering)
        t1 = time.perf_counter()
        samples = master.master(joined, rate, mastering)
        t2 = time.perf_counter()
        timings["assemble"] += t1 - t0
        timings["master"] += t2 - t1
        path = out / "pcm" / f"{chapter.number + 1:0{width}d}.wav"
        write_pcm(path, samples, rate)
        result.pcm.append(path)
        # the file, mapped, stands for the samples: a long book need not fit in memory to be encoded
        chapters.append(ChapterAudio(chapter.title, read_pcm(path)))
        emit(NarrationEvent("chapter", chapter=chapter.number, seconds=len(samples) / rate))
        del samples, joined
    for stale in set((out / "pcm").glob("*.wav")) - set(result.pcm):  # chapters an earlier run had
        stale.unlink(missing_ok=True)
    return chapters, rate


def chapter_pieces(chapter: PlannedChapter, cache: ChunkCache) -> tuple[list[Any], int]:
    """A chapter's :class:`.master.Piece` s: room tone at the head, each chunk with the pause after it."""
    from .master import Piece

    pieces = [Piece(None, HEAD_S)]
    rate = 0
    for step in chapter.pieces:
        if step.kind == "pause":
            last = pieces[-1]
            pieces[-1] = Piece(last.samples, last.pause + step.seconds)
            continue
        chunk = cache.get(step.key)
        if chunk is None:
            raise UsageError(
                f"The chunk cache lost a chunk of {chapter.title!r} while assembling it; run the same command again."
            )
        rate = rate or chunk.sample_rate
        pieces.append(Piece(chunk.samples, 0.0))
    return pieces, rate


def write_pcm(path: Path, samples: np.ndarray, rate: int) -> None:
    """A chapter's final samples as a 32-bit float WAV, atomically; the same samples give the same bytes.

    Written here rather than by libsndfile, whose float WAVs carry a PEAK chunk with the time of writing.
    """
    data = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, 1, rate, rate * 4, 4, 32, 0)  # IEEE float, mono, cbSize 0
    fact = struct.pack("<I", len(data) // 4)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"fact", fact) + _chunk(b"data", data)
    atomic_write(path, b"RIFF" + struct.pack("<I", len(body)) + body)


def read_pcm(path: Path) -> np.ndarray:
    """A chapter WAV written by :func:`write_pcm`, memory-mapped (read-only float32 samples)."""
    with open(path, "rb") as f:
        data = f.read(PCM_HEADER_BYTES)
    if len(data) < PCM_HEADER_BYTES or data[:4] != b"RIFF" or data[-8:-4] != b"data":
        raise UsageError(f"{path} is not a chapter file this narration wrote; run the same command again.")
    frames = struct.unpack("<I", data[-4:])[0] // 4
    return np.memmap(path, dtype="<f4", mode="r", offset=PCM_HEADER_BYTES, shape=(frames,))


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def _write_outputs(
    script: Any,
    plan: Plan,
    chapters: list[Any],
    rate: int,
    out: Path,
    result: NarrationResult,
    timings: dict[str, float],
    emit: ProgressFn,
) -> None:
    """The M4B and per-chapter files, and ACX's figures measured on them."""
    from .acx import acx_report
    from .outputs import BookMeta, write_chapter_files, write_m4b

    emit(NarrationEvent("stage", stage="encode"))
    t0 = time.perf_counter()
    meta = BookMeta(script.title, script.author, script.language, narrator=plan.voice_id.split("@")[0],
                    cover=script.cover, cover_mime=script.cover_mime)  # fmt: skip
    settings = plan.settings
    if "m4b" in settings.formats:
        result.m4b = write_m4b(chapters, rate, meta, out / f"{file_stem(script.title)}.m4b")
    for fmt in (f for f in settings.formats if f != "m4b"):
        result.chapter_files += write_chapter_files(chapters, rate, meta, out / "chapters", fmt)
    encoded = ([result.m4b] if result.m4b else []) + result.chapter_files
    result.report["provenance"] = _stamp(encoded, settings.voice)
    t1 = time.perf_counter()
    result.report["acx"] = [acx_report(p) for p in encoded]
    timings.update(encode=t1 - t0, acx=time.perf_counter() - t1)


def _stamp(paths: list[Path], voice: str) -> dict[str, Any]:
    """Tags saying the files are synthetic speech and which voice read them, plus a signed sidecar each."""
    from ..errors import MissingDependencyError
    from ..provenance.stamp import provenance_for, stamp_file

    try:
        info = provenance_for(voice)
        for path in paths:
            stamp_file(path, info)
    except MissingDependencyError as exc:
        return {"stamped": False, "note": f"the files are not tagged as synthetic speech: {exc}"}
    return {"stamped": True, "voice": info.voice, "voice_id": info.voice_id, "files": len(paths)}


def file_stem(title: str) -> str:
    """A file name from a title: letters, digits, spaces, dashes (never empty, at most 80 characters)."""
    stem = re.sub(r"[^\w\- ]+", "", title, flags=re.UNICODE).strip()
    return " ".join(stem.split())[:80] or "audiobook"
