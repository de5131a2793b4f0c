"""The ASGI app of ``voicebank serve``: the OpenAI-compatible speech API, made by :func:`create_app`.

Speech streams as it is synthesized: the engine's chunk generator and the encoder run on a
worker thread (:mod:`.pump`), the response sends each encoded piece as it comes, and a
client that leaves stops synthesis before the next piece.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..audio import Pacing
from ..encode import FORMATS
from ..engines.base import Engine
from ..errors import VoicebankError
from ..voice.registry import list_voices
from . import aac, auth, listening, pages, pairing, recorder, ws
from .encoding import PROMPT_WAIT, WarmEncoders
from .openapi import openapi_document
from .pump import BytePump, StreamedResponse
from .settings import ServeSettings
from .speech import MODELS, PCM_RATE, RequestError, SpeechRequest, error_json, media_type, parse_speech
from .utterance import counted, with_speed

log = logging.getLogger("voicebank.serve")

EngineFactory = Callable[[str], Engine]


def _load_engine(voice: str, watermark: bool = False) -> Engine:
    from ..engines import load_engine
    from ..engines.marked import MarkedEngine
    from ..errors import CorruptFileError, LexiconError

    try:
        engine = load_engine(voice)
    except (CorruptFileError, LexiconError) as exc:  # a damaged lexicon must not silence the person
        from ..text.lexicon import Lexicon

        log.warning("%s Speaking without the person's pronunciations until it is fixed.", exc)
        engine = load_engine(voice, lexicon=Lexicon())
    return MarkedEngine(engine) if watermark else engine  # every route speaks through this factory


class EngineCache:
    """One engine per voice, loaded once and shared; an engine not safe across threads gets a lock."""

    def __init__(self, factory: EngineFactory) -> None:
        self._factory = factory
        self._engines: dict[str, tuple[Engine, threading.Lock | None]] = {}
        self._lock = threading.Lock()

    def get(self, voice: str) -> tuple[Engine, threading.Lock | None]:
        """The engine for ``voice`` (loaded now if it is the first request for it) and its lock, if any."""
        with self._lock:
            if voice not in self._engines:
                engine = self._factory(voice)
                load = getattr(engine, "load", None)
                if load is not None:
                    load()  # sessions now, not in the first request's time to first audio
                self._engines[voice] = (engine, None if _shares_threads(engine) else threading.Lock())
            return self._engines[voice]


def _shares_threads(engine: Engine) -> bool:
    """Whether one instance may stream on several threads at once (the Piper engine's sessions and espeak are guarded)."""
    from ..engines.piper_onnx import PiperOnnxEngine

    return isinstance(getattr(engine, "inner", engine), PiperOnnxEngine)  # a MarkedEngine's marker is per stream


class StreamSlots:
    """Counts the speech streams in flight against the limit, and those still synthesizing."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0  # responses open (a slot each)
        self.synthesizing = 0  # of those, the ones whose engine still runs
        self.stopped_early = 0  # streams whose synthesis was stopped before the end (the client left)
        self._lock = threading.Lock()

    def working(self, delta: int, stopped: int = 0) -> None:
        with self._lock:
            self.synthesizing += delta
            self.stopped_early += stopped

    def take(self) -> bool:
        with self._lock:
            if self.active >= self.limit:
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.active -= 1


class SpeechServer:
    """The routes' state: settings, the engines, the stream slots."""

    def __init__(self, settings: ServeSettings, engine_factory: EngineFactory) -> None:
        self.settings = settings
        self.engines = EngineCache(engine_factory)
        self.slots = StreamSlots(settings.max_streams)
        self.encoders = WarmEncoders()

    async def health(self, request: Request) -> Response:
        slots = self.slots
        return JSONResponse({"status": "ok", "streams": slots.active, "synthesizing": slots.synthesizing, "max_streams": slots.limit})

    async def models(self, request: Request) -> Response:
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "voicebank"} for name in MODELS]
        return JSONResponse({"object": "list", "data": data})

    async def voices(self, request: Request) -> Response:
        names = await anyio.to_thread.run_sync(list_voices)
        voices = [{"id": "joe", "name": "joe (stock voice)"}] + [{"id": n, "name": n} for n in names]
        return JSONResponse({"voices": voices})  # Open WebUI reads {"voices": [{id, name}]}

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def speech(self, request: Request) -> Response:
        body = await _read_body(request, self.settings.max_body_bytes)
        voices = await anyio.to_thread.run_sync(list_voices)
        req = parse_speech(body, voices, self.settings.voice, self.settings.max_input_chars)
        if not self.slots.take():
            return _busy(self.slots.limit, self.settings.retry_after)
        pump: BytePump | None = None
        try:
            engine, lock = await anyio.to_thread.run_sync(self.engines.get, req.voice)
            pump = BytePump(lambda: self._encoded(engine, lock, req))
            pump.start()
            first = await pump.next_piece()  # a failure to start is still an error status, not a broken body
        except BaseException:
            if pump is not None:
                pump.stop()
            self.slots.release()
            raise
        sse = req.stream_format == "sse"
        return StreamedResponse(
            _events(pump, first, req) if sse else _audio(pump, first),
            on_done=self.slots.release,
            media_type="text/event-stream" if sse else media_type(req.response_format),
            headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
        )

    def _encoded(self, engine: Engine, lock: threading.Lock | None, req: SpeechRequest) -> Iterator[bytes]:
        """The encoded audio of one request, on the pump's thread; closing it stops the engine and ffmpeg."""
        options = with_speed(self.settings.options, req.speed)
        spec = FORMATS[req.response_format]
        if req.response_format == "pcm":
            spec = replace(spec, rate=PCM_RATE)
        encoder = self.encoders.take(spec, engine.sample_rate)
        chunks = counted(self.slots, lambda: iter(engine.stream(req.input, options, Pacing(lead=self.settings.lead))), lock)
        try:
            yield from encoder.encode(chunks, wait=PROMPT_WAIT)
        finally:
            chunks.close()
        self.encoders.refill(spec, engine.sample_rate)  # after the last piece: the next request finds ffmpeg started


