"""A voice made ready for other hosts: sherpa-onnx engines (Android) and speech-dispatcher (the Linux desktop).

>>> from voicebank.exports import export_sherpa, export_speechd
>>> report = export_sherpa("joe", "out/joe-sherpa")         # ONNX with metadata, tokens, lexicon, espeak data
>>> report = export_speechd("joe", "out/joe-speechd")       # a generic-module configuration

Both refuse what they cannot convert (an XTTS or Kokoro voice, a damaged ONNX, a config
without a phoneme map) with an :class:`~voicebank.errors.ExportError` and write nothing.
This package sits outside ``voice/`` because the lexicon needs the engine's phonemizer.
"""

from __future__ import annotations

from .sherpa import SherpaExport, export_sherpa
from .speechd import SpeechdExport, export_speechd

FORMATS = ("sherpa-onnx", "speech-dispatcher")

__all__ = ["FORMATS", "SherpaExport", "SpeechdExport", "export_sherpa", "export_speechd"]
