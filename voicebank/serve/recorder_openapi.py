"""The recorder's part of the OpenAPI document (its paths and schemas), written by hand to match :mod:`.recorder`."""

from __future__ import annotations

from typing import Any

from .recorder import ACTIONS
from .recorder_state import MODES

_ERR = {"$ref": "#/components/schemas/Error"}
_STATE_REF = {"$ref": "#/components/schemas/RecorderState"}

_TAKE = {
    "type": "object",
    "required": ["id", "verdict", "problems", "seconds", "url"],
    "properties": {
        "id": {"type": "string"}, "prompt_id": {"type": "string"},
        "verdict": {"type": "string", "enum": ["pass", "warn", "fail", "unknown"]},
        "problems": {"type": "array", "items": {"type": "object", "properties": {
            "check": {"type": "string"}, "verdict": {"type": "string"}, "message": {"type": "string"},
            "advice": {"type": "string"}}}},
        "seconds": {"type": "number"}, "status": {"type": "string"}, "chosen": {"type": "boolean"},
        "url": {"type": "string"},
    },
}

_STATE = {
    "type": "object",
    "required": ["prompt", "take", "progress", "break_due", "finished"],
    "properties": {
        "bank": {"type": "string"}, "mode": {"type": "string", "enum": list(MODES)},
        "prompt": {"type": ["object", "null"]},
        "take": {"oneOf": [{"$ref": "#/components/schemas/RecorderTake"}, {"type": "null"}]},
        "progress": {"type": "object"}, "break_due": {"type": "boolean"}, "finished": {"type": "boolean"},
    },
}

_BANK = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "speaker": {"type": "string"}, "script": {"type": "string"},
                   "takes": {"type": "integer"}, "prompts_done": {"type": "integer"},
                   "prompts_total": {"type": "integer"}},
}

_NEW_BANK = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"},
        "speaker": {"type": "string", "maxLength": 200},
        "script": {"type": "string", "default": "en-core"},
    },
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    words = {"400": "A field or header is missing or not allowed.", "401": "Missing, wrong or expired token.",
             "404": "No such bank, prompt, take or action here.", "409": "A stale prompt, an action not allowed now, "
             "a reused upload id, or the bank is in use (with the current state when there is one).",
             "413": "The take is too long or too big.", "415": "Not a WAV or FLAC file (or 0 bytes).",
             "422": "The take is damaged, cut short, 8-bit or otherwise not storable.", "429": "Too many requests."}
    return {code: _json(words[code], _ERR) for code in codes}


def _param(name: str, where: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema}


_BANK_P = _param("bank", "path", {"type": "string"})
_MODE_P = _param("mode", "query", {"type": "string", "enum": list(MODES), "default": "script"}, required=False)


def recorder_paths() -> dict[str, Any]:
    """The recorder's operations (docs/recorder-api.md)."""
    state = _json("The session's state.", _STATE_REF)
    upload_headers = [
        _param("X-Prompt-Id", "header", {"type": "string", "minLength": 1}),
        _param("X-Content-SHA256", "header", {"type": "string", "pattern": "^[0-9a-f]{64}$"}),
        _param("X-Capture", "header", {"type": "string"}, required=False),
    ]
    saved = _json("The take (durable) and the state.", {"type": "object", "properties": {
        "take": {"$ref": "#/components/schemas/RecorderTake"}, "state": _STATE_REF}})
    audio = {"type": "string", "format": "binary"}
    return {
        "/v1/record/banks": {
            "get": {"summary": "The banks the recorder offers",
                    "responses": {"200": _json("{banks: [...]}", {"type": "object", "properties": {
                        "banks": {"type": "array", "items": _BANK}}}), **_errors("401", "429")}},
            "post": {"summary": "Create a bank in --banks-dir",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _NEW_BANK}}},
                     "responses": {"201": _json("The new bank.", _BANK), **_errors("400", "401", "409", "413", "429")}},
        },
        "/v1/record/banks/{bank}/session": {
            "get": {"summary": "The recording session's state", "parameters": [_BANK_P, _MODE_P],
                    "responses": {"200": state, **_errors("400", "401", "404", "409", "429")}},
            "delete": {"summary": "Let go of the bank (its lock) until the next request", "parameters": [_BANK_P],
                       "responses": {"204": {"description": "Released."}, **_errors("401", "404", "429")}},
        },
        "/v1/record/banks/{bank}/session/{action}": {
            "post": {"summary": "Act on the current prompt",
                     "parameters": [_BANK_P, _param("action", "path", {"type": "string", "enum": list(ACTIONS)}), _MODE_P],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["prompt_id"],
                         "properties": {"prompt_id": {"type": ["string", "null"]}}}}}},
                     "responses": {"200": state, **_errors("400", "401", "404", "409", "413", "429")}},
        },
        "/v1/record/banks/{bank}/messages": {
            "post": {"summary": "A typed message to record next (message banking)", "parameters": [_BANK_P],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["text"],
                         "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 1000}}}}}},
                     "responses": {"201": state, **_errors("400", "401", "404", "409", "413", "429")}},
        },
        "/v1/record/banks/{bank}/uploads/{upload_id}": {
            "put": {"summary": "Upload a take (idempotent by upload id and sha256)",
                    "parameters": [_BANK_P, _param("upload_id", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}),
                                   _MODE_P, *upload_headers],
                    "requestBody": {"required": True, "content": {
                        t: {"schema": audio} for t in ("audio/wav", "audio/flac", "application/octet-stream")}},
                    "responses": {"200": saved, "201": saved,
                                  **_errors("400", "401", "404", "409", "413", "415", "422", "429")}},
        },
        **_consent_paths(audio),
        "/v1/record/banks/{bank}/takes/{take_id}.wav": {
            "get": {"summary": "A take's audio, for playback", "parameters": [_BANK_P, _param("take_id", "path", {"type": "string"})],
                    "responses": {"200": {"description": "16-bit WAV.", "content": {"audio/wav": {"schema": audio}}},
                                  **_errors("401", "404", "409", "429")}},
        },
    }


