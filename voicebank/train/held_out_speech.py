"""The held-out texts spoken during training and scored (similarity, WER) as the voice will be
exported: at the recipe's strength. Turns itself off, saying why, when it cannot run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import VoicebankError
from .events import EventCallback, TrainEvent
from .recipes import Recipe


class HeldOutSpeech:
    """Scores the model being trained on the dataset's held-out texts (an empty dict when off)."""

    def __init__(self, recipe: Recipe, dataset: Path, base_ref: str | None, emit: EventCallback) -> None:
        self.enabled = recipe.training.speak_held_out
        self.recipe = recipe
        self.dataset = dataset
        self.base_ref = base_ref
        self.emit = emit
        self._check: Any = None  # made at the first evaluation (loads the recognizer and the encoder)
        self._toward: dict[str, Any] | None = None  # base weights, for a strength below 1

    def __call__(self, trainer: Any) -> dict[str, float | None]:
        if not self.enabled:
            return {}
        from . import blend
        from .speech_check import SpeechCheck

        if self._check is None:
            rate = int(trainer.config.audio.sample_rate)
            try:
                self._check = SpeechCheck(self.dataset, self.recipe.espeak_voice, rate, self.recipe.inference)
            except VoicebankError as exc:  # e.g. the recognizer or the speaker encoder is not installed
                return self._off(str(exc))
        model = trainer._get_model()
        strength = self.recipe.inference.strength
        if strength < 1.0 and self._toward is None:
            try:
                self._toward, _ = blend.base_weights(model, self.base_ref)
            except VoicebankError as exc:  # e.g. resumed where the base is not (it is only needed to start)
                return self._off(f"the base is needed to score the voice at strength {strength:g} ({exc})")
        with blend.applied(model, self._toward or {}, strength):
            return self._check(model)

    def _off(self, why: str) -> dict[str, float | None]:
        self.enabled = False
        self.emit(TrainEvent("message", message=f"Speaking the held-out texts is off: {why}"))
        return {}
