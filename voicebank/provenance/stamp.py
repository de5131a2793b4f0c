"""Stamp a finished audio file: tags, a signed sidecar (``FILE.provenance.json``) and, optionally, a C2PA manifest.

Owned by the tags/manifest work of issue 19. Contract: :func:`stamp_file(path, info, c2pa=False)`
and :func:`provenance_for(voice_ref)` (the :class:`~.tags.ProvenanceInfo` of a voice).
"""

from __future__ import annotations

import os

from .tags import ProvenanceInfo


def provenance_for(voice_ref: str | os.PathLike[str] | None) -> ProvenanceInfo:
    raise NotImplementedError


def stamp_file(path: str | os.PathLike[str], info: ProvenanceInfo, *, c2pa: bool = False) -> None:
    raise NotImplementedError
