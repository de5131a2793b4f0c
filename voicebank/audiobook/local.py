"""Run chunk jobs on this machine: worker processes sized to it, each engine on one thread, skipping committed chunks.

Workers are started fresh (``spawn``), ignore Ctrl-C (the parent stops handing out work and
lets each finish the chunk in hand, which is then committed whole) and die with the parent
(Linux ``PR_SET_PDEATHSIG``), so a killed narration leaves no process that could commit a
chunk while the rerun makes it again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence

from .cache import ChunkCache
from .plan import ChunkJob
from .synth import ChunkOutcome, outcome_from_cache, run_job

OnOutcome = Callable[[ChunkOutcome], None]


def default_workers() -> int:
    """One worker per CPU this process may use (each engine runs one thread)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cached_outcomes(jobs: Sequence[ChunkJob], cache_dir: str) -> tuple[list[ChunkOutcome], list[ChunkJob]]:
    """Split ``jobs`` into outcomes of the chunks already committed and the jobs still to run."""
    cache = ChunkCache(cache_dir)
    done, todo = [], []
    for job in jobs:
        meta = cache.meta(job.key) if cache.has(job.key) else None
        if meta is None:
            todo.append(job)
        else:
            done.append(outcome_from_cache(job, meta))
    return done, todo


def start_from_cache(
    jobs: Sequence[ChunkJob], cache_dir: str, on_outcome: OnOutcome | None
) -> tuple[list[ChunkOutcome], list[ChunkJob]]:
    """What every runner does first: the committed chunks' outcomes (each handed to ``on_outcome``) and the jobs left."""
    done, todo = cached_outcomes(jobs, cache_dir)
    for outcome in done:
        if on_outcome:
            on_outcome(outcome)
    return done, todo


def run_local(
    jobs: Sequence[ChunkJob],
    cache_dir: str,
    workers: int | None = None,
    on_outcome: OnOutcome | None = None,
) -> list[ChunkOutcome]:
    """Run every job not yet in the cache; outcomes (cached ones too) in completion order.

    ``on_outcome`` is called in this thread for each outcome as it arrives. Ctrl-C
    (``KeyboardInterrupt``) cancels what has not started and is raised again.
    """
    outcomes, todo = start_from_cache(jobs, cache_dir, on_outcome)
    if not todo:
        return outcomes
    n = max(1, min(workers or default_workers(), len(todo)))
    if n == 1:  # no pool: the same code in this process (tests, one-core machines)
        for job in todo:
            outcome = run_job(job, cache_dir)
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
        return outcomes
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)
    try:
        pending = {pool.submit(run_job, job, cache_dir) for job in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                outcome = future.result()
                outcomes.append(outcome)
                if on_outcome:
                    on_outcome(outcome)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # chunks in hand finish and are committed whole
        raise
    pool.shutdown(wait=True)
    return outcomes


def _worker_init() -> None:
    """In each worker: leave Ctrl-C to the parent, and die when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the line above took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass  # not Linux: an orphan finishes its chunk (committed whole) and exits on the closed pipe
