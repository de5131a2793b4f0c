"""Sub-sentence streaming: run flow and decoder in windows with exact context.

The text encoder runs once per sentence and gives the noised prior latent ``z_p``
(``[1, C, T]``).  From there every output window ``[s, e)`` of latent frames is decoded
from ``z[s - Cd, e + Cd)`` and the extra ``Cd`` frames are cut off again (a *hard* cut:
with enough context the samples are the same as in a whole-sentence decode, so there is
no seam to blend).  ``z`` itself comes from the flow, run in its own (larger) windows with
``Cf`` frames of context.  Receptive fields of a Piper "medium" VITS: decoder ±10.1
frames, flow ±32 frames; the defaults leave a margin on the decoder side.

Window sizes: the first window is small so the first chunk leaves early; the second
is larger and later ones grow (×4) up to ``max_window``, so that per-call overhead and
duplicated context stay a small part of the total.  Each window must be ready before
the audio already sent has played; with the defaults the second window (128 frames,
~1.5 s of audio) has the first window's ~0.28 s of audio to be computed in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import numpy as np

from .split import CutPoints, GraphParts, make_session


@dataclass(frozen=True)
class WindowPlan:
    """How a sentence's latent is cut into windows (sizes in latent frames)."""

    first: int = 24
    second: int = 128
    max_window: int = 1024
    decoder_context: int = 12
    flow_context: int = 32
    min_tail: int = 24  # a last window shorter than this is merged into the one before

    def size(self, k: int) -> int:
        if k <= 0:
            return self.first
        return min(self.max_window, self.second * 4 ** (k - 1))


@dataclass
class Latent:
    """The encoder's output for one sentence."""

    z_p: np.ndarray  # [1, C, T] float32, noise already added
    mask: np.ndarray  # [1, 1, T]
    durations: Optional[np.ndarray]  # frames per phoneme id, or None if the graph hides them
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. sid for the flow/decoder

    @property
    def frames(self) -> int:
        return int(self.z_p.shape[2])


