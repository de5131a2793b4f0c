"""A trained voice folder → a Piper-format voice (``NAME.onnx`` + ``NAME.onnx.json``).

Responsible for turning the generator-only ``VOICE/model.pth`` (+ ``VOICE/config.json``)
written by :mod:`.finetune` into the files Piper, Home Assistant and our own engine load,
and for checking the result speaks. Not responsible for training or for the voice's card.

The ONNX graph has Piper's interface: inputs ``input`` (phoneme ids ``[1, N]``),
``input_lengths`` (``[1]``) and ``scales`` (``[noise, length, noise_w]``), output ``output``
(``[1, 1, samples]``). The exported module is the VITS model itself, so the ONNX node
names keep the module paths (``/waveform_decoder/conv_pre/Conv``, ``/flow/…``, ``/Ceil``):
:mod:`voicebank.engines.split` finds its cut points by those names and streams the voice
in windows instead of per sentence. :attr:`ExportResult.streamable` says whether it does.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError, VoicebankError, ExportError
from . import blend
from .pace import Pace
from .recipes import InferenceSettings

OPSET = 15  # as Piper's own exporter: runs on older ONNX Runtimes (Home Assistant, Raspberry Pi)
DEFAULT_INFERENCE = InferenceSettings().scales()  # Piper's scales, for voices whose model.pth names none


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
    model_path, config_path = voice / "model.pth", voice / "config.json"
    for p in (model_path, config_path):
        if not p.is_file():
            raise ExportError(
                f"{voice} is not a trained voice folder ({p.name} is missing). Train one with "
                "'voicebank train finetune ... --out FOLDER'; model.pth appears after the first evaluation."
            )
    stem = _safe_name(name or voice.resolve().name)
    import torch

    from voicebank.engines.split import make_session

    from . import vits

    config = vits.load_config(config_path)
    if config.model_args.encoder_sample_rate:
        raise ExportError(f"{config_path}: models with encoder_sample_rate (upsampled latents) cannot be exported to Piper's format.")
    config.model_args.init_discriminator = False
    model = _ExportVits(config)
    try:
        state = torch.load(str(model_path), map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"], strict=True)
    except (KeyError, RuntimeError, OSError, EOFError) as exc:
        raise ExportError(f"{model_path} does not match {config_path} or is damaged ({exc}).") from exc
    model.eval()
    meta = state.get("voicebank", {}) if isinstance(state, dict) else {}
    recorded = (meta.get("inference") or {}).get("strength", 1.0)
    applied = blend.check_strength(recorded if strength is None else strength)
    base_used = None
    if applied < 1.0:
        toward, base_used = blend.base_weights(model, blend.trained_from(_training_state(voice), voice))
        weights, _ = blend.interpolate(state["model"], toward, applied)
        model.load_state_dict(weights, strict=True)
    _fold_weight_norm(model)

    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{stem}.onnx"
    json_path = out / f"{stem}.onnx.json"
    tmp_onnx = out / f".{stem}.onnx.tmp"
    tmp_json = out / f".{stem}.onnx.json.tmp"
    try:
        _export_graph(model, tmp_onnx, opset)
        piper = piper_config(config, stem, meta, step=state.get("step"))
        piper["voicebank"]["strength"] = applied
        if base_used is not None:
            piper["voicebank"]["base"] = str(base_used)
        session = make_session(tmp_onnx, threads=1)
        test_seconds = _check_speaks(session, piper)
        measured, pace_note = None, KEEP_PACE_NOTE
        if pace == "recordings":
            clips, source = _pace_clips(voice, dataset, piper["espeak"]["voice"])
            measured = _measure_pace(session, piper, clips)
            piper["inference"]["length_scale"] = measured.length_scale
            piper["voicebank"]["pace"] = {**measured.to_dict(), "dataset": source}
            pace_note = _describe_pace(measured, source)
        tmp_json.write_text(json.dumps(piper, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        streamable = _streamable(tmp_onnx)
        os.replace(tmp_onnx, onnx_path)
        os.replace(tmp_json, json_path)
        _copy_train_log(voice, out)
    finally:
        for tmp in (tmp_onnx, tmp_json):
            tmp.unlink(missing_ok=True)
    return ExportResult(
        onnx_path=onnx_path,
        config_path=json_path,
        sample_rate=int(config.audio.sample_rate),
        num_symbols=int(config.model_args.num_chars),
        size_bytes=onnx_path.stat().st_size,
        streamable=streamable,
        test_seconds=test_seconds,
        seconds=time.perf_counter() - started,
        pace=measured,
        pace_note=pace_note,
        strength=applied,
    )


PACE_MODES = ("keep", "recordings")
KEEP_PACE_NOTE = "the recipe's speaking rate (--pace recordings speaks at the pace of your recordings)"


def _pace_clips(voice: Path, dataset: Any, espeak_voice: str) -> tuple[list[tuple[list[int], float]], str]:
    """The training clips to measure the pace on (phoneme ids, speech seconds) and the dataset folder.

    A dataset that is not there or cannot be read is an :class:`ExportError`.
    """
    from .dataset import DatasetError, load_dataset

    state = _training_state(voice)
    recorded = (state or {}).get("dataset")
    folder = Path(dataset).expanduser() if dataset is not None else Path(str(recorded)) if recorded else None
    try:
        if folder is None or not folder.is_dir():
            raise DatasetError(f"the training dataset {folder or '(not recorded in training.json)'} is not there")
        ds = load_dataset(folder)
    except DatasetError as exc:
        raise ExportError(f"Cannot measure the speaking rate: {exc}. Name the dataset with --dataset.") from exc
    from piper.phoneme_ids import phonemes_to_ids

    from ..audio import read_audio, to_mono
    from . import vits
    from .pace import speech_seconds

    utts = list(ds.train)
    texts = [u.normalized or u.text for u in utts]
    id_map = vits.piper_phoneme_id_map()
    clips = []
    for utt, phonemes in zip(utts, vits.phonemize(texts, espeak_voice)):
        samples, rate = read_audio(utt.wav)
        clips.append((phonemes_to_ids(list(phonemes), id_map), speech_seconds(to_mono(samples), rate)))
    if not clips:
        raise ExportError(f"{ds.root} has no training clips to measure the speaking rate on.")
    return clips, str(ds.root)


def _training_state(voice: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((voice / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _measure_pace(session: Any, piper: dict[str, Any], clips: list[tuple[list[int], float]]) -> Pace:
    """Speak each clip's ids with the exported graph at its current scales and compare the speech."""
    from .pace import measure_pace

    inf = piper["inference"]
    scales = (inf["noise_scale"], inf["length_scale"], inf["noise_w"])
    rate = int(piper["audio"]["sample_rate"])
    return measure_pace(lambda ids: (_run_graph(session, ids, scales).reshape(-1), rate), clips, float(inf["length_scale"]))


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


