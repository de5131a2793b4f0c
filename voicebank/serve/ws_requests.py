"""The WebSocket protocol's client requests (``speak``, ``phrase``, ``stop``), checked, with its error codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Union

from ..voice.registry import STOCK_NAMES

ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_SPEED, MAX_SPEED = 0.25, 4.0
REQUEST_TYPES = ("speak", "phrase", "stop")


class ProtocolError(Exception):
    """A request the server cannot serve: sent to the client as an ``error`` event, the connection stays open."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id

    def event(self) -> dict[str, Any]:
        return {"type": "error", "id": self.request_id, "code": self.code, "message": str(self)}


@dataclass(frozen=True)
class Speak:
    """Speak ``text``; ``voice`` None is the server's default voice."""

    id: str
    text: str
    voice: str | None = None
    speed: float = 1.0


@dataclass(frozen=True)
class PlayPhrase:
    """Play saved phrase ``number`` (a recording verbatim, or its text in ``voice`` at ``speed``)."""

    id: str
    number: int
    voice: str | None = None
    speed: float = 1.0


@dataclass(frozen=True)
class Stop:
    """Stop the utterance in progress; with ``id``, only if it is that one."""

    id: str | None = None


Request = Union[Speak, PlayPhrase, Stop]


def parse_request(frame: str, max_chars: int, make_id: Callable[[], str]) -> Request:
    """One text frame from the client as a request; :class:`ProtocolError` says what is wrong with it."""
    try:
        data = json.loads(frame)
    except ValueError as exc:
        raise ProtocolError("bad_json", f"The frame is not JSON ({exc}); send an object such as {_EXAMPLE}.") from exc
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", f"A request is a JSON object such as {_EXAMPLE}.")
    request_id = _id(data)
    kind = data.get("type")
    if kind == "stop":
        return Stop(request_id)
    if kind not in REQUEST_TYPES:
        raise ProtocolError("bad_request", f"Unknown request type {kind!r}; send one of {', '.join(REQUEST_TYPES)}.", request_id)
    request_id = request_id or make_id()
    voice, speed = _voice(data, request_id), _speed(data, request_id)
    if kind == "speak":
        return Speak(request_id, _text(data, max_chars, request_id), voice, speed)
    return PlayPhrase(request_id, _number(data, request_id), voice, speed)


_EXAMPLE = '{"type": "speak", "text": "Hello"}'


def _id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ProtocolError("bad_id", f"'id' must be 1 to 64 characters from A-Z a-z 0-9 . _ -; got {value!r}.")
    return value


def _text(data: dict[str, Any], max_chars: int, request_id: str) -> str:
    text = data.get("text")
    if not isinstance(text, str):
        raise ProtocolError("bad_request", "'text' must be the text to speak, as a string.", request_id)
    if not text.strip():
        raise ProtocolError("empty_text", "'text' is empty: give the text to speak.", request_id)
    if len(text) > max_chars:
        raise ProtocolError(
            "text_too_long",
            f"'text' holds {len(text)} characters; at most {max_chars} are spoken per request. Send it in parts.",
            request_id,
        )
    return text


def _number(data: dict[str, Any], request_id: str) -> int:
    number = data.get("phrase")
    if isinstance(number, bool) or not isinstance(number, int):
        raise ProtocolError("bad_request", f"'phrase' must be the phrase's number (from GET /v1/phrases); got {number!r}.", request_id)
    return number


def _voice(data: dict[str, Any], request_id: str) -> str | None:
    voice = data.get("voice")
    if voice is not None and not isinstance(voice, str):
        raise ProtocolError("bad_request", f"'voice' must be a voice's name, as a string; got {voice!r}.", request_id)
    return voice


def _speed(data: dict[str, Any], request_id: str) -> float:
    speed = data.get("speed")
    if speed is None:
        return 1.0
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not MIN_SPEED <= speed <= MAX_SPEED:
        raise ProtocolError("bad_speed", f"'speed' must be a number from {MIN_SPEED} to {MAX_SPEED}; got {speed!r}.", request_id)
    return float(speed)


def voice_name(requested: str | None, default: str, installed: Iterable[str], request_id: str) -> str:
    """The voice that speaks a request: ``default`` when none is named, the stock voice by any of its names."""
    if requested is None:
        return default
    key = requested.strip()
    if key == default:
        return default
    if key.lower() in STOCK_NAMES:
        return "joe"
    names = list(installed)
    if key in names:
        return key
    raise ProtocolError(
        "unknown_voice", f"Unknown voice {requested!r}. Use one of this server's voices ({', '.join(['joe', *names])}).", request_id
    )
