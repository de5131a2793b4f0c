"""A Piper-format ONNX voice → a trainable Coqui VITS with the same weights.

Responsible for: reading the weights of a Piper ``.onnx`` voice (the stock joe voice, or
any Piper "medium" English voice), naming them as Coqui's :class:`~TTS.tts.models.vits.Vits`
does, building the matching :class:`VitsConfig` (Piper's phoneme alphabet, so the text
embedding rows keep their meaning), and checking the import: Coqui's model with the noise
switched off must say exactly what ONNX Runtime says. Not responsible for training the
parts the ONNX file lacks (:mod:`.offline_base`).

Why Coqui's ``Vits`` and not Piper's own training module: Coqui's class holds this
generator tensor for tensor (checked below, ~90 dB), and the rest of voicebank's trainer
(recipes, resume, early stopping, export) is built on it; Piper's module would need a
second training loop.

The facts the mapping rests on (DESIGN.md, "Offline base from the stock voice"):

* Piper names the phoneme embedding ``sid`` (an export quirk); Coqui calls it
  ``text_encoder.emb``. ``enc_p`` → ``text_encoder``, ``dec`` → ``waveform_decoder``,
  ``dp`` → ``duration_predictor``.
* Piper keeps its ``Flip`` modules in the flow lists, Coqui flips inside each coupling:
  ``flow.flows.{0,2,4,6}`` → ``flow.flows.{0,1,2,3}``; ``dp.flows.{0,3,5,7}`` →
  ``duration_predictor.flows.{0,2,3,4}`` (Coqui's ``flows.1`` is only used in training).
* The 32 WaveNet conv weights of the flow are anonymous (``onnx::Conv_NNNN``): their names
  come from the Conv node that reads them.
* ``dp.flows.0.logs`` was folded into a constant exp(−logs) (``/dp/flows.0/Exp_output_0``).
* Weight norm is folded: Coqui's magnitude/direction pair is rebuilt as (‖W‖, W).
* Absent, trained later: the posterior encoder, the duration predictor's training branch
  (``post_*``, ``flows.1``) and the discriminator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError, PiperImportError
from ..voice.config import PiperVoiceConfig
from ..voice.phonemes import NUM_SYMBOLS, piper_phoneme_id_map

# Piper "medium" architecture (confirmed by the tensor shapes of the joe voice).
MEDIUM_DECODER = {
    "resblock_type_decoder": "2",
    "resblock_kernel_sizes_decoder": [3, 5, 7],
    "resblock_dilation_sizes_decoder": [[1, 2], [2, 6], [3, 12]],
    "upsample_rates_decoder": [8, 8, 4],
    "upsample_initial_channel_decoder": 256,
    "upsample_kernel_sizes_decoder": [16, 16, 8],
}
_FLOW_INDEX = {"0": "0", "2": "1", "4": "2", "6": "3"}
_DP_FLOW_INDEX = {"0": "0", "3": "2", "5": "3", "7": "4"}
_DP_LOGS_CONST = "/dp/flows.0/Exp_output_0"


@dataclass
class ImportedVoice:
    """Weights of a Piper voice under Coqui's names, and what the voice's JSON says."""

    weights: dict[str, np.ndarray]
    voice_config: PiperVoiceConfig
    hidden_channels: int
    num_symbols: int
    text_layers: int
    ffn_channels: int


def read_piper_onnx(model: Path, config: Path | None = None) -> ImportedVoice:
    """The weights of a Piper ``.onnx`` voice, renamed as Coqui's VITS names them (folded form)."""
    import onnx
    from onnx import numpy_helper

    config = config or model.with_name(model.name + ".json")
    try:
        voice_config = PiperVoiceConfig.load(config)
        graph = onnx.load(str(model)).graph
    except (OSError, EngineError) as exc:
        raise PiperImportError(f"Cannot read the Piper voice {model} ({exc}).") from exc
    except Exception as exc:  # onnx raises DecodeError and friends for a damaged file
        raise PiperImportError(f"{model} is not a readable ONNX file ({exc}).") from exc
    if voice_config.num_speakers != 1:
        raise PiperImportError(f"{model} is a multi-speaker voice; only single-speaker voices can be a base.")

    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    anon_names: dict[str, str] = {}
    for node in graph.node:  # the anonymous flow convs are named by the node that reads them
        match = re.fullmatch(r"/flow/flows\.(\d+)/enc/(in_layers|res_skip_layers)\.(\d+)/Conv", node.name)
        if match and len(node.input) > 1 and node.input[1].startswith("onnx::"):
            anon_names[node.input[1]] = f"flow.flows.{match[1]}.enc.{match[2]}.{match[3]}.weight"

    out: dict[str, np.ndarray] = {}
    for name, value in inits.items():
        if name in anon_names:
            name = anon_names[name]
        elif name == "sid":
            name = "enc_p.emb.weight"
        elif name == _DP_LOGS_CONST:
            out["duration_predictor.flows.0.log_scale"] = -np.log(value).astype(np.float32)
            continue
        elif not re.match(r"(enc_p|dec|flow|dp)\.", name):
            continue  # graph constants
        coqui = _coqui_name(name)
        if coqui is not None:
            out[coqui] = value.astype(np.float32)
    if "text_encoder.emb.weight" not in out or "waveform_decoder.conv_pre.weight" not in out:
        raise PiperImportError(f"{model} does not look like a Piper VITS voice (no text embedding or decoder).")
    emb = out["text_encoder.emb.weight"]
    layers = len({k.split(".")[3] for k in out if k.startswith("text_encoder.encoder.attn_layers.")})
    return ImportedVoice(
        weights=out,
        voice_config=voice_config,
        hidden_channels=int(emb.shape[1]),
        num_symbols=int(emb.shape[0]),
        text_layers=layers,
        ffn_channels=int(out["text_encoder.encoder.ffn_layers.0.conv_1.weight"].shape[0]),
    )


