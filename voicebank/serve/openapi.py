"""The OpenAPI document of the server's routes (``GET /openapi.json``), written by hand to match :mod:`.speech`."""

from __future__ import annotations

from typing import Any

from .aac import openapi_paths as aac_paths
from .listening_openapi import listening_paths
from .pairing import COOKIE
from .recorder_openapi import recorder_paths, recorder_schemas
from .speech import MAX_INPUT_CHARS, MODELS, OPENAI_VOICES, RESPONSE_FORMATS, STREAM_FORMATS


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _get(summary: str, ok: dict[str, Any], unauthorized: dict[str, Any], too_many: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": ok, "401": unauthorized, "429": too_many}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SPEECH_REQUEST = {
    "type": "object",
    "required": ["model", "input", "voice"],
    "properties": {
        "model": {"type": "string", "enum": list(MODELS)},
        "input": {"type": "string", "minLength": 1, "maxLength": MAX_INPUT_CHARS},
        "voice": {
            "type": "string",
            "description": "A voice of this server (GET /v1/audio/voices), 'joe' for the stock voice, "
            f"or one of OpenAI's names ({', '.join(OPENAI_VOICES)}), which speak with the default voice.",
        },
        "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS), "default": "mp3"},
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4.0, "default": 1.0},
        "stream_format": {"type": "string", "enum": list(STREAM_FORMATS), "default": "audio"},
        "instructions": {"type": "string", "description": "Accepted and ignored."},
    },
}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

_AUDIO_TYPES = ["audio/mpeg", "audio/ogg", "audio/mp4", "audio/flac", "audio/wav", "audio/pcm", "text/event-stream"]


_PHRASES = {
    "type": "object",
    "required": ["phrases"],
    "properties": {
        "phrases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["number", "text", "recorded"],
                "properties": {
                    "number": {"type": "integer", "minimum": 1},
                    "text": {"type": "string"},
                    "recorded": {"type": "boolean", "description": "Played from the person's own recording."},
                },
            },
        }
    },
}

_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "The server's token, or a paired device's."},
    "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE, "description": "Set by GET /pair."},
}

_PAIR = {
    "get": {
        "summary": "Pair this device: a one-time code becomes a device token in the session cookie",
        "security": [],
        "parameters": [{"name": "code", "in": "query", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": "Paired: sets the voicebank_session cookie and moves on to the board (/).",
                    "content": {"text/html": {"schema": {"type": "string"}}}},
            "401": {"description": "The code is wrong, used or expired.", "content": {"text/html": {"schema": {"type": "string"}}}},
        },
    }
}


def openapi_document() -> dict[str, Any]:
    """The document (OpenAPI 3.1); every route but ``/pair`` needs a token (``/health`` only with ``--lan``)."""
    unauthorized = _error("Missing, wrong or expired token.")
    too_many = _error("Too many requests from this client; see the Retry-After header.")
    speech_responses = {
        "200": {
            "description": "The speech, streamed as it is made (raw PCM: 24 kHz 16-bit mono little-endian; "
            "SSE: speech.audio.delta events with base64 audio, then speech.audio.done).",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in _AUDIO_TYPES},
        },
        "400": _error("A field is missing or not allowed; 'param' names it."),
        "401": unauthorized,
        "413": _error("The input or the request body is too long."),
        "429": _error("Too many streams at once, or requests from this client; see the Retry-After header."),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "voicebank serve", "version": "1", "description": "OpenAI-compatible speech with your own voice."},
        "components": {
            "securitySchemes": _SECURITY_SCHEMES,
            "schemas": {"SpeechRequest": _SPEECH_REQUEST, "Error": _ERROR, "Phrases": _PHRASES, **recorder_schemas()},
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": {
            "/v1/audio/speech": {
                "post": {
                    "summary": "Speak text",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SpeechRequest"}}},
                    },
                    "responses": speech_responses,
                }
            },
            "/v1/models": _get("Model names accepted", _json("Models.", {"type": "object"}), unauthorized, too_many),
            "/v1/audio/voices": _get("Voices", _json("{voices: [{id, name}]}", {"type": "object"}), unauthorized, too_many),
            "/v1/phrases": _get(
                "The saved phrases the speak board shows", _json("Phrases.", {"$ref": "#/components/schemas/Phrases"}), unauthorized, too_many,
            ),
            "/health": {
                "get": {
                    "summary": "Whether the server runs (no token needed, but with --lan)",
                    "security": [{}, {"bearer": []}, {"cookie": []}],
                    "responses": {"200": _json("Status.", {"type": "object"}), "401": unauthorized, "429": too_many},
                }
            },
            "/openapi.json": _get("This document", _json("OpenAPI 3.1.", {"type": "object"}), unauthorized, too_many),
            "/pair": _PAIR,
            **recorder_paths(),
            **listening_paths(),
            **aac_paths(),
        },
    }
