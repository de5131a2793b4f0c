"""One chunk, start to end: synthesize with its seed, check, retry with other seeds, commit the chosen take.

:func:`run_job` is a top-level function so that process pools and Ray tasks can call it; each
process loads a voice once (one ONNX Runtime thread, so the samples do not depend on how
many threads run) and the chunk checker once. A chunk whose checks never pass is kept (the
take with the fewest problems) and comes back with ``ok=False`` and its problems, for the
report: never silently kept.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .cache import ChunkCache
from .plan import ChunkJob

RETRY_SEED_STEP = 1000  # attempt k uses seed + 1000·k

_ENGINES: dict[tuple[str, str], Any] = {}
_CHECKERS: dict[str, Any] = {}


@dataclass(frozen=True)
class ChunkOutcome:
    """What happened to one chunk (picklable; the report and the progress bar read it)."""

    key: str
    chapter: int
    index: int
    ok: bool
    attempts: int  # takes synthesized in this call (0 when it was already in the cache)
    problems: tuple[str, ...] = ()  # the kept take's problems (empty when ok)
    seconds: float = 0.0  # audio length of the kept take
    synth_s: float = 0.0  # time spent synthesizing (all takes)
    check_s: float = 0.0  # time spent checking (all takes)
    cached: bool = False  # found in the cache: nothing was synthesized
    seed: int = 0  # the kept take's seed
    measures: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = list(self.problems)
        return data


def engine_for(voice: str, lexicon: str = "") -> Any:
    """This process's engine for ``voice`` with the job's lexicon (loaded once; one ONNX Runtime thread).

    The lexicon travels in the job, never read from this machine's files, so every worker
    (a Ray node too) speaks a chunk alike.
    """
    engine = _ENGINES.get((voice, lexicon))
    if engine is None:
        from ..engines import load_engine
        from ..text import Lexicon

        words = Lexicon.from_dict(json.loads(lexicon)) if lexicon else Lexicon()
        engine = load_engine(voice, threads=1, lexicon=words)
        _ENGINES[(voice, lexicon)] = engine
    return engine


def checker_for(language: str = "en") -> Any:
    """This process's chunk checker (pocketsphinx and the signal checks load once)."""
    checker = _CHECKERS.get(language)
    if checker is None:
        from .check import ChunkChecker

        checker = ChunkChecker()
        _CHECKERS[language] = checker
    return checker


def synthesize(job: ChunkJob, seed: int) -> tuple[np.ndarray, int]:
    """One take of a chunk: float32 samples at the voice's rate, bit-identical for the same seed."""
    from ..engines.base import SynthesisOptions

    engine = engine_for(job.voice, job.lexicon)
    options = SynthesisOptions(**job.synthesis, seed=seed, first_clause=False)
    chunk = engine.synthesize(job.text, options)
    return np.asarray(chunk.samples, dtype=np.float32), int(chunk.sample_rate)


def run_job(job: ChunkJob, cache_dir: str) -> ChunkOutcome:
    """Make one chunk unless it is already committed: take, check, retry, commit, report."""
    cache = ChunkCache(cache_dir)
    done = cache.meta(job.key)
    if done is not None:
        return outcome_from_cache(job, done)
    checker = checker_for()
    best: tuple[int, int, np.ndarray, int, Any] | None = None  # (problems, attempt, samples, rate, result)
    synth_s = check_s = 0.0
    tried = 0
    for attempt in range(max(1, job.attempts)):
        seed = job.seed + RETRY_SEED_STEP * attempt
        t0 = time.perf_counter()
        samples, rate = synthesize(job, seed)
        t1 = time.perf_counter()
        result = checker.check(samples, rate, job.text)
        t2 = time.perf_counter()
        synth_s, check_s, tried = synth_s + t1 - t0, check_s + t2 - t1, attempt + 1
        if best is None or len(result.problems) < best[0]:
            best = (len(result.problems), attempt, samples, rate, result)
        if result.ok:
            break
    assert best is not None
    _, attempt, samples, rate, result = best
    seed = job.seed + RETRY_SEED_STEP * attempt
    measures = {k: float(v) for k, v in dict(getattr(result, "measures", {}) or {}).items()}
    meta = {
        "ok": bool(result.ok),
        "attempts": tried,
        "seed": seed,
        "problems": [str(p) for p in result.problems],
        "measures": measures,
        "text": job.text,
        "chapter": job.chapter,
        "index": job.index,
    }
    cache.put(job.key, samples, rate, meta)
    return ChunkOutcome(
        key=job.key,
        chapter=job.chapter,
        index=job.index,
        ok=bool(result.ok),
        attempts=tried,
        problems=tuple(meta["problems"]),
        seconds=len(samples) / rate,
        synth_s=synth_s,
        check_s=check_s,
        seed=seed,
        measures=measures,
    )


def outcome_from_cache(job: ChunkJob, meta: dict[str, Any]) -> ChunkOutcome:
    """The outcome of a chunk found committed (``meta``: :meth:`.cache.ChunkCache.meta`)."""
    return ChunkOutcome(
        key=job.key,
        chapter=job.chapter,
        index=job.index,
        ok=bool(meta.get("ok", True)),
        attempts=0,
        problems=tuple(meta.get("problems", ())),
        seconds=int(meta["frames"]) / int(meta["sample_rate"]),
        cached=True,
        seed=int(meta.get("seed", job.seed)),
        measures=dict(meta.get("measures", {})),
    )
