"""Run chunk jobs on a Ray cluster: each chunk a Ray task calling :func:`.synth.run_job`, the cache on shared storage.

The plan and the cache are the same as for local processes (:mod:`.local`): a task makes one
chunk and commits it to the cache folder itself, so a cluster and a single machine give
bit-identical audio, and a run stopped halfway resumes on either. Every node must therefore
see the cache folder at the same path (NFS, CephFS, a cluster file system); a task that
cannot see it fails with a message saying so instead of writing somewhere else.

Each task asks for one CPU and the engine runs one ONNX Runtime thread, so a node runs as
many chunks at once as it has CPUs. Ray is optional (the ``ray`` extra); nothing imports it
unless a narration asks for a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError, StorageError, UsageError
from .local import cached_outcomes
from .plan import ChunkJob
from .synth import ChunkOutcome, run_job

OnOutcome = Callable[[ChunkOutcome], None]
LOCAL = "local"  # address meaning: start a private Ray instance on this machine for this run


def run_ray(
    jobs: Sequence[ChunkJob],
    cache_dir: str,
    address: str | None,
    on_outcome: OnOutcome | None = None,
) -> list[ChunkOutcome]:
    """Run every job not yet in the cache as a Ray task; outcomes (cached ones too) in completion order.

    ``address``: ``"auto"`` joins the cluster this machine belongs to (``ray start`` ran here),
    ``"HOST:PORT"`` or ``"ray://HOST:PORT"`` a given one, ``None`` or ``"local"`` starts a
    private Ray on this machine for the run. ``cache_dir`` must be on storage every node
    mounts at the same path. Ctrl-C cancels the tasks not yet finished and is raised again.
    """
    cache_path = str(Path(cache_dir).resolve())
    done, todo = cached_outcomes(jobs, cache_path)
    outcomes: list[ChunkOutcome] = []
    for outcome in done:
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    if not todo:
        return outcomes
    ray = _import_ray()
    started = _connect(ray, address)
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(run_job_on_node)
        pending = [task.remote(job, cache_path) for job in todo]
        try:
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                for ref in finished:
                    outcome = _result(ray, ref)
                    outcomes.append(outcome)
                    if on_outcome:
                        on_outcome(outcome)
        except BaseException:
            for ref in pending:  # a chunk in hand is committed whole or not at all
                ray.cancel(ref)
            raise
    finally:
        if started:
            ray.shutdown()
    return outcomes


def run_job_on_node(job: ChunkJob, cache_dir: str) -> ChunkOutcome:
    """The Ray task: refuse a cache folder this node cannot see, then make the chunk."""
    if not os.path.isdir(cache_dir):
        import socket

        raise StorageError(
            f"The narration's cache folder {cache_dir} does not exist on Ray node {socket.gethostname()}. "
            "Every node must see the output folder at the same path: put --out on shared storage "
            "(NFS or a cluster file system) mounted at the same place on all nodes."
        )
    return run_job(job, cache_dir)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("Ray (narrating on a cluster with --ray)", "ray") from exc
    return ray


def _connect(ray: Any, address: str | None) -> bool:
    """Join (or start) Ray; True when this call started it and must shut it down."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    # One thread per task: the CPUs Ray counts are the cores the engines use.
    env = {"env_vars": {"OMP_NUM_THREADS": "1"}}
    try:
        if address in (None, "", LOCAL):
            ray.init(num_cpus=os.cpu_count() or 1, runtime_env=env, **options)
        else:
            ray.init(address=address, runtime_env=env, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "this machine's Ray cluster (start one with 'ray start --head')" if address == "auto" else address
        raise UsageError(f"Cannot join Ray at {where}: {exc}") from exc
    return True


def _result(ray: Any, ref: Any) -> ChunkOutcome:
    """A task's outcome; a voicebank error raised on a node comes back as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception) and cause.__class__.__module__.startswith("voicebank"):
            raise cause from exc
        raise
