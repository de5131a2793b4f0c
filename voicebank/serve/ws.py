"""The WebSocket speech protocol (``/v1/stream``, see docs/websocket.md): speak, stop, barge-in, tagged PCM frames.

One :class:`Session` per connection reads requests while at most one utterance plays. An
utterance runs as a task of its own: its audio is made on a worker thread (:mod:`.pump`,
:mod:`.utterance`) and sent frame by frame. A new request or ``stop`` cancels that task
and waits for it before the old id's ``end`` goes out, so no frame of it can follow.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from ..audio import WordTiming
from ..errors import VoicebankError
from ..phrases import PhraseAudio, PhraseBook
from ..voice.registry import list_voices
from . import utterance
from .pump import BytePump
from .ratelimit import TokenBuckets
from .utterance import Piece
from .ws_requests import PlayPhrase, ProtocolError, Request, Speak, Stop, parse_request, voice_name

if TYPE_CHECKING:
    from .app import SpeechServer

log = logging.getLogger("voicebank.serve")

PROTOCOL = 1
_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)  # what a send raises once the client has left


def routes(server: SpeechServer) -> list[BaseRoute]:
    """The WebSocket route(s) of ``server``."""

    async def stream(websocket: WebSocket) -> None:
        await Session(server, websocket).run()

    return [WebSocketRoute("/v1/stream", stream)]


@dataclass
class Utterance:
    """One request being played: what has been sent of it, and the task that sends it."""

    id: str
    voice: str | None
    sample_rate: int = 0
    samples: int = 0
    words: list[WordTiming] = field(default_factory=list)
    closed: bool = False  # its `end` or `error` has gone out
    task: asyncio.Task[None] | None = None

    def end_event(self, stopped: bool) -> dict[str, Any]:
        seconds = self.samples / self.sample_rate if self.sample_rate else 0.0
        return {"type": "end", "id": self.id, "stopped": stopped, "seconds": round(seconds, 3), "words": _words(self.words)}


class Session:
    """One client's connection: its requests, in order, and the utterance it is hearing."""

    def __init__(self, server: SpeechServer, websocket: WebSocket) -> None:
        self.server = server
        self.ws = websocket
        self.current: Utterance | None = None
        self.slot = False  # whether this connection holds one of the server's stream slots (one at most)
        self._ids = itertools.count(1)
        settings = server.settings  # the upgrade was one request; each speak or phrase on it counts as another
        self._requests = TokenBuckets(settings.rate, settings.burst) if settings.rate > 0 else None

    async def run(self) -> None:
        await self.ws.accept()
        try:
            await self.ws.send_json(await self._hello())
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message)
        except _GONE:
            return
        finally:
            try:
                await self._interrupt(announce=False)  # a client that left stops its synthesis
            finally:
                self._free_slot()

    async def _hello(self) -> dict[str, Any]:
        default = self.server.settings.voice
        voices = await anyio.to_thread.run_sync(list_voices)
        try:
            engine, _ = await anyio.to_thread.run_sync(self.server.engines.get, default)
            rate: int | None = engine.sample_rate
        except Exception as exc:  # the connection still opens; each request then says what is wrong
            log.warning("the default voice did not load: %s", exc)
            rate = None
        names = ["joe", *(name for name in voices if name != "joe")]
        return {"type": "hello", "protocol": PROTOCOL, "voice": default, "voices": names, "sample_rate": rate, "format": "s16le"}

    async def _handle(self, message: dict[str, Any]) -> None:
        request: Request | None = None
        try:
            request = self._parse(message.get("text"))
            if isinstance(request, Stop):
                await self._stop(request.id)
            else:
                self._count(request.id)
                await self._begin(request)
        except ProtocolError as exc:
            await self.ws.send_json(exc.event())
        except VoicebankError as exc:  # e.g. a damaged phrase book: this request fails, the connection goes on
            request_id = request.id if request is not None else None
            await self.ws.send_json(ProtocolError("synthesis_failed", str(exc), request_id).event())

    def _parse(self, text: str | None) -> Request:
        limit = self.server.settings.max_body_bytes
        if text is None:
            raise ProtocolError("bad_request", "Binary frames go from the server only; send requests as JSON text frames.")
        if len(text) > limit:
            raise ProtocolError("bad_request", f"A request frame may hold at most {limit} characters.")
        return parse_request(text, self.server.settings.max_input_chars, lambda: f"u{next(self._ids)}")

    def _count(self, request_id: str) -> None:
        wait = self._requests.take("") if self._requests is not None else 0.0
        if wait:
            raise ProtocolError("rate_limited", f"Too many requests on this connection; try again in {wait:.1f} s.", request_id)

    async def _stop(self, request_id: str | None) -> None:
        if self.current is not None and request_id in (None, self.current.id):
            await self._interrupt()
            self._free_slot()

    async def _begin(self, request: Speak | PlayPhrase) -> None:
        """Check ``request``, then stop what plays and play it (a request with an error leaves the current one alone)."""
        voice = await self._voice(request)
        tag = utterance.frame_tag(request.id)
        if isinstance(request, Speak):
            pieces, voice_used = (lambda: utterance.speech(self.server, voice, request.text, request.speed, tag)), voice
        else:
            pieces, voice_used = await self._phrase(request, voice, tag)
        await self._interrupt()
        if not self.slot:  # a connection that was playing keeps its slot for the next request
            if not self.server.slots.take():
                limit = self.server.slots.limit
                raise ProtocolError("busy", f"The server is speaking {limit} streams already (its limit); try again in a moment.", request.id)
            self.slot = True
        utt = Utterance(request.id, voice_used)
        self.current = utt
        utt.task = asyncio.create_task(self._play(utt, pieces))

    async def _voice(self, request: Speak | PlayPhrase) -> str:
        settings = self.server.settings
        if request.voice is None or request.voice.strip() == settings.voice:
            return settings.voice
        installed = await anyio.to_thread.run_sync(list_voices)
        return voice_name(request.voice, settings.voice, installed, request.id)

    async def _phrase(self, request: PlayPhrase, voice: str, tag: bytes) -> tuple[Callable[[], Iterator[Piece]], str | None]:
        """What a phrase plays: its recording (no voice), or its text in ``voice``."""
        found = await anyio.to_thread.run_sync(_resolve_phrase, self.server.settings.phrases, request)
        if found.recording is not None:
            path: Path = found.recording
            return (lambda: utterance.recording(self.server, path, tag)), None
        if found.notice:
            log.warning("%s", found.notice)
        text = found.phrase.text
        return (lambda: utterance.speech(self.server, voice, text, request.speed, tag)), voice

    async def _interrupt(self, announce: bool = True) -> None:
        """Cancel the utterance in progress and wait for it; then send its `end` (stopped) if it had none."""
        utt, self.current = self.current, None
        if utt is None or utt.task is None:
            return
        utt.task.cancel()
        try:
            await utt.task
        except asyncio.CancelledError:
            pass
        if announce and not utt.closed:
            await self.ws.send_json(utt.end_event(stopped=True))
            utt.closed = True

    def _free_slot(self) -> None:
        if self.slot:
            self.slot = False
            self.server.slots.release()

    async def _play(self, utt: Utterance, make: Callable[[], Iterator[Piece]]) -> None:
        """Send one utterance: `start` with its first piece, its frames and `words`, then `end`."""
        pump = BytePump(make, name="voicebank-ws")  # type: ignore[arg-type]  # it hands over any item, in order
        try:
            pump.start()
            await self._send_pieces(utt, pump)
            await self.ws.send_json(utt.end_event(stopped=False))
            utt.closed = True  # only once sent: a send cancelled while it waits has not written anything
        except _GONE:
            pass  # the client left; the session's reader sees it and ends
        except VoicebankError as exc:
            log.warning("speech stream failed: %s", exc)
            await self._failed(utt, str(exc))
        except Exception as exc:  # an engine's own error: this utterance fails, the connection goes on
            log.error("speech stream failed: %s: %s", type(exc).__name__, exc)
            await self._failed(utt, "The voice failed to speak this text; see the server's log.")
        finally:
            pump.stop()
        if self.current is utt:  # it ended by itself (not cancelled): its slot goes back
            self.current = None
            self._free_slot()

    async def _send_pieces(self, utt: Utterance, pump: BytePump) -> None:
        started = False
        while (piece := await pump.next_piece()) is not None:
            assert isinstance(piece, Piece)
            if not started:
                started = True
                utt.sample_rate = piece.sample_rate
                utt.words.extend(piece.words)
                await self.ws.send_json(_start(utt, piece))
            elif piece.words:
                utt.words.extend(piece.words)
                await self.ws.send_json({"type": "words", "id": utt.id, "words": _words(piece.words)})
            for frame in piece.frames:
                await self.ws.send_bytes(frame)  # uvicorn writes a frame whole, or (cancelled first) not at all
                utt.samples += (len(frame) - 1 - frame[0]) // 2

    async def _failed(self, utt: Utterance, message: str) -> None:
        try:
            await self.ws.send_json(ProtocolError("synthesis_failed", message, utt.id).event())
            utt.closed = True
        except _GONE:
            pass


def _start(utt: Utterance, first: Piece) -> dict[str, Any]:
    return {
        "type": "start", "id": utt.id, "sample_rate": first.sample_rate, "channels": 1, "format": "s16le",
        "voice": utt.voice, "words": _words(first.words),
    }


def _words(words: Iterable[WordTiming]) -> list[dict[str, Any]]:
    return [{"text": w.text, "start": round(w.start, 3), "end": round(w.end, 3)} for w in words]


def _resolve_phrase(path: Path | None, request: PlayPhrase) -> PhraseAudio:
    """The saved phrase a request names (read from the phrase book now, so the board's changes count)."""
    try:
        book = PhraseBook(path)
    except (VoicebankError, OSError) as exc:
        raise ProtocolError("unknown_phrase", f"The phrase book cannot be read: {exc}", request.id) from exc
    if not 1 <= request.number <= len(book.phrases):
        count = len(book.phrases)
        raise ProtocolError("unknown_phrase", f"There is no saved phrase {request.number}; there are {count} (see GET /v1/phrases).", request.id)
    return book.resolve(request.number)
