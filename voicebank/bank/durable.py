"""Durable file operations: atomic replace, fsync of files and folders, and fault points.

Every write that the bank depends on goes through here, so the order
"write temp → fsync → rename → fsync folder" lives in one place.

Fault injection: when the environment variable ``VOICEBANK_FAULT`` names a phase
(``audio_write``, ``after_fsync``, ``after_rename``, ``journal_append``), the process
kills itself with SIGKILL at that point of the next save. ``VOICEBANK_FAULT=phase:N``
kills at the N-th time the phase is reached (1-based). Tests use it to prove that a
killed save never leaves a half-written take visible.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Iterable

PHASES = ("audio_write", "after_fsync", "after_rename", "journal_append")

_hits: dict[str, int] = {}


def fault_point(phase: str) -> None:
    """Kill this process here if ``VOICEBANK_FAULT`` asks for ``phase`` (test hook)."""
    spec = os.environ.get("VOICEBANK_FAULT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != phase:
        return
    _hits[phase] = _hits.get(phase, 0) + 1
    if _hits[phase] >= (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(str(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes, *, phase: str | None = None) -> None:
    """Write ``data`` fully to ``fd``; ``phase`` marks a fault point half-way through."""
    view = memoryview(data)
    if phase:
        half = len(view) // 2
        _write_fully(fd, view[:half])
        fault_point(phase)
        view = view[half:]
    _write_fully(fd, view)


def _write_fully(fd: int, view: memoryview) -> None:
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write(
    path: Path,
    data: bytes,
    *,
    phase_prefix: bool = False,
) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a mix.

    With ``phase_prefix`` the named fault points of a take save are passed on the way
    (mid write, after fsync, after rename).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data, phase="audio_write" if phase_prefix else None)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    if phase_prefix:
        fault_point("after_fsync")
    os.replace(tmp, path)
    fsync_dir(path.parent)
    if phase_prefix:
        fault_point("after_rename")


def is_partial(name: str) -> bool:
    """True for the temporary files ``atomic_write`` leaves behind when interrupted."""
    return name.startswith(".") and name.endswith(".partial")


def remove_partials(paths: Iterable[Path]) -> list[Path]:
    """Delete interrupted temporary files; return what was removed."""
    removed = []
    for p in paths:
        if is_partial(p.name):
            _unlink_quietly(p)
            removed.append(p)
    return removed


def _unlink_quietly(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass
