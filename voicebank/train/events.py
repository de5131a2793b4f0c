"""Progress of a training run as events (what ``on_event`` receives; the library never prints)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainEvent:
    """Progress of a training run, passed to ``on_event``.

    ``kind`` is one of ``start``, ``step``, ``eval``, ``checkpoint``, ``best``, ``message``,
    ``stop``, and ``voice`` (one of several seeded runs finished; ``path`` is its folder).
    Losses are the recipe's early-stopping metric.
    """

    kind: str
    step: int = 0
    max_steps: int = 0  # an estimate on resume, and for XTTS (epochs × batches per epoch)
    epoch: int = 0
    epochs: int = 0  # planned epochs, when the trainer counts in epochs (XTTS)
    loss_train: float | None = None
    loss_eval: float | None = None
    lr: float | None = None
    seconds_per_step: float | None = None
    path: Path | None = None
    message: str = ""
    similarity: float | None = None  # held-out texts spoken and scored (training.speak_held_out)
    wer: float | None = None


EventCallback = Callable[[TrainEvent], None]
