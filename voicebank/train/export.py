"""A trained voice folder → a Piper-format voice (``NAME.onnx`` + ``NAME.onnx.json``).

Responsible for turning the generator-only ``VOICE/model.pth`` (+ ``VOICE/config.json``)
written by :mod:`.finetune` into the files Piper, Home Assistant and our own engine load,
and for checking the result speaks: load the weights, blend toward the base (``strength``),
fold weight norm, trace the graph (:mod:`.export_graph`), check it speaks, match the pace
(optional), write the config (:class:`~voicebank.voice.config.PiperVoiceConfig`). Every
file is written through :mod:`voicebank.durable`; the voice's card (:mod:`voicebank.voice.card`)
is carried into the exported folder. Not responsible for training. :attr:`ExportResult.streamable` says whether our engine streams the voice in
windows.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..durable import atomic_output
from ..errors import DatasetError, ExportError, UsageError
from ..voice.card import card_for, carry_card
from ..voice.config import PiperVoiceConfig
from ..voice.phonemes import phoneme_ids, piper_phoneme_id_map
from ..voice.training_record import read_training_record
from . import blend
from .export_graph import OPSET, export_graph, export_model, fold_weight_norm, run_graph, streamable
from .pace import Pace
from .recipes import InferenceSettings

DEFAULT_INFERENCE = InferenceSettings().scales()  # Piper's scales, for voices whose model.pth names none
PACE_MODES = ("keep", "recordings")
KEEP_PACE_NOTE = "the recipe's speaking rate (--pace recordings speaks at the pace of your recordings)"
CHECK_SENTENCE = "This is a test of my voice."
CHECK_SCALES = (0.667, 1.0, 0.8)  # Piper's default scales: the check runs the graph as a user would


@dataclass(frozen=True)
class ExportResult:
    """The exported files and what was checked about them."""

    onnx_path: Path
    config_path: Path
    sample_rate: int
    num_symbols: int
    size_bytes: int
    streamable: bool  # our engine can cut it into encoder / flow / decoder (windowed streaming)
    test_seconds: float  # duration of the check sentence the exported graph spoke
    seconds: float  # time the export took
    pace: Pace | None = None  # the speaking rate matched to the recordings (None: the recipe's kept)
    pace_note: str = ""  # why the pace was or was not matched, for the user
    strength: float = 1.0  # how far from the base toward the fine-tuned model (voicebank.train.blend)


def export_voice(
    voice_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    opset: int = OPSET,
    pace: str = "keep",
    dataset: str | os.PathLike[str] | None = None,
    strength: float | None = None,
) -> ExportResult:
    """Export ``voice_dir`` (``model.pth`` + ``config.json``) to ``out_dir/NAME.onnx(.json)``.

    ``name`` defaults to the voice folder's name. The files are written to temporary names
    and renamed when both are complete; the graph is run once on a test sentence before.

    ``pace`` sets the voice's speaking rate (the ``length_scale`` in the ``.onnx.json``):
    ``"keep"`` keeps the recipe's; ``"recordings"`` measures the person's pace on the
    training clips of ``dataset`` (default: the dataset the voice was trained on, from
    ``training.json``) with :mod:`.pace` and speaks at it. A voice whose recipe froze the
    duration predictor (``vits-offline``) times its words like the base voice, so this is
    where it matters; it is not the default because slowing such a voice down made it
    harder to understand (WER 0.50 -> 0.61 in the measurement in :mod:`.pace`).

    ``strength`` (default: the recipe's ``inference.strength``, recorded in ``model.pth``)
    exports the voice part of the way from its base (:mod:`.blend`); the base is the one
    the voice was trained from.
    """
    started = time.perf_counter()
    if pace not in PACE_MODES:
        raise UsageError(f"pace must be one of {', '.join(PACE_MODES)}, not {pace!r}.")
    voice = Path(voice_dir).expanduser()
    out = Path(out_dir).expanduser()
    model_path, config_path = _voice_files(voice)
    card = card_for(voice)  # read before any work: a damaged card is refused with nothing written
    stem = _safe_name(name or voice.resolve().name)
    model, config, state = _load_model(model_path, config_path)
    meta = state.get("voicebank") or {}
    applied, base_used = _apply_strength(model, state, voice, meta, strength)
    fold_weight_norm(model)
    recorded = {"strength": applied, **({"base": str(base_used)} if base_used is not None else {})}
    piper = piper_config(config, stem, meta, step=state.get("step")).with_changes(voicebank=recorded)

    from voicebank.engines.split import make_session

    out.mkdir(parents=True, exist_ok=True)
    onnx_path, json_path = out / f"{stem}.onnx", out / f"{stem}.onnx.json"
    with atomic_output(onnx_path) as graph:  # renamed into place only once it speaks
        export_graph(model, graph, opset)
        session = make_session(graph, threads=1)
        test_seconds = _check_speaks(session, piper)
        piper, measured, pace_note = _matched_pace(session, piper, pace, voice, dataset)
        can_stream = streamable(graph)
    piper.save(json_path)
    _copy_train_log(voice, out)
    carry_card(card, out, f"exported as {stem}.onnx", kind="piper")
    return ExportResult(
        onnx_path=onnx_path,
        config_path=json_path,
        sample_rate=piper.sample_rate,
        num_symbols=int(config.model_args.num_chars),
        size_bytes=onnx_path.stat().st_size,
        streamable=can_stream,
        test_seconds=test_seconds,
        seconds=time.perf_counter() - started,
        pace=measured,
        pace_note=pace_note,
        strength=applied,
    )


# ----------------------------------------------------------------------------- steps


def _voice_files(voice: Path) -> tuple[Path, Path]:
    """``model.pth`` and ``config.json`` of a trained voice folder, or an :class:`ExportError` saying what to do."""
    model_path, config_path = voice / "model.pth", voice / "config.json"
    for p in (model_path, config_path):
        if not p.is_file():
            raise ExportError(
                f"{voice} is not a trained voice folder ({p.name} is missing). Train one with "
                "'voicebank train finetune ... --out FOLDER'; model.pth appears after the first evaluation."
            )
    return model_path, config_path


def _load_model(model_path: Path, config_path: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The export model with the voice's weights (eval mode), its Coqui config, and the saved state."""
    import torch

    from . import vits

    config = vits.load_config(config_path)
    if config.model_args.encoder_sample_rate:
        raise ExportError(f"{config_path}: models with encoder_sample_rate (upsampled latents) cannot be exported to Piper's format.")
    config.model_args.init_discriminator = False
    model = export_model(config)
    try:
        state = torch.load(str(model_path), map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"], strict=True)
    except (KeyError, TypeError, RuntimeError, OSError, EOFError) as exc:
        raise ExportError(f"{model_path} does not match {config_path} or is damaged ({exc}).") from exc
    model.eval()
    return model, config, state


def _apply_strength(model: Any, state: dict[str, Any], voice: Path, meta: dict[str, Any], strength: float | None) -> tuple[float, Path | None]:
    """Move the weights part of the way back to the base (:mod:`.blend`); the strength applied and the base used."""
    recorded = (meta.get("inference") or {}).get("strength", 1.0)
    applied = blend.check_strength(recorded if strength is None else strength)
    if applied >= 1.0:
        return applied, None
    record = read_training_record(voice)
    base_ref = blend.trained_from(record, voice)
    blend.check_base_unchanged(record, voice, base_ref, "Put that base back, or export at full strength (--strength 1), which does not use it.")
    toward, base_used = blend.base_weights(model, base_ref)
    weights, _ = blend.interpolate(state["model"], toward, applied)
    model.load_state_dict(weights, strict=True)
    return applied, base_used


def _check_speaks(session: Any, piper: PiperVoiceConfig) -> float:
    """Run the graph on a test sentence; the audio must be finite and a whole number of hops."""
    import numpy as np

    from . import vits

    phonemes = vits.phonemize([CHECK_SENTENCE], piper.espeak_voice)[0]
    ids, _ = phoneme_ids(phonemes, piper.phoneme_id_map)
    audio = run_graph(session, ids, CHECK_SCALES)
    if audio.size == 0 or audio.size % piper.hop_length or not np.all(np.isfinite(audio)):
        raise ExportError(f"The exported graph does not speak properly (output shape {audio.shape}).")
    return float(audio.size / piper.sample_rate)


def _matched_pace(
    session: Any, piper: PiperVoiceConfig, pace: str, voice: Path, dataset: Any
) -> tuple[PiperVoiceConfig, Pace | None, str]:
    """The config with its ``length_scale`` matched to the recordings (``pace="recordings"``), the
    measurement, and a note for the user; unchanged for ``"keep"``."""
    if pace == "keep":
        return piper, None, KEEP_PACE_NOTE
    clips, source = _pace_clips(voice, dataset, piper.espeak_voice)
    measured = _measure_pace(session, piper, clips)
    matched = piper.with_changes(
        length_scale=measured.length_scale, voicebank={"pace": {**measured.to_dict(), "dataset": source}}
    )
    return matched, measured, _describe_pace(measured, source)


def _pace_clips(voice: Path, dataset: Any, espeak_voice: str) -> tuple[list[tuple[list[int], float]], str]:
    """The training clips to measure the pace on (phoneme ids, speech seconds) and the dataset folder.

    A dataset that is not there or cannot be read is an :class:`ExportError`.
    """
    from ..audio import read_audio, to_mono
    from . import vits
    from .dataset import load_dataset
    from .pace import speech_seconds

    if dataset is not None:
        folder: Path | None = Path(dataset).expanduser()
    else:
        recorded = (read_training_record(voice) or {}).get("dataset")
        folder = Path(str(recorded)) if recorded else None
    try:
        if folder is None or not folder.is_dir():
            raise DatasetError(f"the training dataset {folder or '(not recorded in training.json)'} is not there")
        ds = load_dataset(folder)
    except DatasetError as exc:
        raise ExportError(f"Cannot measure the speaking rate: {exc}. Name the dataset with --dataset.") from exc
    utts = list(ds.train)
    texts = [u.normalized or u.text for u in utts]
    clips = []
    for utt, ids in zip(utts, vits.text_ids(texts, espeak_voice)):
        samples, rate = read_audio(utt.wav)
        clips.append((ids, speech_seconds(to_mono(samples), rate)))
    if not clips:
        raise ExportError(f"{ds.root} has no training clips to measure the speaking rate on.")
    return clips, str(ds.root)


def _measure_pace(session: Any, piper: PiperVoiceConfig, clips: list[tuple[list[int], float]]) -> Pace:
    """Speak each clip's ids with the exported graph at its current scales and compare the speech."""
    from .pace import measure_pace

    scales = (piper.noise_scale, piper.length_scale, piper.noise_w_scale)
    rate = piper.sample_rate
    return measure_pace(lambda ids: (run_graph(session, ids, scales).reshape(-1), rate), clips, piper.length_scale)


def _describe_pace(p: Pace, dataset: str) -> str:
    if p.length_scale == p.previous:
        return f"the voice already speaks at the recordings' pace (ratio {p.ratio:.2f} over {p.utterances} training clips of {dataset})"
    way = "slower" if p.length_scale > p.previous else "faster"
    return (
        f"speaks {way} to match the recordings: length_scale {p.previous:g} -> {p.length_scale:g} "
        f"(speech {p.recordings_seconds:.0f} s recorded vs {p.voice_seconds:.0f} s spoken over {p.utterances} training clips of {dataset})"
    )


def _inference(meta: dict[str, Any] | None) -> dict[str, float]:
    """The recipe's inference scales recorded in model.pth, else Piper's defaults."""
    given = (meta or {}).get("inference")
    if not isinstance(given, dict):
        return dict(DEFAULT_INFERENCE)
    return {k: float(given.get(k, v)) for k, v in DEFAULT_INFERENCE.items()}


def piper_config(config: Any, name: str, meta: dict[str, Any] | None = None, step: Any = None) -> PiperVoiceConfig:
    """The ``.onnx.json`` Piper reads: audio rate, espeak voice, phoneme id map, inference scales, our record."""
    voice = str(config.phoneme_language or "en-us")
    lang, _, region = voice.partition("-")
    inference = _inference(meta)
    return PiperVoiceConfig(
        dataset=name,
        sample_rate=int(config.audio.sample_rate),
        quality="medium" if int(config.model_args.hidden_channels) >= 192 else "x_low",
        espeak_voice=voice,
        language={"code": f"{lang}_{region.upper()}" if region else lang, "family": lang, "region": region.upper()},
        noise_scale=inference["noise_scale"],
        length_scale=inference["length_scale"],
        noise_w_scale=inference["noise_w"],
        phoneme_type="espeak",
        phoneme_id_map=piper_phoneme_id_map(),
        num_symbols=int(config.model_args.num_chars),
        num_speakers=1,
        hop_length=int(config.audio.hop_length),
        piper_version="1.0.0",  # the config format of Piper's 1.x voices (joe, lessac)
        voicebank={
            "exported_from": "voicebank train export",
            "step": step,
            "metric": (meta or {}).get("metric"),
            "loss_eval": (meta or {}).get("loss_eval"),
            "recipe": (meta or {}).get("recipe"),
        },
        extra={"phoneme_map": {}},
    )


def _copy_train_log(voice: Path, out: Path) -> None:
    """Keep the training curve next to the exported voice (the evaluation report draws it)."""
    log = voice / "train_log.jsonl"
    if log.is_file() and out.resolve() != voice.resolve():
        with atomic_output(out / log.name) as tmp:
            shutil.copyfile(log, tmp)


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "voice"
    if stem.endswith(".onnx"):
        stem = stem[: -len(".onnx")]
    if not stem:
        raise UsageError(f"{name!r} is not usable as a voice file name.")
    return stem
