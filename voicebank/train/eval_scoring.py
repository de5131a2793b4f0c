"""Scoring speech against a dataset's real held-out recordings: similarity, WER, MCD and RTF per utterance, and their means.

Two sets of scorers: the quick ones the fine-tuner also uses while it trains (Resemblyzer
``similarity``, PocketSphinx ``wer``), and with ``field=True`` the ones the field reports
success with (ECAPA ``similarity_ecapa``, Whisper ``wer_whisper`` and ``cer_whisper``, each
mean with a bootstrap 95 % interval over the held-out sentences), which training never loads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from ..audio import PathLike, read_audio, to_mono
from ..errors import AudioFormatError, UsageError
from .dataset import DatasetError, Utterance, load_dataset

Synth = Callable[[str], "tuple[np.ndarray, int]"]


@dataclass
class RealUtterance:
    """A real held-out recording and how it scores: its embedding, leave-one-out reference and transcript."""

    utt: Utterance
    samples: np.ndarray
    rate: int
    embedding: np.ndarray | None = None
    reference: np.ndarray | None = None  # leave-one-out speaker embedding
    hypothesis: str = ""
    errors: int = 0
    words: int = 0
    ecapa: np.ndarray | None = None  # with field scorers: the ECAPA embedding
    ecapa_reference: np.ndarray | None = None  # and its leave-one-out speaker embedding
    field: dict[str, Any] = dataclass_field(default_factory=dict)  # Whisper's transcript and edits


@dataclass
class _Tools:
    """The speaker encoder and the recognizer, loaded once."""

    encoder: Any
    recognizer: Any
    verifier: Any = None  # ECAPA (field scorers only)
    whisper: Any = None  # Whisper (field scorers only)


class HeldOutScorer:
    """The real held-out recordings of a dataset, scored once, and the tools to score voices against them.

    Responsible for loading the held-out split, transcribing and embedding the real
    recordings (the leave-one-out speaker references) and scoring what a ``synth`` says for
    each held-out text. Not responsible for baselines, reports or files
    (:func:`.evaluate.iter_evaluate` does those). The fine-tuner keeps one for the whole run, so the
    recognizer and the speaker encoder load once.

    ``field=True`` adds the scorers that report success (ECAPA, Whisper of size ``whisper``):
    ``voicebank train eval`` sets it; training does not, so it never loads Whisper or ECAPA.
    """

    def __init__(
        self, dataset_dir: PathLike, *, limit: int | None = None, field: bool = False, whisper: str = "base"
    ) -> None:
        from .asr_whisper import SIZES

        if field and whisper not in SIZES:
            raise UsageError(f"The Whisper size must be one of {', '.join(SIZES)}, not {whisper!r}.")
        ds = load_dataset(dataset_dir)
        held = ds.eval[: limit] if limit else ds.eval
        if not held:
            raise DatasetError(
                f"{ds.root} has no held-out utterances (its metadata_eval.csv is missing or empty). "
                f"Prepare it again: voicebank train prepare BANK {ds.root}"
            )
        self.dataset = ds
        self.reals = [_load_real(u) for u in held]
        self.field = field
        self.whisper = whisper
        self._tools: _Tools | None = None

    def load(self) -> None:
        """Load the recognizer and the speaker encoder and score the real recordings (once)."""
        if self._tools is None:
            self._tools = _load_tools(self.whisper if self.field else None)
            _score_real(self.reals, self._tools)

    def iter_rows(
        self, synth: Synth, *, warm_up: bool = True
    ) -> Iterator[tuple[RealUtterance, dict[str, Any], tuple[np.ndarray, int]]]:
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
        return {"mean": means(rows), "utterances": rows}


def _load_real(utt: Utterance) -> RealUtterance:
    try:
        data, rate = read_audio(utt.wav)  # DATASET/wavs/ID.wav, as load_dataset gives it
    except AudioFormatError as exc:
        raise DatasetError(f"The held-out recording {utt.id} cannot be read ({exc}); prepare the dataset again.") from exc
    return RealUtterance(utt, to_mono(data), rate)


def _load_tools(whisper: str | None) -> _Tools:
    """The quick scorers, and with a Whisper size the field's (ECAPA and Whisper) too."""
    from .metrics import Recognizer, SpeakerEncoder

    tools = _Tools(SpeakerEncoder(), Recognizer())
    rng = np.random.default_rng(0)
    warm = (0.05 * rng.standard_normal(16000)).astype(np.float32)
    tools.encoder.embed(warm, 16000)  # first calls pay for torch and librosa set-up
    tools.recognizer.transcribe(warm[:8000], 16000)
    if whisper is not None:
        from .asr_whisper import WhisperRecognizer
        from .speaker_verify import EcapaVerifier

        tools.verifier = EcapaVerifier()
        tools.whisper = WhisperRecognizer(whisper)
        tools.verifier.embed(warm, 16000)
        tools.whisper.transcribe(warm, 16000)
    return tools


