"""Local low-latency playback of a chunk stream through the sound card (sounddevice).

The player is a consumer of ``Engine.stream``: a feeder thread pulls chunks from the
generator into a small jitter buffer; the sound card's callback takes frames out of it.
Playback starts as soon as the first chunk exists and stops at once on ``stop()``.

The Player is responsible for timing and buffering only; it does not synthesize, and it
never blocks the caller while audio plays (``wait()`` does, when asked).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from .audio import AudioChunk, resample
from .errors import AudioDeviceError, MissingDependencyError


def _sounddevice() -> Any:
    try:
        import sounddevice as sd
    except ImportError as exc:
        raise MissingDependencyError("Audio playback (sounddevice)", "record") from exc
    except OSError as exc:  # the PortAudio library itself is missing
        raise AudioDeviceError(
            f"The sound library PortAudio is not installed ({exc}). On Debian/Ubuntu: sudo apt install libportaudio2"
        ) from exc
    return sd


@dataclass
class PlaybackStats:
    """What happened during one playback; times are ``time.perf_counter()`` seconds."""

    started: float = 0.0  # play() was called
    first_chunk: float | None = None  # the first chunk reached the buffer
    first_audio: float | None = None  # the first non-silent frame was handed to the device
    finished: float | None = None
    frames_played: int = 0
    underruns: int = 0  # callbacks that found the buffer empty while more audio was coming
    device_underflows: int = 0  # output underflows PortAudio reported between first and last frame
    interrupted: bool = False
    error: str = ""
    callbacks: int = 0
    status_flags: list[str] = field(default_factory=list)

    @property
    def first_audio_latency(self) -> float | None:
        return None if self.first_audio is None else self.first_audio - self.started


class _JitterBuffer:
    """Frames waiting for the sound card; the feeder appends, the callback takes."""

    def __init__(self) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0
        self._lock = threading.Lock()
        self.frames = 0
        self.closed = False  # the feeder has no more audio

    def put(self, samples: np.ndarray) -> None:
        with self._lock:
            self._chunks.append(samples)
            self.frames += len(samples)

    def take(self, out: np.ndarray) -> int:
        """Fill ``out`` (1-D) from the buffer; return how many frames were real audio."""
        n = len(out)
        got = 0
        with self._lock:
            while got < n and self._chunks:
                head = self._chunks[0]
                k = min(n - got, len(head) - self._offset)
                out[got : got + k] = head[self._offset : self._offset + k]
                got += k
                self._offset += k
                if self._offset >= len(head):
                    self._chunks.popleft()
                    self._offset = 0
            self.frames -= got
        if got < n:
            out[got:] = 0.0
        return got


class Player:
    """Plays chunk streams on an output device; one stream at a time.

    ``device`` is a sounddevice device index or name (None: the default output).
    ``blocksize`` frames per callback (small = low latency; 0 lets PortAudio choose).
    ``latency`` is the device buffer: 80 ms leaves room for a late callback (the GIL is
    shared with synthesis) and barely delays first sound, since a sound server plays a
    fresh stream's first block at once (measured: 107-111 ms with "low", 117-119 ms here).
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        blocksize: int = 512,
        latency: str | float = 0.08,
        max_ahead_s: float = 10.0,
    ) -> None:
        self.device = device
        self.max_ahead_s = max_ahead_s  # the engine may run this far ahead of the speakers (bounded memory)
        self.blocksize = blocksize
        self.latency = latency
        self._stream: Any = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._feeder: threading.Thread | None = None
        self.stats = PlaybackStats()

    # ------------------------------------------------------------------ public
    def play(self, chunks: Iterable[AudioChunk]) -> PlaybackStats:
        """Start playing ``chunks`` in the background and return the live stats object."""
        self.stop()
        self._stop.clear()
        self._done.clear()
        self.stats = PlaybackStats(started=time.perf_counter())
        buf = _JitterBuffer()
        self._feeder = threading.Thread(target=self._feed, args=(iter(chunks), buf), daemon=True, name="player-feed")
        self._feeder.start()
        return self.stats

    def warm_up(self, rate: int = 22050, seconds: float = 0.1) -> None:
        """Open the device once with silence, so the sound system's first-use costs
        (connection, resampler set-up; ~0.8 s on a fresh PulseAudio) are paid before
        the first real sentence."""
        silence = AudioChunk(np.zeros(int(rate * seconds), np.float32), rate, utterance_end=True)
        self.play([silence])
        self.wait(timeout=5.0)

    def wait(self, timeout: float | None = None) -> PlaybackStats:
        """Block until playback ends (or ``timeout`` seconds pass); re-raise device errors."""
        self._done.wait(timeout)
        if self.stats.error:
            raise AudioDeviceError(self.stats.error)
        return self.stats

    def stop(self) -> None:
        """Interrupt at once: the next callback plays silence and the stream is aborted."""
        self._stop.set()
        feeder = self._feeder
        if feeder is not None and feeder is not threading.current_thread():
            feeder.join(timeout=2.0)
        self._feeder = None

    @property
    def playing(self) -> bool:
        return self._feeder is not None and not self._done.is_set()

    # ---------------------------------------------------------------- internal
    def _feed(self, it: Any, buf: _JitterBuffer) -> None:
        stats = self.stats
        stream = None
        rate = 0
        device_rate = 0
        try:
            for chunk in it:
                if self._stop.is_set():
                    stats.interrupted = True
                    break
                samples = chunk.as_float32()
                if samples.ndim > 1:
                    samples = samples.mean(axis=1)
                if stream is None:
                    rate = chunk.sample_rate
                    stream, device_rate = self._open(rate, buf)
                if chunk.sample_rate != rate:
                    samples = resample(samples, chunk.sample_rate, rate)
                if device_rate != rate:
                    samples = resample(samples, rate, device_rate)
                if stats.first_chunk is None:
                    stats.first_chunk = time.perf_counter()
                buf.put(np.ascontiguousarray(samples, dtype=np.float32))
                if not stream.active and not self._stop.is_set():
                    stream.start()
                limit = self.max_ahead_s * device_rate
                while buf.frames > limit and not self._stop.is_set():
                    time.sleep(0.02)  # back-pressure: a long text never piles up in memory
            buf.closed = True
            # let the device drain what is buffered, unless interrupted
            while stream is not None and not self._stop.is_set() and buf.frames > 0:
                time.sleep(0.005)
            if stream is not None and not self._stop.is_set():
                time.sleep(self._output_latency(stream))
        except Exception as exc:  # surfaced through wait()
            stats.error = f"Playback failed: {exc}"
        finally:
            buf.closed = True
            if self._stop.is_set():
                stats.interrupted = True
            if stream is not None:
                try:
                    if self._stop.is_set():
                        stream.abort()
                    else:
                        stream.stop()
                    stream.close()
                except Exception:
                    pass
            stats.finished = time.perf_counter()
            self._done.set()

    @staticmethod
    def _output_latency(stream: Any) -> float:
        try:
            return float(stream.latency)
        except Exception:
            return 0.05

    def _open(self, rate: int, buf: _JitterBuffer) -> tuple[Any, int]:
        sd = _sounddevice()
        stats = self.stats
        started_audio = [False]

        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            stats.callbacks += 1
            if status:
                if status.output_underflow and started_audio[0] and not buf.closed:
                    stats.device_underflows += 1
                stats.status_flags.append(str(status))
            out = outdata[:, 0]
            if self._stop.is_set():
                outdata.fill(0)
                raise sd.CallbackAbort
            got = buf.take(out)
            if got:
                if not started_audio[0]:
                    started_audio[0] = True
                    stats.first_audio = time.perf_counter()
                stats.frames_played += got
            if got < frames and started_audio[0] and not buf.closed:
                stats.underruns += 1
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]

        kwargs = dict(channels=1, dtype="float32", callback=callback, blocksize=self.blocksize, latency=self.latency)
        try:
            stream = sd.OutputStream(samplerate=rate, device=self.device, **kwargs)
            return stream, rate
        except Exception as first:
            try:  # the device may not take the voice's rate: use its own and resample
                info = sd.query_devices(self.device, "output")
                dev_rate = int(info["default_samplerate"])
                stream = sd.OutputStream(samplerate=dev_rate, device=self.device, **kwargs)
                return stream, dev_rate
            except Exception as exc:
                raise AudioDeviceError(
                    f"Cannot open the speakers ({first}). Check that an output device is connected "
                    "and not in use; 'python -m sounddevice' lists the devices."
                ) from exc


def play_blocking(chunks: Iterable[AudioChunk], device: int | str | None = None) -> PlaybackStats:
    """Play a stream to the end (Ctrl-C stops it) and return the stats."""
    player = Player(device)
    player.play(chunks)
    try:
        return player.wait()
    except KeyboardInterrupt:
        player.stop()
        raise
