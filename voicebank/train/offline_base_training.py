"""What the offline base build trains on and against: the stock voice's synthesized clips (one cached file each), their random batches, each stage's trainable parts and losses, and the held-out measures."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BaseBuildError
from .checkpoints import write_atomic
from .offline_base_settings import BuildEvent, BuildSettings, EventCallback, disk_error


# ----------------------------------------------------------------------------- synthesized data


@dataclass
class Clip:
    """One synthesized clip, as the build trains on it."""

    ids: np.ndarray  # phoneme ids (Piper's), int64 [L]
    durations: np.ndarray  # frames per id, float32 [L]
    z: np.ndarray  # latent the decoder was given, float32 [C, T]
    audio: np.ndarray  # float32 [T * hop]


def _clip_path(folder: Path, i: int) -> Path:
    return folder / f"clip_{i:05d}.npz"


def synthesize_clips(model: Any, settings: BuildSettings, folder: Path, on_event: EventCallback) -> int:
    """Let the imported stock voice speak the first prompts; keep audio, latent and durations.

    Each clip is its own file, written atomically, so a killed build resumes at the first
    missing clip. Sentences come from voicebank's prompt script (written for this project).
    """
    import torch

    from voicebank.bank.prompts import load_script
    from voicebank.engines.piper_onnx import PiperOnnxEngine
    from voicebank.voice.registry import stock_voice

    folder.mkdir(parents=True, exist_ok=True)
    prompts = load_script()[: settings.sentences]
    engine = PiperOnnxEngine(stock_voice(), streaming=False)
    rng = random.Random(settings.seed)
    scales = [rng.uniform(*settings.length_scales) for _ in prompts]
    hop = model.config.audio.hop_length
    made = 0
    for i, prompt in enumerate(prompts):
        path = _clip_path(folder, i)
        if path.is_file():
            continue
        phonemes = [p for sentence in engine.phonemize(prompt.text) for p in sentence]
        ids, _ = engine.phoneme_ids(phonemes)
        torch.manual_seed(settings.seed + i)
        saved = model.length_scale
        model.length_scale = scales[i]
        try:
            with torch.inference_mode():
                out = model.inference(torch.tensor([ids]), aux_input={"x_lengths": torch.tensor([len(ids)])})
        finally:
            model.length_scale = saved
        z = out["z"][0].numpy().astype(np.float16)
        audio = out["model_outputs"].reshape(-1).numpy()
        audio = audio[: z.shape[1] * hop]
        blob = {
            "ids": np.asarray(ids, dtype=np.int16),
            "durations": out["durations"].reshape(-1).numpy().astype(np.int16),
            "z": z,
            "audio": np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16),
        }

        def write(tmp: Path, blob: dict[str, np.ndarray] = blob) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **blob)

        write_atomic(path, write, disk_error)
        made += 1
        on_event(BuildEvent("step", "synth", i + 1, len(prompts)))
    return made


def load_clips(folder: Path, count: int) -> list[Clip]:
    """The first ``count`` synthesized clips in ``folder``; an unreadable one is a :class:`BaseBuildError`."""
    clips = []
    for i in range(count):
        path = _clip_path(folder, i)
        try:
            with np.load(path) as d:
                clips.append(Clip(
                    ids=d["ids"].astype(np.int64),
                    durations=d["durations"].astype(np.float32),
                    z=d["z"].astype(np.float32),
                    audio=d["audio"].astype(np.float32) / 32767.0,
                ))
        except (OSError, ValueError, KeyError) as exc:
            raise BaseBuildError(f"The synthesized clip {path} is unreadable ({exc}); delete it and run again.") from exc
    return clips


# ----------------------------------------------------------------------------- batches and losses


def crop_batch(clips: list[Clip], idx: list[int], frames: int, hop: int, rng: np.random.Generator) -> tuple[Any, Any, Any]:
    """Random windows of ``frames`` latent frames: (audio [B,1,frames*hop], z [B,C,frames], lengths)."""
    import torch

    audio = np.zeros((len(idx), 1, frames * hop), dtype=np.float32)
    z = np.zeros((len(idx), clips[idx[0]].z.shape[0], frames), dtype=np.float32)
    lengths = np.zeros(len(idx), dtype=np.int64)
    for row, i in enumerate(idx):
        c = clips[i]
        total = c.z.shape[1]
        n = min(frames, total)
        start = int(rng.integers(0, total - n + 1))
        z[row, :, :n] = c.z[:, start : start + n]
        audio[row, 0, : n * hop] = c.audio[start * hop : (start + n) * hop]
        lengths[row] = n
    return torch.from_numpy(audio), torch.from_numpy(z), torch.from_numpy(lengths)


def _spec(model: Any, audio: Any) -> Any:
    from TTS.utils.audio.torch_transforms import wav_to_spec

    ac = model.config.audio
    return wav_to_spec(audio, ac.fft_size, ac.hop_length, ac.win_length, center=False)


def _mel(model: Any, audio: Any) -> Any:
    from TTS.utils.audio.torch_transforms import wav_to_mel

    ac = model.config.audio
    return wav_to_mel(audio, ac.fft_size, ac.num_mels, ac.sample_rate, ac.hop_length, ac.win_length,
                      ac.mel_fmin, ac.mel_fmax, center=False)


def posterior_losses(model: Any, audio: Any, z: Any, lengths: Any, settings: BuildSettings,
                     rng: np.random.Generator) -> dict[str, Any]:
    """NLL of the known latent under the posterior, and mel L1 of its reconstruction by the frozen decoder."""
    import torch
    import torch.nn.functional as F

    spec = _spec(model, audio)[:, :, : z.shape[2]]
    z_q, m_q, logs_q, mask = model.posterior_encoder(spec, lengths)
    nll = _latent_nll(z, m_q, logs_q) * mask
    loss_nll = nll.sum() / (mask.sum() * z.shape[1])
    hop = model.config.audio.hop_length
    seg = settings.segment_frames
    starts = [int(rng.integers(0, max(1, int(n) - seg + 1))) for n in lengths]
    z_seg = torch.stack([z_q[b, :, s : s + seg] for b, s in enumerate(starts)])
    y_seg = torch.stack([audio[b, :, s * hop : (s + seg) * hop] for b, s in enumerate(starts)])
    y_hat = model.waveform_decoder(z_seg)
    loss_mel = F.l1_loss(_mel(model, y_hat), _mel(model, y_seg))
    return {"loss_nll": loss_nll, "loss_mel": loss_mel, "y_hat": y_hat, "y": y_seg}


def duration_loss(model: Any, clips: list[Clip], idx: list[int]) -> Any:
    """The stochastic duration predictor's training loss on known durations (text encoder frozen)."""
    import torch

    n = max(len(clips[i].ids) for i in idx)
    ids = torch.zeros(len(idx), n, dtype=torch.long)
    dur = torch.zeros(len(idx), 1, n)
    lengths = torch.zeros(len(idx), dtype=torch.long)
    for row, i in enumerate(idx):
        k = len(clips[i].ids)
        ids[row, :k] = torch.from_numpy(clips[i].ids)
        dur[row, 0, :k] = torch.from_numpy(clips[i].durations)
        lengths[row] = k
    with torch.no_grad():
        x, _, _, x_mask = model.text_encoder(ids, lengths)
    nll = model.duration_predictor(x, x_mask, dur * x_mask, g=None)
    return torch.sum(nll) / torch.sum(x_mask)


