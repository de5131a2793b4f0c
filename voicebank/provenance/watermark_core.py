"""The PerTh network behind the watermark: the mark via ONNX Runtime (:mod:`.watermark_onnx`), detection on torch.

Everything that touches torch or ``resemble-perth`` is here, imported on first use; the torch
network is loaded once per process and run on one worker thread.
:func:`residual` is the mark PerTh adds to a window of samples, :func:`mark_window` a span of a
window marked (the rest of the window is context), :func:`score` the network's belief that a
clip carries the mark. All convert to PerTh's
32 kHz and back with soxr; the mark is computed as a residual (marked minus original) and
added to the caller's own samples, so the speech itself never goes through a resampler.

Torch calls (detection, and reading the network once per machine for the ONNX encoder) run on
one dedicated thread with one torch thread: calls from any number of
threads are serialized (the model is shared safely), the result does not depend on the
caller's thread settings (bit-identical output for the same input), and other code's torch
thread count is left alone (``torch.set_num_threads`` acts on the calling thread only).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import sys
import threading
import types
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from ..errors import MissingDependencyError

PERTH_RATE = 32000  # the network's sample rate (its hparams.yaml)
T = TypeVar("T")

_lock = threading.Lock()
_worker: ThreadPoolExecutor | None = None
_model: Any = None


_NETWORK_MODULE = "perth.perth_net.perth_net_implicit.model.perth_net"


def _import_network() -> tuple[Any, Path]:
    """PerthNet and its bundled weights' folder, without perth's package ``__init__`` files.

    Those import librosa (numba, llvmlite, much of scipy) and pkg_resources only for perth's own
    wrapper class, which is not used here: skipping them halves the import time. Empty stand-in
    packages are in ``sys.modules`` only during the import, and the modules imported through them are
forgotten after it, so a later ``import perth`` runs as usual.
    """
    spec = importlib.util.find_spec("perth")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'perth'", name="perth")
    root = Path(next(iter(spec.submodule_search_locations)))
    if "perth" in sys.modules:  # imported the ordinary way already: nothing left to save
        return importlib.import_module(_NETWORK_MODULE).PerthNet, root / "perth_net" / "pretrained"
    for name, folder in (("perth", root), ("perth.perth_net", root / "perth_net")):
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__path__ = [str(folder)]
    try:
        module = importlib.import_module(_NETWORK_MODULE)
    finally:  # forget every perth module imported this way (the classes stay alive through `module`)
        for name in [n for n in sys.modules if n == "perth" or n.startswith("perth.")]:
            del sys.modules[name]
    return module.PerthNet, root / "perth_net" / "pretrained"


def _load() -> Any:
    """Build the network (on the worker thread)."""
    import torch

    torch.set_num_threads(1)  # this worker thread only
    try:
        perth_net, weights = _import_network()
    except ImportError as e:  # perth imports torchaudio and yaml without declaring them
        raise MissingDependencyError(f"The audio watermark (resemble-perth; {e.name or e} is missing)", "trust") from e
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line when it loads
        net = perth_net.load("implicit", str(weights))
    net.eval()
    if net.hp.sample_rate != PERTH_RATE:
        raise MissingDependencyError(f"resemble-perth with a {PERTH_RATE} Hz network (this one: {net.hp.sample_rate} Hz)", "trust")
    return net


def _submit(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Queue ``fn(model, *args)`` on the watermark's own thread, loading the model on first use."""
    global _worker
    with _lock:
        if _worker is None:
            _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicebank-watermark")
        worker = _worker

    def call() -> T:
        global _model
        if _model is None:
            _model = _load()
        return fn(_model, *args)

    return worker.submit(call)


def _run(fn: Callable[..., T], *args: Any) -> T:
    return _submit(fn, *args).result()


def load() -> None:
    """Make the marking network ready now rather than on the first mark (ONNX Runtime; torch only the first time on a machine)."""
    from .watermark_onnx import warm

    warm()


def ready_soon() -> bool:
    """Whether the network loads in a blink (its ONNX encoder is cached), so a background load cannot delay the first mark."""
    from .watermark_onnx import cached

    return cached()


def preload() -> None:
    """Start making the marking network ready in the background (while a voice loads); the first mark waits for it."""
    threading.Thread(target=load, name="voicebank-watermark-load", daemon=True).start()


