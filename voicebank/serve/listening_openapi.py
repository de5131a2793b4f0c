"""The listening test's part of the OpenAPI document, written by hand to match :mod:`.listening`."""

from __future__ import annotations

from typing import Any

from .listening_tests import COMPARISONS
from .recorder_openapi import _json

_ERR = {"$ref": "#/components/schemas/Error"}
_WORDS = {
    "400": "A field is missing or not allowed; 'param' names it.",
    "401": "Missing, wrong or expired token.",
    "404": "No such test (no_test), session (no_session), trial (no_trial) or side (no_side).",
    "409": "This trial of this session is answered already (already_answered).",
    "413": "The request body is too big.",
    "429": "Too many requests.",
}

_COMPARISON = {"type": "object", "properties": {
    "comparison": {"type": "string", "enum": list(COMPARISONS)}, "voice": {"type": "string"},
    "label": {"type": "string"}, "sentences": {"type": "integer"}}}
_TEST = {"type": "object", "required": ["id", "voice", "sentences", "comparisons"], "properties": {
    "id": {"type": "string"}, "voice": {"type": "string"}, "dataset": {"type": "string"},
    "created": {"type": "string"}, "sentences": {"type": "integer"}, "answers": {"type": "integer"},
    "comparisons": {"type": "array", "items": _COMPARISON}}}
_SESSION = {"type": "object", "required": ["session", "trials", "answered"], "properties": {
    "test": _TEST, "session": {"type": "string"}, "answered": {"type": "array", "items": {"type": "integer"}},
    "trials": {"type": "array", "items": {"type": "object", "properties": {
        "number": {"type": "integer"}, "text": {"type": "string"}, "answer": {"type": "string"},
        "audio": {"type": "object", "properties": {side: {"type": "string"} for side in "abx"}}}}}}}
_ANSWER = {"type": "object", "required": ["answer"], "properties": {
    "answer": {"type": "string", "enum": ["A", "B"], "description": "Which one X is."},
    "more_like": {"type": ["string", "null"], "enum": ["A", "B", None],
                  "description": "Which of A and B sounds more like the person (optional)."},
    "listener": {"type": ["string", "null"], "maxLength": 100, "description": "The listener's name (optional)."}}}
_RESULT_ROW = {"type": "object", "properties": {
    **_COMPARISON["properties"], "trials": {"type": "integer"}, "correct": {"type": "integer"},
    "rate": {"type": ["number", "null"]}, "interval": {"type": ["array", "null"], "items": {"type": "number"}},
    "verdict": {"type": "string", "enum": ["apart", "chance", "below", "none"]}, "sentence": {"type": "string"},
    "more_like": {"type": "object"}}}
_RESULTS = {"type": "object", "properties": {
    "test": {"type": "string"}, "voice": {"type": "string"}, "answers": {"type": "integer"},
    "sessions": {"type": "integer"}, "listeners": {"type": "array", "items": {"type": "string"}},
    "comparisons": {"type": "array", "items": _RESULT_ROW}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(_WORDS[code], _ERR) for code in codes}


def _path(*names: str) -> list[dict[str, Any]]:
    types = {"number": {"type": "integer", "minimum": 1}, "side": {"type": "string", "enum": ["a", "b", "x"]}}
    return [{"name": n, "in": "path", "required": True, "schema": types.get(n, {"type": "string"})} for n in names]


def listening_paths() -> dict[str, Any]:
    """The listening test's operations (docs/listening-test.md)."""
    base = "/v1/listen/tests/{test}"
    trial = base + "/sessions/{session}/trials/{number}"
    page = {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}
    wav = {"description": "The side's audio, level-matched.", "content": {"audio/wav": {"schema": {
        "type": "string", "format": "binary"}}}}
    return {
        "/listen": {"get": {"summary": "The listening test's page", "responses": {"200": page, **_errors("401", "429")}}},
        "/v1/listen/tests": {"get": {"summary": "The listening tests offered", "responses": {
            "200": _json("{tests: [...], how: null or how to make one}", {"type": "object", "properties": {
                "tests": {"type": "array", "items": _TEST}, "how": {"type": ["string", "null"]}}}),
            **_errors("401", "429")}}},
        base + "/sessions": {"post": {"summary": "Start a session of blind A/B/X trials", "parameters": _path("test"),
                                      "responses": {"201": _json("The session.", _SESSION), **_errors("401", "404", "429")}}},
        base + "/sessions/{session}": {"get": {
            "summary": "A session again, with the trials answered", "parameters": _path("test", "session"),
            "responses": {"200": _json("The session.", _SESSION), **_errors("401", "404", "429")}}},
        trial + "/{side}.wav": {"get": {"summary": "A trial's A, B or X", "parameters": _path("test", "session", "number", "side"),
                                        "responses": {"200": wav, **_errors("401", "404", "429")}}},
        trial + "/answer": {"post": {
            "summary": "Answer a trial (saved durably in the evaluation's listening.jsonl)",
            "parameters": _path("test", "session", "number"),
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ANSWER}}},
            "responses": {"201": _json("Saved.", {"type": "object", "properties": {
                "saved": {"type": "boolean"}, "trial": {"type": "integer"}, "answered": {"type": "integer"},
                "trials": {"type": "integer"}, "finished": {"type": "boolean"}}}),
                **_errors("400", "401", "404", "409", "413", "429")}}},
        base + "/results": {"get": {"summary": "What the answers show, per comparison", "parameters": _path("test"),
                                    "responses": {"200": _json("The results.", _RESULTS), **_errors("401", "404", "429")}}},
    }