def discriminator_loss(model: Any, y: Any, y_hat: Any) -> Any:
    """Least-squares GAN loss of the discriminator: real audio towards 1, the reconstruction towards 0."""
    scores_real, _, scores_fake, _ = model.disc(y, y_hat.detach())
    loss = 0.0
    for r, f in zip(scores_real, scores_fake):
        loss = loss + ((1 - r) ** 2).mean() + (f**2).mean()
    return loss


def _latent_nll(z: Any, m_q: Any, logs_q: Any) -> Any:
    """Gaussian negative log-likelihood of ``z`` under the posterior's mean and log-scale, per element."""
    import torch

    return logs_q + 0.5 * ((z - m_q) * torch.exp(-logs_q)) ** 2 + 0.5 * math.log(2 * math.pi)


def stage_loss(model: Any, stage: str, clips: list[Clip], idx: list[int], batch: tuple[Any, Any, Any],
               settings: BuildSettings, rng: np.random.Generator) -> tuple[Any, dict[str, float]]:
    """One step's loss of ``stage`` on a cropped batch of ``clips[idx]``, and the values to log."""
    import torch

    audio, z, lengths = batch
    if stage == "posterior":
        out = posterior_losses(model, audio, z, lengths, settings, rng)
        loss_dur = duration_loss(model, clips, idx)
        loss = out["loss_nll"] + settings.mel_weight * out["loss_mel"] + loss_dur
        return loss, {"loss_nll": out["loss_nll"].item(), "loss_mel": out["loss_mel"].item(), "loss_dur": loss_dur.item()}
    with torch.no_grad():
        out = posterior_losses(model, audio, z, lengths, settings, rng)
    loss = discriminator_loss(model, out["y"], out["y_hat"])
    return loss, {"loss_disc": float(loss.item())}


# ----------------------------------------------------------------------------- trainable parts


def set_trainable(model: Any, stage: str) -> list[Any]:
    """Freeze the imported generator; return the parameters one stage trains."""
    for p in model.parameters():
        p.requires_grad_(False)
    if stage == "posterior":
        params = list(model.posterior_encoder.parameters())
        dp = model.duration_predictor
        for name in ("post_pre", "post_proj", "post_convs", "post_flows"):
            params += list(getattr(dp, name).parameters())
        params += list(dp.flows[1].parameters())
    elif stage == "discriminator":
        params = list(model.disc.parameters())
    else:
        raise BaseBuildError(f"Unknown build stage {stage!r}; delete the build's work folder to start over.")
    for p in params:
        p.requires_grad_(True)
    return params


# ----------------------------------------------------------------------------- held-out measures


def measure(model: Any, clips: list[Clip]) -> dict[str, Any]:
    """Held-out synthesized clips: posterior NLL and mel L1 of the reconstruction (whole clips)."""
    import torch
    import torch.nn.functional as F

    nlls, mels = [], []
    with torch.inference_mode():
        for c in clips:
            audio = torch.from_numpy(c.audio)[None, None]
            z = torch.from_numpy(c.z)[None]
            spec = _spec(model, audio)[:, :, : z.shape[2]]
            _, m_q, logs_q, mask = model.posterior_encoder(spec, torch.tensor([z.shape[2]]))
            nlls.append(float(_latent_nll(z, m_q, logs_q).mean()))
            y_hat = model.waveform_decoder(m_q)
            mels.append(float(F.l1_loss(_mel(model, y_hat), _mel(model, audio[:, :, : y_hat.shape[-1]]))))
    return {"heldout_clips": len(clips), "heldout_nll": round(float(np.mean(nlls)), 4),
            "heldout_mel_l1": round(float(np.mean(mels)), 4)}