def _to_perth(samples: np.ndarray, rate: int) -> np.ndarray:
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if rate == PERTH_RATE or x.size == 0:
        return x
    import soxr

    return soxr.resample(x, rate, PERTH_RATE, quality="HQ").astype(np.float32, copy=False)


def _from_perth(samples: np.ndarray, rate: int, frames: int) -> np.ndarray:
    """``samples`` at 32 kHz back at ``rate``, exactly ``frames`` long."""
    x = samples
    if rate != PERTH_RATE and x.size:
        import soxr

        x = soxr.resample(x, PERTH_RATE, rate, quality="HQ")
    x = np.asarray(x, dtype=np.float32)[:frames]
    return np.pad(x, (0, frames - x.size)) if x.size < frames else x


def reference_residual32(x32: np.ndarray) -> np.ndarray:
    """The mark as perth's own torch network computes it: what :mod:`.watermark_onnx` is checked against."""
    return _run(_residual32, x32)


def _residual32(model: Any, x32: np.ndarray) -> np.ndarray:
    """What PerTh adds to ``x32`` (same length): the mark alone, in the time domain."""
    import torch

    net = model
    n_fft = net.hp.n_fft
    signal = np.pad(x32, (0, max(0, n_fft - x32.size)))  # the STFT's reflect padding needs a window's worth
    with torch.inference_mode():  # without it perth's memory grows call after call
        spec = net.ap.spectrogram(torch.from_numpy(signal))
        mag = _normalized_db(net.hp, spec.abs())
        marked, _mask = net.encoder(mag[None])
        # the mark changes only the low bins' level: apply that gain change to the complex spectrum
        # and transform only the change (the iSTFT is linear), at the input's own length
        band = net.encoder.subband
        gain_db = (marked[0, :band] - mag[:band]) * _DB_SPAN
        change = torch.zeros_like(spec)
        change[:band] = spec[:band] * (torch.pow(10.0, gain_db / 20.0) - 1.0)
        residual = net.ap.inv_spectrogram(change, length=signal.size)
    return residual.numpy()[: x32.size].astype(np.float32, copy=False)


_DB_SPAN = 195.0  # perth's normalization: 0..1 spans -180 dB (its magnitude floor) to +15 dB


def _normalized_db(hp: Any, magnitude: Any) -> Any:
    """Perth's own magnitude scaling (utils.cx_to_magphase), without the phase it does not need here."""
    import torch

    floor_db = 20.0 * np.log10(hp.stft_magnitude_min)
    return (20.0 * torch.log10(magnitude.clip(hp.stft_magnitude_min)) - floor_db) / _DB_SPAN


def _score32(model: Any, x32: np.ndarray) -> float:
    import torch

    net = model
    signal = np.pad(x32, (0, max(0, net.hp.n_fft - x32.size)))
    with torch.inference_mode():
        mag = _normalized_db(net.hp, net.ap.spectrogram(torch.from_numpy(signal)).abs())
        return float(net.decoder(mag[None])[0])


def residual(window: np.ndarray, rate: int) -> np.ndarray:
    """The mark PerTh would add to ``window`` (float32 mono at ``rate``), as samples of the same length."""
    x = np.ascontiguousarray(window, dtype=np.float32)
    if x.size == 0:
        return x.copy()
    from .watermark_onnx import residual32

    return _from_perth(residual32(_to_perth(x, rate)), rate, x.size)


def mark_window(window: np.ndarray, rate: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """``window[start:stop]`` with the mark added, the whole window heard as context.

    Float32 mono in, float32 in [-1, 1] out, ``stop - start`` samples. Samples outside the
    span steer the mark at the span's edges.
    """
    x = np.ascontiguousarray(window, dtype=np.float32)
    stop = x.size if stop is None else stop
    if stop <= start:
        return np.zeros(0, np.float32)
    mark = residual(x, rate)[start:stop]
    return np.clip(x[start:stop] + mark, -1.0, 1.0).astype(np.float32, copy=False)


def score(samples: np.ndarray, rate: int) -> float:
    """PerTh's raw belief (about 0 unmarked, about 1 marked) that ``samples`` carry the mark; NaN for silence."""
    return _run(_score32, _to_perth(samples, rate))
