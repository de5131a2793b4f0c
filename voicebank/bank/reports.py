"""What a bank can tell about itself without changing anything: verification, status counts, QC baselines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..durable import is_partial
from .layout import SPOOL_DIR, audio_files, sha256_file
from .records import TAKE_STATUSES
from .state import BankState


@dataclass
class VerifyReport:
    """What ``Bank.verify`` found; ``ok`` when nothing is missing, corrupt or stray."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)  # take ids whose file is gone
    corrupt: list[str] = field(default_factory=list)  # take ids whose sha256 differs
    orphans: list[str] = field(default_factory=list)  # audio files no take refers to
    leftovers: list[str] = field(default_factory=list)  # temp files of interrupted saves
    damage: list[str] = field(default_factory=list)  # damaged records (manifest, journal), read-only opens only

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.orphans or self.damage)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "missing": self.missing,
            "corrupt": self.corrupt,
            "orphans": self.orphans,
            "leftovers": self.leftovers,
            "damage": self.damage,
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
    damage: list[str] = field(default_factory=list)  # damaged records found by a tolerant read-only open

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class BankReports(BankState):
    """Read-only questions about the bank: is every file intact, how far is the recording."""

    def verify(self) -> VerifyReport:
        """Re-hash every take; list missing, corrupt and orphan files."""
        report = VerifyReport(damage=list(self.damage))
        known = {}
        for t in self.takes.values():
            known[t.file] = t
            path = self.root / t.file
            report.checked += 1
            if not path.exists():
                report.missing.append(t.id)
            elif sha256_file(path) != t.sha256:
                report.corrupt.append(t.id)
        for p in audio_files(self.root):
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
        spool = self.root / SPOOL_DIR
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
            unfinished_captures=len(list(spool.glob("*.json"))) if spool.is_dir() else 0,
            damage=list(self.damage),
        )

    def qc_measures(self, *, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
        """QC measurements of the usable takes, for the speaker's running baseline."""
        skip = set(exclude)
        return [
            t.qc.get("measures", {})
            for t in self.takes.values()
            if t.id not in skip and t.status != "rejected" and t.qc_verdict != "fail"
        ]
