"""What the bank remembers about prompts and takes (plain, JSON-safe dataclasses)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

PROMPT_KINDS = ("script", "message", "imported")
TAKE_STATUSES = ("pending", "accepted", "rejected")
PROMPT_FLAGS = ("skipped", "later")

_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(text: str) -> str:
    """A prompt id usable as a folder name (letters, digits, ``._-``)."""
    cleaned = _SAFE_ID.sub("_", text).strip("._")
    return cleaned[:80] or "prompt"


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class PromptRecord:
    """A sentence to read (script), a phrase to bank verbatim (message), or an imported transcript."""

    id: str
    text: str
    kind: str = "script"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PromptRecord":
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class TakeRecord:
    """One recording of one prompt, with everything needed to trust it later."""

    id: str
    prompt_id: str
    text: str
    file: str  # relative to the bank folder
    sha256: str
    sample_rate: int
    channels: int
    subtype: str
    frames: int
    recorded_at: str  # ISO 8601, UTC
    status: str = "pending"
    source: str = ""  # where an imported take came from
    recovered: bool = False  # found on disk after an interrupted save and adopted
    unverified: bool = False  # salvaged without its record: it decodes fully, but no checksum vouches for it
    qc: dict[str, Any] = field(default_factory=dict)
    capture: dict[str, Any] = field(default_factory=dict)  # how a browser captured it (getSettings(), device, rate)

    @property
    def duration(self) -> float:
        return self.frames / float(self.sample_rate)

    @property
    def qc_verdict(self) -> str:
        return str(self.qc.get("verdict", "unknown"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TakeRecord":
        return cls(**_known(cls, data))
