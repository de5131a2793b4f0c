"""Encoded speech for a response, handed on as soon as the encoder has it.

An ffmpeg encoder's ``write`` returns only the bytes ready at that moment, and ffmpeg
answers a chunk a few milliseconds after it is written; left alone, the bytes of one
chunk would wait for the next one (a whole decoder window later). Here each chunk is
followed by empty writes until ffmpeg's bytes are there (or ``PROMPT_WAIT`` passes), and
ffmpeg is started before the engine's first chunk, so its start-up overlaps synthesis.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import numpy as np

from ..audio import AudioChunk
from ..encode import AudioFileFormat, get_encoder

PROMPT_WAIT = 0.05  # seconds to wait for ffmpeg's bytes after a chunk before synthesis goes on
_POLL = 0.002


def encode_promptly(spec: AudioFileFormat, chunks: Iterable[AudioChunk], sample_rate: int) -> Iterator[bytes]:
    """The encoded stream in pieces, each as soon as it is ready; closing it aborts the encoder."""
    encoder = get_encoder(spec, sample_rate)
    nothing = AudioChunk(np.zeros(0, dtype=np.float32), sample_rate)
    try:
        if spec.muxer:
            encoder.write(nothing)  # starts ffmpeg now
        for chunk in chunks:
            data = encoder.write(chunk)
            deadline = time.monotonic() + PROMPT_WAIT
            while not data and spec.muxer and chunk.frames and time.monotonic() < deadline:
                time.sleep(_POLL)
                data = encoder.write(nothing)
            if data:
                yield data
        data = encoder.close()
    except BaseException:  # GeneratorExit too: the client left
        encoder.abort()
        raise
    if data:
        yield data
