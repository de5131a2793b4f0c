"""Files of a training run that must survive crashes and full disks.

Checkpoints are ``checkpoint_<step>.pth`` with a small ``checkpoint_<step>.json`` beside
it (written first: a checkpoint counts only when both are there). Every file goes through
:func:`write_atomic` (a thin caller of :mod:`voicebank.durable`): written to a hidden
temporary name, flushed to disk, renamed into place, so a reader (or a resumed run) sees
the old file or the new one, never half of one; a failure becomes a :class:`CheckpointError`.
``train_log.jsonl`` is appended line by line and cut back on resume.

Imports torch only inside :func:`checkpoint_bytes`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..durable import atomic_output, atomic_write_json, move
from ..errors import CheckpointError, StorageError

LOG_FILE = "train_log.jsonl"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (the .pth and its .json) of a run folder, oldest first."""
    found = []
    for p in run_dir.glob("checkpoint_*.pth"):
        step = step_of(p)
        if step is not None and sidecar(p).is_file():
            found.append((step, p))
    return sorted(found)


def newest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    # Coqui's continue_path picks the highest-numbered .pth: a .pth without its .json
    # (left by hand) would be picked too, so set those aside.
    for p in run_dir.glob("checkpoint_*.pth"):
        if not sidecar(p).is_file():
            move(p, p.with_name(f"incomplete-{p.name}.bak"))
    return found[-1][1] if found else None


def step_of(path: Path) -> int | None:
    try:
        return int(path.stem.split("_", 1)[1])
    except (IndexError, ValueError):
        return None


def sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def kept_steps(steps: list[int], keep: int, protected: set[int]) -> set[int]:
    ordered = sorted(set(steps))
    return set(ordered[-keep:]) | (protected & set(ordered))


def remove_checkpoint(path: Path) -> None:
    for p in (path, sidecar(path)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def checkpoint_bytes(trainer: Any, existing: list[tuple[int, Path]]) -> int:
    """Expected size of the next checkpoint: the last one's, or the tensors it will hold."""
    import torch

    def tensors(obj: Any) -> int:
        if isinstance(obj, torch.Tensor):
            return obj.numel() * obj.element_size()
        if isinstance(obj, dict):
            return sum(tensors(v) for v in obj.values())
        if isinstance(obj, (list, tuple)):
            return sum(tensors(v) for v in obj)
        return 0

    estimate = tensors(trainer._get_model().state_dict()) + sum(tensors(o.state_dict()) for o in trainer.optimizer)
    if existing:
        with contextlib.suppress(OSError):
            estimate = max(estimate, existing[-1][1].stat().st_size)
    return estimate


def write_atomic(path: Path, write: Callable[[Path], None], on_error: Callable[[BaseException, Path], CheckpointError]) -> None:
    """``write(tmp)`` then fsync and rename to ``path``; the temporary file never outlives a failure.

    ``on_error`` turns the failure (the operating system's own error, e.g. "No space left on
    device") into the caller's :class:`CheckpointError`, which says what is safe and what to do.
    """
    try:
        with atomic_output(path) as tmp:
            write(tmp)
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as RuntimeError
        raise on_error(_cause(exc), path) from exc


def write_atomic_json(path: Path, data: Any, on_error: Callable[[BaseException, Path], CheckpointError]) -> None:
    try:
        atomic_write_json(path, data)
    except OSError as exc:
        raise on_error(_cause(exc), path) from exc


def _cause(exc: BaseException) -> BaseException:
    """The operating system's error behind durable's StorageError (its text names the real failure)."""
    return exc.__cause__ if isinstance(exc, StorageError) and exc.__cause__ is not None else exc


def append_log(path: Path, row: dict[str, Any]) -> None:
    line = json.dumps(row, allow_nan=True) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
    except OSError as exc:
        raise CheckpointError(f"Cannot write the training log {path} ({exc}); is the disk full?") from exc


def truncate_log(path: Path, step: int) -> None:
    """Drop log lines after ``step`` (they belong to steps a resumed run does again)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line)["step"]) <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    blob = ("\n".join(kept) + "\n" if kept else "").encode("utf-8")

    def fail(exc: BaseException, p: Path) -> CheckpointError:
        return CheckpointError(f"Cannot rewrite {p} ({exc}).")

    write_atomic(path, lambda tmp: tmp.write_bytes(blob), fail)


def read_train_log(voice_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of ``VOICE/train_log.jsonl`` (for reports and tests)."""
    path = Path(voice_dir) / LOG_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line torn by a killed run (resume cuts it off); the rest still reads
            continue
    return rows
