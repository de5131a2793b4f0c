"""``voicebank serve``: the voice over HTTP(S) for other programs and, with ``--lan``, for paired tablets and phones."""

from __future__ import annotations

import errno
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

import typer

from voicebank.errors import UsageError

HELP = (
    "Serve the voice: OpenAI-compatible POST /v1/audio/speech (streamed as it is spoken), the WebSocket "
    "stream, the speak board and the recorder page (/record). On this computer (127.0.0.1) by default; "
    "--lan serves your network over HTTPS, and devices pair by scanning the QR code it shows. Every request needs the token or a pairing. "
    "--wyoming PORT also speaks the Wyoming protocol for Home Assistant (docs/wyoming.md); Wyoming has no token, so it stays on "
    "this computer unless --wyoming-host opens it to the network."
)
WYOMING_OPEN = (
    "Wyoming has no token and no encryption: anyone who reaches {where} can make the voice say anything. "
    "Keep it to a network you trust, or limit it with --wyoming-allow HOME_ASSISTANT_ADDRESS."
)


def serve(
    port: int = typer.Option(5151, help="Port to listen on."),
    voice: str = typer.Option("joe", help="Default voice: OpenAI's voice names (alloy, nova, ...) speak with it."),
    max_streams: int = typer.Option(4, help="Speech streams at once; more are told to retry (429)."),
    token_file: Optional[Path] = typer.Option(None, help="Read the token from this file (default: serve-token in voicebank's data folder)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve without a token (this computer only; not with --lan)."),
    lan: bool = typer.Option(False, "--lan", help="Serve your local network over HTTPS; devices pair with a QR code."),
    host: Optional[str] = typer.Option(None, help="Address to listen on (default 127.0.0.1; with --lan 0.0.0.0, all)."),
    device_days: float = typer.Option(30.0, help="Days a paired device stays paired."),
    rate: float = typer.Option(50.0, help="Requests a second one device may keep up (0: no limit); past it, 429."),
    burst: int = typer.Option(300, help="Requests one device may send at once before --rate applies."),
    cors_origin: Optional[List[str]] = typer.Option(None, help="A web origin whose pages may call the API (repeat for more)."),
    forget_devices: bool = typer.Option(False, "--forget-devices", help="Unpair every paired device, then stop."),
    bank: Optional[List[Path]] = typer.Option(None, "--bank", help="A voice bank the recorder page offers (repeat for more)."),
    banks_dir: Optional[Path] = typer.Option(
        None, help="The folder of voice banks the recorder page offers and creates (default: banks/ in voicebank's data folder)."),
    evaluation: Optional[List[Path]] = typer.Option(
        None, "--eval", help="A 'voicebank train eval' folder the listening test (/listen) offers (repeat for more; default: every voice's eval/)."),
    wyoming: Optional[int] = typer.Option(
        None, "--wyoming", metavar="PORT",
        help="Also serve the Wyoming protocol (Home Assistant's voice pipelines) on this port: 10200 is the usual one; 0 picks a free port."),
    wyoming_only: bool = typer.Option(
        False, "--wyoming-only", help="With --wyoming: serve only Wyoming (no HTTP server, no token, no pairing)."),
    wyoming_host: str = typer.Option(
        "127.0.0.1", help="Address Wyoming listens on. The default reaches only this computer (Home Assistant on the same machine). "
        "0.0.0.0 opens it to your network, where Wyoming has NO token and NO encryption: anyone who reaches the port can make "
        "the voice say anything. --lan does not change it; only this option does."),
    wyoming_allow: Optional[List[str]] = typer.Option(
        None, "--wyoming-allow", metavar="ADDRESS",
        help="Only this address or range (192.168.1.20, 192.168.1.0/24) may use Wyoming; others are disconnected (repeat for more). "
        "Give Home Assistant's address when --wyoming-host opens the network."),
    zeroconf: bool = typer.Option(
        False, "--zeroconf", help="Announce Wyoming on the network (mDNS _wyoming._tcp) so Home Assistant finds it by itself. "
        "Off by default, as in wyoming-piper: an announcement is a deliberate act, and it needs --wyoming-host on the network."),
    zeroconf_name: str = typer.Option("voicebank", help="The name --zeroconf announces (what Home Assistant shows)."),
    watermark: bool = typer.Option(
        True, "--watermark/--no-watermark", help="Mark all speech as synthetic with an inaudible watermark "
        "('voicebank verify FILE' finds it; docs/watermark.md). On unless you turn it off."),
) -> None:
    """Start the server and keep it running until Ctrl+C."""
    if lan and no_auth:
        raise UsageError("--lan always asks for pairing or the token; --no-auth is for this computer only.")
    wyo = _wyoming_plan(wyoming, wyoming_only, wyoming_host, wyoming_allow or [], zeroconf, zeroconf_name)
    if wyoming_only and lan:
        raise UsageError("--lan puts the HTTP server on the network, and --wyoming-only has none. Wyoming goes on the network "
                         "only with --wyoming-host 0.0.0.0 (it has no token: see --help).")
    if wyo is not None and wyoming_only:
        _serve_wyoming_only(wyo, voice, watermark)
        return
    try:
        import uvicorn  # noqa: F401  (checked here: its absence is named before anything starts)

        from voicebank.serve.app import create_app
        from voicebank.serve.pairing import DeviceStore
        from voicebank.serve.settings import ServeSettings, is_loopback
    except ImportError as exc:
        from voicebank.errors import MissingDependencyError

        raise MissingDependencyError("The server (starlette, uvicorn)", "serve") from exc
    if forget_devices:
        count = DeviceStore().forget_all()
        typer.echo(f"Unpaired {count} device(s); they must scan a new pairing code to use the voice again.")
        return
    host = host or ("0.0.0.0" if lan else "127.0.0.1")
    if not lan and not is_loopback(host):
        raise UsageError(f"Listening on {host} reaches other devices: add --lan (HTTPS and pairing).")
    voice = _checked_voice(voice)
    banks = _checked_banks(bank or [])
    token = None if no_auth else _token(token_file)
    tls = None
    if lan:
        from voicebank.serve.tls import ensure_certificate

        tls = ensure_certificate()
    settings = ServeSettings(
        host=host, port=port, token=token, voice=voice, max_streams=max_streams, lan=lan, tls=tls,
        device_days=device_days, rate=rate, burst=burst, cors_origins=tuple(cors_origin or ()),
        banks_dir=banks_dir, banks=banks, evaluations=tuple(p.resolve() for p in evaluation or ()),
        watermark=watermark,
    )
    sock = _bind(host, port)
    app = create_app(settings)
    base = _base_url(settings, sock.getsockname()[1])
    typer.echo(f"Serving {voice} at {base}/v1 (OpenAI base_url). Stop with Ctrl+C.")
    typer.echo(f"Pages: the speak board at {base}/, the recorder at {base}/record, the listening test at {base}/listen.")
    typer.echo(f"AAC boards (AsTeRICS Grid): open {base}/aac for the speech service URL to paste.")
    if wyo is not None:
        _start_wyoming(wyo, app.state.server.engines, settings)
    elif lan:
        typer.echo("For Home Assistant add --wyoming 10200 --wyoming-host 0.0.0.0 (docs/wyoming.md).")
    if token is not None:
        paired = app.state.pairing.devices.count()  # a damaged devices' file is reported now, not per request
        typer.echo(f"Paired devices: {paired} (voicebank serve --forget-devices unpairs them).")
        _offer_pairing(app.state.pairing, base, settings)
    _run(app, sock, settings.tls)


