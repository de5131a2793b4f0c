"""The measures behind ``voicebank train eval``: mel-cepstral distortion, WER, speaker similarity.

* **Mel-cepstral distortion with DTW** (:func:`mcd_dtw`), written here with numpy/scipy.
  Both signals are resampled to 22050 Hz and cut into 23.2 ms Hann frames (512 samples)
  every 5 ms (110 samples), zero-padded to a 1024-point FFT. Each frame's log-amplitude
  spectrum is resampled onto a mel-like frequency axis by first-order all-pass warping with
  ``alpha = 0.455`` (SPTK's usual value for 22.05 kHz), floored 60 dB below the signal's
  strongest bin (so room noise in pauses and spectral valleys does not dominate; the
  floor moves with the level, so gain still does not matter) and turned into a cepstrum; the
  coefficients ``c1..c24`` (order 24, SPTK's one-sided convention, natural-log units) are
  kept and the energy term ``c0`` is left out, so the level of either signal does not
  matter. Frames at either end more than 40 dB below the loudest frame are dropped
  (leading and trailing silence). The two sequences are aligned by dynamic time warping
  (steps (1,1), (1,0), (0,1), Euclidean frame distance) and
  ``MCD = 10/ln(10) * sqrt(2 * sum_d (c_d - c'_d)^2)`` is averaged along the path, in dB.
  Identical audio gives 0. This is the classic "MCD-DTW" recipe; the warped-spectrum
  cepstrum stands in for SPTK's iterative ``mcep`` fit, so absolute values are close to,
  not equal to, numbers computed with SPTK.
* **Word error rate**: :class:`Recognizer` (PocketSphinx 5 with its bundled en-us models at
  16 kHz) and :func:`wer_words` / :func:`merge_compounds` to score it: lower case, accents
  and punctuation removed, hyphens split, and a pair of words on one side joined when the
  joined word is what the other side has ("wood cutters" against "woodcutters").
* **Speaker similarity**: :class:`SpeakerEncoder` (Resemblyzer's bundled GE2E encoder);
  :func:`cosine` of two embeddings. Same speaker typically 0.75-0.96, different speakers
  0.43-0.70.

Heavy packages (torch via resemblyzer, pocketsphinx, jiwer) are imported inside the
classes and functions that need them.
"""

from __future__ import annotations

import math
import unicodedata
import warnings
from collections.abc import Sequence

import numpy as np

from ..audio import resample, to_mono
from ..errors import MissingDependencyError

MCD_RATE = 22050
MCD_ORDER = 24  # cepstral coefficients c1..c24 compared (c0, the energy, is left out)
MCD_ALPHA = 0.455  # all-pass warping constant: mel-like scale at 22.05 kHz
MCD_WIN = 512  # 23.2 ms Hann window
MCD_HOP = 110  # 5 ms frame shift
MCD_FFT = 1024
MCD_EDGE_DB = 40.0  # end frames this far below the loudest frame are silence
MCD_RANGE_DB = 60.0  # spectral floor, this far below the signal's strongest bin
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)

ASR_RATE = 16000


# ------------------------------------------------------------------------------- MCD-DTW


