"""Who may use the server: the access token (kept private in the data folder), paired devices, and the guards on every request.

Clients send the token, or a paired device's token, as ``Authorization: Bearer TOKEN``
(the OpenAI client's ``api_key``); a paired browser sends its device token in the
``voicebank_session`` cookie. AsTeRICS Grid can send neither (it fetches a URL it is
given, with no headers), so its URL carries a key in its path: ``/aac/KEY/...``, made
from the token and good for the ``/aac/`` routes alone (:func:`aac_key`). Tokens are
compared in constant time or by their hash, and neither they, that key, pairing codes,
nor the text an AAC board speaks are written to a log.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

import anyio
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import data_home
from ..durable import atomic_write, storage_error
from ..errors import UsageError
from .pairing import COOKIE, DeviceStore, session_cookie
from .ratelimit import RateLimit, refuse
from .settings import ServeSettings
from .speech import error_json

TOKEN_FILE = "serve-token"
_MIN_LENGTH = 16
AAC_PREFIX = "/aac/"  # AsTeRICS Grid's routes (voicebank.serve.aac): their key may come in the path


def token_path() -> Path:
    return data_home() / TOKEN_FILE


def load_or_create_token(path: Path | None = None) -> tuple[str, bool]:
    """The token kept at ``path`` (default: the data folder's ``serve-token``), made if missing.

    Returns ``(token, created)``. A new token is written with mode 0600; an existing file
    that others can read is refused, since anyone who can read it can speak as the user.
    """
    path = path or token_path()
    if path.exists():
        return read_token(path), False
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path.parent) from exc
    atomic_write(path, (token + "\n").encode("ascii"), mode=0o600)
    return token, True


def read_token(path: Path) -> str:
    """Read a token file; refuse one that is empty, too short, or readable by other users."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise storage_error(exc, path, action="read", what="token file") from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"The token file {path} can be read by other users of this computer. "
            f"Make it private with: chmod 600 {path}"
        )
    if len(text) < _MIN_LENGTH or any(c.isspace() for c in text):
        raise UsageError(
            f"The token file {path} holds no usable token (one line of at least {_MIN_LENGTH} characters). "
            "Delete it and start the server again to make a new one."
        )
    return text


def bearer_matches(header: bytes | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time comparison)."""
    given = bearer_token(header)
    return given is not None and hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def bearer_token(header: bytes | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, if it is one."""
    if not header:
        return None
    scheme, _, given = header.decode("latin-1").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def aac_key(token: str) -> str:
    """The key AsTeRICS Grid's URL carries (``/aac/KEY``): derived from ``token``, it opens the ``/aac/`` routes and nothing else."""
    digest = hmac.new(token.encode("utf-8"), b"voicebank aac key", "sha256").digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def _path_key_matches(path: str, key: str) -> bool:
    """Whether ``path`` is ``/aac/KEY/...`` with this key (constant-time comparison)."""
    if not path.startswith(AAC_PREFIX):
        return False
    given = path[len(AAC_PREFIX):].split("/", 1)[0]
    return hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))


def middleware(settings: ServeSettings, devices: DeviceStore | None = None) -> list[Middleware]:
    """What guards every request of a server with these settings, outermost first: CORS, the rate limit, the token."""
    hide_queries_in_logs()
    stack: list[Middleware] = []
    if settings.cors_origins:  # outermost, so that refusals (401, 429) carry the headers a web page needs to read them
        stack.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"], expose_headers=["Retry-After"], max_age=600,
        ))
    if settings.rate > 0:
        stack.append(Middleware(RateLimit, rate=settings.rate, burst=settings.burst))
    if settings.token:
        open_paths = ("/pair",) if settings.lan else ("/pair", "/health")
        stack.append(Middleware(
            BearerAuth, token=settings.token, devices=devices, open_paths=open_paths,
            device_days=settings.device_days, secure=settings.tls is not None,
        ))
    return stack