def _run(app: Any, sock: socket.socket, tls: Any) -> None:
    import uvicorn

    ssl: dict[str, Any] = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)} if tls else {}
    config = uvicorn.Config(
        app, log_level="info", server_header=False, timeout_graceful_shutdown=2,
        ws_per_message_deflate=False,  # compression delays the first audio frame (docs/websocket.md)
        **ssl,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down cleanly on Ctrl+C, then passes the signal on
        typer.echo("Stopped.")


def _checked_voice(voice: str) -> str:
    from voicebank.voice.registry import STOCK_NAMES, resolve_voice, voice_folder

    if voice.strip().lower() in STOCK_NAMES:
        return "joe"  # the name requests for the stock voice use: one engine for it
    if voice_folder(voice) is None:
        resolve_voice(voice)  # an unknown voice is refused now, not at the first request
    return voice


def _checked_banks(paths: List[Path]) -> tuple[Path, ...]:
    """The --bank folders, each a bank, and no two of one name (the page names a bank by its folder)."""
    from voicebank.bank.store import MANIFEST

    names: dict[str, Path] = {}
    for path in (p.resolve() for p in paths):
        if not (path / MANIFEST).is_file():
            raise UsageError(f"--bank {path}: there is no voice bank there. Make one with: voicebank bank new {path}")
        if path.name in names:
            raise UsageError(f"--bank {names[path.name]} and --bank {path} have the same folder name; rename one.")
        names[path.name] = path
    return tuple(names.values())


def _token(token_file: Optional[Path]) -> str:
    from voicebank.serve.auth import load_or_create_token, read_token, token_path

    if token_file is not None:
        return read_token(token_file)
    token, created = load_or_create_token()
    _say_token(token if created else None, token_path())
    return token


def _say_token(new_token: Optional[str], path: Path) -> None:
    if new_token is not None:
        typer.echo(f"A new access token was made and kept in {path} (only you can read it):\n\n    {new_token}\n")
        typer.echo("Clients send it as 'Authorization: Bearer TOKEN' (the OpenAI client's api_key). It is shown only this once.")
    else:
        typer.echo(f"Access token: in {path} (show it with: cat {path}).")


def _base_url(settings: Any, port: int) -> str:
    """The address to give people: with --lan on all interfaces, this computer's first network address."""
    host = settings.host
    if host in ("0.0.0.0", "::"):
        from voicebank.serve.tls import host_names, lan_addresses

        host = (lan_addresses() or [host_names()[1]])[0]
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if settings.tls else 'http'}://{host}:{port}"


