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


class CorruptFileError(VoicebankError):
    """A file voicebank wrote earlier (JSON settings, records, caches) is damaged."""


class BankError(VoicebankError):
    """A voice bank cannot be opened or changed safely."""


class BankCorruptError(BankError, CorruptFileError):
    """The bank's manifest or journal is damaged beyond automatic recovery."""


class BankLockedError(BankError):
    """Another process is writing to the bank."""


class IntegrityError(BankError):
    """A file's contents do not match the checksum the bank recorded for it."""


class StorageError(VoicebankError, OSError):
    """A file could not be written or read: disk full, read-only, no permission, a folder in the way.

    Also an ``OSError`` (with the original ``errno``), so handlers written for the
    operating system's errors still catch it.
    """


class DiskFullError(StorageError):
    """The disk (or the user's quota) is full; nothing half-written was left behind."""


class MissingDependencyError(VoicebankError):
    """An optional component is not installed; the message names the extra to install."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} is not installed. Install it with: pip install 'voicebank[{extra}]'"
        )
        self.extra = extra


class AudioDeviceError(VoicebankError):
    """No usable microphone or speaker, or the sound system refused to open a stream."""


class EncoderError(VoicebankError):
    """Audio cannot be encoded: an unknown format, or the encoder (ffmpeg) is missing or failed."""


class EngineError(VoicebankError):
    """A voice cannot be loaded or cannot speak the given text."""


class LexiconError(VoicebankError):
    """A lexicon entry or file is not usable; the message says how to fix it."""


class DatasetError(VoicebankError):
    """A dataset cannot be made from this bank, or a folder is not a usable dataset."""


class BaseBuildError(VoicebankError):
    """The offline base could not be built (or its work folder belongs to different settings)."""


class BaseModelMissing(VoicebankError):
    """A base model is needed and not found (complete) anywhere; the message says how to get it."""


class LicenceNotAccepted(UsageError):
    """A download was asked for without accepting the model's licence."""


class ExportError(VoicebankError):
    """A voice folder cannot be exported, or the exported graph does not speak."""


class BaseModelError(VoicebankError):
    """The base model was found but cannot be used (wrong kind, damaged, not matching its config).

    A base that is not there at all raises :class:`BaseModelMissing`.
    """


class RecipeError(UsageError):
    """A recipe cannot be found or does not describe a valid training run."""


class PiperImportError(VoicebankError):
    """The ONNX file is not a Piper VITS voice this importer understands."""


class TrainingError(VoicebankError):
    """Training cannot start or cannot go on; the message says what to do."""


class CheckpointError(VoicebankError):
    """A checkpoint or the voice could not be written (usually: the disk is full)."""


class PaceError(VoicebankError):
    """The speaking rate cannot be measured (no speech in the recordings or in the voice's audio)."""


class RequestError(UsageError):
    """A request the server's API refuses: its HTTP status, and the field at fault (OpenAI's ``param``)."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code
