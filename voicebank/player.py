"""The one local player: chunk streams and recorded takes through the sound card (sounddevice).

``speak`` and the recorder both play through :class:`Player`. It is a consumer of
``Engine.stream``: a feeder thread pulls chunks from the generator into a small jitter
buffer; the sound card's callback takes frames out of it. Playback starts as soon as the
first chunk exists and stops at once on ``stop()``. A stream at another rate than the sound
card's is converted by one :class:`~voicebank.resample.StreamResampler` (no seam at chunk
edges). The player tells a stream how far ahead the sound card reads (:meth:`Player.pacing`).

The Player is responsible for timing and buffering only; it does not synthesize, and it
never blocks the caller while audio plays (``wait()`` does, when asked). It notices when
the output goes away under it (the stream ends by itself, or stops asking for audio) and
says so (:meth:`Player.failure`, ``stats.device_lost``); what to do about the lost audio
is the caller's (see :mod:`voicebank.speech_queue`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from .audio import DEFAULT_LEAD, AudioChunk, Clock, Pacing
from .errors import AudioDeviceError, MissingDependencyError
from .resample import StreamResampler

DEVICE_LOST = "The sound output stopped working: the sound server or the speakers went away."
START_GRACE_S = 2.5  # more silence allowed before a stream has played its first second


def sounddevice_module() -> Any:
    """Import sounddevice, or say plainly what is missing."""
    try:
        import sounddevice as sd
    except ImportError as exc:
        raise MissingDependencyError("sounddevice (speaker and microphone access)", "record") from exc
    except OSError as exc:  # sounddevice is there, the PortAudio library is not
        raise AudioDeviceError(
            f"The PortAudio sound library cannot be loaded ({exc}). "
            "On Debian or Ubuntu install it with: sudo apt install libportaudio2"
        ) from exc
    return sd


def device_arg(device: int | str | None) -> int | str | None:
    """A device as the user gave it: a number (as text too) or part of its name."""
    if isinstance(device, str) and device.strip().isdigit():
        return int(device)
    return device


@dataclass
class PlaybackStats:
    """What happened during one playback; times are ``time.perf_counter()`` seconds."""

    started: float = 0.0  # play() was called
    first_chunk: float | None = None  # the first chunk reached the buffer
    first_audio: float | None = None  # the first non-silent frame was handed to the device
    finished: float | None = None
    frames_played: int = 0  # at the device's rate
    frames_fed: int = 0  # handed to the device's buffer (all of them played: the whole stream was heard)
    device_rate: int = 0  # the rate the sound card was opened at
    underruns: int = 0  # callbacks that found the buffer empty while more audio was coming
    device_underflows: int = 0  # output underflows PortAudio reported between first and last frame
    interrupted: bool = False
    error: str = ""
    device_lost: bool = False  # the error is the output device's (gone, or cannot be opened)
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
    """Plays chunk streams (or a recorded take) on an output device; one at a time.

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
        stall_after: float = 1.5,
    ) -> None:
        self.device = device_arg(device)
        self.max_ahead_s = max_ahead_s  # the engine may run this far ahead of the speakers (bounded memory)
        self.blocksize = blocksize
        self.latency = latency
        self.stall_after = stall_after  # a stream that has been playing and goes silent this long has lost its device
        self._stream: Any = None
        self._stream_ended = threading.Event()  # the open stream finished without being asked to
        self._closing: list[threading.Thread] = []  # lost streams still being closed
        self._last_callback = 0.0  # when the open stream last asked for audio (or was started)
        self._steady = False  # the open stream has taken a second of audio: its start-up pauses are over
        self._stop = threading.Event()
        self._done = threading.Event()
        self._feeder: threading.Thread | None = None
        self._lead: float | None = None  # the sound card's read-ahead, once a stream has shown it
        self._read_ahead = 0.0  # the most audio the open stream's device held ahead of real time
        self.stats = PlaybackStats()

    # ------------------------------------------------------------------ public
    def pacing(self, now: Clock = time.perf_counter) -> Pacing:
        """How this player takes a stream, for the stream to pace itself by (``engine.stream(...,
        pacing=player.pacing())``): the sound card's read-ahead as measured on the last stream
        this player opened (:meth:`warm_up` opens one), else the usual one."""
        return Pacing(lead=DEFAULT_LEAD if self._lead is None else self._lead, now=now)

    def play(self, audio: Iterable[AudioChunk] | np.ndarray, sample_rate: int | None = None) -> PlaybackStats:
        """Start playing in the background and return the live stats object.

        ``audio`` is a chunk stream, or a whole take's samples with their ``sample_rate``
        (``(frames,)`` or ``(frames, channels)``, mixed to mono).
        """
        if isinstance(audio, np.ndarray):
            if sample_rate is None:
                raise TypeError("A take's samples need their sample rate to be played.")
            audio = [AudioChunk(audio, int(sample_rate), utterance_end=True)]
        self.stop()
        self._stop.clear()
        self._done.clear()
        self.stats = PlaybackStats(started=time.perf_counter())
        buf = _JitterBuffer()
        self._feeder = threading.Thread(target=self._feed, args=(iter(audio), buf), daemon=True, name="player-feed")
        self._feeder.start()
        return self.stats

    def warm_up(self, rate: int = 22050, seconds: float = 0.1) -> None:
        """Open the device once with silence, so the sound system's first-use costs
        (connection, resampler set-up; ~0.8 s on a fresh PulseAudio) are paid before
        the first real sentence, and the sound card's read-ahead is known (:meth:`pacing`)."""
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
            if feeder.is_alive():  # stuck in the sound system (a frozen server): it ends when that answers
                self._closing.append(feeder)
        self._feeder = None

    @property
    def playing(self) -> bool:
        return self._feeder is not None and not self._done.is_set()

    def failure(self) -> str:
        """Why the open stream's output is gone ('' while it is fine or nothing is open):
        the stream ended by itself (a killed sound server), or a started stream has not
        asked for audio for ``stall_after`` seconds (an unplugged or frozen device)."""
        return "" if self._stop.is_set() or not self._device_gone() else DEVICE_LOST

    def _device_gone(self) -> bool:
        if self._stream is None:
            return False
        if self._stream_ended.is_set():
            return True
        # a sound server may pause a fresh stream after its first burst (see docs/speech-queue.md)
        limit = self.stall_after if self._steady else self.stall_after + START_GRACE_S
        return bool(self._last_callback) and time.perf_counter() - self._last_callback > limit

    def reconnect(self, rate: int = 22050) -> bool:
        """Try the output again (after a failure): refresh the device list and play a moment of
        silence; True when the device took it. Call only while nothing plays."""
        self.stop()
        if any(t.is_alive() for t in self._closing):  # PortAudio still hangs on the lost stream: not yet
            return False
        try:
            sd = sounddevice_module()
            sd._terminate()  # PortAudio lists devices once: look again (a device plugged back in)
            sd._initialize()
        except Exception:  # refreshing is best effort; opening below says whether it worked
            pass
        try:
            self.warm_up(rate, seconds=0.05)
        except Exception:
            return False
        return not self.stats.error and self.stats.frames_played > 0

    # ---------------------------------------------------------------- internal
    def _feed(self, it: Any, buf: _JitterBuffer) -> None:
        stats = self.stats
        try:
            for samples, device_rate in self._at_device_rate(it, buf):
                if stats.first_chunk is None:
                    stats.first_chunk = time.perf_counter()
                buf.put(samples)
                stats.frames_fed += len(samples)
                self._check_device()
                if not self._stream.active and not self._stop.is_set():
                    self._stream.start()
                    self._last_callback = time.perf_counter()  # the stall clock starts now
                limit = self.max_ahead_s * device_rate
                while buf.frames > limit and not self._stop.is_set():
                    self._check_device()
                    time.sleep(0.02)  # back-pressure: a long text never piles up in memory
            buf.closed = True
            # let the device drain what is buffered, unless interrupted
            while self._stream is not None and not self._stop.is_set() and buf.frames > 0:
                self._check_device()
                time.sleep(0.005)
            if self._stream is not None and not self._stop.is_set():
                time.sleep(self._output_latency(self._stream))
                self._check_device()
        except AudioDeviceError as exc:  # surfaced through wait()
            stats.error = str(exc)
            stats.device_lost = True
        except Exception as exc:
            stats.error = f"Playback failed: {exc}"
        finally:
            buf.closed = True
            if self._stop.is_set():
                stats.interrupted = True
            self._close_stream()
            stats.finished = time.perf_counter()
            self._done.set()

    def _check_device(self) -> None:
        reason = self.failure()
        if reason:
            raise AudioDeviceError(reason)

    def _close_stream(self) -> None:
        lost = self._device_gone() or self.stats.device_lost
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if lost:  # closing a stream whose device hangs can hang too: let it end on its own thread
            closing = threading.Thread(target=_close_quietly, args=(stream, True), daemon=True, name="player-close-lost")
            closing.start()
            self._closing = [t for t in self._closing if t.is_alive()] + [closing]
            return
        # what this sound card reads ahead: its first burst, and at least the latency it reports
        self._lead = max(self._read_ahead, self._output_latency(stream))
        _close_quietly(stream, self._stop.is_set())

    def _at_device_rate(self, chunks: Any, buf: _JitterBuffer) -> Iterator[tuple[np.ndarray, int]]:
        """Mono float samples at the sound card's rate (the device opens at the first chunk),
        converted by one resampler per run of chunks at one rate, its tail included."""
        resampler: StreamResampler | None = None
        device_rate = 0
        for chunk in chunks:
            if self._stop.is_set():
                self.stats.interrupted = True
                return
            samples = chunk.as_float32()
            if samples.ndim > 1:
                samples = samples.mean(axis=1)
            if self._stream is None:
                self._stream, device_rate = self._open(chunk.sample_rate, buf)
                self.stats.device_rate = device_rate
            if resampler is None or resampler.src_rate != chunk.sample_rate:
                if resampler is not None:
                    yield resampler.flush(), device_rate
                resampler = StreamResampler(chunk.sample_rate, device_rate)
            yield resampler.process(samples), device_rate
        if resampler is not None:
            yield resampler.flush(), device_rate

    @staticmethod
    def _output_latency(stream: Any) -> float:
        try:
            return float(stream.latency)
        except Exception:
            return 0.05

    def _open(self, rate: int, buf: _JitterBuffer) -> tuple[Any, int]:
        sd = sounddevice_module()
        stats = self.stats
        started_audio = [False]
        taken = [0, 0.0]  # frames the device has asked for, and when it first asked
        opened = [rate]  # the rate the device was opened at
        self._read_ahead = 0.0
        self._last_callback = 0.0
        self._steady = False
        ended = self._stream_ended = threading.Event()  # this stream's own: a late one cannot mark the next

        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            now = self._last_callback = time.perf_counter()
            if not taken[0]:
                taken[1] = now
            taken[0] += frames
            self._steady = taken[0] >= opened[0]
            self._read_ahead = max(self._read_ahead, taken[0] / opened[0] - (now - taken[1]))
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

        kwargs = dict(channels=1, dtype="float32", callback=callback, blocksize=self.blocksize, latency=self.latency,
                      finished_callback=ended.set)
        try:
            stream = sd.OutputStream(samplerate=rate, device=self.device, **kwargs)
            return stream, rate
        except Exception as first:
            try:  # the device may not take the voice's rate: use its own and resample
                info = sd.query_devices(self.device, "output")
                dev_rate = opened[0] = int(info["default_samplerate"])
                stream = sd.OutputStream(samplerate=dev_rate, device=self.device, **kwargs)
                return stream, dev_rate
            except Exception as exc:
                raise AudioDeviceError(
                    f"Cannot open the speakers ({first}). Check that an output device is connected "
                    "and not in use; 'voicebank record --list-devices' lists the devices."
                ) from exc


def _close_quietly(stream: Any, abort: bool) -> None:
    """Abort (at once) or stop (after what is buffered) and close a stream; a gone device is fine."""
    try:
        if abort:
            stream.abort()
        else:
            stream.stop()
        stream.close()
    except Exception:  # already closed, or the device is gone
        pass


def play_blocking(chunks: Iterable[AudioChunk], device: int | str | Player | None = None) -> PlaybackStats:
    """Play a stream to the end (Ctrl-C stops it) and return the stats; ``device`` may be a Player."""
    player = device if isinstance(device, Player) else Player(device)
    player.play(chunks)
    try:
        return player.wait()
    except KeyboardInterrupt:
        player.stop()
        raise
