"""The content-addressed chunk cache: a chunk's chosen take (float32 samples, losslessly) and its check result, by key.

One file per chunk, ``ROOT/chunks/ab/<key>.npz``, holding the samples and a small JSON of
how the take was chosen (attempts, seed, problems). It is written to a temporary file of
this process, fsynced, then renamed into place, so a process killed at any moment leaves
either no chunk or a whole one; a damaged file reads as missing (and is synthesized again).
Several processes or machines may share one cache folder: a key names the same audio
wherever it is made, and the last rename wins with identical samples.

``commits.log`` lists each commit (key, process id, time) with one ``write`` call per line:
diagnostics only (how often each chunk was made), read tolerantly, never needed to assemble.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import fsync_dir, move, storage_error, write_all
from ..errors import StorageError

LOG_NAME = "commits.log"


@dataclass(frozen=True)
class CachedChunk:
    """A committed chunk: its samples and what the worker recorded about the take."""

    key: str
    samples: np.ndarray  # float32, mono
    sample_rate: int
    meta: dict[str, Any] = field(default_factory=dict)  # ok, attempts, seed, problems, measures, text


class ChunkCache:
    """Chunks by key under ``root`` (an output folder's ``cache/``, or a shared folder)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a chunk key: {key!r}")
        return self.root / "chunks" / key[:2] / f"{key}.npz"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def missing(self, keys: list[str]) -> list[str]:
        """The keys with no committed chunk (in the given order)."""
        return [k for k in keys if not self.has(k)]

    def get(self, key: str) -> CachedChunk | None:
        """The committed chunk, or None when there is none or its file is damaged (then it is removed)."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise storage_error(exc, path, action="read", what="the cached chunk") from exc
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                samples = np.asarray(npz["audio"], dtype=np.float32)
                meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
            return CachedChunk(key, samples, int(meta["sample_rate"]), meta)
        except (ValueError, KeyError, OSError, UnicodeDecodeError, EOFError):
            path.unlink(missing_ok=True)  # a damaged chunk is made again, not trusted
            return None

    def meta(self, key: str) -> dict[str, Any] | None:
        """What was recorded about a committed chunk (its samples are not read); None when there is none."""
        path = self.path(key)
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
                meta.setdefault("frames", int(npz["audio"].shape[0]))
            return dict(meta)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, OSError, UnicodeDecodeError, EOFError):
            path.unlink(missing_ok=True)  # a damaged chunk is made again, not trusted
            return None

    def put(self, key: str, samples: np.ndarray, sample_rate: int, meta: dict[str, Any]) -> Path:
        """Commit a chunk durably and atomically (temporary file, fsync, rename, folder fsync)."""
        path = self.path(key)
        record = dict(meta, sample_rate=int(sample_rate), frames=int(np.asarray(samples).shape[0]))
        buf = io.BytesIO()
        np.savez(
            buf,
            audio=np.ascontiguousarray(samples, dtype=np.float32),
            meta=np.frombuffer(json.dumps(record, sort_keys=True).encode("utf-8"), dtype=np.uint8),
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, path.parent, what="the chunk cache folder") from exc
        tmp = path.with_name(f".{key}.{socket.gethostname()}.{os.getpid()}.{threading.get_ident()}.partial")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                write_all(fd, buf.getvalue())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise storage_error(exc, path, what="the cached chunk") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        move(tmp, path)
        self._log(key)
        return path

    def _log(self, key: str) -> None:
        line = f"{key} {socket.gethostname()}:{os.getpid()} {time.time():.3f}\n".encode()
        try:
            fd = os.open(self.root / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line)  # one call: lines from several processes never interleave
            finally:
                os.close(fd)
        except OSError:
            pass  # diagnostics only

    def commits(self) -> dict[str, int]:
        """How many times each key was committed, from the log (a torn last line is ignored)."""
        counts: dict[str, int] = {}
        try:
            text = (self.root / LOG_NAME).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return counts
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and len(parts[0]) == 64:
                counts[parts[0]] = counts.get(parts[0], 0) + 1
        return counts

    def remove_stale_temporaries(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files left by killed writers (a live writer's are young)."""
        removed = 0
        now = time.time()
        for tmp in (self.root / "chunks").glob("*/.*.partial"):
            try:
                if now - tmp.stat().st_mtime > older_than_s:
                    tmp.unlink()
                    removed += 1
            except OSError:
                pass
        return removed


def ensure_writable(root: Path) -> None:
    """Fail early, with a clear message, when the cache folder cannot be written."""
    try:
        (root / "chunks").mkdir(parents=True, exist_ok=True)
        fsync_dir(root)
    except OSError as exc:
        raise StorageError(f"Cannot use {root} as the chunk cache: {exc.strerror or exc}.") from exc
