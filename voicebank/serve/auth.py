"""The server's access token: made once, kept private in the data folder, checked on every request.

Clients send it as ``Authorization: Bearer TOKEN`` (the OpenAI client's ``api_key``).
The token is compared in constant time and never written to a log.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import data_home
from ..durable import atomic_write, storage_error
from ..errors import UsageError
from .settings import ServeSettings
from .speech import error_json

TOKEN_FILE = "serve-token"
_MIN_LENGTH = 16


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
    if not header:
        return False
    scheme, _, given = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def middleware(settings: ServeSettings) -> list[Middleware]:
    """What guards every request of a server with these settings (nothing when it has no token)."""
    return [Middleware(BearerAuth, token=settings.token)] if settings.token else []


class BearerAuth:
    """ASGI middleware: every request but the ``open`` paths needs the token, or gets 401."""

    def __init__(self, app: ASGIApp, token: str, open_paths: Iterable[str] = ("/health",)) -> None:
        self.app = app
        self._token = token
        self._open = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self._open:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization")
        if bearer_matches(header, self._token):
            await self.app(scope, receive, send)
            return
        await _refuse(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    message = (
        "Missing or wrong access token. Send 'Authorization: Bearer TOKEN' with the token "
        "voicebank serve printed (the OpenAI client's api_key)."
    )
    body = error_json(message, code="invalid_api_key")
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="voicebank"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
