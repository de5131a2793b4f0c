"""A per-client request-rate limit (a token bucket for each client address): past it, 429 with ``Retry-After``.

Also :func:`refuse`, the one way the server's guards answer before the app: an HTTP status
for a request, and the same status (not an accepted-then-closed socket) for a WebSocket upgrade.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from .speech import error_json

_PRUNE_AT = 4096  # clients remembered before the full (idle) buckets are dropped


class TokenBuckets:
    """One bucket per client: ``burst`` requests at once, then ``rate`` a second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Take one request from ``client``'s bucket: 0.0 if it may go on, else the seconds until it may."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        self._buckets = {c: (t, w) for c, (t, w) in self._buckets.items() if t + (now - w) * self.rate < self.burst}


class RateLimit:
    """ASGI middleware: each client address gets a token bucket; a request past it gets 429 and ``Retry-After``."""

    def __init__(self, app: ASGIApp, rate: float, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "")
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        body = error_json(
            f"Too many requests from this device; try again in {seconds} s.", kind="rate_limit_error", code="rate_limited"
        )
        await refuse(scope, receive, send, 429, body, headers=[(b"retry-after", str(seconds).encode())])


async def refuse(
    scope: Scope, receive: Receive, send: Send, status: int, body: bytes,
    content_type: bytes = b"application/json", headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer ``status`` with ``body`` instead of the app; a WebSocket upgrade gets the HTTP status where the server can send one."""
    head = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(headers or [])]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect: the handshake waits for the app's answer
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})  # the server can only say 403
            return
        await send({"type": "websocket.http.response.start", "status": status, "headers": head})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
