"""Fine-tune (or train from scratch) a VITS voice with Coqui's ``Trainer``: the public entry
point and the training loop (evaluate, keep the best, checkpoint, stop).

Responsible for running the training of one voice folder and leaving it usable at every
moment; not for making the dataset (:mod:`.dataset`), judging the voice
(:mod:`.evaluate`) or exporting it (:mod:`.export`). Its helpers: :mod:`.run_setup` (device,
config, model, checked samples, the trainer), :mod:`.run_files` (every file written, disk
space, retention), :mod:`.early_stopping`, :mod:`.held_out_speech`, :mod:`.events`.

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
* **Retention and disk space**: the last ``keep_checkpoints`` checkpoints are kept, plus the
  best one; every write is atomic and checked for room first (:mod:`.run_files`).
* **Resume** (``resume=True``) continues a killed run from its newest checkpoint: weights,
  both optimizers, both LR schedulers, the step counter and the epoch are restored; the
  early-stopping state comes from the checkpoint's ``.json`` and ``train_log.jsonl`` is cut
  back to that step. As in Coqui, the interrupted epoch starts again from its first batch.
* **Early stopping** (:class:`EarlyStopper`): stop after ``patience`` evaluations in a row
  without a relative improvement of ``min_delta``, never before ``min_steps``.

Why the shipped recipes' defaults are what they are, with the measurements:
``docs/offline-voice.md``. The library never prints: progress goes to ``on_event`` as
:class:`TrainEvent`; Coqui's own console output goes to the run folder's ``trainer_0_log.txt``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..durable import read_json
from ..errors import CheckpointError, TrainingError, UsageError
from . import blend, seed_runs
from .checkpoints import LOG_FILE, append_log, read_train_log, sidecar, truncate_log
from .coqui_trainer import quiet_coqui, share_file_log
from .early_stopping import EarlyStopper
from .events import EventCallback, TrainEvent
from .held_out_speech import HeldOutSpeech
from .recipes import Recipe, load_recipe
from .run_files import CONFIG_FILE, MODEL_FILE, STATE_FILE, RunFiles, read_state
from .run_setup import choose_device, load_inputs, make_trainer


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
    seed: int | None = None,
    runs: int | None = None,
    on_event: EventCallback | None = None,
) -> Any:
    """Train the voice in folder ``out`` on ``dataset`` (LJSpeech layout) following ``recipe``.

    ``recipe`` is a :class:`Recipe`, a shipped recipe's name or a TOML path. ``base`` is a
    Coqui VITS checkpoint (folder or ``.pth``; required unless the recipe trains from
    scratch; never downloaded). ``device`` is ``auto``, ``cpu`` or ``cuda``. ``max_steps``
    overrides the recipe's limit (total steps, counted from the first step of the run).
    ``threads`` sets torch's CPU threads. ``seed`` replaces the recipe's random seed (the
    order of the clips, the segments, the noise): runs that differ only in it can be averaged
    (:mod:`.soup`). With ``resume`` the run recorded in ``out``
    continues from its newest checkpoint; ``recipe``, ``dataset`` and ``base`` may then be
    None (the recorded ones are used).

    ``runs`` (default: the recipe's ``training.runs``) above 1 trains that many runs with seeds
    ``seed``, ``seed + 1``, … and averages them into ``out`` (:mod:`.seed_runs`); the result is
    then a :class:`~.seed_runs.RunsResult`, otherwise a :class:`FinetuneResult`.

    A recipe for ``model = "xtts"`` is handed to :func:`voicebank.train.xtts.finetune`.
    """
    out_dir = Path(out).expanduser()
    given = None if recipe is None else recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    given = None if given is None else given.with_seed(seed)
    if given is not None and given.model == "xtts":
        if runs not in (None, 1):
            raise UsageError("--runs (several seeded runs, averaged) is for VITS recipes; leave it out for XTTS.")
        return _xtts(given, dataset, out_dir, base, device, resume, max_steps, on_event)
    recipe_runs = given.training.runs if given is not None and not resume else 1
    wanted_runs = runs if runs is not None else recipe_runs
    if seed_runs.is_runs_folder(out_dir) or (wanted_runs > 1 and not resume):
        return seed_runs.finetune_runs(given, dataset, out_dir, runs=runs, base=base, device=device, resume=resume,
                                       max_steps=max_steps, threads=threads, seed=seed, on_event=on_event)
    if runs is not None and runs != 1:
        raise UsageError(f"--runs {runs} with --resume: {out_dir} holds no set of runs ({seed_runs.RUNS_DIR}/{seed_runs.PLAN_FILE}); "
                         "a resumed run keeps what it was started with, so leave --runs out.")
    state = read_state(out_dir) if resume else None
    if resume and state is None:
        raise TrainingError(
            f"There is no VITS training run to resume in {out_dir} (no {STATE_FILE}). Start one without --resume"
            " (an XTTS run is resumed with --recipe xtts-v2 --resume)."
        )
    if state is not None:
        the_recipe = _recorded_recipe(state, given, out_dir)
        dataset = dataset if dataset is not None else state.get("dataset")
        base = base if base is not None else state.get("base")
    else:
        the_recipe = check_new_run(given, base)
    if dataset is None:
        raise UsageError("Give the dataset to train on: --dataset FOLDER (made by 'voicebank train prepare').")
    if state is None and (out_dir / STATE_FILE).exists():
        raise TrainingError(
            f"{out_dir} already holds a training run. Continue it with --resume, or choose another --out folder."
        )
    if seed is not None and the_recipe.training.seed != seed:
        raise TrainingError(
            f"This run was started with seed {the_recipe.training.seed}; a resumed run keeps its seed. "
            "Leave --seed out, or start a new run in another folder."
        )
    choose_device(device)
    the_recipe = the_recipe.with_max_steps(max_steps)
    run = _Run(the_recipe, Path(dataset).expanduser(), out_dir, base, device, threads, on_event or (lambda e: None))
    return run.execute(state)


def _recorded_recipe(state: dict[str, Any], given: Recipe | None, out_dir: Path) -> Recipe:
    """The recipe a resumed run started with; a different ``given`` one is refused."""
    stored = Recipe.from_dict(state["recipe"], source=f"{out_dir / STATE_FILE}")
    if given is not None:
        changed = _recipe_changes(given.with_max_steps(stored.training.max_steps), stored)
        if changed:
            raise TrainingError(
                f"--recipe {given.name!r} is not the recipe this run started with ({stored.name!r}; differs in "
                f"{', '.join(changed[:5])}). A resumed run keeps its recipe: leave --recipe out (use "
                "--max-steps to change the step limit), or start a new run in another folder."
            )
    return stored


def check_new_run(given: Recipe | None, base: Any) -> Recipe:
    """The recipe of a new run, refused with what to do when it cannot start from ``base``."""
    if given is None:
        raise UsageError("Choose a recipe: --recipe vits (fine-tune) or --recipe vits-tiny (tiny, from scratch).")
    if given.from_scratch and base is not None:
        raise UsageError(
            f"Recipe {given.name!r} trains from scratch (base = \"none\"); leave --base out, "
            "or use a fine-tuning recipe such as 'vits'."
        )
    if given.base == "voice":
        _check_voice_base(given, base)
    return given


def recorded_base(base: Any) -> str:
    """``--base`` as the run records it: a path made absolute (export looks for it from anywhere), a name as given."""
    path = Path(str(base)).expanduser()
    return str(path.resolve()) if path.exists() else str(base)


def _check_voice_base(recipe: Recipe, base: Any) -> None:
    """A recipe that trains a voice further needs that voice (a folder made by ``train finetune``)."""
    from ..voice.training_record import read_training_record

    folder = Path(str(base)).expanduser() if base is not None else None
    if folder is not None and folder.is_file():  # the voice's model.pth named instead of its folder
        folder = folder.parent
    if folder is None or not (folder / "model.pth").is_file() or read_training_record(folder) is None:
        given = "no --base" if folder is None else f"--base {folder}, which is not a voice folder made by 'voicebank train finetune'"
        raise UsageError(
            f"Recipe {recipe.name!r} trains further a voice you made: give that voice's folder with --base VOICE "
            f"(got {given}). Make one first: voicebank train finetune --recipe vits-offline --dataset DATA --out VOICE"
        )


# ----------------------------------------------------------------------------- the run


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Run:
    """One training run of one voice folder (fresh or resumed): the loop Coqui's trainer calls back."""

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
        self.base = None if base is None else recorded_base(base)
        self.device = device  # read by the trainer (coqui_trainer)
        self.threads = threads
        self.emit = emit
        t = recipe.training
        es = recipe.early_stopping
        self.stopper = EarlyStopper(es.patience, es.min_delta, es.min_steps, es.enabled)
        self.metric = es.metric
        self.max_steps = t.max_steps
        self.eval_every = t.eval_every_steps
        self.files = RunFiles(out, t.keep_checkpoints, emit)
        self.speech = HeldOutSpeech(recipe, dataset, self.base_ref, emit)
        self.resumed_from: int | None = None
        self.base_weights_sha256: str | None = None  # the start's checkpoint, so export and average can tell if it changed
        self.step_times: list[float] = []
        self.trainer: Any = None
        self.voice_config: Any = None

    @property
    def base_ref(self) -> str | None:
        """The base this run starts from: ``--base``, else the recipe's ``base_model`` (None: the default)."""
        return self.base if self.base is not None else (self.recipe.base_model or None)

    @property
    def seconds_per_step(self) -> float | None:
        if not self.step_times:
            return None
        recent = sorted(self.step_times[-20:])
        return recent[len(recent) // 2]

    def execute(self, state: dict[str, Any] | None) -> FinetuneResult:
        import torch

        if self.threads:
            torch.set_num_threads(int(self.threads))
        self.base_weights_sha256 = self._start_fingerprint(state)
        config, model, samples = load_inputs(self.recipe, self.dataset, self.out, state, self.base_ref, self.emit)
        self.out.mkdir(parents=True, exist_ok=True)
        self.voice_config = self.files.write_voice_config(config)
        with quiet_coqui():
            self.trainer, self.resumed_from = make_trainer(
                self, config, model, samples, self.out, state, self.eval_every
            )
            self.files.run_dir = Path(self.trainer.output_path)
            share_file_log()
            if state is None:
                self._write_state(status="training")
            else:
                self._after_resume()
            self._announce(state is not None, model, samples)
            reason = self._loop(self.trainer)
        return self._finish(reason)

    def _start_fingerprint(self, state: dict[str, Any] | None) -> str | None:
        """The fingerprint of the weights this run starts from (:func:`.blend.base_fingerprint`): taken now for a
        new run; a resumed run keeps blending toward its start, so that start must not have changed since."""
        if self.recipe.from_scratch:
            return None
        if state is None:
            return blend.base_fingerprint(self.base_ref)
        blend.check_base_unchanged(state, self.out, self.base_ref, "A resumed run keeps its start: put that base back, "
                                   "or start a new run in another folder.")
        return state.get("base_weights_sha256")

    def _announce(self, resumed: bool, model: Any, samples: tuple[list[Any], list[Any]]) -> None:
        gen = sum(p.numel() for k, p in model.named_parameters() if not k.startswith("disc."))
        self.emit(TrainEvent(
            "start",
            step=self.trainer.total_steps_done,
            max_steps=self.max_steps,
            message=(
                f"{'Resuming' if resumed else 'Training'} {self.recipe.name} on {len(samples[0])} utterances "
                f"({len(samples[1])} held out) on {'cuda' if self.trainer.use_cuda else 'cpu'}; "
                f"generator {gen / 1e6:.1f} M parameters; run folder {self.files.run_dir}"
            ),
        ))

    def _after_resume(self) -> None:
        assert self.files.run_dir is not None and self.resumed_from is not None
        side = sidecar(self.files.run_dir / f"checkpoint_{self.resumed_from}.pth")
        self.stopper.restore(read_json(side, what="checkpoint record").get("early_stopping", {}))
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
        diverged = loss is not None and not math.isfinite(loss)
        last = step >= self.max_steps or diverged
        loss_eval = None
        speech: dict[str, float | None] = {}
        if step % self.eval_every == 0 or last:
            loss_eval = self._evaluate(trainer)
            speech = {} if diverged else self.speech(trainer)  # a NaN model has nothing to say
        row = {"step": step, "epoch": int(trainer.epochs_done), "loss_train": loss, "loss_eval": loss_eval}
        append_log(self.out / LOG_FILE, {**row, "lr": lr, "seconds": round(seconds, 4), **speech})
        self.emit(TrainEvent(
            "step", step=step, max_steps=self.max_steps, epoch=row["epoch"], loss_train=loss,
            loss_eval=loss_eval, lr=lr, seconds_per_step=self.seconds_per_step,
        ))
        stop = None if loss_eval is None else self._after_eval(trainer, step, row, speech)
        if diverged:
            stop = "diverged"
        elif last:
            stop = stop or "max_steps"
        if stop:
            raise _Stop(stop)

    def _after_eval(self, trainer: Any, step: int, row: dict[str, Any], speech: dict[str, float | None]) -> str | None:
        """Keep the voice if it improved, checkpoint, and say whether to stop early."""
        loss_eval = row["loss_eval"]
        improved, should_stop = self.stopper.update(step, loss_eval)
        if improved:
            self._write_best(trainer, step, loss_eval, speech)
        self._checkpoint(trainer, step, row, speech)
        self.emit(TrainEvent(
            "eval", step=step, max_steps=self.max_steps, loss_eval=loss_eval,
            message=("improved" if improved else f"no improvement for {self.stopper.bad_evals} evaluation(s)"),
            similarity=speech.get("similarity"), wer=speech.get("wer"),
        ))
        return "early_stopping" if should_stop else None

    def _evaluate(self, trainer: Any) -> float:
        trainer.run_held_out_eval()
        trainer.model.train()
        avg = trainer.keep_avg_eval.avg_values if trainer.keep_avg_eval is not None else {}
        value = avg.get(f"avg_{self.metric}")
        if value is None:
            known = ", ".join(sorted(k[4:] for k in avg if k.startswith("avg_loss")))
            raise TrainingError(f"The recipe's early_stopping.metric {self.metric!r} is not a loss of this model; use one of: {known}.")
        return float(value)

    # ---- files -------------------------------------------------------------------------

    def _checkpoint(self, trainer: Any, step: int, row: dict[str, Any], speech: dict[str, float | None]) -> None:
        info = {**row, **speech, "metric": self.metric, "early_stopping": self.stopper.to_dict()}
        path = self.files.write_checkpoint(trainer, step, info, self.stopper.best_step)
        self._write_state(status="training")
        self.emit(TrainEvent("checkpoint", step=step, max_steps=self.max_steps, path=path))

    def _write_best(self, trainer: Any, step: int, loss_eval: float, speech: dict[str, float | None]) -> None:
        from . import vits

        target = self.files.write_best({
            "model": vits.generator_state(trainer._get_model()),
            "config": self.voice_config.to_dict(),
            "step": step,
            "voicebank": {
                "metric": self.metric, "loss_eval": loss_eval, "recipe": self.recipe.name,
                "inference": self.recipe.inference.to_dict(), **speech,
            },
        })
        self.emit(TrainEvent("best", step=step, max_steps=self.max_steps, loss_eval=loss_eval, path=target))

    def _write_state(self, status: str, **extra: Any) -> None:
        assert self.files.run_dir is not None
        self.files.write_state({
            "recipe": self.recipe.to_dict(),
            "dataset": str(self.dataset.resolve()),
            "base": self.base,
            "base_weights_sha256": self.base_weights_sha256,
            "run_dir": os.path.relpath(self.files.run_dir, self.out),
            "status": status,
            "steps": int(self.trainer.total_steps_done) if self.trainer is not None else 0,
            "metric": self.metric,
            "best_step": self.stopper.best_step,
            "best_loss_eval": self.stopper.best_or_none,
            "seconds_per_step": self.seconds_per_step,
            **extra,
        })

    # ---- the end -----------------------------------------------------------------------

    def _finish(self, reason: str) -> FinetuneResult:
        steps = int(self.trainer.total_steps_done)
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
            checkpoints=self.files.checkpoints(),
            seconds_per_step=self.seconds_per_step or 0.0,
            resumed_from=self.resumed_from,
        )


def _xtts(recipe: Recipe, dataset: Any, out: Path, base: Any, device: str, resume: bool, max_steps: int | None, on_event: EventCallback | None) -> Any:
    """Hand an XTTS recipe to :func:`voicebank.train.xtts.finetune` (its events and result are its own)."""
    from . import xtts

    if dataset is None:
        raise UsageError("Give the dataset to train on: --dataset FOLDER (made by 'voicebank train prepare').")
    if max_steps is not None:  # XTTS counts in epochs
        raise UsageError("--max-steps is not supported for XTTS recipes; set epochs in the recipe's [xtts] table.")
    return xtts.finetune(recipe, dataset, base=base, out=out, device=device, resume=resume, progress=on_event)


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
