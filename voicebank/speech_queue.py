"""The lines a person asked to say, spoken in order, none lost without them knowing.

A :class:`SpeechQueue` owns what is waiting to be said: lines queue behind the one that
plays (a new line never cuts the one playing off); :meth:`SpeechQueue.stop` interrupts and
clears, when the person asks. When the sound output fails (a sound server killed, a device
unplugged) the line that was cut off goes back to the head of the queue with the ones
waiting behind it, an event says so at once, and the queue tries the output again every
``retry_every`` seconds; when it answers, the kept lines are spoken from the start of the
one that was cut. The person may drop them instead (:meth:`SpeechQueue.stop`).

Responsible for order, retries and telling what happens (events, :meth:`state`); not for
making audio (each :class:`Utterance` makes its own) nor for showing anything (the
prompt shows the events). Playback goes through the one :class:`~voicebank.player.Player`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .audio import AudioChunk, Pacing
from .player import DEVICE_LOST, PlaybackStats, Player


@dataclass(frozen=True)
class Utterance:
    """One thing to say: the ``text`` shown for it and ``make``, which makes its audio
    for a consumer's pacing (called again from the start when a failure cut it off)."""

    text: str
    make: Callable[[Pacing], Iterable[AudioChunk]]
    label: str = ""  # where it came from, for the screen ("F3")


@dataclass(frozen=True)
class SpeechEvent:
    """What happened to the queue. ``kind``: ``started``, ``spoken``, ``interrupted``,
    ``failed`` (the line itself could not be made: dropped), ``device_lost`` (the line
    and the queue are kept), ``device_back``, ``dropped``."""

    kind: str
    utterance: Utterance | None = None
    message: str = ""
    kept: tuple[Utterance, ...] = ()  # the unspoken lines, for device_lost and dropped
    stats: PlaybackStats | None = None


@dataclass(frozen=True)
class SpeechState:
    """A snapshot for an indicator: what plays, what waits, whether sound works."""

    playing: Utterance | None
    queued: tuple[Utterance, ...]
    device_ok: bool
    problem: str = ""


@dataclass(frozen=True)
class Spoken:
    """One line's outcome, kept for the person's 'what was said' and for tests."""

    text: str
    outcome: str  # spoken, interrupted, failed, device_lost
    frames_played: int
    frames_fed: int
    device_rate: int


@dataclass
class _Shared:
    queue: deque[Utterance] = field(default_factory=deque)
    playing: Utterance | None = None
    cancel_playing: bool = False
    device_ok: bool = True
    problem: str = ""
    closed: bool = False


