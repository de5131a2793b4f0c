"""Creating and opening a bank folder: the write lock, replaying the journal, and recovery on a writable open."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from pathlib import Path
from typing import Any, Iterator, TypeVar

from ..audio import PathLike
from ..durable import atomic_write, fsync_dir, storage_error
from ..errors import BankCorruptError, BankError, BankLockedError, StorageError
from . import journal, lenient
from .layout import (
    COMPACT_AFTER,
    FORMAT_NAME,
    JOURNAL,
    LOCK,
    MANIFEST,
    SCHEMA_VERSION,
    TAKES_DIR,
    damaged_advice,
    utc_now,
)
from .records import PromptRecord, TakeRecord
from .recovery import BankRecovery, keep_journal_tail
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
        try:
            root.mkdir(parents=True, exist_ok=True)
            (root / TAKES_DIR).mkdir(exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, root, action="create", what="the bank folder") from exc
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
    def open(
        cls: type[B], path: PathLike, *, writable: bool = True, tolerate_damage: bool = False, shared_lock: bool = False
    ) -> B:
        """Open a bank; a writable open takes the lock and finishes any interrupted save.

        A read-only open with ``tolerate_damage`` reads whatever records are still whole
        when the manifest or journal is damaged, and lists the damage in ``bank.damage``
        instead of refusing. ``shared_lock`` (read-only) keeps writers out while it is open,
        so a reader such as an export sees one consistent bank; on read-only media, where
        nobody can write, no lock is needed (``bank.lock_note`` says so).
        """
        root = Path(path)
        if not root.exists():
            raise BankError(f"There is no bank at {root}. Create one with: voicebank bank new {root}")
        if not root.is_dir():
            raise BankError(f"{root} is a file, not a bank folder.")
        mpath = root / MANIFEST
        if not mpath.exists() and not (tolerate_damage and not writable and (root / TAKES_DIR).is_dir()):
            raise BankError(f"{root} is not a voice bank (it has no {MANIFEST}).")
        try:
            meta = load_manifest(mpath) if mpath.exists() else {}
        except BankCorruptError:
            if writable or not tolerate_damage:
                raise
            meta = {}
        bank = cls(root, meta, writable=writable)
        if writable:
            bank._acquire_lock()
        elif shared_lock:
            bank._acquire_shared_lock()
        try:
            if bank.meta:
                bank._load(lenient=tolerate_damage and not writable)
            else:
                bank._load_damaged()
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

    def _replay(self, entries: list[dict[str, Any]], *, lenient: bool = False) -> None:
        """The manifest's snapshot, then every journal entry made after it.

        ``lenient`` (damaged banks, read-only) skips each record or change that does not
        fit and notes it in ``damage``.
        """
        for p in self.meta.get("prompts", []):
            with self._noting(lenient, f"a prompt record in {MANIFEST}"):
                rec = PromptRecord.from_dict(p)
                self.prompts[rec.id] = rec
        for t in self.meta.get("takes", []):
            with self._noting(lenient, f"a take record in {MANIFEST}"):
                take = TakeRecord.from_dict(t)
                self.takes[take.id] = take
        self.chosen = dict(self.meta.get("chosen", {}))
        self.flags = dict(self.meta.get("flags", {}))
        for entry in entries:
            if int(entry.get("seq", 0)) <= int(self.meta.get("seq", 0)):
                continue  # already folded into the manifest snapshot
            with self._noting(lenient, f"change {entry.get('seq')} ({entry.get('op')}) of {JOURNAL}"):
                self._apply(entry)
                self.seq = int(entry["seq"])

    @contextlib.contextmanager
    def _noting(self, lenient: bool, what: str) -> Iterator[None]:
        """Strict: let a record that does not fit raise; lenient: note it in ``damage`` and go on."""
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError, BankCorruptError) as exc:
            if not lenient:
                raise
            self.damage.append(f"{what} does not fit the records before it ({type(exc).__name__}: {exc}); skipped")

    def _acquire_lock(self) -> None:
        try:
            fd = os.open(str(self.root / LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise read_only_error(self.root, exc) from exc
        self._flock(fd, fcntl.LOCK_EX, "")

    def _acquire_shared_lock(self) -> None:
        """A reader's lock: writers wait until it is released; skipped where nobody can write."""
        try:
            fd = os.open(str(self.root / LOCK), os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise read_only_error(self.root, exc) from exc
            self.lock_note = (
                f"{self.root} is read-only ({(exc.strerror or 'no permission').lower()}), so it was read "
                "without a lock: make sure no recorder writes to it at the same time."
            )
            return
        self._flock(fd, fcntl.LOCK_SH, " so that what is read is one consistent bank")

    def _flock(self, fd: int, mode: int, why: str) -> None:
        """Hold ``mode`` on the open lock file ``fd`` for as long as the bank is open, or say who has it."""
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise BankLockedError(
                f"{self.root} is in use by another voicebank program (a recorder, voicebank serve's web recorder, "
                "an import or an export). "
                f"Close it first, then try again{why}."
            ) from exc
        self._lock_fd = fd

    def _load_damaged(self) -> None:
        """Read-only: the records as far as they survive; each piece of damage noted in ``damage``."""
        meta, problems = lenient.read_manifest(self.root / MANIFEST)
        self.meta = meta
        self.seq = int(meta.get("seq", 0))
        self.damage += problems
        entries, jproblems = lenient.read_journal(self.root / JOURNAL)
        self.damage += jproblems
        self._replay(entries, lenient=True)
        self._journal_entries = len(entries)

    def _load(self, *, lenient: bool = False) -> None:
        jpath = self.root / JOURNAL
        try:
            jr = journal.read(jpath)
            self._replay(jr.entries)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # valid JSON, records that do not fit
            if lenient:
                return self._reload_damaged()
            raise BankCorruptError(
                f"The records of the bank {self.root} do not fit together ({type(exc).__name__}: {exc}); was "
                f"{MANIFEST} edited by hand? "
                + damaged_advice(self.root)
            ) from exc
        except BankCorruptError:
            if lenient:
                return self._reload_damaged()
            raise
        self._journal_entries = len(jr.entries)
        if self.writable:
            if jr.torn_tail:
                keep_journal_tail(self.root, jpath, jr.good_bytes)
                journal.truncate(jpath, jr.good_bytes)
            self._recover_files()
            if self._journal_entries >= COMPACT_AFTER:
                self.compact()

    def _reload_damaged(self) -> None:
        self.prompts, self.takes, self.chosen, self.flags = {}, {}, {}, {}
        self._load_damaged()


def read_only_error(root: Path, exc: OSError) -> StorageError:
    """A bank that cannot be written (read-only media, no permission): what still works."""
    err = StorageError(
        f"Cannot change the bank {root}: {(exc.strerror or 'permission denied').lower()}. It can still be read "
        f"('voicebank bank status {root}', and verify, takes, export); to record into it, copy it to a disk you can "
        f"write: voicebank bank salvage {root} NEW_FOLDER, or export it and import the archive."
    )
    err.errno = exc.errno
    return err
