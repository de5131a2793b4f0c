"""Encoders for responses, with ffmpeg already started.

Starting ffmpeg takes ~50-70 ms, longer than the engine's first chunk, so
:class:`WarmEncoders` keeps one started encoder ready per format once it has been asked for.
A response encodes with ``encoder.encode(chunks, wait=PROMPT_WAIT)``: ffmpeg answers a chunk
a few milliseconds after it is written, and without the wait the bytes of one chunk would
wait for the next one (a whole decoder window later).
"""

from __future__ import annotations

import threading

from ..encode import AudioFileFormat, Encoder, get_encoder

PROMPT_WAIT = 0.05  # seconds to wait for ffmpeg's bytes after a chunk before synthesis goes on


class WarmEncoders:
    """Started ffmpeg encoders, one kept ready per (format, rate) that a request has used."""

    def __init__(self) -> None:
        self._ready: dict[tuple[AudioFileFormat, int], Encoder] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def ready(self) -> int:
        """How many started encoders wait (each an idle ffmpeg process)."""
        with self._lock:
            return len(self._ready)

    def take(self, spec: AudioFileFormat, sample_rate: int) -> Encoder:
        """An encoder for one stream: a started one if it is ready, else a new one (started now)."""
        with self._lock:
            encoder = self._ready.pop((spec, sample_rate), None)
        if encoder is None:
            encoder = get_encoder(spec, sample_rate)
            if spec.muxer:
                encoder.start()  # ffmpeg starts now, while the engine works
        return encoder

    def refill(self, spec: AudioFileFormat, sample_rate: int) -> None:
        """Start an encoder for the next request of this kind (after a stream, off its critical path)."""
        if not spec.muxer:
            return
        encoder = get_encoder(spec, sample_rate)
        encoder.start()
        with self._lock:
            if self._closed or (spec, sample_rate) in self._ready:
                spare = encoder
            else:
                self._ready[(spec, sample_rate)], spare = encoder, None
        if spare is not None:
            spare.abort()

    def close(self) -> None:
        """Stop the waiting ffmpeg processes (the server is stopping)."""
        with self._lock:
            self._closed = True
            waiting, self._ready = list(self._ready.values()), {}
        for encoder in waiting:
            encoder.abort()