class BearerAuth:
    """ASGI middleware: every request but the ``open`` paths needs the token or a paired device's, or gets 401.

    A paired device in use past half its time gets its full time again (and its browser a
    fresh cookie), so only a device left unused for ``device_days`` has to pair again.
    """

    def __init__(
        self, app: ASGIApp, token: str, devices: DeviceStore | None = None, open_paths: Iterable[str] = ("/health",),
        device_days: float = 30.0, secure: bool = False,
    ) -> None:
        self.app = app
        self._token = token
        self._devices = devices
        self._open = frozenset(open_paths)
        self._days = device_days
        self._secure = secure
        self._aac_key = aac_key(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self._open:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and _path_key_matches(scope["path"], self._aac_key):
            await self.app(scope, receive, send)
            return
        given, from_cookie = _credential(scope["headers"])
        if given is not None and not from_cookie and hmac.compare_digest(given.encode("utf-8"), self._token.encode("utf-8")):
            await self.app(scope, receive, send)
            return
        left = self._devices.days_left(given) if given and self._devices is not None else None
        if left is None:
            await _refuse(scope, receive, send)
            return
        if left < self._days / 2:
            await anyio.to_thread.run_sync(self._devices.renew, given, self._days)  # type: ignore[union-attr]
            if from_cookie and scope["type"] == "http":
                send = _adding_cookie(send, session_cookie(given, self._days, self._secure))  # type: ignore[arg-type]
        await self.app(scope, receive, send)


def _credential(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """The token a request carries (``Authorization: Bearer`` first, else the session cookie), and whether it came in the cookie."""
    given = bearer_token(next((v for k, v in headers if k == b"authorization"), None))
    if given is not None:
        return given, False
    cookies = b"; ".join(v for k, v in headers if k == b"cookie").decode("latin-1")
    session = cookie_parser(cookies).get(COOKIE) if cookies else None
    return (session, True) if session else (None, False)


def _adding_cookie(send: Send, cookie: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]}
        await send(message)

    return sending


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
    if scope["type"] == "http" and b"text/html" in accept:  # a person in a browser: say how to pair
        body = (
            b'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            b"<title>Not paired - voicebank</title></head><body><h1>This device is not paired</h1>"
            b"<p>On the computer that runs voicebank serve, press Enter in its window for a pairing code, "
            b"then scan its QR code or open the address it shows on this device.</p></body></html>"
        )
        await refuse(scope, receive, send, 401, body, content_type=b"text/html; charset=utf-8", headers=_CHALLENGE)
        return
    message = (
        "Missing, wrong or expired access token. Send 'Authorization: Bearer TOKEN' with the token "
        "voicebank serve printed (the OpenAI client's api_key), or pair this device again."
    )
    await refuse(scope, receive, send, 401, error_json(message, code="invalid_api_key"), headers=_CHALLENGE)


_CHALLENGE = [(b"www-authenticate", b'Bearer realm="voicebank"'), (b"cache-control", b"no-store")]


class _HideQueries(logging.Filter):
    """Cuts the query off the paths in uvicorn's log lines (a pairing code travels in one: ``/pair?code=...``),
    and keeps only the route of an ``/aac/`` path (its key and the spoken text travel in it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and ("?" in a or a.startswith(AAC_PREFIX)) for a in record.args):
            record.args = tuple(_loggable(a) if isinstance(a, str) and a.startswith("/") else a for a in record.args)
        return True


def _loggable(path: str) -> str:
    """``path`` without its query; an ``/aac/`` path as ``/aac/…/ROUTE/…`` (no key, no text)."""
    path = path.split("?", 1)[0]
    if not path.startswith(AAC_PREFIX):
        return path
    route = next((part for part in path.split("/")[2:4] if part in _AAC_ROUTE_NAMES), "…")
    return f"{AAC_PREFIX}…/{route}/…"


_AAC_ROUTE_NAMES = frozenset({"voices", "speakdata", "speak", "cache", "speaking", "stop"})


def hide_queries_in_logs() -> None:
    """Put the query filter on uvicorn's access and error loggers (once; it stays when uvicorn configures logging)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideQueries) for f in logger.filters):
            logger.addFilter(_HideQueries())
