"""Text → phonemes with espeak-ng, grouped by sentence and punctuated as Piper does.

espeak-ng comes from one of two places (:func:`make_phonemizer`):

* ``piper``: the espeak-ng compiled into ``piper-tts`` with the data that wheel ships
  (works offline right after ``pip install``; this is what Piper itself uses);
* ``system``: the system library (Debian's ``libespeak-ng1`` + ``espeak-ng-data``), called
  through ctypes; clause punctuation is restored around espeak's output the way Piper does.

``auto`` takes ``piper`` when it is installed, else ``system``. Inline ``[[ phonemes ]]``
(from the user's lexicon) pass through as they are (:func:`phonemize_with_blocks`).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

from ..errors import EngineError, MissingDependencyError
from ..text import PHONEME_MARKER

CLAUSE_MARKS = frozenset(",;:")
_ESPEAK_LOCK = threading.Lock()


class Phonemizer:
    """Text → phonemes grouped by sentence, punctuation kept as Piper does."""

    backend = "none"
    description = ""

    def phonemize(self, voice: str, text: str) -> list[list[str]]:
        clauses = self._clauses(voice, text)
        sentences: list[list[str]] = []
        current: list[str] = []
        for phonemes, terminator, end in clauses:
            phonemes = re.sub(r"\([^)]+\)", "", phonemes)  # (en) language-switch flags
            text_ = phonemes + terminator
            if terminator in CLAUSE_MARKS:
                text_ += " "
            current.extend(unicodedata.normalize("NFD", text_))
            if end:
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
        return [s for s in sentences if s]

    def _clauses(self, voice: str, text: str) -> list[tuple[str, str, bool]]:
        raise NotImplementedError


class PiperEspeak(Phonemizer):
    """espeak-ng as compiled into piper-tts, with the data files of that wheel."""

    backend = "piper"

    def __init__(self) -> None:
        try:
            from piper import espeakbridge
            from piper.phonemize_espeak import ESPEAK_DATA_DIR
        except ImportError as exc:
            raise MissingDependencyError("piper-tts (espeak-ng for phonemes)", "speak") from exc
        from importlib.metadata import PackageNotFoundError, version

        try:
            piper_version = version("piper-tts")
        except PackageNotFoundError:
            piper_version = "?"
        self._bridge = espeakbridge
        self.data_dir = Path(ESPEAK_DATA_DIR)
        with _piper_lock():
            espeakbridge.initialize(str(self.data_dir))
        self.description = f"espeak-ng bundled in piper-tts {piper_version} (data: {self.data_dir})"

    def _clauses(self, voice: str, text: str) -> list[tuple[str, str, bool]]:
        with _piper_lock():
            self._bridge.set_voice(voice)
            return list(self._bridge.get_phonemes(text))


def _piper_lock() -> Any:
    """Piper's own espeak lock when piper is loaded (its voices share the bridge), else ours."""
    import sys

    voice_mod = sys.modules.get("piper.voice")
    lock = getattr(voice_mod, "_ESPEAK_PHONEMIZER_LOCK", None)
    return lock if lock is not None else _ESPEAK_LOCK


class SystemEspeak(Phonemizer):
    """The system's libespeak-ng (e.g. Debian ``libespeak-ng1``) through ctypes."""

    backend = "system"
    _SPLIT = re.compile(r"([,;:.!?]+)(?=\s|$)")

    def __init__(self, library: str | None = None) -> None:
        import ctypes
        import ctypes.util

        name = library or ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise MissingDependencyError(
                "espeak-ng (install piper-tts, or the system's libespeak-ng)", "speak"
            ) from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        with _ESPEAK_LOCK:
            if lib.espeak_Initialize(1, 0, None, 0) <= 0:  # 1 = AUDIO_OUTPUT_RETRIEVAL: no sound device
                raise EngineError(f"The system espeak-ng ({name}) failed to start: is its data installed?")
            data = ctypes.c_char_p()
            ver = (lib.espeak_Info(ctypes.byref(data)) or b"?").decode()
        self._ctypes = ctypes
        self._lib = lib
        self._voice: str | None = None
        self.data_dir = Path((data.value or b"").decode())
        self.description = f"espeak-ng {ver} from the system ({name}, data: {self.data_dir})"

    def _clauses(self, voice: str, text: str) -> list[tuple[str, str, bool]]:
        ctypes = self._ctypes
        out: list[tuple[str, str, bool]] = []
        pieces = self._SPLIT.split(text)
        with _ESPEAK_LOCK:
            if voice != self._voice:
                if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise EngineError(f"The system espeak-ng has no voice {voice!r}.")
                self._voice = voice
            for i in range(0, len(pieces), 2):
                chunk = pieces[i]
                punct = pieces[i + 1] if i + 1 < len(pieces) else ""
                buf = ctypes.create_string_buffer(chunk.encode("utf-8", "replace"))
                ptr = ctypes.c_void_p(ctypes.addressof(buf))
                parts = []
                while ptr.value:
                    res = self._lib.espeak_TextToPhonemes(ctypes.byref(ptr), 1, 0x02)  # UTF-8 in, IPA out
                    if res:
                        parts.append(res.decode("utf-8", "replace").strip())
                phonemes = " ".join(p for p in parts if p)
                term = "?" if "?" in punct else "!" if "!" in punct else punct[:1]
                if phonemes or term:
                    out.append((phonemes, term, term in (".", "!", "?")))
        return out


def make_phonemizer(which: str = "auto") -> Phonemizer:
    """``piper``, ``system`` or ``auto`` (piper's bundled espeak-ng if installed, else the system one)."""
    if which == "piper":
        return PiperEspeak()
    if which == "system":
        return SystemEspeak()
    if which != "auto":
        raise EngineError(f"espeak must be 'auto', 'piper' or 'system', not {which!r}.")
    try:
        return PiperEspeak()
    except MissingDependencyError:
        return SystemEspeak()


def phonemize_with_blocks(phonemizer: Phonemizer, voice: str, text: str) -> list[list[str]]:
    """espeak-ng for text, ``[[ phonemes ]]`` blocks (from a lexicon) passed through as they are."""
    sentences: list[list[str]] = []
    glue = False  # the previous part was a phoneme block: continue its sentence
    for i, part in enumerate(PHONEME_MARKER.split(text)):
        if i % 2 == 1:
            if not sentences:
                sentences.append([])
            if sentences[-1] and sentences[-1][-1] != " ":
                sentences[-1].append(" ")
            sentences[-1].extend(unicodedata.normalize("NFD", part.strip()))
            glue = True
            continue
        if not part.strip():
            continue
        found = phonemizer.phonemize(voice, part)
        if glue and found and sentences:
            sentences[-1].append(" ")
            sentences[-1].extend(found.pop(0))
        sentences.extend(found)
        glue = False
    return [s for s in sentences if s]


def merge_clusters(phones: list[str], clusters: tuple[tuple[str, ...], ...]) -> list[str]:
    """Join runs of phonemes that a voice maps to one id (its ``vowel_clusters``), longest first."""
    wanted = set(clusters)
    longest = max(len(c) for c in clusters)
    out: list[str] = []
    i = 0
    while i < len(phones):
        for n in range(min(longest, len(phones) - i), 1, -1):
            if tuple(phones[i : i + n]) in wanted:
                out.append("".join(phones[i : i + n]))
                i += n
                break
        else:
            out.append(phones[i])
            i += 1
    return out