def _coqui_name(name: str) -> str | None:
    parts = name.split(".")
    head = parts[0]
    if head == "enc_p":
        return ".".join(["text_encoder", *parts[1:]])
    if head == "dec":
        return ".".join(["waveform_decoder", *parts[1:]])
    if head == "flow":
        if parts[1] == "flows":
            if parts[2] not in _FLOW_INDEX:
                return None
            parts[2] = _FLOW_INDEX[parts[2]]
        return ".".join(parts)
    if head == "dp":
        if parts[1] == "flows":
            if parts[2] not in _DP_FLOW_INDEX:
                return None
            parts[2] = _DP_FLOW_INDEX[parts[2]]
            if parts[2] == "0" and parts[3] == "m":
                parts[3] = "translation"
        return ".".join(["duration_predictor", *parts[1:]])
    return None


def coqui_config(voice: ImportedVoice) -> Any:
    """The Coqui ``VitsConfig`` holding this voice: its audio settings and Piper's alphabet."""
    from TTS.tts.configs.vits_config import VitsConfig

    from .vits_config import PiperCharacters

    vc = voice.voice_config
    config = VitsConfig()
    config.audio.sample_rate = vc.sample_rate
    for key in ("fft_size", "win_length", "hop_length", "num_mels"):  # Piper "medium" settings
        setattr(config.audio, key, {"fft_size": 1024, "win_length": 1024, "hop_length": 256, "num_mels": 80}[key])
    config.audio.mel_fmin = 0.0
    config.audio.mel_fmax = None
    args = config.model_args
    args.num_chars = max(NUM_SYMBOLS, voice.num_symbols)
    args.hidden_channels = voice.hidden_channels
    args.hidden_channels_ffn_text_encoder = voice.ffn_channels
    args.num_layers_text_encoder = voice.text_layers
    for key, value in MEDIUM_DECODER.items():
        setattr(args, key, value)
    args.out_channels = config.audio.fft_size // 2 + 1
    args.inference_noise_scale = vc.noise_scale
    args.length_scale = vc.length_scale
    args.inference_noise_scale_dp = vc.noise_w_scale
    config.characters = PiperCharacters().to_config()
    config.use_phonemes = False
    config.phonemizer = None
    config.phoneme_language = vc.espeak_voice
    config.text_cleaner = None
    config.add_blank = True
    config.enable_eos_bos_chars = True
    return config


def check_symbols(voice: ImportedVoice) -> None:
    """Piper's map in the voice must be the one voicebank's alphabet is built from."""
    theirs = voice.voice_config.phoneme_id_map
    ours = piper_phoneme_id_map()
    differ = [s for s, ids in theirs.items() if ours.get(s) != list(ids)]
    if differ:
        raise PiperImportError(
            f"The voice's phoneme map differs from Piper's English map at {len(differ)} symbols "
            f"(e.g. {differ[0]!r}); its text embedding would lose its meaning."
        )


