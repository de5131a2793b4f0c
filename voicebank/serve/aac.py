"""AAC boards: the REST contract of AsTeRICS Grid's external speech service, spoken by voicebank's voices.

AsTeRICS Grid (its "External speech service URL") calls, below the URL it is given:
``GET /voices`` (the voices, each ``{id, name, lang, type, providerId, local}``),
``GET /speakdata/TEXT/PROVIDER/VOICE`` (the audio bytes, which the page decodes and plays),
``GET /cache/TEXT/PROVIDER/VOICE`` (make the audio now, for "cache all texts"), and
``GET /speaking`` and ``GET /stop`` (for voices that play on the server). Each path part is
percent-encoded by the page. Here the URL is ``BASE/aac`` (no token) or ``BASE/aac/KEY``
(:func:`voicebank.serve.auth.aac_key`: the page can send no header, so the key rides in the
path). Every voice is a "data" voice: the Grid plays the audio, so nothing plays on the server.
"""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..audio import UNPACED, AudioChunk
from ..encode import FORMATS, get_encoder, wav_header
from ..errors import EngineError, RequestError
from .auth import AAC_PREFIX, aac_key
from .utterance import counted

if TYPE_CHECKING:
    from .app import SpeechServer

PROVIDER = "voicebank"  # the Grid's providerId for every voice here
DATA_VOICE = "VOICE_TYPE_EXTERNAL_DATA"  # the Grid fetches the audio and plays it itself
CACHE_BYTES = 32 * 1024 * 1024  # WAVs kept in memory: about 12 minutes of speech at 22.05 kHz
COMMANDS = frozenset({"voices", "speakdata", "cache", "speak", "speaking", "stop"})
_DISCONNECT_POLL = 0.05  # seconds between checks whether the page gave up on a request (it aborts on the next word)


