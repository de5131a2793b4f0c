"""A recording session: which prompt comes next and what happens to each take.

No sound and no screen here: the terminal recorder (``tui``) and any other front end
(a web page, a test) drive a :class:`RecordingSession` with the audio they captured.

Rules, in the words a helper would use:

* The session resumes at the first prompt that has no chosen take. Prompts marked
  *skipped* are passed over; prompts marked *later* come back once everything else is
  done.
* Every take is saved to the bank the moment recording stops, as *pending* with its
  quality report, so nothing depends on the next key press. *Accept* marks it accepted
  and chosen; *redo* keeps it (pending, not chosen) and records again.
* Progress counts prompts with a chosen take, minutes in chosen takes and the diphone
  coverage those prompts reach; a break is suggested every ``break_minutes`` (clinical
  advice: short sessions of 20-30 minutes). A pause of ``rest_minutes`` or more counts
  as a break.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..bank.prompts import CHECKPOINTS, Prompt, coverage_of
from ..bank.qc import Check, QCReport, QCThresholds, SpeakerBaseline, analyze
from ..bank.records import TakeRecord
from ..bank.recovery import quarantine
from ..bank.store import Bank, utc_now
from ..errors import AudioFormatError, CorruptFileError, UsageError
from . import spool as spool_mod
from .prompt_lists import SessionPrompt, build_prompts, default_script, message_prompts, normalized  # noqa: F401  (callers import them from here)

SOURCE_MICROPHONE = "microphone"
SOURCE_RECOVERED = "recovered-capture"
DEFAULT_BREAK_MINUTES = 20.0
DEFAULT_REST_MINUTES = 5.0


@dataclass(frozen=True)
class SavedTake:
    """A take that is safe in the bank, with what the quality checks said about it."""

    take: TakeRecord
    report: QCReport | None  # None when the checks could not run (the audio is kept anyway)

    @property
    def verdict(self) -> str:
        return self.report.verdict if self.report is not None else "unknown"

    @property
    def problems(self) -> list[Check]:
        return self.report.problems() if self.report is not None else []


@dataclass(frozen=True)
class Progress:
    """What the person has achieved so far, for the progress line."""

    done: int  # prompts of this session's list with a chosen take
    total: int  # prompts in this session's list
    speech_minutes: float  # length of every chosen take in the bank
    coverage: float | None  # diphone coverage (0..1) of the chosen script prompts; None for messages
    session_seconds: float
    break_due: bool
    later: int  # prompts marked for later, not yet recorded
    skipped: int
    next_goal: int | None  # next milestone (50, 150, 300, 1000 prompts) not reached yet


@dataclass
class _Clock:
    started: float
    break_from: float
    last_activity: float


class RecordingSession:
    """The order of prompts and the fate of each take, over one writable bank.

    Responsible for: resuming, skip / later / back / next, saving every take at once
    (pending, with QC), accept and redo, progress and break reminders, and turning
    spooled captures of a killed session back into takes. Not responsible for the
    microphone (:mod:`voicebank.record.capture`) or for showing anything
    (:mod:`voicebank.record.tui`).
    """

    def __init__(
        self,
        bank: Bank,
        prompts: Sequence[Prompt | SessionPrompt],
        *,
        script: str | None = None,
        break_minutes: float = DEFAULT_BREAK_MINUTES,
        rest_minutes: float = DEFAULT_REST_MINUTES,
        thresholds: QCThresholds = QCThresholds(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not bank.writable:
            raise UsageError("A recording session needs the bank opened for writing.")
        if not prompts:
            raise UsageError("There is nothing to record: the prompt list is empty.")
        self.bank = bank
        self.prompts = [p if isinstance(p, SessionPrompt) else SessionPrompt.from_prompt(p) for p in prompts]
        self._pos = {p.id: i for i, p in enumerate(self.prompts)}
        if len(self._pos) != len(self.prompts):
            raise UsageError("The prompt list holds the same id twice.")
        self.script = script
        self.break_s = max(0.0, float(break_minutes)) * 60.0
        self.rest_s = max(0.0, float(rest_minutes)) * 60.0
        self.thresholds = thresholds
        self._clock = clock
        now = clock()
        self._time = _Clock(now, now, now)
        self._bank_ids = self._map_to_bank()
        self._history: list[str] = []
        self._detector: Any = None
        self._coverage_cache: tuple[int, float | None] = (-1, None)
        self.take: SavedTake | None = None  # the take just recorded for the current prompt
        self.saved: list[SavedTake] = []  # every take saved during this session
        self.accepted = 0
        self.current: SessionPrompt | None = self.next_prompt()
        self._resume_take()

    def _resume_take(self) -> None:
        """A session that resumes where a take was saved but not yet kept (the recorder or server stopped
        in between) offers that take again, to keep or record again."""
        if self.current is None or self.chosen_take(self.current) is not None:
            return
        takes = self.takes_of(self.current)
        if takes and takes[-1].status == "pending":
            self.adopt_take(takes[-1])

    # ------------------------------------------------------------ prompt state
    def _map_to_bank(self) -> dict[str, str | None]:
        """Which bank prompt each session prompt is (None: not in the bank yet)."""
        by_text = {(p.kind, normalized(p.text)): p.id for p in self.bank.prompts.values()}
        out: dict[str, str | None] = {}
        for p in self.prompts:
            rec = self.bank.prompts.get(p.id)
            if rec is not None and rec.text == normalized(p.text):
                out[p.id] = p.id
            else:
                out[p.id] = by_text.get((p.kind, normalized(p.text)))
        return out

    def bank_id(self, prompt: SessionPrompt) -> str | None:
        """The bank's id of this prompt, or None while it has never been recorded."""
        return self._bank_ids.get(prompt.id)

    def _ensure_in_bank(self, prompt: SessionPrompt) -> str:
        bid = self._bank_ids.get(prompt.id)
        if bid is None:
            free = prompt.id not in self.bank.prompts
            rec = self.bank.add_prompt(prompt.text, kind=prompt.kind, prompt_id=prompt.id if free else None)
            bid = self._bank_ids[prompt.id] = rec.id
        return bid

    def prompt(self, prompt_id: str) -> SessionPrompt:
        """The session prompt with this id."""
        try:
            return self.prompts[self._pos[prompt_id]]
        except KeyError:
            raise UsageError(f"There is no prompt {prompt_id!r} in this session.") from None

    def position(self, prompt: SessionPrompt) -> int:
        """1-based place of the prompt in the list (what the screen shows)."""
        return self._pos[prompt.id] + 1

    def chosen_take(self, prompt: SessionPrompt) -> TakeRecord | None:
        bid = self.bank_id(prompt)
        return self.bank.chosen_take(bid) if bid else None

    def takes_of(self, prompt: SessionPrompt) -> list[TakeRecord]:
        bid = self.bank_id(prompt)
        return self.bank.takes_for(bid) if bid else []

    def flag_of(self, prompt: SessionPrompt) -> str | None:
        bid = self.bank_id(prompt)
        return self.bank.flags.get(bid) if bid else None

    def is_done(self, prompt: SessionPrompt) -> bool:
        return self.chosen_take(prompt) is not None

    def next_prompt(self, after: str | None = None) -> SessionPrompt | None:
        """The prompt to record next, looking onwards from ``after`` (from the top when None).

        First the prompts with no chosen take and no mark, in list order (wrapping round
        to the top), then those marked *later*; None when nothing is left.
        """
        start = self._pos[after] + 1 if after is not None else 0
        n = len(self.prompts)
        order = [self.prompts[(start + k) % n] for k in range(n)]
        for wanted in (None, "later"):
            for p in order:
                if not self.is_done(p) and self.flag_of(p) == wanted:
                    return p
        return None

    # --------------------------------------------------------------- navigation
    def _go(self, prompt: SessionPrompt | None, *, remember: bool = True) -> SessionPrompt | None:
        if remember and self.current is not None and (prompt is None or prompt.id != self.current.id):
            self._history.append(self.current.id)
        self.current = prompt
        self.take = None
        return prompt

    def _advance(self) -> SessionPrompt | None:
        after = self.current.id if self.current is not None else None
        return self._go(self.next_prompt(after))

    def _require_current(self) -> SessionPrompt:
        if self.current is None:
            raise UsageError("Every prompt is recorded: there is nothing to do here.")
        return self.current

    def accept(self) -> SessionPrompt | None:
        """Keep the take just recorded (accepted + chosen) and move to the next prompt.

        On a prompt that already has a chosen take and no new one, this just moves on.
        """
        prompt = self._require_current()
        self.note_activity()
        if self.take is not None:
            tid = self.take.take.id
            self.bank.set_status(tid, "accepted")
            self.bank.choose(tid)
            self.accepted += 1
            bid = self.bank_id(prompt)
            if bid and self.bank.flags.get(bid):
                self.bank.flag_prompt(bid, None)
        elif not self.is_done(prompt):
            raise UsageError("Nothing is recorded for this prompt yet: record it first.")
        return self._advance()

    def redo(self) -> TakeRecord | None:
        """Set the take just recorded aside (kept, pending, not chosen) to record again."""
        self._require_current()
        self.note_activity()
        old = self.take.take if self.take is not None else None
        self.take = None
        return old

    def skip(self) -> SessionPrompt | None:
        """Mark the prompt skipped (it will not come back by itself) and move on."""
        return self._mark("skipped")

    def later(self) -> SessionPrompt | None:
        """Mark the prompt for later (it comes back when everything else is done) and move on."""
        return self._mark("later")

    def _mark(self, flag: str) -> SessionPrompt | None:
        prompt = self._require_current()
        self.note_activity()
        bid = self._ensure_in_bank(prompt)
        if not self.is_done(prompt) and self.bank.flags.get(bid) != flag:
            self.bank.flag_prompt(bid, flag)
        return self._advance()

    def next(self) -> SessionPrompt | None:
        """Move on without changing anything (the prompt stays as it is)."""
        self._require_current()
        self.note_activity()
        return self._advance()

    def back(self) -> SessionPrompt | None:
        """Go back to the prompt shown before this one (or the one above it in the list).

        Returns the prompt now shown, or None when there is nothing before.
        """
        self.note_activity()
        while self._history:
            pid = self._history.pop()
            if pid in self._pos and (self.current is None or pid != self.current.id):
                return self._go(self.prompt(pid), remember=False)
        if self.current is None:
            last = self.prompts[-1]
            return self._go(last, remember=False)
        i = self._pos[self.current.id]
        if i == 0:
            return None
        return self._go(self.prompts[i - 1], remember=False)

    # ------------------------------------------------------------------ takes
    def _analyze(self, samples: np.ndarray, rate: int, text: str) -> QCReport | None:
        try:
            if self._detector is None:
                from ..bank.vad import SpeechDetector

                self._detector = SpeechDetector()
            baseline = SpeakerBaseline.from_measures(self.bank.qc_measures())
            return analyze(samples, rate, text=text, baseline=baseline, thresholds=self.thresholds,
                           detector=self._detector)
        except Exception:  # QC is advice: a take is saved even when the checks cannot run
            return None

    def save_capture(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        prompt_id: str | None = None,
        capture_id: str = "",
        recorded_at: str | None = None,
        source: str = SOURCE_MICROPHONE,
        capture: dict[str, Any] | None = None,
    ) -> SavedTake:
        """Check and store a take of ``prompt_id`` (default: the current prompt) as pending.

        Returns only once the take is durable in the bank. When it belongs to the current
        prompt it becomes the take that :meth:`accept` keeps. ``capture`` (how a browser
        captured it) is kept in the take's record.
        """
        prompt = self.prompt(prompt_id) if prompt_id is not None else self._require_current()
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.shape[0] == 0:
            raise AudioFormatError("Nothing was recorded (the take is empty); check the microphone.")
        self.note_activity()
        report = self._analyze(x, int(sample_rate), prompt.text)
        bid = self._ensure_in_bank(prompt)
        rec = self.bank.save_take(
            bid,
            x,
            int(sample_rate),
            subtype="PCM_24",
            qc=report.to_dict() if report is not None else {},
            status="pending",
            source=f"{source}:{capture_id}" if capture_id else source,
            recorded_at=recorded_at,
            recovered=source == SOURCE_RECOVERED,
            capture=capture,
        )
        saved = SavedTake(rec, report)
        self.saved.append(saved)
        if self.current is not None and prompt.id == self.current.id:
            self.take = saved
        return saved

    def take_from(self, source: str, capture_id: str) -> TakeRecord | None:
        """The take saved from capture ``capture_id`` of ``source`` (a retried upload finds its take), if any."""
        wanted = f"{source}:{capture_id}"
        return next((t for t in self.bank.takes.values() if t.source == wanted), None)

    def adopt_take(self, take: TakeRecord) -> SavedTake:
        """A take already in the bank (a retried upload) becomes the one :meth:`accept` keeps, if it is of the current prompt."""
        saved = SavedTake(take, QCReport.from_dict(take.qc) if take.qc.get("checks") else None)
        current = self.bank_id(self.current) if self.current is not None else None
        if current is not None and take.prompt_id == current and take.id not in self.bank.chosen.values():
            self.take = saved
        return saved

    def review_take(self) -> TakeRecord | None:
        """The take to play back for the current prompt: the new one, else the chosen one."""
        if self.take is not None:
            return self.take.take
        return self.chosen_take(self.current) if self.current is not None else None

    def add_message(self, text: str) -> SessionPrompt:
        """A message the person typed: kept in the bank as a message prompt and shown now to record.

        A message already in the list (same words) is shown instead of a second copy.
        """
        words = normalized(text)
        if not words:
            raise UsageError("Type the message to record first.")
        prompt = next((p for p in self.prompts if p.kind == "message" and normalized(p.text) == words), None)
        if prompt is None:
            n = 1 + sum(1 for p in self.prompts if p.kind == "message")
            while f"m{n:04d}" in self._pos or f"m{n:04d}" in self.bank.prompts:
                n += 1
            rec = self.bank.add_prompt(words, kind="message", prompt_id=f"m{n:04d}")
            prompt = SessionPrompt(rec.id, rec.text, "message")
            self.prompts.append(prompt)
            self._pos[prompt.id] = len(self.prompts) - 1
            self._bank_ids[prompt.id] = rec.id
        self.note_activity()
        self._go(prompt)
        return prompt

    # --------------------------------------------------------------- recovery
    def recover_spools(self) -> list[SavedTake]:
        """Save captures that a killed session left in the spool as pending takes.

        Each becomes a take of the prompt it was recorded for, with source
        ``recovered-capture:<capture id>``; the spool files go once the take is safe.
        A capture already in the bank (killed after saving, before cleaning up) is only
        cleaned up. Unreadable spools are moved to the bank's ``lost+found``.
        """
        folder = spool_mod.spool_dir(self.bank.root)
        out: list[SavedTake] = []
        for meta in spool_mod.list_spools(folder):
            try:
                info, samples = spool_mod.read_spool(meta)
            except CorruptFileError:
                self._quarantine(meta)
                continue
            if any(t.source.endswith(f":{info.capture_id}") for t in self.bank.takes.values()):
                spool_mod.discard_spool(meta)
                continue
            if samples.shape[0] == 0:
                spool_mod.discard_spool(meta)
                continue
            prompt = self._prompt_for_spool(info)
            saved = self.save_capture(
                samples, info.sample_rate, prompt_id=prompt.id, capture_id=info.capture_id,
                recorded_at=info.started_at or utc_now(), source=SOURCE_RECOVERED,
            )
            spool_mod.discard_spool(meta)
            out.append(saved)
        return out

    def _prompt_for_spool(self, info: spool_mod.SpoolInfo) -> SessionPrompt:
        """The session prompt a spooled capture belongs to (added to the list if it is not in it)."""
        text = normalized(info.prompt_text)
        for p in self.prompts:
            if p.id == info.prompt_id and normalized(p.text) == text:
                return p
        for p in self.prompts:
            if self._bank_ids.get(p.id) == info.prompt_id or (p.kind == info.prompt_kind and normalized(p.text) == text):
                return p
        # Recorded in a session with another list (say, messages): keep it under its own id.
        extra = SessionPrompt(f"{info.prompt_id}", text or info.prompt_id, info.prompt_kind or "script")
        if extra.id in self._pos:
            extra = SessionPrompt(f"{info.prompt_id}-{info.capture_id}", extra.text, extra.kind)
        self.prompts.append(extra)
        self._pos[extra.id] = len(self.prompts) - 1
        rec = self.bank.prompts.get(info.prompt_id)
        self._bank_ids[extra.id] = info.prompt_id if rec is not None and rec.text == extra.text else None
        return extra

    def _quarantine(self, meta: Path) -> None:
        for p in (meta.with_suffix(".wav"), meta):
            if p.exists():
                quarantine(self.bank.root, p, f"spool-{p.name}")

    # --------------------------------------------------------------- progress
    def now(self) -> float:
        return self._clock()

    def note_activity(self) -> None:
        """Called on every action; a long enough pause before it counts as a break."""
        now = self._clock()
        if self.rest_s and now - self._time.last_activity >= self.rest_s:
            self._time.break_from = now
        self._time.last_activity = now

    def break_due(self) -> bool:
        """True once ``break_minutes`` have passed since the session start or the last break."""
        return bool(self.break_s) and self._clock() - self._time.break_from >= self.break_s

    def acknowledge_break(self) -> None:
        """The person saw the suggestion (or took the break): remind again after another period."""
        self._time.break_from = self._clock()

    def session_seconds(self) -> float:
        return self._clock() - self._time.started

    def coverage(self) -> float | None:
        """Diphone coverage of the chosen script prompts (None without a script)."""
        if not self.script:
            return None
        if self._coverage_cache[0] == self.bank.seq:
            return self._coverage_cache[1]
        ids = [p.id for p in self.prompts if p.kind == "script" and self.is_done(p)]
        value = coverage_of(ids, script=self.script)
        self._coverage_cache = (self.bank.seq, value)
        return value

    def progress(self) -> Progress:
        done = sum(1 for p in self.prompts if self.is_done(p))
        seconds = sum(self.bank.takes[t].duration for t in self.bank.chosen.values() if t in self.bank.takes)
        flags = [self.flag_of(p) for p in self.prompts if not self.is_done(p)]
        total = len(self.prompts)
        goal = next((c for c in CHECKPOINTS if c > done and c <= total), None)
        return Progress(
            done=done,
            total=total,
            speech_minutes=seconds / 60.0,
            coverage=self.coverage(),
            session_seconds=self.session_seconds(),
            break_due=self.break_due(),
            later=flags.count("later"),
            skipped=flags.count("skipped"),
            next_goal=goal,
        )

