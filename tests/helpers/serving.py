"""A real uvicorn server on a free loopback port, in a thread, for the tests of ``voicebank serve``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def running(app: Any, scheme: str = "http", **config: Any) -> Iterator[tuple[str, int]]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields ``(base_url, port)``.

    ``config`` goes to ``uvicorn.Config`` (``ssl_certfile``/``ssl_keyfile`` for HTTPS, ``log_config``...).
    """
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"{scheme}://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_idle(slots: Any, seconds: float = 20.0) -> None:
    """Until a server's stream slots show nothing open or synthesizing (a liveness bound, not a timing claim)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if slots.active == 0 and slots.synthesizing == 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"streams still open: {slots.active}, synthesizing: {slots.synthesizing}")
