"""Early stopping: whether the held-out loss still improves, and its record for a resumed run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class EarlyStopper:
    """Decides after each evaluation whether the held-out loss still improves.

    An evaluation improves when ``value < best * (1 - min_delta)`` (for a positive best;
    ``best - |best| * min_delta`` in general). A non-finite value never improves. ``stop``
    becomes true after ``patience`` evaluations in a row without improvement, once ``step``
    has reached ``min_steps`` (and never when ``enabled`` is false).
    """

    patience: int
    min_delta: float = 0.0
    min_steps: int = 0
    enabled: bool = True
    best: float = math.inf
    best_step: int = 0
    bad_evals: int = 0

    def update(self, step: int, value: float) -> tuple[bool, bool]:
        """Record one evaluation; returns ``(improved, stop)``."""
        improved = math.isfinite(value) and (
            not math.isfinite(self.best) or value < self.best - abs(self.best) * self.min_delta
        )
        if improved:
            self.best, self.best_step, self.bad_evals = float(value), int(step), 0
        else:
            self.bad_evals += 1
        stop = self.enabled and not improved and self.bad_evals >= self.patience and step >= self.min_steps
        return improved, stop

    @property
    def best_or_none(self) -> float | None:
        """The best held-out loss so far, or None before the first finite one (JSON has no inf)."""
        return self.best if math.isfinite(self.best) else None

    def to_dict(self) -> dict[str, Any]:
        return {"best": self.best_or_none, "best_step": self.best_step, "bad_evals": self.bad_evals}

    def restore(self, data: dict[str, Any]) -> None:
        best = data.get("best")
        self.best = float(best) if best is not None else math.inf
        self.best_step = int(data.get("best_step", 0))
        self.bad_evals = int(data.get("bad_evals", 0))
