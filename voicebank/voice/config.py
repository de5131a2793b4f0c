"""The Piper voice config (``NAME.onnx.json``): one dataclass that reads and writes it.

The engine reads it to speak, the exporter writes it; both go through
:class:`PiperVoiceConfig`, so the file has one definition. Keys this class does not know
(Piper's ``phoneme_map``, a newer Piper's additions) are kept in ``extra`` and written
back unchanged, and the ``voicebank`` section (what our exporter records: the run, the
strength, the base, the measured pace) round-trips as it is.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError, EngineError, UsageError

# Keys (top level, or "section.key") that the dataclass fields stand for.
_KNOWN = frozenset({
    "dataset", "audio.sample_rate", "audio.quality", "espeak.voice", "language", "inference.noise_scale",
    "inference.length_scale", "inference.noise_w", "phoneme_type", "phoneme_id_map", "num_symbols",
    "num_speakers", "speaker_id_map", "hop_length", "vowel_clusters", "piper_version", "voicebank",
})


@dataclass(frozen=True)
class PiperVoiceConfig:
    """A Piper ``.onnx.json``: what the engine needs to speak and what the exporter records."""

    sample_rate: int
    phoneme_id_map: dict[str, list[int]]
    espeak_voice: str = "en-us"
    phoneme_type: str = "espeak"  # "espeak" (phonemes from espeak-ng) or "text" (characters)
    num_speakers: int = 1
    speaker_id_map: dict[str, int] = field(default_factory=dict)
    noise_scale: float = 0.667  # Piper's defaults for a voice whose file names none
    length_scale: float = 1.0
    noise_w_scale: float = 0.8
    hop_length: int = 256  # audio samples per latent frame
    vowel_clusters: tuple[tuple[str, ...], ...] = ()  # phoneme runs that are one id (some voices)
    num_symbols: int | None = None  # rows of the model's phoneme embedding
    quality: str | None = None  # Piper's size label: "x_low", "low", "medium", "high"
    dataset: str | None = None  # Piper's name for the voice
    language: dict[str, Any] = field(default_factory=dict)  # {"code", "family", "region", …}
    piper_version: str | None = None  # the config format version
    voicebank: dict[str, Any] = field(default_factory=dict)  # what voicebank's exporter recorded
    extra: dict[str, Any] = field(default_factory=dict)  # every other key, written back unchanged

    @staticmethod
    def from_dict(data: dict[str, Any]) -> PiperVoiceConfig:
        """Read a parsed ``.onnx.json``; a file that is not a Piper config is an :class:`EngineError`."""
        try:
            audio = data["audio"]
            inference = data.get("inference") or {}
            return PiperVoiceConfig(
                sample_rate=int(audio["sample_rate"]),
                phoneme_id_map={str(k): [int(i) for i in v] for k, v in data["phoneme_id_map"].items()},
                espeak_voice=str((data.get("espeak") or {}).get("voice", "en-us")),
                phoneme_type=str(data.get("phoneme_type", "espeak")),
                num_speakers=int(data.get("num_speakers", 1)),
                speaker_id_map={str(k): int(v) for k, v in (data.get("speaker_id_map") or {}).items()},
                noise_scale=float(inference.get("noise_scale", 0.667)),
                length_scale=float(inference.get("length_scale", 1.0)),
                noise_w_scale=float(inference.get("noise_w", 0.8)),
                hop_length=int(data.get("hop_length", 256)),
                vowel_clusters=tuple(tuple(str(p) for p in c) for c in data.get("vowel_clusters") or ()),
                num_symbols=_optional(int, data.get("num_symbols")),
                quality=_optional(str, audio.get("quality")),
                dataset=_optional(str, data.get("dataset")),
                language=copy.deepcopy(dict(data.get("language") or {})),
                piper_version=_optional(str, data.get("piper_version")),
                voicebank=copy.deepcopy(dict(data.get("voicebank") or {})),
                extra=_unknown(data),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EngineError(f"The voice config is not a Piper voice config ({exc!r} missing or wrong).") from exc

    def to_dict(self) -> dict[str, Any]:
        """The ``.onnx.json`` content, in Piper's key order; unknown keys as they were read."""
        out: dict[str, Any] = {}
        if self.dataset is not None:
            out["dataset"] = self.dataset
        out["audio"] = {"sample_rate": self.sample_rate}
        if self.quality is not None:
            out["audio"]["quality"] = self.quality
        out["espeak"] = {"voice": self.espeak_voice}
        if self.language:
            out["language"] = copy.deepcopy(self.language)
        out["inference"] = {"noise_scale": self.noise_scale, "length_scale": self.length_scale, "noise_w": self.noise_w_scale}
        out["phoneme_type"] = self.phoneme_type
        out["phoneme_id_map"] = {k: list(v) for k, v in self.phoneme_id_map.items()}
        if self.num_symbols is not None:
            out["num_symbols"] = self.num_symbols
        out["num_speakers"] = self.num_speakers
        out["speaker_id_map"] = dict(self.speaker_id_map)
        out["hop_length"] = self.hop_length
        if self.vowel_clusters:
            out["vowel_clusters"] = [list(c) for c in self.vowel_clusters]
        if self.piper_version is not None:
            out["piper_version"] = self.piper_version
        if self.voicebank:
            out["voicebank"] = copy.deepcopy(self.voicebank)
        return _merged(copy.deepcopy(self.extra), out)

    def with_changes(self, **changes: Any) -> PiperVoiceConfig:
        """A copy with some fields changed (``voicebank`` is merged into the recorded section)."""
        if "voicebank" in changes:
            changes["voicebank"] = {**self.voicebank, **changes["voicebank"]}
        return replace(self, **changes)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> PiperVoiceConfig:
        """Read a ``.onnx.json`` file; a missing, damaged or foreign file is an :class:`EngineError`."""
        from ..durable import read_json

        try:
            data = read_json(path, what="voice config")
        except (UsageError, CorruptFileError, OSError) as exc:
            raise EngineError(f"Cannot read the voice config {path} ({exc}).") from exc
        if not isinstance(data, dict):
            raise EngineError(f"{path} is not a Piper voice config.")
        return PiperVoiceConfig.from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the ``.onnx.json`` atomically (readers see the old file or the new, never a mix)."""
        from ..durable import atomic_write_json

        atomic_write_json(path, self.to_dict(), indent=2)
        return Path(path)


def _optional(kind: type, value: Any) -> Any:
    return None if value is None else kind(value)


def _unknown(data: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``data`` the fields do not stand for (one level into sections), deep-copied."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _KNOWN:
            continue
        if isinstance(value, dict) and any(k.startswith(f"{key}.") for k in _KNOWN):
            rest = {k: copy.deepcopy(v) for k, v in value.items() if f"{key}.{k}" not in _KNOWN}
            if rest:
                out[key] = rest
            continue
        out[key] = copy.deepcopy(value)
    return out


def _merged(base: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """``known`` in its order with the unknown keys of ``base`` added (sections merged)."""
    out = dict(known)
    for key, value in base.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **{k: v for k, v in value.items() if k not in out[key]}}
        elif key not in out:
            out[key] = value
    return out
