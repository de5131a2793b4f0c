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
from .eval_scoring import FIELD_KEYS, RealUtterance, Synth, field_row, means, rounded

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


def pooled_means(run: VoiceRun) -> dict[str, Any]:
    """Means over every take of every utterance (one take: the plain means)."""
    return means([row for take in run.takes for row in take])


def _attach_takes(run: VoiceRun) -> None:
    """With several takes, each utterance's row lists every take's similarity, WER and transcript."""
    if len(run.takes) < 2:
        return
    for i, row in enumerate(run.rows):
        keys = ("similarity", "wer", "hypothesis", *FIELD_KEYS, "hypothesis_whisper")
        row["takes"] = [{k: take[i][k] for k in keys if k in take[i]} for take in run.takes]


def _takes_summary(run: VoiceRun) -> dict[str, Any]:
    """Each take's similarity and WER means and their standard deviation across takes."""
    per_take = [{k: m[k] for k in ("similarity", "wer")} for m in (means(rows) for rows in run.takes)]

    def sd(key: str) -> float | None:
        vals = [t[key] for t in per_take if t[key] is not None]
        return rounded(float(np.std(vals, ddof=1))) if len(vals) > 1 else None

    return {"takes": per_take, "sd": {"similarity": sd("similarity"), "wer": sd("wer")}}