class WavCache:
    """The WAVs made lately, by (voice, text), least recently used dropped first past ``limit`` bytes."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple[str, str], data: bytes) -> None:
        if len(data) > self.limit:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._size += len(data) - (len(old) if old is not None else 0)
            self._items[key] = data
            while self._size > self.limit:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)


class GridSpeech:
    """The Grid's routes on one server: its voices, their audio as WAV (cached), and the no-ops of a data-only service.

    Not responsible for who may call (the auth middleware, with the path key) or for CORS
    (``--cors-origin``, in :mod:`.auth`).
    """

    def __init__(self, server: SpeechServer) -> None:
        self.server = server
        self.cache = WavCache()

    async def dispatch(self, request: Request) -> Response:
        """One ``/aac/[KEY/]COMMAND/ARGS...`` request, its parts read from the raw path (a ``%2F`` in a text stays in it)."""
        command, args = _command(request.scope.get("raw_path") or request.url.path.encode())
        if command == "voices":
            return JSONResponse(await anyio.to_thread.run_sync(grid_voices), headers={"Cache-Control": "no-store"})
        if command in ("speakdata", "cache"):
            text, voice = self._parse(args)
            wav = await self._wav(request, text, voice)
            if wav is None:
                return Response(status_code=204)  # the page left before the audio was made
            if command == "cache":
                return JSONResponse(True)
            return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})
        if command == "speaking":
            return JSONResponse(False)  # nothing ever plays on the server
        if command == "stop":
            return JSONResponse(True)  # the Grid stops its own playback; nothing here to stop
        if command == "speak":
            raise RequestError(
                "voicebank's voices are data voices: AsTeRICS Grid fetches their audio from /speakdata and plays it. "
                "Nothing plays on the server.", status=404, code="not_a_playing_voice",
            )
        raise RequestError(
            f"No AsTeRICS Grid route {command!r} here; the routes are {', '.join(sorted(COMMANDS))}.",
            status=404, code="unknown_route",
        )

    async def page(self, request: Request) -> Response:
        """What to type into AsTeRICS Grid, for a person who has the token or a paired device."""
        url = grid_url(str(request.base_url).rstrip("/"), self.server.settings.token)
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"url": url}, headers={"Cache-Control": "no-store"})
        body = _PAGE.format(url=html.escape(url))
        return HTMLResponse(body, headers={
            "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
        })

    def _parse(self, args: list[str]) -> tuple[str, str]:
        """The text and voice of ``TEXT[/PROVIDER[/VOICE]]`` (no voice: the server's default), both checked."""
        text = args[0] if args else ""
        if not text.strip():
            raise RequestError("The text to speak is empty: the path is /speakdata/TEXT/PROVIDER/VOICE.", code="empty_text")
        limit = self.server.settings.max_input_chars
        if len(text) > limit:
            raise RequestError(f"The text holds {len(text)} characters; at most {limit} are spoken per request.",
                               status=413, code="input_too_long")
        return text, (args[2] if len(args) > 2 else "")

    async def _wav(self, request: Request, text: str, requested: str) -> bytes | None:
        """The WAV of ``text`` in the voice (from the cache, or made now); None if the page left first.

        Only a listed voice may be named (never a path); no voice is the server's default.
        """
        from .wyoming_voices import choose_voice

        voice = self.server.settings.voice
        if requested.strip():
            try:
                voice = (await anyio.to_thread.run_sync(choose_voice, requested, None, voice)).name
            except EngineError as exc:
                raise RequestError(str(exc), status=404, code="unknown_voice") from exc
        cached = self.cache.get((voice, text))
        if cached is not None:
            return cached
        slots = self.server.slots
        if not slots.take():
            raise RequestError(f"The server is speaking {slots.limit} streams already; try again in a moment.",
                               status=429, code="too_many_streams")
        left = threading.Event()
        failure: Exception | None = None
        wav: bytes | None = None
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_disconnect, request, left)
                try:
                    wav = await anyio.to_thread.run_sync(self._synthesize, voice, text, left)
                except Exception as exc:  # raised after the group, not wrapped in an ExceptionGroup
                    failure = exc
                group.cancel_scope.cancel()
        finally:
            slots.release()
        if failure is not None:
            raise failure
        if wav is not None:
            self.cache.put((voice, text), wav)
        return wav

    def _synthesize(self, voice: str, text: str, left: threading.Event) -> bytes | None:
        """``text`` in ``voice`` as one WAV file, on a worker thread; None if ``left`` was set meanwhile."""
        engine, lock = self.server.engines.get(voice)
        options = self.server.settings.options
        chunks = counted(self.server.slots, lambda: iter(engine.stream(text, options, UNPACED)), lock)
        encoder = get_encoder(FORMATS["pcm"], engine.sample_rate)
        try:
            pcm = b"".join(encoder.encode(_until(chunks, left)))
        finally:
            chunks.close()
        if left.is_set():
            return None
        return wav_header(encoder.sample_rate, 1, len(pcm)) + pcm


def grid_voices() -> list[dict[str, object]]:
    """Every voice of the server as the Grid lists it; ``local``: it speaks offline."""
    from .wyoming_voices import tts_info

    listed = []
    for voice in tts_info().tts[0].voices:
        language = (voice.languages[0] if voice.languages else "en").replace("_", "-")
        listed.append({
            "id": voice.name, "name": voice.description or voice.name, "lang": language,
            "type": DATA_VOICE, "providerId": PROVIDER, "local": True,
        })
    return listed


def grid_url(base: str, token: str | None) -> str:
    """The "External speech service URL" for AsTeRICS Grid on a server at ``base`` (with the path key if it has a token)."""
    prefix = base.rstrip("/") + AAC_PREFIX.rstrip("/")
    return prefix if token is None else f"{prefix}/{aac_key(token)}"