async def _audio(pump: BytePump, first: bytes | None) -> AsyncIterator[bytes]:
    try:
        if first is not None:
            yield first
            async for data in pump:
                yield data
    except VoicebankError as exc:
        log.warning("speech stream failed: %s", exc)
        raise
    finally:
        pump.stop()


async def _events(pump: BytePump, first: bytes | None, req: SpeechRequest) -> AsyncIterator[bytes]:
    """Server-sent events as OpenAI sends them: ``speech.audio.delta`` pieces, then ``speech.audio.done``."""
    try:
        if first is not None:
            yield _delta(first)
            async for data in pump:
                yield _delta(data)
        chars = len(req.input)  # no tokens here: usage counts the input's characters
        yield _event({"type": "speech.audio.done", "usage": {"input_tokens": chars, "output_tokens": 0, "total_tokens": chars}})
    except VoicebankError as exc:
        log.warning("speech stream failed: %s", exc)
        yield _event({"type": "error", "error": {"message": str(exc), "type": "server_error", "param": None, "code": None}})
    finally:
        pump.stop()


def _delta(audio: bytes) -> bytes:
    return _event({"type": "speech.audio.delta", "audio": base64.b64encode(audio).decode("ascii")})


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode("utf-8") + b"\n\n"


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to pass ``limit`` bytes."""
    too_big = RequestError(f"The request body is over {limit} bytes.", status=413, code="request_too_large")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise too_big
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise too_big
        parts.append(part)
    return b"".join(parts)


def _busy(limit: int, retry_after: int) -> Response:
    message = f"The server is speaking {limit} streams already (its limit); try again in a moment."
    body = error_json(message, kind="rate_limit_error", code="too_many_streams")
    return Response(body, status_code=429, media_type="application/json", headers={"Retry-After": str(retry_after)})


async def _request_error(request: Request, exc: RequestError) -> Response:
    return Response(error_json(str(exc), param=exc.param, code=exc.code), status_code=exc.status, media_type="application/json")


async def _http_error(request: Request, exc: HTTPException) -> Response:
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return Response(error_json(str(exc.detail), kind=kind), status_code=exc.status_code, media_type="application/json", headers=exc.headers)


async def _voice_error(request: Request, exc: VoicebankError) -> Response:
    log.warning("speech failed: %s", exc)
    return Response(error_json(str(exc), kind="server_error"), status_code=500, media_type="application/json")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("request failed: %s: %s", type(exc).__name__, exc)
    body = error_json("The server failed to answer this request; see its log.", kind="server_error")
    return Response(body, status_code=500, media_type="application/json")


def create_app(settings: ServeSettings, engine_factory: EngineFactory | None = None) -> Starlette:
    """The ASGI app for ``settings``; ``engine_factory(voice)`` loads a voice (default: :func:`voicebank.engines.load_engine`)."""
    server = SpeechServer(settings, engine_factory or partial(_load_engine, watermark=settings.watermark))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.preload:
            await anyio.to_thread.run_sync(server.engines.get, settings.voice)
        yield
        server.encoders.close()
        await recorder.close(server)  # the recorder's banks and their locks

    pair = pairing.Pairing(settings)
    routes: list[BaseRoute] = [
        Route("/health", server.health, methods=["GET"]),
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/v1/audio/voices", server.voices, methods=["GET"]),
        Route("/v1/audio/speech", server.speech, methods=["POST"]),
        Route("/openapi.json", server.openapi, methods=["GET"]),
        *ws.routes(server),
        *pages.routes(server),
        *recorder.routes(server),
        *aac.routes(server),
        *listening.routes(server),
        *pair.routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=auth.middleware(settings, pair.devices),
        lifespan=lifespan,
        exception_handlers={
            RequestError: _request_error, HTTPException: _http_error, VoicebankError: _voice_error, Exception: _server_error,
        },
    )
    app.state.server = server
    app.state.pairing = pair  # voicebank serve hands out its codes
    return app
