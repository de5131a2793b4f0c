"""Finishing or undoing what a crash interrupted: temp files removed, whole takes adopted, strays kept in lost+found."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..audio import audio_info
from ..durable import atomic_write, fsync_dir, is_partial, move
from ..errors import AudioFormatError
from .layout import AUDIO_EXT, LOST_DIR, audio_files, sha256_file, utc_now
from .records import TakeRecord
from .state import BankState
from .takes import read_take_note


def quarantine(root: Path, path: Path, name: str) -> Path:
    """Move ``path`` into the bank's ``lost+found`` as ``name``, durably; nothing there is ever deleted."""
    lost = root / LOST_DIR
    if not lost.is_dir():
        lost.mkdir()
        fsync_dir(root)  # the new folder must survive a power cut along with what moves into it
    target = lost / name
    move(path, target)
    return target


def keep_journal_tail(root: Path, journal_path: Path, good_bytes: int) -> Path | None:
    """Copy the journal's unreadable tail into ``lost+found`` before it is cut off.

    A tail is usually a crash's half-written line, but a last line damaged on the disk looks
    the same; keeping its bytes means cutting it never destroys a record a person could restore.
    """
    tail = journal_path.read_bytes()[good_bytes:]
    if not tail.rstrip(b" \t").endswith(b"\n") or not tail.strip():
        return None  # a line cut off mid-append holds no whole record
    lost = root / LOST_DIR
    if not lost.is_dir():
        lost.mkdir()
        fsync_dir(root)
    n = sum(1 for q in lost.glob("journal-tail-*")) + 1
    target = lost / f"journal-tail-{n:03d}.bin"
    atomic_write(target, tail)
    return target


class BankRecovery(BankState):
    """On a writable open, settles every file under ``takes/`` that no journal entry accounts for.

    A temp file of an interrupted save is removed (it was never reported saved); a whole
    take file that missed its journal line is adopted (re-hashed, re-checked, marked
    ``recovered``); anything else is moved to ``lost+found`` for a person to look at.
    """

    def _recover_files(self) -> None:
        """Finish or undo saves that a crash interrupted (writable open only)."""
        known = {t.file for t in self.takes.values()}
        for p in list(audio_files(self.root)):
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
        info = None
        if prompt is not None and p.suffix == AUDIO_EXT and tid.startswith(pid + ".t") and tid not in self.takes:
            try:
                info = audio_info(p)
            except AudioFormatError:
                info = None
        if info is None or prompt is None:
            quarantine(self.root, p, f"{utc_now().replace(':', '')}-{p.name}")
            return
        note = read_take_note(p)  # where the take came from, kept in its own file
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
            recorded_at=_text(note.get("recorded_at"))
            or datetime.fromtimestamp(p.stat().st_mtime, timezone.utc).isoformat(timespec="milliseconds"),
            status="pending",
            source=_text(note.get("source")),
            recovered=True,
            qc=qc_advice(p, prompt.text),
            capture=note["capture"] if isinstance(note.get("capture"), dict) else {},
        )
        self._commit({"op": "take", "take": rec.to_dict()})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def qc_advice(path: Path, text: str) -> dict[str, Any]:
    """The QC report of an adopted take, or nothing when QC itself fails."""
    try:
        from .qc import check_file

        return check_file(path, text=text).to_dict()
    except Exception:  # QC is advice; adopting the audio matters more
        return {}
