"""A trained VITS as an ONNX graph with Piper's interface: trace it, fold its weight norm, run it.

The graph's inputs are ``input`` (phoneme ids ``[1, N]``), ``input_lengths`` (``[1]``) and
``scales`` (``[noise, length, noise_w]``), its output ``output`` (``[1, 1, samples]``). The
exported module is the VITS model itself, so the ONNX node names keep the module paths
(``/waveform_decoder/conv_pre/Conv``, ``/flow/…``, ``/Ceil``): :mod:`voicebank.engines.split`
finds its cut points by those names and streams the voice in windows (:func:`streamable`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ExportError

OPSET = 15  # as Piper's own exporter: runs on older ONNX Runtimes (Home Assistant, Raspberry Pi)


def _export_vits_class() -> type:
    import torch
    from TTS.tts.utils.helpers import generate_path, sequence_mask

    from .vits_model import VoicebankVits

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


def export_model(config: Any) -> Any:
    """The VITS of ``config`` whose ``forward`` is Piper's inference signature."""
    return _export_vits_class()(config)


def fold_weight_norm(model: Any) -> None:
    """Bake weight normalisation into plain weights (both torch styles), as Piper's graphs have."""
    import torch
    from torch.nn.utils import parametrize

    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        elif hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)


def export_graph(model: Any, path: Path, opset: int = OPSET) -> None:
    """Trace ``model`` (an :func:`export_model`) into an ONNX file at ``path``, dynamic in length."""
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


def run_graph(session: Any, ids: list[int], scales: tuple[float, float, float]) -> Any:
    """The exported graph's audio (``[1, 1, samples]``) for one sentence's phoneme ids."""
    import numpy as np

    return session.run(None, {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
    })[0]


def streamable(onnx_path: Path) -> bool:
    """True when our engine can cut the graph into encoder / flow / decoder (windowed streaming)."""
    import onnx

    from voicebank.engines.split import find_cut_points

    return find_cut_points(onnx.load(str(onnx_path), load_external_data=False)) is not None


