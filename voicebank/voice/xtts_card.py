"""The XTTS voice folder format: its card (``voice.json``), its settings, and reading one from disk.

An XTTS voice folder::

    VOICE/
      voice.json        the card: {"engine": "xtts", "name", "language", "kind" ("zero-shot" or
                        "fine-tuned"), "base", "references", "inference", "licence", ...}
      references/*.wav  the clips the voice is conditioned on (22.05 kHz mono, 16-bit)
      conditioning.pt   cached conditioning latents (recomputed when model or clips change)
      config.json       } a fine-tuned voice only: Coqui's XTTS config ("model": "xtts"),
      model.pth         } the weights, and the tokenizer. A zero-shot voice has none of
      vocab.json        } these and speaks with the base model named in voice.json.

A bare Coqui XTTS folder (``config.json`` with ``"model": "xtts"``, ``model.pth``,
``vocab.json``) is a voice too, once reference clips are given.

No torch and no Coqui here: :func:`is_xtts_voice` is cheap enough for voice lookup.
Making a voice from a bank or clips is :mod:`voicebank.engines.xtts_voice`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..audio import PathLike
from ..durable import atomic_write_json, read_json
from ..errors import CorruptFileError, EngineError, UsageError

VOICE_CARD = "voice.json"
COND_CACHE = "conditioning.pt"
REFERENCES = "references"
MODEL_FILES = ("config.json", "model.pth", "vocab.json")
LICENCE = (
    "XTTS-v2 weights: Coqui Public Model License 1.0.0 (https://tts-hub.github.io/cpml). "
    "This voice may be used for non-commercial purposes only."
)
GPT_RATE = 22050  # XTTS conditions and generates at 22.05 kHz
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class XttsSettings:
    """How an XTTS voice speaks (stored under ``"inference"`` in ``voice.json``).

    Defaults not given in the card come from the model's ``config.json`` (the values Coqui
    tuned for XTTS-v2), then from here.
    """

    schema_version: int = SCHEMA_VERSION
    language: str = "en"
    temperature: float = 0.75  # GPT sampling temperature
    top_k: int = 50
    top_p: float = 0.85
    repetition_penalty: float = 10.0  # Coqui's inference default; discourages babbling
    length_penalty: float = 1.0
    stream_chunk_size: int = 20  # GPT tokens per streamed chunk (~0.93 s of speech)
    overlap_samples: int = 1024  # Coqui's cross-fade between chunks
    gpt_cond_len: int = 30  # seconds of reference audio used for the GPT latents
    gpt_cond_chunk_len: int = 4  # ... averaged over chunks of this many seconds
    max_ref_len: int = 10  # seconds of each clip used for the speaker embedding
    max_chars: int = 200  # longest text piece per generation (XTTS warns above 250 for English)
    # Stop a sentence that runs past 1.5 s + this per character: a GPT that missed its stop
    # token would otherwise babble to its 605-token limit (~28 s) — issue "noisy endings".
    seconds_per_char: float = 0.25

    def __post_init__(self) -> None:
        if self.stream_chunk_size < 0:
            raise EngineError("stream_chunk_size must be 0 (no streaming) or more GPT tokens.")
        if not 0.0 < self.temperature <= 5.0:
            raise EngineError(f"temperature must be in (0, 5], not {self.temperature}.")
        if self.max_chars < 20:
            raise EngineError("max_chars must be at least 20.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: XttsSettings | None = None) -> XttsSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise EngineError(f"Unknown XTTS setting(s): {', '.join(unknown)}.")
        return replace(base or cls(), **data)

    @classmethod
    def from_model_config(cls, config: dict[str, Any]) -> XttsSettings:
        """The inference values a Coqui XTTS ``config.json`` recommends."""
        picked = {k: config[k] for k in ("temperature", "top_k", "top_p", "repetition_penalty",
                                         "length_penalty", "gpt_cond_len", "gpt_cond_chunk_len", "max_ref_len")
                  if isinstance(config.get(k), (int, float)) and not isinstance(config.get(k), bool)}
        return replace(cls(), **picked)


@dataclass(frozen=True)
class XttsVoice:
    """An XTTS voice folder as read from disk (see the module docstring)."""

    root: Path
    name: str
    language: str
    model_dir: Path | None  # the folder with config.json/model.pth/vocab.json; None: use the base
    base: str | None  # the base recorded in the card (a folder path or a model name)
    references: tuple[Path, ...]
    inference: dict[str, Any]  # overrides from the card
    card: dict[str, Any]

    @staticmethod
    def load(path: PathLike) -> XttsVoice:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise EngineError(f"No XTTS voice at {root}: that folder does not exist.")
        card: dict[str, Any] = {}
        card_path = root / VOICE_CARD
        if card_path.is_file():
            try:
                card = read_json(card_path, what="voice card")
            except (CorruptFileError, OSError) as exc:
                raise EngineError(f"The voice card {card_path} cannot be read ({exc}).") from exc
            if not isinstance(card, dict) or card.get("engine") != "xtts":
                raise EngineError(f"{card_path} is not an XTTS voice card (its engine is not 'xtts').")
        elif not _is_coqui_xtts_folder(root):
            raise EngineError(
                f"{root} is not an XTTS voice: it has neither {VOICE_CARD} nor an XTTS config.json."
            )
        refs = [root / r for r in card.get("references", [])]
        if not refs and (root / REFERENCES).is_dir():
            refs = sorted(p for p in (root / REFERENCES).iterdir() if p.suffix.lower() in (".wav", ".flac"))
        has_model = all((root / f).is_file() for f in MODEL_FILES) or _is_coqui_xtts_folder(root)
        inference = card.get("inference") or {}
        if not isinstance(inference, dict):
            raise EngineError(f"{card_path}: 'inference' must be a table of settings.")
        return XttsVoice(
            root=root,
            name=str(card.get("name") or root.name),
            language=str(card.get("language") or inference.get("language") or "en"),
            model_dir=root if has_model else None,
            base=card.get("base"),
            references=tuple(refs),
            inference=dict(inference),
            card=card,
        )


def is_xtts_voice(path: PathLike) -> bool:
    """True for a folder the XTTS engine loads: ``voice.json`` with engine "xtts", or Coqui's XTTS layout."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return False
    if (root / VOICE_CARD).is_file():
        return read_card(root).get("engine") == "xtts"
    return _is_coqui_xtts_folder(root)


