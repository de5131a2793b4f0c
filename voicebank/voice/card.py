"""Every voice folder's card, ``card.json``: who the voice belongs to, their consent, what it was made from, and its licence.

Owned by the voice-card work of issue 19. Contract: :class:`VoiceCard`, :func:`read_card(folder)`
(None when the folder has none), :func:`write_card(folder, card)` (atomic), and
:func:`card_for(voice_ref)` (the card of any voice, the stock voice's built in).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CARD_FILE = "card.json"


@dataclass
class VoiceCard:
    name: str
    speaker: str = ""
    consent: dict[str, Any] = field(default_factory=dict)  # status, how, detail, reason (for --without-consent)
    training_data: dict[str, Any] = field(default_factory=dict)  # takes, minutes, bank
    created: str = ""
    base_model: str = ""
    base_licence: str = ""
    toolkit: str = ""
    kind: str = ""  # "piper", "xtts", "instant"
    schema_version: int = 1


def read_card(folder: str | os.PathLike[str]) -> VoiceCard | None:
    raise NotImplementedError


def write_card(folder: str | os.PathLike[str], card: VoiceCard) -> None:
    raise NotImplementedError


def card_for(voice_ref: str | os.PathLike[str] | None) -> VoiceCard:
    raise NotImplementedError


def card_path(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / CARD_FILE
