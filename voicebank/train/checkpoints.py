"""Files of a training run that must survive crashes and full disks.

Checkpoints are ``checkpoint_<step>.pth`` with a small ``checkpoint_<step>.json`` beside
it (written first: a checkpoint counts only when both are there). Every file goes through
:func:`write_atomic`: written to a hidden temporary name, flushed to disk, renamed into
place, so a reader (or a resumed run) sees the old file or the new one, never half of one.
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

from ..errors import VoicebankError, CheckpointError

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
            p.rename(p.with_name(f"incomplete-{p.name}.bak"))
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
    """``write(tmp)`` then fsync and rename to ``path``; the temporary file never outlives a failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as RuntimeError
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise on_error(exc, path) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_atomic_json(path: Path, data: Any, on_error: Callable[[BaseException, Path], CheckpointError]) -> None:
    blob = (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    write_atomic(path, lambda tmp: tmp.write_bytes(blob), on_error)


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