def _score_real(reals: list[RealUtterance], tools: _Tools) -> None:
    from .metrics import mean_embedding, word_errors

    for r in reals:
        r.embedding = tools.encoder.embed(r.samples, r.rate)
        r.hypothesis = tools.recognizer.transcribe(r.samples, r.rate)
        r.errors, r.words = word_errors(r.utt.normalized, r.hypothesis)
    for i, r in enumerate(reals):
        others = [o.embedding for j, o in enumerate(reals) if j != i and o.embedding is not None]
        r.reference = mean_embedding(others) if others else mean_embedding([r.embedding])
    if tools.verifier is not None:
        _score_real_field(reals, tools)


def _score_real_field(reals: list[RealUtterance], tools: _Tools) -> None:
    """ECAPA embeddings with their leave-one-out references, and Whisper's transcripts, of the real recordings."""
    from .speaker_verify import mean_unit

    for r in reals:
        r.ecapa = _ecapa(tools, r.samples, r.rate)
        r.field = _whisper_scores(tools, r.utt.normalized, r.samples, r.rate)
    for i, r in enumerate(reals):
        others = [o.ecapa for j, o in enumerate(reals) if j != i and o.ecapa is not None]
        r.ecapa_reference = mean_unit(others) if others else r.ecapa


def _ecapa(tools: _Tools, samples: np.ndarray, rate: int) -> np.ndarray | None:
    from .speaker_verify import TooLittleAudioError

    try:
        return tools.verifier.embed(samples, rate)
    except TooLittleAudioError:
        return None


def _whisper_scores(tools: _Tools, text: str, samples: np.ndarray | None, rate: int) -> dict[str, Any]:
    """Whisper's transcript of the audio (None: no audio) and its word and character edits against ``text``."""
    from .asr_whisper import text_errors

    hyp = tools.whisper.transcribe(samples, rate) if samples is not None else ""
    e = text_errors(text, hyp)
    return {
        "wer_whisper": rounded(e.wer), "cer_whisper": rounded(e.cer), "hypothesis_whisper": hyp,
        "errors_whisper": e.word_errors, "words_whisper": e.words,
        "char_errors_whisper": e.char_errors, "chars_whisper": e.chars,
    }


def field_row(real: RealUtterance, ecapa: np.ndarray | None, scores: dict[str, Any]) -> dict[str, Any]:
    """The field scorers' part of a row: ECAPA similarity to the leave-one-out reference, and Whisper's scores."""
    from .speaker_verify import cosine as ecapa_cosine

    similar = None
    if ecapa is not None and real.ecapa_reference is not None:
        similar = rounded(ecapa_cosine(ecapa, real.ecapa_reference))
    return {"similarity_ecapa": similar, **scores}


