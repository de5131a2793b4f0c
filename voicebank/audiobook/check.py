"""Checks on one synthesized chunk: silence, clipping, a duration implausible for its text, and a word match.

A narration must never keep a chunk silently lost or garbled, so :mod:`.synth` asks a
:class:`ChunkChecker` about every chunk it synthesizes and re-synthesizes (another seed)
those that fail. The checker is built once per worker process (it holds the loaded
recognizer) and must cost a small fraction of synthesis, so:

* **level** (silence, long pauses, clipping) comes from 20 ms frame energies and the
  samples themselves (numpy, negligible time);
* **duration** compares the spoken span (first to last speech frame) with the number of
  letters and digits the text speaks: too fast means words are missing, too slow means
  babble or stuck audio; a chunk somewhat fast *and* with many words unheard is judged to
  miss words too;
* **words**: PocketSphinx (its bundled en-us models) decodes the chunk with a grammar made
  of the chunk's own words plus a loop of a few phones that stands for "anything else",
  scoring every third frame. Words the audio does not hold are then missing from the hypothesis
  and count as errors; a free large-vocabulary decode costs 2-6 times more for the same
  decision. The decoder uses batch cepstral mean normalisation, so its answer depends on
  this chunk alone, never on the chunks decoded before (needed for bit-identical reruns).

Thresholds are :class:`CheckLimits`; how they were calibrated (stock voice, LJSpeech) is in
``docs/narrate-bench.md``. Responsible for judging one chunk; not for retries, seeds or
reporting (:mod:`.synth`, :mod:`.report`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import resample, to_mono
from ..errors import MissingDependencyError
from ..train.metrics import ASR_RATE, wer_words, word_errors

FRAME_S = 0.02  # frame length for the energy measures
# Broad phones that make up the "anything else" loop of the word-match grammar: enough to
# absorb wrong speech, few enough to keep decoding cheap (measured in docs/narrate-bench.md).
GARBAGE_PHONES = ("AH", "IY", "AA", "S", "T", "N", "M", "L", "R", "K")


@dataclass(frozen=True)
class CheckLimits:
    """Where a chunk stops being plausible (calibration in docs/narrate-bench.md)."""

    speech_db: float = -40.0  # a frame is speech when its RMS is above this (dBFS) ...
    speech_below_peak_db: float = 35.0  # ... and no more than this far below the loudest frame
    min_peak_db: float = -35.0  # loudest frame below this: the chunk is silent
    max_pause_s: float = 1.5  # a pause inside the chunk longer than this is a dropout
    clip_level: float = 0.999  # a sample at or above this magnitude is clipped
    max_clipped: float = 0.001  # fraction of clipped samples allowed
    min_s_per_char: float = 0.035  # spoken span per letter/digit: faster means words missing
    max_s_per_char: float = 0.16  # slower means babble or stuck audio
    slack_s: float = 0.4  # added to both duration bounds (very short texts vary most)
    max_word_error: float = 0.55  # word errors / words the recognizer knows; above fails
    # Both weak signs of a missing stretch at once: fast for the text and many words not heard.
    missing_word_error: float = 0.25
    missing_s_per_char: float = 0.047
    min_words: int = 2  # fewer known words than this: no word match (too little to judge)


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one chunk: ``ok``, what is wrong in words, and the measures behind it."""

    ok: bool
    problems: tuple[str, ...] = ()
    measures: dict[str, float] = field(default_factory=dict)


