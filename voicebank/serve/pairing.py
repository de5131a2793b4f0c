"""Pairing a browser with the server: one-time pairing codes, and the paired devices' tokens kept hashed with their expiry.

The server shows a pairing URL (``/pair?code=...``, as text and a QR code); opening it on
a tablet turns the code, once, into a device token that the browser keeps in the
``voicebank_session`` cookie and an API client may send as ``Authorization: Bearer``.
Only each token's SHA-256 is kept (``serve-devices.json`` in the data folder), so the file
does not let anyone speak as a device.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ..config import data_home
from ..durable import atomic_write, read_json_dict, storage_error
from ..errors import CorruptFileError
from .settings import ServeSettings

log = logging.getLogger("voicebank.serve")

COOKIE = "voicebank_session"
DEVICES_FILE = "serve-devices.json"
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: a code read aloud or typed stays right
_CODE_LENGTH = 12  # about 59 bits: out of reach in the minutes a code lasts, behind the rate limit
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}  # the code must not linger anywhere


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def devices_path() -> Path:
    return data_home() / DEVICES_FILE


class PairingCodes:
    """One-time pairing codes: each good once, for ``minutes`` after it was made; kept only hashed, in memory."""

    def __init__(self, minutes: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lifetime = minutes * 60
        self._clock = clock
        self._codes: dict[str, float] = {}  # digest -> when it expires
        self._lock = threading.Lock()

    def new(self) -> str:
        code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
        with self._lock:
            now = self._clock()
            self._codes = {d: end for d, end in self._codes.items() if end > now}
            self._codes[_digest(code)] = now + self._lifetime
        return code

    def redeem(self, code: str) -> bool:
        """Whether ``code`` is a live code; it is used up either way it was live."""
        given = "".join(code.split()).replace("-", "").lower()
        with self._lock:
            end = self._codes.pop(_digest(given), None)
            return end is not None and end > self._clock()


class DeviceStore:
    """The paired devices: each device token's SHA-256, name and expiry, in a private JSON file.

    The file is read again when it changes, so ``voicebank serve --forget-devices`` run
    beside a running server locks the devices out at once.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or devices_path()
        self._devices: dict[str, dict[str, Any]] = {}
        self._seen: tuple[int, int, int] | None = None  # (inode, size, mtime) of the file last read
        self._lock = threading.Lock()

    def add(self, days: float, name: str = "", now: float | None = None) -> str:
        """A new device token, good for ``days`` from ``now`` (default: this moment); only its hash is kept."""
        token = secrets.token_urlsafe(32)
        now = time.time() if now is None else now
        with self._lock:
            self._refresh()
            entry = {"paired": round(now), "expires": round(now + days * 86400), "name": name[:120]}
            self._devices[_digest(token)] = entry
            self._save({d: e for d, e in self._devices.items() if e["expires"] > time.time()})
        return token

    def valid(self, token: str) -> bool:
        """Whether ``token`` belongs to a paired device whose time has not run out."""
        return self.days_left(token) is not None

    def days_left(self, token: str) -> float | None:
        """The days ``token``'s device stays paired (None: no paired device has it, or its time ran out)."""
        with self._lock:
            self._refresh()
            entry = self._devices.get(_digest(token))
        left = None if entry is None else (entry["expires"] - time.time()) / 86400
        return left if left is not None and left > 0 else None

    def renew(self, token: str, days: float) -> None:
        """Give a device in use its full time again (so that a tablet used every day stays paired)."""
        with self._lock:
            self._refresh()
            entry = self._devices.get(_digest(token))
            now = time.time()
            if entry is not None and now < entry["expires"] < now + days * 86400 / 2:  # not renewed meanwhile
                entry["expires"] = round(now + days * 86400)
                self._save(self._devices)

    def count(self) -> int:
        """How many paired devices are still good (reads the file: a damaged one is reported here)."""
        with self._lock:
            self._refresh(strict=True)
            return sum(1 for e in self._devices.values() if e["expires"] > time.time())

    def forget_all(self) -> int:
        """Unpair every device; returns how many were still good."""
        with self._lock:
            self._refresh(strict=True)
            alive = sum(1 for e in self._devices.values() if e["expires"] > time.time())
            self._save({})
        return alive

    def _refresh(self, strict: bool = False) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._devices, self._seen = {}, None
            return
        except OSError as exc:
            raise storage_error(exc, self.path, action="read", what="paired devices' file") from exc
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        if seen == self._seen:
            return
        try:
            data = read_json_dict(self.path, what="paired devices' file")
            devices = {str(d["sha256"]): {**d, "expires": float(d["expires"])} for d in data.get("devices", [])}
        except (CorruptFileError, KeyError, TypeError, ValueError) as exc:
            if strict:
                raise CorruptFileError(
                    f"The paired devices' file {self.path} is damaged ({exc}). Delete it and pair the devices again."
                ) from exc
            log.warning("The paired devices' file %s is damaged; no device can sign in until it is fixed.", self.path)
            devices = {}
        self._devices, self._seen = devices, seen

    def _save(self, devices: dict[str, dict[str, Any]]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, self.path.parent) from exc
        rows = [{"sha256": d, **{k: v for k, v in e.items() if k != "sha256"}} for d, e in devices.items()]
        text = json.dumps({"schema_version": 1, "devices": rows}, indent=2) + "\n"
        atomic_write(self.path, text.encode("utf-8"), mode=0o600)
        self._devices, self._seen = devices, None


