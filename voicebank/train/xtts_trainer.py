"""Coqui's GPT trainer for XTTS fine-tuning: its config from the recipe and the base, the training run with its progress events, and its output kept off the screen."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..audio import PathLike
from ..errors import UsageError
from ..voice.bases import BaseModel
from ..voice.xtts_card import GPT_RATE
from .checkpoints import LOG_FILE as TRAIN_LOG  # one line of losses per evaluation, in the voice folder
from .coqui_trainer import env_var, no_stderr
from .events import TrainEvent
from .xtts_dataset import XttsSamples
from .xtts_recipe import XttsRecipe

RUN_NAME = "xtts-finetune"

def build_config(recipe: XttsRecipe, base: BaseModel, output_path: PathLike, epochs: int) -> Any:
    """Coqui's ``GPTTrainerConfig``: architecture from the base's config.json, choices from the recipe."""
    from TTS.tts.configs.xtts_config import XttsAudioConfig, XttsConfig
    from TTS.tts.layers.xtts.trainer.gpt_trainer import GPTArgs, GPTTrainerConfig

    base_config = XttsConfig()
    base_config.load_json(str(base.file("config")))
    known = {f.name for f in fields(GPTArgs)}
    args = GPTArgs(**{k: v for k, v in base_config.model_args.to_dict().items() if k in known})
    args.max_conditioning_length = int(recipe.max_conditioning_seconds * GPT_RATE)
    args.min_conditioning_length = int(recipe.min_conditioning_seconds * GPT_RATE)
    args.max_wav_length = int(recipe.max_audio_seconds * GPT_RATE)
    args.max_text_length = recipe.max_text_tokens
    args.mel_norm_file = str(base.file("mel_stats"))
    args.dvae_checkpoint = str(base.file("dvae"))
    args.xtts_checkpoint = str(base.file("model"))
    args.tokenizer_file = str(base.file("vocab"))
    args.gpt_checkpoint = ""
    args.gpt_use_masking_gt_prompt_approach = True
    audio = XttsAudioConfig(
        sample_rate=GPT_RATE, dvae_sample_rate=GPT_RATE, output_sample_rate=base_config.audio.output_sample_rate
    )
    return GPTTrainerConfig(
        output_path=str(output_path),
        run_name=RUN_NAME,
        project_name="voicebank",
        dashboard_logger="tensorboard",
        model_args=args,
        audio=audio,
        languages=list(base_config.languages),
        epochs=epochs,
        batch_size=recipe.batch_size,
        eval_batch_size=recipe.batch_size,
        num_loader_workers=recipe.loader_workers,
        num_eval_loader_workers=min(recipe.loader_workers, 1),
        print_step=25,
        plot_step=100,
        print_eval=False,
        run_eval=True,
        save_step=recipe.save_step,
        save_n_checkpoints=1,
        save_checkpoints=True,
        save_all_best=False,
        save_best_after=0,
        optimizer="AdamW",
        optimizer_wd_only_on_weights=True,  # single-GPU training, as in Coqui's recipe
        optimizer_params={"betas": [0.9, 0.96], "eps": 1e-8, "weight_decay": recipe.weight_decay},
        lr=recipe.lr,
        lr_scheduler="MultiStepLR",  # Coqui's milestones: constant rate for runs of this size
        lr_scheduler_params={"milestones": [50000 * 18, 150000 * 18, 300000 * 18], "gamma": 0.5, "last_epoch": -1},
        test_sentences=[],
        mixed_precision=recipe.mixed_precision,
        training_seed=recipe.seed,
    )


def train(config: Any, samples: XttsSamples, recipe: XttsRecipe, continue_run: Path | None, device: str,
          voice_dir: Path, emit: Callable[[TrainEvent], None], max_steps: int) -> tuple[Path, dict[str, Any]]:
    """Run Coqui's Trainer (quietly: its log goes to the run folder): its folder and a summary.

    The trainer (model, optimizer, data) is released before returning, so the export that
    follows has the GPU memory to itself.
    """
    progress = _Progress(emit, voice_dir / TRAIN_LOG, max_steps)
    planned_epochs = int(config.epochs)
    with quiet_training():
        trainer = _make_trainer(config, samples, recipe, continue_run, device, progress.callbacks())
        trainer.config.epochs = planned_epochs  # a resumed run loads its old config; the recipe decides
        try:
            # Trainer.fit() turns any exception into a printed traceback and sys.exit(1);
            # _fit() is the loop itself, so errors reach the caller as exceptions.
            trainer._fit()
        except KeyboardInterrupt:
            trainer.save_checkpoint()  # --resume continues from here
            raise
        finally:
            trainer.dashboard_logger.finish()
    best = trainer.best_loss.get("eval_loss") if isinstance(trainer.best_loss, dict) else None
    summary = {"steps": int(trainer.total_steps_done), "epochs": int(trainer.epochs_done) + 1,
               "best_eval_loss": _finite(best)}
    run_dir = Path(trainer.output_path)
    del trainer
    _free_memory()
    return run_dir, summary


def _make_trainer(config: Any, samples: XttsSamples, recipe: XttsRecipe, continue_run: Path | None, device: str,
                  callbacks: dict[str, Callable[[Any], None]]) -> Any:
    """Coqui's Trainer around a new GPTTrainer model (continuing ``continue_run`` when given)."""
    from trainer import Trainer, TrainerArgs
    from TTS.tts.layers.xtts.trainer.gpt_trainer import GPTTrainer

    gpu = int(device.split(":", 1)[1]) if device.startswith("cuda:") else None
    model = GPTTrainer(config)
    # Coqui's Trainer runs ``git branch`` when it resumes; outside a repository git's
    # "fatal: not a git repository" would land on the user's screen.
    with no_stderr():
        return Trainer(
            TrainerArgs(continue_path=str(continue_run or ""), grad_accum_steps=recipe.grad_accum_steps),
            config,
            output_path=config.output_path,
            model=model,
            train_samples=samples.train,
            eval_samples=samples.eval,
            parse_command_line_args=False,
            callbacks=callbacks,
            gpu=gpu,
        )


