"""Fine-tune (or train from scratch) a VITS voice with Coqui's ``Trainer``.

Responsible for running the training of one voice folder and leaving it usable at every
moment; not for making the dataset (:mod:`.dataset`), judging the voice
(:mod:`.evaluate`) or exporting it (:mod:`.export`).

The voice folder ``VOICE`` holds::

    model.pth          generator-only weights of the best evaluation so far (no discriminator,
                       no optimizer: several times smaller than a checkpoint); what export
                       and a Coqui engine load (Vits(config) + load_checkpoint, strict)
    config.json        the Coqui VitsConfig for model.pth (Piper phoneme ids, see .vits)
    train_log.jsonl    one line per step: {"step", "epoch", "loss_train", "loss_eval", "lr", "seconds"}
                       (loss_eval is null except at evaluation steps; both losses are the
                       recipe's early-stopping metric, Coqui's ``loss_mel`` by default)
    training.json      the run's record: recipe, dataset, base, status, best step, stop reason
    checkpoints/run-*/ Coqui's run folder: checkpoint_<step>.pth (+ .json) and its log

How the run behaves:

* **Evaluation, checkpoints, best model** all happen every ``eval_every_steps`` steps (and
  at the last step). The held-out loss is computed on ``metadata_eval.csv`` (never trained
  on) with a fixed random seed, so two evaluations differ only because the model changed.
  A better held-out loss rewrites ``model.pth``.
* **Retention**: the last ``keep_checkpoints`` checkpoints are kept, plus the one of the
  best evaluation; older ones are deleted after a newer one is safely on disk.
* **Atomic writes**: every checkpoint and ``model.pth`` is written to a temporary name,
  flushed, and renamed, so a crash or a full disk never leaves a half-written file under a
  real name. Before writing, free space is checked; when it is short, checkpoints that
  retention would delete anyway are deleted first; when it is still short the run stops
  with :class:`CheckpointError` and the earlier checkpoints stay usable.
* **Resume** (``resume=True``) continues a killed run from its newest checkpoint with
  Coqui's ``continue_path``: weights, both optimizers (AdamW moments and step counts), both
  LR schedulers, the step counter and the epoch are restored; the early-stopping state
  comes from the checkpoint's ``.json`` and ``train_log.jsonl`` is cut back to that step.
  As in Coqui, the interrupted epoch is started again from its first batch (the schedule
  decays per epoch, so the learning rate carries on from the checkpoint's value).
* **Early stopping** (see :class:`EarlyStopper`): stop after ``patience`` evaluations in a
  row without a relative improvement of ``min_delta``, never before ``min_steps``.

How the defaults of the shipped ``vits`` recipe were chosen for small data: a voice bank
is 10-60 minutes (150-600 utterances); at batch 16 an epoch is 10-40 steps. Piper users
report the target voice appears within a few hundred epochs of fine-tuning and is
over-trained by 1000-2000 (FIELD.md). For the smallest banks that is ~2k-5k steps to a
voice and ~10k steps to over-training, so the recipe caps the run at 10000 steps and
evaluates every 250. It stops after 8 evaluations without a 0.2 % gain in held-out
``loss_mel``: 2000 steps (50-200 epochs), long enough to ride out the GAN's oscillations,
short enough to stop before over-training; and never before step 2000, because the
warm-started model first re-adapts its fresh posterior encoder and discriminator, while the
held-out loss wobbles. These are reasoned defaults, not tuned on many real banks: the
training log lets a helper see the curve and adjust the recipe.

The library never prints: progress goes to ``on_event`` as :class:`TrainEvent`; Coqui's
own console output is redirected to the run folder's ``trainer_0_log.txt``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError, VoicebankError, TrainingError
from .checkpoints import (
    LOG_FILE,
    CheckpointError,
    append_log,
    checkpoint_bytes,
    kept_steps,
    list_checkpoints,
    newest_checkpoint,
    read_train_log,
    remove_checkpoint,
    sidecar,
    step_of,
    truncate_log,
    write_atomic,
    write_atomic_json,
)
from .coqui_trainer import no_stderr, quiet_coqui, share_file_log, trainer_class
from .recipes import Recipe, load_recipe

MODEL_FILE = "model.pth"
CONFIG_FILE = "config.json"
STATE_FILE = "training.json"
CHECKPOINTS = "checkpoints"
STATE_SCHEMA = 1
_MB = 1 << 20


@dataclass(frozen=True)
class TrainEvent:
    """Progress of a training run, passed to ``on_event``.

    ``kind`` is one of ``start``, ``step``, ``eval``, ``checkpoint``, ``best``, ``message``,
    ``stop``. Losses are the recipe's early-stopping metric.
    """

    kind: str
    step: int = 0
    max_steps: int = 0  # an estimate on resume, and for XTTS (epochs × batches per epoch)
    epoch: int = 0
    epochs: int = 0  # planned epochs, when the trainer counts in epochs (XTTS)
    loss_train: float | None = None
    loss_eval: float | None = None
    lr: float | None = None
    seconds_per_step: float | None = None
    path: Path | None = None
    message: str = ""
    similarity: float | None = None  # held-out texts spoken and scored (training.speak_held_out)
    wer: float | None = None


@dataclass(frozen=True)
class FinetuneResult:
    """What a finished (or stopped) run left in the voice folder."""

    voice_dir: Path
    steps: int
    best_step: int
    best_loss_eval: float
    stop_reason: str  # "max_steps", "early_stopping" or "diverged"
    model_path: Path
    config_path: Path
    checkpoints: tuple[Path, ...]
    seconds_per_step: float
    resumed_from: int | None = None


EventCallback = Callable[[TrainEvent], None]


# ----------------------------------------------------------------------------- early stopping


@dataclass
class EarlyStopper:
    """Decides after each evaluation whether the held-out loss still improves.

    An evaluation improves when ``value < best * (1 - min_delta)`` (for a positive best;
    ``best - |best| * min_delta`` in general). A non-finite value never improves. ``stop``
    becomes true after ``patience`` evaluations in a row without improvement, once ``step``
    has reached ``min_steps`` (and never when ``enabled`` is false).
    """

    patience: int
    min_delta: float = 0.0
    min_steps: int = 0
    enabled: bool = True
    best: float = math.inf
    best_step: int = 0
    bad_evals: int = 0

    def update(self, step: int, value: float) -> tuple[bool, bool]:
        """Record one evaluation; returns ``(improved, stop)``."""
        improved = math.isfinite(value) and (
            not math.isfinite(self.best) or value < self.best - abs(self.best) * self.min_delta
        )
        if improved:
            self.best, self.best_step, self.bad_evals = float(value), int(step), 0
        else:
            self.bad_evals += 1
        stop = self.enabled and not improved and self.bad_evals >= self.patience and step >= self.min_steps
        return improved, stop

    def to_dict(self) -> dict[str, Any]:
        return {"best": self.best if math.isfinite(self.best) else None, "best_step": self.best_step, "bad_evals": self.bad_evals}

    def restore(self, data: dict[str, Any]) -> None:
        best = data.get("best")
        self.best = float(best) if best is not None else math.inf
        self.best_step = int(data.get("best_step", 0))
        self.bad_evals = int(data.get("bad_evals", 0))


# ----------------------------------------------------------------------------- public API


def finetune(
    recipe: Recipe | str | os.PathLike[str] | None,
    dataset: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    base: str | os.PathLike[str] | None = None,
    device: str = "auto",
    resume: bool = False,
    max_steps: int | None = None,
    threads: int | None = None,
    on_event: EventCallback | None = None,
) -> FinetuneResult:
    """Train the voice in folder ``out`` on ``dataset`` (LJSpeech layout) following ``recipe``.

    ``recipe`` is a :class:`Recipe`, a shipped recipe's name or a TOML path. ``base`` is a
    Coqui VITS checkpoint (folder or ``.pth``; required unless the recipe trains from
    scratch; never downloaded). ``device`` is ``auto``, ``cpu`` or ``cuda``. ``max_steps``
    overrides the recipe's limit (total steps, counted from the first step of the run).
    ``threads`` sets torch's CPU threads. With ``resume`` the run recorded in ``out``
    continues from its newest checkpoint; ``recipe``, ``dataset`` and ``base`` may then be
    None (the recorded ones are used).

    A recipe for ``model = "xtts"`` is handed to :func:`voicebank.train.xtts.finetune`.
    """
    out_dir = Path(out).expanduser()
    given = None if recipe is None else recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if given is not None and given.model == "xtts":
        return _xtts(given, dataset, out_dir, base, device, resume, max_steps, on_event)
    state = _read_state(out_dir) if resume else None
    if resume and state is None:
        raise TrainingError(
            f"There is no VITS training run to resume in {out_dir} (no {STATE_FILE}). Start one without --resume"
            " (an XTTS run is resumed with --recipe xtts-v2 --resume)."
        )
    if state is not None:
        stored = Recipe.from_dict(state["recipe"], source=f"{out_dir / STATE_FILE}")
        if given is not None:
            changed = _recipe_changes(given.with_max_steps(stored.training.max_steps), stored)
            if changed:
                raise TrainingError(
                    f"--recipe {given.name!r} is not the recipe this run started with ({stored.name!r}; differs in "
                    f"{', '.join(changed[:5])}). A resumed run keeps its recipe: leave --recipe out (use "
                    "--max-steps to change the step limit), or start a new run in another folder."
                )
        the_recipe = stored
        dataset = dataset if dataset is not None else state.get("dataset")
        base = base if base is not None else state.get("base")
    elif given is None:
        raise UsageError("Choose a recipe: --recipe vits (fine-tune) or --recipe vits-tiny (tiny, from scratch).")
    else:
        the_recipe = given
        if the_recipe.from_scratch and base is not None:
            raise UsageError(
                f"Recipe {the_recipe.name!r} trains from scratch (base = \"none\"); leave --base out, "
                "or use a fine-tuning recipe such as 'vits'."
            )
    the_recipe = the_recipe.with_max_steps(max_steps)
    if dataset is None:
        raise UsageError("Give the dataset to train on: --dataset FOLDER (made by 'voicebank train prepare').")
    if not resume and (out_dir / STATE_FILE).exists():
        raise TrainingError(
            f"{out_dir} already holds a training run. Continue it with --resume, or choose another --out folder."
        )
    _choose_device(device)
    run = _Run(the_recipe, Path(dataset).expanduser(), out_dir, base, device, threads, on_event or (lambda e: None))
    return run.execute(state)


# ----------------------------------------------------------------------------- the run


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Run:
    """One training run of one voice folder (fresh or resumed)."""

    def __init__(
        self,
        recipe: Recipe,
        dataset: Path,
        out: Path,
        base: str | os.PathLike[str] | None,
        device: str,
        threads: int | None,
        emit: EventCallback,
    ) -> None:
        self.recipe = recipe
        self.dataset = dataset
        self.out = out
        self.base = None if base is None else str(base)
        self.device = device
        self.threads = threads
        self.emit = emit
        t = recipe.training
        es = recipe.early_stopping
        self.stopper = EarlyStopper(es.patience, es.min_delta, es.min_steps, es.enabled)
        self.metric = es.metric
        self.max_steps = t.max_steps
        self.eval_every = t.eval_every_steps
        self.keep = t.keep_checkpoints
        self.run_dir: Path | None = None
        self.resumed_from: int | None = None
        self.step_times: list[float] = []
        self.trainer: Any = None
        self.voice_config: Any = None
        self.speech_check: Any = None  # made at the first evaluation when the recipe asks for it
        self._toward: dict[str, Any] | None = None  # base weights, when the check speaks at a strength below 1
        self.speak = t.speak_held_out

    # ---- setup -----------------------------------------------------------------------

    def execute(self, state: dict[str, Any] | None) -> FinetuneResult:
        import torch

        if self.threads:
            torch.set_num_threads(int(self.threads))
        config, model, samples = self._inputs(state)
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_voice_config(config)
        with quiet_coqui():
            trainer = self._make_trainer(config, model, samples, state)
            self.trainer = trainer
            self.run_dir = Path(trainer.output_path)
            share_file_log()
            if state is None:
                self._write_state(status="training")
            else:
                self._after_resume()
            gen = sum(p.numel() for k, p in model.named_parameters() if not k.startswith("disc."))
            self.emit(TrainEvent(
                "start",
                step=trainer.total_steps_done,
                max_steps=self.max_steps,
                message=(
                    f"{'Resuming' if state else 'Training'} {self.recipe.name} on {len(samples[0])} utterances "
                    f"({len(samples[1])} held out) on {'cuda' if trainer.use_cuda else 'cpu'}; "
                    f"generator {gen / 1e6:.1f} M parameters; run folder {self.run_dir}"
                ),
            ))
            reason = self._loop(trainer)
        return self._finish(reason)

    def _inputs(self, state: dict[str, Any] | None) -> tuple[Any, Any, tuple[list[Any], list[Any]]]:
        """Config, model (with the base's weights) and Coqui samples; every check before any write."""
        from . import vits
        from .dataset import load_dataset

        base_model = base_cfg = None
        if state is not None:
            config = vits.load_config(self.out / state["run_dir"] / CONFIG_FILE)
        else:
            if not self.recipe.from_scratch:  # a missing base is reported before anything else
                base_model = vits.resolve_base(self._base_ref())
                base_cfg = vits.base_config(base_model)
            config = vits.build_config(self.recipe, base_cfg, self.out / CHECKPOINTS)

        data = load_dataset(self.dataset)
        if not data.eval:
            raise TrainingError(
                f"{self.dataset} has no held-out utterances (metadata_eval.csv is missing or empty); they are "
                "needed to decide when to stop. Make the dataset with 'voicebank train prepare', which holds some out."
            )
        n_min = self.recipe.training.min_train_utterances
        if len(data.train) < n_min:
            raise TrainingError(
                f"{self.dataset} has {len(data.train)} training utterance{'s' if len(data.train) != 1 else ''}; "
                f"recipe {self.recipe.name!r} needs at least {n_min}. Record more prompts (a voice needs "
                "10-15 minutes to sound like you), then run 'voicebank train prepare' again."
            )
        rate = int(config.audio.sample_rate)
        if data.sample_rate and data.sample_rate != rate:
            raise TrainingError(
                f"{self.dataset} is at {data.sample_rate} Hz but the model works at {rate} Hz. "
                f"Prepare the dataset again with --sample-rate {rate}."
            )
        train_items, eval_items = vits.check_splits(data.train, data.eval, self.recipe.espeak_voice, rate)

        model = vits.make_model(config, self.recipe)
        if base_model is not None and base_cfg is not None:
            counts = vits.load_base_weights(model, base_model, base_cfg)
            self.emit(TrainEvent("message", message=(
                f"Started from {base_model.checkpoint}: {counts['tensors']} tensors loaded, "
                f"{counts['fresh_generator_tensors']} generator and {counts['fresh_discriminator_tensors']} "
                f"discriminator tensors start fresh; {counts['symbols_kept']} phoneme symbols kept, "
                f"{counts['symbols_new']} new."
            )))
        samples = ([i.to_sample(data.root) for i in train_items], [i.to_sample(data.root) for i in eval_items])
        return config, model, samples

    def _make_trainer(self, config: Any, model: Any, samples: tuple[list[Any], list[Any]], state: dict[str, Any] | None) -> Any:
        from trainer import TrainerArgs
        from trainer.logging import ConsoleLogger, DummyLogger

        args = TrainerArgs()
        if state is not None:
            run_dir = self.out / state["run_dir"]
            newest = newest_checkpoint(run_dir)
            if newest is None:
                raise TrainingError(
                    f"The run in {self.out} was stopped before its first checkpoint (one is written every "
                    f"{self.eval_every} steps); nothing to resume. Delete {self.out} and start again."
                )
            args.continue_path = str(run_dir)
            args.best_path = str(newest)
            self.resumed_from = step_of(newest)
        klass = trainer_class()
        with no_stderr():  # Coqui asks git for a commit hash; outside a repository git complains on stderr
            return klass(
                self,
                args,
                config,
                str(self.out / CHECKPOINTS),
                model=model,
                train_samples=samples[0],
                eval_samples=samples[1],
                parse_command_line_args=False,
                dashboard_logger=DummyLogger(),
                c_logger=ConsoleLogger(),
            )

    def _after_resume(self) -> None:
        assert self.run_dir is not None and self.resumed_from is not None
        side = sidecar(self.run_dir / f"checkpoint_{self.resumed_from}.pth")
        info = json.loads(side.read_text(encoding="utf-8"))
        self.stopper.restore(info.get("early_stopping", {}))
        truncate_log(self.out / LOG_FILE, self.resumed_from)
        self._write_state(status="training")
        self.emit(TrainEvent(
            "message",
            step=self.resumed_from,
            message=f"Resumed from checkpoint_{self.resumed_from}.pth (step {self.resumed_from}, "
            f"epoch {self.trainer.epochs_done}).",
        ))

    # ---- the loop ----------------------------------------------------------------------

    def _loop(self, trainer: Any) -> str:
        if trainer.total_steps_done >= self.max_steps:
            return "max_steps"
        try:
            trainer._fit()  # Coqui's epoch loop without fit()'s sys.exit on errors
        except _Stop as stop:
            return stop.reason
        return "max_steps"

    def after_step(self, trainer: Any, loss_dict: dict[str, Any], seconds: float) -> None:
        """Called by the trainer after each optimizer step (Coqui's step counter already advanced)."""
        step = int(trainer.total_steps_done)
        self.step_times.append(seconds)
        loss = _as_float(loss_dict.get(self.metric))
        lr = _as_float(trainer.optimizer[-1].param_groups[0]["lr"])
        loss_eval = None
        speech: dict[str, float | None] = {}
        diverged = loss is not None and not math.isfinite(loss)
        last = step >= self.max_steps or diverged
        if step % self.eval_every == 0 or last:
            loss_eval = self._evaluate(trainer, step)
            speech = {} if diverged else self._speak_held_out(trainer)  # a NaN model has nothing to say
        append_log(self.out / LOG_FILE, {
            "step": step,
            "epoch": int(trainer.epochs_done),
            "loss_train": loss,
            "loss_eval": loss_eval,
            "lr": lr,
            "seconds": round(seconds, 4),
            **speech,
        })
        self.emit(TrainEvent(
            "step", step=step, max_steps=self.max_steps, epoch=int(trainer.epochs_done), loss_train=loss,
            loss_eval=loss_eval, lr=lr, seconds_per_step=self.seconds_per_step,
        ))
        stop = None
        if loss_eval is not None:
            improved, should_stop = self.stopper.update(step, loss_eval)
            if improved:
                self._write_best(trainer, step, loss_eval, speech)
            self._checkpoint(trainer, step, loss, loss_eval, speech)
            self.emit(TrainEvent(
                "eval", step=step, max_steps=self.max_steps, loss_eval=loss_eval,
                message=("improved" if improved else f"no improvement for {self.stopper.bad_evals} evaluation(s)"),
                similarity=speech.get("similarity"), wer=speech.get("wer"),
            ))
            if should_stop:
                stop = "early_stopping"
        if diverged:
            stop = "diverged"
        elif last:
            stop = stop or "max_steps"
        if stop:
            raise _Stop(stop)

    def _evaluate(self, trainer: Any, step: int) -> float:
        trainer.run_held_out_eval()
        trainer.model.train()
        avg = trainer.keep_avg_eval.avg_values if trainer.keep_avg_eval is not None else {}
        value = avg.get(f"avg_{self.metric}")
        if value is None:
            known = ", ".join(sorted(k[4:] for k in avg if k.startswith("avg_loss")))
            raise TrainingError(f"The recipe's early_stopping.metric {self.metric!r} is not a loss of this model; use one of: {known}.")
        return float(value)

    def _speak_held_out(self, trainer: Any) -> dict[str, float | None]:
        """Similarity and WER of the held-out texts spoken by the model now (empty when off)."""
        if not self.speak:
            return {}
        if self.speech_check is None:
            from .speech_check import SpeechCheck

            try:
                self.speech_check = SpeechCheck(
                    self.dataset, self.recipe.espeak_voice, int(trainer.config.audio.sample_rate), self.recipe.inference
                )
            except VoicebankError as exc:  # e.g. the recognizer or the speaker encoder is not installed
                self.speak = False
                self.emit(TrainEvent("message", message=f"Speaking the held-out texts is off: {exc}"))
                return {}
        from . import blend

        model = trainer._get_model()
        strength = self.recipe.inference.strength  # the voice is scored as it will be exported
        if strength < 1.0 and self._toward is None:
            try:
                self._toward, _ = blend.base_weights(model, self._base_ref())
            except VoicebankError as exc:  # e.g. resumed where the base is not (it is only needed to start)
                self.speak = False
                self.emit(TrainEvent("message", message=f"Speaking the held-out texts is off: the base is needed to "
                                                        f"score the voice at strength {strength:g} ({exc})"))
                return {}
        with blend.applied(model, self._toward or {}, strength):
            return self.speech_check(model)

    def _base_ref(self) -> str | None:
        """The base this run starts from: ``--base``, else the recipe's ``base_model`` (None: the default)."""
        return self.base if self.base is not None else (self.recipe.base_model or None)

    @property
    def seconds_per_step(self) -> float | None:
        if not self.step_times:
            return None
        recent = sorted(self.step_times[-20:])
        return recent[len(recent) // 2]

    # ---- files -------------------------------------------------------------------------

    def _checkpoint(
        self, trainer: Any, step: int, loss: float | None, loss_eval: float | None, speech: dict[str, float | None]
    ) -> None:
        from trainer.io import save_model

        assert self.run_dir is not None
        path = self.run_dir / f"checkpoint_{step}.pth"
        existing = list_checkpoints(self.run_dir)
        protected = {self.stopper.best_step}
        after = [s for s, _ in existing if s != step] + [step]
        doomed = [p for s, p in existing if s not in kept_steps(after, self.keep, protected)]
        estimate = checkpoint_bytes(trainer, existing)
        self._make_room(estimate, doomed, f"the checkpoint of step {step}")
        info = {
            "step": step,
            "epoch": int(trainer.epochs_done),
            "loss_train": loss,
            "loss_eval": loss_eval,
            **speech,
            "metric": self.metric,
            "early_stopping": self.stopper.to_dict(),
        }
        write_atomic_json(sidecar(path), info, self._disk_error)

        def write(tmp: Path) -> None:
            save_model(
                trainer.config,
                trainer._get_model(),
                str(tmp),
                current_step=step - 1,  # Coqui's convention: restore continues at step + 1
                epoch=int(trainer.epochs_done),
                optimizer=trainer.optimizer,
                scheduler=trainer.scheduler,
                scaler=trainer.scaler if trainer.use_amp_scaler else None,
                model_loss={"train_loss": loss, "eval_loss": loss_eval},
            )

        write_atomic(path, write, self._disk_error)
        for old in doomed:
            remove_checkpoint(old)
        # anything retention no longer wants (e.g. after the best moved on)
        keep = kept_steps([s for s, _ in list_checkpoints(self.run_dir)], self.keep, protected)
        for s, p in list_checkpoints(self.run_dir):
            if s not in keep:
                remove_checkpoint(p)
        self._write_state(status="training")
        self.emit(TrainEvent("checkpoint", step=step, max_steps=self.max_steps, path=path))

    def _write_best(self, trainer: Any, step: int, loss_eval: float, speech: dict[str, float | None]) -> None:
        import torch

        from . import vits

        weights = vits.generator_state(trainer._get_model())
        size = sum(t.numel() * t.element_size() for t in weights.values())
        target = self.out / MODEL_FILE
        current = target.stat().st_size if target.exists() else 0
        self._make_room(size + _MB - current, [], "the best model (model.pth)")
        payload = {
            "model": weights,
            "config": self.voice_config.to_dict(),
            "step": step,
            "voicebank": {
                "metric": self.metric, "loss_eval": loss_eval, "recipe": self.recipe.name,
                "inference": self.recipe.inference.to_dict(), **speech,
            },
        }
        write_atomic(target, lambda tmp: torch.save(payload, str(tmp)), self._disk_error)
        self.emit(TrainEvent("best", step=step, max_steps=self.max_steps, loss_eval=loss_eval, path=target))

    def _write_voice_config(self, config: Any) -> None:
        import copy

        voice_config = copy.deepcopy(config)
        voice_config.model_args.init_discriminator = False  # model.pth holds no discriminator
        self.voice_config = voice_config
        write_atomic_json(self.out / CONFIG_FILE, voice_config.to_dict(), self._disk_error)

    def _write_state(self, status: str, **extra: Any) -> None:
        assert self.run_dir is not None
        state = _read_state(self.out) or {}
        state.update({
            "schema_version": STATE_SCHEMA,
            "recipe": self.recipe.to_dict(),
            "dataset": str(self.dataset.resolve()),
            "base": self.base,
            "run_dir": os.path.relpath(self.run_dir, self.out),
            "status": status,
            "steps": int(self.trainer.total_steps_done) if self.trainer is not None else 0,
            "metric": self.metric,
            "best_step": self.stopper.best_step,
            "best_loss_eval": self.stopper.best if math.isfinite(self.stopper.best) else None,
            "seconds_per_step": self.seconds_per_step,
        })
        state.update(extra)
        write_atomic_json(self.out / STATE_FILE, state, self._disk_error)

    def _make_room(self, needed: int, removable: list[Path], what: str) -> None:
        """Make sure ``needed`` bytes fit, deleting ``removable`` (oldest first) when they must go anyway."""
        folder = self.run_dir if self.run_dir is not None else self.out
        margin = _MB + needed // 50
        free = shutil.disk_usage(folder).free
        for old in list(removable):
            if free >= needed + margin:
                break
            remove_checkpoint(old)
            removable.remove(old)
            self.emit(TrainEvent("message", message=f"Low on disk space: removed {old.name} early."))
            free = shutil.disk_usage(folder).free
        if free < needed + margin:
            raise CheckpointError(self._disk_message(what, needed + margin, free))

    def _disk_error(self, exc: BaseException, what: Path) -> CheckpointError:
        folder = self.run_dir if self.run_dir is not None else self.out
        free = shutil.disk_usage(folder).free
        return CheckpointError(f"Writing {what.name} failed ({exc}). " + self._disk_message(what.name, 0, free))

    def _disk_message(self, what: str, needed: int, free: int) -> str:
        last = list_checkpoints(self.run_dir)[-1] if self.run_dir is not None and list_checkpoints(self.run_dir) else None
        need = f"needs about {needed / _MB:.0f} MB, " if needed else ""
        keep = (
            f"The last good checkpoint, {last[1].name} (step {last[0]}), is intact and {self.out / MODEL_FILE} still "
            f"holds the best voice so far. Free some space and continue with --resume."
            if last
            else "No checkpoint was written yet. Free some space and start again."
        )
        return f"Not enough disk space for {what}: {need}{free / _MB:.0f} MB free in {self.out}. {keep}"

    # ---- the end -----------------------------------------------------------------------

    def _finish(self, reason: str) -> FinetuneResult:
        assert self.run_dir is not None
        trainer = self.trainer
        steps = int(trainer.total_steps_done)
        if not (self.out / MODEL_FILE).exists():
            raise TrainingError(
                f"Training stopped ({reason}) at step {steps} before any evaluation improved, so there is no voice "
                "to keep. Lower the learning rate in the recipe or check the dataset."
            )
        self._write_state(status="finished", stop_reason=reason)
        messages = {
            "max_steps": f"Reached the step limit ({self.max_steps}).",
            "early_stopping": (
                f"Stopped early: the held-out {self.metric} did not improve for {self.stopper.bad_evals} "
                f"evaluations (best at step {self.stopper.best_step})."
            ),
            "diverged": f"Stopped: the training loss became NaN at step {steps}; kept the best voice (step {self.stopper.best_step}).",
        }
        self.emit(TrainEvent("stop", step=steps, max_steps=self.max_steps, message=messages.get(reason, reason)))
        return FinetuneResult(
            voice_dir=self.out,
            steps=steps,
            best_step=self.stopper.best_step,
            best_loss_eval=self.stopper.best,
            stop_reason=reason,
            model_path=self.out / MODEL_FILE,
            config_path=self.out / CONFIG_FILE,
            checkpoints=tuple(p for _, p in list_checkpoints(self.run_dir)),
            seconds_per_step=self.seconds_per_step or 0.0,
            resumed_from=self.resumed_from,
        )


def _choose_device(device: str) -> None:
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {device!r}.")
    if device == "cpu":
        if "torch" not in sys.modules:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # Coqui moves every batch to a visible GPU
            return
        import torch

        if torch.cuda.is_available():
            raise UsageError(
                "--device cpu: a GPU is visible to this process and Coqui's trainer would use it; "
                "start the process with CUDA_VISIBLE_DEVICES= to train on the CPU."
            )
        return
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available (torch sees none). Use --device cpu.")


def _xtts(recipe: Recipe, dataset: Any, out: Path, base: Any, device: str, resume: bool, max_steps: int | None, on_event: EventCallback | None) -> Any:
    """Hand an XTTS recipe to :func:`voicebank.train.xtts.finetune` (its events and result are its own)."""
    import inspect

    try:
        from . import xtts
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith("train.xtts"):
            raise TrainingError(
                f"Recipe {recipe.name!r} fine-tunes XTTS-v2, but XTTS fine-tuning (voicebank.train.xtts) is not part "
                "of this installation."
            ) from exc
        raise
    if dataset is None:
        raise UsageError("Give the dataset to train on: --dataset FOLDER (made by 'voicebank train prepare').")
    kwargs: dict[str, Any] = {"base": base, "out": out, "device": device, "resume": resume, "progress": on_event}
    accepted = inspect.signature(xtts.finetune).parameters
    if max_steps is not None:
        if "max_steps" not in accepted:
            raise UsageError("--max-steps is not supported for XTTS recipes; set epochs in the recipe's [xtts] table.")
        kwargs["max_steps"] = max_steps
    return xtts.finetune(recipe, dataset, **{k: v for k, v in kwargs.items() if k in accepted})


def _recipe_changes(a: Recipe, b: Recipe) -> list[str]:
    """Dotted keys whose values differ between two recipes."""

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    fa, fb = flat(a.to_dict()), flat(b.to_dict())
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def _read_state(out: Path) -> dict[str, Any] | None:
    path = out / STATE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{path} is damaged ({exc}); the checkpoints in {out / CHECKPOINTS} are still there.") from exc
    if not isinstance(data, dict) or data.get("schema_version") != STATE_SCHEMA or "run_dir" not in data:
        raise TrainingError(f"{path} is not a voicebank training record this version understands.")
    return data


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


__all__ = [
    "CheckpointError",
    "EarlyStopper",
    "FinetuneResult",
    "TrainEvent",
    "TrainingError",
    "finetune",
    "read_train_log",
]
