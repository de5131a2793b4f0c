"""How good is a trained voice? Scores on the held-out split of its dataset, next to a baseline.

For every held-out utterance (``metadata_eval.csv``, never trained on) the voice speaks the
normalised text and four numbers are taken:

* ``similarity``: cosine between the Resemblyzer embedding of the synthesized utterance
  and the speaker embedding of the *real held-out recordings* — the normalised mean of
  their embeddings, leaving out the recording of the same sentence (leave-one-out), so
  that the real recordings scored the same way give an honest same-speaker ceiling
  rather than a recording compared with itself. ``similarity_pair`` is the cosine with the
  real recording of the same sentence alone (noisier; given for the table).
* ``wer``: PocketSphinx on the synthesized speech at 16 kHz against the normalised text
  (see :mod:`.metrics` for the scoring). The mean is the pooled rate (all errors over all
  reference words). The real recordings are transcribed too: their WER is what the
  recognizer manages on the speaker's own voice, a ceiling to read the voice's WER against.
* ``mcd_db``: mel-cepstral distortion against the real recording, aligned with DTW
  (order 24, 5 ms frames; :func:`.metrics.mcd_dtw`).
* ``rtf``: synthesis time over audio duration (after one untimed warm-up call); the mean
  is total time over total audio.

With ``repeats`` N > 1 each held-out text is spoken N times (a voice samples fresh noise
at each call, so each take differs) and the means pool all N takes; ``repeats`` in the
result gives each take's means and their standard deviation. With four held-out sentences
one take's WER can swing by ±0.1 between draws; the pooled mean is what to compare.

The same is done for a baseline voice (the stock voice ``joe`` by default) and ``gain``
is the difference, signed so that **positive means the voice is better** than the baseline:
``similarity`` voice − baseline, ``wer`` and ``mcd_db`` baseline − voice.

Any voice the engines can load is evaluated through :func:`voicebank.engines.load_engine`;
other model types (a Coqui checkpoint, XTTS) plug in through ``synth``: a callable taking the
normalised text and returning ``(float samples, sample rate)``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike, read_audio, to_mono
from ..durable import atomic_output, atomic_write_json, atomic_write_text
from ..errors import AudioFormatError, EngineError, UsageError
from .dataset import DatasetError, DatasetInfo, Utterance, load_dataset

SCHEMA_VERSION = 1
TRAIN_LOG = "train_log.jsonl"
EVAL_JSON = "eval.json"
EVAL_HTML = "eval.html"
AUDIO_DIR = "audio"

Synth = Callable[[str], "tuple[np.ndarray, int]"]


@dataclass(frozen=True)
class EvalEvent:
    """Progress of :func:`iter_evaluate`; the last event (``done``) carries the result."""

    kind: str  # "loaded" | "utterance" | "voice" | "done"
    voice: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] | None = None


@dataclass
class _Real:
    utt: Utterance
    samples: np.ndarray
    rate: int
    embedding: np.ndarray | None = None
    reference: np.ndarray | None = None  # leave-one-out speaker embedding
    hypothesis: str = ""
    errors: int = 0
    words: int = 0


@dataclass
class _Tools:
    encoder: Any
    recognizer: Any


@dataclass
class _VoiceRun:
    label: str
    synth: Synth
    audio: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)  # the first take's
    takes: list[list[dict[str, Any]]] = field(default_factory=list)  # each take's rows, one per utterance

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The first take's rows: the ones the report shows and plays."""
        return self.takes[0] if self.takes else []