def mel_cepstrum(samples: np.ndarray, sample_rate: int, *, order: int = MCD_ORDER, alpha: float = MCD_ALPHA) -> np.ndarray:
    """Mel-cepstra ``(frames, order + 1)`` of a recording (see the module docstring)."""
    x = resample(to_mono(np.asarray(samples, dtype=np.float32)), int(sample_rate), MCD_RATE).astype(np.float64)
    if x.shape[0] < MCD_WIN:
        x = np.pad(x, (0, MCD_WIN - x.shape[0]))
    n = 1 + (x.shape[0] - MCD_WIN) // MCD_HOP
    idx = np.arange(MCD_WIN)[None, :] + MCD_HOP * np.arange(n)[:, None]
    from scipy.signal import get_window

    frames = x[idx] * get_window("hann", MCD_WIN, fftbins=True)[None, :]
    power = np.abs(np.fft.rfft(frames, n=MCD_FFT, axis=1)) ** 2
    # One floor for the whole signal, relative to its strongest bin: detail further down
    # (room noise in spectral valleys and pauses) would otherwise dominate the distance.
    floor = max(float(power.max()) * 10.0 ** (-MCD_RANGE_DB / 10.0), 1e-30)
    log_amp = 0.5 * np.log(power + floor)
    bins = MCD_FFT // 2 + 1
    warped = np.linspace(0.0, math.pi, bins)
    linear = warped - 2.0 * np.arctan(alpha * np.sin(warped) / (1.0 + alpha * np.cos(warped)))
    pos = linear / math.pi * (bins - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, bins - 2)
    frac = pos - lo
    on_mel = log_amp[:, lo] * (1.0 - frac) + log_amp[:, lo + 1] * frac
    cep = np.fft.irfft(on_mel, axis=1)[:, : order + 1]
    cep[:, 1:] *= 2.0  # two-sided real cepstrum -> SPTK's one-sided coefficients
    energy_db = 10.0 * np.log10(power.sum(axis=1) + floor)
    loud = np.nonzero(energy_db >= energy_db.max() - MCD_EDGE_DB)[0]
    return cep[loud[0] : loud[-1] + 1]


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest monotonic alignment through a cost matrix, as (row indices, column indices).

    Steps (1,1), (1,0) and (0,1), all weighted 1. Each row is computed at once: within a
    row ``D[i, j] = S[j] + min_{k<=j}(a[k] - S[k])`` where ``a`` is the best entry from the
    row above and ``S`` the running sum of the row's costs.
    """
    n, m = cost.shape
    acc = np.empty((n, m), dtype=np.float64)
    acc[0] = np.cumsum(cost[0])
    for i in range(1, n):
        prev = acc[i - 1]
        from_above = np.minimum(prev, np.concatenate(([np.inf], prev[:-1])))
        a = cost[i] + from_above
        run = np.cumsum(cost[i])
        acc[i] = run + np.minimum.accumulate(a - run)
    i, j = n - 1, m - 1
    rows, cols = [i], [j]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
            i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
        rows.append(i)
        cols.append(j)
    return np.asarray(rows[::-1]), np.asarray(cols[::-1])


def mcd_dtw(reference: np.ndarray, reference_rate: int, test: np.ndarray, test_rate: int) -> float:
    """Mel-cepstral distortion (dB) between two recordings of the same words, aligned by DTW."""
    a = mel_cepstrum(reference, reference_rate)[:, 1:]
    b = mel_cepstrum(test, test_rate)[:, 1:]
    from scipy.spatial.distance import cdist

    cost = cdist(a, b)
    rows, cols = dtw_path(cost)
    return float(_MCD_SCALE * np.mean(cost[rows, cols]))


# ----------------------------------------------------------------------------------- WER


def wer_words(text: str) -> list[str]:
    """Words for scoring: lower case, accents and punctuation gone, hyphenated words split."""
    t = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = "".join(ch if ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "'") else " " for ch in t)
    return [w for w in (w.strip("'") for w in t.split()) if w]


def merge_compounds(reference: Sequence[str], hypothesis: Sequence[str]) -> tuple[list[str], list[str]]:
    """Join a pair of words on one side where the joined word stands on the other side."""
    return _join_pairs(reference, set(hypothesis)), _join_pairs(hypothesis, set(reference))


def _join_pairs(words: Sequence[str], other: set[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and words[i] + words[i + 1] in other:
            out.append(words[i] + words[i + 1])
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words) after normalisation."""
    ref, hyp = merge_compounds(wer_words(reference), wer_words(hypothesis))
    if not ref:
        return len(hyp), 0
    if not hyp:
        return len(ref), len(ref)
    try:
        import jiwer
    except ImportError as exc:
        raise MissingDependencyError("jiwer (word error rate)", "train") from exc
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return int(out.substitutions + out.deletions + out.insertions), len(ref)


class Recognizer:
    """PocketSphinx with its bundled US English models: speech in, lower-case words out.

    Coarse (about 0.15 WER on clean synthetic speech, 0.3 on read speech), but offline and
    quick; useful to compare voices on the same sentences, not as an absolute score.

    Each call uses a fresh decoder (about 0.3 s to load): a reused one carries state from
    the utterances before (resetting its CMN is not enough), so the same audio could be
    transcribed differently depending on what came first, and two voices scored one after
    the other would not be judged alike.
    """

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise MissingDependencyError("pocketsphinx (speech recognition for intelligibility)", "train") from exc
        self._decoder_class = Decoder

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        x = resample(to_mono(np.asarray(samples, dtype=np.float32)), int(sample_rate), ASR_RATE)
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
        dec = self._decoder_class(samprate=ASR_RATE, loglevel="FATAL")
        dec.start_utt()
        dec.process_raw(pcm.tobytes(), full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        return hyp.hypstr if hyp is not None else ""


# ---------------------------------------------------------------------------- similarity


class SpeakerEncoder:
    """Resemblyzer's speaker encoder (bundled weights, CPU): a recording → a unit 256-d embedding."""

    RATE = 16000

    def __init__(self) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecation notes from its scipy/pkg_resources imports
                from resemblyzer import VoiceEncoder, preprocess_wav
        except ImportError as exc:
            raise MissingDependencyError("resemblyzer (speaker similarity)", "train") from exc
        self._encoder = VoiceEncoder(device="cpu", verbose=False)
        self._preprocess = preprocess_wav

    def embed(self, samples: np.ndarray, sample_rate: int) -> np.ndarray | None:
        """The embedding, or None when there is too little speech to embed (under 0.2 s)."""
        x = resample(to_mono(np.asarray(samples, dtype=np.float32)), int(sample_rate), self.RATE)
        wav = self._preprocess(x.astype(np.float32), source_sr=None)
        if wav.shape[0] < int(0.2 * self.RATE):
            return None
        return np.asarray(self._encoder.embed_utterance(wav), dtype=np.float64)


def cosine(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Cosine similarity of two embeddings (None when either is missing)."""
    if a is None or b is None:
        return None
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return None
    return float(np.dot(a, b) / (na * nb))


def mean_embedding(embeddings: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """The speaker embedding of several recordings: the normalised mean of their embeddings."""
    found = [e for e in embeddings if e is not None]
    if not found:
        return None
    m = np.mean(found, axis=0)
    norm = float(np.linalg.norm(m))
    return m / norm if norm > 0 else None
