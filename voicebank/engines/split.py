"""Cut a Piper/VITS ONNX voice into the parts that streaming needs, and cache them.

The exported graph runs text encoder, duration predictor, flow and decoder in one
call.  Cut into three parts it can be run piece by piece:

* **encoder**: ``input, input_lengths, scales[, sid]`` → noised prior latent ``z_p``
  ``[1, C, T]``, its mask ``[1, 1, T]`` and the per-phoneme-id durations (frames);
* **flow**: ``z_p, mask`` → the decoder's input ``z`` (the flow's receptive field is
  ±32 frames, so it can be run in windows);
* **decoder**: ``z`` → audio, exactly ``hop`` samples per frame (receptive field ±10.1
  frames).

The cut points are found from the graph's structure (the input of the decoder's
``conv_pre`` convolution, the non-flow tensors the flow reads, the ``Ceil`` of the
durations), so personal voices exported with Piper's or a compatible exporter are cut the
same way.  Cut files live in ``cache_dir()/graphs/<sha256 of the model>/`` with a
manifest; each file is written atomically, the manifest last.  If a graph cannot be cut
(or the cut parts do not reproduce the whole graph), :func:`ensure_parts` returns None
and the engine runs the whole graph per sentence.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import cache_dir
from ..durable import atomic_write_json, fsync_file, move, read_json_dict
from ..errors import CorruptFileError, EngineError, MissingDependencyError

SCHEMA_VERSION = 1
PART_NAMES = ("encoder", "flow", "decoder")
_CONV_PRE = re.compile(r"(^|/)(dec|waveform_decoder|decoder)/conv_pre/Conv$")
_CUT_LOCK = threading.Lock()
_WORK_PREFIX = ".cutting-"


@dataclass(frozen=True)
class CutPoints:
    """Tensor names where the whole graph is cut."""

    latent: str  # noised prior latent z_p, input of the flow
    mask: str  # [1, 1, T] frame mask
    decoder_input: str  # post-flow latent times mask, input of the decoder
    durations: str | None  # frames per phoneme id (Ceil output), if found
    graph_inputs: tuple[str, ...]  # inputs of the whole graph
    output: str
    flow_extra: tuple[str, ...] = ()  # whole-graph inputs the flow also reads (e.g. sid)
    decoder_extra: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "latent": self.latent,
            "mask": self.mask,
            "decoder_input": self.decoder_input,
            "durations": self.durations,
            "graph_inputs": list(self.graph_inputs),
            "output": self.output,
            "flow_extra": list(self.flow_extra),
            "decoder_extra": list(self.decoder_extra),
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> CutPoints:
        return CutPoints(
            latent=d["latent"],
            mask=d["mask"],
            decoder_input=d["decoder_input"],
            durations=d.get("durations"),
            graph_inputs=tuple(d["graph_inputs"]),
            output=d["output"],
            flow_extra=tuple(d.get("flow_extra", ())),
            decoder_extra=tuple(d.get("decoder_extra", ())),
        )


@dataclass(frozen=True)
class GraphParts:
    """The cut files of one model, as recorded in the cache manifest."""

    folder: Path
    cut: CutPoints
    source_sha256: str
    verified_snr_db: float
    files: dict[str, Path] = field(default_factory=dict)


def find_cut_points(model: Any) -> CutPoints | None:
    """Locate the cut tensors in a loaded ``onnx.ModelProto``; None if the graph is unfamiliar."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    initializers = {t.name for t in graph.initializer}
    graph_inputs = tuple(i.name for i in graph.input if i.name not in initializers)
    if len(graph.output) != 1:
        return None
    output = graph.output[0].name

    conv_pre = [n for n in graph.node if n.op_type == "Conv" and _CONV_PRE.search(n.name)]
    if len(conv_pre) != 1:
        return None
    decoder_input = conv_pre[0].input[0]
    mul = producer.get(decoder_input)
    if mul is None or mul.op_type != "Mul":
        return None

    def is_flow(node: Any) -> bool:
        return "/flow/" in node.name or node.name.startswith("flow/")

    outside: set[str] = set()
    for node in graph.node:
        if not is_flow(node):
            continue
        for name in node.input:
            src = producer.get(name)
            if not name or name in initializers or src is None or src.op_type == "Constant":
                continue
            # anonymous nodes (WaveNet gates) belong to the flow; named top-level ones do not
            if src.name.startswith("/") and not is_flow(src):
                outside.add(name)
    masks = [name for name in mul.input if name in outside]
    if len(masks) != 1:
        return None
    mask = masks[0]
    # z_p = m_p + noise * exp(logs_p) * scale ends in an Add; a speaker embedding would not
    latents = sorted(n for n in outside - {mask} if producer[n].op_type == "Add")
    if len(latents) != 1:
        return None
    latent = latents[0]

    ceils = [n for n in graph.node if n.op_type == "Ceil" and n.name.count("/") <= 1]
    durations = ceils[0].output[0] if len(ceils) == 1 else None

    flow_extra = _reached_inputs(decoder_input, {latent, mask}, producer, graph_inputs)
    decoder_extra = _reached_inputs(output, {decoder_input}, producer, graph_inputs)
    return CutPoints(
        latent=latent,
        mask=mask,
        decoder_input=decoder_input,
        durations=durations,
        graph_inputs=graph_inputs,
        output=output,
        flow_extra=tuple(sorted(flow_extra)),
        decoder_extra=tuple(sorted(decoder_extra)),
    )