class _Progress:
    """The Trainer's callbacks: a step event per step; per epoch an eval event, a line in
    ``train_log.jsonl`` and a best event when the held-out loss improved."""

    def __init__(self, emit: Callable[[TrainEvent], None], log_path: Path, max_steps: int) -> None:
        self.emit = emit
        self.log_path = log_path
        self.max_steps = max_steps
        self.last: float | None = None  # when the previous step ended
        self.per_step: float | None = None  # smoothed seconds per step
        self.best = math.inf

    def callbacks(self) -> dict[str, Callable[[Any], None]]:
        return {"on_train_step_end": self.on_step, "on_epoch_end": self.on_epoch}

    def on_step(self, trainer: Any) -> None:
        now = time.monotonic()
        if self.last is not None:
            took = now - self.last
            self.per_step = took if self.per_step is None else 0.9 * self.per_step + 0.1 * took
        self.last = now
        avg = trainer.keep_avg_train.avg_values if trainer.keep_avg_train else {}
        step = int(trainer.total_steps_done)
        self.emit(TrainEvent("step", step=step, max_steps=max(self.max_steps, step), epoch=int(trainer.epochs_done) + 1,
                             epochs=int(trainer.config.epochs), loss_train=_finite(avg.get("avg_loss")),
                             lr=_finite(trainer.optimizer[0].param_groups[0]["lr"]), seconds_per_step=self.per_step))

    def on_epoch(self, trainer: Any) -> None:
        self.last = None  # evaluation time is not step time
        train = trainer.keep_avg_train.avg_values if trainer.keep_avg_train else {}
        held = trainer.keep_avg_eval.avg_values if trainer.keep_avg_eval else {}
        point = {"step": int(trainer.total_steps_done), "epoch": int(trainer.epochs_done) + 1,
                 "loss_train": _finite(train.get("avg_loss")), "loss_eval": _finite(held.get("avg_loss"))}
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(point) + "\n")
        epochs = int(trainer.config.epochs)
        self.emit(TrainEvent("eval", step=point["step"], max_steps=max(self.max_steps, point["step"]),
                             epoch=point["epoch"], epochs=epochs, loss_train=point["loss_train"],
                             loss_eval=point["loss_eval"] if point["loss_eval"] is not None else math.nan,
                             message=f"epoch {point['epoch']}/{epochs}"))
        best = trainer.best_loss.get("eval_loss") if isinstance(trainer.best_loss, dict) else None
        if best is not None and best < self.best:
            self.best = best
            self.emit(TrainEvent("best", step=point["step"], epoch=point["epoch"], loss_eval=_finite(best),
                                 path=Path(trainer.output_path) / "best_model.pth"))


def _free_memory() -> None:
    """Let go of what the trainer held: Python objects, then CUDA's cached blocks."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextmanager
def device_env(device: str | None) -> Iterator[None]:
    """``device="cpu"`` hides the GPUs (Coqui's Trainer uses CUDA whenever it sees one)."""
    if device != "cpu":
        yield
        return
    with env_var("CUDA_VISIBLE_DEVICES", ""):
        import torch

        if torch.cuda.is_available():
            raise UsageError(
                "CUDA was already started in this process, so training cannot be moved to the CPU; "
                "run the command again with CUDA_VISIBLE_DEVICES= set."
            )
        yield


@contextmanager
def quiet_training() -> Iterator[None]:
    """The Trainer logs to the screen and to its run folder; keep only the file (no prints).

    transformers' and Coqui's own warnings (e.g. GPT-2 config notes) are held back too.
    """
    log = logging.getLogger("trainer")
    before = list(log.handlers)
    screen = [h for h in before if type(h) is logging.StreamHandler]
    for h in screen:
        log.removeHandler(h)
    from ..engines.xtts import quiet_coqui  # training may use inference code, not the reverse

    try:
        with quiet_coqui():
            yield
    finally:
        for h in [h for h in log.handlers if h not in before]:
            log.removeHandler(h)  # the run's file handler; a next run adds its own
            h.close()
        for h in screen:
            log.addHandler(h)


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
