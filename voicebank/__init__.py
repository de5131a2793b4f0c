"""voicebank: keep your own voice.

Record a voice bank, fine-tune a TTS voice on it, and speak with it offline.
Nothing heavy is imported here: models, torch and sound devices load on first use.
"""

from typing import TYPE_CHECKING, Any

from .audio import AudioChunk, AudioFormat
from .errors import VoicebankError

if TYPE_CHECKING:
    from .bank.store import Bank


def __getattr__(name: str) -> Any:
    """``voicebank.Bank`` is imported on first use: commands that do not touch a bank start sooner."""
    if name == "Bank":
        from .bank.store import Bank

        return Bank
    raise AttributeError(f"module 'voicebank' has no attribute {name!r}")

__all__ = ["AudioChunk", "AudioFormat", "Bank", "VoicebankError"]
__version__ = "0.1.0"
