"""A voice between its base and the fine-tuned model: how strongly the bank's voice is applied.

Fine-tuning a base on a few minutes of one person's speech moves the model two ways at
once: it comes to sound like the person, and, trained on so few sentences, it speaks new
sentences less clearly. The parts that learn the voice (the waveform decoder, in
``vits-offline`` also the flow) are trained on the latent of the person's own recordings
(the posterior path) and then, at run time, are given the latent the text predicts (the
prior path), which they never saw in training.

Blending takes every weight part of the way from the base to the fine-tuned model::

    w = w_base + strength * (w_voice - w_base)

``strength`` 1 is the fine-tuned voice, 0 the base. The same idea as WiSE-FT (Wortsman et
al., 2022, "Robust fine-tuning of zero-shot models"): a fine-tuned model and its start
lie in one basin, and the points between them keep most of what fine-tuning gained while
keeping more of what the start did well, here speaking new text clearly. The measurements
behind the default are in ``recipes/vits-offline.toml``.

Responsible for: finding the voice's base, interpolating the weights, writing a new voice
folder that ``train eval``, ``train export`` and ``train blend`` take like any other.
Not responsible for choosing the strength (the user does, with ``train eval``'s numbers).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .checkpoints import write_atomic
from .finetune import CONFIG_FILE, MODEL_FILE, STATE_FILE, CheckpointError

COPIED = (CONFIG_FILE, STATE_FILE, "train_log.jsonl")  # the voice's record travels with the blend


@dataclass(frozen=True)
class BlendResult:
    """The blended voice folder and what went into it."""

    voice_dir: Path
    strength: float
    base: Path  # the base checkpoint the weights were taken towards
    tensors_blended: int  # tensors where the voice differs from the base (the parts that were trained)
    tensors_same: int  # tensors the voice kept from the base (frozen parts): unchanged by any strength


def blend_voice(
    voice_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    strength: float,
    *,
    base: str | os.PathLike[str] | None = None,
) -> BlendResult:
    """Write ``out_dir`` (``model.pth`` + ``config.json``): ``voice_dir`` applied at ``strength``.

    ``base`` defaults to the one the voice was trained from (its ``training.json``).
    """
    import torch

    from . import vits

    if not 0.0 <= float(strength) <= 1.0:
        raise UsageError(f"strength must be between 0 (the base voice) and 1 (the fine-tuned voice), not {strength}.")
    voice = Path(voice_dir).expanduser()
    out = Path(out_dir).expanduser()
    model_path, config_path = voice / MODEL_FILE, voice / CONFIG_FILE
    for p in (model_path, config_path):
        if not p.is_file():
            raise UsageError(f"{voice} is not a trained voice folder ({p.name} is missing).")
    if out.resolve() == voice.resolve():
        raise UsageError("Write the blend to a new folder (--out): the fine-tuned voice is kept as it is.")
    payload = _load(model_path)
    base_model = vits.resolve_base(base if base is not None else _trained_from(voice))
    config = vits.load_config(config_path)
    config.model_args.init_discriminator = False
    model = vits.make_model(config)
    try:
        model.load_state_dict(payload["model"], strict=True)
    except RuntimeError as exc:
        raise UsageError(f"{model_path} does not match {config_path} ({exc}).") from exc
    toward, _ = vits.base_weights_in_layout(model, base_model, vits.base_config(base_model))
    weights, blended, same = _interpolate(payload["model"], toward, float(strength))

    meta = dict(payload.get("voicebank") or {})
    for stale in ("similarity", "wer"):  # the training-time check scored the unblended voice
        meta.pop(stale, None)
    meta["blend"] = {
        "strength": float(strength),
        "base": str(base_model.checkpoint),
        "voice": str(voice.resolve()),
        "voice_step": payload.get("step"),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (voice / name).is_file():
            shutil.copyfile(voice / name, out / name)
    blob = {**payload, "model": weights, "voicebank": meta}
    write_atomic(out / MODEL_FILE, lambda tmp: torch.save(blob, str(tmp)), _disk_error)
    (out / "blend.json").write_text(json.dumps(meta["blend"], indent=2) + "\n", encoding="utf-8")
    return BlendResult(out, float(strength), base_model.checkpoint, blended, same)


def _interpolate(voice: dict[str, Any], base: dict[str, Any], strength: float) -> tuple[dict[str, Any], int, int]:
    """``base + strength * (voice - base)`` for every float tensor both have; others as the voice has them."""
    import torch

    out: dict[str, Any] = {}
    blended = same = 0
    for key, v in voice.items():
        b = base.get(key)
        if b is None or not v.is_floating_point() or b.shape != v.shape:
            out[key] = v
            continue
        b = b.to(v.dtype)
        if bool((b == v).all()):
            out[key] = v
            same += 1
            continue
        out[key] = torch.lerp(b, v, strength)  # exact at both ends (strength 0 and 1)
        blended += 1
    return out, blended, same


def _trained_from(voice: Path) -> str | None:
    """The base named when the voice was trained (``--base``, else its recipe's ``base_model``)."""
    try:
        state = json.loads((voice / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(
            f"{voice} has no readable {STATE_FILE}, so its base is unknown; name it with --base."
        ) from None
    recipe = state.get("recipe") or {}
    return state.get("base") or recipe.get("base_model") or None


def _load(model_path: Path) -> dict[str, Any]:
    import torch

    try:
        payload = torch.load(str(model_path), map_location="cpu", weights_only=False)
    except Exception as exc:  # RuntimeError, UnpicklingError, EOFError …
        raise UsageError(f"{model_path} cannot be read ({exc}).") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise UsageError(f"{model_path} is not a voice's model.pth (no 'model' weights).")
    return payload


def _disk_error(exc: BaseException, what: Path) -> CheckpointError:
    return CheckpointError(f"Could not write {what} ({exc}); the blend was not written.")
