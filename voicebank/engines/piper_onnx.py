"""The Piper-format voice engine (``.onnx`` + ``.onnx.json``) on ONNX Runtime.

Responsible for: reading the voice config, text → sentences (the text frontend) →
phonemes (espeak-ng) → phoneme ids (``^ _ p1 _ p2 … _ $``), and turning each sentence into
streamed audio with the windowed flow/decoder of :mod:`.streaming`.  Not responsible for
playing, serving or writing audio: it only yields :class:`~voicebank.audio.AudioChunk`.

espeak-ng comes from one of two places, reported by :attr:`PiperOnnxEngine.phonemizer`:

* ``piper``: the espeak-ng compiled into ``piper-tts`` with the data that wheel ships
  (works offline right after ``pip install``; this is what Piper itself uses);
* ``system``: the system library (Debian's ``libespeak-ng1`` + ``espeak-ng-data``), called
  through ctypes; clause punctuation is restored around espeak's output the way Piper does.

``espeak="auto"`` takes ``piper`` when it is installed, else ``system``.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..audio import AudioChunk
from ..errors import EngineError, MissingDependencyError
from .base import EngineBase, SynthesisOptions, make_chunk
from .registry import VoiceFiles, file_sha256
from .streaming import (
    Background,
    Latent,
    PlaybackClock,
    SplitModel,
    WholeSynthesis,
    WindowedSynthesis,
    plan_from_options,
)

PAD, BOS, EOS = "_", "^", "$"
CLAUSE_MARKS = frozenset(",;:")
_NOT_SPOKEN = frozenset(" .,;:!?¡¿-–—…'\"()[]«»“”‘’")
MAX_PHONEMES = 800  # longer sentences are cut at a clause or word boundary (attention is O(n²))
MAX_PAUSE_S = 30.0
FIRST_CLAUSE_MIN_IDS = 300  # auto first-clause mode only for sentences longer than this
FIRST_CLAUSE_MIN_PHONEMES = 15  # a head shorter than this would be over before the rest is ready
_ESPEAK_LOCK = threading.Lock()
_PHONEME_BLOCK = re.compile(r"\[\[\s*([^\[\]\n]+?)\s*\]\]")  # as voicebank.text.PHONEME_MARKER


# --------------------------------------------------------------------------- voice config


@dataclass(frozen=True)
class PiperVoiceConfig:
    """The parts of a Piper ``.onnx.json`` the engine uses."""

    sample_rate: int
    espeak_voice: str
    phoneme_id_map: dict[str, list[int]]
    phoneme_type: str = "espeak"
    num_speakers: int = 1
    speaker_id_map: dict[str, int] = field(default_factory=dict)
    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w_scale: float = 0.8
    hop_length: int = 256
    vowel_clusters: tuple[tuple[str, ...], ...] = ()

    @staticmethod
    def from_dict(data: dict[str, Any]) -> PiperVoiceConfig:
        try:
            inference = data.get("inference", {}) or {}
            id_map = {str(k): [int(i) for i in v] for k, v in data["phoneme_id_map"].items()}
            return PiperVoiceConfig(
                sample_rate=int(data["audio"]["sample_rate"]),
                espeak_voice=str((data.get("espeak") or {}).get("voice", "en-us")),
                phoneme_id_map=id_map,
                phoneme_type=str(data.get("phoneme_type", "espeak")),
                num_speakers=int(data.get("num_speakers", 1)),
                speaker_id_map={str(k): int(v) for k, v in (data.get("speaker_id_map") or {}).items()},
                noise_scale=float(inference.get("noise_scale", 0.667)),
                length_scale=float(inference.get("length_scale", 1.0)),
                noise_w_scale=float(inference.get("noise_w", 0.8)),
                hop_length=int(data.get("hop_length", 256)),
                vowel_clusters=tuple(tuple(c) for c in data.get("vowel_clusters") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(f"The voice config is not a Piper voice config ({exc!r} missing or wrong).") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "audio": {"sample_rate": self.sample_rate},
            "espeak": {"voice": self.espeak_voice},
            "phoneme_type": self.phoneme_type,
            "num_speakers": self.num_speakers,
            "speaker_id_map": dict(self.speaker_id_map),
            "inference": {
                "noise_scale": self.noise_scale,
                "length_scale": self.length_scale,
                "noise_w": self.noise_w_scale,
            },
            "hop_length": self.hop_length,
            "phoneme_id_map": dict(self.phoneme_id_map),
            "vowel_clusters": [list(c) for c in self.vowel_clusters],
        }

    @staticmethod
    def load(path: Path) -> PiperVoiceConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EngineError(f"Cannot read the voice config {path} ({exc}).") from exc
        if not isinstance(data, dict):
            raise EngineError(f"{path} is not a Piper voice config.")
        return PiperVoiceConfig.from_dict(data)


# --------------------------------------------------------------------------- espeak-ng


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


# --------------------------------------------------------------------------- text units


@dataclass(frozen=True)
class Pause:
    """Silence asked for by the text (an explicit pause)."""

    seconds: float


@dataclass(frozen=True)
class Sentence:
    """One synthesis unit: the phonemes of a sentence (or of a piece of an over-long one)."""

    phonemes: tuple[str, ...]
    text: str


def clean_text(text: str) -> str:
    """Drop control, format, surrogate and unassigned characters; whitespace controls become spaces."""
    if not isinstance(text, str):
        raise EngineError(f"Text must be a string, not {type(text).__name__}.")
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\f\v\x85\u2028\u2029":
            out.append(" ")
        elif cat in ("Cc", "Cs", "Co", "Cn") or (cat == "Cf" and ch not in "\u200c\u200d"):
            continue
        else:
            out.append(ch)
    return "".join(out)


def split_long(phonemes: Sequence[str], limit: int = MAX_PHONEMES) -> list[list[str]]:
    """Cut a phoneme list longer than ``limit`` at clause marks, else spaces, else anywhere."""
    rest = list(phonemes)
    pieces = []
    while len(rest) > limit:
        window = rest[:limit]
        cut = 0
        for i in range(len(window) - 1, limit // 3, -1):
            if window[i] in CLAUSE_MARKS or window[i] in ".!?":
                cut = i + 1
                break
        if not cut:
            for i in range(len(window) - 1, limit // 3, -1):
                if window[i] == " ":
                    cut = i + 1
                    break
        cut = cut or limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def is_spoken(phonemes: Sequence[str]) -> bool:
    return any(p not in _NOT_SPOKEN and not unicodedata.combining(p[:1] or " ") for p in phonemes)


# --------------------------------------------------------------------------- the engine


class _Peek:
    def __init__(self, it: Iterator[Any]) -> None:
        self._it = it
        self._buf: list[Any] = []

    def next(self) -> Any:
        if self._buf:
            return self._buf.pop()
        return next(self._it, None)

    def peek(self) -> Any:
        if not self._buf:
            item = next(self._it, None)
            if item is None:
                return None
            self._buf.append(item)
        return self._buf[0]


Synthesis = Union[WindowedSynthesis, WholeSynthesis]


# A sentence of at most this many phoneme ids (~1.5 s of speech) is spoken by the uncut graph in
# one call: windows would cost three sessions and the decoder's edge context (~20 % more work)
# to bring its first audio ~10 ms sooner.
SHORT_IDS = 40


class PiperOnnxEngine(EngineBase):
    """Speaks with one Piper-format voice; thread-safe, sessions shared by all calls.

    Args:
        voice: where the model and config are (see :func:`.registry.resolve_voice`).
        threads: ONNX Runtime intra-op threads per session (1 is the most robust when the
            cores are shared; inter-op threads are always 1).
        espeak: ``auto``, ``piper`` or ``system`` (see the module docstring).
        streaming: False runs the whole graph per sentence (as Piper does).
        lexicon: a :class:`voicebank.text.Lexicon` of the user's own pronunciations.
    """

    def __init__(
        self,
        voice: VoiceFiles,
        *,
        threads: int = 1,
        espeak: str = "auto",
        streaming: bool = True,
        lexicon: Any = None,
    ) -> None:
        from .split import ensure_parts, make_session

        self.voice = voice
        self.name = voice.name
        self.config = PiperVoiceConfig.load(voice.config)
        if self.config.phoneme_type not in ("espeak", "text"):
            raise EngineError(
                f"Voice {voice.name} uses {self.config.phoneme_type!r} phonemes; "
                "this engine speaks espeak- and text-phoneme voices."
            )
        self.sample_rate = self.config.sample_rate
        self.hop = self.config.hop_length
        self.threads = max(1, int(threads))
        self.lexicon = lexicon
        self.phonemizer: Phonemizer | None = (
            make_phonemizer(espeak) if self.config.phoneme_type == "espeak" else None
        )
        self._phoneme_cache: OrderedDict[str, list[list[str]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.split: SplitModel | None = None
        if streaming:
            parts = ensure_parts(voice.model, file_sha256(voice.model))
            if parts is not None:
                self.split = SplitModel(parts, self.threads)
        # The uncut graph: for every sentence when the graph cannot be cut, else for short
        # sentences (one call instead of three; the sentence is about one first window anyway).
        self._whole = make_session(voice.model, self.threads, spin=True)

    # ---- description -------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        """True when sentences are decoded in windows (the graph could be cut)."""
        return self.split is not None

    @property
    def can_split_sentences(self) -> bool:
        """True when a sentence can be continued from inside it (first-clause mode, type-ahead)."""
        return self.split is not None and self.split.cut.durations is not None

    @property
    def espeak(self) -> str:
        """Which espeak-ng this engine phonemizes with, in words."""
        return self.phonemizer.description if self.phonemizer else "none (text phonemes)"

    def describe(self) -> dict[str, Any]:
        return {
            "voice": self.name,
            "model": str(self.voice.model),
            "sample_rate": self.sample_rate,
            "streaming": self.streaming,
            "threads": self.threads,
            "espeak": self.espeak,
        }

    # ---- text → phonemes → ids ------------------------------------------------------

    def phonemize(self, text: str) -> list[list[str]]:
        """Phonemes of ``text`` grouped by sentence (espeak-ng's sentence ends, as Piper)."""
        text = clean_text(text)
        with self._cache_lock:
            hit = self._phoneme_cache.get(text)
            if hit is not None:
                self._phoneme_cache.move_to_end(text)
                return [list(s) for s in hit]
        if self.phonemizer is None:
            result = [list(unicodedata.normalize("NFD", text))] if text.strip() else []
        else:
            result = self._espeak_with_blocks(text)
            if self.config.vowel_clusters:
                result = [_merge_clusters(s, self.config.vowel_clusters) for s in result]
        with self._cache_lock:
            self._phoneme_cache[text] = result
            while len(self._phoneme_cache) > 512:
                self._phoneme_cache.popitem(last=False)
        return [list(s) for s in result]

    def _espeak_with_blocks(self, text: str) -> list[list[str]]:
        """espeak-ng for text, ``[[ phonemes ]]`` blocks (from a lexicon) passed through as they are."""
        assert self.phonemizer is not None
        sentences: list[list[str]] = []
        glue = False  # the previous part was a phoneme block: continue its sentence
        for i, part in enumerate(_PHONEME_BLOCK.split(text)):
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
            found = self.phonemizer.phonemize(self.config.espeak_voice, part)
            if glue and found and sentences:
                sentences[-1].append(" ")
                sentences[-1].extend(found.pop(0))
            sentences.extend(found)
            glue = False
        return [s for s in sentences if s]

    def phoneme_ids(self, phonemes: Sequence[str]) -> tuple[list[int], list[int]]:
        """Ids ``^ _ p1 _ … pn _ $`` and, per phoneme, the id count up to and including its pad."""
        id_map = self.config.phoneme_id_map
        pad = id_map.get(PAD, [0])
        ids: list[int] = list(id_map.get(BOS, [])) + list(pad)
        ends = []
        for p in phonemes:
            mapped = id_map.get(p)
            if mapped:
                ids.extend(mapped)
                ids.extend(pad)
            ends.append(len(ids))
        ids.extend(id_map.get(EOS, []))
        return ids, ends

    def plan(self, text: str, max_chars: int = 400) -> Iterator[Pause | Sentence]:
        """The units to speak for ``text``, lazily: pauses and phonemized sentences."""
        from voicebank.text import segments

        for seg in segments(clean_text(text), lexicon=self.lexicon, max_chars=max_chars):
            if seg.kind == "pause":
                seconds = float(seg.seconds or 0.0)
                if seconds > 0:
                    yield Pause(min(seconds, MAX_PAUSE_S))
                continue
            for phonemes in self.phonemize(seg.text):
                for piece in split_long(phonemes):
                    if is_spoken(piece):
                        yield Sentence(tuple(piece), seg.text)

    # ---- synthesis units ---------------------------------------------------------------

    def _feeds(self, phonemes: Sequence[str], options: SynthesisOptions) -> dict[str, np.ndarray]:
        ids, _ = self.phoneme_ids(phonemes)
        c = self.config
        scales = np.array(
            [
                c.noise_scale if options.noise_scale is None else options.noise_scale,
                c.length_scale if options.length_scale is None else options.length_scale,
                c.noise_w_scale if options.noise_w_scale is None else options.noise_w_scale,
            ],
            dtype=np.float32,
        )
        feeds = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": scales,
        }
        if c.num_speakers > 1:
            sid = options.speaker_id if options.speaker_id is not None else 0
            if not 0 <= sid < c.num_speakers:
                raise EngineError(f"Voice {self.name} has speakers 0…{c.num_speakers - 1}, not {sid}.")
            feeds["sid"] = np.array([sid], dtype=np.int64)
        return feeds

    def encode(self, phonemes: Sequence[str], options: SynthesisOptions | None = None) -> Latent:
        """Run the text encoder (and duration predictor) of a sentence: its noised latent."""
        if self.split is None:
            raise EngineError(f"Voice {self.name} cannot be streamed: its graph could not be cut.")
        return self.split.encode(self._feeds(phonemes, options or SynthesisOptions()))

    def whole_audio(self, phonemes: Sequence[str], options: SynthesisOptions | None = None) -> np.ndarray:
        """A sentence's audio from the uncut graph in one call (as Piper runs it)."""
        return self._whole.run(None, self._feeds(phonemes, options or SynthesisOptions()))[0].reshape(-1)

    def open_sentence(self, phonemes: Sequence[str], options: SynthesisOptions | None = None) -> Synthesis:
        """Encode a sentence and return its windowed synthesis (audio computed on demand)."""
        opts = options or SynthesisOptions()
        if self.split is None:
            return WholeSynthesis(lambda: self.whole_audio(phonemes, opts))
        latent = self.split.encode(self._feeds(phonemes, opts))
        return WindowedSynthesis(self.split, latent, self.hop, plan_from_options(opts), self.sample_rate)

    def first_clause_cut(self, phonemes: Sequence[str], options: SynthesisOptions | None = None) -> int | None:
        """Where the first clause ends (a phoneme count) if the first-clause trick applies, else None."""
        opts = options or SynthesisOptions()
        if not self.can_split_sentences or opts.first_clause is False:
            return None
        n = len(phonemes)
        if opts.first_clause is None and len(self.phoneme_ids(phonemes)[0]) < FIRST_CLAUSE_MIN_IDS:
            return None
        for i in range(FIRST_CLAUSE_MIN_PHONEMES - 2, n - 1):
            if phonemes[i] in CLAUSE_MARKS and phonemes[i + 1] == " ":
                k = i + 2
                return k if k <= 0.6 * n else None
        return None

    def seam_frame(self, synthesis: Synthesis, phonemes: Sequence[str], k: int) -> int | None:
        """The latent frame where the first ``k`` phonemes end in a whole-sentence synthesis."""
        latent = getattr(synthesis, "latent", None)
        if latent is None or latent.durations is None:
            return None
        _, ends = self.phoneme_ids(phonemes)
        return int(round(float(np.sum(latent.durations[: ends[k - 1]]))))

    def sentence_audio(
        self, phonemes: Sequence[str], options: SynthesisOptions, clock: PlaybackClock | None = None
    ) -> Iterator[tuple[np.ndarray, bool]]:
        """Float audio pieces of one sentence with a flag on the last one (``clock``: the stream's)."""
        k = self.first_clause_cut(phonemes, options)
        if k is None:
            if self.split is not None and len(self.phoneme_ids(phonemes)[0]) <= SHORT_IDS:
                yield self.whole_audio(phonemes, options), True
                return
            yield from self.open_sentence(phonemes, options).chunks(clock=clock)
            return
        head = self.open_sentence(phonemes[:k], options)
        whole: Background | None = None
        for audio, _ in head.chunks(clock=clock):
            if whole is None:  # start encoding the whole sentence while the head plays
                whole = Background(lambda: self.open_sentence(phonemes, options))
            yield audio, False
        assert whole is not None
        full = whole.result()
        seam = self.seam_frame(full, phonemes, k)
        yield from full.chunks(seam or 0, fast_start=False, clock=clock)

    # ---- the Engine protocol -------------------------------------------------------------

    def stream(self, text: str, options: SynthesisOptions | None = None) -> Iterator[AudioChunk]:
        """Speak ``text``; the first chunk leaves after the first window of the first sentence."""
        opts = options or SynthesisOptions()
        yield from emit_chunks(self.plan(text), self.sentence_audio, self.sample_rate, opts)


