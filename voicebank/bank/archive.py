"""Export a bank to one archive file and import it back, bit for bit.

The archive is an uncompressed tar (FLAC is already compressed) whose first member,
``voicebank-export.json``, lists every file with its size and sha256. Import checks
every byte against that list before the bank appears at its destination, so a damaged
or cut-off archive never produces a half bank.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from ..audio import PathLike
from ..errors import BankCorruptError, BankError, IntegrityError
from ..durable import atomic_output, fsync_dir, move, storage_error
from .layout import CONSENT_DIR, need_room
from .store import JOURNAL, LOST_DIR, MANIFEST, TAKES_DIR, Bank, sha256_file

INDEX = "voicebank-export.json"
ARCHIVE_FORMAT = "voicebank-export"
ARCHIVE_VERSION = 1


def _bank_files(root: Path) -> list[str]:
    rels = [MANIFEST, JOURNAL]
    for sub in (TAKES_DIR, LOST_DIR, CONSENT_DIR):  # consent travels with the bank; hidden caches do not
        base = root / sub
        if base.exists():
            rels += sorted(
                p.relative_to(root).as_posix()
                for p in base.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts)
            )
    return rels


def export_bank(bank_path: PathLike, archive: PathLike) -> dict[str, Any]:
    """Write the bank (manifest, journal, every take) and a checksum list into ``archive``.

    Reads the bank without changing it: a shared lock keeps recorders out while it is
    read (none is needed on read-only media), so a bank on a backup disk or a mounted
    image can be exported. A damaged bank is packed as it is, every byte, and the index
    lists its damage (``damage``) so nothing more is lost; the archive is written to a
    temp name and renamed, so a failed export leaves nothing. Returns the index stored
    (with ``lock_note`` when no lock could be taken).
    """
    out = Path(archive)
    with Bank.open(bank_path, writable=False, tolerate_damage=True, shared_lock=True) as bank:
        report = bank.verify()
        root = bank.root
        files = []
        for rel in _bank_files(root):
            p = root / rel
            if p.is_file():
                files.append({"path": rel, "size": p.stat().st_size, "sha256": sha256_file(p)})
        damage = list(report.damage)
        damage += [f"take {t} is missing" for t in report.missing]
        damage += [f"take {t} does not match its checksum" for t in report.corrupt]
        index = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "bank_id": bank.meta.get("bank_id"),
            "speaker": bank.meta.get("speaker", ""),
            "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "takes": len(bank.takes),
            "files": files,
            "damage": damage,
        }
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, out.parent, action="create", what="the archive's folder") from exc
        need_room(out.parent, _archive_size(files), "the export")
        with atomic_output(out) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(index, indent=1).encode("utf-8")
            ti = tarfile.TarInfo(INDEX)
            ti.size = len(data)
            ti.mtime = int(datetime.now(timezone.utc).timestamp())
            tar.addfile(ti, io.BytesIO(data))
            for f in files:
                tar.add(str(root / f["path"]), arcname=f["path"], recursive=False)
        return dict(index, lock_note=bank.lock_note)


def _archive_size(files: list[dict[str, Any]]) -> int:
    """Bytes the tar will take: each file rounded up to 512-byte blocks, with a header or two each."""
    return sum(-(-f["size"] // 512) * 512 + 1536 for f in files) + 20 * 512


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and name not in ("", ".")


def import_bank(archive: PathLike, dest: PathLike) -> Bank:
    """Recreate a bank from an export archive at ``dest`` (which must not exist or be empty)."""
    src = Path(archive)
    target = Path(dest)
    if not src.is_file():
        raise BankError(f"{src} does not exist or is not a file.")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BankError(f"{target} already exists and is not empty; choose a new folder to import into.")
    try:
        tar = tarfile.open(src, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise BankCorruptError(f"{src} is not a voicebank export archive ({exc}).") from exc
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.importing-", dir=target.parent))
    except OSError as exc:
        raise storage_error(exc, target, action="create", what="the bank folder") from exc
    try:
        with tar:
            index = _read_index(tar, src)
            need_room(target.parent, sum(int(f.get("size", 0)) for f in index["files"]), "the imported bank")
            try:
                _extract(tar, src, staging, {f["path"]: f for f in index["files"]})
            except OSError as exc:
                raise storage_error(exc, target, what="the imported bank", after="Nothing was imported.") from exc
        damaged = bool(index.get("damage"))  # an export of a damaged bank comes back as it was, to salvage
        with Bank.open(staging, writable=False, tolerate_damage=damaged) as check:
            report = check.verify()
            if not report.ok and not damaged:
                raise IntegrityError(f"The imported bank does not verify: {report.to_dict()}")
        for folder in [staging, *(d for d in staging.rglob("*") if d.is_dir())]:
            fsync_dir(folder)  # every file's name, not only its bytes, must be on disk before the bank appears
        if target.exists():
            target.rmdir()
        move(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bank.open(target, writable=False, tolerate_damage=damaged)


def _extract(tar: tarfile.TarFile, src: Path, staging: Path, wanted: dict[str, dict[str, Any]]) -> None:
    """Every listed file into ``staging``, each checked against its sha256 as it is written and fsynced."""
    seen: set[str] = set()
    for member in tar:
        if member.name == INDEX:
            continue
        if not member.isfile() or not _safe_member(member.name) or member.name not in wanted:
            raise BankCorruptError(f"{src} holds an unexpected entry {member.name!r}; refusing to import it.")
        dest_file = staging / member.name
        dest_file.parent.mkdir(parents=True, exist_ok=True)
        fh_in = tar.extractfile(member)
        if fh_in is None:
            raise BankCorruptError(f"{src}: cannot read {member.name}.")
        h = hashlib.sha256()
        with open(dest_file, "wb") as fh_out:
            for block in iter(lambda: fh_in.read(1 << 20), b""):
                h.update(block)
                fh_out.write(block)
            fh_out.flush()
            os.fsync(fh_out.fileno())
        if h.hexdigest() != wanted[member.name]["sha256"]:
            raise IntegrityError(f"{member.name} in {src} does not match its checksum; the archive is damaged.")
        seen.add(member.name)
    missing = sorted(set(wanted) - seen)
    if missing:
        raise IntegrityError(f"{src} is incomplete: {len(missing)} files are missing (first: {missing[0]}).")


def _read_index(tar: tarfile.TarFile, src: Path) -> dict[str, Any]:
    try:
        member = tar.next()
    except tarfile.TarError as exc:
        raise BankCorruptError(f"{src} is damaged ({exc}).") from exc
    if member is None or member.name != INDEX:
        raise BankCorruptError(f"{src} is not a voicebank export (it does not start with {INDEX}).")
    fh = tar.extractfile(member)
    try:
        index = json.loads(fh.read().decode("utf-8")) if fh else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BankCorruptError(f"{src}: its checksum list is damaged ({exc}).") from exc
    if not isinstance(index, dict) or index.get("format") != ARCHIVE_FORMAT:
        raise BankCorruptError(f"{src} is not a voicebank export.")
    if int(index.get("version", 0)) > ARCHIVE_VERSION:
        raise BankCorruptError(f"{src} was written by a newer voicebank; update voicebank to import it.")
    return index
