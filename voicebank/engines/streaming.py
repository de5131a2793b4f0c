"""Sub-sentence streaming: run flow and decoder in windows with exact context.

The text encoder runs once per sentence and gives the noised prior latent ``z_p``
(``[1, C, T]``).  From there every output window ``[s, e)`` of latent frames is decoded
from ``z[s - Cd, e + Cd)`` and the extra ``Cd`` frames are cut off again (a *hard* cut:
with enough context the samples are the same as in a whole-sentence decode, so there is
no seam to blend).  ``z`` itself comes from the flow, run in its own (larger) windows with
``Cf`` frames of context.  Receptive fields of a Piper "medium" VITS: decoder ±10.1
frames, flow ±32 frames; the defaults leave a margin on the decoder side.

Window sizes: the first window is small so the first chunk leaves early; later ones at
most double (64, 128, ... up to ``max_window``) so that per-call overhead and duplicated
context stay a small part of the total.  Each window must be ready before the listener
needs it: one :class:`PlaybackClock` per stream says how much audio is ahead of the
listener, and a window is shrunk when the cost measured on the previous one (which follows
the machine's load) says it would not be ready; a window that would be late at any size
grows instead, to one that gains on the listener.  A stream that has not started playing
holds its first chunk until the next window can keep up.  Sizes change timing only, never
samples.

The consumer says how it takes the audio (:class:`~voicebank.audio.Pacing`): how much it
holds ahead of the listener (its lead) and the clock to read; a file is not paced at all.
Nothing here knows what the consumer is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..audio import Pacing
from .split_model import Latent, SplitModel


@dataclass(frozen=True)
class WindowPlan:
    """How a sentence's latent is cut into windows (sizes in latent frames)."""

    # 0.37 s: a sound card takes 0.14 s of it at once (the player's lead), which leaves the next
    # window 0.23 s, against 0.13 s with 24 frames, for ~7 ms more decoding before first audio.
    first: int = 32
    second: int = 256
    max_window: int = 1024
    decoder_context: int = 10  # receptive field ±10.1 frames: 10 measured exact to >115 dB
    flow_context: int = 32
    min_tail: int = 24  # a last window shorter than this is merged into the one before
    # A sentence of at most this many frames (~1.5 s) is decoded in one window: cutting it
    # would cost ~25 % more decoding (the window edges' context) to win ~15 ms of first audio.
    whole_below: int = 128
    # After the first window the flow runs ahead in calls of at least this many frames (its
    # ±32-frame context is paid once per call, not once per decoder window).
    flow_window: int = 512
    # Use at most this share of the audio ahead of the listener for the next window: a window
    # may take 2.5 times its measured cost. Measured on 2 cores with one busy program and the
    # computer slowed 1.8x after the first window (tests/test_player.py): 0.5 left a gap in
    # 2 of 3 runs, 0.4 in 1 of 10.
    safety: float = 0.4

    def size(self, k: int) -> int:
        """The largest size of window ``k``: sizes at most double from the first window on, so
        a window that takes longer than measured (a busy machine) is never large next to the
        little audio in hand at the start (``second`` and ``max_window`` cap them)."""
        if k <= 0:
            return self.first
        return min(self.max_window, self.second * 4 ** (k - 1), self.first * 2**k)


class PlaybackClock:
    """Where a listener stands in one stream, assuming it plays in real time from its first chunk.

    The stream's producer calls :meth:`sent` for every chunk it hands out (speech, pauses and
    added silences alike); :meth:`ahead` is then the audio handed out but not yet played, across
    sentences. The planner spends that on the next window: a sentence that follows others
    starts with the whole buffer as budget, not only its own audio. ``pacing`` is the
    consumer's: its lead and the clock read here (see :class:`~voicebank.audio.Pacing`).
    """

    def __init__(self, pacing: Pacing | None = None) -> None:
        self.pacing = pacing or Pacing()
        self._t0: float | None = None
        self._sent = 0.0

    @property
    def started(self) -> bool:
        return self._t0 is not None

    def sent(self, seconds: float) -> None:
        if self._t0 is None:
            self._t0 = self.pacing.now()
        self._sent += seconds

    def ahead(self) -> float:
        """Seconds handed out but not yet played (negative: the listener would be waiting)."""
        if self._t0 is None:
            return 0.0
        return self._sent - (self.pacing.now() - self._t0)


