"""Scoring for the instant-voice search: Kokoro speech of a candidate style against the person's ECAPA embedding.

:class:`Scorer` speaks a fixed set of sentence pieces with a candidate style and averages
their ECAPA cosines to a target; :class:`EmbeddingCache` keeps the shipped voices'
embeddings across runs, so screening them is paid once per machine. The search itself is
:mod:`.instant`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..audio import read_audio

class Scorer:
    """Speaks sentences with a candidate style and scores them against the person's embeddings.

    ``verifier``/``target``: ECAPA, the score the search follows. ``second``/``second_target``:
    an optional second verifier (Resemblyzer) on the same audio, the search's guard.
    """

    def __init__(self, engine: Any, verifier: Any, pieces: Sequence[str], target: np.ndarray,
                 second: Any = None, second_target: np.ndarray | None = None) -> None:
        self.engine = engine
        self.verifier = verifier
        self.pieces = list(pieces)
        self.target = target
        self.second = second if second_target is not None else None
        self.second_target = second_target
        self.calls = 0
        self.seconds = 0.0

    def score(self, style: np.ndarray) -> float:
        """Mean ECAPA cosine of the candidate's speech (one per piece) to the target."""
        return self.both(style, second=False)[0]

    def embeddings(self, style: np.ndarray) -> np.ndarray:
        """The candidate's ECAPA embedding on each piece, one row per piece (the walk's model fits these)."""
        return self._speak(style, second=False)[0]

    def both(self, style: np.ndarray, *, second: bool = True) -> tuple[float, float | None]:
        """The ECAPA score and the second verifier's (None without one or with ``second=False``)."""
        from .instant_model import mean_cosine

        rows, other = self._speak(style, second=second)
        return mean_cosine(rows, self.target), other

    def _speak(self, style: np.ndarray, *, second: bool) -> tuple[np.ndarray, float | None]:
        """ECAPA embeddings of every piece, and the second verifier's score when asked.

        The second verifier hears all pieces joined (one embedding: Resemblyzer's LSTM is
        slow on a CPU, and its utterance embedding averages windows anyway).
        """
        from .metrics import cosine as cosine_or_none

        start = time.monotonic()
        rows, audios = [], []
        rate = self.engine.sample_rate
        for piece in self.pieces:
            audio = self.engine.speak_symbols(piece, style=style)
            rows.append(np.asarray(self.verifier.embed(audio, rate), np.float64))
            audios += [audio, np.zeros(rate // 5, np.float32)]
        other = None
        if second and self.second is not None:
            other = cosine_or_none(self.second.embed(np.concatenate(audios), rate), self.second_target)
        self.calls += 1
        self.seconds += time.monotonic() - start
        return np.stack(rows), other

    @property
    def seconds_per_call(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0


def speech_pieces(engine: Any, texts: Sequence[str], max_symbols: int) -> list[str]:
    """Each text's first sentence-piece in Kokoro symbols, cut near ``max_symbols`` at a clause or word."""
    from ..engines.kokoro_tokens import split_symbols
    from ..engines.piper_onnx import Sentence

    pieces = []
    for text in texts:
        first = next((u for u in engine.plan(text) if isinstance(u, Sentence)), None)
        if first is not None:
            pieces.append(split_symbols("".join(first.phonemes), max_symbols)[0])
    return pieces


def target_embeddings(verifier: Any, second: Any, clips: Sequence[Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """The mean unit ECAPA embedding of recordings (anything with a ``path`` to an audio file),
    and the second verifier's (None without one)."""
    from .metrics import mean_embedding
    from .speaker_verify import mean_unit

    embeddings, others = [], []
    for clip in clips:
        samples, rate = read_audio(clip.path)
        embeddings.append(verifier.embed(samples, rate))
        if second is not None:
            others.append(second.embed(samples, rate))
    return mean_unit(embeddings), (mean_embedding(others) if second is not None else None)


class EmbeddingCache:
    """ECAPA embeddings of the shipped voices' speech, kept across runs in voicebank's cache.

    Keyed by the voice file's and the model's pinned sha256, the verifier's and the symbols
    spoken, so a changed model or verifier never reuses an old entry; a damaged cache is
    only a cache (started again).
    """

    def __init__(self) -> None:
        from ..config import cache_dir

        self.path = cache_dir() / "instant" / "shipped-embeddings.npz"
        self._data: dict[str, np.ndarray] = {}
        self._dirty = False
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                self._data = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError):
            self._data = {}

    @staticmethod
    def _key(name: str, piece: str) -> str:
        import hashlib

        from ..engines.kokoro import ENGLISH_VOICES, KOKORO_ONNX
        from .speaker_verify import EMBEDDING_PIN

        raw = "|".join((ENGLISH_VOICES[name], KOKORO_ONNX.sha256, EMBEDDING_PIN.sha256, piece))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def get(self, name: str, piece: str) -> np.ndarray | None:
        return self._data.get(self._key(name, piece))

    def put(self, name: str, piece: str, embedding: np.ndarray) -> np.ndarray:
        self._data[self._key(name, piece)] = np.asarray(embedding, dtype=np.float32)
        self._dirty = True
        return embedding

    def save(self) -> None:
        if not self._dirty:
            return
        from ..durable import atomic_output

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(self.path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **self._data)
        except OSError:
            pass  # a read-only cache only costs the screen's time next run
        self._dirty = False
