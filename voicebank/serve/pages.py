"""The speak board's and the recorder's pages and files (served from ``static/``), and the phrase list they show."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..phrases import PhraseBook

if TYPE_CHECKING:
    from .app import SpeechServer

STATIC = Path(__file__).resolve().parent / "static"
BOARD = "board.html"
RECORDER = "recorder.html"
MANIFEST = "manifest.webmanifest"

# Only files of these kinds are served; anything else in the folder is a 404.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

# The board runs only its own files: no inline script, no other origin, never framed (a paired
# device's cookie must not be usable by a page that embeds the board).
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; media-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def static_file(name: str, folder: Path = STATIC) -> Path:
    """The file ``name`` of ``folder``; 404 for a name that leaves it, is not a file, or is of a kind not served."""
    try:
        root = folder.resolve()
        path = (root / name).resolve()
        found = path.is_relative_to(root) and path.suffix in CONTENT_TYPES and path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        found = False
    if not found:
        raise HTTPException(404, f"No file {name!r} here.")
    return path


async def _send_file(name: str) -> Response:
    path = static_file(name)
    body = await anyio.to_thread.run_sync(path.read_bytes)
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = _PAGE_POLICY
        headers["Referrer-Policy"] = "no-referrer"
    return Response(body, media_type=CONTENT_TYPES[path.suffix], headers=headers)


def phrase_list(path: Path | None) -> list[dict[str, object]]:
    """The saved phrases as the board lists them: number (from 1), text, and whether it is a recording."""
    book = PhraseBook(path)
    return [{"number": n, "text": p.text, "recorded": p.recorded} for n, p in enumerate(book.phrases, start=1)]


def routes(server: SpeechServer) -> list[BaseRoute]:
    """The board's routes of ``server``."""

    async def board(request: Request) -> Response:
        return await _send_file(BOARD)

    async def recorder(request: Request) -> Response:
        return await _send_file(RECORDER)

    async def manifest(request: Request) -> Response:
        return await _send_file(MANIFEST)

    async def static(request: Request) -> Response:
        return await _send_file(request.path_params["path"])

    async def phrases(request: Request) -> Response:
        listed = await anyio.to_thread.run_sync(phrase_list, server.settings.phrases)
        return JSONResponse({"phrases": listed}, headers={"Cache-Control": "no-store"})

    return [
        Route("/", board, methods=["GET"]),
        Route("/board", board, methods=["GET"]),
        Route("/record", recorder, methods=["GET"]),
        Route("/manifest.webmanifest", manifest, methods=["GET"]),
        Route("/static/{path:path}", static, methods=["GET"]),
        Route("/v1/phrases", phrases, methods=["GET"]),
    ]
