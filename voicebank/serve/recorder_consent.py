"""The web recorder's consent step (docs/recorder-api.md, "Consent"): the statement to read, its take, and the verdict.

The server makes the statement (:func:`voicebank.provenance.consent.new_statement`: the
speaker's name, today's date, a random code phrase) and keeps it; the page records the
person reading it and uploads the take against the statement's id, and
:func:`~voicebank.provenance.consent.save_take` stores and checks it in the bank's
``consent/`` folder. The page never chooses the code phrase, so an old recording cannot be
replayed as today's consent. Statements live in memory: after a restart the page asks for
a new one.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import AudioFormatError, BankError, CorruptFileError, RequestError, StorageError, UsageError, VoicebankError
from . import recorder_uploads as uploads

if TYPE_CHECKING:
    from .recorder import Recorder
    from .recorder_state import BankSlot

KEEP_STATEMENTS = 64  # statements remembered (all banks); the oldest is forgotten first
MAX_NAME = 200
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Issued:
    """A statement the server gave a page: for which bank, who operates, and the verdicts of takes already sent."""

    bank: str
    statement: Any  # voicebank.provenance.consent.Statement
    operator: str | None
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # body sha256 -> verdict (retries)


def _name(value: Any, param: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME or not uploads.storable(value):
        what = "the name of the person whose voice this is" if param == "speaker" else "the operator's name, or nothing"
        raise RequestError(f"'{param}' must be {what} (at most {MAX_NAME} characters).", param=param)
    return " ".join(value.split())


def verdict_json(status: Any) -> dict[str, Any]:
    """What the page shows of a :class:`ConsentStatus`: passed or not, how, the one-line detail and each check."""
    record = status.record or {}
    checks = record.get("checks") if isinstance(record.get("checks"), dict) else {}
    detail = str(status.detail or "")
    for advice in (" Record it again with:", " Once the bank has them, check"):  # the terminal's advice; the page has buttons
        detail = detail.split(advice)[0]
    return {
        "ok": bool(status.ok), "how": status.how, "verdict": record.get("verdict") or ("pass" if status.ok else "none"),
        "detail": detail.strip(),
        "checks": {str(k): {"status": v.get("status"), "detail": v.get("detail")} for k, v in checks.items()
                   if isinstance(v, dict)},
        "operator": record.get("operator"), "date": record.get("date"),
    }


class ConsentRoutes:
    """The consent routes over the recorder's banks."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.issued: OrderedDict[str, Issued] = OrderedDict()
        self.locks: dict[str, anyio.Lock] = {}  # one consent take checked at a time per bank

    def _slot(self, request: Request) -> BankSlot:
        return self.recorder.banks.slot(request.path_params["bank"])

    async def status(self, request: Request) -> Response:
        """The bank's consent now, and the speaker's name from the bank (the page asks for it first)."""
        slot = self._slot(request)

        def read() -> dict[str, Any]:
            from ..provenance.consent import consent_status

            with_bank = slot.opened()  # the recorder holds it open anyway; 409 when another program does
            speaker = str(with_bank.meta.get("speaker", ""))
            try:
                return {"speaker": speaker, **verdict_json(consent_status(slot.path))}
            except VoicebankError as exc:
                raise refusal(exc) from exc

        async with slot.lock:
            body = await anyio.to_thread.run_sync(read)
        return JSONResponse(body, headers=_NO_STORE)

    async def new(self, request: Request) -> Response:
        """A statement for the speaker to read (the code phrase is chosen here, never by the page)."""
        from ..provenance.consent import new_statement

        slot = self._slot(request)
        data = await _json_body(request)
        speaker = _name(data.get("speaker"), "speaker", required=True)
        operator = _name(data.get("operator"), "operator", required=False)
        try:
            statement = new_statement(speaker or "")
        except UsageError as exc:
            raise RequestError(str(exc), param="speaker") from exc
        sid = secrets.token_urlsafe(18)  # 24 characters of A-Z a-z 0-9 _ -: a valid upload id
        self.issued[sid] = Issued(slot.name, statement, operator)
        while len(self.issued) > KEEP_STATEMENTS:
            self.issued.popitem(last=False)
        return JSONResponse({"id": sid, "text": statement.text, "code_words": list(statement.code_words),
                             "speaker": statement.speaker, "date": statement.date, "operator": operator},
                            status_code=201, headers=_NO_STORE)

    async def take(self, request: Request) -> Response:
        """The take of a statement: checked as an upload, then stored and judged by the consent module."""
        sid = uploads.check_id(request.path_params["statement_id"])
        slot = self._slot(request)
        issued = self.issued.get(sid)
        if issued is None or issued.bank != slot.name:
            raise RequestError("This statement is not known here (the server restarted, or it is from another bank): "
                               "ask for a new statement and read that one.", status=404, code="no_statement")
        sha = request.headers.get("x-content-sha256", "").strip().lower()
        if not uploads.SHA256.fullmatch(sha):
            raise RequestError("Send the body's sha256 (64 hex digits) in the X-Content-SHA256 header.",
                               param="X-Content-SHA256")
        capture = uploads.parse_capture(request.headers.get("x-capture"))
        body = await uploads.read_body(request, self.recorder.settings.max_upload_bytes)
        up = await anyio.to_thread.run_sync(uploads.checked_upload, sid, "consent", sha, capture, body,
                                            self.recorder.settings.max_take_seconds)
        if sha in issued.answers:  # a retry after a lost answer: the same verdict, not a second take
            return JSONResponse(issued.answers[sha], headers=_NO_STORE)
        lock = self.locks.setdefault(slot.name, anyio.Lock())
        async with lock:
            answer = await anyio.to_thread.run_sync(self._save, slot, issued, up)
        issued.answers[sha] = answer
        return JSONResponse(answer, status_code=201, headers=_NO_STORE)

    async def check(self, request: Request) -> Response:
        """Check the latest consent take again (after more takes were recorded: the voice check needs them)."""
        slot = self._slot(request)

        def run() -> dict[str, Any]:
            from ..provenance.consent import recheck

            try:
                return verdict_json(recheck(slot.path))
            except VoicebankError as exc:
                raise refusal(exc) from exc

        async with self.locks.setdefault(slot.name, anyio.Lock()):
            return JSONResponse(await anyio.to_thread.run_sync(run), headers=_NO_STORE)

    @staticmethod
    def _save(slot: BankSlot, issued: Issued, up: uploads.Upload) -> dict[str, Any]:
        from ..provenance.consent import save_take

        try:
            status = save_take(slot.path, up.samples, up.sample_rate, issued.statement, operator=issued.operator)
        except VoicebankError as exc:
            raise refusal(exc) from exc
        return verdict_json(status)

    def routes(self, base: str) -> list[BaseRoute]:
        return [
            Route(base + "/{bank}/consent", self.status, methods=["GET"]),
            Route(base + "/{bank}/consent/statements", self.new, methods=["POST"]),
            Route(base + "/{bank}/consent/check", self.check, methods=["POST"]),
            Route(base + "/{bank}/consent/statements/{statement_id}", self.take, methods=["PUT"]),
        ]


def refusal(exc: VoicebankError) -> RequestError:
    """The consent module's errors as the API's refusals (never a 500 for a take or a bank it cannot use)."""
    if isinstance(exc, RequestError):
        return exc
    if isinstance(exc, AudioFormatError):
        return RequestError(str(exc), status=422, code="unusable_take")
    if isinstance(exc, (BankError, CorruptFileError, StorageError)):
        return RequestError(str(exc), status=409, code="bank_unavailable")
    return RequestError(str(exc), status=400 if isinstance(exc, UsageError) else 409)


async def _json_body(request: Request) -> dict[str, Any]:
    from .recorder import _json_body as read

    return await read(request)
