"""The Piper-format voice engine (``.onnx`` + ``.onnx.json``) on ONNX Runtime.

Responsible for: text → sentences (the text frontend) → phonemes (:mod:`.phonemize`) →
phoneme ids (``^ _ p1 _ p2 … _ $``, :mod:`voicebank.voice.phonemes`), and turning each
sentence into streamed audio with the windowed flow/decoder of :mod:`.streaming`.  Not
responsible for reading the voice (:mod:`voicebank.voice`), playing, serving or writing
audio: it only yields :class:`~voicebank.audio.AudioChunk`.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Union

import numpy as np

from ..audio import AudioChunk, Pacing
from ..errors import EngineError
from ..text import segments
from ..text.clean import sanitize
from ..voice.config import PiperVoiceConfig
from ..voice.phonemes import BOS, PAD, phoneme_ids
from ..voice.registry import VoiceFiles, file_sha256
from .base import EngineBase, SynthesisOptions, make_chunk
from .phonemize import CLAUSE_MARKS, Phonemizer, make_phonemizer, merge_clusters, phonemize_with_blocks
from .split_model import Latent, SplitModel
from .streaming import (
    Background,
    PlaybackClock,
    WholeSynthesis,
    WindowedSynthesis,
    plan_from_options,
)
from .word_times import PUNCTUATION, PhonemeTimes, WordLinker, WordPlan, phoneme_times, plan_words, timed_words

_NOT_SPOKEN = PUNCTUATION | {" "}
MAX_PHONEMES = 800  # longer sentences are cut at a clause or word boundary (attention is O(n²))
MAX_PAUSE_S = 30.0
FIRST_CLAUSE_MIN_IDS = 300  # auto first-clause mode only for sentences longer than this
FIRST_CLAUSE_MIN_PHONEMES = 15  # a head shorter than this would be over before the rest is ready


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
    words: WordPlan | None = None  # its words over its phonemes, to time them (None: not known)


def _as_text(text: Any) -> str:
    if not isinstance(text, str):
        raise EngineError(f"Text must be a string, not {type(text).__name__}.")
    return text


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
    """True when the phonemes hold something to say (not only punctuation, spaces and marks)."""
    return any(p not in _NOT_SPOKEN and not unicodedata.combining(p[:1] or " ") for p in phonemes)


# --------------------------------------------------------------------------- the engine


class _Peek:
    """An iterator that can look one item ahead."""

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
# A sentence's audio piece: samples, whether it is the last, and optionally the phoneme times it brings
Piece = Union[tuple[np.ndarray, bool], tuple[np.ndarray, bool, Union[PhonemeTimes, None]]]


def _with_times(pieces: Iterator[tuple[np.ndarray, bool]], times: PhonemeTimes | None) -> Iterator[Piece]:
    """The pieces, the first one carrying ``times``."""
    for audio, last in pieces:
        yield (audio, last, times) if times is not None else (audio, last)
        times = None


# A sentence of at most this many phoneme ids (~1.5 s of speech) is spoken in one piece, each
# part of the graph called once over all of it (the uncut graph where the parts give no
# durations to time words by): windows would cost the decoder's edge context (~20 % more
# work) to bring its first audio ~10 ms sooner.
SHORT_IDS = 40


class PiperOnnxEngine(EngineBase):
    """Speaks with one Piper-format voice; thread-safe, sessions shared by all calls.

    Args:
        voice: where the model and config are (see :func:`voicebank.voice.registry.resolve_voice`).
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
        from .split import LazySession, ensure_parts

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
        id_map = self.config.phoneme_id_map
        self._pad_ids = len(id_map.get(PAD, [0]))  # ids of one pad, and ids before the first phoneme
        self._lead_ids = len(id_map.get(BOS, [])) + self._pad_ids
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
        self._whole = LazySession(voice.model, self.threads, spin=True)

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

    def load(self) -> None:
        """Make every ONNX Runtime session now (they are made at first use otherwise)."""
        self._whole.load()
        if self.split is not None:
            self.split.load()

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
        text = sanitize(_as_text(text))
        with self._cache_lock:
            hit = self._phoneme_cache.get(text)
            if hit is not None:
                self._phoneme_cache.move_to_end(text)
                return [list(s) for s in hit]
        if self.phonemizer is None:
            result = [list(unicodedata.normalize("NFD", text))] if text.strip() else []
        else:
            result = phonemize_with_blocks(self.phonemizer, self.config.espeak_voice, text)
            if self.config.vowel_clusters:
                result = [merge_clusters(s, self.config.vowel_clusters) for s in result]
        with self._cache_lock:
            self._phoneme_cache[text] = result
            while len(self._phoneme_cache) > 512:
                self._phoneme_cache.popitem(last=False)
        return [list(s) for s in result]

    def phoneme_ids(self, phonemes: Sequence[str]) -> tuple[list[int], list[int]]:
        """Ids ``^ _ p1 _ … pn _ $`` and, per phoneme, the id count up to and including its pad."""
        return phoneme_ids(phonemes, self.config.phoneme_id_map)

    def plan(self, text: str, max_chars: int = 400) -> Iterator[Pause | Sentence]:
        """The units to speak for ``text``, lazily: pauses and phonemized sentences (with their words)."""
        segs = segments(_as_text(text), lexicon=self.lexicon, max_chars=max_chars)
        linker = WordLinker(text, [seg.text for seg in segs if seg.kind == "speech"])
        for seg in segs:
            if seg.kind == "pause":
                seconds = float(seg.seconds or 0.0)
                if seconds > 0:
                    yield Pause(min(seconds, MAX_PAUSE_S))
                continue
            pieces = [p for phonemes in self.phonemize(seg.text) for p in split_long(phonemes) if is_spoken(p)]
            plans = plan_words(pieces, linker.next_segment())
            for piece, words in zip(pieces, plans):
                yield Sentence(tuple(piece), seg.text, words)

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
    ) -> Iterator[Piece]:
        """Float audio pieces of one sentence with a flag on the last one (``clock``: the stream's).

        Where the voice gives durations, a piece may carry a third item: the
        :class:`~.word_times.PhonemeTimes` it lets the stream time (on the first piece: all
        phonemes, or a first clause's; on the first piece after a first clause: the rest).
        """
        if options.seed is not None:  # narration: the whole sentence, its noise from the seed
            from .seeded import seeded_sentence

            yield seeded_sentence(self, phonemes, options)
            return
        k = self.first_clause_cut(phonemes, options)
        if k is None:
            if self.split is not None and len(self.phoneme_ids(phonemes)[0]) <= SHORT_IDS:
                yield self._short_audio(phonemes, options)
                return
            synthesis = self.open_sentence(phonemes, options)
            yield from _with_times(synthesis.chunks(clock=clock), self._times(synthesis.latent, phonemes))
            return
        head = self.open_sentence(phonemes[:k], options)
        whole: Background | None = None
        said = 0  # samples of the head
        for audio, _ in head.chunks(clock=clock):
            first = whole is None
            if first:  # start encoding the whole sentence while the head plays
                whole = Background(lambda: self.open_sentence(phonemes, options))
            said += len(audio)
            yield (audio, False, self._times(head.latent, phonemes[:k])) if first else (audio, False)
        assert whole is not None
        full = whole.result()
        seam = self.seam_frame(full, phonemes, k) or 0
        rest = self._times(full.latent, phonemes, first=k, shift=said - seam * self.hop)
        yield from _with_times(full.chunks(seam, fast_start=False, clock=clock), rest)

    def _short_audio(self, phonemes: Sequence[str], options: SynthesisOptions) -> Piece:
        """A short sentence in one piece: the cut parts in one call each where they give durations
        (the same samples, +1 ms measured), else the uncut graph."""
        if self.split is None or self.split.cut.durations is None:
            return self.whole_audio(phonemes, options), True
        latent = self.split.encode(self._feeds(phonemes, options))
        return self.split.whole(latent), True, self._times(latent, phonemes)

    def _times(self, latent: Latent | None, phonemes: Sequence[str], first: int = 0, shift: int = 0) -> PhonemeTimes | None:
        """When phonemes ``first…`` sound, from the latent's durations (None if it has none)."""
        if latent is None or latent.durations is None:
            return None
        _, ends = self.phoneme_ids(phonemes)
        return phoneme_times(latent.durations, ends, self._lead_ids, self._pad_ids, self.hop, first, shift=shift)

    # ---- the Engine protocol -------------------------------------------------------------

    def stream(
        self, text: str, options: SynthesisOptions | None = None, pacing: Pacing | None = None
    ) -> Iterator[AudioChunk]:
        """Speak ``text``; the first chunk leaves after the first window of the first sentence.

        ``pacing``: how the consumer takes the audio (its lead, its clock; ``UNPACED`` for a
        file); None: a listener with the default lead.
        """
        opts = options or SynthesisOptions()
        yield from emit_chunks(self.plan(text), self.sentence_audio, self.sample_rate, opts, pacing)


