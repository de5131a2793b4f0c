"""What a voice is: its config, its phoneme alphabet, its card, where it and its base model live.

* :mod:`.config` — the Piper ``.onnx.json`` (:class:`PiperVoiceConfig`, read and written);
* :mod:`.phonemes` — the phoneme alphabet (PAD/BOS/EOS, Piper's id map, a sentence's ids);
* :mod:`.transcripts` — whether espeak-ng reads a training transcript as its words;
* :mod:`.registry` — resolving a voice reference and listing the installed voices;
* :mod:`.xtts_card` — the XTTS voice folder and its card (``voice.json``);
* :mod:`.training_record` — a trained voice's ``training.json``;
* :mod:`.bases` — where base models live (paths only).

Nothing here imports torch, ONNX Runtime, the engines or the trainer: engines, trainer
and exporter all build on it.
"""

from __future__ import annotations

from .config import PiperVoiceConfig
from .registry import list_voices, resolve_voice

__all__ = ["PiperVoiceConfig", "list_voices", "resolve_voice"]
