"""What a server is started with: where it listens, its token, TLS, pairing and its limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..engines.base import SynthesisOptions
from ..errors import UsageError
from .speech import MAX_INPUT_CHARS

DEFAULT_PORT = 5151


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of an HTTPS server: its certificate and key, and the local CA that signed it."""

    cert: Path
    key: Path
    ca_cert: Path


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
    lan: bool = False  # served to the network: every route but /pair needs a token, /health included
    tls: TlsFiles | None = None  # HTTPS (the session cookie is then Secure)
    devices: Path | None = None  # the paired devices' file (default: serve-devices.json in the data folder)
    device_days: float = 30.0  # how long a paired device's token lasts
    pair_minutes: float = 10.0  # how long a pairing code lasts (each is good for one device)
    rate: float = 50.0  # requests a second one client may keep up (0: no limit)
    burst: int = 300  # requests one client may send at once before the rate applies
    cors_origins: tuple[str, ...] = ()  # web origins allowed to call the API from their pages
    banks_dir: Path | None = None  # the recorder offers every bank in this folder (default: banks/ in the data folder)
    banks: tuple[Path, ...] = ()  # ...and these banks, wherever they are (--bank)
    max_take_seconds: float = 120.0  # a longer uploaded take is refused (413 too_long)
    max_upload_bytes: int = 48 * 1024 * 1024  # 120 s of 32-bit stereo at 48 kHz fits with room
    evaluations: tuple[Path, ...] = ()  # `train eval` folders the listening test (/listen) offers (--eval)
    # every route's audio carries the watermark (docs/watermark.md): `voicebank serve` turns it on unless
    # --no-watermark; off here so that an app built in code (the tests) speaks the engine's exact samples
    watermark: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_streams <= 256:
            raise UsageError("--max-streams must be from 1 to 256.")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be from 1 to 65535, not {self.port}.")
        if self.token is None and (self.lan or not is_loopback(self.host)):
            raise UsageError("A server without a token may only listen on this computer (127.0.0.1); --lan always uses one.")
        if not 0 < self.device_days <= 3650:
            raise UsageError(f"--device-days must be more than 0 and at most 3650, not {self.device_days}.")
        if not 0 < self.pair_minutes <= 24 * 60:
            raise UsageError(f"A pairing code must last more than 0 and at most 1440 minutes, not {self.pair_minutes}.")
        if self.rate < 0 or self.burst < 1:
            raise UsageError("--rate must be 0 (no limit) or more, and --burst at least 1.")
        if not 0 < self.max_take_seconds <= 3600 or self.max_upload_bytes < 1024:
            raise UsageError("The longest take must be more than 0 and at most 3600 seconds, and an upload at least 1 KB.")
        for origin in self.cors_origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise UsageError(f"--cors-origin wants an origin such as https://board.example.org, not {origin!r}.")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` can only be reached from this computer."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