def _reached_inputs(
    start: str, stops: set[str], producer: dict[str, Any], graph_inputs: tuple[str, ...]
) -> set[str]:
    """Whole-graph inputs that ``start`` depends on when the walk stops at ``stops``."""
    seen: set[str] = set()
    found: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name in stops:
            continue
        seen.add(name)
        if name in graph_inputs:
            found.add(name)
            continue
        node = producer.get(name)
        if node is not None:
            todo.extend(i for i in node.input if i)
    return found


def ensure_parts(model_path: Path, digest: str, root: Path | None = None) -> GraphParts | None:
    """The cut parts of ``model_path`` from the cache, cutting (once) when they are missing."""
    folder = (root or cache_dir() / "graphs") / digest
    with _CUT_LOCK:
        parts = _read_manifest(folder, digest)
        if parts is not None or (folder / "uncuttable.json").exists():
            return parts
        return _cut(model_path, folder, digest)


def _read_manifest(folder: Path, digest: str) -> GraphParts | None:
    """The cached parts, or None when they are missing, stale or damaged (then they are cut again)."""
    try:
        data = read_json_dict(folder / "manifest.json", what="graph cache manifest")
        if data.get("schema_version") != SCHEMA_VERSION or data.get("source_sha256") != digest:
            return None
        files = {}
        for part in PART_NAMES:
            entry = data["parts"][part]
            path = folder / entry["file"]
            if path.stat().st_size != entry["size"]:
                return None
            files[part] = path
        return GraphParts(
            folder=folder,
            cut=CutPoints.from_dict(data["cut"]),
            source_sha256=digest,
            verified_snr_db=float(data.get("verified_snr_db", 0.0)),
            files=files,
        )
    except (OSError, CorruptFileError, ValueError, KeyError, TypeError):
        return None


def _cut(model_path: Path, folder: Path, digest: str) -> GraphParts | None:
    try:
        import onnx
        import onnx.utils
    except ImportError as exc:
        raise MissingDependencyError("The onnx package (needed to cut voices for streaming)", "speak") from exc
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError …
        raise EngineError(f"{model_path} is not a readable ONNX model ({exc}).") from exc
    cut = find_cut_points(model)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    if cut is None:
        _mark_uncuttable(folder, "cut points not found")
        return None
    del model
    specs = {
        "encoder": (
            list(cut.graph_inputs),
            [cut.latent, cut.mask] + ([cut.durations] if cut.durations else []),
        ),
        "flow": ([cut.latent, cut.mask, *cut.flow_extra], [cut.decoder_input]),
        "decoder": ([cut.decoder_input, *cut.decoder_extra], [cut.output]),
    }
    entries = _extract_parts(model_path, folder, specs)
    if entries is None:
        return None
    files = {p: folder / e["file"] for p, e in entries.items()}
    snr = _verify(model_path, files, cut)
    if snr < 60.0:
        _mark_uncuttable(folder, f"cut parts differ from the whole graph (SNR {snr:.1f} dB)")
        return None
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "source_sha256": digest,
        "source_path": str(model_path),
        "onnx_version": onnx.__version__,
        "cut": cut.to_dict(),
        "parts": entries,
        "verified_snr_db": round(snr, 1),
    }
    atomic_write_json(folder / "manifest.json", manifest)
    return GraphParts(folder=folder, cut=cut, source_sha256=digest, verified_snr_db=snr, files=files)


def _extract_parts(model_path: Path, folder: Path, specs: dict[str, tuple[list[str], list[str]]]) -> dict[str, Any] | None:
    """Cut each part into a work folder of this process, then move it into place (durably).

    The manifest, written after, is what makes the parts count; a process killed before
    leaves only its work folder, removed by the next cut.
    """
    import onnx.utils

    work = folder / f"{_WORK_PREFIX}{os.getpid()}-{threading.get_ident()}"
    work.mkdir(exist_ok=True)
    entries = {}
    try:
        for part, (inputs, outputs) in specs.items():
            target, tmp = folder / f"{part}.onnx", work / f"{part}.onnx"
            try:
                onnx.utils.extract_model(str(model_path), str(tmp), inputs, outputs)
                fsync_file(tmp)
                move(tmp, target)
            except Exception as exc:  # onnx raises many types; the voice still speaks uncut
                _mark_uncuttable(folder, f"{part}: {exc}")
                return None
            entries[part] = {"file": target.name, "size": target.stat().st_size}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return entries


