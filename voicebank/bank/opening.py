"""Creating and opening a bank folder: the write lock, replaying the journal, and recovery on a writable open."""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path
from typing import Any, TypeVar

from ..audio import PathLike
from ..durable import atomic_write, fsync_dir
from ..errors import BankCorruptError, BankError, BankLockedError
from . import journal
from .layout import COMPACT_AFTER, FORMAT_NAME, JOURNAL, LOCK, MANIFEST, SCHEMA_VERSION, TAKES_DIR, utc_now
from .records import PromptRecord, TakeRecord
from .recovery import BankRecovery
from .state import dump_manifest, load_manifest

B = TypeVar("B", bound="BankOpening")


class BankOpening(BankRecovery):
    """Opens a bank: one writer at a time (an ``flock`` on ``.lock``), the manifest plus the journal replayed.

    A writable open also cuts a torn journal tail, settles interrupted saves
    (:class:`~.recovery.BankRecovery`) and compacts a long journal.
    """

    @classmethod
    def create(cls: type[B], path: PathLike, *, speaker: str = "", script: str = "en-core", language: str = "en") -> B:
        """Make a new, empty bank folder (the folder may exist but must be empty)."""
        root = Path(path)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise BankError(f"{root} already exists and is not an empty folder; choose a new folder for the bank.")
        root.mkdir(parents=True, exist_ok=True)
        (root / TAKES_DIR).mkdir(exist_ok=True)
        meta: dict[str, Any] = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "bank_id": uuid.uuid4().hex,
            "created": utc_now(),
            "speaker": speaker,
            "script": script,
            "language": language,
            "seq": 0,
            "prompts": [],
            "takes": [],
            "chosen": {},
            "flags": {},
        }
        atomic_write(root / MANIFEST, dump_manifest(meta))
        atomic_write(root / JOURNAL, b"")
        fsync_dir(root)  # the takes folder too
        return cls.open(root)

    @classmethod
    def open(cls: type[B], path: PathLike, *, writable: bool = True) -> B:
        """Open a bank; a writable open takes the lock and finishes any interrupted save."""
        root = Path(path)
        if not root.exists():
            raise BankError(f"There is no bank at {root}. Create one with: voicebank bank new {root}")
        if not root.is_dir():
            raise BankError(f"{root} is a file, not a bank folder.")
        mpath = root / MANIFEST
        if not mpath.exists():
            raise BankError(f"{root} is not a voice bank (it has no {MANIFEST}).")
        bank = cls(root, load_manifest(mpath), writable=writable)
        if writable:
            bank._acquire_lock()
        try:
            bank._load()
        except BaseException:
            bank.close()
            raise
        return bank

    def __enter__(self: B) -> B:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _replay(self, entries: list[dict[str, Any]]) -> None:
        """The manifest's snapshot, then every journal entry made after it."""
        for p in self.meta.get("prompts", []):
            rec = PromptRecord.from_dict(p)
            self.prompts[rec.id] = rec
        for t in self.meta.get("takes", []):
            take = TakeRecord.from_dict(t)
            self.takes[take.id] = take
        self.chosen = dict(self.meta.get("chosen", {}))
        self.flags = dict(self.meta.get("flags", {}))
        for entry in entries:
            if int(entry.get("seq", 0)) <= int(self.meta.get("seq", 0)):
                continue  # already folded into the manifest snapshot
            self._apply(entry)
            self.seq = int(entry["seq"])

    def _acquire_lock(self) -> None:
        fd = os.open(str(self.root / LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise BankLockedError(
                f"{self.root} is in use by another voicebank program (a recorder or an import). "
                "Close it first, then try again."
            ) from exc
        self._lock_fd = fd

    def _load(self) -> None:
        jpath = self.root / JOURNAL
        jr = journal.read(jpath)
        try:
            self._replay(jr.entries)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # valid JSON, records that do not fit
            raise BankCorruptError(
                f"The records of the bank {self.root} do not fit together ({type(exc).__name__}: {exc}); was "
                f"{MANIFEST} edited by hand? The takes are untouched; restore the bank from an export or ask for help."
            ) from exc
        self._journal_entries = len(jr.entries)
        if self.writable:
            if jr.torn_tail:
                journal.truncate(jpath, jr.good_bytes)
            self._recover_files()
            if self._journal_entries >= COMPACT_AFTER:
                self.compact()
