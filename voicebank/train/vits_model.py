"""The trainable VITS: Coqui's model with a prior-path loss, a speaker-consistency loss, frozen parts and small discriminators.

:class:`VoicebankVits` is what :mod:`.finetune` trains and :mod:`.export` exports;
:func:`make_model` builds it from a config and a recipe, :func:`generator_state` keeps
the weights needed to speak.

This module imports Coqui TTS and torch; import it lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.models.vits import Vits

from ..errors import UsageError
from .recipes import Recipe


class VoicebankVits(Vits):
    """Coqui's VITS without its dashboard side work (figures, test sentences).

    Coqui would plot spectrograms and synthesize ``test_sentences`` from raw text at every
    evaluation; here the text is phonemes and nobody reads the dashboard, so those hooks
    do nothing.
    """

    def __init__(
        self,
        config: VitsConfig,
        discriminator_width: int = 0,
        freeze: Sequence[str] = (),
        prior_decoder_weight: float = 0.0,
        prior_noise_scale: float = 0.667,
        anchor_weight: float = 0.0,
        anchor_decay: float = 0.0,
        speaker_loss_weight: float = 0.0,
    ) -> None:
        super().__init__(config)
        self.speaker_loss: Any = None
        if speaker_loss_weight > 0:
            from .speaker_loss import SpeakerConsistency

            # kept out of the module tree, so it is neither trained nor saved with the voice
            self.__dict__["speaker_loss"] = SpeakerConsistency(config.audio.sample_rate, speaker_loss_weight)
        self.anchor_weight = float(anchor_weight)
        self.anchor_decay = float(anchor_decay)
        self._anchor: dict[str, Any] = {}  # name -> the base's value, for the L2-SP penalty
        self.prior_decoder_weight = float(prior_decoder_weight)
        self.prior_noise_scale = float(prior_noise_scale)
        if discriminator_width and getattr(self, "disc", None) is not None:
            import torch.nn as nn

            periods = self.args.periods_multi_period_discriminator
            self.disc.nets = nn.ModuleList(_small_period_discriminator(p, discriminator_width) for p in periods)
        # Every frozen part or module is fixed from the start; Coqui's flags (build_config) fix
        # the whole parts again at each epoch start.
        for path in freeze:
            try:
                module = self.get_submodule(path)
            except AttributeError:
                raise UsageError(f"training.freeze: this model has no module {path!r}.") from None
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: Any, x_lengths: Any, y: Any, y_lengths: Any, waveform: Any, aux_input: Any = None) -> dict[str, Any]:
        """Coqui's training forward; with ``prior_decoder_weight`` also the decoder's output from the prior.

        The prior path is the one new text takes at inference: a latent sampled from the
        text encoder's ``m_p``/``logs_p`` (here expanded to the recording's frames by this
        step's alignment, so it lines up with the real audio), the flow in reverse, the
        decoder. The same frames as the posterior path's segment are decoded; only the
        decoder gets gradients from it (the latent is computed without them).
        """
        outputs = super().forward(x, x_lengths, y, y_lengths, waveform, aux_input=aux_input)
        if self.training and self.prior_decoder_weight > 0:
            import torch
            from TTS.tts.utils.helpers import segment, sequence_mask

            with torch.no_grad():
                m_p, logs_p = outputs["m_p"], outputs["logs_p"]
                y_mask = sequence_mask(y_lengths, m_p.size(2)).unsqueeze(1).to(m_p.dtype)
                z_p = (m_p + torch.randn_like(m_p) * torch.exp(logs_p) * self.prior_noise_scale) * y_mask
                z = self.flow(z_p, y_mask, g=None, reverse=True)
                z_slice = segment(z, outputs["slice_ids"], self.spec_segment_size, pad_short=True)
            outputs["prior_outputs"] = self.waveform_decoder(z_slice, g=None)
        return outputs

    def set_anchor(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Remember the trainable generator weights (now, or ``values``) as the L2-SP anchor; returns it.

        Called right after the base's weights are loaded; a resumed run passes the anchor it
        saved then, so the penalty always pulls toward the base, never toward a checkpoint.
        """
        if values is None:
            values = {n: p.detach().clone() for n, p in self._anchored_parameters()}
        missing = [n for n, _ in self._anchored_parameters() if n not in values]
        if missing:
            raise UsageError(f"The saved anchor lacks {len(missing)} trained weights (first: {missing[0]}); start the run again.")
        self._anchor = {n: v.detach() for n, v in values.items()}
        return self._anchor

    def _anchored_parameters(self) -> list[tuple[str, Any]]:
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad and not n.startswith("disc.")]

    def anchor_loss(self) -> Any:
        """``anchor_weight`` * the squared distance of the trained generator weights from the anchor."""
        import torch

        total = torch.zeros(())
        for name, param in self._anchored_parameters():
            total = total.to(param.device) + torch.sum((param - self._anchor_on(name, param)) ** 2)
        return total * self.anchor_weight

    def pull_toward_anchor(self) -> None:
        """Decoupled L2-SP: move each trained generator weight ``anchor_decay`` of the way back to the anchor."""
        if self.anchor_decay <= 0 or not self._anchor:
            return
        import torch

        with torch.no_grad():
            for name, param in self._anchored_parameters():
                param.lerp_(self._anchor_on(name, param), self.anchor_decay)

    def _anchor_on(self, name: str, param: Any) -> Any:
        """The anchor of ``name`` on ``param``'s device, moved there once (not copied at every step)."""
        base = self._anchor[name]
        if base.device != param.device:
            base = self._anchor[name] = base.to(param.device)
        return base

    def train_step(self, batch: dict[str, Any], criterion: Any, optimizer_idx: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Coqui's step; the generator's step adds the prior path's mel loss (``loss_prior_mel``) and
        the L2-SP penalty (``loss_anchor``) and the speaker-consistency loss (``loss_speaker``)
        when they are on."""
        outputs, loss_dict = super().train_step(batch, criterion, optimizer_idx)
        if optimizer_idx == 1 and self.training and self.speaker_loss is not None:
            loss = self.speaker_loss(outputs["waveform_seg"], outputs["model_outputs"])
            loss_dict["loss_speaker"] = loss
            loss_dict["loss"] = loss_dict["loss"] + loss
        if optimizer_idx == 1 and self.training and self.anchor_weight > 0 and self._anchor:
            loss = self.anchor_loss()
            loss_dict["loss_anchor"] = loss
            loss_dict["loss"] = loss_dict["loss"] + loss
        if optimizer_idx == 1 and outputs.get("prior_outputs") is not None:
            import torch
            from TTS.tts.models.vits import wav_to_mel
            from TTS.tts.utils.helpers import segment

            audio = self.config.audio
            mel = segment(batch["mel"].float(), outputs["slice_ids"], self.spec_segment_size, pad_short=True)
            mel_hat = wav_to_mel(
                y=outputs["prior_outputs"].float(), n_fft=audio.fft_size, sample_rate=audio.sample_rate,
                num_mels=audio.num_mels, hop_length=audio.hop_length, win_length=audio.win_length,
                fmin=audio.mel_fmin, fmax=audio.mel_fmax, center=False,
            )
            loss = torch.nn.functional.l1_loss(mel_hat, mel) * self.config.mel_loss_alpha * self.prior_decoder_weight
            loss_dict["loss_prior_mel"] = loss
            loss_dict["loss"] = loss_dict["loss"] + loss
        return outputs, loss_dict

    def train_log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def eval_log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def test_run(self, trainer: Any) -> dict[str, Any]:
        return {"figures": {}, "audios": {}}

    def test_log(self, *args: Any, **kwargs: Any) -> None:
        return None


def make_model(config: VitsConfig, recipe: Recipe | None = None) -> VoicebankVits:
    """The trainable model of ``config``; a tiny recipe may ask for small discriminators."""
    if recipe is None:
        return VoicebankVits(config)
    if recipe.vits is not None and recipe.vits.discriminator_width:
        width = recipe.vits.discriminator_width
    else:
        width = recipe.training.discriminator_width
    return VoicebankVits(
        config,
        discriminator_width=width,
        freeze=recipe.training.freeze,
        prior_decoder_weight=recipe.training.prior_decoder_weight,
        prior_noise_scale=recipe.inference.noise_scale,
        anchor_weight=recipe.training.anchor_weight,
        anchor_decay=recipe.training.anchor_decay,
        speaker_loss_weight=recipe.training.speaker_loss_weight,
    )


def generator_state(model: Any) -> dict[str, Any]:
    """The weights needed to speak (everything but the discriminator), as CPU tensors."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if not k.startswith("disc.")}


def _small_period_discriminator(period: int, width: int) -> Any:
    """A narrow HiFi-GAN-style period discriminator (for tiny CPU models only).

    Like Coqui's ``DiscriminatorP`` it folds the waveform into ``period`` columns, runs
    strided (5, 1) convolutions down the time axis and returns ``(scores, features)``;
    its channels are ``width``, ``2*width``, ``4*width`` instead of 32 … 1024.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.nn.utils.parametrizations import weight_norm

    class SmallPeriodDiscriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.period = period
            chans = [1, width, 2 * width, 4 * width, 4 * width]
            self.convs = nn.ModuleList(
                weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3, 1) if i < 3 else (1, 1), padding=(2, 0)))
                for i in range(len(chans) - 1)
            )
            self.conv_post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

        def forward(self, x: Any) -> tuple[Any, list[Any]]:
            b, c, t = x.shape
            if t % self.period:
                x = F.pad(x, (0, self.period - t % self.period), "reflect")
            x = x.view(b, c, -1, self.period)
            feats = []
            for conv in self.convs:
                x = F.leaky_relu(conv(x), 0.1)
                feats.append(x)
            x = self.conv_post(x)
            feats.append(x)
            return torch.flatten(x, 1, -1), feats

    return SmallPeriodDiscriminator()
