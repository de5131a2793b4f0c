"""XTTS-v2 fine-tuning: a prepared dataset → a fine-tuned XTTS voice folder.

Only XTTS's GPT (text + conditioning → audio codes) is trained, with Coqui's
``GPTTrainer``; the DVAE that turns the recordings into target codes, the HiFi-GAN
decoder and the speaker encoder stay as the base has them. That is Coqui's own XTTS
fine-tuning recipe, scaled to one person's 2–60 minutes of speech (see
:class:`XttsRecipe` for each choice and why).

What :func:`finetune` does, in order, failing as early as it can:

1. find the XTTS-v2 base (:func:`voicebank.train.base_models.find_base`; nothing is
   downloaded) — a missing base stops here, before torch is imported;
2. read the dataset (``wavs/``, ``metadata.csv``, ``metadata_eval.csv`` from
   ``voicebank train prepare``) into the samples the GPT trainer expects, leaving out —
   and listing — clips longer than the GPT can take, too short, or with characters the
   XTTS vocabulary lacks;
3. train with Coqui's Trainer in ``OUT/training/`` (resumable checkpoints; the trainer's
   log is ``trainer_0_log.txt`` there, and ``OUT/train_log.jsonl`` holds one line of
   losses per evaluation);
4. export the best checkpoint (lowest held-out loss, not the last one — the guard against
   over-training) as a voice folder for :class:`voicebank.engines.xtts.XttsEngine`:
   ``model.pth`` (weights only), Coqui's ``config.json`` and ``vocab.json`` from the base,
   ``references/`` (a few training clips) and ``voice.json``; then load it once and cache
   its conditioning latents, so a broken export fails here and not when the person speaks.

Licence: the XTTS-v2 weights are under the Coqui Public Model License — a voice
fine-tuned from them is for non-commercial use only (written into its ``voice.json``).
Space: a resumable checkpoint holds the GPT and its optimizer state (roughly 5 GB for
XTTS-v2, estimated from its size); one is kept plus the best; ``OUT/training`` can be
deleted once the voice is good.

This module owns the public :func:`finetune`, the run's files (``xtts_run.json``, the
run folder to resume) and the export; :mod:`.xtts_dataset` formats the dataset and
:mod:`.xtts_trainer` sets up and runs Coqui's GPT trainer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio import PathLike
from ..durable import atomic_output, atomic_write, atomic_write_json, read_json_dict
from ..errors import UsageError
from ..voice.bases import BaseModel, find_base
from .events import TrainEvent
from .xtts_dataset import XttsSamples, dataset_summary, format_dataset
from .xtts_recipe import XttsRecipe
from .xtts_trainer import RUN_NAME, TRAIN_LOG, build_config, device_env, quiet_training, train

__all__ = ["FinetuneResult", "XttsRecipe", "XttsTrainEvent", "build_config", "export_voice",
           "finetune", "format_dataset"]

TRAINING_DIR = "training"
RUN_STATE = "xtts_run.json"
XttsTrainEvent = TrainEvent  # one progress event for both trainers


@dataclass(frozen=True)
class FinetuneResult:
    """What :func:`finetune` made."""

    voice_dir: Path
    checkpoint: Path  # the Trainer checkpoint exported (best held-out loss)
    run_dir: Path
    steps: int
    epochs: int
    best_eval_loss: float | None
    train_clips: int
    eval_clips: int
    skipped: list[tuple[str, str]]


# --------------------------------------------------------------------------- finetune


def finetune(
    recipe: Any,
    dataset_dir: PathLike | None,
    base: PathLike | None = None,
    out: PathLike | None = None,
    device: str | None = None,
    resume: bool = False,
    progress: Callable[[XttsTrainEvent], None] | None = None,
) -> FinetuneResult:
    """Fine-tune XTTS-v2's GPT on a prepared dataset and write the voice to ``out``.

    ``recipe``: a loaded recipe (model "xtts"), its name/path, or an :class:`XttsRecipe`.
    ``base``: the XTTS-v2 folder, or None to search (see :mod:`.base_models`).
    ``device``: "auto"/None (CUDA when present), "cpu", "cuda" or "cuda:N". "cpu" hides the
    GPUs from this process (Coqui's Trainer uses CUDA whenever it sees it), so it must be
    chosen before anything in the process has started CUDA.
    ``resume``: continue the latest run in ``out/training``; the dataset, base and recipe of
    the run are reused when not given (they are in ``out/xtts_run.json``).
    Raises :class:`~.base_models.BaseModelMissing` at once when the base is not there.
    """
    emit = progress or (lambda event: None)
    if out is None:
        raise UsageError("Give the folder to write the voice to (--out).")
    voice_dir = Path(out).expanduser()
    xr, base_model, dataset_dir, continue_run = _resolve_run(recipe, dataset_dir, base, voice_dir, resume)
    samples = format_dataset(dataset_dir, xr)
    emit(TrainEvent("message", message=dataset_summary(samples)))
    voice_dir.mkdir(parents=True, exist_ok=True)
    _write_run_state(voice_dir, xr, base_model, dataset_dir)
    with device_env(device):
        samples, run_dir, summary = _train_on_device(xr, base_model, dataset_dir, voice_dir, device, continue_run, emit)
    checkpoint = best_checkpoint(run_dir)
    summary["checkpoint"] = str(checkpoint)
    emit(TrainEvent("message", step=summary["steps"], path=checkpoint,
                    message=f"exporting {checkpoint} as a voice and caching its conditioning latents"))
    export_voice(checkpoint, base_model, voice_dir, xr, samples, dataset_dir, summary)
    emit(TrainEvent("stop", step=summary["steps"], loss_eval=summary["best_eval_loss"], path=voice_dir,
                    message=f"voice written to {voice_dir} (XTTS-v2 licence: non-commercial use only)"))
    return FinetuneResult(
        voice_dir=voice_dir, checkpoint=checkpoint, run_dir=run_dir, steps=summary["steps"],
        epochs=summary["epochs"], best_eval_loss=summary["best_eval_loss"], train_clips=len(samples.train),
        eval_clips=len(samples.eval), skipped=list(samples.skipped),
    )


def _resolve_run(recipe: Any, dataset_dir: PathLike | None, base: PathLike | None, voice_dir: Path,
                 resume: bool) -> tuple[XttsRecipe, BaseModel, PathLike, Path | None]:
    """The recipe, base, dataset and run folder to continue, from the arguments or (on resume) the run record.

    The base is looked up first, so a missing base fails before anything else is read.
    """
    state = read_json_dict(voice_dir / RUN_STATE, what="XTTS run record") if resume else {}
    xr = XttsRecipe.from_dict(state["recipe"]) if recipe is None and state.get("recipe") else XttsRecipe.coerce(recipe)
    if base is None and state.get("base") and Path(state["base"]).is_dir():
        base = state["base"]
    base_model = find_base("xtts_v2", base, purpose="train")
    continue_run = _prepare_out(voice_dir, resume)
    dataset_dir = dataset_dir if dataset_dir is not None else state.get("dataset")
    if dataset_dir is None:
        raise UsageError("Give the dataset to train on (--dataset), made by: voicebank train prepare BANK DATASET")
    return xr, base_model, dataset_dir, continue_run


def _train_on_device(recipe: XttsRecipe, base: BaseModel, dataset_dir: PathLike, voice_dir: Path, device: str | None,
                     continue_run: Path | None, emit: Callable[[TrainEvent], None]
                     ) -> tuple[XttsSamples, Path, dict[str, Any]]:
    """Check the texts with XTTS's tokenizer, configure Coqui's GPT trainer and train: the samples, run folder, summary."""
    from ..engines.xtts import pick_device

    dev = pick_device(device)
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer

    with quiet_training():  # Coqui's tokenizer logs a warning for long texts
        samples = format_dataset(dataset_dir, recipe, VoiceBpeTokenizer(str(base.file("vocab"))))
    for clip_id, reason in samples.skipped:
        emit(TrainEvent("message", message=f"left out {clip_id}: {reason}"))
    epochs = recipe.epochs_for(len(samples.train))
    steps_per_epoch = math.ceil(len(samples.train) / recipe.batch_size)
    config = build_config(recipe, base, voice_dir / TRAINING_DIR, epochs)
    emit(TrainEvent("start", max_steps=epochs * steps_per_epoch, epochs=epochs,
                    message=f"XTTS-v2 fine-tune on {dev}: {epochs} epochs of {steps_per_epoch} steps"))
    run_dir, summary = train(config, samples, recipe, continue_run, dev, voice_dir, emit, epochs * steps_per_epoch)
    return samples, run_dir, summary


# ----------------------------------------------------------------------------- export


def best_checkpoint(run_dir: Path) -> Path:
    """The run's best checkpoint (lowest held-out loss), else its latest one."""
    best = run_dir / "best_model.pth"
    if best.is_file():
        return best
    found = sorted(run_dir.glob("checkpoint_*.pth"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(f"The training run {run_dir} saved no checkpoint; nothing to export.")
    return found[-1]


def export_voice(
    checkpoint: PathLike,
    base: BaseModel,
    voice_dir: PathLike,
    recipe: XttsRecipe,
    samples: XttsSamples,
    dataset_dir: PathLike,
    summary: dict[str, Any],
) -> Path:
    """Write the voice folder from a Trainer checkpoint; load it once to prove it speaks.

    ``model.pth`` keeps only XTTS's weights (the GPT trainer's ``xtts.`` entries, without
    the DVAE and the optimizer): what ``Xtts.load_checkpoint`` reads.
    """
    import soundfile as sf
    import torch

    from ..engines.xtts import XttsEngine, write_voice

    root = Path(voice_dir)
    root.mkdir(parents=True, exist_ok=True)
    state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)["model"]
    weights = {k[len("xtts."):]: v for k, v in state.items() if k.startswith("xtts.")}
    if not weights:
        raise UsageError(f"{checkpoint} holds no XTTS weights; it is not a checkpoint of this trainer.")
    with atomic_output(root / "model.pth") as tmp:
        torch.save({"model": weights}, str(tmp))
    for key, name in (("config", "config.json"), ("vocab", "vocab.json")):
        atomic_write(root / name, base.file(key).read_bytes())
    durations = {s["audio_file"]: float(sf.info(s["audio_file"]).duration) for s in samples.train}
    from ..engines.xtts import select_references

    picked = select_references([(f, d, "pass") for f, d in durations.items()], recipe.n_refs)
    clips = []
    for path in picked:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        clips.append((Path(path).stem, audio.mean(axis=1), rate))
    write_voice(root, clips, name=root.name, kind="fine-tuned", base=base.path, language=recipe.language,
                extra={"recipe": recipe.to_dict(), "dataset": str(Path(dataset_dir).resolve()),
                       "training": summary, "train_log": TRAIN_LOG})
    del state, weights
    XttsEngine.from_folder(root)  # loads the weights and caches the conditioning latents
    return root


# ---------------------------------------------------------------------- the run's files


def _prepare_out(out: Path, resume: bool) -> Path | None:
    """The run folder to continue (``resume``), or None for a fresh run into an empty ``out``."""
    runs = out / TRAINING_DIR
    if resume:
        found = sorted(
            (d for d in runs.glob(f"{RUN_NAME}-*") if any(d.glob("checkpoint_*.pth")) or any(d.glob("best_model*.pth"))),
            key=lambda d: d.stat().st_mtime,
        ) if runs.is_dir() else []
        if not found:
            raise UsageError(f"There is no XTTS training to resume in {runs}; start without --resume.")
        return found[-1]
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(
            f"{out} already exists and is not empty. Choose a new folder for the voice, "
            "or add --resume to continue the training there."
        )
    return None


def _write_run_state(voice_dir: Path, recipe: XttsRecipe, base: BaseModel, dataset_dir: PathLike) -> None:
    state = {"schema_version": 1, "recipe": recipe.to_dict(), "base": str(base.path),
             "dataset": str(Path(dataset_dir).expanduser().resolve())}
    atomic_write_json(voice_dir / RUN_STATE, state, indent=1)

