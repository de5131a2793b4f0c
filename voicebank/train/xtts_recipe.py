"""The choices of an XTTS-v2 fine-tune: the ``[xtts]`` table of a recipe (``recipes/xtts-v2.toml``).

Recipes are read by :mod:`.recipes`; for ``model = "xtts"`` it passes the ``[xtts]``
table through unchecked, and :meth:`XttsRecipe.coerce` checks it here. No torch, no Coqui.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from .recipes import RecipeError

SECTION = "xtts"


@dataclass(frozen=True)
class XttsRecipe:
    """The choices of an XTTS-v2 GPT fine-tune: the ``[xtts]`` table of a recipe.

    Defaults suit one speaker with 2–60 minutes of speech on one GPU. None of them was
    tuned on real XTTS-v2 weights here (they were not available); they follow Coqui's
    own XTTS recipes and demo, and each comment says why.
    """

    language: str = "en"  # XTTS language code of the recordings
    # Coqui's fine-tuning demo trains 10 epochs. Short datasets get more epochs so the GPT
    # makes at least `min_steps` updates, but never more than `max_epochs`: the best
    # held-out loss is exported, yet over-training still costs stability (noisy endings).
    epochs: int = 10
    min_steps: int = 200
    max_epochs: int = 50
    # Users report ~14 GB of GPU memory for XTTS fine-tuning (alltalk_tts #189, #282; not
    # measured here). Smaller GPUs: batch_size 2 with grad_accum_steps 2.
    batch_size: int = 4
    grad_accum_steps: int = 1
    # Coqui's XTTS recipes use 5e-6 with AdamW (betas 0.9/0.96): the GPT is large and already
    # well trained, and noisy or hallucinated endings get worse after aggressive fine-tuning.
    lr: float = 5e-6
    weight_decay: float = 0.01
    # The GPT sees at most 605 audio codes; Coqui caps clips at 255995 samples (11.6 s).
    # Longer clips are left out (and listed); `voicebank train prepare` trims silence first.
    max_audio_seconds: float = 11.6
    max_text_tokens: int = 200  # Coqui's cap on a clip's text tokens
    # Each step conditions the GPT on a 3–6 s slice of the clip (Coqui's values) and masks
    # that slice out of the loss.
    min_conditioning_seconds: float = 3.0
    max_conditioning_seconds: float = 6.0
    n_refs: int = 4  # training clips the finished voice is conditioned on
    save_step: int = 1000  # a resumable checkpoint every this many steps (and at each best)
    seed: int = 1
    mixed_precision: bool = False  # Coqui's recipes train XTTS in fp32
    loader_workers: int = 2

    def __post_init__(self) -> None:
        for name in ("epochs", "min_steps", "max_epochs", "batch_size", "grad_accum_steps", "max_text_tokens",
                     "n_refs", "save_step"):
            if int(getattr(self, name)) < (0 if name == "min_steps" else 1):
                raise RecipeError(f"xtts.{name} must be at least {0 if name == 'min_steps' else 1}, "
                                  f"not {getattr(self, name)!r}.")
        if self.epochs > self.max_epochs:
            raise RecipeError(f"xtts.epochs ({self.epochs}) must not exceed xtts.max_epochs ({self.max_epochs}).")
        if not 0.0 < self.lr < 1e-3:
            raise RecipeError(f"xtts.lr must be positive and small (XTTS uses 5e-6), not {self.lr}.")
        if not 1.0 <= self.max_audio_seconds <= 11.6:
            raise RecipeError("xtts.max_audio_seconds must be between 1 and 11.6 (the GPT's limit).")
        if not 0.5 <= self.min_conditioning_seconds <= self.max_conditioning_seconds <= 12.0:
            raise RecipeError("xtts conditioning seconds must satisfy 0.5 <= min <= max <= 12.")
        if self.loader_workers < 0:
            raise RecipeError("xtts.loader_workers must be 0 or more.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> XttsRecipe:
        """The ``[xtts]`` table; unknown keys and wrong types are errors."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise RecipeError(f"Unknown key(s) in [xtts]{where}: {', '.join(unknown)}. Known: {', '.join(known)}.")
        defaults = cls()
        values = {k: _typed(v, getattr(defaults, k), k, where) for k, v in data.items()}
        return cls(**values)

    @classmethod
    def coerce(cls, recipe: Any) -> XttsRecipe:
        """An :class:`XttsRecipe` from what the CLI holds: a loaded ``Recipe``, its name or path, or a dict."""
        if isinstance(recipe, XttsRecipe):
            return recipe
        if recipe is None:
            recipe = "xtts-v2"
        if isinstance(recipe, (str, os.PathLike)):
            from .recipes import load_recipe

            recipe = load_recipe(recipe)
        if isinstance(recipe, Mapping):
            data = dict(recipe)
            if "schema_version" not in data:  # the [xtts] table on its own
                return cls.from_dict(data)
            from .recipes import Recipe

            recipe = Recipe.from_dict(data)
        model = getattr(recipe, "model", None)
        where = f" in {recipe.source}" if getattr(recipe, "source", "") else ""
        if model != "xtts":
            raise RecipeError(f"The recipe{where} is for model {model!r}, not 'xtts'.")
        sections = dict(getattr(recipe, "sections", {}) or {})
        extra = sorted(set(sections) - {SECTION})
        if extra:
            raise RecipeError(f"Unknown section(s){where}: {', '.join(extra)}. An XTTS recipe has [xtts] only.")
        table = sections.get(SECTION, {})
        if not isinstance(table, Mapping):
            raise RecipeError(f"[xtts]{where} must be a table.")
        return cls.from_dict(table, where)

    def epochs_for(self, n_train: int) -> int:
        """Epochs to run for ``n_train`` training clips (see the field comments)."""
        batches = max(1, math.ceil(n_train / self.batch_size))
        updates = max(1, batches // self.grad_accum_steps)
        return min(self.max_epochs, max(self.epochs, math.ceil(self.min_steps / updates)))


def _typed(value: Any, default: Any, key: str, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise RecipeError(f"xtts.{key}{where} must be true or false, not {value!r}.")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"xtts.{key}{where} must be a whole number, not {value!r}.")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"xtts.{key}{where} must be a number, not {value!r}.")
        return float(value)
    if not isinstance(value, str):
        raise RecipeError(f"xtts.{key}{where} must be a string, not {value!r}.")
    return value
