"""Averaging voices trained the same way from one start: a uniform "model soup".

Runs of one recipe from one voice on one dataset, differing only in their random seed, end
in one basin of the loss, and the average of their weights usually speaks better than any
of them alone (Wortsman et al., 2022, "Model soups"). For ``vits-offline-more`` the
measurements are in ``docs/offline-voice.md``. The average is a voice folder like any
other: ``train export`` exports it (at its recipe's strength, part of the way back to the
shared start), ``train eval`` scores it, and ``train finetune --base`` can train it further
(the run starts from the mean of the runs' discriminators too, while their checkpoints remain).

Only voices that share their start, their dataset, their recipe (but for the seed) and
their model layout are averaged; anything else is refused before anything is written,
because weights of models that did not start together do not line up.

Responsible for: checking the voices belong together, the average, and the new folder
(``model.pth``, ``config.json``, ``training.json``, ``card.json``). Not responsible for
training the voices (:mod:`.finetune`) or for the strength (:mod:`.blend`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..durable import atomic_output, atomic_write_json, read_json
from ..errors import UsageError
from ..voice.card import card_for, carry_card
from ..voice.training_record import TRAINING_RECORD, read_training_record
from .run_files import CONFIG_FILE, MODEL_FILE
# Parts of config.json that define the model; the rest (output folder, seed) differs run to run.
_LAYOUT_KEYS = ("model_args", "audio", "characters", "add_blank", "phoneme_language")


@dataclass
class SoupResult:
    voice_dir: Path
    voices: list[Path]
    seeds: list[Any]
    tensors: int  # weight tensors averaged (the others are equal in every voice)
    seconds: float


def average_voices(voices: list[str | os.PathLike[str]], out: str | os.PathLike[str]) -> SoupResult:
    """Average the weights of ``voices`` (folders made by ``train finetune``) into the voice folder ``out``."""
    started = time.perf_counter()
    folders = [Path(v).expanduser() for v in voices]
    out_dir = Path(out).expanduser()
    _check_folders(folders, out_dir)
    records = [_record(f) for f in folders]
    _check_together(folders, records)
    configs = [read_json(f / CONFIG_FILE, what="voice config") for f in folders]
    _check_layout(folders, configs)
    cards = [card_for(f) for f in folders]
    _check_consent(folders, cards)
    states = [_load(f) for f in folders]
    averaged, tensors = mean_weights([s["model"] for s in states], folders)

    seeds = [_seed(r) for r in records]
    soup = {**states[0], "model": averaged, "voicebank": {**(states[0].get("voicebank") or {}), "averaged_from": len(folders)}}
    out_dir.mkdir(parents=True, exist_ok=True)
    import torch

    with atomic_output(out_dir / MODEL_FILE) as tmp:
        torch.save(soup, str(tmp))
    atomic_write_json(out_dir / CONFIG_FILE, configs[0], indent=2)
    ingredients = [
        {"voice": str(f.resolve()), "seed": seed, "best_step": r.get("best_step"), "best_loss_eval": r.get("best_loss_eval")}
        for f, r, seed in zip(folders, records, seeds)
    ]
    keep = ("recipe", "dataset", "base", "base_weights_sha256", "metric")
    atomic_write_json(
        out_dir / TRAINING_RECORD,
        {"schema_version": records[0].get("schema_version", 1), **{k: records[0][k] for k in keep if k in records[0]},
         "status": "averaged", "averaged_from": ingredients},
        indent=2,
    )
    names = ", ".join(f.name for f in folders)
    carry_card(cards[0], out_dir, f"averaged from {len(folders)} voices trained alike ({names})", name=out_dir.name)
    return SoupResult(out_dir, folders, seeds, tensors, time.perf_counter() - started)


def _check_folders(folders: list[Path], out_dir: Path) -> None:
    if len(folders) < 2:
        raise UsageError("Give at least two voices to average (trained with the same recipe, base and dataset, different --seed).")
    if len({f.resolve() for f in folders}) < len(folders):
        raise UsageError("A voice is named twice; give each voice once.")
    for f in folders:
        if not (f / MODEL_FILE).is_file() or not (f / CONFIG_FILE).is_file():
            raise UsageError(f"{f} is not a trained voice folder (no {MODEL_FILE} and {CONFIG_FILE}); "
                             "give folders made by 'voicebank train finetune'.")
    if (out_dir / MODEL_FILE).exists():
        raise UsageError(f"{out_dir} already holds a voice ({MODEL_FILE}); choose a new --out folder.")


def _record(folder: Path) -> dict[str, Any]:
    record = read_training_record(folder)
    if record is None or not isinstance(record.get("recipe"), dict):
        raise UsageError(f"{folder} has no training record ({TRAINING_RECORD}), so what it was trained from is unknown; "
                         "only voices made by 'voicebank train finetune' can be averaged.")
    return record


def _seed(record: dict[str, Any]) -> Any:
    return (record["recipe"].get("training") or {}).get("seed")


def _check_together(folders: list[Path], records: list[dict[str, Any]]) -> None:
    """Same start, same dataset, same recipe but for its seed: otherwise the weights do not line up."""
    def recipe_but_seed(r: dict[str, Any]) -> dict[str, Any]:
        recipe = dict(r["recipe"])
        training = dict(recipe.get("training") or {})
        training.pop("seed", None)
        training.pop("max_steps", None)  # where a run was told to stop; the best step is what it kept
        training.pop("runs", None)  # records made before runs existed lack it
        recipe.pop("name", None)
        recipe.pop("description", None)
        return {**recipe, "training": training}

    first = records[0]
    for folder, record in zip(folders[1:], records[1:]):
        for what, key in (("start (--base)", "base"), ("dataset", "dataset")):
            if record.get(key) != first.get(key):
                raise UsageError(f"{folder} was trained from another {what} than {folders[0]} "
                                 f"({record.get(key) or 'the recipe default'} against {first.get(key) or 'the recipe default'}); "
                                 "only voices trained alike can be averaged.")
        weights = (record.get("base_weights_sha256"), first.get("base_weights_sha256"))  # absent in records made before it
        if None not in weights and weights[0] != weights[1]:  # one folder, trained further between the runs
            raise UsageError(f"{folder} and {folders[0]} name the same start ({first.get('base') or 'the recipe default'}), "
                             "but it held other weights when each run began (their training.json base_weights_sha256 differ): "
                             "they did not start together, so their weights do not line up. Average runs started from the same weights.")
        if recipe_but_seed(record) != recipe_but_seed(first):
            raise UsageError(f"{folder} was trained with other recipe settings than {folders[0]}; "
                             "average voices trained with the same recipe and different --seed.")
    seeds = [_seed(r) for r in records]
    if len(set(map(str, seeds))) < len(seeds):
        raise UsageError(f"Two of these voices were trained with the same seed ({seeds}): they are near copies, and "
                         "averaging them gains nothing. Train the others with 'train finetune ... --seed N'.")


def _check_layout(folders: list[Path], configs: list[Any]) -> None:
    def layout(c: Any) -> Any:
        return {k: c.get(k) for k in _LAYOUT_KEYS} if isinstance(c, dict) else None

    for folder, config in zip(folders[1:], configs[1:]):
        if layout(config) is None or layout(config) != layout(configs[0]):
            raise UsageError(f"{folder} has another model layout than {folders[0]} ({CONFIG_FILE} differs).")


def _check_consent(folders: list[Path], cards: list[Any]) -> None:
    statuses = [c.consent.get("status") for c in cards]
    if len(set(statuses)) > 1:
        listed = ", ".join(f"{f.name}: {s}" for f, s in zip(folders, statuses))
        raise UsageError(f"These voices were made under different consent records ({listed}); "
                         "an average carries one card, so average only voices made under the same consent.")


def _load(folder: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(str(folder / MODEL_FILE), map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise UsageError(f"{folder / MODEL_FILE} is damaged or unreadable ({exc}).") from exc
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise UsageError(f"{folder / MODEL_FILE} holds no model weights.")
    return state


def mean_weights(models: list[dict[str, Any]], folders: list[Path]) -> tuple[dict[str, Any], int]:
    """The mean of every float tensor (in float64, stored in its own dtype); other tensors must be equal."""
    import torch

    first = models[0]
    for folder, model in zip(folders[1:], models[1:]):
        if model.keys() != first.keys() or any(model[k].shape != first[k].shape for k in first):
            raise UsageError(f"{folder} has other weights than {folders[0]}: they are not the same model.")
    out: dict[str, Any] = {}
    averaged = 0
    for key, tensor in first.items():
        if tensor.is_floating_point():
            total = sum(m[key].to(torch.float64) for m in models)
            out[key] = (total / len(models)).to(tensor.dtype)
            averaged += int(any(not torch.equal(m[key], tensor) for m in models[1:]))
        elif all(torch.equal(m[key], tensor) for m in models[1:]):
            out[key] = tensor
        else:
            raise UsageError(f"{', '.join(map(str, folders))} differ in {key}, which cannot be averaged.")
    return out, averaged