def _score_one(synth: Synth, real: RealUtterance, tools: _Tools) -> tuple[dict[str, Any], tuple[np.ndarray, int]]:
    from .metrics import cosine, mcd_dtw, word_errors

    t0 = time.perf_counter()
    samples, rate = synth(real.utt.normalized)
    elapsed = time.perf_counter() - t0
    x = _as_float(samples)
    seconds = x.shape[0] / float(rate) if rate else 0.0
    row: dict[str, Any] = {"id": real.utt.id, "seconds": rounded(seconds), "synth_seconds": rounded(elapsed)}
    if seconds <= 0.0 or not np.any(x):
        row.update(similarity=None, similarity_pair=None, wer=1.0, errors=real.words, words=real.words,
                   hypothesis="", mcd_db=None, rtf=None, note="the voice produced no audio")
        if tools.verifier is not None:
            row.update(field_row(real, None, _whisper_scores(tools, real.utt.normalized, None, 16000)))
        return row, (x, int(rate or 16000))
    emb = tools.encoder.embed(x, rate)
    hyp = tools.recognizer.transcribe(x, rate)
    errors, words = word_errors(real.utt.normalized, hyp)
    row.update(
        similarity=rounded(cosine(emb, real.reference)),
        similarity_pair=rounded(cosine(emb, real.embedding)),
        wer=rounded(errors / words) if words else None,
        errors=errors,
        words=words,
        hypothesis=hyp,
        mcd_db=rounded(mcd_dtw(real.samples, real.rate, x, rate)),
        rtf=rounded(elapsed / seconds),
    )
    if tools.verifier is not None:
        row.update(field_row(real, _ecapa(tools, x, rate), _whisper_scores(tools, real.utt.normalized, x, rate)))
    return row, (x, int(rate))


def _as_float(samples: np.ndarray) -> np.ndarray:
    """Mono float32 in [-1, 1] from whatever a synth hook returns (float or int16 samples)."""
    a = np.asarray(samples)
    if np.issubdtype(a.dtype, np.integer):
        return to_mono(a.astype(np.float32) / float(-np.iinfo(a.dtype).min))
    return to_mono(a.astype(np.float32, copy=False))


def means(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means of scored rows: similarities and MCD averaged, WER and RTF pooled (total over total).

    Rows scored with the field scorers add their means and intervals (:func:`field_means`).
    """

    def avg(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return rounded(float(np.mean(vals))) if vals else None

    words = sum(r.get("words") or 0 for r in rows)
    audio = sum(r.get("seconds") or 0.0 for r in rows)
    out: dict[str, Any] = {
        "similarity": avg("similarity"),
        "similarity_pair": avg("similarity_pair"),
        "wer": rounded(sum(r.get("errors") or 0 for r in rows) / words) if words else None,
        "mcd_db": avg("mcd_db"),
        "rtf": rounded(sum(r.get("synth_seconds") or 0.0 for r in rows) / audio) if audio else None,
    }
    if any("wer_whisper" in r for r in rows):
        out.update(field_means(rows))
    return out


FIELD_KEYS = ("similarity_ecapa", "wer_whisper", "cer_whisper")


def field_means(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The field scorers' means with bootstrap 95 % intervals (``<key>_ci95``) over the held-out sentences.

    Rows of the same sentence (its takes) share an ``id`` and are resampled together:
    ECAPA similarity is a mean, Whisper's WER and CER are pooled (edits over reference units).
    """
    from .bootstrap import mean_interval, ratio_interval

    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r.get("id")), []).append(r)

    def total(takes: list[dict[str, Any]], key: str) -> float:
        return float(sum(t.get(key) or 0 for t in takes))

    sims = [[t.get("similarity_ecapa") for t in takes] for takes in groups.values()]
    found = [v for g in sims for v in g if v is not None]
    out: dict[str, Any] = {"similarity_ecapa": rounded(float(np.mean(found))) if found else None,
                           "similarity_ecapa_ci95": _interval(mean_interval(sims))}
    for key, errors, units in (("wer_whisper", "errors_whisper", "words_whisper"),
                               ("cer_whisper", "char_errors_whisper", "chars_whisper")):
        num = [total(takes, errors) for takes in groups.values()]
        den = [total(takes, units) for takes in groups.values()]
        out[key] = rounded(sum(num) / sum(den)) if sum(den) else None
        out[f"{key}_ci95"] = _interval(ratio_interval(num, den))
    return out


def _interval(bounds: tuple[float, float] | None) -> list[float | None] | None:
    return [rounded(bounds[0]), rounded(bounds[1])] if bounds is not None else None


def rounded(x: float | None, digits: int = 4) -> float | None:
    """``x`` rounded for the result, or None when it is missing or not finite."""
    if x is None or not math.isfinite(float(x)):
        return None
    return round(float(x), digits)