class SpeechQueue:
    """Speaks :class:`Utterance` s one after another on ``player`` in a background thread.

    ``on_event`` is called (from that thread) with every :class:`SpeechEvent`; it must
    return quickly. ``rate`` is the rate the output is tried at when reconnecting.
    """

    def __init__(
        self,
        player: Player,
        on_event: Callable[[SpeechEvent], Any] | None = None,
        *,
        retry_every: float = 1.0,
        rate: int = 22050,
        poll: float = 0.05,
    ) -> None:
        self.player = player
        self.on_event = on_event or (lambda event: None)
        self.retry_every = retry_every
        self.rate = rate
        self.poll = poll
        self.log: deque[Spoken] = deque(maxlen=100)
        self._s = _Shared()
        self._cond = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._worker = threading.Thread(target=self._run, name="voicebank-speech-queue", daemon=True)
        self._worker.start()

    # ---- the prompt's side -------------------------------------------------------------

    def say(self, utterance: Utterance) -> None:
        """Queue a line behind whatever plays or waits (returns at once)."""
        with self._cond:
            self._s.queue.append(utterance)
            self._idle.clear()
            self._cond.notify_all()

    def stop(self) -> tuple[Utterance, ...]:
        """Interrupt the line playing and drop every waiting or kept line; returns those dropped."""
        with self._cond:
            dropped = tuple(self._s.queue)
            self._s.queue.clear()
            if self._s.playing is not None:
                self._s.cancel_playing = True
            self._cond.notify_all()
        self.player.stop()
        if dropped:
            self._emit(SpeechEvent("dropped", kept=dropped, message=f"Dropped {_lines(len(dropped))} not yet spoken."))
        return dropped

    def state(self) -> SpeechState:
        with self._cond:
            return SpeechState(self._s.playing, tuple(self._s.queue), self._s.device_ok, self._s.problem)

    def unspoken(self) -> tuple[Utterance, ...]:
        """The lines not yet heard: the one playing (if any) and those waiting."""
        with self._cond:
            return ((self._s.playing,) if self._s.playing else ()) + tuple(self._s.queue)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing plays or waits (True), or ``timeout`` passes (False)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop speaking and end the background thread."""
        with self._cond:
            self._s.closed = True
            self._s.queue.clear()
            self._s.cancel_playing = True
            self._cond.notify_all()
        self.player.stop()
        self._worker.join(timeout=5.0)

    def __enter__(self) -> SpeechQueue:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- the background thread ---------------------------------------------------------

    def _emit(self, event: SpeechEvent) -> None:
        try:
            self.on_event(event)
        except Exception:  # a broken display must not stop speech
            pass

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._s.closed and not self._s.queue and self._s.device_ok:
                    self._idle.set()
                    self._cond.wait()
                if self._s.closed:
                    self._idle.set()
                    return
                if not self._s.queue:
                    self._idle.set()  # nothing waits, though the output is still being tried
                utterance = None
                if self._s.device_ok:
                    utterance = self._s.playing = self._s.queue.popleft()
                    self._s.cancel_playing = False
            if utterance is None:  # the output failed: try it again (kept lines wait for it)
                self._retry()
            else:
                self._speak(utterance)

    def _retry(self) -> None:
        """The output failed and lines wait: try it again, then wait a little."""
        if self.player.reconnect(self.rate):
            with self._cond:
                self._s.device_ok, self._s.problem = True, ""
            self._emit(SpeechEvent("device_back", message="Sound is back.", kept=self.unspoken()))
            return
        with self._cond:
            if not self._s.closed:
                self._cond.wait(self.retry_every)

    def _speak(self, utterance: Utterance) -> None:
        self._emit(SpeechEvent("started", utterance))
        try:
            stats = self.player.play(utterance.make(self.player.pacing()))
        except Exception as exc:  # making the audio failed before any sound
            self._finish(utterance, "failed", PlaybackStats(error=str(exc)))
            return
        lost = False
        while self.player.playing:
            with self._cond:
                cancel = self._s.cancel_playing or self._s.closed
            lost = bool(self.player.failure())
            if cancel or lost:
                self.player.stop()
                break
            time.sleep(self.poll)
        with self._cond:
            cancelled = self._s.cancel_playing or self._s.closed
        if cancelled:
            outcome = "interrupted"
        elif lost or stats.device_lost:
            outcome = "device_lost"
        elif stats.error:
            outcome = "failed"
        else:
            outcome = "spoken"
        self._finish(utterance, outcome, stats)

    def _finish(self, utterance: Utterance, outcome: str, stats: PlaybackStats) -> None:
        self.log.append(Spoken(utterance.text, outcome, stats.frames_played, stats.frames_fed, stats.device_rate))
        kept: tuple[Utterance, ...] = ()
        problem = _plain_problem(stats) if outcome == "device_lost" else ""
        with self._cond:
            self._s.playing = None
            if outcome == "device_lost":
                self._s.queue.appendleft(utterance)  # said again from its start when sound is back
                self._s.device_ok, self._s.problem = False, problem
                kept = tuple(self._s.queue)
            elif not self._s.queue:
                self._idle.set()
        if outcome == "device_lost":
            self._emit(SpeechEvent("device_lost", utterance, problem, kept, stats))
        elif outcome == "failed":
            self._emit(SpeechEvent("failed", utterance, f"Could not say it: {stats.error}", stats=stats))
        else:
            self._emit(SpeechEvent(outcome, utterance, stats=stats))


def _plain_problem(stats: PlaybackStats) -> str:
    """The failure in words a person can act on (PortAudio's own text stays in ``stats.error``)."""
    if stats.callbacks == 0:
        return "The speakers cannot be opened: the sound server is not running, or the device is unplugged."
    return DEVICE_LOST


def _lines(n: int) -> str:
    return f"{n} line" + ("" if n == 1 else "s")
