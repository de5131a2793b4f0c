"""Audio values shared by every part of voicebank: chunks, formats, stream pacing, file reading.

This module imports nothing of ours but ``errors``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from .errors import AudioFormatError

PathLike = Union[str, Path]

Clock = Callable[[], float]  # seconds on a monotonic clock: time.perf_counter, or a fake one in tests

# What a consumer that does not say is assumed to hold ahead: a sound server's read-ahead
# (PulseAudio takes 0.139 s at once at the player's settings; see voicebank.player).
DEFAULT_LEAD = 0.15


@dataclass(frozen=True)
class Pacing:
    """How the consumer of a chunk stream takes its audio, so that the stream can pace its work.

    ``lead`` is the audio, in seconds, that the consumer holds ahead of what the listener
    hears: a sound card's read-ahead, a network client's buffer. The stream keeps at least
    that much in hand. ``None``: nobody listens while it is made (a file), so the stream is
    not paced at all. ``now`` is the clock the stream reads time on. Pacing changes when
    chunks come and how big they are, never the samples.
    """

    lead: float | None = DEFAULT_LEAD
    now: Clock = time.perf_counter

    @property
    def realtime(self) -> bool:
        """Whether a listener plays the stream as it comes (False: a file, no pacing)."""
        return self.lead is not None


UNPACED = Pacing(lead=None)  # a consumer that takes everything as fast as it comes (a file)


@dataclass(frozen=True)
class WordTiming:
    """When one word of the text is heard: seconds from the start of the utterance's audio."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class AudioFormat:
    """Sample rate and channel count of a stream of samples."""

    sample_rate: int
    channels: int = 1


@dataclass(frozen=True)
class AudioChunk:
    """A piece of a stream: samples plus where it stands in the utterance.

    ``samples`` is float32 in [-1, 1] (or int16), shape ``(frames,)`` for mono or
    ``(frames, channels)``.
    """

    samples: np.ndarray
    sample_rate: int
    sentence_start: bool = False
    sentence_end: bool = False
    utterance_end: bool = False
    # the words this chunk is the first to sound, where the voice can time them: a sentence's on its
    # first chunk (a long sentence spoken clause-first: the rest of its words on the chunk after the clause)
    words: tuple[WordTiming, ...] = ()

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.frames / float(self.sample_rate)

    def as_float32(self) -> np.ndarray:
        if self.samples.dtype == np.int16:
            return self.samples.astype(np.float32) / 32768.0
        return self.samples.astype(np.float32, copy=False)

    def as_int16(self) -> np.ndarray:
        if self.samples.dtype == np.int16:
            return self.samples
        return to_int16(self.samples)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as 16-bit PCM (clipped)."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header."""

    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / float(self.sample_rate) if self.sample_rate else 0.0

    @property
    def bits(self) -> int | None:
        """Bits per sample for PCM subtypes (None for float/compressed)."""
        table = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
        return table.get(self.subtype)


def _open_error(path: Path, exc: Exception) -> AudioFormatError:
    return AudioFormatError(
        f"{path} is not a readable audio file ({exc}). "
        "It may be truncated, empty, or not audio at all; use WAV or FLAC."
    )


def audio_info(path: PathLike) -> AudioInfo:
    """Read a file's header; raise AudioFormatError with a plain message if it is not audio."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioFormatError(f"{p} does not exist.")
    if p.is_dir():
        raise AudioFormatError(f"{p} is a folder, not an audio file.")
    if p.stat().st_size == 0:
        raise AudioFormatError(f"{p} is empty (0 bytes).")
    try:
        info = sf.info(str(p))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        raise _open_error(p, exc) from exc
    if info.frames <= 0:
        raise AudioFormatError(f"{p} holds no audio samples.")
    if info.format == "WAV":
        check_wav_size(p)  # libsndfile quietly shortens a cut-off WAV; we refuse it
    return AudioInfo(info.samplerate, info.channels, info.frames, info.format, info.subtype)


def read_audio(path: PathLike, *, always_2d: bool = True) -> tuple[np.ndarray, int]:
    """Read a whole file as float32 ``(frames, channels)``; clear error when unreadable.

    A file whose header promises more frames than it holds (a truncated WAV) is an error,
    not silently shortened audio.
    """
    import soundfile as sf

    p = Path(path)
    info = audio_info(p)
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=always_2d)
    except Exception as exc:
        raise _open_error(p, exc) from exc
    if data.shape[0] == 0:
        raise AudioFormatError(f"{p} holds no audio samples.")
    return data, int(rate)


def check_wav_size(path: PathLike) -> None:
    """Raise if a RIFF/WAV file's data chunk is shorter than its header says (a cut-off copy)."""
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        size = p.stat().st_size
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                return
            cid, clen = hdr[:4], int.from_bytes(hdr[4:], "little")
            if cid == b"data":
                if fh.tell() + clen > size:
                    raise AudioFormatError(
                        f"{p} is truncated: its data chunk promises {clen} bytes, "
                        f"only {size - fh.tell()} are there. Copy the file again from its source."
                    )
                return
            fh.seek(clen + (clen & 1), io.SEEK_CUR)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels to mono float32 ``(frames,)``."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    return samples.mean(axis=1).astype(np.float32)


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Polyphase resampling along axis 0 (good quality, no state between calls)."""
    if src_rate == dst_rate:
        return samples
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(src_rate), int(dst_rate))
    out = resample_poly(samples, dst_rate // g, src_rate // g, axis=0)
    return out.astype(np.float32)


def db(x: float, floor: float = -120.0) -> float:
    """Amplitude ratio to decibels, with a floor for silence."""
    return float(20.0 * np.log10(x)) if x > 10 ** (floor / 20.0) else floor
