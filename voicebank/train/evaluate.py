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

Next to them, the scorers the field reports with (``field=True``, the default here; the
fine-tuner's own check during training uses only the four above):

* ``similarity_ecapa``: as ``similarity``, with the ECAPA-TDNN speaker verifier
  (:mod:`.speaker_verify`), which separates speakers far better than Resemblyzer.
* ``wer_whisper``, ``cer_whisper``: Whisper's transcript (:mod:`.asr_whisper`, ``base`` by
  default) against the text, both normalised the same way; pooled over utterances.

Each of the three means comes with ``<key>_ci95``, a bootstrap 95 % interval over the
held-out sentences (:mod:`.bootstrap`), for the voice, the baseline and the real recordings;
``scorers`` in the result says which scores training optimises and which report success.

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

This module owns the evaluation as a whole (:func:`evaluate_voice`, :func:`iter_evaluate`);
:mod:`.eval_scoring` scores speech against the real held-out recordings and
:mod:`.eval_result` assembles the result and writes its files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike
from ..errors import EngineError, UsageError
from .eval_result import EVAL_HTML, VoiceRun, assemble, pooled_means, write_outputs
from .eval_scoring import HeldOutScorer, Synth

__all__ = ["EVAL_HTML", "EvalEvent", "evaluate_voice", "iter_evaluate", "training_folder"]


@dataclass(frozen=True)
class EvalEvent:
    """Progress of :func:`iter_evaluate`; the last event (``done``) carries the result."""

    kind: str  # "loaded" | "utterance" | "voice" | "done"
    voice: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] | None = None


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
    field: bool = True,
    whisper: str = "base",
) -> dict[str, Any]:
    """Score a voice on a dataset's held-out utterances, next to a baseline; see the module docstring.

    ``baseline=None`` skips the baseline. With ``out_dir`` the result is also written there as
    ``eval.json`` and ``eval.html`` (with the audio under ``audio/``). ``limit`` scores only the
    first N held-out utterances; ``repeats`` speaks each of them that many times (see the
    module docstring). ``field`` adds the ECAPA and Whisper scores, ``whisper`` picks the Whisper
    size (``"base"``, or ``"tiny.en"`` for a quick look). Returns the JSON-ready result dict
    (``schema_version`` 1).
    """
    result: dict[str, Any] | None = None
    for event in iter_evaluate(
        voice_ref, dataset_dir, baseline=baseline, out_dir=out_dir, synth=synth,
        baseline_synth=baseline_synth, limit=limit, repeats=repeats, field=field, whisper=whisper,
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
    field: bool = True,
    whisper: str = "base",
) -> Iterator[EvalEvent]:
    """:func:`evaluate_voice` as a generator of progress events."""
    if repeats < 1:
        raise UsageError(f"--repeats must be at least 1 (each text is spoken that many times), not {repeats}.")
    scorer = HeldOutScorer(dataset_dir, limit=limit, field=field, whisper=whisper)
    ds, reals = scorer.dataset, scorer.reals
    voice_label = str(voice_ref) if voice_ref is not None else "joe"
    runs = [VoiceRun(voice_label, synth or _engine_synth(voice_ref))]
    if baseline:
        runs.append(VoiceRun(str(baseline), baseline_synth or _engine_synth(baseline)))
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
        yield EvalEvent("voice", run.label, total, total, json.dumps(pooled_means(run)))

    result = assemble(voice_ref, ds, reals, runs)
    if out_dir is not None:
        write_outputs(Path(out_dir), result, reals, runs, training_folder(voice_ref))
    yield EvalEvent("done", result=result)


def _engine_synth(voice_ref: Any) -> Synth:
    """A synth that speaks through the engine :func:`voicebank.engines.load_engine` gives for ``voice_ref``."""
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


def training_folder(voice_ref: Any) -> Path | None:
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

