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
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..audio import PathLike
from ..durable import atomic_output, atomic_write, atomic_write_json, read_json_dict
from ..errors import UsageError
from ..voice.bases import BaseModel, find_base
from .dataset import DatasetError, Utterance, load_dataset
from .finetune import TrainEvent
from .xtts_recipe import XttsRecipe

__all__ = ["FinetuneResult", "XttsRecipe", "XttsSamples", "XttsTrainEvent", "build_config", "export_voice",
           "finetune", "format_dataset"]

TRAINING_DIR = "training"
TRAIN_LOG = "train_log.jsonl"
RUN_STATE = "xtts_run.json"
RUN_NAME = "xtts-finetune"
XttsTrainEvent = TrainEvent  # one progress event for both trainers
GPT_RATE = 22050  # the rate XTTS's GPT and DVAE work at
MIN_CLIP_SECONDS = 0.5  # Coqui's XTTSDataset refuses shorter clips


@dataclass(frozen=True)
class XttsSamples:
    """The dataset as Coqui's GPT trainer takes it, and what was left out and why."""

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (utterance id, reason)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0


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


# ---------------------------------------------------------------------------- dataset


def format_dataset(dataset_dir: PathLike, recipe: XttsRecipe, tokenizer: Any = None) -> XttsSamples:
    """Read an LJSpeech-layout dataset into the GPT trainer's samples.

    Each sample is ``{"text", "audio_file", "speaker_name", "language", "root_path",
    "audio_unique_name"}`` with the *normalised* transcript (the text the engines feed XTTS).
    Clips that Coqui's dataset would drop silently are left out here, with the reason. With a
    ``tokenizer`` (Coqui's ``VoiceBpeTokenizer``) texts are checked against the vocabulary too.
    A dataset without held-out clips gets every tenth (by a hash of the id) held out.
    """
    import soundfile as sf

    ds = load_dataset(dataset_dir)
    root = ds.root.resolve()
    skipped: list[tuple[str, str]] = []
    splits: dict[str, list[tuple[dict[str, Any], float]]] = {"train": [], "eval": []}
    for split, rows in (("train", ds.train), ("eval", ds.eval)):
        for utt in rows:
            wav = utt.wav.expanduser().resolve()  # load_dataset gives DATASET/wavs/ID.wav as passed in
            if not wav.is_file() and not utt.wav.is_absolute() and (root / utt.wav).is_file():
                wav = root / utt.wav
            try:
                seconds = float(sf.info(str(wav)).duration)
            except (OSError, RuntimeError) as exc:
                skipped.append((utt.id, f"its audio {wav} cannot be read ({exc})"))
                continue
            reason = _clip_problem(utt, seconds, recipe, tokenizer)
            if reason:
                skipped.append((utt.id, reason))
                continue
            sample = {
                "text": utt.normalized,
                "audio_file": str(wav),
                "speaker_name": "voicebank",
                "language": recipe.language,
                "root_path": str(root),
                "audio_unique_name": f"{root.name}#{utt.id}",
            }
            splits[split].append((sample, seconds))
    if not splits["eval"] and len(splits["train"]) >= 2:
        ranked = sorted(splits["train"], key=lambda s: hashlib.sha256(s[0]["audio_unique_name"].encode()).hexdigest())
        n = max(1, len(ranked) // 10)
        splits["eval"], splits["train"] = ranked[:n], ranked[n:]
    if not splits["train"] or not splits["eval"]:
        why = "; ".join(f"{i}: {r}" for i, r in skipped[:5])
        raise DatasetError(
            f"{ds.root} leaves {len(splits['train'])} clip(s) to train on and {len(splits['eval'])} to hold out; "
            "XTTS fine-tuning needs at least one of each (and 2+ minutes of speech for a useful voice)."
            + (f" Left out: {why}" if why else "")
        )
    return XttsSamples(
        train=[s for s, _ in splits["train"]],
        eval=[s for s, _ in splits["eval"]],
        skipped=skipped,
        train_seconds=sum(d for _, d in splits["train"]),
        eval_seconds=sum(d for _, d in splits["eval"]),
    )


def _clip_problem(utt: Utterance, seconds: float, recipe: XttsRecipe, tokenizer: Any) -> str | None:
    if seconds > recipe.max_audio_seconds:
        return f"it is {seconds:.1f} s long; XTTS takes clips up to {recipe.max_audio_seconds} s"
    if seconds < MIN_CLIP_SECONDS:
        return f"it is {seconds:.2f} s long; XTTS needs at least {MIN_CLIP_SECONDS} s"
    if not utt.normalized.strip():
        return "it has no transcript"
    if tokenizer is not None:
        try:
            tokens = tokenizer.encode(utt.normalized, recipe.language)
        except Exception as exc:  # Coqui's cleaners raise assorted errors on odd text
            return f"XTTS cannot read its transcript ({type(exc).__name__}: {exc})"
        if 1 in tokens or 0 in tokens:  # [UNK] / [STOP]
            return "its transcript has characters the XTTS vocabulary does not know"
        if len(tokens) > recipe.max_text_tokens:
            return f"its transcript is {len(tokens)} tokens; XTTS takes at most {recipe.max_text_tokens}"
    return None


# ----------------------------------------------------------------------------- config


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
    state = read_json_dict(voice_dir / RUN_STATE, what="XTTS run record") if resume else {}
    xr = XttsRecipe.from_dict(state["recipe"]) if recipe is None and state.get("recipe") else XttsRecipe.coerce(recipe)
    if base is None and state.get("base") and Path(state["base"]).is_dir():
        base = state["base"]
    base_model = find_base("xtts_v2", base, purpose="train")
    continue_run = _prepare_out(voice_dir, resume)
    dataset_dir = dataset_dir if dataset_dir is not None else state.get("dataset")
    if dataset_dir is None:
        raise UsageError("Give the dataset to train on (--dataset), made by: voicebank train prepare BANK DATASET")
    samples = format_dataset(dataset_dir, xr)
    emit(TrainEvent("message", message=_dataset_summary(samples)))
    voice_dir.mkdir(parents=True, exist_ok=True)
    _write_run_state(voice_dir, xr, base_model, dataset_dir)

    from ..engines.xtts import pick_device

    with _device_env(device):
        dev = pick_device(device)
        from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer

        with _quiet_training():  # Coqui's tokenizer logs a warning for long texts
            samples = format_dataset(dataset_dir, xr, VoiceBpeTokenizer(str(base_model.file("vocab"))))
        for clip_id, reason in samples.skipped:
            emit(TrainEvent("message", message=f"left out {clip_id}: {reason}"))
        epochs = xr.epochs_for(len(samples.train))
        steps_per_epoch = math.ceil(len(samples.train) / xr.batch_size)
        config = build_config(xr, base_model, voice_dir / TRAINING_DIR, epochs)
        emit(TrainEvent("start", max_steps=epochs * steps_per_epoch, epochs=epochs,
                            message=f"XTTS-v2 fine-tune on {dev}: {epochs} epochs of {steps_per_epoch} steps"))
        run_dir, summary = _train(config, samples, xr, continue_run, dev, voice_dir, emit, epochs * steps_per_epoch)
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


def _train(config: Any, samples: XttsSamples, recipe: XttsRecipe, continue_run: Path | None, device: str,
           voice_dir: Path, emit: Callable[[XttsTrainEvent], None], max_steps: int) -> tuple[Path, dict[str, Any]]:
    """Run Coqui's Trainer (quietly: its log goes to the run folder): its folder and a summary.

    The trainer (model, optimizer, data) is released before returning, so the export that
    follows has the GPU memory to itself.
    """
    import time

    from trainer import Trainer, TrainerArgs
    from TTS.tts.layers.xtts.trainer.gpt_trainer import GPTTrainer

    log_path = voice_dir / TRAIN_LOG
    clock = {"last": None, "per_step": None, "best": math.inf}

    def on_step(trainer: Any) -> None:
        now = time.monotonic()
        if clock["last"] is not None:
            took = now - clock["last"]
            clock["per_step"] = took if clock["per_step"] is None else 0.9 * clock["per_step"] + 0.1 * took
        clock["last"] = now
        avg = trainer.keep_avg_train.avg_values if trainer.keep_avg_train else {}
        step = int(trainer.total_steps_done)
        emit(TrainEvent("step", step=step, max_steps=max(max_steps, step), epoch=int(trainer.epochs_done) + 1,
                            epochs=int(trainer.config.epochs), loss_train=_finite(avg.get("avg_loss")),
                            lr=_finite(trainer.optimizer[0].param_groups[0]["lr"]), seconds_per_step=clock["per_step"]))

    def on_epoch(trainer: Any) -> None:
        clock["last"] = None  # evaluation time is not step time
        train = trainer.keep_avg_train.avg_values if trainer.keep_avg_train else {}
        held = trainer.keep_avg_eval.avg_values if trainer.keep_avg_eval else {}
        point = {"step": int(trainer.total_steps_done), "epoch": int(trainer.epochs_done) + 1,
                 "loss_train": _finite(train.get("avg_loss")), "loss_eval": _finite(held.get("avg_loss"))}
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(point) + "\n")
        epochs = int(trainer.config.epochs)
        emit(TrainEvent("eval", step=point["step"], max_steps=max(max_steps, point["step"]), epoch=point["epoch"],
                            epochs=epochs, loss_train=point["loss_train"],
                            loss_eval=point["loss_eval"] if point["loss_eval"] is not None else math.nan,
                            message=f"epoch {point['epoch']}/{epochs}"))
        best = trainer.best_loss.get("eval_loss") if isinstance(trainer.best_loss, dict) else None
        if best is not None and best < clock["best"]:
            clock["best"] = best
            emit(TrainEvent("best", step=point["step"], epoch=point["epoch"], loss_eval=_finite(best),
                                path=Path(trainer.output_path) / "best_model.pth"))

    gpu = int(device.split(":", 1)[1]) if device.startswith("cuda:") else None
    planned_epochs = int(config.epochs)
    with _quiet_training():
        model = GPTTrainer(config)
        with _git_quiet():
            trainer = Trainer(
                TrainerArgs(continue_path=str(continue_run or ""), grad_accum_steps=recipe.grad_accum_steps),
                config,
                output_path=config.output_path,
                model=model,
                train_samples=samples.train,
                eval_samples=samples.eval,
                parse_command_line_args=False,
                callbacks={"on_train_step_end": on_step, "on_epoch_end": on_epoch},
                gpu=gpu,
            )
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
    del trainer, model
    _free_memory()
    return run_dir, summary


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


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