def _offer_pairing(pairing: Any, base: str, settings: Any) -> None:
    """Show a pairing URL (and on the LAN its QR code); in a terminal, Enter shows a new one."""
    _show_code(pairing, base, settings)
    if settings.tls is not None:
        from voicebank.serve.tls import fingerprint

        typer.echo(
            f"The devices' browsers trust this server once they install its CA certificate: {settings.tls.ca_cert}\n"
            f"(after pairing, open {base}/ca.crt on the device; fingerprint SHA-256 {fingerprint(settings.tls.ca_cert)}).\n"
            "How, for iPad and Android: docs/tablet.md."
        )
    if sys.stdin is not None and sys.stdin.isatty():
        typer.echo("Press Enter here for a new pairing code (each pairs one device).")

        def more() -> None:
            for _ in sys.stdin:
                _show_code(pairing, base, settings)

        threading.Thread(target=more, name="pairing-codes", daemon=True).start()


def _show_code(pairing: Any, base: str, settings: Any) -> None:
    url = f"{base}/pair?code={pairing.new_code()}"
    minutes = f"{settings.pair_minutes:g}"
    if settings.tls is None:
        typer.echo(f"\nOpen the speak board in this computer's browser (this link works once, for {minutes} minutes):\n    {url}\n")
        return
    import segno

    typer.echo(f"\nPair a tablet or phone: scan this QR code, or open the link (it works once, for {minutes} minutes):\n    {url}\n")
    segno.make(url, error="l").terminal(out=sys.stdout, compact=True, border=2)
    sys.stdout.flush()


def _bind(host: str, port: int, option: str = "--port") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"Port {port} is in use (another server?). Choose another with {option}.") from exc
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
    return sock