class SplitModel:
    """The three ONNX Runtime sessions of a cut voice (thread-safe: sessions allow concurrent runs)."""

    def __init__(self, parts: GraphParts, threads: int = 1) -> None:
        self.cut: CutPoints = parts.cut
        self.encoder = make_session(parts.files["encoder"], threads)
        self.flow_session = make_session(parts.files["flow"], threads)
        self.decoder = make_session(parts.files["decoder"], threads)
        self._enc_outputs = [self.cut.latent, self.cut.mask] + (
            [self.cut.durations] if self.cut.durations else []
        )

    def encode(self, feeds: dict[str, np.ndarray]) -> Latent:
        out = self.encoder.run(self._enc_outputs, feeds)
        durations = out[2].reshape(-1) if len(out) > 2 else None
        extra = {k: feeds[k] for k in set(self.cut.flow_extra) | set(self.cut.decoder_extra)}
        return Latent(z_p=out[0], mask=out[1], durations=durations, extra=extra)

    def flow(self, z_p: np.ndarray, mask: np.ndarray, extra: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {self.cut.latent: z_p, self.cut.mask: mask}
        feeds.update({k: extra[k] for k in self.cut.flow_extra})
        return self.flow_session.run(None, feeds)[0]

    def decode(self, z: np.ndarray, extra: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {self.cut.decoder_input: z}
        feeds.update({k: extra[k] for k in self.cut.decoder_extra})
        return self.decoder.run(None, feeds)[0].reshape(-1)

    def whole(self, latent: Latent) -> np.ndarray:
        """Flow and decoder over the whole sentence in one call each (the unstreamed reference)."""
        z = self.flow(latent.z_p, latent.mask, latent.extra)
        return self.decode(z, latent.extra)


class WindowedSynthesis:
    """Audio of one sentence, computed window by window on demand; safe to share between threads.

    One thread may render ahead (:meth:`step`) while another reads (:meth:`chunks`); both
    go through one lock, so each window is computed once.  Reading from a frame other than
    where rendering stands (the tail after a separately spoken first clause) moves the
    render position there.
    """

    def __init__(self, model: SplitModel, latent: Latent, hop: int, plan: WindowPlan) -> None:
        self.model = model
        self.latent = latent
        self.hop = hop
        self.plan = plan
        self.frames = latent.frames
        self._z = np.zeros_like(latent.z_p)
        self._z_valid = np.zeros(self.frames, dtype=bool)
        self._lock = threading.RLock()
        self._origin = 0  # first frame of the rendered run
        self._done = 0  # rendered audio covers frames [origin, done)
        self._pieces: list[tuple[int, int, np.ndarray]] = []
        self._k = 0  # index of the next window in the plan
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
        with self._lock:
            if self._origin <= frame < self._done:
                return self._done - frame
            return 0

    def step(self) -> bool:
        """Render the next window; False when nothing is left (or the work was cancelled)."""
        with self._lock:
            if self.cancelled or self._done >= self.frames:
                return False
            self._render_next()
            return True

    def chunks(self, start: int = 0, fast_start: bool = True) -> Iterator[tuple[np.ndarray, bool]]:
        """Float audio from latent frame ``start`` to the end, one window at a time.

        Yields ``(samples, is_last)``; ``fast_start=False`` skips the small first window
        (for a tail that starts while other audio is still playing).
        """
        pos = max(0, min(int(start), self.frames))
        if pos >= self.frames:
            yield np.zeros(0, np.float32), True
            return
        with self._lock:
            if not (self._origin <= pos <= self._done):
                self._seek(pos, fast_start)
        while pos < self.frames:
            with self._lock:
                if pos < self._origin or pos > self._done:
                    self._seek(pos, fast_start)
                if pos == self._done:
                    self._render_next()
                audio = self._audio_from(pos)
                pos = self._done
            yield audio, pos >= self.frames

    def _seek(self, pos: int, fast_start: bool) -> None:
        self._origin = self._done = pos
        self._pieces = []
        self._k = 0 if fast_start else 1

    def _audio_from(self, pos: int) -> np.ndarray:
        parts = []
        for s, e, audio in self._pieces:
            if e <= pos:
                continue
            parts.append(audio[(max(s, pos) - s) * self.hop :])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _render_next(self) -> None:
        s = self._done
        e = min(self.frames, s + self.plan.size(self._k))
        if self.frames - e < self.plan.min_tail:
            e = self.frames
        cd = self.plan.decoder_context
        lo, hi = max(0, s - cd), min(self.frames, e + cd)
        self._ensure_flow(lo, hi)
        audio = self.model.decode(self._z[:, :, lo:hi], self.latent.extra)
        audio = audio[(s - lo) * self.hop : (e - lo) * self.hop]
        self._pieces.append((s, e, audio))
        if len(self._pieces) > 64:  # keep memory bounded on very long sentences
            self._pieces = self._pieces[-64:]
            self._origin = self._pieces[0][0]
        self._done = e
        self._k += 1

    def _ensure_flow(self, lo: int, hi: int) -> None:
        missing = np.flatnonzero(~self._z_valid[lo:hi])
        if missing.size == 0:
            return
        a = lo + int(missing[0])
        # after the first window, run the flow well ahead: fewer calls, less duplicated context
        ahead = hi if not self._z_valid.any() else max(hi, a + self.plan.max_window)
        b = min(self.frames, ahead)
        cf = self.plan.flow_context
        flo, fhi = max(0, a - cf), min(self.frames, b + cf)
        z = self.model.flow(
            self.latent.z_p[:, :, flo:fhi], self.latent.mask[:, :, flo:fhi], self.latent.extra
        )
        self._z[:, :, a:b] = z[:, :, a - flo : b - flo]
        self._z_valid[a:b] = True


def plan_from_options(options: Any, base: Optional[WindowPlan] = None) -> WindowPlan:
    """A WindowPlan carrying the window sizes of a SynthesisOptions."""
    base = base or WindowPlan()
    return WindowPlan(
        first=options.first_window,
        second=options.window,
        max_window=options.max_window,
        decoder_context=base.decoder_context,
        flow_context=base.flow_context,
        min_tail=min(base.min_tail, options.first_window),
    )
