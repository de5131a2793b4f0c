"""Durable files: every write voicebank makes that must never be seen half done.

One order for all of them: write a temporary file next to the target, fsync it,
rename it over the target, fsync the folder. A reader (or a machine that lost
power) then finds the old file or the new one, never a mix, and never loses a file
that was reported written. Reads of JSON fail with a clear message on damage.

Fault injection: when the environment variable ``VOICEBANK_FAULT`` names a phase
(``audio_write``, ``after_fsync``, ``after_rename``, ``journal_append``), the process
kills itself with SIGKILL at that point of the next write that passes it.
``VOICEBANK_FAULT=phase:N`` kills at the N-th time (1-based). Tests use it to prove
that a killed write never leaves a half-written file visible.

This module imports nothing of ours but ``errors``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import CorruptFileError, DiskFullError, StorageError, UsageError

PHASES = ("audio_write", "after_fsync", "after_rename", "journal_append")
PARTIAL_SUFFIX = ".partial"

_hits: dict[str, int] = {}
_MISSING: Any = object()


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


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename or a new file in folder ``path`` durable.

    File systems that cannot fsync a folder (some network and FUSE mounts) are skipped.
    """
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a file that something else wrote (a library that takes a path) to the disk."""
    fd = os.open(os.fspath(path), os.O_RDONLY)
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


def partial_path(path: Path) -> Path:
    """Where the temporary file for ``path`` is written before it is renamed into place."""
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def is_partial(name: str) -> bool:
    """True for the temporary files an interrupted atomic write leaves behind."""
    return name.startswith(".") and (name.endswith(PARTIAL_SUFFIX) or f"{PARTIAL_SUFFIX}." in name)


def remove_partials(paths: Iterable[Path]) -> list[Path]:
    """Delete interrupted temporary files; return what was removed."""
    removed = []
    for p in paths:
        if is_partial(p.name):
            _unlink_quietly(p)
            removed.append(p)
    return removed


def atomic_write(path: str | os.PathLike, data: bytes, *, faults: bool = False, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a mix.

    With ``faults`` the named fault points of a take save are passed on the way
    (mid write, after fsync, after rename).
    """
    path = Path(path)
    tmp = partial_path(path)
    try:
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    try:
        write_all(fd, data, phase="audio_write" if faults else None)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        _unlink_quietly(tmp)
        raise storage_error(exc, path) from exc
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    if faults:
        fault_point("after_fsync")
    _publish(tmp, path)
    if faults:
        fault_point("after_rename")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    atomic_write(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """Atomically replace ``path`` with ``data`` as JSON (UTF-8, ending in a newline)."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False, default=str)
    atomic_write_text(path, text + "\n")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through (for libraries that want a path).

    When the block ends normally the temporary file is fsynced and renamed over
    ``path``; when it raises, the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the target's extension, so format sniffing still works.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}{PARTIAL_SUFFIX}{path.suffix}")
    try:
        yield tmp
        fsync_file(tmp)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise storage_error(exc, path) from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _publish(tmp, path)


def move(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename ``src`` to ``dst`` (a file or a folder, same file system) and make it durable."""
    src, dst = Path(src), Path(dst)
    _publish(src, dst)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def read_json(path: str | os.PathLike, default: Any = _MISSING, *, what: str = "file") -> Any:
    """The JSON in ``path``.

    A missing file gives ``default`` when one is given (else :class:`UsageError`);
    a damaged one raises :class:`CorruptFileError` naming the file, never a bare
    ``ValueError``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if default is not _MISSING:
            return default
        raise UsageError(f"The {what} {path} does not exist.") from None
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"The {what} {path} is not text (damaged?): {exc}.") from exc
    except OSError as exc:
        raise storage_error(exc, path, action="read", what=f"the {what}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CorruptFileError(
            f"The {what} {path} is damaged (not valid JSON: {exc}). "
            "Restore it from a backup, or remove it if it can be made again."
        ) from exc


def read_json_dict(path: str | os.PathLike, *, what: str = "file") -> dict[str, Any]:
    """``read_json`` for a file that must hold a JSON object; missing gives ``{}``."""
    data = read_json(path, {}, what=what)
    if not isinstance(data, dict):
        raise CorruptFileError(f"The {what} {path} should hold a JSON object, not {type(data).__name__}.")
    return data


def _publish(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise storage_error(exc, path) from exc
    fsync_dir(path.parent)


def storage_error(exc: OSError, path: Path, *, action: str = "write", what: str = "", after: str = "") -> OSError:
    """The world's failures as errors the user can act on (still ``OSError`` for old handlers).

    ``what`` names the file for the user ("the bank's journal"); ``after`` is added to a
    full-disk message (what is still safe).
    """
    import errno

    name = f"{what} {path}" if what else str(path)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        err: OSError = DiskFullError(
            f"The disk is full: could not {action} {name}{_free_space(path)}. Free some space and try again."
            f"{' ' + after if after else ''}"
        )
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = (exc.strerror or "permission denied").lower()
        err = StorageError(f"Cannot {action} {name}: {reason}. Choose a place you can {action}.")
    elif exc.errno == errno.EISDIR:
        err = StorageError(f"Cannot {action} {name}: it is a folder. Give a file name.")
    elif exc.errno == errno.ENOENT:
        err = StorageError(f"Cannot {action} {name}: its folder does not exist.")
    else:
        err = StorageError(f"Cannot {action} {name}: {exc.strerror or exc}.")
    err.errno = exc.errno
    return err


def free_bytes(*places: Path) -> int | None:
    """Free bytes on the disk of the first of ``places`` whose file system says, or None."""
    import shutil

    for place in places:
        try:
            return shutil.disk_usage(place).free
        except OSError:
            continue
    return None


def _free_space(path: Path) -> str:
    """ " (N MB free there)" for a message, or "" where the file system does not say."""
    free = free_bytes(path.parent, path)
    if free is None:
        return ""
    return f" ({free / 1e6:.1f} MB free there)" if free >= 100_000 else f" ({free // 1000} kB free there)"


def _unlink_quietly(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.unlink()