_VERDICT = {
    "type": "object",
    "required": ["ok", "how", "verdict", "detail"],
    "properties": {
        "ok": {"type": "boolean"}, "how": {"type": "string", "enum": ["recorded", "recorded-by-proxy", "written", "none"]},
        "verdict": {"type": "string"}, "detail": {"type": "string"}, "checks": {"type": "object"},
        "operator": {"type": ["string", "null"]}, "date": {"type": ["string", "null"]},
        "speaker": {"type": "string"},
    },
}


def _consent_paths(audio: dict[str, Any]) -> dict[str, Any]:
    """The consent step's operations (:mod:`.recorder_consent`)."""
    name = {"type": ["string", "null"], "maxLength": 200}
    statement = {"type": "object", "properties": {
        "id": {"type": "string"}, "text": {"type": "string"}, "code_words": {"type": "array", "items": {"type": "string"}},
        "speaker": {"type": "string"}, "date": {"type": "string"}, "operator": {"type": ["string", "null"]}}}
    return {
        "/v1/record/banks/{bank}/consent": {
            "get": {"summary": "The bank's consent now, and its speaker's name", "parameters": [_BANK_P],
                    "responses": {"200": _json("The consent status.", _VERDICT), **_errors("401", "404", "409", "429")}},
        },
        "/v1/record/banks/{bank}/consent/statements": {
            "post": {"summary": "A consent statement to read (the server picks the code words)", "parameters": [_BANK_P],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["speaker"],
                         "properties": {"speaker": {"type": "string", "minLength": 1, "maxLength": 200}, "operator": name}}}}},
                     "responses": {"201": _json("The statement.", statement), **_errors("400", "401", "404", "413", "429")}},
        },
        "/v1/record/banks/{bank}/consent/check": {
            "post": {"summary": "Check the latest consent take again (once the bank has takes to compare the voice with)",
                     "parameters": [_BANK_P],
                     "responses": {"200": _json("The verdict.", _VERDICT), **_errors("400", "401", "404", "409", "429")}},
        },
        "/v1/record/banks/{bank}/consent/statements/{statement_id}": {
            "put": {"summary": "The take of a statement: stored in the bank's consent folder and checked",
                    "parameters": [_BANK_P, _param("statement_id", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}),
                                   _param("X-Content-SHA256", "header", {"type": "string", "pattern": "^[0-9a-f]{64}$"}),
                                   _param("X-Capture", "header", {"type": "string"}, required=False)],
                    "requestBody": {"required": True, "content": {
                        t: {"schema": audio} for t in ("audio/wav", "audio/flac", "application/octet-stream")}},
                    "responses": {"200": _json("The verdict (a retry).", _VERDICT), "201": _json("The verdict.", _VERDICT),
                                  **_errors("400", "401", "404", "409", "413", "415", "422", "429")}},
        },
    }


def recorder_schemas() -> dict[str, Any]:
    return {"RecorderState": _STATE, "RecorderTake": _TAKE}
