"""The XTTS-v2 engine: a person's voice from a few of their clips, or from a fine-tuned model.

Responsible for: loading an XTTS voice folder, computing (and caching on disk) the
conditioning latents of its reference clips, and speaking text through the same text
frontend as every other engine (:func:`voicebank.text.segments`), one sentence at a time
with Coqui's ``Xtts.inference_stream`` (a chunk every ``stream_chunk_size`` GPT tokens,
cross-faded by Coqui over ``overlap_samples``). Not responsible for training, for
downloading weights, or for playing audio.

**Licence.** XTTS-v2 weights are under the Coqui Public Model License: any voice made
with them — zero-shot or fine-tuned — is for non-commercial use only (:data:`LICENCE`).

Voice folders (``voice.json``, ``references/``, ``conditioning.pt`` and, when
fine-tuned, Coqui's ``config.json``/``model.pth``/``vocab.json``) are described and made
in :mod:`.xtts_voice`.

Latency: XTTS generates 20 GPT tokens (~0.93 s of speech) before the first chunk; on a
GPU Coqui claims <200 ms, users measured 0.6–0.8 s on an RTX 3090 (coqui-ai/TTS #3375).
On CPU it is several seconds. Measure on the machine that will be used.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import AudioChunk, Pacing, PathLike, read_audio, resample, to_mono
from ..config import cache_dir
from ..durable import atomic_write
from ..errors import BaseModelMissing, EngineError, MissingDependencyError, UsageError
from ..voice.xtts_card import (
    COND_CACHE,
    GPT_RATE,
    LICENCE,
    MODEL_FILES,
    REFERENCES,
    VOICE_CARD,
    XttsSettings,
    XttsVoice,
    is_xtts_voice,
    model_config,
)
from .base import EngineBase, SynthesisOptions, make_chunk
from .xtts_voice import make_voice_from_bank, select_references, write_voice

CODES_PER_SECOND = GPT_RATE / 1024.0  # one GPT audio token per 1024 samples
TAIL_HOLD = 1024  # samples kept back per chunk so the sentence's last chunk is never empty


# ------------------------------------------------------------------------ the engine


class XttsEngine(EngineBase):
    """Speaks with one XTTS voice: one model, one set of conditioning latents.

    Build it with :meth:`from_folder` (a voice folder), :meth:`from_bank` (a zero-shot
    voice from a bank's chosen takes) or :meth:`from_clips`. Calls are serialised (one
    generation at a time per engine: Coqui's GPT keeps per-call state on the module), so a
    stream holds the engine until it is finished or closed.

    Per-call options: ``length_scale`` sets the speed (``speed = 1 / length_scale``);
    ``noise_scale = 0`` decodes greedily (repeatable output), other values sample with the
    voice's temperature; ``volume``, ``sample_format`` and ``sentence_silence`` as for every
    engine. Phoneme entries of a lexicon (``[[ … ]]``) cannot be spoken by XTTS and are
    left out; respelling entries work.
    """

    def __init__(
        self,
        model: Any,
        conditioning: tuple[Any, Any],
        *,
        name: str = "xtts",
        settings: XttsSettings | None = None,
        lexicon: Any = None,
        streaming: bool = True,
        voice: XttsVoice | None = None,
    ) -> None:
        self.model = model
        self.gpt_cond_latent, self.speaker_embedding = conditioning
        self.name = name
        self.settings = settings or XttsSettings()
        if not streaming:
            self.settings = replace(self.settings, stream_chunk_size=0)
        self.lexicon = lexicon
        self.voice = voice
        self.sample_rate = int(getattr(model.args, "output_sample_rate", 24000))
        self._lock = threading.Lock()

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def from_folder(
        cls,
        path: PathLike,
        *,
        base: PathLike | None = None,
        references: Sequence[PathLike] | None = None,
        device: str = "auto",
        threads: int | None = None,
        lexicon: Any = None,
        streaming: bool = True,
    ) -> XttsEngine:
        """Load an XTTS voice folder (or a bare Coqui XTTS folder plus ``references``)."""
        voice = XttsVoice.load(path)
        if references:
            voice = replace(voice, references=tuple(Path(r) for r in references))
        if not voice.references:
            raise EngineError(
                f"The XTTS voice {voice.root} has no reference clips: put a few WAV clips of the "
                f"speaker (3–10 s each) in {voice.root / REFERENCES}/, or make the voice from a bank."
            )
        missing = [str(r) for r in voice.references if not r.is_file()]
        if missing:
            raise EngineError(f"Reference clip(s) of {voice.name} are missing: {', '.join(missing)}.")
        model_dir = voice.model_dir or resolve_base(base, recorded=voice.base)
        if threads:
            _torch().set_num_threads(int(threads))
        model = load_model(model_dir, device)
        settings = XttsSettings.from_dict(
            voice.inference, XttsSettings.from_model_config(model_config(model_dir))
        )
        settings = replace(settings, language=voice.language)
        conditioning = cached_conditioning(model, model_dir, voice.references, settings, voice.root)
        return cls(model, conditioning, name=voice.name, settings=settings, lexicon=lexicon,
                   streaming=streaming, voice=voice)

    @classmethod
    def from_bank(
        cls,
        bank_path: PathLike,
        *,
        n_refs: int = 4,
        base: PathLike | None = None,
        voice_dir: PathLike | None = None,
        language: str = "en",
        device: str = "auto",
        lexicon: Any = None,
    ) -> XttsEngine:
        """Zero-shot: a voice conditioned on ``n_refs`` of the bank's best chosen takes.

        The voice folder (default ``voices_dir()/<bank>-xtts``) gets the clips and the cached
        latents, so the next start neither re-reads the bank nor recomputes anything.
        """
        folder = make_voice_from_bank(bank_path, voice_dir, n_refs=n_refs, base=base, language=language)
        return cls.from_folder(folder, base=base, device=device, lexicon=lexicon)

    @classmethod
    def from_clips(
        cls,
        clips: Sequence[PathLike],
        voice_dir: PathLike,
        *,
        base: PathLike | None = None,
        name: str | None = None,
        language: str = "en",
        device: str = "auto",
        lexicon: Any = None,
    ) -> XttsEngine:
        """Zero-shot from audio files (any rate, WAV/FLAC): they are copied into ``voice_dir``."""
        folder = Path(voice_dir)
        loaded = [(Path(c).stem, *_mono(read_audio(c))) for c in clips]
        write_voice(folder, loaded, name=name or folder.name, kind="zero-shot", base=base, language=language)
        return cls.from_folder(folder, base=base, device=device, lexicon=lexicon)

    # ---- description -------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "voice": self.name,
            "engine": "xtts",
            "sample_rate": self.sample_rate,
            "language": self.settings.language,
            "stream_chunk_size": self.settings.stream_chunk_size,
            "device": str(getattr(self.model, "device", "cpu")),
            "licence": LICENCE,
        }

    # ---- the Engine protocol -----------------------------------------------------------

    def stream(
        self, text: str, options: SynthesisOptions | None = None, pacing: Pacing | None = None
    ) -> Iterator[AudioChunk]:
        """Speak ``text``: each sentence streams as XTTS generates it (at its own pace: ``pacing`` is not needed)."""
        opts = options or SynthesisOptions()
        units = self.text_units(text)
        sr = self.sample_rate
        if not units:
            yield make_chunk(np.zeros(0, np.float32), sr, opts, utterance_end=True)
            return
        with self._lock:
            for i, unit in enumerate(units):
                last = i == len(units) - 1
                if isinstance(unit, float):
                    yield make_chunk(np.zeros(int(unit * sr), np.float32), sr, opts, utterance_end=last)
                else:
                    yield from self._sentence(unit, opts, last)

    def text_units(self, text: str) -> list[str | float]:
        """Sentences (str, normalised) and pauses (float seconds) to speak, in order."""
        from voicebank.text import PHONEME_MARKER, segments

        units: list[str | float] = []
        for seg in segments(text, lexicon=self.lexicon, max_chars=self.settings.max_chars):
            if seg.kind == "pause":
                if seg.seconds > 0:
                    units.append(min(float(seg.seconds), 30.0))
                continue
            words = " ".join(PHONEME_MARKER.sub(" ", seg.text).split())
            if any(ch.isalnum() for ch in words):
                units.append(words)
        return units

    def _sentence(self, text: str, opts: SynthesisOptions, last_unit: bool) -> Iterator[AudioChunk]:
        """One sentence through ``inference_stream``; the last chunk carries ``sentence_end``.

        A short tail of each piece is held back until the next piece (or the end) arrives,
        so the end flag rides on real audio and nothing waits for a look-ahead.
        """
        sr = self.sample_rate
        held = np.zeros(0, np.float32)
        first = True
        for piece in self._generate(text, opts):
            audio = np.concatenate([held, piece]) if held.size else piece
            if audio.shape[0] <= TAIL_HOLD:
                held = audio
                continue
            held = audio[-TAIL_HOLD:]
            yield make_chunk(audio[:-TAIL_HOLD], sr, opts, sentence_start=first)
            first = False
        if opts.sentence_silence > 0:
            held = np.concatenate([held, np.zeros(int(opts.sentence_silence * sr), np.float32)])
        yield make_chunk(held, sr, opts, sentence_start=first, sentence_end=True, utterance_end=last_unit)

    def _generate(self, text: str, opts: SynthesisOptions) -> Iterator[np.ndarray]:
        s = self.settings
        speed = 1.0 / float(opts.length_scale) if opts.length_scale else 1.0
        cap = int(np.ceil(CODES_PER_SECOND * (1.5 + s.seconds_per_char * len(text))))
        greedy = opts.noise_scale is not None and float(opts.noise_scale) == 0.0
        gen = self.model.inference_stream(
            text,
            s.language,
            self.gpt_cond_latent,
            self.speaker_embedding,
            stream_chunk_size=s.stream_chunk_size,
            overlap_wav_len=s.overlap_samples,
            temperature=s.temperature,
            length_penalty=s.length_penalty,
            repetition_penalty=s.repetition_penalty,
            top_k=s.top_k,
            top_p=s.top_p,
            do_sample=not greedy,
            speed=speed,
            enable_text_splitting=False,
            stopping_criteria=_token_cap(cap),
        )
        for wav in gen:
            yield wav.detach().float().cpu().numpy().reshape(-1)


# ----------------------------------------------------------------- model and latents


def resolve_base(base: PathLike | None = None, *, recorded: str | None = None) -> Path:
    """The folder of the XTTS-v2 base to speak with.

    ``base`` given: that folder only. Otherwise the folder ``recorded`` in the voice card
    when it is still complete, else the usual places (see :mod:`voicebank.voice.bases`,
    a path-only module — no torch, no Coqui — so the search order is defined once).
    """
    from ..voice.bases import find_base, locate_base

    try:
        if base is None and recorded:
            found = locate_base("xtts_v2", recorded, purpose="speak").found
            if found is not None:
                return found.path
        return find_base("xtts_v2", base, purpose="speak").path
    except BaseModelMissing as exc:
        raise EngineError(str(exc)) from exc


def load_model(model_dir: PathLike, device: str = "auto") -> Any:
    """Load Coqui's Xtts from a folder holding config.json, model.pth and vocab.json."""
    folder = Path(model_dir)
    missing = [f for f in MODEL_FILES if not (folder / f).is_file()]
    if missing:
        raise EngineError(
            f"The XTTS model folder {folder} is missing {', '.join(missing)}. A fine-tuned voice "
            "needs all three; for the XTTS-v2 base run: voicebank train base list"
        )
    torch = _torch()
    try:
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts
    except ImportError as exc:
        raise MissingDependencyError("Coqui TTS (coqui-tts), needed for XTTS voices,", "train") from exc
    dev = pick_device(device)
    with quiet_coqui():
        config = XttsConfig()
        config.load_json(str(folder / "config.json"))
        model = Xtts(config)
        try:
            model.load_checkpoint(config, checkpoint_dir=str(folder), eval=True)
        except (RuntimeError, KeyError, OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            raise EngineError(
                f"The XTTS weights in {folder} cannot be loaded ({type(exc).__name__}: {exc}). The files may be "
                "damaged or from another model; download or export them again."
            ) from exc
        model.to(torch.device(dev))
    return model


def pick_device(device: str | None) -> str:
    """``auto``: CUDA when there is a GPU, else CPU; otherwise the device asked for (checked)."""
    torch = _torch()
    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"Device {device!r} was asked for, but no CUDA GPU is available here; use --device cpu.")
    return str(device)


def compute_conditioning(model: Any, clips: Sequence[tuple[np.ndarray, int]], settings: XttsSettings) -> tuple[Any, Any]:
    """GPT conditioning latents and speaker embedding from ``(samples, rate)`` clips.

    As Coqui's ``get_conditioning_latents``: one speaker embedding per clip (its first
    ``max_ref_len`` seconds), averaged; the GPT latents from all clips joined, first
    ``gpt_cond_len`` seconds, in chunks of ``gpt_cond_chunk_len`` seconds. Audio is read
    here (soundfile) so any WAV/FLAC works without torchaudio's decoders.
    """
    torch = _torch()
    if not clips:
        raise EngineError("At least one reference clip is needed to clone a voice.")
    embeddings = []
    pieces = []
    with quiet_coqui(), torch.inference_mode():
        for samples, rate in clips:
            mono = resample(to_mono(np.asarray(samples, np.float32)), int(rate), GPT_RATE)
            audio = torch.from_numpy(np.clip(mono, -1.0, 1.0)[: GPT_RATE * settings.max_ref_len].copy())[None, :]
            if audio.shape[-1] < GPT_RATE // 3:
                continue  # shorter than Coqui's minimum chunk (0.33 s)
            embeddings.append(model.get_speaker_embedding(audio, GPT_RATE))
            pieces.append(audio)
        if not pieces:
            raise EngineError("The reference clips are too short: each should hold at least 1 s of speech.")
        latent = model.get_gpt_cond_latents(
            torch.cat(pieces, dim=-1), GPT_RATE, length=settings.gpt_cond_len, chunk_length=settings.gpt_cond_chunk_len
        )
        speaker = torch.stack(embeddings).mean(dim=0)
    return latent, speaker


def cached_conditioning(
    model: Any, model_dir: Path, references: Sequence[Path], settings: XttsSettings, voice_root: Path
) -> tuple[Any, Any]:
    """Conditioning from ``voice_root/conditioning.pt`` when it matches model, clips and settings.

    Otherwise computed and written there (under ``cache_dir()/xtts`` instead when the
    folder is read-only or is a bare Coqui model folder rather than a voice).
    """
    torch = _torch()
    key = conditioning_key(model_dir, references, settings)
    places = [cache_dir() / "xtts" / f"{key[:32]}.pt"]
    if (voice_root / VOICE_CARD).is_file():  # never write into a bare (base) model folder
        places.insert(0, voice_root / COND_CACHE)
    for place in places:
        data = _load_tensors(place)
        if data and data.get("key") == key:
            return data["gpt_cond_latent"], data["speaker_embedding"]
    clips = [_mono(read_audio(r)) for r in references]
    latent, speaker = compute_conditioning(model, clips, settings)
    buf = io.BytesIO()
    torch.save({"key": key, "gpt_cond_latent": latent.cpu(), "speaker_embedding": speaker.cpu()}, buf)
    for place in places:
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(place, buf.getvalue())
            break
        except OSError:
            continue  # read-only voice folder: the cache folder next
    return latent, speaker


def conditioning_key(model_dir: Path, references: Sequence[Path], settings: XttsSettings) -> str:
    """What the latents depend on: the weights file (path, size, time), each clip's bytes, the settings."""
    weights = Path(model_dir) / "model.pth"
    st = weights.stat()
    h = hashlib.sha256()
    h.update(f"{weights.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    for ref in references:
        h.update(hashlib.sha256(Path(ref).read_bytes()).hexdigest().encode() + b"\n")
    h.update(f"{settings.gpt_cond_len}|{settings.gpt_cond_chunk_len}|{settings.max_ref_len}".encode())
    return h.hexdigest()


def _load_tensors(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    torch = _torch()
    try:
        data = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception:  # a damaged or foreign cache file is simply recomputed
        return None
    return data if isinstance(data, dict) else None


# -------------------------------------------------------------------------- helpers


def _token_cap(max_new: int) -> Any:
    """A transformers stopping criterion: at most ``max_new`` generated audio tokens."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cap(StoppingCriteria):
        def __init__(self) -> None:
            self.start: int | None = None

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if self.start is None:
                self.start = int(input_ids.shape[-1]) - 1  # first call: one token generated
            done = int(input_ids.shape[-1]) - self.start >= max_new
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Cap()])


@contextmanager
def quiet_coqui() -> Iterator[None]:
    """Keep Coqui's and transformers' warnings off the user's screen (the library never prints).

    For loading only (it changes process-wide logging and warning state for its duration);
    generation itself logs nothing.
    """
    import logging

    loggers = [logging.getLogger(n) for n in ("transformers", "TTS")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("PyTorch, needed for XTTS voices,", "train") from exc
    return torch


def _mono(loaded: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    samples, rate = loaded
    return to_mono(samples), rate


__all__ = [
    "COND_CACHE",
    "LICENCE",
    "XttsEngine",
    "XttsSettings",
    "XttsVoice",
    "is_xtts_voice",
    "make_voice_from_bank",
    "select_references",
    "write_voice",
]
