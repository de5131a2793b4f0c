"""The OpenAI speech request: its fields checked against our voices and limits, and errors in OpenAI's shape.

``POST /v1/audio/speech`` takes ``model``, ``input``, ``voice``, ``response_format``,
``speed``, ``stream_format`` (and ``instructions``, accepted and ignored). OpenAI's own
voice names speak with the server's default voice, so clients written for OpenAI work
unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..encode import FORMATS
from ..errors import RequestError
from ..voice.registry import STOCK_NAMES

MAX_INPUT_CHARS = 4096
MODELS = ("voicebank", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
)
RESPONSE_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
STREAM_FORMATS = ("audio", "sse")
PCM_RATE = 24000  # OpenAI's raw PCM is 24 kHz 16-bit mono; clients assume it


def error_json(message: str, *, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> bytes:
    """An error body as OpenAI sends it: ``{"error": {"message", "type", "param", "code"}}``."""
    return json.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}}).encode("utf-8")


@dataclass(frozen=True)
class SpeechRequest:
    """One checked speech request; ``voice`` is the name of the voice that will speak."""

    model: str
    input: str
    voice: str
    response_format: str = "mp3"
    speed: float = 1.0
    stream_format: str = "audio"


def parse_speech(body: bytes, voices: Iterable[str], default_voice: str, max_chars: int = MAX_INPUT_CHARS) -> SpeechRequest:
    """Check a request body; raise :class:`RequestError` naming the field and what it may be."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"The request body is not valid JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise RequestError("The request body must be a JSON object with 'model', 'input' and 'voice'.")
    return SpeechRequest(
        model=_model(data),
        input=_text(data, max_chars),
        voice=_voice(data, list(voices), default_voice),
        response_format=_choice(data, "response_format", RESPONSE_FORMATS, "mp3"),
        speed=_speed(data),
        stream_format=_choice(data, "stream_format", STREAM_FORMATS, "audio"),
    )


def _model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if not isinstance(model, str) or model not in MODELS:
        raise RequestError(f"'model' must be one of {', '.join(MODELS)}; got {model!r}.", param="model")
    return model


def _text(data: dict[str, Any], max_chars: int) -> str:
    text = data.get("input")
    if not isinstance(text, str):
        raise RequestError("'input' must be the text to speak, as a string.", param="input")
    if not text.strip():
        raise RequestError("'input' is empty: give the text to speak.", param="input")
    if len(text) > max_chars:
        raise RequestError(
            f"'input' holds {len(text)} characters; at most {max_chars} are spoken per request. "
            "Split the text and send it in parts.",
            status=413,
            param="input",
            code="input_too_long",
        )
    return text


def _voice(data: dict[str, Any], voices: list[str], default_voice: str) -> str:
    voice = data.get("voice")
    if isinstance(voice, str):
        key = voice.strip()
        if key.lower() in OPENAI_VOICES:
            return default_voice
        if key.lower() in STOCK_NAMES:
            return "joe"
        if key in voices:
            return key
    names = ", ".join(["joe", *voices])
    raise RequestError(
        f"Unknown voice {voice!r}. Use one of this server's voices ({names}); "
        f"OpenAI's names ({', '.join(OPENAI_VOICES)}) speak with the default voice.",
        param="voice",
    )


def _choice(data: dict[str, Any], field: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(field, default)
    if value is None:
        return default
    if value not in allowed:
        raise RequestError(f"'{field}' must be one of {', '.join(allowed)}; got {value!r}.", param=field)
    return str(value)


def _speed(data: dict[str, Any]) -> float:
    value = data.get("speed", 1.0)
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.25 <= value <= 4.0:
        raise RequestError(f"'speed' must be a number from 0.25 to 4.0; got {value!r}.", param="speed")
    return float(value)


def media_type(response_format: str) -> str:
    """The Content-Type of an audio response."""
    if response_format == "pcm":
        return "audio/pcm"  # what OpenAI sends (audio/L16 would promise big-endian samples)
    return FORMATS[response_format].media_type
