"""Recipe + dataset (+ base model) → a Coqui VITS that speaks Piper's phoneme ids: the training data.

Responsible for: turning transcripts into espeak-ng phonemes exactly as the engine does at
run time, and checking a dataset (audio and transcripts) before hours are spent on it.
The model's parts live beside it — :mod:`.vits_config` (Coqui config, Piper-ordered
vocabulary), :mod:`.vits_model` (the trainable model), :mod:`.vits_weights` (bases and
their weights) — and the names the trainer, the exporter and the tests use are importable
from here too, so ``vits.X`` is the one way they reach the VITS. Not responsible for running
the training loop (:mod:`.finetune`) or exporting (:mod:`.export`).

Phoneme ids (:mod:`voicebank.voice.phonemes`): Piper voices use a 151-entry
``phoneme_id_map`` in a 256-row embedding, and a sentence becomes ``^ _ p1 _ p2 … pn _ $``.
The text fed to Coqui is the phoneme string itself (``use_phonemes`` off): phonemizing
happens here, once, with the espeak-ng bundled in piper-tts.

This module imports Coqui TTS; import it lazily (``voicebank.train`` itself stays light).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..voice.phonemes import PIPER_SYMBOLS, phoneme_ids, piper_phoneme_id_map, piper_symbols
from ..voice.transcripts import transcript_problem
from .dataset import DatasetError, Utterance
from .vits_config import PiperCharacters, build_config, load_config
from .vits_model import VoicebankVits, generator_state, make_model
from .vits_weights import base_config, base_weights_in_layout, load_base_weights, offline_base, resolve_base

SPEAKER = "speaker"

__all__ = [
    "SPEAKER", "PiperCharacters", "TrainingItem", "VoicebankVits", "base_config", "base_weights_in_layout",
    "build_config", "check_splits", "generator_state", "load_base_weights", "load_config", "make_model",
    "offline_base", "phonemize", "piper_phoneme_id_map", "piper_symbols", "resolve_base", "text_ids",
]


def phonemize(texts: Sequence[str], espeak_voice: str) -> list[str]:
    """espeak-ng phonemes of each text as one string (sentences joined by a space), NFD like Piper."""
    from ..engines.phonemize import make_phonemizer

    phonemizer = make_phonemizer("piper")
    out = []
    for text in texts:
        sentences = phonemizer.phonemize(espeak_voice, text)
        out.append(" ".join("".join(s).strip() for s in sentences if s).strip())
    return out


def text_ids(texts: Sequence[str], espeak_voice: str) -> list[list[int]]:
    """Piper's ids of each text (``^ _ p1 _ … pn _ $``), as an exported voice reads it."""
    id_map = piper_phoneme_id_map()
    return [phoneme_ids(list(phonemes), id_map)[0] for phonemes in phonemize(texts, espeak_voice)]


@dataclass(frozen=True)
class TrainingItem:
    """One utterance ready for Coqui: its id, wav and phoneme string."""

    id: str
    wav: Path
    phonemes: str
    seconds: float

    def to_sample(self, root: Path) -> dict[str, Any]:
        return {
            "text": self.phonemes,
            "audio_file": str(self.wav),
            "speaker_name": SPEAKER,
            "root_path": str(root),
            "language": "",
            "audio_unique_name": self.id,
        }


def check_splits(
    train: Sequence[Utterance], held_out: Sequence[Utterance], espeak_voice: str, sample_rate: int
) -> tuple[list[TrainingItem], list[TrainingItem]]:
    """Validate and phonemize both splits; every problem of both goes into one :class:`DatasetError`."""
    train_items, train_problems = _check(train, espeak_voice, sample_rate)
    eval_items, eval_problems = _check(held_out, espeak_voice, sample_rate)
    problems = [f"{p} (training)" for p in train_problems] + [f"{p} (held out)" for p in eval_problems]
    if problems:
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        raise DatasetError(
            f"{len(problems)} utterance(s) cannot be trained on{more}:\n  "
            + "\n  ".join(problems[:8])
            + "\nFix the transcript in the bank (write symbols and foreign words out as they are spoken) "
            "or leave the take out, then run 'voicebank train prepare' again."
        )
    return train_items, eval_items


def _check(utterances: Sequence[Utterance], espeak_voice: str, sample_rate: int) -> tuple[list[TrainingItem], list[str]]:
    """Audio and transcript problems of one split, and the phonemized utterances without problems."""
    import soundfile as sf

    allowed = set(piper_symbols()[:PIPER_SYMBOLS])
    problems: list[str] = []
    texts: list[str] = []
    infos: list[tuple[Utterance, float]] = []
    for utt in utterances:
        text = utt.normalized or utt.text
        why = transcript_problem(text, espeak_voice)
        if why:
            problems.append(f"{utt.id}: the transcript {text[:60]!r} has {why}")
            continue
        try:
            info = sf.info(str(utt.wav))
        except (RuntimeError, OSError) as exc:
            problems.append(f"{utt.id}: its audio {utt.wav} cannot be read ({exc})")
            continue
        if info.samplerate != sample_rate:
            problems.append(
                f"{utt.id}: its audio is {info.samplerate} Hz but the model works at {sample_rate} Hz "
                f"(prepare the dataset again with --sample-rate {sample_rate})"
            )
            continue
        if info.channels != 1:
            problems.append(f"{utt.id}: its audio has {info.channels} channels; the dataset must be mono")
            continue
        if info.frames == 0:
            problems.append(f"{utt.id}: its audio is empty")
            continue
        texts.append(text)
        infos.append((utt, info.frames / info.samplerate))
    items: list[TrainingItem] = []
    for (utt, seconds), text, phonemes in zip(infos, texts, phonemize(texts, espeak_voice)):
        unknown = sorted(set(phonemes) - allowed)
        if not phonemes.strip(" .,;:!?"):
            problems.append(f"{utt.id}: espeak-ng found nothing to say in {text[:60]!r}")
        elif unknown:
            shown = ", ".join(f"{p!r}" for p in unknown)
            problems.append(
                f"{utt.id}: espeak-ng ({espeak_voice}) gives phonemes outside Piper's alphabet ({shown}) for {text[:60]!r}"
            )
        else:
            items.append(TrainingItem(utt.id, utt.wav, unicodedata.normalize("NFD", phonemes), seconds))
    return items, problems
