"""Which voices an export can take (a Piper-format VITS voice, checked), and writing its folder all or nothing."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..durable import fsync_dir, fsync_file, move, storage_error
from ..errors import CorruptFileError, EngineError, ExportError
from ..voice.config import PiperVoiceConfig
from ..voice.phonemes import BOS, EOS, PAD
from ..voice.registry import VoiceFiles, VoiceRef, resolve_voice, voice_folder

PIPER_INPUTS = ("input", "input_lengths", "scales")  # what a Piper VITS graph takes (plus "sid")


@dataclass(frozen=True)
class SourceVoice:
    """A voice an export can read: its files, its config, and the folder its own lexicon lives in."""

    files: VoiceFiles
    config: PiperVoiceConfig
    lexicon_folder: Path | None  # None: the stock voice (the global lexicon alone)

    @property
    def name(self) -> str:
        return self.files.name


def piper_voice(ref: VoiceRef, fmt: str) -> SourceVoice:
    """The Piper-format voice ``ref`` names, or an :class:`ExportError` saying why ``fmt`` cannot take it."""
    folder = voice_folder(ref)
    if folder is not None:
        _refuse_other_engines(folder, fmt)
    try:
        files = resolve_voice(ref)
        config = PiperVoiceConfig.load(files.config)
    except (EngineError, CorruptFileError) as exc:
        raise ExportError(f"Cannot export {ref or 'joe'!r} for {fmt}: {exc}") from exc
    return SourceVoice(files, config, None if files.stock else files.model.parent)


def write_card_copy(voice: SourceVoice, folder: Path, fmt: str) -> None:
    """The voice's card (consent, training data, licence) into the export, so it travels with the voice."""
    from ..voice.card import card_for, carry_card, stock_card

    card = stock_card() if voice.files.stock else card_for(voice.files.model)
    carry_card(card, folder, f"exported for {fmt}")


def _refuse_other_engines(folder: Path, fmt: str) -> None:
    from ..voice.xtts_card import is_xtts_voice, read_card

    if is_xtts_voice(folder):
        raise ExportError(
            f"{folder} is an XTTS voice: {fmt} takes Piper-format VITS voices only "
            "(an XTTS voice needs a GPT model and seconds per sentence on a CPU). "
            "Speak it with 'voicebank speak' or 'voicebank serve', or train a VITS voice "
            "from the same bank ('voicebank train finetune --recipe vits')."
        )
    engine = str(read_card(folder).get("engine") or "piper").lower()
    if engine != "piper":
        raise ExportError(
            f"{folder} is a {engine} voice (its voice.json says so): {fmt} takes Piper-format VITS "
            "voices only. Speak it with 'voicebank speak' or 'voicebank serve'."
        )


def check_onnx(model_path: Path) -> Any:
    """The model as an ``onnx.ModelProto``, refused with a clear message when it is not a Piper VITS graph."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(model_path))
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise ExportError(
            f"{model_path} is not a readable ONNX model ({type(exc).__name__}: {exc}). It may be "
            "truncated or damaged: export the voice again ('voicebank train export') or reinstall it."
        ) from exc
    inputs = [i.name for i in model.graph.input]
    if not model.graph.node or any(name not in inputs for name in PIPER_INPUTS):
        raise ExportError(
            f"{model_path} is not a Piper VITS voice graph (inputs {inputs or 'none'}, "
            f"{len(model.graph.node)} nodes; expected inputs {', '.join(PIPER_INPUTS)}). "
            "It may be damaged: export the voice again ('voicebank train export')."
        )
    return model


def require_phoneme_map(voice: SourceVoice) -> None:
    """Refuse a config whose phoneme map could not make a single sentence (empty, or no ``_ ^ $``)."""
    id_map = voice.config.phoneme_id_map
    missing = [s for s in (PAD, BOS, EOS) if s not in id_map]
    if not id_map or missing:
        raise ExportError(
            f"{voice.files.config} has no usable phoneme map (phoneme_id_map is empty or lacks "
            f"{', '.join(missing) or '_ ^ $'}): this is not a complete Piper voice config. "
            "Export the voice again ('voicebank train export')."
        )


def check_phoneme_map(voice: SourceVoice, fmt: str) -> dict[str, int]:
    """The voice's phoneme → id map as single code points, or why ``fmt`` cannot write it as tokens."""
    cfg = voice.config
    where = voice.files.config
    if cfg.phoneme_type != "espeak":
        raise ExportError(
            f"{where} uses {cfg.phoneme_type!r} phonemes; {fmt} exports take voices that speak "
            "espeak-ng phonemes (phoneme_type \"espeak\")."
        )
    require_phoneme_map(voice)
    tokens: dict[str, int] = {}
    for symbol, ids in cfg.phoneme_id_map.items():
        if symbol == "\n":
            continue  # Piper maps the line break; a line-based tokens file cannot hold it, and text never sends it
        if len(symbol) != 1 or len(ids) != 1:
            raise ExportError(
                f"{where} maps {symbol!r} to ids {ids}: {fmt} needs each phoneme to be one character "
                "with one id (voices with vowel clusters or multi-id phonemes cannot be exported)."
            )
        tokens[symbol] = int(ids[0])
    return tokens


def check_out(out: Path) -> Path:
    """``out`` as a path, if it is free to write (absent, or an empty folder); else an :class:`ExportError`."""
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not an empty folder: choose a new --out folder.")
    return out


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A temporary folder next to ``out`` that becomes ``out`` when the block ends; removed on failure.

    ``out`` must not exist yet or be an empty folder: an export never mixes with older files.
    """
    out = check_out(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, parent) from exc
    tmp = parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        yield tmp
        for root, _dirs, names in os.walk(tmp):  # every file on disk before the folder appears
            for name in names:
                fsync_file(Path(root) / name)
            fsync_dir(root)
        if out.is_dir():
            out.rmdir()  # the empty folder the user made for us
        move(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise storage_error(exc, out) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
