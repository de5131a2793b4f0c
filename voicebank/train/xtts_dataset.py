"""XTTS fine-tuning's dataset: a prepared dataset read into the samples Coqui's GPT trainer takes, and what was left out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..audio import PathLike
from .dataset import DatasetError, Utterance, load_dataset
from .xtts_recipe import XttsRecipe

MIN_CLIP_SECONDS = 0.5  # Coqui's XTTSDataset refuses shorter clips


@dataclass(frozen=True)
class XttsSamples:
    """The dataset as Coqui's GPT trainer takes it, and what was left out and why."""

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (utterance id, reason)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0


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


def dataset_summary(samples: XttsSamples) -> str:
    """One line for the user: how much speech trains, how much is held out, what was left out."""
    text = (f"{len(samples.train)} clips to train on ({samples.train_seconds / 60:.1f} min), "
            f"{len(samples.eval)} held out ({samples.eval_seconds / 60:.1f} min)")
    if samples.skipped:
        text += f"; {len(samples.skipped)} left out (first: {samples.skipped[0][0]}: {samples.skipped[0][1]})"
    if samples.train_seconds < 120:
        text += "; under 2 minutes of speech: expect a voice close to zero-shot cloning"
    return text
