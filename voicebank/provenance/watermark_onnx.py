"""PerTh's marking network on ONNX Runtime, so that marking needs no torch once the network is cached.

The encoder is a stack of 1-D convolutions over the low band of a magnitude spectrogram. Its
weights are read once from the network ``resemble-perth`` bundles (that first read needs torch),
written as a small ONNX graph into voicebank's cache (keyed by the checkpoint's sha256), and
run on one ONNX Runtime thread: speaking then imports no torch (a one-shot ``speak --out``
starts in well under a second) and the mark is the same for the same input in any process.
The STFT and its inverse (torchaudio's, with a periodic Hann window, centred, reflect padding)
are done in numpy here. Detection stays on torch (:mod:`.watermark_core`): it is not on the
path of speech.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..config import cache_dir
from ..durable import atomic_write
from ..errors import MissingDependencyError

SCHEMA = 1
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def _checkpoint() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("perth")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("The audio watermark (resemble-perth)", "trust")
    folder = Path(next(iter(spec.submodule_search_locations))) / "perth_net" / "pretrained"
    found = sorted(folder.glob("implicit/*.pth.tar"))
    if not found:
        raise MissingDependencyError(f"The audio watermark's network (no weights in {folder})", "trust")
    return found[-1]


def _cached_model(checkpoint: Path) -> Path:
    from ..voice.registry import file_sha256

    return cache_dir() / "watermark" / f"perth-encoder-v{SCHEMA}-{file_sha256(checkpoint)[:16]}.onnx"


def _build(path: Path) -> None:
    """Write the encoder as ONNX from the torch network (run once per machine and checkpoint)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .watermark_core import _run

    def layers(model: Any) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        out = []
        for conv in model.encoder.layers:
            out.append((conv.conv.weight.detach().numpy().copy(), conv.conv.bias.detach().numpy().copy(), bool(conv.act)))
        return out

    weights = _run(layers)
    subband = weights[0][0].shape[1]
    nodes, inits, last = [], [], "band"
    for i, (w, b, act) in enumerate(weights):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"), numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
        k = w.shape[2]
        nodes.append(helper.make_node("Conv", [last, f"w{i}", f"b{i}"], [f"c{i}"], pads=[(k - 1) // 2] * 2, kernel_shape=[k]))
        last = f"c{i}"
        if act:
            nodes.append(helper.make_node("LeakyRelu", [last], [f"a{i}"], alpha=0.01))
            last = f"a{i}"
    nodes.append(helper.make_node("Identity", [last], ["residual"]))
    graph = helper.make_graph(
        nodes, "perth_encoder", [helper.make_tensor_value_info("band", TensorProto.FLOAT, [1, subband, "frames"])],
        [helper.make_tensor_value_info("residual", TensorProto.FLOAT, [1, subband, "frames"])], inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, model.SerializeToString())


def _session() -> tuple[Any, dict[str, Any]]:
    """The encoder's session and the network's STFT settings, built or loaded once per process."""
    with _LOCK:
        if "session" not in _STATE:
            import onnxruntime as ort

            checkpoint = _checkpoint()
            path = _cached_model(checkpoint)
            if not path.is_file():
                _build(path)
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # the same mark in any process, whatever the machine's load
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            subband = session.get_inputs()[0].shape[1]
            _STATE["session"] = session
            _STATE["hp"] = {"n_fft": 2048, "hop": 320, "subband": int(subband), "floor": 1e-9}
        return _STATE["session"], _STATE["hp"]


def warm() -> None:
    """Build or load the encoder's session now."""
    _session()


def cached() -> bool:
    """Whether the encoder is already written for this machine (else the first load runs torch, a few seconds)."""
    return "session" in _STATE or _cached_model(_checkpoint()).is_file()


def _window(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float64)  # periodic Hann


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Complex spectrogram [freq, frames] as torchaudio's Spectrogram(power=None) gives it."""
    padded = np.pad(x.astype(np.float64), (n_fft // 2, n_fft // 2), mode="reflect")
    frames = 1 + (padded.size - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(padded[index] * _window(n_fft), axis=1).T


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """torchaudio's InverseSpectrogram: overlap-add of the windowed frames over the window's squared sum."""
    window = _window(n_fft)
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * window
    total = n_fft + hop * (frames.shape[0] - 1)
    out, norm = np.zeros(total), np.zeros(total)
    for i, frame in enumerate(frames):
        out[i * hop : i * hop + n_fft] += frame
        norm[i * hop : i * hop + n_fft] += window**2
    start = n_fft // 2
    out = out[start : start + length] / np.maximum(norm[start : start + length], 1e-11)
    return np.pad(out, (0, max(0, length - out.size)))


def residual32(x32: np.ndarray) -> np.ndarray:
    """What PerTh adds to ``x32`` (32 kHz, same length): the change of the low band's level, as samples."""
    session, hp = _session()
    n_fft, hop, band = hp["n_fft"], hp["hop"], hp["subband"]
    signal = np.pad(x32.astype(np.float32), (0, max(0, n_fft - x32.size)))
    spec = stft(signal, n_fft, hop)
    floor_db = 20.0 * np.log10(hp["floor"])
    mag = ((20.0 * np.log10(np.maximum(np.abs(spec), hp["floor"])) - floor_db) / 195.0).astype(np.float32)
    total = mag.sum(axis=0)
    mask = (total > total.max() * 0.05).astype(np.float32)  # frames loud enough to carry the mark
    res = session.run(None, {"band": mag[None, :band]})[0][0] * mask[None, :]
    gain_db = res.astype(np.float64) * 195.0
    change = np.zeros_like(spec)
    change[:band] = spec[:band] * (np.power(10.0, gain_db / 20.0) - 1.0)
    return istft(change, n_fft, hop, signal.size)[: x32.size].astype(np.float32)
