"""Seeded whole-sentence synthesis for a Piper voice: the graph's two noise draws come from numpy's generator.

The exported graph draws duration noise (``/dp/RandomNormalLike``, ``[1, 2, ids]``) and
latent noise (``/RandomNormalLike``, like the prior mean ``[1, C, frames]``) from unseeded
generators, so a sentence never sounds the same twice. Narration needs the same samples for
the same seed in any process (resume, several workers, a Ray cluster), so here the encoder is
cut once more with the duration noise as an input and the prior's mean and scale as outputs;
the latent noise is added in numpy as the graph adds it (``z_p = m_p + ε·exp(logs_p)·noise_scale``),
then the streaming cut's flow and decoder run over the whole sentence. Both draws come from
``numpy.random.default_rng(seed)``, duration noise first.

The cut file lives next to the streaming parts (``cache_dir()/graphs/<model sha256>/``),
written atomically with its tensor names in ``seeded.json``. A graph whose noise is not
shaped as above gives None: the engine then synthesizes with both noise scales at 0 (still
the same samples every time, a flatter reading).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import atomic_write_json, fsync_file, move, read_json_dict
from ..errors import CorruptFileError
from .split import LazySession
from .split_model import Latent, SplitModel

SCHEMA_VERSION = 1
FILE = "seeded-encoder.onnx"
MANIFEST = "seeded.json"
_LOCK = threading.Lock()
_MODELS: weakref.WeakKeyDictionary[Any, SeededModel | None] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class SeededNames:
    """The tensors of the seeded encoder part."""

    dp_noise: str  # the duration noise, now an input [1, 2, ids]
    mean: str  # the prior mean m_p [1, C, frames]
    scale: str  # exp(logs_p), same shape
    mask: str
    durations: str | None


def find_noise(model: Any, latent: str) -> SeededNames | None:
    """Locate the two noise draws around the latent ``Add``; None if the graph is shaped otherwise."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    randoms = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    add = producer.get(latent)
    if len(randoms) != 2 or add is None or add.op_type != "Add":
        return None
    for r in randoms:
        mean = r.input[0]
        if mean not in add.input:
            continue
        other = [t for t in add.input if t != mean]
        scaled = producer.get(other[0]) if len(other) == 1 else None  # ε·exp(logs)·noise_scale
        noised = producer.get(scaled.input[0]) if scaled is not None and scaled.op_type == "Mul" else None
        if noised is None or noised.op_type != "Mul" or r.output[0] not in noised.input:
            return None
        scale = [t for t in noised.input if t != r.output[0]]
        dp = [n for n in randoms if n is not r][0]
        return SeededNames(dp_noise=dp.output[0], mean=mean, scale=scale[0], mask="", durations=None)
    return None


class SeededModel:
    """The seeded encoder session of one voice, with the streaming flow and decoder."""

    def __init__(self, path: Path, names: SeededNames, split: SplitModel) -> None:
        self.names = names
        self.split = split
        self.encoder = LazySession(path, 1)

    def audio(self, feeds: dict[str, np.ndarray], seed: int, noise_scale: float) -> tuple[np.ndarray, Latent]:
        """One sentence's float32 samples and its latent (for word times), noise drawn from ``seed``."""
        rng = np.random.default_rng(seed)
        n = feeds["input"].shape[1]
        dp = rng.standard_normal((1, 2, n), dtype=np.float32)
        outputs = [self.names.mean, self.names.scale, self.names.mask] + ([self.names.durations] if self.names.durations else [])
        out = self.encoder.run(outputs, {**feeds, self.names.dp_noise: dp})
        mean, scale, mask = out[0], out[1], out[2]
        eps = rng.standard_normal(mean.shape, dtype=np.float32)
        z_p = mean + eps * scale * np.float32(noise_scale)
        durations = out[3].reshape(-1) if len(out) > 3 else None
        extra = {k: feeds[k] for k in set(self.split.cut.flow_extra) | set(self.split.cut.decoder_extra)}
        latent = Latent(z_p=z_p.astype(np.float32, copy=False), mask=mask, durations=durations, extra=extra)
        return self.split.whole(latent), latent


def seeded_model(model_path: Path, folder: Path, split: SplitModel) -> SeededModel | None:
    """The seeded model of a voice whose streaming parts live in ``folder``, cut once; None if it cannot be."""
    with _LOCK:
        names = _read(folder)
        if names is None:
            names = _cut(model_path, folder, split)
        if names is None:
            return None
        return SeededModel(folder / FILE, names, split)


def _read(folder: Path) -> SeededNames | None:
    try:
        data = read_json_dict(folder / MANIFEST, what="seeded graph manifest")
        if data.get("schema_version") != SCHEMA_VERSION or not (folder / FILE).is_file():
            return None
        if (folder / FILE).stat().st_size != data["size"]:
            return None
        return SeededNames(**data["names"])
    except (OSError, CorruptFileError, KeyError, TypeError, ValueError):
        return None


def _cut(model_path: Path, folder: Path, split: SplitModel) -> SeededNames | None:
    import onnx
    import onnx.utils

    cut = split.cut
    try:
        found = find_noise(onnx.load(str(model_path), load_external_data=False), cut.latent)
    except Exception:  # an unreadable graph: the caller falls back to noise-free synthesis
        return None
    if found is None:
        return None
    names = SeededNames(found.dp_noise, found.mean, found.scale, cut.mask, cut.durations)
    outputs = [names.mean, names.scale, names.mask] + ([names.durations] if names.durations else [])
    tmp = folder / f".{FILE}.{os.getpid()}.{threading.get_ident()}.partial"
    try:
        onnx.utils.extract_model(str(model_path), str(tmp), [*cut.graph_inputs, names.dp_noise], outputs)
        fsync_file(tmp)
        move(tmp, folder / FILE)
    except Exception:  # onnx raises many types; narration then runs noise-free
        tmp.unlink(missing_ok=True)
        return None
    manifest = {"schema_version": SCHEMA_VERSION, "size": (folder / FILE).stat().st_size, "names": asdict(names)}
    atomic_write_json(folder / MANIFEST, manifest)
    return names


def seeded_sentence(engine: Any, phonemes: Sequence[str], options: Any) -> tuple[np.ndarray, bool, Any]:
    """A Piper engine's piece for one whole sentence with its noise drawn from ``options.seed``.

    Where the graph cannot be seeded, both noise scales are 0 instead (the same samples every time).
    """
    with _LOCK:
        known = engine in _MODELS
    if not known:
        model = _model_for(engine)
        with _LOCK:
            _MODELS[engine] = model
    model = _MODELS[engine]
    c = engine.config
    if model is None:
        quiet = replace(options, noise_scale=0.0, noise_w_scale=0.0)
        return engine.whole_audio(phonemes, quiet), True, None
    noise = c.noise_scale if options.noise_scale is None else options.noise_scale
    audio, latent = model.audio(engine._feeds(phonemes, options), int(options.seed), float(noise))
    return audio, True, engine._times(latent, phonemes)


def _model_for(engine: Any) -> SeededModel | None:
    from ..voice.registry import file_sha256
    from .split import ensure_parts

    if engine.split is None:
        return None
    parts = ensure_parts(engine.voice.model, file_sha256(engine.voice.model))
    return seeded_model(engine.voice.model, parts.folder, engine.split) if parts is not None else None
