"""Speech engines: a voice reference in, a generator of :class:`~voicebank.audio.AudioChunk` out.

>>> from voicebank.engines import load_engine
>>> engine = load_engine("joe")                  # or a voice folder, an .onnx path, a registry name
>>> for chunk in engine.stream("Hello there."):  # first chunk after a fraction of the sentence
...     play(chunk.samples)

Type-ahead (synthesize while the user types, play at Enter):

>>> from voicebank.engines import TypeAhead
>>> with TypeAhead(engine) as typing:
...     typing.update("Hello th")                 # on every keystroke
...     typing.update("Hello there. ")
...     for chunk in typing.speak("Hello there. How are you?"):
...         play(chunk.samples)

Nothing heavy is imported here; ONNX Runtime and piper load inside :func:`load_engine`.
"""

from __future__ import annotations

from typing import Any

from .base import Engine, SynthesisOptions
from ..voice.registry import VoiceRef, resolve_voice, voice_folder
from .typeahead import TypeAhead

__all__ = ["Engine", "SynthesisOptions", "TypeAhead", "load_engine"]


def load_engine(voice_ref: VoiceRef = None, **opts: Any) -> Engine:
    """Load the engine for a voice reference (see :func:`voicebank.voice.registry.resolve_voice`).

    Keyword options go to the engine: ``threads`` (ONNX Runtime intra-op threads, default 1),
    ``espeak`` (``"auto"``, ``"piper"`` or ``"system"``), ``streaming`` (default True),
    ``lexicon`` (default: the person's lexicon for this voice, see ``Lexicon.for_voice``).
    """
    from ..text.lexicon import Lexicon

    lexicon = opts.get("lexicon")
    if isinstance(voice_ref, str) and voice_ref.startswith("kokoro:"):  # a shipped Kokoro voice
        from .kokoro import KokoroEngine

        return KokoroEngine.shipped(
            voice_ref, threads=opts.get("threads") or 1, espeak=opts.get("espeak", "auto"),
            lexicon=Lexicon.for_voice(None) if lexicon is None else lexicon,
        )
    folder = voice_folder(voice_ref)
    if folder is not None:
        from ..voice.kokoro_card import is_kokoro_voice  # cheap: reads the card only
        from ..voice.xtts_card import is_xtts_voice  # cheap: no torch

        if is_kokoro_voice(folder):
            from .kokoro import KokoroEngine

            return KokoroEngine.from_folder(
                folder, threads=opts.get("threads") or 1, espeak=opts.get("espeak", "auto"),
                lexicon=Lexicon.for_voice(folder) if lexicon is None else lexicon,
            )

        if is_xtts_voice(folder):
            from .xtts import XttsEngine

            return XttsEngine.from_folder(
                folder,
                device=opts.get("device", "auto"),
                threads=opts.get("threads"),
                lexicon=Lexicon.for_voice(folder) if lexicon is None else lexicon,
                streaming=opts.get("streaming", True),
            )
    from .piper_onnx import PiperOnnxEngine

    files = resolve_voice(voice_ref)
    if lexicon is None:  # the voice folder's entries over the global ones
        opts["lexicon"] = Lexicon.for_voice(None if files.stock else files.model.parent)
    return PiperOnnxEngine(files, **opts)