def _real_means(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the real recordings' scores mean for the table: the same-speaker similarity and the recognizers' WER."""
    scored = means(rows)  # with the field scorers' means and intervals when the rows carry them
    return {k: v for k, v in scored.items() if k not in ("similarity_pair", "mcd_db", "rtf")}


def _real_row(r: RealUtterance, alone: bool) -> dict[str, Any]:
    """A real recording's row: each score against the other held-out recordings (none when ``alone``)."""
    from .metrics import cosine

    row: dict[str, Any] = {
        "id": r.utt.id,
        "text": r.utt.normalized,
        "seconds": rounded(r.samples.shape[0] / r.rate),
        "similarity": None if alone else rounded(cosine(r.embedding, r.reference)),
        "wer": rounded(r.errors / r.words) if r.words else None,
        "errors": r.errors,
        "words": r.words,
        "hypothesis": r.hypothesis,
    }
    if r.field:
        row.update(field_row(r, r.ecapa, r.field))
        if alone:
            row["similarity_ecapa"] = None
    return row


def _gain(voice: dict[str, Any], base: dict[str, Any], real: dict[str, Any]) -> dict[str, float | None]:
    """Voice against baseline, signed so that positive means the voice is better.

    With the field scorers, also ``gap_closed_ecapa``: how far the voice has come from the
    baseline to the real recordings on ECAPA similarity, (voice − baseline) / (real − baseline).
    """
    def diff(a: Any, b: Any) -> float | None:
        return rounded(a - b) if a is not None and b is not None else None

    gain = {
        "similarity": diff(voice.get("similarity"), base.get("similarity")),
        "wer": diff(base.get("wer"), voice.get("wer")),
        "mcd_db": diff(base.get("mcd_db"), voice.get("mcd_db")),
    }
    if "similarity_ecapa" in voice:
        v, b, r = voice.get("similarity_ecapa"), base.get("similarity_ecapa"), real.get("similarity_ecapa")
        gain["similarity_ecapa"] = diff(v, b)
        gain["wer_whisper"] = diff(base.get("wer_whisper"), voice.get("wer_whisper"))
        gain["cer_whisper"] = diff(base.get("cer_whisper"), voice.get("cer_whisper"))
        gain["gap_closed_ecapa"] = rounded((v - b) / (r - b)) if None not in (v, b, r) and r != b else None
    return gain


def _method() -> dict[str, str]:
    """How each number is computed, for the result."""
    from .metrics import MCD_ALPHA, MCD_HOP, MCD_ORDER, MCD_RATE, MCD_WIN

    return {
        "similarity": "Resemblyzer cosine with the leave-one-out mean embedding of the real held-out recordings",
        "wer": "PocketSphinx 5 en-us at 16 kHz vs the normalised text; pooled over utterances",
        "mcd_db": (
            f"MCD with DTW, mel-cepstrum order {MCD_ORDER} (c0 excluded), alpha {MCD_ALPHA}, "
            f"{MCD_WIN}-sample Hann window, hop {MCD_HOP} at {MCD_RATE} Hz"
        ),
        "rtf": "synthesis seconds / audio seconds, after one warm-up call",
        "repeats": "each held-out text spoken this many times with fresh noise; means pool every take",
        "utterances": (
            "each held-out sentence's row holds its first take's scores (the take the report plays); with repeats, "
            "its takes list every take's: a per-sentence comparison of two voices should average those"
        ),
        "gain": "positive means the voice is better than the baseline",
        "similarity_ecapa": (
            "ECAPA-TDNN (speechbrain/spkrec-ecapa-voxceleb, pinned weights) cosine between the take and the "
            "normalised mean embedding of the real held-out recordings, leaving out the recording of the same "
            "sentence; for the real recordings, each against the others; averaged over takes"
        ),
        "wer_whisper": (
            "Whisper (faster-whisper, CPU int8, English, beam 5, temperature 0, no previous-text conditioning) "
            "vs the held-out text, both through voicebank's text normaliser, then lower case, no punctuation, "
            "hyphens as spaces; jiwer word edits pooled over all takes (all edits / all reference words)"
        ),
        "cer_whisper": "as wer_whisper, in characters (spaces included): all character edits / all reference characters",
        "ci95": (
            "<key>_ci95: percentile bootstrap 95 % interval, 2000 resamples of the held-out sentences with "
            "replacement (all takes of a sentence together), pooled statistic recomputed each time, fixed seed"
        ),
        "gap_closed_ecapa": "(voice - baseline) / (real recordings - baseline) on similarity_ecapa",
    }


SCORERS = {
    "selection": (
        "What training optimises and selects with: the fine-tuner keeps the checkpoint with the lowest held-out "
        "loss (the recipe's early_stopping.metric, Coqui's loss_mel by default); with training.speak_held_out it "
        "also logs Resemblyzer similarity and PocketSphinx WER of the held-out texts (similarity, wer here), for "
        "watching only. Those cheap scores may be what a run was tuned on, and a recipe with "
        "training.speaker_loss_weight (vits-offline-more) trains the voice toward Resemblyzer's embeddings of its "
        "training clips, so for such a voice Resemblyzer similarity is no independent check."
    ),
    "success": (
        "What reports success: similarity_ecapa, wer_whisper and cer_whisper, on held-out sentences never trained "
        "on. The fine-tuner never loads ECAPA or Whisper and never selects a checkpoint with them."
    ),
}


def assemble(voice_ref: Any, ds: DatasetInfo, reals: list[RealUtterance], runs: list[VoiceRun]) -> dict[str, Any]:
    """The result dict (``schema_version`` 1): the voice's rows and means, the real recordings', the baseline's and the gain."""
    voice = runs[0]
    for row, real in zip(voice.rows, reals):
        row["text"] = real.utt.normalized
    mean = pooled_means(voice)
    for run in runs:
        _attach_takes(run)
    # with a single held-out recording there is no other one to compare it with
    real_rows = [_real_row(r, alone=len(reals) < 2) for r in reals]
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
        "method": _method(),
    }
    if "similarity_ecapa" in mean:
        result["scorers"] = dict(SCORERS)
    if len(runs) > 1:
        base = runs[1]
        base_mean = pooled_means(base)
        result["baseline"] = {"voice": base.label, "mean": base_mean, "utterances": base.rows}
        result["repeats"]["baseline"] = _takes_summary(base)
        result["gain"] = _gain(mean, base_mean, result["real"]["mean"])
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
