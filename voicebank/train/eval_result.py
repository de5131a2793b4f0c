"""An evaluation's result: the voice's and the baseline's takes next to the real recordings, and its files (eval.json, eval.html, audio/)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import atomic_output, atomic_write_json, atomic_write_text
from .checkpoints import LOG_FILE as TRAIN_LOG
from .dataset import DatasetInfo
from .eval_scoring import RealUtterance, Synth, means, rounded

SCHEMA_VERSION = 1
EVAL_JSON = "eval.json"
EVAL_HTML = "eval.html"
AUDIO_DIR = "audio"


@dataclass
class VoiceRun:
    """One voice's part of an evaluation: its label, how it speaks, each take's rows and the first take's audio."""

    label: str
    synth: Synth
    audio: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)  # the first take's
    takes: list[list[dict[str, Any]]] = field(default_factory=list)  # each take's rows, one per utterance

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The first take's rows: the ones the report shows and plays."""
        return self.takes[0] if self.takes else []


def pooled_means(run: VoiceRun) -> dict[str, float | None]:
    """Means over every take of every utterance (one take: the plain means)."""
    return means([row for take in run.takes for row in take])


def _attach_takes(run: VoiceRun) -> None:
    """With several takes, each utterance's row lists every take's similarity, WER and transcript."""
    if len(run.takes) < 2:
        return
    for i, row in enumerate(run.rows):
        row["takes"] = [{k: take[i].get(k) for k in ("similarity", "wer", "hypothesis")} for take in run.takes]


def _takes_summary(run: VoiceRun) -> dict[str, Any]:
    """Each take's similarity and WER means and their standard deviation across takes."""
    per_take = [{k: m[k] for k in ("similarity", "wer")} for m in (means(rows) for rows in run.takes)]

    def sd(key: str) -> float | None:
        vals = [t[key] for t in per_take if t[key] is not None]
        return rounded(float(np.std(vals, ddof=1))) if len(vals) > 1 else None

    return {"takes": per_take, "sd": {"similarity": sd("similarity"), "wer": sd("wer")}}


def _real_means(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """What the real recordings' scores mean for the table: the same-speaker similarity and the recognizer's WER."""
    scored = means(rows)
    return {"similarity": scored["similarity"], "wer": scored["wer"]}


def _gain(voice: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    """Voice against baseline, signed so that positive means the voice is better."""
    def diff(a: Any, b: Any) -> float | None:
        return rounded(a - b) if a is not None and b is not None else None

    return {
        "similarity": diff(voice.get("similarity"), base.get("similarity")),
        "wer": diff(base.get("wer"), voice.get("wer")),
        "mcd_db": diff(base.get("mcd_db"), voice.get("mcd_db")),
    }


def assemble(voice_ref: Any, ds: DatasetInfo, reals: list[RealUtterance], runs: list[VoiceRun]) -> dict[str, Any]:
    """The result dict (``schema_version`` 1): the voice's rows and means, the real recordings', the baseline's and the gain."""
    from .metrics import MCD_ALPHA, MCD_HOP, MCD_ORDER, MCD_RATE, MCD_WIN, cosine

    voice = runs[0]
    for row, real in zip(voice.rows, reals):
        row["text"] = real.utt.normalized
    mean = pooled_means(voice)
    for run in runs:
        _attach_takes(run)
    real_rows = [
        {
            "id": r.utt.id,
            "text": r.utt.normalized,
            "seconds": rounded(r.samples.shape[0] / r.rate),
            # with a single held-out recording there is no other one to compare it with
            "similarity": rounded(cosine(r.embedding, r.reference)) if len(reals) > 1 else None,
            "wer": rounded(r.errors / r.words) if r.words else None,
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
        base_mean = pooled_means(base)
        result["baseline"] = {"voice": base.label, "mean": base_mean, "utterances": base.rows}
        result["repeats"]["baseline"] = _takes_summary(base)
        result["gain"] = _gain(mean, base_mean)
    return result


# ----------------------------------------------------------------------------- the training log


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


# ----------------------------------------------------------------------------- writing


def write_outputs(
    out: Path, result: dict[str, Any], reals: list[RealUtterance], runs: list[VoiceRun], folder: Path | None
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
