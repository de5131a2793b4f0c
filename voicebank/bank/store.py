"""The voice bank on disk: a folder that never loses a take.

Layout::

    BANK/
      manifest.json     versioned snapshot of prompts, takes and choices (rewritten atomically)
      journal.jsonl     append-only changes since the snapshot, one CRC-checked JSON line each
      takes/<prompt>/<take>.flac   one lossless file per take, at the recorded rate
      lost+found/       files found after a crash that could not be adopted (never deleted)
      .lock             held by the one process that may write

A save is: encode audio → write a hidden temp file → fsync → rename → fsync the folder →
append + fsync a journal line carrying the file's sha256. The take exists for the bank
once its journal line is durable; ``save_take`` returns only then. On the next writable
open, temp files of interrupted saves are removed, a torn journal tail is cut off, and a
fully written take file that missed its journal line is adopted (re-hashed and re-checked).

The Bank is responsible for storage and integrity; it does not record, play or judge
audio itself (``voicebank.bank.qc`` judges; ``voicebank.record`` captures). Its parts live
in their own modules: :mod:`.layout` (names), :mod:`.state` (records, journal, manifest),
:mod:`.opening` (lock, replay), :mod:`.recovery` (after a crash), :mod:`.takes` (prompts,
takes and their audio), :mod:`.reports` (verify, status), :mod:`.lenient` (reading what is left
of damaged records, for read-only views) and :mod:`.salvage` (a new bank from a damaged one's intact takes).
"""

from __future__ import annotations

from .layout import (  # noqa: F401  (the bank's names, imported from here by the CLI, recorder and tests)
    AUDIO_EXT,
    COMPACT_AFTER,
    FORMAT_NAME,
    JOURNAL,
    LOCK,
    LOST_DIR,
    MANIFEST,
    SCHEMA_VERSION,
    SPOOL_DIR,
    TAKES_DIR,
    sha256_file,
    utc_now,
)
from .opening import BankOpening
from .reports import BankReports, BankStatus, VerifyReport  # noqa: F401
from .takes import BankTakes, check_take_file, encode_flac, storage_subtype  # noqa: F401


class Bank(BankOpening, BankTakes, BankReports):
    """A voice bank folder: prompts, takes, which take is chosen per prompt.

    Open with ``Bank.create`` or ``Bank.open``; use as a context manager so the write
    lock is released. A read-only bank (``writable=False``) never changes the folder; with
    ``tolerate_damage`` it also opens a damaged bank, listing the damage in ``damage``.
    """
