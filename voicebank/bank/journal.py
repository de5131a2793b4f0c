"""The bank's append-only journal: one JSON line per change, each with a CRC.

A line is durable once ``append`` returns (written, then fsynced). A crash mid-append
leaves at most one torn line at the end; ``read`` reports where the good part stops so
the bank can cut the tear off on its next writable open. A damaged line *before* the
end is not a crash artefact and is reported as corruption instead of being skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BankCorruptError
from ..durable import storage_error, write_all
from .layout import damaged_advice


def encode(entry: dict[str, Any]) -> bytes:
    body = json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    crc = zlib.crc32(body.encode("utf-8"))
    return f'{{"crc":{crc},"e":{body}}}\n'.encode("utf-8")


def decode(line: bytes) -> dict[str, Any] | None:
    """The entry of one line, or None when the line is torn or damaged."""
    try:
        outer = json.loads(line.decode("utf-8"))
        body = json.dumps(outer["e"], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        if zlib.crc32(body.encode("utf-8")) != outer["crc"]:
            return None
        entry = outer["e"]
        return entry if isinstance(entry, dict) else None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


@dataclass
class JournalRead:
    entries: list[dict[str, Any]]
    good_bytes: int  # length of the intact prefix
    torn_tail: bool  # a partial last line follows the intact prefix


def read(path: Path) -> JournalRead:
    """Read every intact entry; tolerate only a torn *last* line."""
    if not path.exists():
        return JournalRead([], 0, False)
    data = path.read_bytes()
    entries: list[dict[str, Any]] = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:  # no newline: the last append was cut short
            return JournalRead(entries, pos, True)
        entry = decode(data[pos:nl])
        if entry is None:
            if data.find(b"\n", nl + 1) < 0 and not data[nl + 1 :].strip():
                return JournalRead(entries, pos, True)  # a damaged final line: torn write
            raise BankCorruptError(
                f"{path} is damaged at byte {pos} (a line in the middle does not match its "
                "checksum). " + damaged_advice(path.parent)
            )
        entries.append(entry)
        pos = nl + 1
    return JournalRead(entries, pos, False)


def truncate(path: Path, size: int) -> None:
    """Cut a torn tail off the journal, durably."""
    fd = os.open(str(path), os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def append(path: Path, entry: dict[str, Any]) -> None:
    """Append one entry and fsync; a kill mid-way leaves a torn line that ``read`` detects.

    A write that fails (a full disk) is cut back off at once: the process goes on, and a
    torn line followed by good ones would read as damage in the middle.
    """
    line = encode(entry)
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            write_all(fd, line, phase="journal_append")
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                os.fsync(fd)
            raise storage_error(
                exc, path, what="the bank's journal", after="Everything recorded before is safe."
            ) from exc
    finally:
        os.close(fd)
