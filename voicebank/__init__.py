"""voicebank: keep your own voice.

Record a voice bank, fine-tune a TTS voice on it, and speak with it offline.
Nothing heavy is imported here: models, torch and sound devices load on first use.
"""

from .audio import AudioChunk, AudioFormat
from .bank.store import Bank
from .errors import VoicebankError

__all__ = ["AudioChunk", "AudioFormat", "Bank", "VoicebankError"]
__version__ = "0.1.0"
