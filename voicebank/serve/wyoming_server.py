"""The Wyoming protocol server (Home Assistant's voice pipelines): ``describe``, ``synthesize`` and streamed text, answered as the engine speaks.

Each connection has a reader (the ``wyoming`` package's :class:`AsyncEventHandler` loop)
and a speaker task: events only queue work, so the next text piece, a ``describe`` or the
client leaving is seen while audio is being made. The speaker runs one engine stream at a
time on a worker thread (:class:`~.pump.BytePump`) and forwards each chunk as it comes, as
``audio-chunk`` events of 16-bit mono PCM at the engine's rate. Engines come from the
HTTP server's :class:`~.app.EngineCache` when both run, so a voice is loaded once.

Streamed text (``synthesize-start`` / ``-chunk`` / ``-stop``) is spoken sentence by sentence
as each completes (:mod:`.wyoming_text`), or clause by clause while the listener's audio
is about to run out; each piece is framed ``audio-start`` … ``audio-stop`` as wyoming-piper
frames its sentences, and ``synthesize-stopped`` follows the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

from ..audio import Pacing
from ..engines.base import Engine, SynthesisOptions
from ..errors import UsageError, VoicebankError
from .app import EngineCache
from .pump import BytePump
from .wyoming_text import IncomingText
from .wyoming_voices import VoiceChoice, choose_voice, tts_info

log = logging.getLogger("voicebank.serve.wyoming")

SAMPLES_PER_EVENT = 2048  # 93 ms at 22.05 kHz: a long engine chunk goes out as several audio-chunk events
CLAUSE_LEAD_S = 1.0  # a clause is spoken alone only when the listener has less audio than this in hand
CLAUSE_POLL_S = 0.05  # how often an idle speaker looks for a clause once the listener is low
_STOPPED = object()  # the speaker's cue to send synthesize-stopped
SPEECH_THREAD = "voicebank-wyoming-speech"  # the name of the threads that run the engine


@dataclass(frozen=True)
class WyomingService:
    """What every connection shares: the engines, the voice used when a request names none, the synthesis options."""

    engines: EngineCache
    voice: str = "joe"
    options: SynthesisOptions = field(default_factory=SynthesisOptions)
    lead: float = 0.5  # seconds of audio a client buffers ahead (sizes the engine's windows, as for HTTP)
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()  # client networks (empty: any)

    def engine_for(self, voice: SynthesizeVoice | None) -> tuple[VoiceChoice, Engine, threading.Lock | None]:
        """The engine a request's voice names (blocking: it may load the voice)."""
        choice = choose_voice(voice.name if voice else None, voice.speaker if voice else None, self.voice)
        engine, lock = self.engines.get(choice.name)
        return choice, engine, lock

    def allows(self, peer: object) -> bool:
        if not self.allow:
            return True
        try:
            address = ipaddress.ip_address(peer[0])  # type: ignore[index]
        except (TypeError, ValueError, IndexError):
            return False
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:192.168.1.20 on a dual-stack socket
        return any((mapped or address) in network for network in self.allow)


@dataclass
class _Stream:
    """One synthesize-start … synthesize-stop: its voice, its unspoken text, whether it already failed."""

    voice: SynthesizeVoice | None
    text: IncomingText = field(default_factory=IncomingText)
    failed: bool = False


@dataclass(frozen=True)
class _Say:
    text: str
    voice: SynthesizeVoice | None
    stream: _Stream | None = None  # None: a single synthesize event


class _Lead:
    """How much audio the client holds that it has not played yet, assuming it plays from the first chunk in real time."""

    def __init__(self) -> None:
        self._sent_s = 0.0
        self._t0: float | None = None

    def sent(self, seconds: float) -> None:
        if self._t0 is None:
            self._t0 = time.monotonic()
        self._sent_s += seconds

    def ahead(self) -> float:
        if self._t0 is None:
            return 0.0
        return max(0.0, self._sent_s - (time.monotonic() - self._t0))


