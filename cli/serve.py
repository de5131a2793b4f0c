"""``voicebank serve``: speak to other programs on this computer through the OpenAI-compatible speech API."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Optional

import typer

from voicebank.errors import UsageError

HELP = (
    "Serve the voice over HTTP on this computer (127.0.0.1): OpenAI-compatible POST /v1/audio/speech, "
    "streamed as it is spoken. Every request but /health needs the token printed at the first start."
)


def serve(
    port: int = typer.Option(5151, help="Port to listen on (127.0.0.1 only)."),
    voice: str = typer.Option("joe", help="Default voice: OpenAI's voice names (alloy, nova, ...) speak with it."),
    max_streams: int = typer.Option(4, help="Speech streams at once; more are told to retry (429)."),
    token_file: Optional[Path] = typer.Option(None, help="Read the token from this file (default: serve-token in voicebank's data folder)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve without a token (anyone on this computer can use it)."),
    lan: bool = typer.Option(False, "--lan", help="Listen on the local network (not available yet)."),
) -> None:
    """Start the server and keep it running until Ctrl+C."""
    if lan:
        raise UsageError(
            "--lan is not available yet: serving to other devices needs HTTPS and pairing, which are still "
            "being built. For now the server listens on this computer only."
        )
    try:
        import uvicorn

        from voicebank.serve.app import create_app
        from voicebank.serve.auth import load_or_create_token, read_token, token_path
        from voicebank.serve.settings import ServeSettings
    except ImportError as exc:
        from voicebank.errors import MissingDependencyError

        raise MissingDependencyError("The server (starlette, uvicorn)", "serve") from exc
    from voicebank.voice.registry import STOCK_NAMES, resolve_voice, voice_folder

    if voice.strip().lower() in STOCK_NAMES:
        voice = "joe"  # the name requests for the stock voice use: one engine for it
    elif voice_folder(voice) is None:
        resolve_voice(voice)  # an unknown voice is refused now, not at the first request
    token = None
    if not no_auth:
        if token_file is not None:
            token = read_token(token_file)
        else:
            token, created = load_or_create_token()
            _say_token(token if created else None, token_path())
    settings = ServeSettings(port=port, token=token, voice=voice, max_streams=max_streams)
    sock = _bind(settings.host, port)
    typer.echo(f"Serving {voice} at {settings.url}/v1 (OpenAI base_url). Stop with Ctrl+C.")
    config = uvicorn.Config(create_app(settings), log_level="info", server_header=False, timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down cleanly on Ctrl+C, then passes the signal on
        typer.echo("Stopped.")


def _say_token(new_token: Optional[str], path: Path) -> None:
    if new_token is not None:
        typer.echo(f"A new access token was made and kept in {path} (only you can read it):\n\n    {new_token}\n")
        typer.echo("Clients send it as 'Authorization: Bearer TOKEN' (the OpenAI client's api_key). It is shown only this once.")
    else:
        typer.echo(f"Access token: in {path} (show it with: cat {path}).")


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"Port {port} is in use (another server?). Choose another with --port.") from exc
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
    return sock


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the main app."""
    app.command("serve", help=HELP)(serve)


__all__ = ["register"]
