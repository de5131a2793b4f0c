"""The recorder's banks on the server: which banks are offered, each one's open sessions and lock, and the state the page shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio

from ..bank.prompts import list_scripts, load_script
from ..bank.qc import QCReport
from ..bank.qc_advice import problems
from ..bank.records import TakeRecord
from ..bank.store import MANIFEST, Bank
from ..config import data_home
from ..errors import BankError, BankLockedError, RequestError, VoicebankError
from ..record.prompt_lists import build_prompts, default_script
from ..record.session import RecordingSession
from .recorder_uploads import storable
from .settings import ServeSettings

MODES = ("script", "messages")
BANK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def in_use(exc: BankError) -> RequestError:
    """A bank the server cannot open for recording: held by another program, or damaged."""
    code = "bank_in_use" if isinstance(exc, BankLockedError) else "bank_unavailable"
    return RequestError(str(exc), status=409, code=code)


class BankSlot:
    """One offered bank: opened for writing on first use and held, with its lock, until the server stops.

    ``lock`` makes the requests of two tabs on one bank take turns; everything that reads or
    changes the bank runs in a worker thread while it is held.
    """

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.lock = anyio.Lock()
        self.bank: Bank | None = None
        self.sessions: dict[str, RecordingSession] = {}

    def session(self, mode: str) -> RecordingSession:
        """The recording session of ``mode`` (the bank is opened, and spooled captures recovered, the first time)."""
        if mode not in MODES:
            raise RequestError(f"'mode' must be one of {', '.join(MODES)}, not {mode!r}.", param="mode")
        bank = self.opened()
        found = self.sessions.get(mode)
        if found is None:
            prompts, script = build_prompts(bank, script=None, messages=mode == "messages")
            found = self.sessions[mode] = RecordingSession(bank, prompts, script=script)
            if len(self.sessions) == 1:
                found.recover_spools()  # what a killed terminal recorder left
        return found

    def opened(self) -> Bank:
        """The bank, opened for writing (its lock taken) if it is not yet."""
        if self.bank is None:
            try:
                self.bank = Bank.open(self.path)
            except BankError as exc:
                raise in_use(exc) from exc
        return self.bank

    def open_sessions(self) -> list[tuple[str, RecordingSession]]:
        return list(self.sessions.items())

    def close(self) -> None:
        """Release the bank (and its lock): the terminal recorder may open it now."""
        self.sessions.clear()
        if self.bank is not None:
            self.bank.close()
            self.bank = None


class RecorderBanks:
    """The banks the recorder offers: each folder in ``banks_dir`` that is a bank, and each ``--bank``."""

    def __init__(self, settings: ServeSettings) -> None:
        self.folder = settings.banks_dir or data_home() / "banks"
        self.extra = settings.banks
        self._slots: dict[str, BankSlot] = {}

    def offered(self) -> dict[str, Path]:
        """Name (the folder's name) → folder of every bank offered now."""
        out: dict[str, Path] = {}
        if self.folder.is_dir():
            for p in sorted(self.folder.iterdir()):
                if (p / MANIFEST).is_file():
                    out[p.name] = p
        for p in self.extra:
            out[p.name] = p  # a bank named on the command line wins over a folder of the same name
        return out

    def slot(self, name: str) -> BankSlot:
        """The bank called ``name``; 404 when the server does not offer it (no path from a client reaches the disk)."""
        found = self._slots.get(name)
        if found is None:
            path = self.offered().get(name)
            if path is None:
                raise RequestError(f"This server offers no bank called {name!r}.", status=404, param="bank", code="no_bank")
            found = self._slots[name] = BankSlot(name, path)
        return found

    def create(self, name: str, speaker: str, script: str) -> Path:
        """A new, empty bank in ``banks_dir``; 409 when one of that name exists."""
        if not isinstance(name, str) or not BANK_NAME.fullmatch(name):
            raise RequestError("'name' must be 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit.",
                               param="name")
        if not isinstance(speaker, str) or len(speaker) > 200 or not storable(speaker):
            raise RequestError("'speaker' must be a name of at most 200 characters.", param="speaker")
        scripts = list_scripts()
        if script not in scripts:
            raise RequestError(f"'script' must be one of {', '.join(scripts)}; got {script!r}.", param="script")
        path = self.folder / name
        if name in self.offered() or path.exists():
            raise RequestError(f"A bank called {name!r} exists already.", status=409, param="name", code="bank_exists")
        try:
            Bank.create(path, speaker=speaker.strip(), script=script).close()
        except BankError as exc:  # made by another request a moment ago
            raise RequestError(str(exc), status=409, param="name", code="bank_exists") from exc
        return path

    @staticmethod
    def summary(slot: BankSlot) -> dict[str, Any]:
        """One line of the bank list (call with the slot's lock held); a bank that cannot be read says why."""
        try:
            if slot.bank is not None:
                return _summary(slot.name, slot.bank)
            with Bank.open(slot.path, writable=False) as bank:  # read-only: no lock, a terminal recorder may hold it
                return _summary(slot.name, bank)
        except VoicebankError as exc:
            return {"name": slot.name, "error": str(exc)}

    async def close(self) -> None:
        """Release every bank (the server stops)."""
        for slot in list(self._slots.values()):
            async with slot.lock:
                await anyio.to_thread.run_sync(slot.close)


def _summary(name: str, bank: Bank) -> dict[str, Any]:
    script = default_script(bank)
    ids = {p.id for p in load_script(script)}
    done = sum(1 for pid in bank.chosen if pid in ids and bank.prompts.get(pid) is not None)
    return {"name": name, "speaker": str(bank.meta.get("speaker", "")), "script": script,
            "takes": len(bank.takes), "prompts_done": done, "prompts_total": len(ids)}


def state_json(bank: str, mode: str, session: RecordingSession) -> dict[str, Any]:
    """What the page shows: the prompt, its take, progress, a break reminder (docs/recorder-api.md)."""
    p = session.current
    prompt = take = None
    if p is not None:
        chosen = session.chosen_take(p)
        prompt = {"id": p.id, "text": p.text, "kind": p.kind, "position": session.position(p),
                  "total": len(session.prompts), "flag": session.flag_of(p), "takes": len(session.takes_of(p)),
                  "chosen": chosen is not None}
        shown = session.take.take if session.take is not None else chosen
        take = take_json(bank, shown, session) if shown is not None else None
    pr = session.progress()
    progress = {"done": pr.done, "total": pr.total, "minutes": round(pr.speech_minutes, 2),
                "coverage": None if pr.coverage is None else round(pr.coverage, 4),
                "later": pr.later, "skipped": pr.skipped, "next_goal": pr.next_goal}
    return {"bank": bank, "mode": mode, "prompt": prompt, "take": take, "progress": progress,
            "break_due": pr.break_due, "finished": p is None}


def take_json(bank: str, take: TakeRecord, session: RecordingSession) -> dict[str, Any]:
    """A take as the page shows it: its verdict and, for each problem, the one thing to do."""
    report = QCReport.from_dict(take.qc) if take.qc.get("checks") else None
    found = problems(report, session.thresholds) if report is not None else []
    return {"id": take.id, "prompt_id": take.prompt_id, "verdict": take.qc_verdict, "problems": found,
            "seconds": round(take.duration, 3), "status": take.status,
            "chosen": session.bank.chosen.get(take.prompt_id) == take.id,
            "url": f"/v1/record/banks/{bank}/takes/{take.id}.wav"}
