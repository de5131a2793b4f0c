"""The terminal recorder: one prompt at a time in large letters, single-key controls.

:func:`run_recorder` opens the bank, recovers what an interrupted session left in the
spool, opens the microphone and runs :class:`RecorderApp` until the person quits, the
terminal is closed (SIGHUP), the process is asked to stop (SIGTERM) or Ctrl-C. In every
one of those cases a take being recorded is finished and saved before the program ends.

The app only turns key presses into calls on the session and the recorder and draws
what they report; the rules live in :mod:`voicebank.record.session`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import StorageError, UsageError, VoicebankError
from ..player import PlaybackStats
from .capture import Capture, CaptureSettings, Player, Recorder
from .screen import RecorderScreen
from .session import Progress, RecordingSession, SavedTake, SessionPrompt, build_prompts
from .space import DEFAULT_SESSION_MINUTES, check_space, require_space
from .spool import spool_dir
from .terminal import EOF, Terminal


@dataclass
class Outcome:
    """How a recording session ended, for the command to report."""

    reason: str  # "quit", "done", "hangup", "terminated", "interrupted", "eof"
    saved: int
    accepted: int
    recovered: int
    progress: Progress
    next_prompt: SessionPrompt | None
    notes: list[str] = field(default_factory=list)
    unsaved: list[str] = field(default_factory=list)  # why each take that could not be stored failed


class _Signals:
    """Turns SIGHUP/SIGTERM/SIGINT/SIGWINCH into flags the main loop reads."""

    NAMES: ClassVar[dict[int, str]] = {
        signal.SIGHUP: "hangup", signal.SIGTERM: "terminated", signal.SIGINT: "interrupted"}

    def __init__(self) -> None:
        self.stop: str | None = None
        self.resized = False
        self._old: dict[int, Any] = {}

    def _on_stop(self, signum: int, frame: Any) -> None:
        self.stop = self.stop or self.NAMES.get(signum, "terminated")

    def _on_winch(self, signum: int, frame: Any) -> None:
        self.resized = True

    @contextmanager
    def installed(self) -> Iterator[_Signals]:
        for sig in self.NAMES:
            self._old[sig] = signal.signal(sig, self._on_stop)
        self._old[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, self._on_winch)
        try:
            yield self
        finally:
            for sig, old in self._old.items():
                signal.signal(sig, old)


class RecorderApp:
    """Keys to session/recorder calls, and the screen. Not the rules (session) nor the sound (capture)."""

    LOW_MINUTES = 5.0  # warn after a take when less recording than this still fits on the disk

    def __init__(self, session: RecordingSession, recorder: Recorder, player: Player, term: Terminal,
                 signals: _Signals, *, bank_name: str = "", notes: list[str] | None = None) -> None:
        self.session = session
        self.recorder = recorder
        self.player = player
        self.term = term
        self.signals = signals
        self.bank_name = bank_name
        self.auto = recorder.settings.mode == "auto"
        self.message = " ".join(notes or [])
        self.message_style = "cyan"
        self.help = False
        self.busy = ""  # "Saving..." while a take is stored
        self.opened_at = time.monotonic()
        self.resume_listening = False
        self.capture_note = ""
        self.exit_reason = "quit"
        self.dirty = True  # something changed: draw at the next turn of the loop
        self._playback: PlaybackStats | None = None  # the take being played, until it ends
        self.unsaved: list[str] = []  # takes the bank could not store (disk full, read-only ...)
        self._screen = RecorderScreen(self)

    # ------------------------------------------------------------- main loop
    def run(self) -> str:
        self._enter_prompt()
        last_draw = 0.0
        while True:
            if self.signals.stop:
                self.exit_reason = self.signals.stop
                break
            for ev in self.recorder.events():
                self._on_event(ev.kind, ev.capture, ev.message)
                self.dirty = True
            self._playback_failed()
            if self.resume_listening and not self.player.playing:
                self.resume_listening = False
                self._listen()
            key = self.term.read_key(0.05)
            if key == EOF:  # the terminal is gone (a hang-up usually also sends SIGHUP)
                self.exit_reason = self.signals.stop or "eof"
                break
            if key is not None and self._on_key(key) == "quit":
                break
            now = time.monotonic()
            live = self.recorder.state != "idle" or self.player.playing
            due = now - last_draw >= (0.1 if live else 1.0)
            if key is not None or self.dirty or self.signals.resized or due:
                self.signals.resized = self.dirty = False
                self.draw()
                last_draw = now
        self.finish()
        return self.exit_reason

    def finish(self) -> None:
        """Stop playback and save a take still being recorded (called on every exit path)."""
        self.player.stop()
        if self.recorder.state == "recording":
            self.busy = "Saving the take..."
            self.draw()
            cap = self.recorder.stop(reason="closing")
            if cap is not None:
                self._save(cap)
        self.recorder.disarm()

    # ---------------------------------------------------------------- events
    def _say(self, text: str, style: str = "cyan") -> None:
        self.message, self.message_style = text, style

    def _on_event(self, kind: str, cap: Capture | None, message: str) -> None:
        if kind == "started":
            self._say("")
        elif kind == "stopped" and cap is not None:
            if cap.reason == "max_length":
                limit = self.recorder.settings.max_take_s
                self._say(f"The take reached {limit:.0f} s and stopped by itself.", "yellow")
            self._save(cap)
        elif kind == "warning":
            self._say(message, "red")

    def _save(self, cap: Capture) -> SavedTake | None:
        self.busy = "Saving the take..."
        self.draw()
        try:
            saved = self.session.save_capture(cap.samples, cap.sample_rate, prompt_id=cap.prompt_id,
                                              capture_id=cap.capture_id, recorded_at=cap.started_at)
        except StorageError as exc:  # the disk is full or read-only: the take is lost unless spooled
            self.unsaved.append(str(exc))
            kept = (f"It is kept in {cap.spool_meta.parent} and will be recovered next time."
                    if not cap.spool_failed else "Record it again once there is space (press SPACE).")
            self._say(f"{exc} {kept}", "red")
            return None
        except VoicebankError as exc:
            if cap.samples.shape[0] == 0:
                cap.discard_spool()
            self._say(f"{exc}", "red")
            return None
        except OSError as exc:
            self.unsaved.append(str(exc))
            self._say(f"The take could not be stored in the bank ({exc}). It is kept in "
                      f"{cap.spool_meta.parent} and will be recovered next time.", "red")
            return None
        finally:
            self.busy = ""
        cap.discard_spool()
        notes = []
        if cap.overflows:
            notes.append("The sound system dropped some audio during this take: listen to it (p).")
        if cap.spool_failed:
            notes.append("The take was saved, but the disk is having trouble; free some space.")
        notes.append(self._space_note(cap.sample_rate, cap.samples.shape[1] if cap.samples.ndim > 1 else 1))
        self.capture_note = " ".join(n for n in notes if n)
        return saved

    def _space_note(self, rate: int, channels: int) -> str:
        """A warning when the disk has room for less than ``LOW_MINUTES`` more of recording."""
        try:
            space = check_space(self.session.bank.root, sample_rate=rate, channels=channels, minutes=self.LOW_MINUTES)
        except OSError:
            return ""
        if space.level == "ok":
            return ""
        return (f"The disk is nearly full: {space.free / 1e6:.0f} MB free, about {space.minutes_left:.1f} minutes "
                "of recording left. Free some space, or stop here (q): everything so far is saved.")

    # ------------------------------------------------------------------ keys
    def _on_key(self, key: str) -> str | None:
        self.session.note_activity()
        if self.help:
            self.help = False
            if key not in ("q", "?"):
                return None
        if key in ("q", "ctrl-c", "ctrl-d"):
            return "quit"
        if key == "?":
            self.help = True
            return None
        if self.recorder.state == "recording":
            if key in ("space", "enter"):
                cap = self.recorder.stop()
                if cap is not None:
                    self._save(cap)
            else:
                self._say("Recording... press SPACE to stop first.", "yellow")
            return None
        actions = {
            "space": self._record_key, "enter": self._record_key, "p": self._play, "a": self._accept,
            "r": self._redo, "s": self._skip, "l": self._later, "b": self._back, "left": self._back,
            "n": self._next, "right": self._next, "c": self._carry_on,
        }
        action = actions.get(key)
        if action is None:
            self._say("That key does nothing here. Press ? for help.", "dim")
            return None
        try:
            action()
        except UsageError as exc:
            self._say(str(exc), "yellow")
        except VoicebankError as exc:  # a speaker that cannot open, an unreadable take: say it, carry on
            self._say(str(exc), "red")
        return None

    def _record_key(self) -> None:
        if self.session.current is None:
            self._say("Every prompt is recorded. Press q to finish.")
            return
        self.player.stop()
        if self.session.break_due():
            self.session.acknowledge_break()
        if self.auto and self.recorder.state == "armed":
            self.recorder.disarm()
            self._say("Paused. Press SPACE to listen again.")
            return
        if self.session.take is not None:
            self.session.redo()
        self._say("")
        self._record()

    def _record(self) -> None:
        self.capture_note = ""
        if self.auto:
            self._listen()
        else:
            p = self.session.current
            assert p is not None
            self.recorder.start(p.id, p.text, p.kind)

    def _listen(self) -> None:
        p = self.session.current
        if p is None:
            return
        self.recorder.arm(p.id, p.text, p.kind)

    def _play(self) -> None:
        if self.player.playing:
            self.player.stop()
            return
        take = self.session.review_take()
        if take is None:
            self._say("Nothing to play yet: record the prompt first.", "yellow")
            return
        samples, rate = self.session.bank.read_take(take)
        self.resume_listening = self.auto and self.recorder.state == "armed"
        self.recorder.disarm()  # hands-free mode must not record its own playback
        self._playback = self.player.play(samples, rate)
        self._say(f"Playing {take.id}. Press p to stop.")

    def _playback_failed(self) -> None:
        """Say once why a take could not be played (the speakers open while it plays)."""
        stats = self._playback
        if stats is not None and stats.finished is not None:
            self._playback = None
            if stats.error:
                self._say(f"{stats.error} Or choose another output with --output-device.", "red")

    def _accept(self) -> None:
        take = self.session.take
        self.session.accept()
        self._say(f"Kept {take.take.id}." if take is not None else "")
        self._enter_prompt()

    def _redo(self) -> None:
        old = self.session.redo()
        self._say(f"{old.id} is kept but not used. Recording again." if old is not None else "Recording again.")
        if self.session.break_due():
            self.session.acknowledge_break()
        self._record()

    def _skip(self) -> None:
        p = self.session.current
        self.session.skip()
        self._say(f"Skipped {p.id if p else ''}. It will not come back by itself; b goes back to it.")
        self._enter_prompt()

    def _later(self) -> None:
        p = self.session.current
        self.session.later()
        self._say(f"{p.id if p else 'It'} will come back at the end.")
        self._enter_prompt()

    def _back(self) -> None:
        if self.session.back() is None:
            self._say("This is the first prompt.", "yellow")
        else:
            self._say("")
        self._enter_prompt()

    def _next(self) -> None:
        self.session.next()
        self._say("")
        self._enter_prompt()

    def _carry_on(self) -> None:
        self.session.acknowledge_break()
        self._say("Carrying on. Take it gently.")
        if self.auto and self.recorder.state == "idle" and self.session.take is None:
            self._listen()

    def _enter_prompt(self) -> None:
        """A new prompt is on screen: in hands-free mode, listen (unless a break is due)."""
        self.player.stop()
        self.capture_note = ""
        self.recorder.disarm()
        s = self.session
        if self.auto and s.current is not None and s.take is None and not s.break_due():
            self._listen()

    def draw(self) -> None:
        cols, rows = self.term.size()
        self.term.draw(self._screen.lines(cols, rows))


@contextmanager
def _stderr_to_log() -> Iterator[None]:
    """Send fd 2 to a log file while the screen is ours.

    The sound libraries (ALSA, PortAudio) print warnings such as "underrun occurred"
    straight to fd 2, which would scribble over the screen.
    """
    import os
    import sys

    from ..config import data_home

    try:
        log = data_home() / "logs" / "record-stderr.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except OSError:
            pass
        os.dup2(saved, 2)
        os.close(saved)


def _recovery_notes(session: RecordingSession, recovered: list[SavedTake]) -> list[str]:
    """What the first screen says about takes recovered from an interrupted session."""
    if not recovered:
        return []
    ids = ", ".join(sorted({r.take.prompt_id for r in recovered}))
    many = len(recovered) > 1
    notes = [f"Recovered {len(recovered)} recording{'s' if many else ''} from an interrupted "
             f"session ({ids}); {'they are' if many else 'it is'} kept as pending take{'s' if many else ''}."]
    if session.take is not None:
        notes.append("Press p to hear it, a to keep it, r to record again.")
    return notes


def run_recorder(
    bank_path: Path,
    *,
    settings: CaptureSettings = CaptureSettings(),
    script: str | None = None,
    messages: bool = False,
    output_device: int | str | None = None,
    break_minutes: float = 20.0,
    terminal: Terminal | None = None,
) -> Outcome:
    """Run a recording session on ``bank_path`` in this terminal until the person stops.

    Raises VoicebankError (no bank, bank in use, no microphone, too little disk space) before the screen changes.
    """
    from ..bank.store import Bank

    with Bank.open(bank_path) as bank:
        # refused before anything is recorded when even a few takes would not fit
        space = require_space(bank.root, sample_rate=settings.sample_rate or 48000,
                              minutes=break_minutes or DEFAULT_SESSION_MINUTES)
        if terminal is None:
            require_terminal()
        prompts, script_name = build_prompts(bank, script=script, messages=messages)
        session = RecordingSession(bank, prompts, script=script_name, break_minutes=break_minutes)
        recovered = session.recover_spools()
        notes = ([space.message(bank.root)] if space.level == "low" else []) + _recovery_notes(session, recovered)
        recorder = Recorder(spool_dir(bank.root), settings)
        player = Player(output_device)
        signals = _Signals()
        recorder.open()
        term = terminal or Terminal()
        try:
            with signals.installed(), _stderr_to_log(), term:
                app = RecorderApp(session, recorder, player, term, signals, bank_name=bank.root.name, notes=notes)
                try:
                    reason = app.run()
                except BaseException:
                    app.finish()
                    raise
        finally:
            leftover = recorder.close()
            if leftover is not None:  # only if the app could not save it; the spool keeps it anyway
                try:
                    session.save_capture(leftover.samples, leftover.sample_rate, prompt_id=leftover.prompt_id,
                                         capture_id=leftover.capture_id, recorded_at=leftover.started_at)
                    leftover.discard_spool()
                except (VoicebankError, OSError):
                    pass
        if reason == "quit" and session.current is None:
            reason = "done"
        return Outcome(
            reason=reason,
            saved=len(session.saved) - len(recovered),
            accepted=session.accepted,
            recovered=len(recovered),
            progress=session.progress(),
            next_prompt=session.next_prompt(),
            notes=notes,
            unsaved=app.unsaved,
        )


def require_terminal(fd: int = 0) -> None:
    """The recorder reads single key presses: refuse to start without a terminal."""
    import os

    if not os.isatty(fd):
        raise UsageError(
            "voicebank record needs a terminal (it reads single key presses). Run it in a terminal window.")