def emit_chunks(
    items: Iterator[Pause | Sentence],
    sentence_audio: Callable[[Sequence[str], SynthesisOptions, PlaybackClock], Iterator[Piece]],
    sample_rate: int,
    options: SynthesisOptions,
    pacing: Pacing | None = None,
) -> Iterator[AudioChunk]:
    """Turn speech units into typed chunks with sentence/utterance flags.

    The next unit is looked at (phonemized) only when a sentence's last piece is ready,
    so flags never hold audio back.  One :class:`PlaybackClock` (on the consumer's
    ``pacing``) follows everything handed out, so each sentence's windows are sized from
    all the audio ahead of the listener.  A piece that brings phoneme times puts the words
    they time on its chunk (all of a sentence's on its first chunk, unless a first clause was
    spoken apart: then the rest come on the first chunk after it), timed from the stream's start.
    """
    units = _Peek(iter(items))
    sr = sample_rate
    clock = PlaybackClock(pacing)
    spoke = False
    sent = 0  # samples handed out
    while True:
        item = units.next()
        if item is None:
            break
        if isinstance(item, Pause):
            last = units.peek() is None
            silence = np.zeros(int(item.seconds * sr), np.float32)
            clock.sent(len(silence) / sr)
            sent += len(silence)
            yield make_chunk(silence, sr, options, utterance_end=last)
            spoke = True
            continue
        first, start, timed = True, sent, 0  # timed: the sentence's words handed out so far
        for audio, last_piece, *times in sentence_audio(item.phonemes, options, clock):
            if last_piece and options.sentence_silence > 0:
                audio = np.concatenate([audio, np.zeros(int(options.sentence_silence * sr), np.float32)])
            clock.sent(len(audio) / sr)
            sent += len(audio)
            chunk = make_chunk(
                audio,
                sr,
                options,
                sentence_start=first,
                sentence_end=last_piece,
                utterance_end=last_piece and units.peek() is None,
            )
            if times and times[0] is not None and item.words is not None:
                words, timed = timed_words(item.words, times[0], start, sr, timed)
                chunk = replace(chunk, words=words) if words else chunk
            yield chunk
            first = False
            spoke = True
    if not spoke:
        yield make_chunk(np.zeros(0, np.float32), sr, options, utterance_end=True)

