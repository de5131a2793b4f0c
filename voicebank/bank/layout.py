"""Where a bank keeps what: its file and folder names, schema version, and the helpers every bank module shares."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

SCHEMA_VERSION = 1
FORMAT_NAME = "voicebank-bank"
MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
TAKES_DIR = "takes"
LOST_DIR = "lost+found"
LOCK = ".lock"
SPOOL_DIR = ".inprogress"  # the recorder's crash-safe capture files (voicebank.record.spool)
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
