"""Check one audio file for every mark of synthetic speech we make: the watermark, the tags, the signed sidecar, the C2PA manifest.

:func:`inspect_file(path)` decodes the audio with ffmpeg (any format it reads) and asks the
watermark detector, then reads the tags, checks the sidecar and reads a C2PA manifest. Only the
watermark survives re-encoding and tag stripping; the others say *which* voice made the file
when they are still there. Nothing here prints: :class:`VerifyReport` is what the CLI shows.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AudioFormatError, UsageError, VoicebankError
from .c2pa_sign import C2paCheck, read_c2pa
from .sidecar import VALID, SidecarCheck, check_sidecar
from .tags import ProvenanceInfo, read_tags

if TYPE_CHECKING:
    from .watermark import Detection

MAX_DECODE_SECONDS = 600.0  # the watermark is judged on at most the first 10 minutes (memory and time stay bounded)

# what `voicebank verify` exits with (documented in its --help)
EXIT_JUDGED = 0
EXIT_TOO_SHORT = 4
EXIT_NO_DETECTOR = 5
EXIT_TAMPERED = 6


@dataclass
class VerifyReport:
    """Everything :func:`inspect_file` found about one file."""

    path: Path
    watermark: Detection | None = None  # None: the detector could not run (see watermark_error)
    watermark_error: str = ""
    tags: ProvenanceInfo | None = None
    tags_error: str = ""
    sidecar: SidecarCheck | None = None
    c2pa: C2paCheck = field(default_factory=lambda: C2paCheck("none"))

    @property
    def judged(self) -> bool:
        return self.watermark is not None and self.watermark.present is not None

    @property
    def voice(self) -> ProvenanceInfo | None:
        """Who made the file, from the most trustworthy source still there: the sidecar, C2PA, then the tags."""
        side = self.sidecar.info if self.sidecar is not None else None
        if side and self.sidecar.verdict == VALID:
            return side
        if self.c2pa.info and self.c2pa.verdict == "valid":
            return self.c2pa.info
        return self.tags or side or self.c2pa.info

    @property
    def tampered(self) -> bool:
        """A sidecar or manifest is there but does not hold for this file."""
        bad_sidecar = self.sidecar is not None and self.sidecar.verdict not in (VALID, "no sidecar", "signed by an unknown key")
        return bad_sidecar or self.c2pa.verdict == "invalid"

    def exit_code(self) -> int:
        if self.watermark is None:
            return EXIT_NO_DETECTOR
        if self.watermark.present is None:
            return EXIT_TOO_SHORT
        return EXIT_TAMPERED if self.tampered else EXIT_JUDGED

    def to_dict(self) -> dict[str, Any]:
        wm = self.watermark
        side = self.sidecar
        return {
            "file": str(self.path),
            "watermark": None if wm is None else {
                "present": wm.present, "confidence": wm.confidence, "seconds": wm.seconds, "reason": wm.reason
            },
            "watermark_error": self.watermark_error,
            "tags": self.tags.to_dict() if self.tags else None,
            "tags_error": self.tags_error,
            "sidecar": None if side is None else {
                "verdict": side.verdict, "path": str(side.path), "signed": side.signed, "key": side.key,
                "detail": side.detail, "provenance": side.info.to_dict() if side.info else None,
            },
            "c2pa": {"verdict": self.c2pa.verdict, "detail": self.c2pa.detail,
                     "provenance": self.c2pa.info.to_dict() if self.c2pa.info else None},
            "voice": self.voice.to_dict() if self.voice else None,
            "judged": self.judged,
            "exit_code": self.exit_code(),
        }


def inspect_file(path: str | os.PathLike[str]) -> VerifyReport:
    """Look for the watermark, tags, sidecar and C2PA manifest of ``path``.

    Raises :class:`UsageError` when there is no such file and :class:`AudioFormatError` when
    it holds no audio ffmpeg can decode; every other failure is written into the report.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"No file at {path}. Give the path of an audio file to check.")
    samples, rate = decode_audio(path)
    report = VerifyReport(path)
    try:  # imported here: the detector brings torch, and the other checks work without it
        from .watermark import detect

        report.watermark = detect(samples, rate)
    except (VoicebankError, NotImplementedError, ImportError) as exc:
        report.watermark_error = f"the watermark detector is not available: {str(exc) or type(exc).__name__}"
    try:
        report.tags = read_tags(path)
    except VoicebankError as exc:
        report.tags_error = str(exc)
    report.sidecar = check_sidecar(path)
    report.c2pa = read_c2pa(path)
    return report


def decode_audio(path: Path, max_seconds: float = MAX_DECODE_SECONDS) -> tuple[np.ndarray, int]:
    """The first ``max_seconds`` of ``path`` as mono float32 at its own sample rate, decoded by ffmpeg."""
    rate = _sample_rate(path)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", f"{max_seconds:g}",
           "-map", "0:a:0", "-ac", "1", "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    done = _run(cmd, path)
    samples = np.frombuffer(done.stdout, dtype="<f4").astype(np.float32)
    if samples.size == 0:
        raise AudioFormatError(f"{path} holds no audio samples.")
    return samples, rate


def _sample_rate(path: Path) -> int:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate",
           "-of", "default=noprint_wrappers=1:nokey=1", str(path)]
    text = _run(cmd, path).stdout.decode("ascii", "replace").strip()
    if not text.isdigit():
        raise AudioFormatError(f"{path} holds no audio stream ffmpeg can read; is it an audio file?")
    return int(text)


def _run(cmd: list[str], path: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(cmd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise UsageError(f"{cmd[0]} is needed to read {path}; install ffmpeg (e.g. apt install ffmpeg).") from exc
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioFormatError(f"Cannot decode {path}: {why[-1] if why else 'ffmpeg failed'}. Is it a complete audio file?")
    return done