def evaluate_voice(
    voice_ref: Any,
    dataset_dir: PathLike,
    *,
    baseline: str | None = "joe",
    out_dir: PathLike | None = None,
    synth: Synth | None = None,
    baseline_synth: Synth | None = None,
    limit: int | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """Score a voice on a dataset's held-out utterances, next to a baseline; see the module docstring.

    ``baseline=None`` skips the baseline. With ``out_dir`` the result is also written there as
    ``eval.json`` and ``eval.html`` (with the audio under ``audio/``). ``limit`` scores only the
    first N held-out utterances; ``repeats`` speaks each of them that many times (see the
    module docstring). Returns the JSON-ready result dict (``schema_version`` 1).
    """
    result: dict[str, Any] | None = None
    for event in iter_evaluate(
        voice_ref, dataset_dir, baseline=baseline, out_dir=out_dir, synth=synth,
        baseline_synth=baseline_synth, limit=limit, repeats=repeats,
    ):
        result = event.result or result
    assert result is not None
    return result


def iter_evaluate(
    voice_ref: Any,
    dataset_dir: PathLike,
    *,
    baseline: str | None = "joe",
    out_dir: PathLike | None = None,
    synth: Synth | None = None,
    baseline_synth: Synth | None = None,
    limit: int | None = None,
    repeats: int = 1,
) -> Iterator[EvalEvent]:
    """:func:`evaluate_voice` as a generator of progress events."""
    if repeats < 1:
        raise UsageError(f"--repeats must be at least 1 (each text is spoken that many times), not {repeats}.")
    scorer = HeldOutScorer(dataset_dir, limit=limit)
    ds, reals = scorer.dataset, scorer.reals
    voice_label = str(voice_ref) if voice_ref is not None else "joe"
    runs = [_VoiceRun(voice_label, synth or _engine_synth(voice_ref))]
    if baseline:
        runs.append(_VoiceRun(str(baseline), baseline_synth or _engine_synth(baseline)))
    scorer.load()
    total = len(reals) * repeats
    takes = f", each spoken {repeats} times" if repeats > 1 else ""
    yield EvalEvent("loaded", total=total * len(runs), message=f"{len(reals)} held-out utterances{takes}")

    for run in runs:
        n = 0
        for take in range(repeats):
            rows = []
            for real, row, audio in scorer.iter_rows(run.synth, warm_up=take == 0):
                rows.append(row)
                if take == 0:  # the report plays the first take
                    run.audio[real.utt.id] = audio
                n += 1
                yield EvalEvent("utterance", run.label, n, total, real.utt.id + (f" (take {take + 1})" if repeats > 1 else ""))
            run.takes.append(rows)
        yield EvalEvent("voice", run.label, total, total, json.dumps(_pooled_means(run)))

    result = _assemble(voice_ref, ds, reals, runs)
    if out_dir is not None:
        write_outputs(Path(out_dir), result, reals, runs, voice_folder(voice_ref))
    yield EvalEvent("done", result=result)


class HeldOutScorer:
    """The real held-out recordings of a dataset, scored once, and the tools to score voices against them.

    Responsible for loading the held-out split, transcribing and embedding the real
    recordings (the leave-one-out speaker references) and scoring what a ``synth`` says for
    each held-out text. Not responsible for baselines, reports or files
    (:func:`iter_evaluate` does those). The fine-tuner keeps one for the whole run, so the
    recognizer and the speaker encoder load once.
    """

    def __init__(self, dataset_dir: PathLike, *, limit: int | None = None) -> None:
        ds = load_dataset(dataset_dir)
        held = ds.eval[: limit] if limit else ds.eval
        if not held:
            raise DatasetError(
                f"{ds.root} has no held-out utterances (its metadata_eval.csv is missing or empty). "
                f"Prepare it again: voicebank train prepare BANK {ds.root}"
            )
        self.dataset = ds
        self.reals = [_load_real(u) for u in held]
        self._tools: _Tools | None = None

    def load(self) -> None:
        """Load the recognizer and the speaker encoder and score the real recordings (once)."""
        if self._tools is None:
            self._tools = _load_tools()
            _score_real(self.reals, self._tools)

    def iter_rows(self, synth: Synth, *, warm_up: bool = True) -> Iterator[tuple[_Real, dict[str, Any], tuple[np.ndarray, int]]]:
        """``(real, row, audio)`` for each held-out utterance as ``synth`` speaks its text.

        ``warm_up`` makes one untimed call first, so first-call costs stay out of the RTF.
        """
        self.load()
        assert self._tools is not None
        if warm_up:
            synth(self.reals[0].utt.normalized)
        for real in self.reals:
            row, audio = _score_one(synth, real, self._tools)
            yield real, row, audio

    def score(self, synth: Synth, *, warm_up: bool = True) -> dict[str, Any]:
        """``{"mean": {...}, "utterances": [rows]}`` of ``synth`` on the held-out texts."""
        rows = [row for _, row, _ in self.iter_rows(synth, warm_up=warm_up)]
        return {"mean": _means(rows), "utterances": rows}


# ----------------------------------------------------------------------------- loading


def _load_real(utt: Utterance) -> _Real:
    try:
        data, rate = read_audio(utt.wav)  # DATASET/wavs/ID.wav, as load_dataset gives it
    except AudioFormatError as exc:
        raise DatasetError(f"The held-out recording {utt.id} cannot be read ({exc}); prepare the dataset again.") from exc
    return _Real(utt, to_mono(data), rate)


def _engine_synth(voice_ref: Any) -> Synth:
    from ..engines import load_engine

    try:
        engine = load_engine(voice_ref)
    except EngineError as exc:
        raise EngineError(
            f"{exc} To evaluate a model that is not a Piper-format voice (a Coqui checkpoint), "
            "export it first (voicebank train export) or pass synth= to evaluate_voice."
        ) from exc

    def speak(text: str) -> tuple[np.ndarray, int]:
        chunk = engine.synthesize(text)
        return chunk.as_float32(), int(chunk.sample_rate)

    return speak


def _load_tools() -> _Tools:
    from .metrics import Recognizer, SpeakerEncoder

    tools = _Tools(SpeakerEncoder(), Recognizer())
    rng = np.random.default_rng(0)
    warm = (0.05 * rng.standard_normal(16000)).astype(np.float32)
    tools.encoder.embed(warm, 16000)  # first calls pay for torch and librosa set-up
    tools.recognizer.transcribe(warm[:8000], 16000)
    return tools


def voice_folder(voice_ref: Any) -> Path | None:
    """The folder a voice lives in (where its ``train_log.jsonl`` would be), if it has one."""
    from ..voice.registry import STOCK_NAMES

    if voice_ref is None or (isinstance(voice_ref, str) and voice_ref.strip().lower() in STOCK_NAMES):
        return None
    p = Path(os.fspath(voice_ref)).expanduser()
    if p.is_dir():
        return p
    if p.is_file():
        return p.parent
    from ..config import voices_dir

    candidate = voices_dir() / str(voice_ref)
    return candidate if candidate.is_dir() else None


def read_train_log(path: Path) -> tuple[list[dict[str, float]], int]:
    """Points of a ``train_log.jsonl`` (``{"step", "loss_train", "loss_eval", "similarity", "wer"}`` per line).

    Returns the usable points sorted by step (missing or non-numeric fields left out) and
    the number of lines that could not be read.
    """
    points: list[dict[str, float]] = []
    bad = 0
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            step = float(item["step"])
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        point = {"step": step}
        for key in ("loss_train", "loss_eval", "similarity", "wer"):
            value = item.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                point[key] = float(value)
        points.append(point)
    points.sort(key=lambda p: p["step"])
    return points, bad


# ----------------------------------------------------------------------------- scoring


def _score_real(reals: list[_Real], tools: _Tools) -> None:
    from .metrics import mean_embedding, word_errors

    for r in reals:
        r.embedding = tools.encoder.embed(r.samples, r.rate)
        r.hypothesis = tools.recognizer.transcribe(r.samples, r.rate)
        r.errors, r.words = word_errors(r.utt.normalized, r.hypothesis)
    for i, r in enumerate(reals):
        others = [o.embedding for j, o in enumerate(reals) if j != i and o.embedding is not None]
        r.reference = mean_embedding(others) if others else mean_embedding([r.embedding])


def _score_one(synth: Synth, real: _Real, tools: _Tools) -> tuple[dict[str, Any], tuple[np.ndarray, int]]:
    from .metrics import cosine, mcd_dtw, word_errors

    t0 = time.perf_counter()
    samples, rate = synth(real.utt.normalized)
    elapsed = time.perf_counter() - t0
    x = _as_float(samples)
    seconds = x.shape[0] / float(rate) if rate else 0.0
    row: dict[str, Any] = {"id": real.utt.id, "seconds": _r(seconds), "synth_seconds": _r(elapsed)}
    if seconds <= 0.0 or not np.any(x):
        row.update(similarity=None, similarity_pair=None, wer=1.0, errors=real.words, words=real.words,
                   hypothesis="", mcd_db=None, rtf=None, note="the voice produced no audio")
        return row, (x, int(rate or 16000))
    emb = tools.encoder.embed(x, rate)
    hyp = tools.recognizer.transcribe(x, rate)
    errors, words = word_errors(real.utt.normalized, hyp)
    row.update(
        similarity=_r(cosine(emb, real.reference)),
        similarity_pair=_r(cosine(emb, real.embedding)),
        wer=_r(errors / words) if words else None,
        errors=errors,
        words=words,
        hypothesis=hyp,
        mcd_db=_r(mcd_dtw(real.samples, real.rate, x, rate)),
        rtf=_r(elapsed / seconds),
    )
    return row, (x, int(rate))


def _as_float(samples: np.ndarray) -> np.ndarray:
    """Mono float32 in [-1, 1] from whatever a synth hook returns (float or int16 samples)."""
    a = np.asarray(samples)
    if np.issubdtype(a.dtype, np.integer):
        return to_mono(a.astype(np.float32) / float(-np.iinfo(a.dtype).min))
    return to_mono(a.astype(np.float32, copy=False))


def _means(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    def avg(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return _r(float(np.mean(vals))) if vals else None

    words = sum(r.get("words") or 0 for r in rows)
    audio = sum(r.get("seconds") or 0.0 for r in rows)
    return {
        "similarity": avg("similarity"),
        "similarity_pair": avg("similarity_pair"),
        "wer": _r(sum(r.get("errors") or 0 for r in rows) / words) if words else None,
        "mcd_db": avg("mcd_db"),
        "rtf": _r(sum(r.get("synth_seconds") or 0.0 for r in rows) / audio) if audio else None,
    }


def _pooled_means(run: _VoiceRun) -> dict[str, float | None]:
    """Means over every take of every utterance (one take: the plain means)."""
    return _means([row for take in run.takes for row in take])


def _attach_takes(run: _VoiceRun) -> None:
    """With several takes, each utterance's row lists every take's similarity, WER and transcript."""
    if len(run.takes) < 2:
        return
    for i, row in enumerate(run.rows):
        row["takes"] = [{k: take[i].get(k) for k in ("similarity", "wer", "hypothesis")} for take in run.takes]


def _takes_summary(run: _VoiceRun) -> dict[str, Any]:
    """Each take's similarity and WER means and their standard deviation across takes."""
    per_take = [{k: m[k] for k in ("similarity", "wer")} for m in (_means(rows) for rows in run.takes)]

    def sd(key: str) -> float | None:
        vals = [t[key] for t in per_take if t[key] is not None]
        return _r(float(np.std(vals, ddof=1))) if len(vals) > 1 else None

    return {"takes": per_take, "sd": {"similarity": sd("similarity"), "wer": sd("wer")}}


def _real_means(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    means = _means(rows)
    return {"similarity": means["similarity"], "wer": means["wer"]}


def _gain(voice: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    def diff(a: Any, b: Any) -> float | None:
        return _r(a - b) if a is not None and b is not None else None

    return {
        "similarity": diff(voice.get("similarity"), base.get("similarity")),
        "wer": diff(base.get("wer"), voice.get("wer")),
        "mcd_db": diff(base.get("mcd_db"), voice.get("mcd_db")),
    }


def _assemble(voice_ref: Any, ds: DatasetInfo, reals: list[_Real], runs: list[_VoiceRun]) -> dict[str, Any]:
    from .metrics import MCD_ALPHA, MCD_HOP, MCD_ORDER, MCD_RATE, MCD_WIN, cosine

    voice = runs[0]
    for row, real in zip(voice.rows, reals):
        row["text"] = real.utt.normalized
    mean = _pooled_means(voice)
    for run in runs:
        _attach_takes(run)
    real_rows = [
        {
            "id": r.utt.id,
            "text": r.utt.normalized,
            "seconds": _r(r.samples.shape[0] / r.rate),
            # with a single held-out recording there is no other one to compare it with
            "similarity": _r(cosine(r.embedding, r.reference)) if len(reals) > 1 else None,
            "wer": _r(r.errors / r.words) if r.words else None,
            "errors": r.errors,
            "words": r.words,
            "hypothesis": r.hypothesis,
        }
        for r in reals
    ]
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "voice": voice.label,
        "dataset": str(ds.root),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "utterances": voice.rows,
        "mean": mean,
        "real": {"mean": _real_means(real_rows), "utterances": real_rows},
        "baseline": None,
        "gain": None,
        "repeats": {"count": max(1, len(voice.takes)), "voice": _takes_summary(voice), "baseline": None},
        "method": {
            "similarity": "Resemblyzer cosine with the leave-one-out mean embedding of the real held-out recordings",
            "wer": "PocketSphinx 5 en-us at 16 kHz vs the normalised text; pooled over utterances",
            "mcd_db": (
                f"MCD with DTW, mel-cepstrum order {MCD_ORDER} (c0 excluded), alpha {MCD_ALPHA}, "
                f"{MCD_WIN}-sample Hann window, hop {MCD_HOP} at {MCD_RATE} Hz"
            ),
            "rtf": "synthesis seconds / audio seconds, after one warm-up call",
            "repeats": "each held-out text spoken this many times with fresh noise; means pool every take",
            "gain": "positive means the voice is better than the baseline",
        },
    }
    if len(runs) > 1:
        base = runs[1]
        base_mean = _pooled_means(base)
        result["baseline"] = {"voice": base.label, "mean": base_mean, "utterances": base.rows}
        result["repeats"]["baseline"] = _takes_summary(base)
        result["gain"] = _gain(mean, base_mean)
    return result


def _r(x: float | None, digits: int = 4) -> float | None:
    if x is None or not math.isfinite(float(x)):
        return None
    return round(float(x), digits)


# ----------------------------------------------------------------------------- writing


def write_outputs(
    out: Path, result: dict[str, Any], reals: list[_Real], runs: list[_VoiceRun], folder: Path | None
) -> None:
    """``eval.json``, ``eval.html`` and the audio they play, in ``out``."""
    from .report import render_html

    audio = out / AUDIO_DIR
    audio.mkdir(parents=True, exist_ok=True)
    roles = ["voice", "baseline"]
    for r in reals:
        rel = f"{AUDIO_DIR}/{r.utt.id}.real.wav"
        _write_wav(out / rel, r.samples, r.rate)
        _row(result["real"]["utterances"], r.utt.id)["audio"] = rel
    for role, run in zip(roles, runs):
        rows = result["utterances"] if role == "voice" else result["baseline"]["utterances"]
        for uid, (x, rate) in run.audio.items():
            rel = f"{AUDIO_DIR}/{uid}.{role}.wav"
            _write_wav(out / rel, x, rate)
            _row(rows, uid)["audio"] = rel
    log_path = folder / TRAIN_LOG if folder is not None else None
    points, bad = read_train_log(log_path) if log_path is not None and log_path.is_file() else ([], 0)
    result["training_log"] = {
        "path": str(log_path) if log_path is not None and log_path.is_file() else None,
        "points": len(points),
        "unreadable_lines": bad,
    }
    atomic_write_json(out / EVAL_JSON, result, indent=1)
    atomic_write_text(out / EVAL_HTML, render_html(result, points, looked_for=log_path))


def _row(rows: list[dict[str, Any]], uid: str) -> dict[str, Any]:
    return next(r for r in rows if r["id"] == uid)


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    import soundfile as sf

    with atomic_output(path) as tmp:
        sf.write(str(tmp), np.clip(samples, -1, 1), rate, subtype="PCM_16")
