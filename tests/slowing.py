"""A loaded computer for streaming tests: the voice's real graphs, followed by idle time.

Each run of the encoder, the flow or the decoder is followed by a sleep of ``factor - 1``
times what it took (a sleep, like a run, leaves the GIL free), so the streaming planner
measures a machine ``factor`` times slower than this one; after ``fast_runs`` runs at full
speed (another program woke up) when that is given.
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