def piper_config(config: Any, name: str, meta: dict[str, Any] | None = None, step: Any = None) -> dict[str, Any]:
    """The ``.onnx.json`` Piper reads: audio rate, espeak voice, phoneme id map, inference scales."""
    from . import vits

    voice = str(config.phoneme_language or "en-us")
    lang, _, region = voice.partition("-")
    code = f"{lang}_{region.upper()}" if region else lang
    hidden = int(config.model_args.hidden_channels)
    return {
        "dataset": name,
        "audio": {"sample_rate": int(config.audio.sample_rate), "quality": "medium" if hidden >= 192 else "x_low"},
        "espeak": {"voice": voice},
        "language": {"code": code, "family": lang, "region": region.upper()},
        "inference": _inference(meta),
        "phoneme_type": "espeak",
        "phoneme_map": {},
        "phoneme_id_map": vits.piper_phoneme_id_map(),
        "num_symbols": int(config.model_args.num_chars),
        "num_speakers": 1,
        "speaker_id_map": {},
        "hop_length": int(config.audio.hop_length),
        "piper_version": "1.0.0",  # the config format of Piper's 1.x voices (joe, lessac)
        "voicebank": {
            "exported_from": "voicebank train export",
            "step": step,
            "metric": (meta or {}).get("metric"),
            "loss_eval": (meta or {}).get("loss_eval"),
            "recipe": (meta or {}).get("recipe"),
        },
    }


# ----------------------------------------------------------------------------- graph