class Pairing:
    """The server's pairing: codes to hand out, the devices paired, and the ``/pair`` route that joins them."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.codes = PairingCodes(settings.pair_minutes)
        self.devices = DeviceStore(settings.devices)

    def new_code(self) -> str:
        return self.codes.new()

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [Route("/pair", self.pair, methods=["GET"])]
        if self.settings.tls is not None:
            routes.append(Route("/ca.crt", self.ca_cert, methods=["GET"]))
        return routes

    async def pair(self, request: Request) -> Response:
        """Turn a live code into a device token in the session cookie, then go on to the board (``/``)."""
        if self.settings.token is None:
            return _page("No pairing needed", "This server asks for no token.", status=200, go_on=True)
        if not self.codes.redeem(request.query_params.get("code", "")):
            return _page(
                "This pairing code does not work",
                "It is wrong, already used, or more than a few minutes old. On the computer that runs "
                "voicebank serve, press Enter in its window for a new code, then scan the new QR code "
                "or open the new address here.",
                status=401,
            )
        days = self.settings.device_days
        token = await anyio.to_thread.run_sync(self.devices.add, days, request.headers.get("user-agent", ""))
        # a page that moves on to the board, not a redirect: a navigation begun by a QR scanner counts as
        # cross-site, and a redirect from it would arrive without the SameSite=Strict cookie just set
        response = _page("Paired", "This device may now use the voice. Opening the speak board...", status=200, go_on=True)
        response.headers.append("set-cookie", session_cookie(token, days, secure=self.settings.tls is not None))
        log.info("paired a device for %g days", days)
        return response

    async def ca_cert(self, request: Request) -> Response:
        """The local CA's certificate, for the device to install and trust (asked for once paired)."""
        assert self.settings.tls is not None
        return FileResponse(self.settings.tls.ca_cert, media_type="application/x-x509-ca-cert", filename="voicebank-ca.crt")


def session_cookie(token: str, days: float, secure: bool) -> str:
    """The ``Set-Cookie`` value that keeps a device token in the browser: script cannot read it, other sites cannot send it."""
    return f"{COOKIE}={token}; Max-Age={int(days * 86400)}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")


def _page(title: str, text: str, *, status: int, go_on: bool = False) -> HTMLResponse:
    refresh = '<meta http-equiv="refresh" content="0; url=/">' if go_on else ""
    link = '<p><a href="/">Open the speak board</a></p>' if go_on else ""
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"{refresh}<title>{html.escape(title)} - voicebank</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{link}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


__all__ = ["COOKIE", "DeviceStore", "Pairing", "PairingCodes", "devices_path", "session_cookie"]
