"""Where a bank keeps what: its file and folder names, schema version, and the helpers every bank module shares."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..durable import free_bytes
from ..errors import DiskFullError

SCHEMA_VERSION = 1
FORMAT_NAME = "voicebank-bank"
MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
TAKES_DIR = "takes"
LOST_DIR = "lost+found"
LOCK = ".lock"
SPOOL_DIR = ".inprogress"  # the recorder's crash-safe capture files (voicebank.record.spool)
CONSENT_DIR = "consent"  # the speaker's consent takes and records (voicebank.provenance.consent)
AUDIO_EXT = ".flac"
# Compact the journal into the manifest once it holds this many entries.
COMPACT_AFTER = 500


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def audio_files(root: Path) -> Iterator[Path]:
    """Every file under the bank's ``takes/`` folder (takes, and leftovers of interrupted saves)."""
    tdir = root / TAKES_DIR
    if tdir.exists():
        for p in sorted(tdir.rglob("*")):
            if p.is_file():
                yield p


def damaged_advice(root: Path) -> str:
    """What still works on a bank whose records are damaged, and how to rebuild it."""
    return (
        f"The takes are untouched. 'voicebank bank status {root}' (and verify, takes, export) still read it; "
        f"rebuild a bank from every intact take with: voicebank bank salvage {root} NEW_FOLDER "
        "(the damaged bank is never changed)."
    )


# Room left over for the journal line and file-system blocks when checking before a write.
ROOM_MARGIN = 64 * 1024


def need_room(folder: Path, size: int, what: str) -> None:
    """Refuse, before writing anything, when ``folder``'s disk has clearly no room for ``size`` bytes."""
    free = free_bytes(folder)
    if free is not None and free < size + ROOM_MARGIN:  # None: cannot tell, the write itself will say
        raise DiskFullError(
            f"The disk is full: {what} needs {_size(size + ROOM_MARGIN)} and only {_size(free)} is free "
            f"on the disk of {folder}. Free some space and try again; {what} was not written, and everything "
            "saved before is safe."
        )


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} KB"