# ---------------------------------------------------------------------------- helpers


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


def _dataset_summary(samples: XttsSamples) -> str:
    text = (f"{len(samples.train)} clips to train on ({samples.train_seconds / 60:.1f} min), "
            f"{len(samples.eval)} held out ({samples.eval_seconds / 60:.1f} min)")
    if samples.skipped:
        text += f"; {len(samples.skipped)} left out (first: {samples.skipped[0][0]}: {samples.skipped[0][1]})"
    if samples.train_seconds < 120:
        text += "; under 2 minutes of speech: expect a voice close to zero-shot cloning"
    return text


@contextmanager
def _device_env(device: str | None) -> Iterator[None]:
    """``device="cpu"`` hides the GPUs (Coqui's Trainer uses CUDA whenever it sees one)."""
    if device != "cpu":
        yield
        return
    old = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        import torch

        if torch.cuda.is_available():
            raise UsageError(
                "CUDA was already started in this process, so training cannot be moved to the CPU; "
                "run the command again with CUDA_VISIBLE_DEVICES= set."
            )
        yield
    finally:
        if old is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = old


@contextmanager
def _quiet_training() -> Iterator[None]:
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


@contextmanager
def _git_quiet() -> Iterator[None]:
    """Coqui's Trainer runs ``git branch`` when it resumes; outside a repository git's
    "fatal: not a git repository" would land on the user's screen (file descriptor 2)."""
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
