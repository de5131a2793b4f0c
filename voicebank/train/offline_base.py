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

This module owns the build as a resumable job (:class:`BaseBuilder`, :func:`build_base`):
its stages, state, log and the base's files. :mod:`.offline_base_settings` holds what a
build is asked to do and reports; :mod:`.offline_base_training` the clips, losses and measures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import read_json_dict
from ..errors import BaseBuildError, CorruptFileError, UsageError
from .checkpoints import write_atomic, write_atomic_json
from .offline_base_settings import (
    BASE_NAME,
    LICENCE_NOTE,
    BuildEvent,
    BuildSettings,
    EventCallback,
    default_base_dir,
    disk_error,
)
from .offline_base_training import Clip, crop_batch, load_clips, measure, set_trainable, stage_loss, synthesize_clips

__all__ = ["LICENCE_NOTE", "BaseBuilder", "BuildEvent", "BuildSettings", "build_base", "default_base_dir"]

IMPORT_CHECK_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "On Tuesday at three, we met by the river and talked for hours about nothing at all.",
    "Could you pass me the glass of water, please?",
]


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

        from voicebank.bank.prompts import load_script
        from voicebank.voice.registry import stock_voice

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
        measures = measure(model, held_out)
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
            write_atomic_json(path, mine, disk_error)

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
            write_atomic_json(check_file, check, disk_error)
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
        write_atomic(self.state_path, lambda tmp: torch.save(blob, tmp), disk_error)


    def _train_stage(self, model: Any, stage: str, clips: list[Clip], start: int, state: dict[str, Any] | None) -> None:
        import torch

        from .checkpoints import append_log

        s = self.settings
        total = s.posterior_steps if stage == "posterior" else s.discriminator_steps
        params = set_trainable(model, stage)
        opt, rng = self._optimizer(params, stage, state)
        self._emit("stage", stage, start, total, message=f"Training the {stage} stage ({total} steps)")
        hop = model.config.audio.hop_length
        model.train()
        for part in (model.text_encoder, model.flow, model.waveform_decoder):
            part.eval()  # frozen and imported: no dropout
        started = time.monotonic()
        for step in range(start + 1, total + 1):
            idx = [int(i) for i in rng.choice(len(clips), size=min(s.batch_size, len(clips)), replace=False)]
            batch = crop_batch(clips, idx, s.crop_frames, hop, rng)
            opt.zero_grad(set_to_none=True)
            loss, values = stage_loss(model, stage, clips, idx, batch, s, rng)
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

    def _optimizer(self, params: list[Any], stage: str, state: dict[str, Any] | None) -> tuple[Any, np.random.Generator]:
        """The stage's optimizer and batch sampler: fresh and seeded, or as the saved state left them."""
        import torch

        s = self.settings
        opt = torch.optim.AdamW(params, lr=s.lr, betas=(0.8, 0.99), eps=1e-9)
        rng = np.random.default_rng(s.seed + (0 if stage == "posterior" else 1))
        if state is not None:
            opt.load_state_dict(state["optimizer"])
            rng.bit_generator.state = state["rng"]
            torch.set_rng_state(state["torch_rng"])
        else:
            torch.manual_seed(s.seed + (0 if stage == "posterior" else 1))
        return opt, rng

    def _write_base(self, model: Any, config: Any, voice: Any, measures: dict[str, Any]) -> None:
        import torch

        from voicebank.voice.registry import file_sha256

        config.model_args.init_discriminator = True
        state = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
        write_atomic(self.out / "model.pth", lambda tmp: torch.save(state, tmp), disk_error)
        blob = config.to_json()
        write_atomic(self.out / "config.json", lambda tmp: tmp.write_text(blob, encoding="utf-8"), disk_error)
        write_atomic_json(self.out / "base.json", {
            "name": BASE_NAME,
            "source_voice": str(voice.model.name),
            "source_sha256": file_sha256(voice.model),
            "settings": self.settings.to_dict(),
            "measures": measures,
            "licence": LICENCE_NOTE,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }, disk_error)


def build_base(out: Path | None = None, settings: BuildSettings | None = None,
               on_event: EventCallback | None = None) -> Path:
    """Build (or resume building) the offline base in ``out`` (default: voicebank's base folder)."""
    target = Path(out).expanduser() if out is not None else default_base_dir()
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file; give a folder for the base.")
    return BaseBuilder(target, settings, on_event).run()
