"""Salvage: a new bank built from every intact take of a damaged one, which is only ever read.

Each take with a surviving record is kept when its audio still matches the sha256 the
bank recorded; a take file whose record is lost is kept, marked ``unverified``, when its
audio decodes completely (for FLAC: to the MD5 its encoder stored). Everything else is
listed with its path and why. The new bank is written through the normal crash-safe
take store, with the same prompt ids, texts, take ids, verdicts and choices where the
records survive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike, audio_info
from ..durable import atomic_write, fsync_dir, is_partial
from ..errors import AudioFormatError, BankError, StorageError, VoicebankError
from .layout import AUDIO_EXT, CONSENT_DIR, SPOOL_DIR, audio_files, utc_now
from .records import PROMPT_KINDS, TakeRecord, safe_id
from .recovery import qc_advice
from .store import Bank

_DOUBT = (
    "it does not match the checksum the bank recorded, but its audio decodes completely and matches the "
    "FLAC's own checksum: kept, marked unverified (listen to it once)"
)
_KIND_OF_PREFIX = {"s": "script", "m": "message"}
_NOT_COPIED = ("prompts", "takes", "chosen", "flags", "seq", "format", "schema_version", "bank_id",
               "created", "speaker", "script", "language")


@dataclass
class Damaged:
    """A take (or file) that could not be salvaged, and why."""

    path: str
    reason: str
    take_id: str = ""


@dataclass
class SalvageReport:
    """What salvage kept (verified against the bank's checksums, or unverified) and what it could not."""

    source: str
    target: str
    kept: list[str] = field(default_factory=list)  # take ids whose audio matched the recorded sha256
    unverified: list[str] = field(default_factory=list)  # found on disk without a record; decodes fully
    damaged: list[Damaged] = field(default_factory=list)
    records_damage: list[str] = field(default_factory=list)  # what was wrong with the manifest/journal
    doubtful: list[Damaged] = field(default_factory=list)  # kept unverified: checksum differs, audio whole
    unfinished: list[str] = field(default_factory=list)  # files of unsaved recordings copied to .inprogress
    rechosen: list[str] = field(default_factory=list)  # accepted takes chosen again where the choice was lost
    prompts: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["damaged"] = [x.__dict__ for x in self.damaged]
        d["doubtful"] = [x.__dict__ for x in self.doubtful]
        return d


def audio_problem(path: Path) -> str | None:
    """Why a take file does not decode completely (None when every frame does, FLAC's MD5 included)."""
    import soundfile as sf

    try:
        info = audio_info(path)
        with sf.SoundFile(str(path)) as fh:
            data = fh.read(dtype="int32", always_2d=True)
    except (AudioFormatError, RuntimeError, OSError) as exc:  # LibsndfileError is a RuntimeError
        return f"its audio cannot be decoded ({exc})"
    if data.shape[0] != info.frames:
        return f"only {data.shape[0]} of its {info.frames} frames decode"
    if path.suffix == AUDIO_EXT and not _flac_md5_matches(path, data, info.subtype):
        return "its decoded audio does not match the checksum its FLAC encoder stored"
    return None


def _flac_md5_matches(path: Path, data: np.ndarray, subtype: str) -> bool:
    """Compare the decoded samples with the MD5 in the FLAC's STREAMINFO (all zero: not stored)."""
    with open(path, "rb") as fh:
        head = fh.read(42)
    stored = head[26:42]
    if head[:4] != b"fLaC" or len(stored) < 16 or not any(stored):
        return True
    width = {"PCM_16": 2, "PCM_24": 3}.get(subtype)
    if width is None:
        return True  # other widths are not stored by this bank; the frame count was checked
    ints = (data >> (32 - 8 * width)).astype("<i4")
    packed = ints.view(np.uint8).reshape(-1, 4)[:, :width].tobytes()
    return hashlib.md5(packed).digest() == stored


def salvage_bank(broken: PathLike, new: PathLike) -> SalvageReport:
    """Build a new bank at ``new`` from every intact take of ``broken`` (which is never changed)."""
    src_root, dst_root = Path(broken).resolve(), Path(new).resolve()
    if dst_root == src_root or src_root in dst_root.parents:
        raise BankError(f"Salvage into a new folder outside {src_root}; the damaged bank is never written to.")
    with Bank.open(src_root, writable=False, tolerate_damage=True, shared_lock=True) as src:
        meta = src.meta
        report = SalvageReport(str(src_root), str(dst_root), records_damage=list(src.damage))
        with Bank.create(
            dst_root, speaker=str(meta.get("speaker", "")), script=str(meta.get("script") or "en-core"),
            language=str(meta.get("language") or "en"),
        ) as dst:
            for key, value in meta.items():
                if key not in _NOT_COPIED:
                    dst.set_meta(key, value)
            for p in src.prompts.values():
                dst.add_prompt(p.text, kind=p.kind if p.text else "imported", prompt_id=p.id)
            _copy_recorded(src, dst, report)
            _copy_unrecorded(src, dst, report)
            for pid, tid in src.chosen.items():
                if tid in dst.takes:
                    dst.choose(tid)
            if report.records_damage:
                _rechoose(dst, report)
            for pid, flag in src.flags.items():
                if pid in dst.prompts:
                    dst.flag_prompt(pid, flag)
            report.prompts = len(dst.prompts)
            dst.compact()
        _copy_spool(src.root, dst_root, report)
        _copy_consent(src.root, dst_root, report)
    return report


def _copy_consent(src_root: Path, dst_root: Path, report: SalvageReport) -> None:
    """The speaker's consent takes and records, byte for byte (their checks re-hash the take,
    so a damaged one no longer counts as consent in the new bank); hidden caches stay behind."""
    _copy_folder(src_root, dst_root, CONSENT_DIR, report, "a consent file", hidden=False)


def _copy_spool(src_root: Path, dst_root: Path, report: SalvageReport) -> None:
    """Recordings a killed session left unsaved (``.inprogress``), byte for byte: the next
    'voicebank record' on the new bank saves them as takes, as it would have on the old one."""
    report.unfinished += _copy_folder(src_root, dst_root, SPOOL_DIR, report, "an unfinished recording")


def _copy_folder(src_root: Path, dst_root: Path, name: str, report: SalvageReport, what: str, hidden: bool = True) -> list[str]:
    """The files of ``src_root/name`` copied into ``dst_root/name``; an unreadable one is reported as damaged."""
    folder = src_root / name
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    files = [p for p in files if hidden or not p.name.startswith(".")]
    if not files:
        return []
    (dst_root / name).mkdir(exist_ok=True)
    fsync_dir(dst_root)
    copied = []
    for p in files:
        try:
            atomic_write(dst_root / name / p.name, p.read_bytes())
        except OSError as exc:
            if isinstance(exc, StorageError):
                raise
            report.damaged.append(Damaged(str(p), f"{what} that cannot be read ({exc.strerror or exc})"))
            continue
        copied.append(p.name)
    return copied


def _copy_recorded(src: Bank, dst: Bank, report: SalvageReport) -> None:
    """Takes with a surviving record: kept when their bytes still match its sha256."""
    for take in sorted(src.takes.values(), key=lambda t: t.id):
        path = src.root / take.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            report.damaged.append(Damaged(str(path), "the file is missing", take.id))
            continue
        except OSError as exc:
            report.damaged.append(Damaged(str(path), f"the file cannot be read ({exc.strerror or exc})", take.id))
            continue
        verified = hashlib.sha256(data).hexdigest() == take.sha256
        if not verified:
            why = audio_problem(path)
            if why:
                report.damaged.append(
                    Damaged(str(path), f"it does not match the checksum the bank recorded and {why}", take.id)
                )
                continue
            report.doubtful.append(Damaged(str(path), _DOUBT, take.id))  # its audio is whole: a record or header bit
        _ensure_prompt(dst, take.prompt_id, take.text, src)
        dst.store_take_bytes(replace(take, unverified=True) if not verified else take, data)
        (report.kept if verified else report.unverified).append(take.id)


def _copy_unrecorded(src: Bank, dst: Bank, report: SalvageReport) -> None:
    """Take files no surviving record accounts for: kept, marked unverified, when they decode fully."""
    known = {t.file for t in src.takes.values()}
    for path in audio_files(src.root):
        rel = path.relative_to(src.root).as_posix()
        if rel in known or is_partial(path.name):
            continue
        parts = Path(rel).parts
        tid = path.stem
        pid = parts[1] if len(parts) == 3 and tid.startswith(parts[1] + ".t") else ""
        if not pid or path.suffix != AUDIO_EXT or safe_id(tid) != tid or tid in dst.takes:
            report.damaged.append(Damaged(str(path), "not a take file of this bank (unexpected name or place)"))
            continue
        why = audio_problem(path)
        if why:
            report.damaged.append(Damaged(str(path), f"its record is lost and {why}", tid))
            continue
        info = audio_info(path)
        prompt = src.prompts.get(pid)
        text = prompt.text if prompt else _script_text(src, pid)
        _ensure_prompt(dst, pid, text, src)
        rec = TakeRecord(
            id=tid, prompt_id=pid, text=dst.prompts[pid].text, file=rel, sha256="",
            sample_rate=info.sample_rate, channels=info.channels, subtype=info.subtype, frames=info.frames,
            recorded_at=utc_now(), status="pending", unverified=True, qc=qc_advice(path, dst.prompts[pid].text),
        )
        dst.store_take_bytes(rec, path.read_bytes())
        report.unverified.append(tid)


def _rechoose(dst: Bank, report: SalvageReport) -> None:
    """Where damaged records lost a prompt's choice, choose again: its latest accepted take, else its
    latest unverified take that passed QC (still marked unverified, for the person to listen to)."""
    for pid in dst.prompts:
        if pid in dst.chosen:
            continue
        takes = dst.takes_for(pid)
        pick = [t for t in takes if t.status == "accepted"] or [
            t for t in takes if t.unverified and t.status != "rejected" and t.qc_verdict in ("pass", "warn")
        ]
        if pick:
            dst.choose(pick[-1].id)
            report.rechosen.append(pick[-1].id)


def _ensure_prompt(dst: Bank, pid: str, text: str, src: Bank) -> None:
    """The take's prompt in the new bank: its surviving record, else rebuilt from the take's text or the script."""
    if pid in dst.prompts:
        return
    kind = _KIND_OF_PREFIX.get(pid[:1], "imported") if pid[1:].isdigit() else "imported"
    text = text or _script_text(src, pid)
    if not text or kind not in PROMPT_KINDS:
        kind = "imported"  # untranscribed: 'voicebank bank transcribe' gives it its words
    dst.add_prompt(text, kind=kind, prompt_id=pid)


def _script_text(src: Bank, pid: str) -> str:
    """A script prompt's text from the shipped script the bank was recorded from ('' when unknown)."""
    from .prompts import load_script

    name = str(src.meta.get("script") or "")
    if not pid.startswith("s") or not name or name == "imported":
        return ""
    try:
        return next((p.text for p in load_script(name) if p.id == pid), "")
    except VoicebankError:  # an unknown or unreadable script: the take stays untranscribed
        return ""