class WyomingHandler(AsyncEventHandler):
    """One client connection: queue what it asks for, speak it on the speaker task, stop when it leaves."""

    def __init__(self, service: WyomingService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.service = service
        self._jobs: asyncio.Queue[object] = asyncio.Queue()
        self._stream: _Stream | None = None
        self._speaking = False
        self._lead = _Lead()
        self._speaker = asyncio.create_task(self._speak_jobs(), name="voicebank-wyoming-speaker")

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            info = await asyncio.to_thread(tts_info)  # read from disk each time: new voices show at once
            await self.write_event(info.event())
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif SynthesizeStart.is_type(event.type):
            self._stream = _Stream(SynthesizeStart.from_event(event).voice)
        elif SynthesizeChunk.is_type(event.type):
            await self._chunk(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type):
            await self._stop()
        elif Synthesize.is_type(event.type) and self._stream is None:  # inside a stream it only repeats the text (protocol)
            request = Synthesize.from_event(event)
            self._jobs.put_nowait(_Say(request.text, request.voice))
        return True

    async def disconnect(self) -> None:
        """The client left: stop speaking now (the engine stops before its next chunk)."""
        self._speaker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._speaker

    async def _chunk(self, text: str) -> None:
        stream = self._stream
        if stream is None:
            await self.write_event(Error(text="synthesize-chunk came before synthesize-start.", code="protocol").event())
            return
        for sentence in stream.text.add(text):
            self._jobs.put_nowait(_Say(sentence, stream.voice, stream))
        self._maybe_clause()

    async def _stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            for sentence in stream.text.finish():
                self._jobs.put_nowait(_Say(sentence, stream.voice, stream))
        self._jobs.put_nowait(_STOPPED)

    def _maybe_clause(self) -> None:
        """Hand the speaker a finished clause of the open stream when it is idle and the listener is about to run dry."""
        stream = self._stream
        if stream is None or self._speaking or not self._jobs.empty() or self._lead.ahead() >= CLAUSE_LEAD_S:
            return
        clause = stream.text.take_clause()
        if clause:
            self._jobs.put_nowait(_Say(clause, stream.voice, stream))

    async def _next_job(self) -> object:
        """The next queued job; while a stream is open, look for a clause again when the listener's audio runs low."""
        while True:
            if self._jobs.empty():
                self._maybe_clause()
            if not self._jobs.empty() or self._stream is None:
                return await self._jobs.get()
            low_in = max(self._lead.ahead() - CLAUSE_LEAD_S, CLAUSE_POLL_S)
            with contextlib.suppress(asyncio.TimeoutError):
                return await asyncio.wait_for(self._jobs.get(), timeout=low_in)

    async def _speak_jobs(self) -> None:
        while True:
            job = await self._next_job()
            self._speaking = True
            try:
                if job is _STOPPED:
                    await self.write_event(SynthesizeStopped().event())
                else:
                    assert isinstance(job, _Say)
                    await self._say(job)
            except (ConnectionError, OSError):
                return  # the client is gone; the reader notices and ends the connection
            finally:
                self._speaking = False

    async def _say(self, job: _Say) -> None:
        """Speak one piece; any failure becomes an ``error`` event (after ``audio-stop`` if audio had started)."""
        if job.stream is not None and job.stream.failed:
            return  # one error per stream is enough
        try:
            await self._speak(job)
        except (ConnectionError, OSError, asyncio.CancelledError):
            raise  # the client left, or the connection is being closed
        except VoicebankError as exc:
            await self._fail(job, str(exc))
        except Exception as exc:  # a bug must not leave the client waiting: it hears why
            log.exception("Wyoming synthesis failed")
            await self._fail(job, f"voicebank failed to speak this ({type(exc).__name__}: {exc}); see the server's log.")

    async def _speak(self, job: _Say) -> None:
        choice, engine, lock = await asyncio.to_thread(self.service.engine_for, job.voice)
        options = self.service.options
        if choice.speaker_id is not None:
            options = replace(options, speaker_id=choice.speaker_id)
        rate = engine.sample_rate
        pump = BytePump(partial(_pcm, engine, lock, job.text, options, Pacing(lead=self.service.lead)), name=SPEECH_THREAD)
        pump.start()
        try:
            await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
            try:
                async for data in pump:
                    await self.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=data).event())
                    self._lead.sent(len(data) / (2 * rate))
            finally:
                with contextlib.suppress(ConnectionError, OSError):
                    await self.write_event(AudioStop().event())  # the audio so far is closed whatever happened
        finally:
            pump.stop()

    async def _fail(self, job: _Say, message: str) -> None:
        log.warning("Wyoming request failed: %s", message)
        if job.stream is not None:
            job.stream.failed = True
        await self.write_event(Error(text=message, code="voicebank").event())


