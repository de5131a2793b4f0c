"""What a server is started with: where it listens, its token and its limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..engines.base import SynthesisOptions
from ..errors import UsageError
from .speech import MAX_INPUT_CHARS

DEFAULT_PORT = 5151


@dataclass(frozen=True)
class ServeSettings:
    """Settings of one server; ``token=None`` serves without a token (loopback only)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    voice: str = "joe"  # the default voice: OpenAI's voice names speak with it
    max_streams: int = 4  # speech streams at once; more get 429 with Retry-After
    max_input_chars: int = MAX_INPUT_CHARS
    max_body_bytes: int = 64 * 1024  # a 4096-character input escaped as JSON fits with room
    lead: float = 0.5  # seconds of audio a network client buffers ahead (paces the engine's windows)
    retry_after: int = 1  # seconds a client told 429 should wait
    preload: bool = True  # load the default voice when the server starts, not on the first request
    options: SynthesisOptions = field(default_factory=SynthesisOptions)  # base options of every request
    phrases: Path | None = None  # the saved phrases the board shows (default: the user's phrase book)

    def __post_init__(self) -> None:
        if not 1 <= self.max_streams <= 256:
            raise UsageError("--max-streams must be from 1 to 256.")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be from 1 to 65535, not {self.port}.")
        if self.token is None and not is_loopback(self.host):
            raise UsageError("A server without a token may only listen on this computer (127.0.0.1).")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` can only be reached from this computer."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
