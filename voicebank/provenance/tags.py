"""Tags inside audio files (WAV, FLAC, MP3, M4B/M4A, Opus/Ogg) saying the audio is synthetic, which voice made it and with what.

Owned by the tags/manifest work of issue 19. Contract: :class:`ProvenanceInfo`,
:func:`write_tags(path, info)` (in place, atomically) and :func:`read_tags(path)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ProvenanceInfo:
    voice: str  # the voice's name
    voice_id: str = ""  # a stable id of the voice (its card's id or the model's sha256 prefix)
    toolkit: str = ""  # "voicebank 0.1.0"
    created: str = ""  # ISO 8601 UTC
    synthetic: bool = True


def write_tags(path: str | os.PathLike[str], info: ProvenanceInfo) -> None:
    raise NotImplementedError


def read_tags(path: str | os.PathLike[str]) -> ProvenanceInfo | None:
    raise NotImplementedError