def _remove_stale_temporaries(folder: Path, older_than_s: float = 600.0) -> None:
    """Work folders left by a cut that was killed (a live cut's are younger)."""
    import time

    for tmp in folder.glob(f"{_WORK_PREFIX}*"):
        try:
            if time.time() - tmp.stat().st_mtime > older_than_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _mark_uncuttable(folder: Path, why: str) -> None:
    try:
        atomic_write_json(folder / "uncuttable.json", {"reason": why})
    except OSError:
        pass


def _verify(model_path: Path, files: dict[str, Path], cut: CutPoints) -> float:
    """SNR (dB) of encoder→flow→decoder against the whole graph, noise off, on a dummy sentence."""
    whole = make_session(model_path, threads=1, reuse_optimized=False)
    enc, flow, dec = (make_session(files[p], threads=1, reuse_optimized=False) for p in PART_NAMES)
    ids = [1, 0]
    for k in range(12):
        ids += [14 + (k * 7) % 40, 0]
    ids += [10, 0, 2]
    feeds: dict[str, np.ndarray] = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    if "sid" in cut.graph_inputs:
        feeds["sid"] = np.array([0], dtype=np.int64)
    feeds = {k: v for k, v in feeds.items() if k in cut.graph_inputs}
    if set(feeds) != set(cut.graph_inputs):
        return 0.0
    ref = whole.run(None, feeds)[0].reshape(-1)
    latent, mask = enc.run([cut.latent, cut.mask], feeds)
    flow_feeds = {cut.latent: latent, cut.mask: mask, **{k: feeds[k] for k in cut.flow_extra}}
    z = flow.run(None, flow_feeds)[0]
    out = dec.run(None, {cut.decoder_input: z, **{k: feeds[k] for k in cut.decoder_extra}})[0]
    out = out.reshape(-1)
    if out.shape != ref.shape:
        return 0.0
    return snr_db(ref, out)


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio of ``test`` against ``reference`` in dB (200 for identical)."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    err = ref - np.asarray(test, dtype=np.float64).reshape(-1)
    noise = float(np.sum(err * err))
    signal = float(np.sum(ref * ref))
    if noise <= signal * 1e-20:
        return 200.0
    return 10.0 * float(np.log10(signal / noise))


def make_session(path: Path, threads: int = 1, spin: bool = False, reuse_optimized: bool = True) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and one inter-op thread.

    Idle pool threads do not spin by default: the three sessions of a cut voice run one after
    another, and a pool spinning after its run would take a core from the next session's
    (measured: 1.4x slower on 2 cores). ``spin=True`` suits a session that runs alone (the uncut
    graph for short sentences): its own ops then start ~10-20 % sooner.

    With ``reuse_optimized`` the graph as ONNX Runtime's portable ("extended") optimizations
    leave it is kept in the cache and loaded as it is next time: a session is then made in a
    third of the time. (The CPU-specific layout optimizations that "all" adds measured no
    faster on these graphs, so they are left out.)
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependencyError("ONNX Runtime", "speak") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    source, optimized = path, _optimized_path(path, ort.__version__) if reuse_optimized else None
    if optimized is not None and optimized.is_file():
        source = optimized  # already optimized: loading it again with "all" costs 40 ms and runs no faster
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    elif optimized is not None:  # this session optimizes the graph and files the result
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        opts.optimized_model_filepath = str(optimized.with_name(f".{optimized.name}.{os.getpid()}.partial"))
    try:
        session = ort.InferenceSession(str(source), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        if optimized is not None:  # a damaged cached graph, or no room to file one: the voice's own
            if source != path:
                optimized.unlink(missing_ok=True)
            return make_session(path, threads, spin, reuse_optimized=False)
        raise EngineError(f"ONNX Runtime cannot load {path} ({exc}).") from exc
    if optimized is not None and source == path:
        _file_optimized(Path(opts.optimized_model_filepath), optimized)
    return session


def _optimized_path(path: Path, ort_version: str) -> Path | None:
    """Where the optimized graph of ``path`` is cached (by its path, size, time and ORT version)."""
    import hashlib

    try:
        st = os.stat(path)
    except OSError:
        return None
    key = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{ort_version}|extended"
    folder = cache_dir() / "optimized"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # no cache where the data folder cannot be written
        return None
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.onnx"


def _file_optimized(written: Path, target: Path) -> None:
    """Move the graph ONNX Runtime just wrote into the cache (a cache: failures are ignored)."""
    try:
        if written.is_file():
            fsync_file(written)
            move(written, target)
    except OSError:
        written.unlink(missing_ok=True)


class LazySession:
    """An ONNX Runtime session made on its first use (thread-safe), then reused.

    Making a session costs ~0.1 s per graph; a one-shot ``speak "Hi."`` needs only the
    uncut graph, so the cut parts are made when a longer sentence first needs them.
    :meth:`load` makes it now (the interactive prompt does this before the first line).
    Attributes other than ``run``/``load`` are those of the session.
    """

    def __init__(self, path: Path, threads: int = 1, spin: bool = False) -> None:
        self.path, self.threads, self.spin = path, threads, spin
        self._session: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """The session, made now if it was not yet."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = make_session(self.path, self.threads, self.spin)
        return self._session

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self.load().run(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.load(), name)
