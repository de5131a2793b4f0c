"""Slower computers for streaming tests: the voice's real graphs, on a real or a fake clock.

:class:`SlowingComputer` (real-machine playback tests): each run of the encoder, the flow
or the decoder is followed by a sleep of ``factor - 1`` times what it took (a sleep, like a
run, leaves the GIL free), so the streaming planner measures a machine ``factor`` times
slower than this one; after ``fast_runs`` runs at full speed (another program woke up)
when that is given.

:class:`ModelledComputer` with a :class:`FakeClock` (pacing tests): no time passes but the
modelled cost of each run, so the planner's choices are exact and independent of load.
"""

from __future__ import annotations

import time


class SlowingComputer:
    def __init__(self, model: object, factor: float, fast_runs: int = 0) -> None:
        self._model = model
        self._factor = factor
        self._fast_runs = fast_runs

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._model, name)
        if name not in ("encode", "flow_range", "decode_range"):
            return attr

        def slowed(*args: object) -> object:
            t0 = time.perf_counter()
            out = attr(*args)
            self._fast_runs -= 1
            if self._fast_runs < 0:
                time.sleep((self._factor - 1.0) * (time.perf_counter() - t0))
            return out

        return slowed


class FakeClock:
    """A clock that moves only when told to: the planner reads :meth:`now`, the model advances it."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class ModelledComputer:
    """The voice's real graphs (so the samples are real), on a fake clock that each run of the
    flow or the decoder advances by a modelled cost: ``decode`` and ``flow`` seconds per
    latent frame handled, context included. The planner then measures exactly that machine,
    so the windows it chooses are the same on every computer and under any load."""

    def __init__(self, model: object, clock: FakeClock, decode: float, flow: float) -> None:
        self._model = model
        self.clock = clock
        self.decode = decode
        self.flow = flow

    def __getattr__(self, name: str) -> object:
        return getattr(self._model, name)

    def flow_range(self, latent, a: int, b: int, context: int):  # type: ignore[no-untyped-def]
        out = self._model.flow_range(latent, a, b, context)  # type: ignore[attr-defined]
        self.clock.advance(self.flow * (min(latent.frames, b + context) - max(0, a - context)))
        return out

    def decode_range(self, z, s: int, e: int, context: int, hop: int, extra):  # type: ignore[no-untyped-def]
        out = self._model.decode_range(z, s, e, context, hop, extra)  # type: ignore[attr-defined]
        self.clock.advance(self.decode * (min(z.shape[2], e + context) - max(0, s - context)))
        return out
