"""The speaker-consistency loss on real speech: it hears who is speaking, and its gradient reaches the decoder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import LJSPEECH
from tests.helpers.real_speech import clips
from tests.helpers.train_data import one_thread_session_home, write_recipe  # noqa: F401 (autouse)

pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")
pytest.importorskip("resemblyzer", reason="resemblyzer is not installed")

RATE = 22050
SEGMENT = 8192  # what the decoder produces per clip and step at segment_frames = 32


def _segments(name: str, count: int, offset: int = RATE // 2) -> Any:
    """``count`` training-sized segments (batch x 1 x samples at 22.05 kHz) of a real speaker's clips."""
    import torch

    from voicebank.audio import resample

    out = []
    for samples, rate in clips(name, count, min_seconds=2.0):
        wav = resample(samples, rate, RATE) if rate != RATE else samples
        out.append(torch.from_numpy(np.asarray(wav[offset:offset + SEGMENT], dtype=np.float32)))
    return torch.stack(out)[:, None]


def test_the_loss_is_lower_for_the_same_speaker_than_for_another_on_real_segments() -> None:
    from voicebank.train.speaker_loss import SpeakerConsistency

    loss = SpeakerConsistency(RATE, weight=1.0)
    woman = _segments("ljspeech", 4)
    assert loss(woman, woman).item() == pytest.approx(0.0, abs=1e-5)
    # each of her segments against another of her sentences, and against a man's
    same = np.mean([loss(woman, woman.roll(k, 0)).item() for k in (1, 2, 3)])
    other = loss(woman, _segments("pocketsphinx-man", 4)).item()
    assert 0.05 < same < other - 0.08, (same, other)
    assert SpeakerConsistency(RATE, weight=9.0)(woman, woman.roll(1, 0)).item() == pytest.approx(9.0 * loss(woman, woman.roll(1, 0)).item(), rel=1e-5)


def test_the_loss_gives_the_generated_audio_a_gradient_and_the_recording_none() -> None:
    from voicebank.train.speaker_loss import SpeakerConsistency

    loss = SpeakerConsistency(RATE, weight=1.0)
    recording = _segments("ljspeech", 2).requires_grad_(True)
    generated = (_segments("pocketsphinx-man", 2) * 0.5).requires_grad_(True)
    loss(recording, generated).backward()
    assert recording.grad is None
    assert generated.grad is not None and float(generated.grad.abs().sum()) > 0


@pytest.mark.skipif(not (LJSPEECH / "metadata.csv").is_file(), reason=f"real recordings not available: {LJSPEECH} is absent")
def test_speaker_loss_weight_adds_a_trained_term_that_is_never_saved_with_the_voice(tmp_path: Path) -> None:
    """training.speaker_loss_weight adds ``loss_speaker`` to the generator's loss while training only;
    it moves the decoder, and the speaker encoder is not part of the model's weights."""
    import torch

    from tests.test_train_vits import _one_clip_batch
    from voicebank.train import vits
    from voicebank.train.recipes import RecipeError, load_recipe

    torch.manual_seed(0)
    recipe = load_recipe(write_recipe(tmp_path / "s.toml", training={"speaker_loss_weight": 9.0}))
    config = vits.build_config(recipe, None, tmp_path / "out")
    model = vits.make_model(config, recipe).train()
    criteria = model.get_criterion()
    batch = _one_clip_batch(model, config)
    model.train_step(batch, criteria[0], optimizer_idx=0)
    _, losses = model.train_step(batch, criteria[1], optimizer_idx=1)
    speaker = losses["loss_speaker"]
    assert 0.0 < speaker.item() < 9.0 * 2  # 1 - cosine lies in [0, 2]
    parts = ("loss_kl", "loss_feat", "loss_mel", "loss_gen", "loss_duration")
    assert losses["loss"].item() == pytest.approx(sum(losses[k].item() for k in parts) + speaker.item(), rel=1e-5)
    model.zero_grad()
    speaker.backward()
    moved = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert "waveform_decoder" in moved and "text_encoder" not in moved
    assert not any("speaker_loss" in k or "lstm" in k for k in model.state_dict())

    model.eval()
    with torch.no_grad():
        model.train_step(batch, criteria[0], optimizer_idx=0)
        _, held_out = model.train_step(batch, criteria[1], optimizer_idx=1)
    assert "loss_speaker" not in held_out  # the held-out loss stays comparable with and without it
    with pytest.raises(RecipeError, match="speaker_loss_weight"):
        load_recipe(write_recipe(tmp_path / "n.toml", training={"speaker_loss_weight": -1.0}))
