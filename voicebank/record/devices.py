"""Sound devices through sounddevice (PortAudio): listing them for the recorder.

Playback goes through the one player (:class:`voicebank.player.Player`), which also owns
loading sounddevice (:func:`~voicebank.player.sounddevice_module`) and reading a device
argument; both are re-exported here for the recorder.
"""

from __future__ import annotations

from typing import Any

from ..errors import AudioDeviceError
from ..player import Player, device_arg, sounddevice_module

__all__ = ["Player", "device_arg", "list_devices", "sounddevice_module"]


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
