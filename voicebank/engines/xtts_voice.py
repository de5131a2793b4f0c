"""XTTS voice folders: what is in one, reading it, and making one from a bank or clips.

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

This module needs no torch and no Coqui: :func:`is_xtts_voice` is cheap enough for
voice lookup.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike, resample, to_mono
from ..config import voices_dir
from ..errors import EngineError, UsageError

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
                card = json.loads(card_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
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
    """True for a folder this engine loads: ``voice.json`` with engine "xtts", or Coqui's XTTS layout."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return False
    card = root / VOICE_CARD
    if card.is_file():
        try:
            return json.loads(card.read_text(encoding="utf-8")).get("engine") == "xtts"
        except (OSError, ValueError, AttributeError):
            return False
    return _is_coqui_xtts_folder(root)


def _is_coqui_xtts_folder(root: Path) -> bool:
    try:
        data = json.loads((root / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("model") == "xtts"


# ------------------------------------------------------------------- voice folders


def write_voice(
    folder: PathLike,
    clips: Sequence[tuple[str, np.ndarray, int]],
    *,
    name: str,
    kind: str,
    base: PathLike | None = None,
    language: str = "en",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write (or refresh) a voice folder: ``references/<id>.wav`` at 22.05 kHz and ``voice.json``.

    ``clips`` are ``(id, mono float samples, rate)``. References no longer listed are removed;
    the model files of a fine-tuned voice are left alone.
    """
    import soundfile as sf

    from .registry import write_atomic

    root = Path(folder)
    refs_dir = root / REFERENCES
    refs_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for clip_id, samples, rate in clips:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in clip_id) or "clip"
        target = refs_dir / f"{safe}.wav"
        buf = io.BytesIO()
        audio = resample(to_mono(np.asarray(samples, np.float32)), int(rate), GPT_RATE)
        sf.write(buf, np.clip(audio, -1.0, 1.0), GPT_RATE, subtype="PCM_16", format="WAV")
        if not target.is_file() or target.read_bytes() != buf.getvalue():
            write_atomic(target, buf.getvalue())
        names.append(target.name)
    for stale in refs_dir.iterdir():
        if stale.is_file() and stale.name not in names:
            stale.unlink()
    old: dict[str, Any] = {}
    if (root / VOICE_CARD).is_file():
        old = read_json(root / VOICE_CARD)
    card = {
        "schema_version": SCHEMA_VERSION,
        "engine": "xtts",
        "name": name,
        "kind": kind,  # "zero-shot" or "fine-tuned"
        "language": language,
        "base": _base_ref(base, old.get("base")),
        "references": [f"{REFERENCES}/{n}" for n in names],
        "inference": old.get("inference", {}),
        "licence": LICENCE,
        "created": old.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    card.update(extra or {})
    write_atomic(root / VOICE_CARD, (json.dumps(card, indent=1, ensure_ascii=False) + "\n").encode())
    return root


def make_voice_from_bank(
    bank_path: PathLike,
    voice_dir: PathLike | None = None,
    *,
    n_refs: int = 4,
    base: PathLike | None = None,
    language: str = "en",
) -> Path:
    """Pick the ``n_refs`` best chosen takes of a bank and write a zero-shot voice folder.

    Best: not rejected, not failed by QC, QC "pass" before "warn"; 4–12 s long before
    others, longer first (up to 10 s); each trimmed to its speech (plus 0.15 s) when the
    speech detector finds some.
    """
    from ..bank.store import Bank

    if n_refs < 1:
        raise UsageError("n_refs must be at least 1.")
    with Bank.open(bank_path, writable=False) as bank:
        takes = [bank.chosen_take(pid) for pid in bank.prompts]
        usable = [t for t in takes if t is not None and t.status != "rejected" and t.qc_verdict != "fail"
                  and t.duration >= 1.0]
        if not usable:
            raise EngineError(
                f"The bank {bank.root} has no usable chosen takes to clone the voice from: record or "
                "choose a few takes first (each at least 1 s, not rejected, not failed by QC)."
            )
        picked = select_references([(t.id, t.duration, t.qc_verdict) for t in usable], n_refs)
        by_id = {t.id: t for t in usable}
        clips = []
        for tid in picked:
            samples, rate = bank.read_take(by_id[tid])
            clips.append((tid, trim_to_speech(to_mono(samples), rate), rate))
        speaker = str(bank.meta.get("speaker") or "").strip()
        name = f"{speaker or bank.root.name}-xtts"
        folder = Path(voice_dir) if voice_dir is not None else voices_dir() / _safe_name(name)
        write_voice(folder, clips, name=name, kind="zero-shot", base=base, language=language,
                    extra={"source": {"bank": str(Path(bank.root).resolve()), "takes": picked}})
    return folder


def select_references(candidates: Sequence[tuple[str, float, str]], n: int) -> list[str]:
    """Ids of the ``n`` best ``(id, seconds, qc_verdict)`` candidates (see make_voice_from_bank)."""
    rank = {"pass": 0, "warn": 1}

    def score(c: tuple[str, float, str]) -> tuple[int, int, float, str]:
        cid, seconds, verdict = c
        return (rank.get(verdict, 2), 0 if 4.0 <= seconds <= 12.0 else 1, -min(seconds, 10.0), cid)

    return [c[0] for c in sorted(candidates, key=score)[:n]]


def trim_to_speech(samples: np.ndarray, rate: int, margin_s: float = 0.15) -> np.ndarray:
    """The clip cut to its detected speech plus a margin (unchanged when nothing is detected)."""
    try:
        from ..bank.vad import speech_segments

        segs = speech_segments(samples, rate)
    except Exception:  # the detector is an optional nicety here; untrimmed clips still work
        return samples
    if not segs:
        return samples
    a = max(0, int((segs[0][0] - margin_s) * rate))
    b = min(samples.shape[0], int((segs[-1][1] + margin_s) * rate))
    return samples[a:b] if b - a >= rate // 2 else samples


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _base_ref(base: PathLike | None, old: Any) -> str:
    """How a card records its base: an absolute folder, or a model name to search for."""
    if base is None:
        return str(old or "xtts_v2")
    path = Path(os.fspath(base)).expanduser()
    return str(path.resolve()) if path.exists() else os.fspath(base)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip("-.") or "xtts-voice"
