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
audio itself (``voicebank.bank.qc`` judges; ``voicebank.record`` captures).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ..audio import PathLike, audio_info, check_wav_size, read_audio
from ..errors import AudioFormatError, BankCorruptError, BankError, BankLockedError, UsageError
from . import journal
from ..durable import atomic_write, fsync_dir, is_partial
from .records import PROMPT_FLAGS, PROMPT_KINDS, TAKE_STATUSES, PromptRecord, TakeRecord, safe_id

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


def storage_subtype(subtype: str) -> str:
    """The FLAC subtype that keeps a source lossless: 16-bit stays 16, anything finer becomes 24."""
    if subtype in ("PCM_S8", "PCM_U8", "ULAW", "ALAW") or subtype.startswith("DPCM_8"):
        raise AudioFormatError(
            "8-bit audio is too coarse for a voice bank. Record or export the file at 16-bit or better."
        )
    return "PCM_16" if subtype == "PCM_16" else "PCM_24"


def encode_flac(samples: np.ndarray, sample_rate: int, subtype: str) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, int(sample_rate), format="FLAC", subtype=subtype)
    return buf.getvalue()


@dataclass
class VerifyReport:
    """What ``Bank.verify`` found; ``ok`` when nothing is missing, corrupt or stray."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)  # take ids whose file is gone
    corrupt: list[str] = field(default_factory=list)  # take ids whose sha256 differs
    orphans: list[str] = field(default_factory=list)  # audio files no take refers to
    leftovers: list[str] = field(default_factory=list)  # temp files of interrupted saves

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.orphans)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "missing": self.missing,
            "corrupt": self.corrupt,
            "orphans": self.orphans,
            "leftovers": self.leftovers,
        }


@dataclass
class BankStatus:
    """Counts a person cares about: how much is recorded, how much is usable."""

    path: str
    speaker: str
    script: str
    prompts: int
    prompts_with_takes: int
    takes: int
    chosen: int
    speech_minutes: float  # total duration of the chosen takes
    all_minutes: float  # total duration of every take
    by_status: dict[str, int]
    by_verdict: dict[str, int]
    flagged: dict[str, int]
    recovered: int
    unfinished_captures: int = 0  # recordings of a killed session, recovered by the next 'voicebank record'

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Bank:
    """A voice bank folder: prompts, takes, which take is chosen per prompt.

    Open with ``Bank.create`` or ``Bank.open``; use as a context manager so the write
    lock is released. A read-only bank (``writable=False``) never changes the folder.
    """

    def __init__(self, root: Path, meta: dict[str, Any], *, writable: bool) -> None:
        self.root = root
        self.meta = meta
        self.writable = writable
        self.prompts: dict[str, PromptRecord] = {}
        self.takes: dict[str, TakeRecord] = {}
        self.chosen: dict[str, str] = {}
        self.flags: dict[str, str] = {}
        self.seq = int(meta.get("seq", 0))
        self._journal_entries = 0
        self._lock_fd: int | None = None

    # ----------------------------------------------------------------- opening
    @classmethod
    def create(cls, path: PathLike, *, speaker: str = "", script: str = "en-core", language: str = "en") -> "Bank":
        """Make a new, empty bank folder (the folder may exist but must be empty)."""
        root = Path(path)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise BankError(f"{root} already exists and is not an empty folder; choose a new folder for the bank.")
        root.mkdir(parents=True, exist_ok=True)
        (root / TAKES_DIR).mkdir(exist_ok=True)
        meta = {
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
        atomic_write(root / MANIFEST, _dump_manifest(meta))
        fd = os.open(str(root / JOURNAL), os.O_WRONLY | os.O_CREAT, 0o644)
        os.fsync(fd)
        os.close(fd)
        fsync_dir(root)
        return cls.open(root)

    @classmethod
    def open(cls, path: PathLike, *, writable: bool = True) -> "Bank":
        """Open a bank; a writable open takes the lock and finishes any interrupted save."""
        root = Path(path)
        if not root.exists():
            raise BankError(f"There is no bank at {root}. Create one with: voicebank bank new {root}")
        if not root.is_dir():
            raise BankError(f"{root} is a file, not a bank folder.")
        mpath = root / MANIFEST
        if not mpath.exists():
            raise BankError(f"{root} is not a voice bank (it has no {MANIFEST}).")
        meta = _load_manifest(mpath)
        bank = cls(root, meta, writable=writable)
        if writable:
            bank._acquire_lock()
        try:
            bank._load()
        except BaseException:
            bank.close()
            raise
        return bank

    def __enter__(self) -> "Bank":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

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
        for p in self.meta.get("prompts", []):
            rec = PromptRecord.from_dict(p)
            self.prompts[rec.id] = rec
        for t in self.meta.get("takes", []):
            rec = TakeRecord.from_dict(t)
            self.takes[rec.id] = rec
        self.chosen = dict(self.meta.get("chosen", {}))
        self.flags = dict(self.meta.get("flags", {}))
        jpath = self.root / JOURNAL
        jr = journal.read(jpath)
        for entry in jr.entries:
            if int(entry.get("seq", 0)) <= int(self.meta.get("seq", 0)):
                continue  # already folded into the manifest snapshot
            self._apply(entry)
            self.seq = int(entry["seq"])
        self._journal_entries = len(jr.entries)
        if self.writable:
            if jr.torn_tail:
                journal.truncate(jpath, jr.good_bytes)
            self._recover_files()
            if self._journal_entries >= COMPACT_AFTER:
                self.compact()

    # ----------------------------------------------------------------- journal
    def _apply(self, e: dict[str, Any]) -> None:
        op = e.get("op")
        if op == "prompt":
            rec = PromptRecord.from_dict(e["prompt"])
            self.prompts[rec.id] = rec
        elif op == "take":
            rec = TakeRecord.from_dict(e["take"])
            self.takes[rec.id] = rec
        elif op == "status":
            t = self.takes[e["take_id"]]
            self.takes[t.id] = _replace(t, status=e["status"])
        elif op == "choose":
            if e.get("take_id"):
                self.chosen[e["prompt_id"]] = e["take_id"]
            else:
                self.chosen.pop(e["prompt_id"], None)
        elif op == "flag":
            if e.get("flag"):
                self.flags[e["prompt_id"]] = e["flag"]
            else:
                self.flags.pop(e["prompt_id"], None)
        elif op == "meta":
            self.meta[e["key"]] = e["value"]
        else:
            raise BankCorruptError(f"The journal holds an unknown change {op!r}; this bank needs a newer voicebank.")

    def _commit(self, entry: dict[str, Any]) -> None:
        self._require_writable()
        entry = dict(entry, seq=self.seq + 1, at=utc_now())
        journal.append(self.root / JOURNAL, entry)
        self._apply(entry)
        self.seq = entry["seq"]
        self._journal_entries += 1

    def _require_writable(self) -> None:
        if not self.writable:
            raise BankError("This bank was opened read-only.")

    def compact(self) -> None:
        """Fold the journal into a new manifest snapshot and start an empty journal.

        Safe at every point: the snapshot carries the last folded ``seq``, and replay
        skips journal entries at or below it.
        """
        self._require_writable()
        meta = self._snapshot()
        atomic_write(self.root / MANIFEST, _dump_manifest(meta))
        self.meta = meta
        atomic_write(self.root / JOURNAL, b"")
        self._journal_entries = 0

    def _snapshot(self) -> dict[str, Any]:
        meta = {k: v for k, v in self.meta.items() if k not in ("prompts", "takes", "chosen", "flags", "seq")}
        meta["seq"] = self.seq
        meta["prompts"] = [p.to_dict() for p in self.prompts.values()]
        meta["takes"] = [t.to_dict() for t in self.takes.values()]
        meta["chosen"] = dict(self.chosen)
        meta["flags"] = dict(self.flags)
        return meta

    # ----------------------------------------------------------------- prompts
    def add_prompt(self, text: str, *, kind: str = "script", prompt_id: str | None = None) -> PromptRecord:
        """Register a prompt (or return the existing one with this id and text)."""
        if kind not in PROMPT_KINDS:
            raise UsageError(f"Unknown prompt kind {kind!r}; use one of {', '.join(PROMPT_KINDS)}.")
        text = " ".join(text.split())
        if not text and kind != "imported":  # untranscribed imports keep their audio
            raise UsageError("A prompt needs some text.")
        if prompt_id is None:
            prefix = {"script": "s", "message": "m", "imported": "i"}[kind]
            n = 1 + sum(1 for p in self.prompts.values() if p.kind == kind)
            prompt_id = f"{prefix}{n:04d}"
            while prompt_id in self.prompts:
                n += 1
                prompt_id = f"{prefix}{n:04d}"
        pid = safe_id(prompt_id)
        existing = self.prompts.get(pid)
        if existing is not None:
            if existing.text != text:
                raise BankError(f"Prompt {pid} already exists with a different text: {existing.text!r}.")
            return existing
        rec = PromptRecord(pid, text, kind)
        self._commit({"op": "prompt", "prompt": rec.to_dict()})
        return rec

    def flag_prompt(self, prompt_id: str, flag: str | None) -> None:
        """Mark a prompt ``skipped`` or ``later`` (or clear the mark with None)."""
        if flag is not None and flag not in PROMPT_FLAGS:
            raise UsageError(f"Unknown flag {flag!r}; use one of {', '.join(PROMPT_FLAGS)}.")
        self._commit({"op": "flag", "prompt_id": prompt_id, "flag": flag})

    # ------------------------------------------------------------------- takes
    def takes_for(self, prompt_id: str) -> list[TakeRecord]:
        return [t for t in self.takes.values() if t.prompt_id == prompt_id]

    def chosen_take(self, prompt_id: str) -> TakeRecord | None:
        tid = self.chosen.get(prompt_id)
        return self.takes.get(tid) if tid else None

    def take_path(self, take: TakeRecord) -> Path:
        return self.root / take.file

    def _new_take_id(self, prompt_id: str) -> str:
        n = len(self.takes_for(prompt_id)) + 1
        while True:
            tid = f"{prompt_id}.t{n:02d}"
            if tid not in self.takes and not (self.root / TAKES_DIR / prompt_id / f"{tid}{AUDIO_EXT}").exists():
                return tid
            n += 1

    def save_take(
        self,
        prompt_id: str,
        samples: np.ndarray,
        sample_rate: int,
        *,
        subtype: str = "PCM_24",
        qc: dict[str, Any] | None = None,
        status: str = "pending",
        choose: bool = False,
        source: str = "",
        recorded_at: str | None = None,
        recovered: bool = False,
    ) -> TakeRecord:
        """Store one take durably and return its record (only once it is safe on disk).

        ``samples`` is float32 ``(frames,)`` or ``(frames, channels)`` in [-1, 1].
        """
        self._require_writable()
        prompt = self.prompts.get(prompt_id)
        if prompt is None:
            raise UsageError(f"There is no prompt {prompt_id!r} in this bank; add the prompt first.")
        if status not in TAKE_STATUSES:
            raise UsageError(f"Unknown take status {status!r}.")
        samples = np.asarray(samples)
        if samples.size == 0 or samples.shape[0] == 0:
            raise AudioFormatError("The take holds no audio; nothing was saved.")
        if not np.all(np.isfinite(samples)):
            raise AudioFormatError("The take holds invalid samples (NaN or infinity); nothing was saved.")
        data = encode_flac(samples, sample_rate, storage_subtype(subtype))
        tid = self._new_take_id(prompt.id)
        folder = self.root / TAKES_DIR / prompt.id
        if not folder.exists():
            folder.mkdir(parents=True)
            fsync_dir(folder.parent)
        rel = f"{TAKES_DIR}/{prompt.id}/{tid}{AUDIO_EXT}"
        atomic_write(self.root / rel, data, faults=True)
        rec = TakeRecord(
            id=tid,
            prompt_id=prompt.id,
            text=prompt.text,
            file=rel,
            sha256=hashlib.sha256(data).hexdigest(),
            sample_rate=int(sample_rate),
            channels=1 if samples.ndim == 1 else int(samples.shape[1]),
            subtype=storage_subtype(subtype),
            frames=int(samples.shape[0]),
            recorded_at=recorded_at or utc_now(),
            status=status,
            source=source,
            recovered=recovered,
            qc=qc or {},
        )
        self._commit({"op": "take", "take": rec.to_dict()})
        if choose:
            self.choose(tid)
        return rec

    def set_status(self, take_id: str, status: str) -> None:
        if take_id not in self.takes:
            raise UsageError(f"There is no take {take_id!r} in this bank.")
        if status not in TAKE_STATUSES:
            raise UsageError(f"Unknown take status {status!r}; use one of {', '.join(TAKE_STATUSES)}.")
        self._commit({"op": "status", "take_id": take_id, "status": status})

    def choose(self, take_id: str) -> None:
        """Mark a take as the one to use for its prompt (the others are kept)."""
        take = self.takes.get(take_id)
        if take is None:
            raise UsageError(f"There is no take {take_id!r} in this bank.")
        self._commit({"op": "choose", "prompt_id": take.prompt_id, "take_id": take_id})

    def unchoose(self, prompt_id: str) -> None:
        self._commit({"op": "choose", "prompt_id": prompt_id, "take_id": None})

    def set_meta(self, key: str, value: Any) -> None:
        if key in ("prompts", "takes", "chosen", "flags", "seq", "format", "schema_version", "bank_id"):
            raise UsageError(f"{key!r} cannot be changed this way.")
        self._commit({"op": "meta", "key": key, "value": value})

    def read_take(self, take: TakeRecord) -> tuple[np.ndarray, int]:
        """The take's samples (float32, (frames, channels)) and rate."""
        return read_audio(self.take_path(take))

    # ---------------------------------------------------------------- recovery
    def _audio_files(self) -> Iterator[Path]:
        tdir = self.root / TAKES_DIR
        if tdir.exists():
            for p in sorted(tdir.rglob("*")):
                if p.is_file():
                    yield p

    def _recover_files(self) -> None:
        """Finish or undo saves that a crash interrupted (writable open only)."""
        known = {t.file for t in self.takes.values()}
        for p in list(self._audio_files()):
            rel = p.relative_to(self.root).as_posix()
            if rel in known:
                continue
            if is_partial(p.name):
                p.unlink()  # never reported saved: its bytes may be incomplete
                continue
            self._adopt_or_quarantine(p, rel)

    def _adopt_or_quarantine(self, p: Path, rel: str) -> None:
        parts = Path(rel).parts
        pid = parts[1] if len(parts) == 3 else ""
        tid = p.stem
        prompt = self.prompts.get(pid)
        ok = prompt is not None and p.suffix == AUDIO_EXT and tid.startswith(pid + ".t") and tid not in self.takes
        info = None
        if ok:
            try:
                info = audio_info(p)
            except AudioFormatError:
                ok = False
        if not ok or info is None or prompt is None:
            lost = self.root / LOST_DIR
            lost.mkdir(exist_ok=True)
            target = lost / f"{utc_now().replace(':', '')}-{p.name}"
            os.replace(p, target)
            fsync_dir(lost)
            fsync_dir(p.parent)
            return
        qc: dict[str, Any] = {}
        try:
            from .qc import check_file

            qc = check_file(p, text=prompt.text).to_dict()
        except Exception:  # QC is advice; adopting the audio matters more
            qc = {}
        rec = TakeRecord(
            id=tid,
            prompt_id=pid,
            text=prompt.text,
            file=rel,
            sha256=sha256_file(p),
            sample_rate=info.sample_rate,
            channels=info.channels,
            subtype=info.subtype,
            frames=info.frames,
            recorded_at=datetime.fromtimestamp(p.stat().st_mtime, timezone.utc).isoformat(timespec="milliseconds"),
            status="pending",
            recovered=True,
            qc=qc,
        )
        self._commit({"op": "take", "take": rec.to_dict()})

    # ------------------------------------------------------------------ checks
    def verify(self) -> VerifyReport:
        """Re-hash every take; list missing, corrupt and orphan files."""
        report = VerifyReport()
        known = {}
        for t in self.takes.values():
            known[t.file] = t
            path = self.root / t.file
            report.checked += 1
            if not path.exists():
                report.missing.append(t.id)
            elif sha256_file(path) != t.sha256:
                report.corrupt.append(t.id)
        for p in self._audio_files():
            rel = p.relative_to(self.root).as_posix()
            if rel in known:
                continue
            (report.leftovers if is_partial(p.name) else report.orphans).append(rel)
        return report

    def status(self) -> BankStatus:
        by_status = {s: 0 for s in TAKE_STATUSES}
        by_verdict: dict[str, int] = {}
        for t in self.takes.values():
            by_status[t.status] = by_status.get(t.status, 0) + 1
            by_verdict[t.qc_verdict] = by_verdict.get(t.qc_verdict, 0) + 1
        flagged: dict[str, int] = {}
        for f in self.flags.values():
            flagged[f] = flagged.get(f, 0) + 1
        chosen = [self.takes[t] for t in self.chosen.values() if t in self.takes]
        return BankStatus(
            path=str(self.root),
            speaker=str(self.meta.get("speaker", "")),
            script=str(self.meta.get("script", "")),
            prompts=len(self.prompts),
            prompts_with_takes=len({t.prompt_id for t in self.takes.values()}),
            takes=len(self.takes),
            chosen=len(chosen),
            speech_minutes=sum(t.duration for t in chosen) / 60.0,
            all_minutes=sum(t.duration for t in self.takes.values()) / 60.0,
            by_status=by_status,
            by_verdict=by_verdict,
            flagged=flagged,
            recovered=sum(1 for t in self.takes.values() if t.recovered),
            unfinished_captures=len(list((self.root / SPOOL_DIR).glob("*.json"))) if (self.root / SPOOL_DIR).is_dir() else 0,
        )

    def qc_measures(self, *, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
        """QC measurements of the usable takes, for the speaker's running baseline."""
        skip = set(exclude)
        return [
            t.qc.get("measures", {})
            for t in self.takes.values()
            if t.id not in skip and t.status != "rejected" and t.qc_verdict != "fail"
        ]


def _replace(t: TakeRecord, **changes: Any) -> TakeRecord:
    d = t.to_dict()
    d.update(changes)
    return TakeRecord.from_dict(d)


def _dump_manifest(meta: dict[str, Any]) -> bytes:
    return (json.dumps(meta, indent=1, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BankCorruptError(
            f"{path} is damaged and cannot be read ({exc}). Your recordings in "
            f"{path.parent / TAKES_DIR} are untouched; restore the bank from an export "
            "(voicebank bank import ARCHIVE) or ask for help before changing anything."
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise BankCorruptError(f"{path} is not a voicebank manifest.")
    version = meta.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise BankCorruptError(
            f"{path} has schema version {version!r}; this voicebank reads up to {SCHEMA_VERSION}. Update voicebank."
        )
    return meta


def check_take_file(path: PathLike) -> None:
    """Refuse files a bank must not take as-is: unreadable, truncated, empty, 8-bit."""
    info = audio_info(path)
    check_wav_size(path)
    storage_subtype(info.subtype)
