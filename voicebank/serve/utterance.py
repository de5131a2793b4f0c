"""One WebSocket utterance's audio, made on the pump's thread: engine chunks or a recording as tagged s16le frames.

A binary frame is ``len(id)`` (1 byte), the id, then 16-bit little-endian mono samples
(docs/websocket.md). Frames are built here, off the event loop, so the loop only sends them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio import AudioChunk, Pacing, WordTiming, audio_info
from ..engines.base import SynthesisOptions

if TYPE_CHECKING:
    from .app import SpeechServer, StreamSlots

FRAME_SAMPLES = 8192  # at most this many samples per binary frame (0.37 s at 22.05 kHz): small for any client's buffer
RECORDING_BLOCK = 4096  # samples of a recording read per piece


@dataclass(frozen=True)
class Piece:
    """The frames of one chunk, its length, its rate, and the words of the sentence it starts."""

    frames: tuple[bytes, ...]
    samples: int
    sample_rate: int
    words: tuple[WordTiming, ...] = ()


def tagged_frames(tag: bytes, samples: np.ndarray) -> tuple[bytes, ...]:
    """``samples`` (int16, mono) as binary frames, each led by ``tag`` (the id's length byte and the id)."""
    pcm = samples.astype("<i2", copy=False)
    return tuple(tag + pcm[i : i + FRAME_SAMPLES].tobytes() for i in range(0, len(pcm), FRAME_SAMPLES))


def frame_tag(utterance_id: str) -> bytes:
    raw = utterance_id.encode("utf-8")
    return bytes([len(raw)]) + raw


def pieces(chunks: Iterator[AudioChunk], tag: bytes) -> Iterator[Piece]:
    """Chunks as pieces (an empty chunk still passes its words on); closing this closes ``chunks``."""
    try:
        for chunk in chunks:
            samples = _mono(chunk.as_int16())
            if len(samples) or chunk.words:
                yield Piece(tagged_frames(tag, samples), len(samples), chunk.sample_rate, chunk.words)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def counted(slots: StreamSlots, open_chunks: Callable[[], Iterator[AudioChunk]], lock: threading.Lock | None = None) -> Iterator[AudioChunk]:
    """A chunk stream counted in ``slots`` as synthesizing while it runs (under ``lock``, if the engine has one).

    Closing it early closes the source at once and counts it as stopped early.
    """
    slots.working(+1)
    try:
        with lock or nullcontext():
            chunks = open_chunks()
            try:
                yield from chunks
            except GeneratorExit:
                slots.working(0, stopped=1)
                raise
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
    finally:
        slots.working(-1)


def speech(server: SpeechServer, voice: str, text: str, speed: float, tag: bytes) -> Iterator[Piece]:
    """``text`` spoken by ``voice`` with the server's options at ``speed``, paced for a network client."""
    engine, lock = server.engines.get(voice)
    options = with_speed(server.settings.options, speed)
    pacing = Pacing(lead=server.settings.lead)
    yield from pieces(counted(server.slots, lambda: iter(engine.stream(text, options, pacing)), lock), tag)


def recording(server: SpeechServer, path: Path, tag: bytes) -> Iterator[Piece]:
    """A recorded message verbatim: its samples as 16-bit at its own rate."""
    yield from pieces(counted(server.slots, lambda: recording_chunks(path)), tag)


def with_speed(options: SynthesisOptions, speed: float) -> SynthesisOptions:
    """``options`` at ``speed`` (faster speech is a shorter ``length_scale``)."""
    if speed == 1.0:
        return options
    return replace(options, length_scale=(options.length_scale or 1.0) / speed)


def recording_chunks(path: Path, block: int = RECORDING_BLOCK) -> Iterator[AudioChunk]:
    """A recording read as 16-bit samples: a 16-bit file's exact samples; a finer one's top 16 bits (libsndfile)."""
    import soundfile as sf

    audio_info(path)  # a clear error for a file that is not audio
    with sf.SoundFile(str(path)) as f:
        rate, left = f.samplerate, f.frames
        first = True
        while left > 0:
            data = f.read(min(block, left), dtype="int16", always_2d=True)
            if not len(data):
                break
            left -= len(data)
            yield AudioChunk(_mono(data), rate, sentence_start=first, utterance_end=left <= 0)
            first = False


def _mono(samples: np.ndarray) -> np.ndarray:
    """16-bit frames ``(n, channels)`` as one channel: the channel itself, or the channels' mean."""
    if samples.ndim == 1:
        return samples
    if samples.shape[1] == 1:
        return np.ascontiguousarray(samples[:, 0])
    return np.round(samples.astype(np.int32).mean(axis=1)).astype(np.int16)
