"""Microphone capture with sounddevice (PortAudio), and playback of a take (see ``devices``).

A :class:`Recorder` keeps one input stream open for the whole session (opening a stream
takes a moment and would clip the first word) and decides which stretch of it is a take:

* push-to-talk: :meth:`Recorder.start` and :meth:`Recorder.stop` (a key press each);
* automatic: :meth:`Recorder.arm` listens; speech starts the take (with a little of the
  audio before it), a pause of ``end_silence_s`` after speech ends it.

While a take is recorded, every block goes to the spool (:mod:`voicebank.record.spool`)
as it arrives, so killing the process mid-sentence still leaves the audio on disk.

A :class:`Player` plays a take back. sounddevice is imported only when a device is
opened; without it (or without the PortAudio library) a clear error says what to install.

Responsible for: the sound card, the spool, auto start/stop. Not responsible for the
bank (:mod:`voicebank.record.session` saves takes) or the screen.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import db
from ..errors import AudioDeviceError, UsageError
from . import spool as spool_mod
from .devices import Player, device_arg, list_devices, sounddevice_module

MODES = ("push", "auto")
__all__ = [
    "MODES", "Capture", "CaptureSettings", "Player", "Recorder", "RecorderEvent", "list_devices",
    "sounddevice_module",
]


@dataclass(frozen=True)
class CaptureSettings:
    """How to capture; one comment per field says what it changes."""

    mode: str = "push"  # "push": a key starts and stops a take; "auto": speech starts it, a pause stops it
    device: int | str | None = None  # input device index or name part (None: the system default)
    sample_rate: int | None = None  # None: the device's own default rate (usually 44100 or 48000)
    channels: int = 1  # a voice is mono; a device that refuses mono is opened in stereo
    block_s: float = 0.02  # audio delivered per callback
    preroll_s: float = 0.3  # audio kept from before the key press / the first sound of speech
    onset_s: float = 0.15  # auto: this much speech in a row starts a take
    end_silence_s: float = 1.2  # auto: a pause this long after speech ends the take
    tail_s: float = 0.5  # auto: silence kept after the last word
    max_take_s: float = 30.0  # a take stops by itself at this length (QC fails longer ones anyway)
    vad_threshold: float = 0.5  # speech probability that counts as speech (ends 0.15 lower)
    sync_s: float = 0.5  # the spool is fsynced this often (what a power cut could lose)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"The recording mode must be one of {', '.join(MODES)}, not {self.mode!r}.")


@dataclass(frozen=True)
class Capture:
    """A finished take from the microphone, still backed by its spool files."""

    samples: np.ndarray  # float32 (frames, channels)
    sample_rate: int
    capture_id: str
    prompt_id: str
    started_at: str  # ISO 8601, UTC
    spool_meta: Path  # sidecar of the spool; discard it once the bank holds the take
    reason: str  # "stopped" (key), "pause" (auto), "max_length", "closing"
    overflows: int = 0  # blocks the sound system dropped during the take
    spool_failed: bool = False  # the spool could not be written (disk full?); audio is in memory

    @property
    def duration(self) -> float:
        return int(self.samples.shape[0]) / float(self.sample_rate)

    def discard_spool(self) -> None:
        spool_mod.discard_spool(self.spool_meta)


@dataclass(frozen=True)
class RecorderEvent:
    """Something the recorder did on its own: ``started`` (auto), ``stopped``, ``warning``."""

    kind: str
    capture: Capture | None = None
    message: str = ""


class _Ring:
    """The last few seconds of input, addressed by absolute frame index."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self.blocks: deque[tuple[int, np.ndarray]] = deque()
        self.frames = 0

    def append(self, start: int, block: np.ndarray) -> None:
        self.blocks.append((start, block))
        self.frames += block.shape[0]
        while self.blocks and self.frames - self.blocks[0][1].shape[0] >= self.max_frames:
            self.frames -= self.blocks.popleft()[1].shape[0]

    def since(self, start: int) -> list[np.ndarray]:
        """Audio from absolute frame ``start`` (or the oldest kept) to the newest."""
        out = []
        for s, b in self.blocks:
            if s + b.shape[0] <= start:
                continue
            out.append(b[max(0, start - s):])
        return out

    @property
    def first(self) -> int:
        return self.blocks[0][0] if self.blocks else 0


