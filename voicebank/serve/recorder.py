"""The web recorder's HTTP API (docs/recorder-api.md): banks, the recording session, take uploads and playback.

The server holds the state: one :class:`~voicebank.record.session.RecordingSession` per bank
and mode, over the bank opened for writing (:mod:`.recorder_state`). Every request on a bank
takes that bank's lock and does its bank work in a worker thread; an upload is checked
completely (:mod:`.recorder_uploads`) before the bank is touched, and answered only once the
take is durable.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import RequestError, UsageError
from ..record.session import RecordingSession
from . import recorder_uploads as uploads
from .recorder_consent import ConsentRoutes
from .recorder_state import MODES, BankSlot, RecorderBanks, state_json, take_json
from .speech import error_json

if TYPE_CHECKING:
    from .app import SpeechServer

T = TypeVar("T")
ACTIONS = ("accept", "redo", "skip", "later", "next", "back", "break")
_NO_STORE = {"Cache-Control": "no-store"}


def _mode(request: Request) -> str:
    mode = request.query_params.get("mode", "script")
    if mode not in MODES:
        raise RequestError(f"'mode' must be one of {', '.join(MODES)}, not {mode!r}.", param="mode")
    return mode


async def _json_body(request: Request, limit: int = 16 * 1024) -> dict[str, Any]:
    body = await uploads.read_body(request, limit)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(f"The request body is not valid JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise RequestError("The request body must be a JSON object.")
    return data


class Recorder:
    """The recorder's routes over the banks the server offers."""

    def __init__(self, server: SpeechServer) -> None:
        self.settings = server.settings
        self.banks = RecorderBanks(server.settings)
        self.consent = ConsentRoutes(self)  # the consent step (recorder_consent)

    async def _on_bank(self, request: Request, work: Callable[[BankSlot], T]) -> T:
        """``work(slot)`` on the request's bank: under its lock, in a worker thread (never cut short by a client leaving)."""
        slot = self.banks.slot(request.path_params["bank"])
        async with slot.lock:
            return await anyio.to_thread.run_sync(work, slot)

    async def list_banks(self, request: Request) -> Response:
        listed = []
        for name, path in (await anyio.to_thread.run_sync(self.banks.offered)).items():
            slot = self.banks.slot(name)
            async with slot.lock:  # an open bank is read between two changes, never during one
                listed.append(await anyio.to_thread.run_sync(self.banks.summary, slot))
        return JSONResponse({"banks": listed}, headers=_NO_STORE)

    async def create_bank(self, request: Request) -> Response:
        data = await _json_body(request)
        name = data.get("name")

        def create() -> dict[str, Any]:
            path = self.banks.create(name, data.get("speaker", ""), data.get("script", "en-core"))  # type: ignore[arg-type]
            return self.banks.summary(BankSlot(path.name, path))

        return JSONResponse(await anyio.to_thread.run_sync(create), status_code=201)

    async def state(self, request: Request) -> Response:
        mode = _mode(request)
        name = request.path_params["bank"]
        return JSONResponse(await self._on_bank(request, lambda slot: state_json(name, mode, slot.session(mode))),
                            headers=_NO_STORE)

    async def act(self, request: Request) -> Response:
        action, mode, name = request.path_params["action"], _mode(request), request.path_params["bank"]
        if action not in ACTIONS:
            raise RequestError(f"Unknown action {action!r}; use one of {', '.join(ACTIONS)}.", status=404, param="action")
        data = await _json_body(request)
        prompt_id = data.get("prompt_id")

        def run(slot: BankSlot) -> Response:
            session = slot.session(mode)
            current = session.current.id if session.current is not None else None
            if prompt_id != current:
                return _conflict(f"The page acted on {prompt_id!r}, but the prompt now is {current!r}; "
                                 "the page shows the current one again.", "stale_prompt", state_json(name, mode, session))
            try:
                _apply(session, action)
            except UsageError as exc:
                return _conflict(str(exc), "not_allowed", state_json(name, mode, session))
            return JSONResponse(state_json(name, mode, session), headers=_NO_STORE)

        return await self._on_bank(request, run)

    async def close_session(self, request: Request) -> Response:
        await self._on_bank(request, lambda slot: slot.close())
        return Response(status_code=204)

    async def add_message(self, request: Request) -> Response:
        data = await _json_body(request)
        text, name = data.get("text"), request.path_params["bank"]
        if not isinstance(text, str) or not text.strip() or len(text) > 1000 or not uploads.storable(text):
            raise RequestError("'text' must be the message to record (1-1000 characters).", param="text")

        def add(slot: BankSlot) -> dict[str, Any]:
            session = slot.session("messages")
            session.add_message(text)
            return state_json(name, "messages", session)

        return JSONResponse(await self._on_bank(request, add), status_code=201, headers=_NO_STORE)

    async def upload(self, request: Request) -> Response:
        upload_id = uploads.check_id(request.path_params["upload_id"])
        self.banks.slot(request.path_params["bank"])  # 404 for a bank not offered, before the body is read
        prompt_id, sha, capture = uploads.check_headers(request)
        body = await uploads.read_body(request, self.settings.max_upload_bytes)
        checked = await anyio.to_thread.run_sync(
            uploads.checked_upload, upload_id, prompt_id, sha, capture, body, self.settings.max_take_seconds)
        mode = request.query_params.get("mode")
        return await self._on_bank(request, lambda slot: _save(slot, checked, mode))

    async def take_audio(self, request: Request) -> Response:
        take_id = request.path_params["take_id"]

        def wav(slot: BankSlot) -> bytes:
            import soundfile as sf

            bank = slot.opened()
            take = bank.takes.get(take_id)
            if take is None:
                raise RequestError(f"The bank {slot.name!r} holds no take {take_id!r}.", status=404, code="no_take")
            samples, rate = bank.read_take(take)
            out = io.BytesIO()
            sf.write(out, samples, rate, format="WAV", subtype="PCM_16")  # playback only: what every browser plays
            return out.getvalue()

        return Response(await self._on_bank(request, wav), media_type="audio/wav", headers=_NO_STORE)

    def routes(self) -> list[BaseRoute]:
        base = "/v1/record/banks"
        return [
            Route(base, self.list_banks, methods=["GET"]),
            Route(base, self.create_bank, methods=["POST"]),
            Route(base + "/{bank}/session", self.state, methods=["GET"]),
            Route(base + "/{bank}/session", self.close_session, methods=["DELETE"]),
            Route(base + "/{bank}/session/{action}", self.act, methods=["POST"]),
            Route(base + "/{bank}/messages", self.add_message, methods=["POST"]),
            Route(base + "/{bank}/uploads/{upload_id}", self.upload, methods=["PUT"]),
            Route(base + "/{bank}/takes/{take_id}.wav", self.take_audio, methods=["GET"]),
            *self.consent.routes(base),
        ]