class ChunkChecker:
    """Judges synthesized chunks against their text; one per worker process (holds the recognizer).

    ``words=False`` skips the word match (no PocketSphinx needed); level and duration checks
    still run.
    """

    def __init__(self, limits: CheckLimits = CheckLimits(), *, words: bool = True) -> None:
        self.limits = limits
        self._decoder: Any = _load_decoder() if words else None

    def check(self, samples: np.ndarray, rate: int, text: str) -> CheckResult:
        """Check ``samples`` (float32 mono at ``rate``) as a reading of ``text``."""
        x = to_mono(np.asarray(samples, dtype=np.float32))
        spoken = _spoken_words(text)
        measures: dict[str, float] = {"seconds": x.shape[0] / float(rate)}
        problems = _level_problems(x, int(rate), self.limits, measures)
        problems += _duration_problems(spoken, self.limits, measures)
        if self._decoder is not None and measures["speech_s"] > 0:
            problems += self._word_problems(x, int(rate), spoken, measures)
        return CheckResult(ok=not problems, problems=tuple(problems), measures=measures)

    def transcribe(self, samples: np.ndarray, rate: int, text: str) -> tuple[str, list[str]]:
        """What the constrained decoder hears: (hypothesis of known words, the known words of ``text``)."""
        known = [w for w in _spoken_words(text) if self._decoder.lookup_word(w) is not None]
        if not known:
            return "", known
        alternatives = sorted(set(known)) + [_garbage_word(p) for p in GARBAGE_PHONES]
        grammar = "#JSGF V1.0;\ngrammar chunk;\npublic <s> = ( " + " | ".join(alternatives) + " )* ;\n"
        self._decoder.add_jsgf_string("chunk", grammar)
        self._decoder.activate_search("chunk")
        x = resample(to_mono(np.asarray(samples, dtype=np.float32)), int(rate), ASR_RATE)
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
        self._decoder.start_utt()
        self._decoder.process_raw(pcm.tobytes(), full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        heard = [w for w in (hyp.hypstr.split() if hyp is not None else []) if not w.startswith("gb_")]
        return " ".join(heard), known

    def _word_problems(self, x: np.ndarray, rate: int, spoken: list[str], measures: dict[str, float]) -> list[str]:
        hyp, known = self.transcribe(x, rate, " ".join(spoken))
        measures["known_words"] = float(len(known))
        if len(known) < self.limits.min_words:
            return []
        errors, n = word_errors(" ".join(known), hyp)
        error = measures["word_error"] = errors / n
        if error > self.limits.max_word_error:
            return [f"the words do not match the text: heard {hyp!r} ({errors} errors in {n} words)"]
        rate_per_char = measures.get("s_per_char", 1.0)
        if error > self.limits.missing_word_error and rate_per_char < self.limits.missing_s_per_char:
            return [
                f"words seem to be missing: {rate_per_char:.3f} s per letter is fast for the text and "
                f"{errors} of {n} words were not heard as written (heard {hyp!r})"
            ]
        return []


def _load_decoder() -> Any:
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:
        raise MissingDependencyError("pocketsphinx (the word check of narrated chunks)", "narrate") from exc
    # ds=3: a third of the frames scored; fwdflat/bestpath off: one pass is enough for a small
    # grammar; cmn=batch: each utterance normalised on its own (no state from earlier chunks).
    dec = Decoder(
        samprate=ASR_RATE, loglevel="FATAL", cmn="batch", ds=3, maxhmmpf=2000, fwdflat=False, bestpath=False
    )
    for i, phone in enumerate(GARBAGE_PHONES):
        dec.add_word(_garbage_word(phone), phone, i == len(GARBAGE_PHONES) - 1)  # rebuild once, at the end
    return dec


def _garbage_word(phone: str) -> str:
    return "gb_" + phone.lower()


def _spoken_words(text: str) -> list[str]:
    """The words ``text`` is read as (numbers, dates and abbreviations spelled out)."""
    from ..text.normalize import normalize

    try:
        spoken = normalize(text)
    except Exception:  # noqa: BLE001 - a text the frontend refuses is judged on its raw words
        spoken = text
    return wer_words(spoken)


def frame_db(x: np.ndarray, rate: int) -> np.ndarray:
    """RMS level (dBFS) of consecutive 20 ms frames."""
    n = max(1, int(rate * FRAME_S))
    frames = x[: (x.shape[0] // n) * n].reshape(-1, n) if x.shape[0] >= n else x[None, :]
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-7))


def _level_problems(x: np.ndarray, rate: int, lim: CheckLimits, m: dict[str, float]) -> list[str]:
    problems: list[str] = []
    clipped = float(np.mean(np.abs(x) >= lim.clip_level)) if x.size else 0.0
    m["clipped"] = clipped
    if clipped > lim.max_clipped:
        problems.append(f"clipped: {clipped:.2%} of samples at full scale")
    levels = frame_db(x, rate) if x.size else np.full(1, -140.0)
    peak = float(levels.max())
    m["peak_frame_db"] = peak
    speech = (levels > lim.speech_db) & (levels > peak - lim.speech_below_peak_db)
    if peak < lim.min_peak_db or not speech.any():
        m["speech_s"] = 0.0
        m["longest_pause_s"] = m["seconds"]
        return problems + [f"silent: the loudest 20 ms is {peak:.0f} dBFS"]
    idx = np.flatnonzero(speech)
    m["speech_s"] = float(idx[-1] - idx[0] + 1) * FRAME_S
    gaps = np.diff(idx) - 1
    m["longest_pause_s"] = float(gaps.max() if gaps.size else 0) * FRAME_S
    if m["longest_pause_s"] > lim.max_pause_s:
        problems.append(f"a silence of {m['longest_pause_s']:.1f} s inside the chunk")
    return problems


def _duration_problems(spoken: list[str], lim: CheckLimits, m: dict[str, float]) -> list[str]:
    chars = sum(len(w) for w in spoken)
    m["chars"] = float(chars)
    if chars == 0 or m["speech_s"] == 0:
        return []
    m["s_per_char"] = float(m["speech_s"]) / chars
    low, high = lim.min_s_per_char * chars - lim.slack_s, lim.max_s_per_char * chars + lim.slack_s
    if m["speech_s"] < low:
        return [f"too short for its text: {m['speech_s']:.1f} s of speech for {chars} letters (at least {low:.1f} s expected)"]
    if m["speech_s"] > high:
        return [f"too long for its text: {m['speech_s']:.1f} s of speech for {chars} letters (at most {high:.1f} s expected)"]
    return []