def routes(server: SpeechServer) -> list[BaseRoute]:
    """The AsTeRICS Grid speech-service routes."""
    grid = GridSpeech(server)
    return [
        Route(AAC_PREFIX.rstrip("/"), grid.page, methods=["GET"]),
        Route(AAC_PREFIX + "{rest:path}", grid.dispatch, methods=["GET", "POST"]),
    ]


def openapi_paths() -> dict[str, Any]:
    """The Grid's routes for the OpenAPI document; ``KEY`` is :func:`~voicebank.serve.auth.aac_key` (or a token sent as Bearer)."""
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "The path key voicebank serve gives for AsTeRICS Grid (GET /aac); leave the part out without a token."}
    spoken = [key] + [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}, "description": what}
        for name, what in (("text", "The text, percent-encoded."), ("provider", "Any (the Grid sends 'voicebank')."),
                           ("voice", "A voice id from /voices."))
    ]
    security = [{}, {"bearer": []}, {"cookie": []}]
    errors = {"401": {"description": "No key, token or paired device."}, "404": {"description": "Unknown voice."},
              "413": {"description": "The text is too long."}, "429": {"description": "Too many streams at once."}}

    def get(summary: str, ok: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
        return {"get": {"summary": summary, "security": security, "parameters": params,
                        "responses": {"200": ok, **errors}}}

    def boolean(what: str) -> dict[str, Any]:
        return {"description": what, "content": {"application/json": {"schema": {"type": "boolean"}}}}

    wav = {"description": "A complete WAV file (16-bit mono).", "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}}
    voices = {"description": "[{id, name, lang, type, providerId, local}]", "content": {"application/json": {"schema": {"type": "array"}}}}
    base = "/aac/{key}"
    args = "/{text}/{provider}/{voice}"
    return {
        "/aac": {"get": {"summary": "The URL to give AsTeRICS Grid (JSON, or a page for a browser)",
                         "responses": {"200": {"description": "{url}"}, "401": errors["401"]}}},
        base + "/voices": get("AsTeRICS Grid: the voices", voices, [key]),
        base + "/speakdata" + args: get("AsTeRICS Grid: the audio of a text", wav, spoken),
        base + "/cache" + args: get("AsTeRICS Grid: make a text's audio now, for later", boolean("true"), spoken),
        base + "/speaking": get("AsTeRICS Grid: whether the server plays audio (never)", boolean("false"), [key]),
        base + "/stop": get("AsTeRICS Grid: stop playing on the server (nothing to stop)", boolean("true"), [key]),
    }


def _command(raw_path: bytes) -> tuple[str, list[str]]:
    """The command and its decoded arguments of a raw ``/aac/[KEY/]COMMAND/...`` path (a key is any first part not a command)."""
    parts = raw_path.decode("latin-1").split("?", 1)[0].split("/")[2:]
    if parts and parts[0] not in COMMANDS:
        parts = parts[1:]
    if not parts:
        return "", []
    return parts[0], [unquote(p, encoding="utf-8", errors="replace") for p in parts[1:]]


def _until(chunks: Iterator[AudioChunk], left: threading.Event) -> Iterator[AudioChunk]:
    for chunk in chunks:
        if left.is_set():
            return
        yield chunk


async def _watch_disconnect(request: Request, left: threading.Event) -> None:
    """Set ``left`` when the page gives up on the request (the Grid aborts it when the next word comes)."""
    while not await request.is_disconnected():
        await anyio.sleep(_DISCONNECT_POLL)
    left.set()


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>AsTeRICS Grid - voicebank</title></head><body><h1>Speak with voicebank in AsTeRICS Grid</h1>
<p>In AsTeRICS Grid open Settings, the Integrations tab, and put this into <b>External speech service URL</b>:</p>
<p><code>{url}</code></p>
<p>Then in Settings, Language, under Voice, tick <b>Show all voices</b> and pick a voice from voicebank as the
preferred voice. Keep this address private: it lets anyone who can reach this server speak with your voices.</p>
</body></html>
"""