class WindowedSynthesis:
    """Audio of one sentence, computed window by window on demand; safe to share between threads.

    One thread may render ahead (:meth:`step`) while another reads (:meth:`chunks`).
    Rendering is serialized by one lock, so each window is computed once; the rendered
    pieces sit behind another, so a reader takes what is ready without waiting for the
    window being computed.  Reading from a frame other than where rendering stands (the
    tail after a separately spoken first clause) moves the render position there.
    """

    def __init__(self, model: SplitModel, latent: Latent, hop: int, plan: WindowPlan, rate: int = 22050) -> None:
        self.model = model
        self.latent = latent
        self.hop = hop
        self.plan = plan
        self.frames = latent.frames
        self._z = np.zeros_like(latent.z_p)
        self._z_valid = np.zeros(self.frames, dtype=bool)
        self._work = threading.Lock()  # held while a window is computed
        self._data = threading.Lock()  # guards origin/done/pieces
        self._origin = 0  # first frame of the rendered run
        self._done = 0  # rendered audio covers frames [origin, done)
        self._pieces: list[tuple[int, int, np.ndarray]] = []
        self._k = 0  # index of the next window in the plan
        self._t_first = 0.0  # when this run's audio started playing (first read, else first window)
        self._clock: PlaybackClock | None = None  # the reading stream's clock, if it keeps one
        self._pacing = Pacing()  # the reading stream's consumer (a listener with the default lead until one reads)
        self._read = 0  # the reader has taken audio up to this frame
        self._dec_cost = 0.0  # seconds per decoded frame (context included) on the last window
        self._flow_cost = 0.0  # seconds per flow frame (context included) on the last flow call
        self.rate = rate
        self._frame_s = hop / rate  # seconds of audio per latent frame
        self.cancelled = False

    @property
    def finished(self) -> bool:
        return self._origin == 0 and self._done >= self.frames

    @property
    def pending(self) -> bool:
        """True while background rendering still has windows to do (and was not cancelled)."""
        return not self.cancelled and self._done < self.frames

    @property
    def rendered(self) -> int:
        """Frames rendered since the last start or seek."""
        return self._done - self._origin

    def rendered_from(self, frame: int) -> int:
        """How many frames from ``frame`` on are already rendered (0 if none)."""
        with self._data:
            if self._origin <= frame < self._done:
                return self._done - frame
            return 0

    def step(self) -> bool:
        """Render the next window; False when nothing is left (or the work was cancelled)."""
        with self._work:
            if self.cancelled or self._done >= self.frames:
                return False
            self._render_next()
            return True

    def chunks(
        self, start: int = 0, fast_start: bool = True, clock: PlaybackClock | None = None
    ) -> Iterator[tuple[np.ndarray, bool]]:
        """Float audio from latent frame ``start`` to the end, as it becomes ready.

        Yields ``(samples, is_last)``: everything already rendered at once, else the next
        window.  ``fast_start=False`` skips the small first window (for a tail that starts
        while other audio is still playing).  ``clock`` is the stream's playback clock: with
        it, windows are sized from all the audio ahead of the listener; a stream that has not
        started playing holds its first chunk until the windows after it can keep up. Its
        pacing (lead and clock) is used from here on.
        """
        pos = max(0, min(int(start), self.frames))
        if pos >= self.frames:
            yield np.zeros(0, np.float32), True
            return
        self._clock = clock
        if clock is not None:
            self._pacing = clock.pacing
        self._read = pos
        started = clock is not None and clock.started  # something is playing already: never hold
        while pos < self.frames:
            with self._data:
                ready = self._origin <= pos < self._done
                hold = ready and fast_start and not started and not self._keeps_up(pos)
                if ready and not hold:
                    audio = self._audio_from(pos)
                    pos = self._done
            if not ready or hold:
                with self._work:  # waits for a window being computed by another thread
                    with self._data:
                        outside = not (self._origin <= pos <= self._done)
                    if outside:
                        self._seek(pos, fast_start)
                    if self._done < self.frames and (hold or pos == self._done):
                        self._render_next()
                continue
            if not started:  # playback of this run starts now: the planner's clock
                started = True
                self._t_first = self._pacing.now()
            self._read = pos
            yield audio, pos >= self.frames

    def _keeps_up(self, pos: int) -> bool:
        """Whether audio from ``pos`` can start playing now: the next window, at its smallest
        size and with the flow it lacks, costs at most ``safety`` of the rendered audio left
        after the consumer's lead (at the costs measured on the last window).

        On a quiet machine this holds after the first window; on a loaded one the first
        chunk waits for more windows instead of leaving a gap after the first window.
        A consumer that is not paced (a file) never waits.
        """
        lead = self._pacing.lead
        if lead is None or self._done >= self.frames or self._dec_cost <= 0.0:
            return True
        plan = self.plan
        buffered = (self._done - pos) * self._frame_s - lead
        return self._window_cost(plan.first, self._valid_ahead()) <= plan.safety * buffered

    def _valid_ahead(self) -> int:
        """Frames after the rendered end that the decoder can take without more flow."""
        cd = self.plan.decoder_context
        return self._flow_valid_from(max(0, self._done - cd)) - self._done - cd

    def _budget(self, lead: float) -> float:
        """Seconds the next window may take before the listener would wait (before ``safety``)."""
        if self._clock is not None and self._clock.started:
            ahead = self._clock.ahead() + (self._done - self._read) * self._frame_s
        else:  # no stream clock: this run's own audio, playing since its first read
            ahead = (self._done - self._origin) * self._frame_s - (self._pacing.now() - self._t_first)
        return ahead - lead

    def _seek(self, pos: int, fast_start: bool) -> None:
        with self._data:
            self._origin = self._done = pos
            self._pieces = []
        self._k = 0 if fast_start else 1
        self._t_first = self._pacing.now()

    def _audio_from(self, pos: int) -> np.ndarray:
        parts = []
        for s, e, audio in self._pieces:
            if e <= pos:
                continue
            parts.append(audio[(max(s, pos) - s) * self.hop :])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _next_window(self) -> tuple[int, int]:
        """The next window's size in frames, and the frame up to which the flow should be ready.

        The budget is the audio ahead of the listener on the stream's clock (without one:
        this run's own audio, playing since its first read), less the consumer's lead; the
        window, with the flow it still needs, must cost at most ``safety`` of the audio left
        to play, at the per-frame costs measured on the previous window (so they follow the
        machine's load); a consumer that is not paced gets every window at its largest size.
        The flow runs ahead of the window (one context per call) only with the time left
        over.  A short remainder is merged in when the budget allows, to save a window's
        context.  Sizes never change the samples, only the timing.
        """
        plan = self.plan
        s = self._done
        left = self.frames - s
        if self._k == 0 and self._origin == 0 and left <= plan.whole_below:
            return left, self.frames
        cap = plan.size(self._k)
        cd = plan.decoder_context
        valid = self._valid_ahead()  # frames decodable without more flow
        lead = self._pacing.lead
        usable: float | None = None
        if lead is None:  # nobody listens meanwhile: windows as large as the plan allows
            fits = left
        elif self._k == 0 or self._dec_cost <= 0.0:
            fits = cap
        else:
            usable = plan.safety * max(self._budget(lead), 0.0)
            fits = self._frames_within(usable, valid)
        if fits >= plan.first:
            size = min(cap, fits)
        else:  # late whatever the size: the smallest window that gains on the listener
            size = min(cap, max(plan.first, self._gaining(valid)))
        if left - size < max(plan.min_tail, size // 4) or (self._k > 0 and left <= min(fits, 2 * cap)):
            size = left
        flow_end = min(self.frames, s + size + cd)
        if self.frames <= plan.second:  # short sentence: one flow call for all of it
            flow_end = self.frames
        elif self._k == 0:
            # The first flow call also covers the next window at its smallest: a call's cost
            # is mostly its +-32 frames of context (measured: 19 ms for 34 frames, 22 for 58),
            # and the second window, whose budget is the tightest, then needs no call of its own.
            flow_end = min(self.frames, flow_end + plan.first)
        else:
            ahead = min(self.frames, max(flow_end, s + cd + valid + plan.flow_window))
            if usable is not None and self._flow_cost > 0.0:
                spare = usable - self._window_cost(size, valid)
                ahead = min(ahead, flow_end + max(0, int(spare / self._flow_cost)))
            flow_end = max(flow_end, ahead)
        return size, flow_end

    def _flow_valid_from(self, a: int) -> int:
        """The first frame at or after ``a`` whose flow output is not computed yet (or the end)."""
        missing = np.flatnonzero(~self._z_valid[a:])
        return a + int(missing[0]) if missing.size else self.frames

    def _window_cost(self, n: int, valid: int) -> float:
        """Estimated seconds to decode the next ``n`` frames, with the flow they lack beyond ``valid``."""
        cd, fc = self.plan.decoder_context, self.plan.flow_context
        flow = self._flow_cost * (n - valid + 2 * fc) if n > valid else 0.0
        return self._dec_cost * (n + 2 * cd) + flow

    def _frames_within(self, usable: float, valid: int) -> int:
        """The most frames whose window (decoder, and flow beyond ``valid``) costs at most ``usable`` s."""
        cd, fc = self.plan.decoder_context, self.plan.flow_context
        n = int(usable / self._dec_cost) - 2 * cd  # decoder alone
        if n <= valid:
            return n
        # dec * (n + 2 cd) + flow * (n - valid + 2 fc) <= usable
        rest = usable - self._dec_cost * 2 * cd + self._flow_cost * (valid - 2 * fc)
        return max(valid, int(rest / (self._dec_cost + self._flow_cost)))

    def _gaining(self, valid: int) -> int:
        """The fewest frames whose window costs at most ``safety`` of the audio it gives.

        A window pays for its context (decoder, and a flow call's) whatever its size, so on a
        loaded machine the smallest windows can cost more than the audio they give: cutting
        ever smaller windows to catch up would then fall further behind. Returns a huge
        number when no size gains (the caller caps it).
        """
        plan = self.plan
        cd, fc = plan.decoder_context, plan.flow_context
        gain = plan.safety * self._frame_s  # seconds each frame must leave to spare
        dec, flow = self._dec_cost, self._flow_cost
        if dec < gain:  # the decoder alone, on frames whose flow is ready
            n = int(np.ceil(dec * 2 * cd / (gain - dec)))
            if n <= valid:
                return max(1, n)
        if dec + flow < gain:  # beyond ``valid`` a flow call runs too, with its own context
            n = int(np.ceil((dec * 2 * cd + flow * (2 * fc - valid)) / (gain - dec - flow)))
            return max(n, valid + 1)
        return 1 << 30

    def _render_next(self) -> None:
        size, flow_end = self._next_window()
        s = self._done
        e = min(self.frames, s + size)
        cd = self.plan.decoder_context
        lo, hi = max(0, s - cd), min(self.frames, e + cd)
        self._ensure_flow(lo, max(hi, flow_end))
        clock = self._pacing.now
        t0 = clock()
        audio = self.model.decode_range(self._z, s, e, cd, self.hop, self.latent.extra)
        with self._data:
            self._pieces.append((s, e, audio))
            self._done = e
        now = clock()
        if self._k == 0:
            self._t_first = now
        self._dec_cost = (now - t0) / max(1, hi - lo)
        self._k += 1

    def _ensure_flow(self, lo: int, hi: int) -> None:
        """Compute the flow output over [lo, hi) where it is missing (one call, measured)."""
        missing = np.flatnonzero(~self._z_valid[lo:hi])
        if missing.size == 0:
            return
        a, b = lo + int(missing[0]), hi
        fc = self.plan.flow_context
        clock = self._pacing.now
        t0 = clock()
        self._z[:, :, a:b] = self.model.flow_range(self.latent, a, b, fc)
        self._flow_cost = (clock() - t0) / max(1, min(self.frames, b + fc) - max(0, a - fc))
        self._z_valid[a:b] = True


class WholeSynthesis:
    """Fallback for graphs that cannot be cut: the whole model per sentence, one chunk."""

    def __init__(self, run: Callable[[], np.ndarray]) -> None:
        self._run = run
        self._audio: np.ndarray | None = None
        self._lock = threading.Lock()
        self.cancelled = False
        self.latent: Latent | None = None

    @property
    def finished(self) -> bool:
        return self._audio is not None

    @property
    def pending(self) -> bool:
        return self._audio is None and not self.cancelled

    @property
    def rendered(self) -> int:
        return 0 if self._audio is None else 1

    def rendered_from(self, frame: int) -> int:
        return 1 if self._audio is not None and frame == 0 else 0

    def step(self) -> bool:
        with self._lock:
            if self._audio is None and not self.cancelled:
                self._audio = self._run()
                return True
        return False

    def chunks(
        self, start: int = 0, fast_start: bool = True, clock: PlaybackClock | None = None
    ) -> Iterator[tuple[np.ndarray, bool]]:
        with self._lock:
            if self._audio is None:
                self._audio = self._run()
        yield self._audio, True


class Background:
    """Run one call in a daemon thread; ``result()`` waits and re-raises its exception."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="voicebank-encode")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed over to the caller of result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def plan_from_options(options: Any, base: WindowPlan | None = None) -> WindowPlan:
    """A WindowPlan carrying the window sizes of a SynthesisOptions."""
    base = base or WindowPlan()
    return replace(
        base,
        first=options.first_window,
        second=options.window,
        max_window=options.max_window,
        min_tail=min(base.min_tail, options.first_window),
    )
