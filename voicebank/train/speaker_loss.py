"""A speaker-consistency loss: the generated clip should sound like the same speaker as the recording.

YourTTS's speaker consistency loss, with resemblyzer's d-vector encoder (its weights ship in
the PyPI package) instead of Coqui's hub-hosted one: each generator step embeds the recording's
segment and the decoder's output of it, and the loss is the weight times one minus their cosine.
It is differentiable end to end (resampling, mel filterbank and LSTM in torch), so it reaches
the decoder and whatever feeds it. ``train eval`` reports likeness with ECAPA, a different and
stronger verifier; resemblyzer, which this loss optimises, is only reported beside it.

This module imports torch, torchaudio and resemblyzer; import it lazily.
"""

from __future__ import annotations

from typing import Any

import torch
import torchaudio
from torch import nn

_RATE = 16000  # resemblyzer's sampling rate, 25 ms windows, 10 ms hop, 40 mel bands (its hparams)
_TARGET_RMS = 10 ** (-30 / 20)  # resemblyzer normalises every input to -30 dBFS


class SpeakerConsistency(nn.Module):
    """``weight * (1 - cos(d(recording), d(generated)))`` over a batch of waveform segments."""

    def __init__(self, sample_rate: int, weight: float) -> None:
        super().__init__()
        from resemblyzer import VoiceEncoder

        self.weight = float(weight)
        self.sample_rate = int(sample_rate)
        encoder = VoiceEncoder(device="cpu", verbose=False)
        for param in encoder.parameters():
            param.requires_grad = False
        self.encoder = encoder.eval()
        # librosa's defaults, as resemblyzer computes its (power, not log) mel spectrogram
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=_RATE, n_fft=400, hop_length=160, n_mels=40, power=2.0,
            norm="slaney", mel_scale="slaney", pad_mode="constant",
        )

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        """L2-normed d-vectors of ``wav`` (batch x samples at ``sample_rate``)."""
        wav = torchaudio.functional.resample(wav, self.sample_rate, _RATE)
        rms = wav.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-10).sqrt()
        wav = wav * (_TARGET_RMS / rms)
        mels = self.mel(wav).transpose(1, 2)  # batch x frames x 40
        _, (hidden, _) = self.encoder.lstm(mels)
        embeds = self.encoder.relu(self.encoder.linear(hidden[-1]))
        return embeds / embeds.norm(dim=1, keepdim=True).clamp_min(1e-8)

    def forward(self, recording: Any, generated: Any) -> torch.Tensor:
        """The loss for batch x 1 x samples segments; only ``generated`` carries gradients."""
        self.encoder.to(generated.device)
        self.mel.to(generated.device)
        with torch.no_grad():
            target = self.embed(recording.squeeze(1).float())
        produced = self.embed(generated.squeeze(1).float())
        return self.weight * (1.0 - (target * produced).sum(dim=1)).mean()
