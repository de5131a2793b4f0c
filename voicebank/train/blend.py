"""Strength: a voice part of the way from its base to the fine-tuned model.

Fine-tuning a base on a few minutes of one person's speech moves the model two ways at
once: it comes to sound like the person, and, trained on so few sentences, it speaks new
sentences less clearly. The parts that learn the voice (the waveform decoder, in
``vits-offline`` also the end of the flow) are trained on the latent of the person's own
recordings (the posterior path) and are then, at run time, given the latent the text
predicts (the prior path), which they never saw in training.

A strength below 1 takes every trained weight part of the way back to the base::

    w = w_base + strength * (w_voice - w_base)

Strength 1 is the fine-tuned voice, 0 the base. It is the idea of WiSE-FT (Wortsman et al.,
2022, "Robust fine-tuning of zero-shot models"): a fine-tuned model and its start lie in
one basin, and the points between them keep most of what fine-tuning gained while keeping
more of what the start did well, here speaking new text clearly. Frozen parts are the
base's already and do not change. The measurements behind ``vits-offline``'s 0.8 are in
``docs/offline-voice.md``.

Responsible for: finding a voice's base and checking it still holds the weights the voice
was trained from, the interpolation, and applying it to a live model for a while (the
training-time speech check). Not responsible for choosing the strength: the recipe's
``inference.strength`` and ``train export --strength`` do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import BaseModelError, UsageError

def check_strength(strength: float) -> float:
    s = float(strength)
    if not 0.0 <= s <= 1.0:
        raise UsageError(f"strength must be between 0 (the base voice) and 1 (the fine-tuned voice), not {strength}.")
    return s


def trained_from(state: Mapping[str, Any] | None, voice: Path) -> str | None:
    """The base named in a voice's ``training.json`` ``state`` (``--base``, else its recipe's
    ``base_model``; None: the default base). No record: the base is unknown, a clear error."""
    if state is None:
        raise UsageError(
            f"{voice} has no readable training.json, so the base it was trained from is unknown; "
            "export it at full strength (--strength 1)."
        )
    recipe = state.get("recipe") or {}
    return state.get("base") or recipe.get("base_model") or None


# Parts of a VITS that only training uses (speaking skips the duration predictor's flows.1).
# Building the offline base trains exactly these, so a base rebuilt from the same stock voice
# differs here and nowhere speech comes from.
_TRAINING_ONLY = ("disc.", "posterior_encoder.", "duration_predictor.post_", "duration_predictor.flows.1.")


def base_fingerprint(base_ref: str | None) -> str:
    """The :func:`weights_fingerprint` of ``base_ref``'s checkpoint as it is now: what a run records
    when it starts (``base_weights_sha256``)."""
    import torch

    from . import vits

    checkpoint = vits.resolve_base(base_ref).checkpoint
    try:
        state = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError …
        raise BaseModelError(f"Cannot read the base checkpoint {checkpoint} ({exc}).") from exc
    return weights_fingerprint(state.get("model", state) if isinstance(state, dict) else {})


def weights_fingerprint(weights: Mapping[str, Any]) -> str:
    """A sha256 over the tensors speech comes from (names, dtypes, shapes, values); not the training-only parts."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for key in sorted(k for k, t in weights.items() if torch.is_tensor(t) and not k.startswith(_TRAINING_ONLY)):
        tensor = weights[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def check_base_unchanged(state: Mapping[str, Any] | None, voice: Path, base_ref: str | None, advice: str) -> None:
    """Refuse a base that no longer holds the weights ``voice`` started from.

    A base is named by its folder, and a folder's voice changes when its own run is resumed;
    stepping toward the new weights would mix two voices the run never joined. Records
    written before the fingerprint was kept (no ``base_weights_sha256``) are trusted as before.
    """
    want = (state or {}).get("base_weights_sha256")
    if want and base_fingerprint(base_ref) != want:
        raise UsageError(
            f"The base {voice} was trained from ({base_ref or 'the default base'}) has changed since: its checkpoint "
            f"no longer holds the weights the run started from (they differ from training.json's base_weights_sha256). {advice}"
        )


def base_weights(model: Any, base_ref: str | None) -> tuple[dict[str, Any], Path]:
    """The base's tensors in ``model``'s layout, and the base checkpoint they came from."""
    from . import vits

    base = vits.resolve_base(base_ref)
    tensors, _ = vits.base_weights_in_layout(model, base, vits.base_config(base))
    return tensors, base.checkpoint


def interpolate(voice: Mapping[str, Any], base: Mapping[str, Any], strength: float) -> tuple[dict[str, Any], int]:
    """``base + strength * (voice - base)`` for every float tensor both have and that differ; the
    others as the voice has them. Returns the weights and how many tensors moved."""
    import torch

    out: dict[str, Any] = {}
    moved = 0
    for key, v in voice.items():
        out[key] = v
        b = base.get(key)
        if b is not None and v.is_floating_point() and b.shape == v.shape:
            b = b.to(v.dtype)
            if not torch.equal(b, v):
                out[key] = torch.lerp(b, v, strength)  # exact at both ends (strength 0 and 1)
                moved += 1
    return out, moved


@contextlib.contextmanager
def applied(model: Any, base: Mapping[str, Any], strength: float) -> Iterator[Any]:
    """``model`` at ``strength`` inside the block; its own weights are put back exactly afterwards."""
    import torch

    if strength >= 1.0:
        yield model
        return
    own = model.state_dict()
    saved = {k: t.detach().clone() for k, t in own.items() if k in base and not k.startswith("disc.")}
    blended, _ = interpolate(saved, {k: base[k].to(t.device) for k, t in saved.items()}, strength)
    try:
        with torch.no_grad():
            for k, t in blended.items():
                own[k].copy_(t)
        yield model
    finally:
        with torch.no_grad():
            for k, t in saved.items():
                own[k].copy_(t)
