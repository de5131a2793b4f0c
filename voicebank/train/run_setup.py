"""What a VITS run starts from: the device, the config, the model with its base's weights, the
checked dataset, and Coqui's trainer (fresh, or continuing the newest checkpoint)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ..errors import TrainingError, UsageError
from .checkpoints import newest_checkpoint, step_of
from .coqui_trainer import no_stderr, trainer_class
from .events import EventCallback, TrainEvent
from .recipes import Recipe
from .run_files import ANCHOR_FILE, CHECKPOINTS, CONFIG_FILE

Samples = tuple[list[Any], list[Any]]  # Coqui's (train, eval) sample lists


def choose_device(device: str) -> None:
    """Check ``--device`` (auto, cpu, cuda) against what torch sees; hide the GPU for cpu."""
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


def load_inputs(
    recipe: Recipe, dataset: Path, out: Path, state: dict[str, Any] | None, base_ref: str | None, emit: EventCallback
) -> tuple[Any, Any, Samples]:
    """Config, model (with the base's weights) and Coqui samples; every check before any write."""
    from . import vits
    from .dataset import load_dataset

    base_model = base_cfg = None
    if state is not None:
        config = vits.load_config(out / state["run_dir"] / CONFIG_FILE)
    else:
        if not recipe.from_scratch:  # a missing base is reported before anything else
            base_model = vits.resolve_base(base_ref)
            base_cfg = vits.base_config(base_model)
        config = vits.build_config(recipe, base_cfg, out / CHECKPOINTS)

    data = load_dataset(dataset)
    rate = int(config.audio.sample_rate)
    _check_dataset(data, dataset, recipe, rate)
    train_items, eval_items = vits.check_splits(data.train, data.eval, recipe.espeak_voice, rate)

    model = vits.make_model(config, recipe)
    if base_model is not None and base_cfg is not None:
        counts = vits.load_base_weights(model, base_model, base_cfg)
        emit(TrainEvent("message", message=(
            f"Started from {base_model.checkpoint}: {counts['tensors']} tensors loaded, "
            f"{counts['fresh_generator_tensors']} generator and {counts['fresh_discriminator_tensors']} "
            f"discriminator tensors start fresh; {counts['symbols_kept']} phoneme symbols kept, "
            f"{counts['symbols_new']} new."
        )))
    if recipe.training.anchor_weight > 0 or recipe.training.anchor_decay > 0:
        _anchor(model, out / ANCHOR_FILE, fresh=base_model is not None)
    samples = ([i.to_sample(data.root) for i in train_items], [i.to_sample(data.root) for i in eval_items])
    return config, model, samples


def _anchor(model: Any, path: Path, *, fresh: bool) -> None:
    """The L2-SP anchor: the base's weights, kept beside the run so a resumed run pulls toward them too."""
    import torch

    from ..durable import atomic_output

    if fresh:  # every check has passed by now: the run folder may be made
        values = model.set_anchor()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            torch.save(values, tmp)
    elif path.is_file():
        model.set_anchor(torch.load(path, map_location="cpu", weights_only=True))
    else:
        raise UsageError(f"{path} is missing: this run pulls its weights toward the base's (training.anchor_weight/anchor_decay), "
                         "and cannot resume without them. Start it again in a new folder.")


def _check_dataset(data: Any, folder: Path, recipe: Recipe, rate: int) -> None:
    """Refuse a dataset the run cannot use, saying how to make one it can."""
    if not data.eval:
        raise TrainingError(
            f"{folder} has no held-out utterances (metadata_eval.csv is missing or empty); they are "
            "needed to decide when to stop. Make the dataset with 'voicebank train prepare', which holds some out."
        )
    n_min = recipe.training.min_train_utterances
    if len(data.train) < n_min:
        raise TrainingError(
            f"{folder} has {len(data.train)} training utterance{'s' if len(data.train) != 1 else ''}; "
            f"recipe {recipe.name!r} needs at least {n_min}. Record more prompts (a voice needs "
            "10-15 minutes to sound like you), then run 'voicebank train prepare' again."
        )
    if data.sample_rate and data.sample_rate != rate:
        raise TrainingError(
            f"{folder} is at {data.sample_rate} Hz but the model works at {rate} Hz. "
            f"Prepare the dataset again with --sample-rate {rate}."
        )


def make_trainer(
    run: Any, config: Any, model: Any, samples: Samples, out: Path, state: dict[str, Any] | None, eval_every: int
) -> tuple[Any, int | None]:
    """Coqui's trainer for ``run`` (which gets ``after_step``), and the step it resumes from (None: fresh).

    A resumed run continues its newest complete checkpoint with Coqui's ``continue_path``:
    weights, both optimizers, both LR schedulers, the step counter and the epoch.
    """
    from trainer import TrainerArgs
    from trainer.logging import ConsoleLogger, DummyLogger

    args = TrainerArgs()
    resumed_from = None
    if state is not None:
        run_dir = out / state["run_dir"]
        newest = newest_checkpoint(run_dir)
        if newest is None:
            raise TrainingError(
                f"The run in {out} was stopped before its first checkpoint (one is written every "
                f"{eval_every} steps); nothing to resume. Delete {out} and start again."
            )
        args.continue_path = str(run_dir)
        args.best_path = str(newest)
        resumed_from = step_of(newest)
    klass = trainer_class()
    with no_stderr():  # Coqui asks git for a commit hash; outside a repository git complains on stderr
        trainer = klass(
            run,
            args,
            config,
            str(out / CHECKPOINTS),
            model=model,
            train_samples=samples[0],
            eval_samples=samples[1],
            parse_command_line_args=False,
            dashboard_logger=DummyLogger(),
            c_logger=ConsoleLogger(),
        )
    return trainer, resumed_from
