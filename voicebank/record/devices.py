"""Sound devices through sounddevice (PortAudio): finding them, and playing a take back.

sounddevice is imported only when a device is used; without it, or without the PortAudio
library, the error says what to install.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..audio import resample
from ..errors import AudioDeviceError, MissingDependencyError


def sounddevice_module() -> Any:
    """Import sounddevice, or say plainly what is missing."""
    try:
        import sounddevice as sd
    except ImportError as exc:
        raise MissingDependencyError("sounddevice (microphone and speaker access)", "record") from exc
    except OSError as exc:  # sounddevice is there, the PortAudio library is not
        raise AudioDeviceError(
            "The PortAudio sound library cannot be loaded, so the microphone cannot be used "
            f"({exc}). On Debian or Ubuntu install it with: sudo apt install libportaudio2"
        ) from exc
    return sd


def list_devices() -> list[dict[str, Any]]:
    """Sound devices as PortAudio sees them: index, name, input/output channels, default rate."""
    sd = sounddevice_module()
    try:
        devices = sd.query_devices()
        default_in, default_out = sd.default.device
    except Exception as exc:  # PortAudioError and friends
        raise AudioDeviceError(f"The sound devices cannot be listed ({exc}).") from exc
    return [
        {
            "index": i,
            "name": d["name"],
            "inputs": int(d["max_input_channels"]),
            "outputs": int(d["max_output_channels"]),
            "default_samplerate": float(d["default_samplerate"]),
            "default_input": i == default_in,
            "default_output": i == default_out,
        }
        for i, d in enumerate(devices)
    ]


def device_arg(device: int | str | None) -> int | str | None:
    if isinstance(device, str) and device.strip().isdigit():
        return int(device)
    return device


class Player:
    """Plays a take on the speakers; one at a time, stoppable."""

    def __init__(self, device: int | str | None = None) -> None:
        self.device = device_arg(device)
        self._stream: Any = None
        self._done = threading.Event()
        self._done.set()

    @property
    def playing(self) -> bool:
        return not self._done.is_set()

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Start playing (returns at once); a take already playing is stopped first."""
        sd = sounddevice_module()
        self.stop()
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        try:
            self._open(sd, x, int(sample_rate))
        except (ValueError, sd.PortAudioError):
            try:  # the device may not take this rate: convert to its own
                rate = int(sd.query_devices(self.device, "output")["default_samplerate"])
                self._open(sd, resample(x, int(sample_rate), rate), rate)
            except (ValueError, sd.PortAudioError) as exc:
                raise AudioDeviceError(
                    f"The take cannot be played ({exc}). Check the speakers or headphones, or choose "
                    "another output with --output-device."
                ) from exc

    def _open(self, sd: Any, x: np.ndarray, rate: int) -> None:
        pos = 0
        done = threading.Event()

        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            nonlocal pos
            n = min(frames, x.shape[0] - pos)
            outdata[:n] = x[pos : pos + n]
            outdata[n:] = 0
            pos += n
            if n < frames:
                raise sd.CallbackStop

        stream = sd.OutputStream(
            device=self.device, samplerate=rate, channels=x.shape[1], dtype="float32",
            callback=callback, finished_callback=done.set,
        )
        self._done = done
        self._stream = stream
        stream.start()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # already closed or device gone
                pass
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until playback ends; True if it did."""
        return self._done.wait(timeout)