def _apply(session: RecordingSession, action: str) -> None:
    if action == "break":
        session.acknowledge_break()
        return
    getattr(session, action)()


def _save(slot: BankSlot, up: uploads.Upload, mode: str | None) -> Response:
    """Store a checked upload (or find the take an earlier try stored) and answer with the take and the state."""
    session, mode = _session_of(slot, up.prompt_id, mode)
    take = session.take_from(uploads.SOURCE, up.upload_id)  # an earlier try (also one adopted after a crash)
    if take is None:
        saved, status = session.save_capture(up.samples, up.sample_rate, prompt_id=up.prompt_id,
                                             capture_id=up.upload_id, source=uploads.SOURCE, capture=up.capture), 201
    elif take.capture.get("upload", {}).get("sha256") != up.sha256:
        return _conflict(f"The upload id {up.upload_id} was used for another take; choose a new id for each take.",
                         "upload_id_reused", state_json(slot.name, mode, session))
    else:
        saved, status = session.adopt_take(take), 200
    body = {"take": take_json(slot.name, saved.take, session), "state": state_json(slot.name, mode, session)}
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


def _session_of(slot: BankSlot, prompt_id: str, mode: str | None) -> tuple[RecordingSession, str]:
    """The session a take's prompt belongs to: ``mode``'s, else the one showing it, else one that lists it."""
    modes = [mode] if mode else [m for m, _ in slot.open_sessions()] or ["script"]
    sessions = [(m, slot.session(m)) for m in modes]
    for m, s in sessions:
        if s.current is not None and s.current.id == prompt_id:
            return s, m
    for m, s in sessions:
        if any(p.id == prompt_id for p in s.prompts):
            return s, m
    raise RequestError(f"There is no prompt {prompt_id!r} to record in this bank.", status=404, param="X-Prompt-Id",
                       code="no_prompt")


def _conflict(message: str, code: str, state: dict[str, Any]) -> Response:
    body = json.loads(error_json(message, code=code))
    body["state"] = state
    return JSONResponse(body, status_code=409, headers=_NO_STORE)


def routes(server: SpeechServer) -> list[BaseRoute]:
    """The recorder's routes; the banks they hold open are kept on ``server.recorder`` (closed when the server stops)."""
    recorder = Recorder(server)
    server.recorder = recorder  # type: ignore[attr-defined]
    return recorder.routes()


async def close(server: SpeechServer) -> None:
    """Release every bank the recorder holds (the server stops)."""
    recorder = getattr(server, "recorder", None)
    if recorder is not None:
        await recorder.banks.close()
