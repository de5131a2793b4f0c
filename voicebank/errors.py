"""One exception tree for everything voicebank raises on purpose.

Messages are written for the person in front of the screen: say what is wrong
and what to do about it. The CLI prints them without a traceback.
"""

from __future__ import annotations


class VoicebankError(Exception):
    """Base class: a problem the user can understand and act on."""

    exit_code = 2


class UsageError(VoicebankError):
    """The command was given something it cannot work with (a missing path, a bad option)."""


class AudioFormatError(VoicebankError):
    """An audio file cannot be read, or is in a form we refuse to store (8-bit, empty, not audio)."""


class BankError(VoicebankError):
    """A voice bank cannot be opened or changed safely."""


class BankCorruptError(BankError):
    """The bank's manifest or journal is damaged beyond automatic recovery."""


class BankLockedError(BankError):
    """Another process is writing to the bank."""


class IntegrityError(BankError):
    """A file's contents do not match the checksum the bank recorded for it."""


class MissingDependencyError(VoicebankError):
    """An optional component is not installed; the message names the extra to install."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} is not installed. Install it with: pip install 'voicebank[{extra}]'"
        )
        self.extra = extra


class AudioDeviceError(VoicebankError):
    """No usable microphone or speaker, or the sound system refused to open a stream."""


class EngineError(VoicebankError):
    """A voice cannot be loaded or cannot speak the given text."""