def load_into(model: Any, voice: ImportedVoice) -> dict[str, int]:
    """Copy the voice's weights into a Coqui ``Vits``; returns counts (imported / left fresh).

    Every imported tensor must land (a name or shape that does not fit is an error, not a
    silent skip); weight-normed layers get magnitude ‖W‖ and direction W.
    """
    import torch

    own = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    for name, value in voice.weights.items():
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        stem = name[: -len(".weight")] if name.endswith(".weight") else None
        g_key = f"{stem}.parametrizations.weight.original0" if stem else None
        if name in own:
            target = {name: tensor}
        elif g_key in own:
            dims = tuple(range(1, tensor.dim()))
            target = {
                g_key: tensor.norm(dim=dims, keepdim=True),
                f"{stem}.parametrizations.weight.original1": tensor,
            }
        else:
            raise PiperImportError(f"The voice's tensor {name} has no place in the Coqui model.")
        for key, t in target.items():
            if own[key].shape != t.shape:
                raise PiperImportError(f"{key}: the voice has shape {tuple(t.shape)}, the model {tuple(own[key].shape)}.")
            new[key] = t
    emb_key = "text_encoder.emb.weight"
    if emb_key in new and new[emb_key].shape[0] < own[emb_key].shape[0]:
        padded = own[emb_key].clone()
        padded[: new[emb_key].shape[0]] = new[emb_key]
        new[emb_key] = padded
    model.load_state_dict(new, strict=False)
    fresh = [k for k in own if k not in new]
    return {
        "imported": len(voice.weights),
        "model_tensors_set": len(new),
        "fresh_generator": sum(1 for k in fresh if not k.startswith("disc.")),
        "fresh_discriminator": sum(1 for k in fresh if k.startswith("disc.")),
    }


def import_voice(
    model_path: Path, config_path: Path | None = None, discriminator_width: int | None = None
) -> tuple[Any, Any, dict[str, int]]:
    """(Coqui model, its config, import counts) for a Piper ONNX voice; the model is on CPU in eval mode.

    ``discriminator_width`` None builds no discriminator; 0 Coqui's; N the small one of that width.
    """
    from .vits_model import VoicebankVits

    voice = read_piper_onnx(model_path, config_path)
    check_symbols(voice)
    config = coqui_config(voice)
    config.model_args.init_discriminator = discriminator_width is not None
    model = VoicebankVits(config, discriminator_width=discriminator_width or 0)
    counts = load_into(model, voice)
    model.eval()
    return model, config, counts


# ----------------------------------------------------------------------------- the import check


@dataclass
class ImportCheck:
    """How closely the imported model reproduces ONNX Runtime (noise off)."""

    sentences: int
    snr_db_min: float
    snr_db_median: float
    max_abs_diff: float
    same_length: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentences": self.sentences,
            "snr_db_min": round(self.snr_db_min, 2),
            "snr_db_median": round(self.snr_db_median, 2),
            "max_abs_diff": float(f"{self.max_abs_diff:.3g}"),
            "same_length": self.same_length,
        }


def coqui_speak(model: Any, ids: list[int], noise_scale: float = 0.0, noise_scale_dp: float = 0.0,
                length_scale: float = 1.0) -> np.ndarray:
    """Audio of phoneme ids from a Coqui VITS (float32, mono), with the given noise."""
    import torch

    saved = model.inference_noise_scale, model.inference_noise_scale_dp, model.length_scale
    model.inference_noise_scale, model.inference_noise_scale_dp, model.length_scale = noise_scale, noise_scale_dp, length_scale
    try:
        device = next(model.parameters()).device  # a model in training may be on the GPU
        with torch.inference_mode():
            x = torch.tensor([ids], dtype=torch.long, device=device)
            out = model.inference(x, aux_input={"x_lengths": torch.tensor([len(ids)], device=device)})
    finally:
        model.inference_noise_scale, model.inference_noise_scale_dp, model.length_scale = saved
    return out["model_outputs"].reshape(-1).float().cpu().numpy().astype(np.float32)


def check_import(model: Any, model_path: Path, texts: list[str]) -> ImportCheck:
    """Speak ``texts`` with ONNX Runtime and with the imported model, noise off, and compare."""
    from voicebank.engines.base import SynthesisOptions
    from voicebank.engines.piper_onnx import PiperOnnxEngine
    from voicebank.engines.split import snr_db
    from voicebank.voice.registry import VoiceFiles

    config_path = model_path.with_name(model_path.name + ".json")
    engine = PiperOnnxEngine(VoiceFiles(name=model_path.stem, model=model_path, config=config_path), streaming=False)
    quiet = SynthesisOptions(noise_scale=0.0, length_scale=1.0, noise_w_scale=0.0)
    snrs, diffs, same = [], [], True
    for text in texts:
        for phonemes in engine.phonemize(text):
            ids, _ = engine.phoneme_ids(phonemes)
            ref = engine.whole_audio(phonemes, quiet)
            ours = coqui_speak(model, ids)
            if len(ref) != len(ours):
                same = False
                n = min(len(ref), len(ours))
                ref, ours = ref[:n], ours[:n]
            snrs.append(snr_db(ref, ours))
            diffs.append(float(np.max(np.abs(ref - ours))))
    if not snrs:
        raise PiperImportError("No text to check the import with.")
    return ImportCheck(len(snrs), float(np.min(snrs)), float(np.median(snrs)), float(np.max(diffs)), same)
