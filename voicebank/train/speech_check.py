"""Listen to the voice while it trains: speak the held-out texts and score them.

The held-out loss that decides the best model (Coqui's ``loss_mel``) is measured with the
real recording's own latent (the posterior path), so it says how well the decoder
reproduces a recording, not how the voice *speaks a new sentence* (text encoder →
duration predictor → flow → decoder, the path users hear). On a small bank the two can
part: the held-out loss keeps falling while new sentences slur. With
``training.speak_held_out = true`` every evaluation also speaks each held-out text
through the inference path and scores it exactly as ``voicebank train eval`` does
(Resemblyzer similarity to the real held-out recordings, PocketSphinx WER), so the
training log holds the curve of what matters.

Synthesis uses the recipe's ``[inference]`` settings, those the exported voice will speak
with (Piper's noise 0.667 and duration noise 0.8 unless the recipe says otherwise), with a
fixed seed per sentence, so two evaluations differ because the model changed, not because
the noise did; torch's random state is put back afterwards, so training draws the same
random numbers with or without the check.

Responsible for: phoneme ids of the held-out texts (once), speaking them with the model in
inference mode, scoring. Not responsible for choosing the best model (the recipe's
early-stopping metric still does that) or for files (the fine-tuner logs the numbers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .eval_scoring import HeldOutScorer
from .piper_import import coqui_speak
from .recipes import InferenceSettings

SEED = 20261202  # any fixed number: the same noise at every evaluation


class SpeechCheck:
    """Speaks a dataset's held-out texts with a training VITS and scores similarity and WER."""

    def __init__(
        self, dataset_dir: Path, espeak_voice: str, sample_rate: int, inference: InferenceSettings = InferenceSettings()
    ) -> None:
        from .vits import text_ids

        self.scorer = HeldOutScorer(dataset_dir)
        self.sample_rate = int(sample_rate)
        self.inference = inference
        texts = [r.utt.normalized for r in self.scorer.reals]
        self._ids = dict(zip(texts, text_ids(texts, espeak_voice)))
        self._seeds = {text: SEED + i for i, text in enumerate(texts)}

    def __call__(self, model: Any) -> dict[str, float | None]:
        """``{"similarity", "wer"}`` of ``model`` on the held-out texts (means, as in ``eval.json``)."""
        import torch

        state = torch.get_rng_state()
        was_training = model.training
        model.eval()
        try:
            result = self.scorer.score(lambda text: self._speak(model, text), warm_up=False)
        finally:
            torch.set_rng_state(state)
            model.train(was_training)
        mean = result["mean"]
        return {"similarity": mean["similarity"], "wer": mean["wer"]}

    def _speak(self, model: Any, text: str) -> tuple[np.ndarray, int]:
        import torch

        torch.manual_seed(self._seeds[text])
        audio = coqui_speak(
            model,
            self._ids[text],
            noise_scale=self.inference.noise_scale,
            noise_scale_dp=self.inference.noise_w,
            length_scale=self.inference.length_scale,
        )
        return audio, self.sample_rate
