"""The OpenAPI document of the server's routes (``GET /openapi.json``), written by hand to match :mod:`.speech`."""

from __future__ import annotations

from typing import Any

from .speech import MAX_INPUT_CHARS, MODELS, OPENAI_VOICES, RESPONSE_FORMATS, STREAM_FORMATS


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


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


def openapi_document() -> dict[str, Any]:
    """The document (OpenAPI 3.1); every route but ``/health`` needs the bearer token."""
    unauthorized = _error("Missing or wrong token.")
    speech_responses = {
        "200": {
            "description": "The speech, streamed as it is made (raw PCM: 24 kHz 16-bit mono little-endian; "
            "SSE: speech.audio.delta events with base64 audio, then speech.audio.done).",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in _AUDIO_TYPES},
        },
        "400": _error("A field is missing or not allowed; 'param' names it."),
        "401": unauthorized,
        "413": _error("The input or the request body is too long."),
        "429": _error("Too many streams at once; see the Retry-After header."),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "voicebank serve", "version": "1", "description": "OpenAI-compatible speech with your own voice."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"SpeechRequest": _SPEECH_REQUEST, "Error": _ERROR},
        },
        "security": [{"bearer": []}],
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
            "/v1/models": {"get": {"summary": "Model names accepted", "responses": {"200": _json("Models.", {"type": "object"}), "401": unauthorized}}},
            "/v1/audio/voices": {
                "get": {"summary": "Voices", "responses": {"200": _json("{voices: [{id, name}]}", {"type": "object"}), "401": unauthorized}}
            },
            "/health": {"get": {"summary": "Whether the server runs (no token needed)", "security": [], "responses": {"200": _json("Status.", {"type": "object"})}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1.", {"type": "object"}), "401": unauthorized}}},
        },
    }