@dataclass(frozen=True)
class _WyomingPlan:
    """The Wyoming options, checked: where it listens, who may connect, what it announces."""

    port: int
    host: str
    allow: tuple[Any, ...]
    zeroconf_name: Optional[str]


def _wyoming_plan(port: Optional[int], only: bool, host: str, allow: List[str], zeroconf: bool, name: str) -> Optional[_WyomingPlan]:
    if port is None:
        if only or zeroconf or allow:
            raise UsageError("--wyoming-only, --wyoming-allow and --zeroconf go with --wyoming PORT (10200 is the usual port).")
        return None
    if not 0 <= port <= 65535:
        raise UsageError(f"--wyoming must be a port from 0 to 65535, not {port}.")
    try:
        from voicebank.serve.settings import is_loopback
        from voicebank.serve.wyoming_server import parse_allow
    except ImportError as exc:
        from voicebank.errors import MissingDependencyError

        raise MissingDependencyError("The Wyoming server (wyoming, zeroconf)", "serve") from exc
    if zeroconf and is_loopback(host):
        raise UsageError("--zeroconf announces Wyoming to your network, but it listens only on this computer: add --wyoming-host 0.0.0.0.")
    return _WyomingPlan(port, host, parse_allow(allow), name if zeroconf else None)


def _wyoming_service(plan: _WyomingPlan, engines: Any, voice: str, options: Any = None, lead: float = 0.5) -> Any:
    from voicebank.engines.base import SynthesisOptions
    from voicebank.serve.wyoming_server import WyomingService

    return WyomingService(engines=engines, voice=voice, options=options or SynthesisOptions(), lead=lead, allow=plan.allow)


def _say_wyoming(plan: _WyomingPlan, sock: socket.socket) -> None:
    from voicebank.serve.settings import is_loopback

    port = sock.getsockname()[1]
    host = plan.host
    if host in ("0.0.0.0", "::"):
        from voicebank.serve.tls import lan_addresses

        host = (lan_addresses() or [host])[0]
    typer.echo(f"Wyoming (Home Assistant) on {host}:{port}: in Home Assistant add the Wyoming Protocol integration with this host and port.")
    if not is_loopback(plan.host):
        where = "this port" if not plan.allow else "this port from the allowed addresses"
        typer.echo(WYOMING_OPEN.format(where=where))
    if plan.zeroconf_name:
        typer.echo(f"Announced as '{plan.zeroconf_name}' (_wyoming._tcp): Home Assistant offers it under Settings > Devices & services.")


def _start_wyoming(plan: _WyomingPlan, engines: Any, settings: Any) -> None:
    """Wyoming beside HTTP, on its own thread, sharing the HTTP server's engines (each voice loaded once)."""
    from voicebank.serve.wyoming_server import WyomingThread

    sock = _bind(plan.host, plan.port, "--wyoming")
    service = _wyoming_service(plan, engines, settings.voice, settings.options, settings.lead)
    WyomingThread(service, sock, plan.zeroconf_name).start()
    _say_wyoming(plan, sock)


def _serve_wyoming_only(plan: _WyomingPlan, voice: str, watermark: bool = True) -> None:
    import asyncio
    from functools import partial

    from voicebank.serve.app import EngineCache, _load_engine
    from voicebank.serve.wyoming_server import serve as serve_wyoming

    voice = _checked_voice(voice)
    sock = _bind(plan.host, plan.port, "--wyoming")
    sock.listen(64)  # clients that come while the voice loads wait in the queue instead of being refused
    engines = EngineCache(partial(_load_engine, watermark=watermark))
    engines.get(voice)  # the default voice loads now, not in the first request's time to first audio
    _say_wyoming(plan, sock)
    typer.echo(f"Speaking with {voice} by default. Stop with Ctrl+C.")
    try:
        asyncio.run(serve_wyoming(_wyoming_service(plan, engines, voice), sock, plan.zeroconf_name))
    except KeyboardInterrupt:
        typer.echo("Stopped.")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the main app."""
    app.command("serve", help=HELP)(serve)


__all__ = ["register"]
