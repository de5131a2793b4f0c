"""The Engine protocol: text in, a generator of typed audio chunks out.

Every consumer (local player, HTTP/WebSocket server, audiobook narrator, files) reads the
same generator; :meth:`EngineBase.synthesize` is only a convenience built on it.

Chunk flags: the first chunk of a sentence has ``sentence_start``, its last chunk
``sentence_end``; the very last chunk of the call has ``utterance_end``.  Silence chunks
for explicit pauses carry neither sentence flag.  Text with nothing to say (empty,
whitespace, punctuation only) gives exactly one empty chunk with ``utterance_end``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..audio import UNPACED, AudioChunk, Pacing
from ..errors import EngineError

SAMPLE_FORMATS = ("float32", "int16")


@dataclass(frozen=True)
class SynthesisOptions:
    """Per-call settings (the voice's own settings live in its ``.onnx.json``)."""

    schema_version: int = 1
    length_scale: float | None = None  # >1 slower speech; None: the voice's default
    noise_scale: float | None = None  # generator noise; None: the voice's default
    noise_w_scale: float | None = None  # duration noise; None: the voice's default
    speaker_id: int | None = None  # multi-speaker voices only
    volume: float = 1.0  # gain on the model's output, then clipped to [-1, 1]
    sample_format: str = "float32"  # "float32" or "int16" samples in the chunks
    sentence_silence: float = 0.0  # seconds of silence added after each sentence
    # Speak the first clause of a long sentence on its own for a fast first chunk, then
    # continue with the whole-sentence synthesis from the end of that clause.  None: only
    # for sentences long enough that the text encoder would delay the first chunk.
    first_clause: bool | None = None
    first_window: int = 32  # latent frames (256 samples each) in the first decoded window
    window: int = 256  # at most this many frames in the second window; later ones grow up to max_window
    max_window: int = 1024
    # Draw the voice's noise from this seed, each sentence whole (narration: the same seed gives
    # the same samples in any process); None: the engine's own unseeded, streamed synthesis.
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.sample_format not in SAMPLE_FORMATS:
            raise EngineError(f"sample_format must be one of {SAMPLE_FORMATS}, not {self.sample_format!r}.")
        for name in ("length_scale", "noise_scale", "noise_w_scale"):
            value = getattr(self, name)
            if value is not None and not (0.0 <= float(value) <= 10.0):
                raise EngineError(f"{name} must be between 0 and 10, not {value}.")
        if self.length_scale is not None and self.length_scale <= 0:
            raise EngineError("length_scale must be above 0.")
        if not (0.0 <= self.volume <= 20.0):
            raise EngineError(f"volume must be between 0 and 20, not {self.volume}.")
        if not (0.0 <= self.sentence_silence <= 10.0):
            raise EngineError("sentence_silence must be between 0 and 10 seconds.")
        if not (1 <= self.first_window <= self.max_window and 1 <= self.window <= self.max_window):
            raise EngineError("Windows must be at least 1 frame and at most max_window.")
        if self.seed is not None and not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise EngineError(f"seed must be a whole number from 0 to 2**63-1, not {self.seed!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> SynthesisOptions:
        known = {f.name for f in fields(SynthesisOptions)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise EngineError(f"Unknown synthesis option(s): {', '.join(unknown)}.")
        return SynthesisOptions(**data)


@runtime_checkable
class Engine(Protocol):
    """What every engine offers: a name, a sample rate, and a chunk generator."""

    name: str
    sample_rate: int

    def stream(
        self, text: str, options: SynthesisOptions | None = None, pacing: Pacing | None = None
    ) -> Iterator[AudioChunk]:
        """Speak ``text``: yield chunks as soon as they are computed.

        ``pacing`` is the consumer's (how far ahead it takes audio, its clock); an engine
        may size its work by it, never change the samples for it.
        """
        ...

    def synthesize(self, text: str, options: SynthesisOptions | None = None) -> AudioChunk:
        """Speak ``text`` into one chunk (the whole stream joined)."""
        ...


class EngineBase:
    """Shared behaviour: ``synthesize`` joins ``stream``; subclasses implement ``stream``."""

    name: str = "engine"
    sample_rate: int = 22050

    def stream(
        self, text: str, options: SynthesisOptions | None = None, pacing: Pacing | None = None
    ) -> Iterator[AudioChunk]:
        raise NotImplementedError

    def load(self) -> None:
        """Load now what a first sentence would otherwise wait for (engines load lazily)."""

    def synthesize(self, text: str, options: SynthesisOptions | None = None) -> AudioChunk:
        opts = options or SynthesisOptions()
        parts = [chunk.samples for chunk in self.stream(text, opts, UNPACED)]  # nobody listens meanwhile
        dtype = np.int16 if opts.sample_format == "int16" else np.float32
        samples = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
        return AudioChunk(
            samples=samples,
            sample_rate=self.sample_rate,
            sentence_start=True,
            sentence_end=True,
            utterance_end=True,
        )


def make_chunk(
    samples: np.ndarray,
    sample_rate: int,
    options: SynthesisOptions,
    *,
    sentence_start: bool = False,
    sentence_end: bool = False,
    utterance_end: bool = False,
) -> AudioChunk:
    """Apply volume, clip and convert float samples into the chunk format the caller asked for."""
    audio = np.asarray(samples, dtype=np.float32).reshape(-1)
    if options.volume != 1.0:
        audio = audio * np.float32(options.volume)
    audio = np.clip(audio, -1.0, 1.0)
    if options.sample_format == "int16":
        out: np.ndarray = (audio * 32767.0).astype(np.int16)
    else:
        out = audio.astype(np.float32, copy=False)
    return AudioChunk(
        samples=out,
        sample_rate=sample_rate,
        sentence_start=sentence_start,
        sentence_end=sentence_end,
        utterance_end=utterance_end,
    )
