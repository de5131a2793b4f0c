"""The spool: where a take in progress lives on disk while it is being recorded.

Every block the microphone delivers is written straight to a WAV file in
``BANK/.inprogress/`` (with ``os.write``, so it is in the kernel's hands at once and
survives the process being killed). Every ``sync_s`` seconds the WAV header's sizes
are brought up to date and the file is fsynced, so even a power cut loses at most
that much. Next to the audio, a small JSON sidecar written *before* the first sample
says which prompt the audio belongs to and how to read it.

Recovery never trusts the header sizes: the amount of audio is what the file holds
(its size minus the header, rounded down to whole frames). A spool without a sidecar
cannot be attributed to a prompt and is left for a person to look at.

The spool is responsible for getting captured audio onto the disk and back. It does
not talk to the sound card (``capture``) or to the bank (``session``).
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..bank.store import SPOOL_DIR
from ..durable import atomic_write_json, fsync_dir, read_json_dict, write_all
from ..errors import AudioDeviceError, CorruptFileError, UsageError

SCHEMA_VERSION = 1
_HEADER_BYTES = 44  # RIFF + fmt (16 bytes) + data chunk header
_WAVE_FORMAT_IEEE_FLOAT = 3
_SAMPLE_BYTES = 4  # float32: what PortAudio delivers, stored as is (no conversion, no loss)


def spool_dir(bank_root: Path) -> Path:
    """The spool folder of a bank."""
    return Path(bank_root) / SPOOL_DIR


def _wav_header(sample_rate: int, channels: int, frames: int) -> bytes:
    data_bytes = frames * channels * _SAMPLE_BYTES
    block_align = channels * _SAMPLE_BYTES
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", min(36 + data_bytes, 0xFFFFFFFF)),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, _WAVE_FORMAT_IEEE_FLOAT, channels, sample_rate,
                        sample_rate * block_align, block_align, 8 * _SAMPLE_BYTES),
            b"data",
            struct.pack("<I", min(data_bytes, 0xFFFFFFFF)),
        ]
    )


@dataclass(frozen=True)
class SpoolInfo:
    """What the sidecar says about a spooled capture."""

    capture_id: str
    prompt_id: str
    prompt_text: str
    prompt_kind: str
    sample_rate: int
    channels: int
    started_at: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **self.__dict__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpoolInfo:
        return cls(
            capture_id=str(d["capture_id"]),
            prompt_id=str(d["prompt_id"]),
            prompt_text=str(d.get("prompt_text", "")),
            prompt_kind=str(d.get("prompt_kind", "script")),
            sample_rate=int(d["sample_rate"]),
            channels=int(d["channels"]),
            started_at=str(d.get("started_at", "")),
        )


class SpoolWriter:
    """Appends float32 blocks to ``<folder>/<capture_id>.wav``; the sidecar exists first.

    Not thread-safe: one thread (the capture's writer thread) calls ``write``/``sync``.
    """

    def __init__(self, folder: Path, info: SpoolInfo, *, sync_s: float = 0.5) -> None:
        self.info = info
        self.folder = Path(folder)
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True)
            fsync_dir(self.folder.parent)  # the new folder itself must survive a power cut
        self.wav_path = self.folder / f"{info.capture_id}.wav"
        self.meta_path = self.folder / f"{info.capture_id}.json"
        self.sync_s = sync_s
        self.frames = 0
        atomic_write_json(self.meta_path, info.to_dict(), indent=None)
        self._fd: int | None = os.open(str(self.wav_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._write(_wav_header(info.sample_rate, info.channels, 0))
        self._synced_at = 0.0
        self.sync()
        fsync_dir(self.folder)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise UsageError(f"The recording {self.info.capture_id} was already stopped; start a new take to record more.")
        write_all(self._fd, data)

    def write(self, block: np.ndarray) -> None:
        """Append samples ``(frames,)`` or ``(frames, channels)``; syncs when ``sync_s`` has passed."""
        x = np.ascontiguousarray(block, dtype="<f4")
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.info.channels:
            raise AudioDeviceError(
                f"The microphone delivered {x.shape[1] if x.ndim == 2 else x.shape} channels for a recording set up "
                f"with {self.info.channels}; choose the microphone again (voicebank record --device) and record the take again."
            )
        self._write(x.tobytes())
        self.frames += x.shape[0]
        if time.monotonic() - self._synced_at >= self.sync_s:
            self.sync()

    def sync(self) -> None:
        """Bring the header's sizes up to date and push everything to the disk."""
        if self._fd is None:
            return
        os.pwrite(self._fd, _wav_header(self.info.sample_rate, self.info.channels, self.frames), 0)
        os.fsync(self._fd)
        self._synced_at = time.monotonic()

    def close(self) -> None:
        """Final sync; the files stay until ``discard`` (called once the bank holds the take)."""
        if self._fd is None:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Delete the spool files (only after the take is safe in the bank)."""
        self.close()
        discard_spool(self.meta_path)


def list_spools(folder: Path) -> list[Path]:
    """Sidecars of spooled captures in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def orphan_audio(folder: Path) -> list[Path]:
    """Spool audio without a sidecar (should not happen: the sidecar is written first)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.wav") if not p.with_suffix(".json").exists())


def read_spool(meta_path: Path) -> tuple[SpoolInfo, np.ndarray]:
    """The sidecar and the samples (float32 ``(frames, channels)``) of a spooled capture.

    The amount of audio comes from the file's size, not its header: a capture killed
    between two header updates still gives back everything that reached the disk.
    """
    meta_path = Path(meta_path)
    try:
        info = SpoolInfo.from_dict(read_json_dict(meta_path, what="spool note"))
    except (KeyError, TypeError, ValueError) as exc:  # valid JSON without the fields a note must hold
        raise CorruptFileError(f"The spool note {meta_path} is damaged or incomplete ({type(exc).__name__}: {exc}).") from exc
    wav = meta_path.with_suffix(".wav")
    if not wav.exists():
        return info, np.zeros((0, info.channels), dtype=np.float32)
    with open(wav, "rb") as fh:
        head = fh.read(_HEADER_BYTES)
        if len(head) < _HEADER_BYTES or head[:4] != b"RIFF" or head[36:40] != b"data":
            return info, np.zeros((0, info.channels), dtype=np.float32)
        raw = fh.read()
    frame_bytes = info.channels * _SAMPLE_BYTES
    usable = len(raw) - len(raw) % frame_bytes
    samples = np.frombuffer(raw[:usable], dtype="<f4").astype(np.float32).reshape(-1, info.channels)
    # A torn last write can only shorten the file; anything non-finite is not audio.
    samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return info, samples


def discard_spool(meta_path: Path) -> None:
    """Delete a spooled capture: the audio first, then its sidecar."""
    meta_path = Path(meta_path)
    for p in (meta_path.with_suffix(".wav"), meta_path):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    try:
        fsync_dir(meta_path.parent)
    except OSError:
        pass
