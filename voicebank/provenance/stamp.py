"""Stamp a finished audio file: tags, a signed sidecar (``FILE.provenance.json``) and, optionally, a C2PA manifest.

Owned by the tags/manifest work of issue 19. Contract: :func:`stamp_file(path, info, c2pa=False)`
and :func:`provenance_for(voice_ref)` (the :class:`~.tags.ProvenanceInfo` of a voice).

Order matters: the tags change the file, a C2PA manifest binds the bytes it is embedded in,
and the sidecar signs the sha256 of the finished file, so they are made in that order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import AudioFormatError, EngineError, VoicebankError
from .tags import ProvenanceInfo, write_tags


@dataclass(frozen=True)
class Stamp:
    """What :func:`stamp_file` put on a file."""

    tagged: bool  # False for a format that holds no tags (raw PCM)
    sidecar: Path
    c2pa: str = ""  # "" when not asked; else "signed" or why not


def toolkit() -> str:
    from .. import __version__

    return f"voicebank {__version__}"


def provenance_for(voice_ref: str | os.PathLike[str] | None) -> ProvenanceInfo:
    """The provenance of audio spoken now by the voice ``voice_ref`` (its card's name and id, else its files')."""
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    name, voice_id = _card_identity(voice_ref)
    if not voice_id:
        name, voice_id = _file_identity(voice_ref, name)
    return ProvenanceInfo(voice=name, voice_id=voice_id, toolkit=toolkit(), created=created)


def stamp_file(path: str | os.PathLike[str], info: ProvenanceInfo, *, c2pa: bool = False) -> Stamp:
    """Tag ``path``, optionally embed a C2PA manifest, then sign its sidecar. Each step replaces the file atomically."""
    from .sidecar import sign_file

    path = Path(path)
    try:
        write_tags(path, info)
        tagged = True
    except AudioFormatError:
        if path.suffix.lower() not in (".pcm", ".raw"):
            raise
        tagged = False  # raw samples have nowhere to put a tag: the sidecar carries the provenance
    c2pa_result = ""
    if c2pa:
        from .c2pa_sign import sign_c2pa

        c2pa_result = sign_c2pa(path, info)
    return Stamp(tagged, sign_file(path, info), c2pa_result)


def _card_identity(voice_ref: str | os.PathLike[str] | None) -> tuple[str, str]:
    """(name, id) from the voice's card; ("", "") while cards are not there or the voice has none."""
    try:
        from ..voice.card import card_for

        card = card_for(voice_ref)
    except (NotImplementedError, VoicebankError, OSError):
        return "", ""
    voice_id = str(getattr(card, "id", "") or getattr(card, "voice_id", ""))
    return str(card.name), voice_id


def _file_identity(voice_ref: str | os.PathLike[str] | None, name: str) -> tuple[str, str]:
    """(name, "sha256:" + the model's first 16 hex digits); the reference itself when it resolves to no model."""
    from ..voice.registry import file_sha256, resolve_voice

    try:
        files = resolve_voice(voice_ref)
    except EngineError:
        return name or str(voice_ref), ""
    return name or files.name, f"sha256:{file_sha256(files.model)[:16]}"