def _export_vits_class() -> type:
    import torch
    from TTS.tts.utils.helpers import generate_path, sequence_mask

    from .vits import VoicebankVits

    class ExportVits(VoicebankVits):  # type: ignore[misc, valid-type]
        """The VITS with Piper's inference signature as ``forward`` (used for tracing only).

        Same computation as Coqui's ``Vits.inference`` for one speaker, written so the traced
        graph has static ranks: Coqui squeezes a dynamic axis of the alignment mask, which
        the exporter turns into an ``If`` node that stops ONNX shape inference (and with it
        the engine's graph cutting).
        """

        def forward(self, input: Any, input_lengths: Any, scales: Any) -> Any:  # noqa: A002 (Piper's name)
            noise_scale, length_scale, noise_scale_w = scales[0], scales[1], scales[2]
            x, m_p, logs_p, x_mask = self.text_encoder(input, input_lengths)
            if self.args.use_sdp:
                logw = self.duration_predictor(x, x_mask, g=None, reverse=True, noise_scale=noise_scale_w)
            else:
                logw = self.duration_predictor(x, x_mask, g=None)
            w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)  # frames per id [B, 1, T_x]
            y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
            y_mask = sequence_mask(y_lengths, None).to(x_mask.dtype).unsqueeze(1)  # [B, 1, T_y]
            attn_mask = x_mask.transpose(1, 2) * y_mask  # [B, T_x, T_y]
            attn = generate_path(w_ceil[:, 0, :], attn_mask)  # [B, T_x, T_y]
            m_p = torch.matmul(m_p, attn)  # [B, C, T_y]
            logs_p = torch.matmul(logs_p, attn)
            z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
            z = self.flow(z_p, y_mask, g=None, reverse=True)
            return self.waveform_decoder(z * y_mask, g=None)

    return ExportVits


def _ExportVits(config: Any) -> Any:  # noqa: N802 (reads as a class at the call site)
    return _export_vits_class()(config)


def _fold_weight_norm(model: Any) -> None:
    """Bake weight normalisation into plain weights (both torch styles), as Piper's graphs have."""
    import torch
    from torch.nn.utils import parametrize

    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        elif hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)


def _export_graph(model: Any, path: Path, opset: int) -> None:
    import torch

    ids = torch.randint(low=4, high=120, size=(1, 60), dtype=torch.long)
    lengths = torch.tensor([ids.shape[1]], dtype=torch.long)
    scales = torch.tensor([0.667, 1.0, 0.8], dtype=torch.float32)
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                (ids, lengths, scales),
                str(path),
                opset_version=opset,
                input_names=["input", "input_lengths", "scales"],
                output_names=["output"],
                dynamic_axes={
                    "input": {0: "batch_size", 1: "phonemes"},
                    "input_lengths": {0: "batch_size"},
                    "output": {0: "batch_size", 2: "time"},
                },
                dynamo=False,
            )
        except Exception as exc:  # torch.onnx raises many types
            raise ExportError(f"ONNX export failed ({type(exc).__name__}: {exc}).") from exc


def _check_speaks(session: Any, piper: dict[str, Any]) -> float:
    """Run the graph on a test sentence; the audio must be finite and a whole number of hops."""
    import numpy as np

    from . import vits

    phonemes = vits.phonemize(["This is a test of my voice."], piper["espeak"]["voice"])[0]
    id_map = piper["phoneme_id_map"]
    ids = [1, 0]
    for p in phonemes:
        if p in id_map:
            ids += [id_map[p][0], 0]
    ids.append(2)
    audio = _run_graph(session, ids, (0.667, 1.0, 0.8))
    hop = int(piper["hop_length"])
    if audio.size == 0 or audio.size % hop or not np.all(np.isfinite(audio)):
        raise ExportError(f"The exported graph does not speak properly (output shape {audio.shape}).")
    return float(audio.size / piper["audio"]["sample_rate"])


def _run_graph(session: Any, ids: list[int], scales: tuple[float, float, float]) -> Any:
    """The exported graph's audio (``[1, 1, samples]``) for one sentence's phoneme ids."""
    import numpy as np

    return session.run(None, {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
    })[0]


def _streamable(onnx_path: Path) -> bool:
    import onnx

    from voicebank.engines.split import find_cut_points

    return find_cut_points(onnx.load(str(onnx_path), load_external_data=False)) is not None


def _copy_train_log(voice: Path, out: Path) -> None:
    """Keep the training curve next to the exported voice (the evaluation report draws it)."""
    import shutil

    log = voice / "train_log.jsonl"
    if log.is_file() and out.resolve() != voice.resolve():
        shutil.copyfile(log, out / log.name)


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "voice"
    if stem.endswith(".onnx"):
        stem = stem[: -len(".onnx")]
    if not stem:
        raise UsageError(f"{name!r} is not usable as a voice file name.")
    return stem