def _pcm(engine: Engine, lock: threading.Lock | None, text: str, options: SynthesisOptions, pacing: Pacing) -> Iterator[bytes]:
    """The engine's chunks as little-endian 16-bit mono PCM pieces, on the pump's thread; closing this closes the engine's stream."""
    with lock or nullcontext():
        chunks = engine.stream(text, options, pacing)
        try:
            for chunk in chunks:
                pcm = chunk.as_int16().reshape(-1).astype("<i2", copy=False).tobytes()
                step = 2 * SAMPLES_PER_EVENT
                for i in range(0, len(pcm), step):
                    yield pcm[i : i + step]
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


# --------------------------------------------------------------------------- listening


def parse_allow(values: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``--wyoming-allow`` values (addresses or CIDR ranges) as networks; a typo is a :class:`UsageError`."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise UsageError(f"--wyoming-allow wants an address or a range such as 192.168.1.20 or 192.168.1.0/24, not {value!r}.") from exc
    return tuple(networks)


async def serve(service: WyomingService, sock: socket.socket, zeroconf_name: str | None = None,
                ready: threading.Event | None = None) -> None:
    """Serve Wyoming on the bound ``sock`` until cancelled; with ``zeroconf_name``, announce ``_wyoming._tcp`` for Home Assistant."""
    handlers: set[asyncio.Task[None]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not service.allows(peer):
            log.warning("Wyoming connection from %s refused (not in --wyoming-allow).", peer)
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            handlers.add(task)
        try:
            await WyomingHandler(service, reader, writer).run()
        except (ConnectionError, OSError):
            pass  # the client went away mid-event
        finally:
            if task is not None:
                handlers.discard(task)

    server = await asyncio.start_server(connected, sock=sock)
    announcer = await _announce(zeroconf_name, sock) if zeroconf_name else None
    if ready is not None:
        ready.set()
    try:
        async with server:
            await server.serve_forever()
    finally:
        for task in list(handlers):
            task.cancel()
        if announcer is not None:
            await announcer.async_close()


async def _announce(name: str, sock: socket.socket):  # type: ignore[no-untyped-def]
    """Register ``NAME._wyoming._tcp.local.`` (what Home Assistant's discovery looks for) at the addresses served; return the zeroconf to close."""
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    from .tls import lan_addresses

    host, port = sock.getsockname()[:2]
    addresses = lan_addresses() if host in ("0.0.0.0", "::") else [host]
    if not addresses:
        raise UsageError("--zeroconf found no network address to announce; give one with --wyoming-host.")
    service = AsyncServiceInfo("_wyoming._tcp.local.", f"{name}._wyoming._tcp.local.", port=port,
                               addresses=[socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses])
    zeroconf = AsyncZeroconf()
    await zeroconf.async_register_service(service)
    return zeroconf


class WyomingThread:
    """The Wyoming server on a thread of its own (its own event loop), beside the HTTP server; a daemon: it ends with the process."""

    def __init__(self, service: WyomingService, sock: socket.socket, zeroconf_name: str | None = None) -> None:
        self._service, self._sock, self._zeroconf = service, sock, zeroconf_name
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="voicebank-wyoming-server", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start serving; an error in starting (zeroconf, say) is raised here."""
        self._thread.start()
        if not self._ready.wait(timeout) and self._error is None:
            raise UsageError("The Wyoming server did not start in time.")
        if self._error is not None:
            raise UsageError(f"The Wyoming server could not start: {self._error}") from self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: open connections end, their engines stop before the next chunk."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
            await serve(self._service, self._sock, self._zeroconf, self._ready)

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass  # stop()
        except BaseException as exc:  # reported by start(), or logged if it fails later
            self._error = exc
            self._ready.set()
            log.error("The Wyoming server stopped: %s", exc)