def read_card(root: Path) -> dict[str, Any]:
    """The card of a voice folder as a dict; {} when it is missing or unreadable (lookup never fails on it)."""
    return _lenient_json(Path(root) / VOICE_CARD)


def model_config(model_dir: Path) -> dict[str, Any]:
    """Coqui's ``config.json`` of an XTTS model folder; {} when missing or unreadable (defaults apply)."""
    return _lenient_json(Path(model_dir) / "config.json")


def write_card(
    root: Path,
    *,
    name: str,
    kind: str,
    references: list[str],
    base: PathLike | None = None,
    language: str = "en",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write (or refresh) ``voice.json``; its settings and creation time are kept from the old card."""
    if kind not in ("zero-shot", "fine-tuned"):
        raise UsageError(f"An XTTS voice is 'zero-shot' or 'fine-tuned', not {kind!r}.")
    old = read_card(root)
    card = {
        "schema_version": SCHEMA_VERSION,
        "engine": "xtts",
        "name": name,
        "kind": kind,
        "language": language,
        "base": _base_ref(base, old.get("base")),
        "references": list(references),
        "inference": old.get("inference", {}),
        "licence": LICENCE,
        "created": old.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    card.update(extra or {})
    atomic_write_json(Path(root) / VOICE_CARD, card, indent=1)
    return card


def _is_coqui_xtts_folder(root: Path) -> bool:
    return model_config(root).get("model") == "xtts"


def _lenient_json(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path, {}, what="file")
    except (CorruptFileError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def _base_ref(base: PathLike | None, old: Any) -> str:
    """How a card records its base: an absolute folder, or a model name to search for."""
    if base is None:
        return str(old or "xtts_v2")
    path = Path(os.fspath(base)).expanduser()
    return str(path.resolve()) if path.exists() else os.fspath(base)