@dataclass
class _Take:
    info: spool_mod.SpoolInfo
    spool: spool_mod.SpoolWriter | None
    start: int  # absolute frame index of the first sample
    auto: bool
    blocks: list[np.ndarray] = field(default_factory=list)
    frames: int = 0
    stop_at: int | None = None  # absolute frame index to stop at, once known
    last_voice: int = 0  # auto: end of the last speech frame
    overflows: int = 0
    spool_failed: bool = False
    reason: str = "stopped"  # why it ends, once stop_at is set
    requested: bool = False  # stop() was called: the caller gets the capture, no event
    done: threading.Event = field(default_factory=threading.Event)
    result: Capture | None = None


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_capture_id(prompt_id: str) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{prompt_id}-{secrets.token_hex(3)}"


class Recorder:
    """One open microphone stream for a session; takes cut from it and spooled to disk.

    Thread model: PortAudio's callback only queues copies of the blocks. One writer
    thread takes them from the queue, keeps a short ring of recent audio (for the
    pre-roll), writes the take in progress to the spool and, in auto mode, runs the
    speech detector. The caller's thread starts, stops and arms takes and reads events.
    """

    def __init__(self, spool_folder: Path, settings: CaptureSettings = CaptureSettings()) -> None:
        self.settings = settings
        self.spool_folder = Path(spool_folder)
        self.sample_rate = 0
        self.channels = settings.channels
        self.device_name = ""
        self.overflows = 0
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._q: queue.Queue[np.ndarray | None] = queue.Queue()
        self._events: queue.Queue[RecorderEvent] = queue.Queue()
        self._lock = threading.RLock()
        self._state = "idle"
        self._take: _Take | None = None
        self._ring = _Ring(1)
        self._pos = 0  # frames handled by the writer thread
        self._delivered = 0  # frames delivered by the callback
        self._armed: tuple[str, str, str] = ("", "", "script")
        self._armed_at = 0
        self._run_start: int | None = None
        self._vad_frames = 0
        self._level = -120.0
        self._ready = threading.Event()

    # ------------------------------------------------------------ open/close
    def open(self) -> Recorder:
        """Open the microphone and start listening (nothing is kept until a take starts)."""
        sd = sounddevice_module()
        device = device_arg(self.settings.device)
        try:
            info = sd.query_devices(device, "input")
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioDeviceError(
                f"No microphone found{' matching ' + repr(device) if device is not None else ''} ({exc}). "
                "Plug one in, or list the devices with: voicebank record --list-devices"
            ) from exc
        self.device_name = str(info["name"])
        rate = int(self.settings.sample_rate or info["default_samplerate"] or 48000)
        channel_options = [self.settings.channels]
        if self.settings.channels == 1 and int(info["max_input_channels"]) >= 2:
            channel_options.append(2)
        error: Exception | None = None
        for channels in channel_options:
            try:
                stream = sd.InputStream(
                    device=device,
                    samplerate=rate,
                    channels=channels,
                    dtype="float32",
                    blocksize=max(64, int(rate * self.settings.block_s)),
                    callback=self._callback,
                )
                break
            except (ValueError, sd.PortAudioError) as exc:
                error = exc
        else:
            raise AudioDeviceError(
                f"The microphone {self.device_name!r} cannot be opened at {rate} Hz ({error}). "
                "Check that no other program holds it, or choose another rate with --samplerate "
                "or another device with --device."
            ) from error
        self.sample_rate, self.channels = rate, channels
        s = self.settings
        self._ring = _Ring(int(rate * (s.preroll_s + s.onset_s + 1.5)))
        self._thread = threading.Thread(target=self._run, name="voicebank-capture", daemon=True)
        self._thread.start()
        try:
            stream.start()
        except sd.PortAudioError as exc:
            self._q.put(None)
            stream.close()
            raise AudioDeviceError(f"The microphone {self.device_name!r} cannot start ({exc}).") from exc
        self._stream = stream
        return self

    def close(self) -> Capture | None:
        """Stop the microphone; a take still being recorded is finished and returned."""
        cap = self.stop(reason="closing") if self._state == "recording" else None
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:  # the device may be gone already; closing is best effort
                pass
            self._stream = None
        self._q.put(None)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        return cap

    def __enter__(self) -> Recorder:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- status
    @property
    def state(self) -> str:
        """``idle``, ``armed`` (auto mode, waiting for speech) or ``recording``."""
        return self._state

    @property
    def ready(self) -> bool:
        """True once the microphone has delivered sound."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    @property
    def level_db(self) -> float:
        """Recent input level (dBFS, peak of the last blocks)."""
        return self._level

    @property
    def recorded_seconds(self) -> float:
        take = self._take
        return take.frames / self.sample_rate if take is not None and self.sample_rate else 0.0

    def events(self) -> list[RecorderEvent]:
        """Events since the last call (never blocks)."""
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    # ------------------------------------------------------------ control
    def _new_take(self, prompt_id: str, text: str, kind: str, start: int, *, auto: bool) -> _Take:
        info = spool_mod.SpoolInfo(
            capture_id=new_capture_id(prompt_id),
            prompt_id=prompt_id,
            prompt_text=text,
            prompt_kind=kind,
            sample_rate=self.sample_rate,
            channels=self.channels,
            started_at=_utc_now(),
        )
        take = _Take(info, None, start, auto)
        try:
            take.spool = spool_mod.SpoolWriter(self.spool_folder, info, sync_s=self.settings.sync_s)
        except OSError as exc:
            take.spool_failed = True
            self._events.put(RecorderEvent("warning", message=(
                f"The take cannot be written to the disk while recording ({exc}); it is kept in memory "
                "and saved when you stop. Free some disk space.")))
        for block in self._ring.since(start):
            self._append(take, block)
        return take

    def start(self, prompt_id: str, text: str = "", kind: str = "script") -> None:
        """Start a take now (push-to-talk), with ``preroll_s`` of the audio before."""
        with self._lock:
            if self._state == "recording":
                return
            start = max(self._ring.first, self._pos - int(self.settings.preroll_s * self.sample_rate))
            self._take = self._new_take(prompt_id, text, kind, start, auto=False)
            self._state = "recording"

    def arm(self, prompt_id: str, text: str = "", kind: str = "script") -> None:
        """Auto mode: start a take as soon as speech is heard."""
        with self._lock:
            if self._state == "recording":
                return
            self._armed = (prompt_id, text, kind)
            self._armed_at = self._pos
            self._run_start = None
            self._state = "armed"

    def disarm(self) -> None:
        """Stop listening for speech (a take in progress is not affected)."""
        with self._lock:
            if self._state == "armed":
                self._state = "idle"

    def stop(self, *, reason: str = "stopped", timeout: float = 3.0) -> Capture | None:
        """Finish the take in progress with everything captured up to now; None if none."""
        with self._lock:
            take = self._take
            if self._state != "recording" or take is None:
                if self._state == "armed":
                    self._state = "idle"
                return None
            take.requested = True
            if take.stop_at is None:
                take.stop_at = self._delivered
                take.reason = reason
            if self._pos >= take.stop_at:
                return self._finish()
        if not take.done.wait(timeout):  # the device stopped delivering: keep what arrived
            with self._lock:
                if self._take is take:
                    take.stop_at = self._pos
                    return self._finish()
        return take.result

    # ------------------------------------------------------- writer thread
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
            take = self._take
            if take is not None:
                take.overflows += 1
        self._q.put(indata.copy())
        self._delivered += frames

    def _blocks(self) -> Any:
        while True:
            block = self._q.get()
            if block is None:
                return
            self._handle_block(block)
            yield block

    def _run(self) -> None:
        try:
            if self.settings.mode == "auto":
                from ..bank.vad import SpeechDetector

                detector = SpeechDetector()
                for probs in detector.stream(self._blocks(), self.sample_rate):
                    self._handle_probs(probs)
            else:
                for _ in self._blocks():
                    pass
        except Exception as exc:  # never die silently: the screen must say that capture stopped
            self._events.put(RecorderEvent("warning", message=f"Recording stopped working: {exc}"))

    def _append(self, take: _Take, block: np.ndarray) -> None:
        if take.stop_at is not None:
            room = take.stop_at - (take.start + take.frames)
            if room <= 0:
                return
            block = block[:room]
        take.blocks.append(block)
        take.frames += block.shape[0]
        if take.spool is not None and not take.spool_failed:
            try:
                take.spool.write(block)
            except OSError as exc:
                take.spool_failed = True
                self._events.put(RecorderEvent("warning", message=(
                    f"The take cannot be written to the disk while recording ({exc}); it is kept in "
                    "memory and saved when you stop.")))

    def _handle_block(self, block: np.ndarray) -> None:
        peak = float(np.max(np.abs(block))) if block.size else 0.0
        with self._lock:
            start = self._pos
            self._ring.append(start, block)
            self._pos += block.shape[0]
            self._level = max(db(peak), self._level - 1.5)
            take = self._take
            if self._state == "recording" and take is not None:
                if start >= take.start + take.frames:  # not already taken from the ring
                    self._append(take, block)
                max_frames = int(self.settings.max_take_s * self.sample_rate)
                if take.stop_at is None and take.frames >= max_frames:
                    take.stop_at, take.reason = take.start + max_frames, "max_length"
                if take.stop_at is not None and self._pos >= take.stop_at:
                    cap = self._finish()
                    if not take.requested:
                        self._events.put(RecorderEvent("stopped", cap))
        self._ready.set()

    def _handle_probs(self, probs: np.ndarray) -> None:
        from ..bank.vad import FRAME_S

        s = self.settings
        rate = self.sample_rate
        for p in probs:
            i = self._vad_frames
            self._vad_frames += 1
            t0, t1 = int(i * FRAME_S * rate), int((i + 1) * FRAME_S * rate)
            with self._lock:
                if self._state == "armed":
                    if t0 < self._armed_at or p < s.vad_threshold:
                        self._run_start = None
                        continue
                    if self._run_start is None:
                        self._run_start = t0
                    if t1 - self._run_start >= s.onset_s * rate:
                        start = max(self._armed_at, self._ring.first, self._run_start - int(s.preroll_s * rate))
                        prompt_id, text, kind = self._armed
                        new = self._new_take(prompt_id, text, kind, start, auto=True)
                        new.last_voice = t1
                        self._take = new
                        self._state = "recording"
                        self._events.put(RecorderEvent("started"))
                    continue
                take = self._take
                if self._state != "recording" or take is None or not take.auto or take.stop_at is not None:
                    continue
                if p >= s.vad_threshold - 0.15:
                    take.last_voice = t1
                elif t1 - take.last_voice >= s.end_silence_s * rate:
                    take.stop_at = max(take.start + 1, take.last_voice + int(s.tail_s * rate))
                    take.reason = "pause"
                    if self._pos >= take.stop_at:
                        self._events.put(RecorderEvent("stopped", self._finish()))

    def _finish(self) -> Capture:
        """Close the take in progress (lock held) and hand back its audio."""
        take = self._take
        assert take is not None
        if take.spool is not None:
            try:
                take.spool.close()
            except OSError:
                take.spool_failed = True
        if take.blocks:
            samples = np.concatenate(take.blocks, axis=0)
        else:
            samples = np.zeros((0, self.channels), dtype=np.float32)
        if take.stop_at is not None:
            samples = samples[: max(0, take.stop_at - take.start)]
        folder = self.spool_folder
        cap = Capture(
            samples=samples.astype(np.float32, copy=False),
            sample_rate=self.sample_rate,
            capture_id=take.info.capture_id,
            prompt_id=take.info.prompt_id,
            started_at=take.info.started_at,
            spool_meta=folder / f"{take.info.capture_id}.json",
            reason=take.reason,
            overflows=take.overflows,
            spool_failed=take.spool_failed,
        )
        take.result = cap
        self._take = None
        self._state = "idle"
        take.done.set()
        return cap