def emit_chunks(
    items: Iterator[Pause | Sentence],
    sentence_audio: Callable[[Sequence[str], SynthesisOptions, PlaybackClock], Iterator[tuple[np.ndarray, bool]]],
    sample_rate: int,
    options: SynthesisOptions,
) -> Iterator[AudioChunk]:
    """Turn speech units into typed chunks with sentence/utterance flags.

    The next unit is looked at (phonemized) only when a sentence's last piece is ready,
    so flags never hold audio back.  One :class:`PlaybackClock` follows everything handed
    out, so each sentence's windows are sized from all the audio ahead of the listener.
    """
    units = _Peek(iter(items))
    sr = sample_rate
    clock = PlaybackClock()
    spoke = False
    while True:
        item = units.next()
        if item is None:
            break
        if isinstance(item, Pause):
            last = units.peek() is None
            silence = np.zeros(int(item.seconds * sr), np.float32)
            clock.sent(len(silence) / sr)
            yield make_chunk(silence, sr, options, utterance_end=last)
            spoke = True
            continue
        first = True
        for audio, last_piece in sentence_audio(item.phonemes, options, clock):
            if last_piece and options.sentence_silence > 0:
                audio = np.concatenate([audio, np.zeros(int(options.sentence_silence * sr), np.float32)])
            clock.sent(len(audio) / sr)
            yield make_chunk(
                audio,
                sr,
                options,
                sentence_start=first,
                sentence_end=last_piece,
                utterance_end=last_piece and units.peek() is None,
            )
            first = False
            spoke = True
    if not spoke:
        yield make_chunk(np.zeros(0, np.float32), sr, options, utterance_end=True)


def _merge_clusters(phones: list[str], clusters: tuple[tuple[str, ...], ...]) -> list[str]:
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
