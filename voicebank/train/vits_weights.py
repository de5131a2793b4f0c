"""Starting a VITS from a base: finding its checkpoint, and its weights in our model's layout.

A base is a Coqui-format VITS checkpoint (``--base``, Coqui's LJSpeech VITS, the offline
base built from the stock voice, or a voice trained here). Its phoneme embedding is
remapped to Piper's ids symbol by symbol; old-style weight-norm names are renamed. Where
base folders are looked for is :mod:`voicebank.voice.bases`; nothing is downloaded here.

This module imports Coqui TTS; import it lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.utils.text.characters import BaseCharacters

from ..errors import BaseModelError, BaseModelMissing, CorruptFileError, UsageError
from ..voice.phonemes import BOS, EOS, PAD, PIPER_SYMBOLS, piper_symbols
from .vits_config import load_config

COQUI_LJSPEECH_VITS = "tts_models/en/ljspeech/vits"


@dataclass(frozen=True)
class BaseModel:
    """A Coqui-format VITS checkpoint to start from, and its config."""

    checkpoint: Path
    config: Path


def resolve_base(ref: str | Path | None) -> BaseModel:
    """The checkpoint and config of ``--base`` (a folder or a ``.pth`` in one), or of the VITS base.

    Looked up by :func:`voicebank.voice.bases.find_base` (``ref`` None: voicebank's
    and Coqui's model folders). Nothing is ever downloaded: a missing base raises
    :class:`~voicebank.errors.BaseModelMissing`, whose message says what to
    download (Coqui's ``tts_models/en/ljspeech/vits``) and where to put it. A voice trained
    by voicebank (``model.pth`` + ``config.json``) is a valid base too.
    """
    from ..voice.bases import find_base

    if ref is not None and str(ref) in OFFLINE_BASE_NAMES:
        return offline_base()
    given = Path(str(ref)).expanduser() if ref is not None else None
    if given is not None and given.is_file() and given.suffix == ".pth" and (given.parent / "config.json").is_file():
        return BaseModel(checkpoint=given, config=given.parent / "config.json")  # a checkpoint named by hand
    try:
        found = find_base("vits", ref, purpose="train")
    except BaseModelMissing as exc:
        text = str(exc)
        if COQUI_LJSPEECH_VITS not in text:  # name the model as Coqui's tools know it
            text += f"\n(Coqui's name for this model: {COQUI_LJSPEECH_VITS}; voicebank never downloads during training.)"
        raise BaseModelMissing(text) from None
    return BaseModel(checkpoint=found.file("model"), config=found.file("config"))


OFFLINE_BASE_NAMES = ("joe-offline", "offline")


def offline_base() -> BaseModel:
    """The offline base built from the stock voice (``voicebank train base build``), or a clear error."""
    from .offline_base import default_base_dir

    folder = default_base_dir()
    model, config = folder / "model.pth", folder / "config.json"
    if not (model.is_file() and config.is_file()):
        raise BaseModelMissing(
            f"The offline base is not built yet (looked in {folder}). Build it once from the stock voice, with "
            "nothing downloaded: voicebank train base build (about 20 minutes on 2 CPU cores)."
        )
    return BaseModel(checkpoint=model, config=config)


def base_config(base: BaseModel) -> VitsConfig:
    config = load_config(base.config)
    args = config.model_args
    if args.use_speaker_embedding or args.use_d_vector_file or args.use_language_embedding:
        raise BaseModelError(
            f"{base.config} is a multi-speaker or multi-lingual VITS; voicebank fine-tunes single-speaker bases "
            f"(such as {COQUI_LJSPEECH_VITS})."
        )
    return config


def load_base_weights(model: Any, base: BaseModel, config_of_base: VitsConfig) -> dict[str, int]:
    """Copy the base's weights into ``model``; remap its phoneme embedding to Piper's ids.

    Rows of the text embedding are matched by symbol: a symbol the base knows keeps its
    learned vector, the others keep their fresh initialisation. Returns counts for the
    progress report (``tensors``, ``symbols_kept``, ``symbols_new``, ``fresh_generator_tensors``,
    ``fresh_discriminator_tensors``).
    """
    tensors, counts = base_weights_in_layout(model, base, config_of_base, discriminator=True)
    model.load_state_dict(tensors, strict=False)
    return counts


def base_weights_in_layout(
    model: Any, base: BaseModel, config_of_base: VitsConfig, *, discriminator: bool = False
) -> tuple[dict[str, Any], dict[str, int]]:
    """The base's tensors renamed and shaped as ``model``'s, and the counts of :func:`load_base_weights`.

    Only tensors the base has are returned. In the phoneme embedding, rows of symbols the
    base does not know hold ``model``'s current values. ``discriminator``: a voice used as
    the base also brings the discriminator of its best checkpoint (only a new run needs it).
    """
    import torch

    try:
        state = torch.load(str(base.checkpoint), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError …
        raise BaseModelError(f"Cannot read the base checkpoint {base.checkpoint} ({exc}).") from exc
    weights = state.get("model", state) if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        raise BaseModelError(f"{base.checkpoint} is not a Coqui checkpoint (no 'model' weights).")
    if discriminator and not any(k.startswith("disc.") for k in weights):
        weights = {**weights, **_discriminator_of_voice(base.checkpoint)}
    own = model.state_dict()
    weights = _modern_weight_norm_keys(weights, own)
    key = "text_encoder.emb.weight"
    kept = new = 0
    if key in weights:
        emb = own[key].clone()
        old = weights[key]
        ids = _base_symbol_ids(config_of_base)
        for i, symbol in enumerate(piper_symbols()):
            j = ids.get(symbol)
            if j is not None and j < old.shape[0] and old.shape[1] == emb.shape[1]:
                emb[i] = old[j]
                kept += 1
            elif i < PIPER_SYMBOLS:
                new += 1
        weights = {**weights, key: emb}
    loadable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    wrong = [k for k in weights if k in own and own[k].shape != weights[k].shape and not k.startswith("disc.")]
    if wrong:
        raise BaseModelError(
            f"The base {base.checkpoint} does not match its config.json ({len(wrong)} tensors differ in shape, "
            f"e.g. {wrong[0]})."
        )
    missing_gen = [k for k in own if not k.startswith("disc.") and k not in loadable]
    if len(missing_gen) > len([k for k in own if not k.startswith("disc.")]) // 2:
        raise BaseModelError(f"{base.checkpoint} does not look like a VITS checkpoint ({len(missing_gen)} generator tensors missing).")
    return loadable, {
        "tensors": len(loadable),
        "symbols_kept": kept,
        "symbols_new": new,
        "fresh_generator_tensors": len(missing_gen),
        "fresh_discriminator_tensors": sum(1 for k in own if k.startswith("disc.") and k not in loadable),
    }


def _discriminator_of_voice(model_path: Path) -> dict[str, Any]:
    """The discriminator a voice trained here left in its best checkpoint (empty when there is none).

    A voice's ``model.pth`` keeps only the generator; a run that starts from that voice should
    not pit it against a fresh, untrained discriminator, so it is taken from the checkpoint of
    the step ``model.pth`` holds, when the run's checkpoints are still beside it. An averaged
    voice (:mod:`.soup`) brings the mean of its runs' discriminators, as its generator is theirs.
    """
    from ..voice.training_record import read_training_record

    try:
        record = read_training_record(model_path.parent)
    except CorruptFileError:
        return {}
    if not record:
        return {}
    if record.get("status") == "averaged":
        from .soup import mean_weights

        runs = [Path(str(ingredient.get("voice"))) for ingredient in record.get("averaged_from") or []]
        try:
            parts = [_best_discriminator(run, read_training_record(run) or {}) for run in runs]
            return mean_weights(parts, runs)[0] if parts and all(parts) else {}
        except (CorruptFileError, UsageError):  # a run's record damaged, or its discriminator another shape
            return {}
    return _best_discriminator(model_path.parent, record)


def _best_discriminator(voice: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The ``disc.`` tensors of the checkpoint of ``record``'s best step in ``voice`` (empty when gone)."""
    import torch

    from .checkpoints import list_checkpoints

    if not record.get("run_dir") or record.get("best_step") is None:
        return {}
    checkpoint = dict(list_checkpoints(voice / str(record["run_dir"]))).get(int(record["best_step"]))
    if checkpoint is None:
        return {}
    try:
        state = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    except Exception:  # an unreadable checkpoint only costs a fresh discriminator
        return {}
    weights = state.get("model", {}) if isinstance(state, dict) else {}
    return {k: v for k, v in weights.items() if k.startswith("disc.")}


def _modern_weight_norm_keys(weights: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Rename old-style weight-norm tensors (``weight_g``/``weight_v``, Coqui's released models) to
    the ``parametrizations.weight.original0/1`` names of current torch, where the model has those."""
    out = dict(weights)
    for k in list(weights):
        for old, new in ((".weight_g", ".parametrizations.weight.original0"), (".weight_v", ".parametrizations.weight.original1")):
            if k.endswith(old):
                renamed = k[: -len(old)] + new
                if renamed in own and renamed not in out:
                    out[renamed] = out.pop(k)
    return out


def _base_symbol_ids(config_of_base: VitsConfig) -> dict[str, int]:
    """Symbol → row of the base's embedding, from the base's character settings.

    Only the base's characters class is built (not its tokenizer, which would start the
    base's own phonemizer, e.g. a system espeak). An unreadable setting gives an empty
    map: the embedding then starts fresh.
    """
    chars = config_of_base.characters
    if chars is None:
        return {}
    klass_path = str(getattr(chars, "characters_class", "") or "")
    if klass_path.endswith(".PiperCharacters"):
        return {s: i for i, s in enumerate(piper_symbols())}
    try:
        from TTS.utils.generic_utils import import_class

        klass = import_class(klass_path) if klass_path else BaseCharacters
        characters, _ = klass.init_from_config(config_of_base)
        vocab = list(characters.vocab)
    except Exception:  # an old or exotic characters class
        return {}
    ids = {s: i for i, s in enumerate(vocab) if isinstance(s, str) and len(s) == 1}
    blank = getattr(characters, "blank", None)
    if config_of_base.add_blank and blank in vocab:
        ids[PAD] = vocab.index(blank)  # Piper's pad is the interspersed blank
    for ours, theirs in ((BOS, getattr(characters, "bos", None)), (EOS, getattr(characters, "eos", None))):
        if theirs and theirs in vocab:
            ids[ours] = vocab.index(theirs)
    return ids
