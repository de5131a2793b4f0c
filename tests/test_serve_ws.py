"""The WebSocket speech protocol (docs/websocket.md) on a real uvicorn server, with a real client.

The voice speaks with its noise at zero (a server setting), so the PCM a client gathers
can be compared sample for sample with the engine's own output for the same text.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")

from websockets.sync.client import ClientConnection, connect  # noqa: E402

from voicebank.audio import Pacing  # noqa: E402
from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.phrases import AUDIO_DIR, Phrase, PhraseBook  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.conftest import LJSPEECH  # noqa: E402
from tests.helpers.serving import running, wait_idle  # noqa: E402

OPTIONS = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
SHORT = "The kettle is on."
TEXT = "The kettle is on. Would you like some tea?"
MEDIUM = " ".join(["We walked along the river in the morning, and the light on the water was calm and bright."] * 4)
LONG = " ".join(["We walked along the river in the morning, and the light on the water was calm and bright."] * 12)
TYPED_PHRASE = "Please wait, I am typing."
CLIP = LJSPEECH / "wavs" / "LJ001-0001.wav"


@dataclass
class Heard:
    """What a client received for one request: its events, and its PCM by id."""

    events: list[dict[str, Any]] = field(default_factory=list)
    pcm: dict[str, bytearray] = field(default_factory=dict)
    order: list[tuple[str, str]] = field(default_factory=list)  # ("frame"|event type, id), as received

    def event(self, kind: str, request_id: str | None) -> dict[str, Any]:
        found = [e for e in self.events if e["type"] == kind and e.get("id") == request_id]
        assert len(found) == 1, (kind, request_id, self.events)
        return found[0]

    def samples(self, request_id: str) -> np.ndarray:
        return np.frombuffer(bytes(self.pcm.get(request_id, b"")), dtype="<i2")


class Client:
    """A protocol client over ``websockets.sync.client`` that records everything it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.hello = json.loads(ws.recv(timeout=60))
        self.heard = Heard()

    def send(self, **request: Any) -> None:
        self.ws.send(json.dumps(request))

    def receive(self, timeout: float = 120) -> tuple[str, str | None]:
        """The next message as ``(kind, id)``: ``"frame"`` for audio, else the event's type."""
        msg = self.ws.recv(timeout=timeout)
        if isinstance(msg, bytes):
            n = msg[0]
            request_id = msg[1 : 1 + n].decode("utf-8")
            assert (len(msg) - 1 - n) % 2 == 0 and len(msg) > 1 + n, "a frame holds whole 16-bit samples"
            self.heard.pcm.setdefault(request_id, bytearray()).extend(msg[1 + n :])
            item = ("frame", request_id)
        else:
            event = json.loads(msg)
            self.heard.events.append(event)
            item = (event["type"], event.get("id"))
        self.heard.order.append(item)  # type: ignore[arg-type]
        return item

    def until(self, kind: str, request_id: str | None) -> None:
        while self.receive() != (kind, request_id):
            pass

    def finish(self, request_id: str) -> dict[str, Any]:
        """Receive until ``request_id`` is closed by its `end` (or `error`); return that event."""
        while True:
            kind, rid = self.receive()
            if rid == request_id and kind in ("end", "error"):
                return self.heard.event(kind, request_id)

    def error(self, **request: Any) -> dict[str, Any]:
        """Send a request expected to fail; the next message must be its `error`."""
        self.send(**request)
        kind, _ = self.receive(timeout=30)
        assert kind == "error", self.heard.events[-1:]
        return self.heard.events[-1]


@dataclass
class Server:
    url: str
    token: str
    app: Any
    port: int

    @property
    def slots(self) -> Any:
        return self.app.state.server.slots

    @contextmanager
    def connect(self, **kwargs: Any) -> Iterator[Client]:
        headers = {"Authorization": f"Bearer {self.token}"}
        with connect(f"{self.url}/v1/stream", additional_headers=headers, open_timeout=30, **kwargs) as ws:
            yield Client(ws)

    def wait_idle(self, seconds: float = 20.0) -> None:
        wait_idle(self.slots, seconds)


def _recorded_flac(audio_dir: Path) -> tuple[str, bytes]:
    """A 16-bit FLAC of real speech, stored as a phrase's own copy (named by its sha256): its name and data."""
    data, rate = sf.read(str(CLIP), dtype="int16")
    buf = io.BytesIO()
    sf.write(buf, data[: 3 * rate], rate, format="FLAC", subtype="PCM_16")
    flac = buf.getvalue()
    name = f"{hashlib.sha256(flac).hexdigest()}.flac"
    audio_dir.mkdir(parents=True, exist_ok=True)
    (audio_dir / name).write_bytes(flac)
    return name, flac


@pytest.fixture(scope="module")
def phrase_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Phrase 1 is typed text; phrase 2 a recorded message (when the real recordings are here)."""
    path = tmp_path_factory.mktemp("phrases") / "phrases.json"
    book = PhraseBook(path)
    book.add(Phrase(TYPED_PHRASE))
    if CLIP.is_file():
        name, _ = _recorded_flac(path.parent / AUDIO_DIR)
        book.phrases.append(Phrase("Printing, in the only sense with which we are at present concerned.", audio=name))
        book.save()
    return path


@pytest.fixture(scope="module")
def server(home: Path, phrase_book: Path) -> Iterator[Server]:
    token = secrets.token_urlsafe(24)
    settings = ServeSettings(port=0, token=token, max_streams=2, options=OPTIONS, phrases=phrase_book)
    app = create_app(settings)
    with running(app) as (url, port):
        yield Server(url.replace("http://", "ws://"), token, app, port)


def spoken(engine: Any, text: str, speed: float = 1.0) -> np.ndarray:
    """The engine's own output for ``text`` with the server's options, as 16-bit samples."""
    options = OPTIONS if speed == 1.0 else replace(OPTIONS, length_scale=(OPTIONS.length_scale or 1.0) / speed)
    return engine.synthesize(text, options).as_int16()


def same_speech(got: np.ndarray, engine: Any, text: str, speed: float = 1.0) -> bool:
    """Whether ``got`` is the engine's output for ``text``: every sample, within 1 LSB.

    A paced stream sizes its windows by the clock, and a window's seam can round a sample
    the other way (a few samples of a long text differ by one step), never more.
    """
    expected = spoken(engine, text, speed)
    return len(got) == len(expected) and int(np.abs(got.astype(np.int32) - expected).max(initial=0)) <= 1


def test_speak_sends_the_engines_samples_and_a_second_utterance_follows(server: Server, engine: Any) -> None:
    with server.connect() as client:
        assert client.hello["type"] == "hello" and client.hello["protocol"] == 1
        assert client.hello["sample_rate"] == engine.sample_rate and client.hello["format"] == "s16le"
        assert "joe" in client.hello["voices"] and client.hello["voice"] == "joe"

        client.send(type="speak", id="first", text=SHORT)
        end = client.finish("first")
        start = client.heard.event("start", "first")
        assert (start["sample_rate"], start["channels"], start["format"], start["voice"]) == (engine.sample_rate, 1, "s16le", "joe")
        assert same_speech(client.heard.samples("first"), engine, SHORT)
        assert end["stopped"] is False and end["seconds"] == pytest.approx(len(spoken(engine, SHORT)) / engine.sample_rate, abs=1e-3)

        client.send(type="speak", text=SHORT, speed=1.5, voice="joe")  # no id: the server names it
        client.finish("u1")
        assert same_speech(client.heard.samples("u1"), engine, SHORT, speed=1.5)
        kinds = [k for k, rid in client.heard.order if rid == "u1"]
        assert kinds[0] == "start" and kinds[-1] == "end" and set(kinds[1:-1]) <= {"frame", "words"}
        server.wait_idle()


def test_word_times_are_the_engines(server: Server, engine: Any) -> None:
    """`start` holds the first sentence's words, `words` the later ones', `end` all of them (empty where the voice has none)."""
    chunks = list(engine.stream(TEXT, OPTIONS, Pacing(lead=server.app.state.server.settings.lead)))
    expected = [{"text": w.text, "start": round(w.start, 3), "end": round(w.end, 3)} for c in chunks for w in c.words]
    with server.connect() as client:
        client.send(type="speak", id="w", text=TEXT)
        end = client.finish("w")
        told = client.heard.event("start", "w")["words"] + [w for e in client.heard.events if e["type"] == "words" for w in e["words"]]
        assert told == expected and end["words"] == expected


def test_a_new_request_cuts_the_old_one_off_at_once(server: Server, engine: Any) -> None:
    with server.connect() as client:
        client.send(type="speak", id="long", text=LONG)
        client.until("frame", "long")
        client.send(type="speak", id="next", text=SHORT)
        client.finish("next")
        order = client.heard.order
        end_old = order.index(("end", "long"))
        assert client.heard.event("end", "long")["stopped"] is True
        assert ("frame", "long") not in order[end_old:], "a frame of the old utterance came after its end"
        assert order.index(("start", "next")) > end_old
        assert same_speech(client.heard.samples("next"), engine, SHORT)
        seconds = client.heard.event("end", "long")["seconds"]
        assert seconds == pytest.approx(len(client.heard.samples("long")) / engine.sample_rate, abs=1e-3)
        server.wait_idle()


def test_stop_ends_the_utterance_and_no_frame_of_it_follows(server: Server, engine: Any) -> None:
    with server.connect() as client:
        client.send(type="stop")  # nothing is playing: nothing happens
        client.send(type="speak", id="s", text=LONG)
        client.until("frame", "s")
        client.send(type="stop", id="someone-else")  # not the one playing: it goes on
        client.send(type="stop", id="s")
        assert client.finish("s")["stopped"] is True
        server.wait_idle()  # its synthesis ended and its slot is free
        client.send(type="speak", id="after", text=SHORT)
        client.finish("after")
        order = client.heard.order
        assert ("frame", "s") not in order[order.index(("end", "s")):]
        assert same_speech(client.heard.samples("after"), engine, SHORT)


def _held_socket(server: Server) -> socket.socket:
    """A socket whose tiny receive buffer lets the server send only a little ahead while its client is not reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    return sock


BAD_REQUESTS = [
    ({"type": "dance", "id": "d"}, "bad_request", "d"),
    ({"text": "Hello"}, "bad_request", None),
    ({"type": "speak", "id": "v", "text": "Hello", "voice": "nobody"}, "unknown_voice", "v"),
    ({"type": "speak", "id": "e", "text": "  "}, "empty_text", "e"),
    ({"type": "speak", "id": "l", "text": "x" * 5000}, "text_too_long", "l"),
    ({"type": "speak", "id": "t", "text": 42}, "bad_request", "t"),
    ({"type": "speak", "id": "z", "text": "Hello", "speed": 0}, "bad_speed", "z"),
    ({"type": "speak", "id": "f", "text": "Hello", "speed": "fast"}, "bad_speed", "f"),
    ({"type": "speak", "id": "bad id!", "text": "Hello"}, "bad_id", None),
    ({"type": "speak", "id": "x" * 65, "text": "Hello"}, "bad_id", None),
    ({"type": "phrase", "id": "p", "phrase": 99}, "unknown_phrase", "p"),
    ({"type": "phrase", "id": "q", "phrase": "one"}, "bad_request", "q"),
]


def test_bad_requests_get_errors_while_another_clients_stream_goes_on(server: Server, engine: Any) -> None:
    with server.connect(sock=_held_socket(server), max_queue=1) as healthy, server.connect() as bad:
        healthy.send(type="speak", id="healthy", text=MEDIUM)
        healthy.until("frame", "healthy")  # then it stops reading: its stream stays open meanwhile

        for frame in ("this is not json", "[1, 2]", b"\x00\x01\x02"):
            bad.ws.send(frame)
            assert bad.receive() == ("error", None)
            assert bad.heard.events[-1]["code"] == ("bad_request" if isinstance(frame, bytes) else "bad_json")
        for request, code, request_id in BAD_REQUESTS:
            event = bad.error(**request)
            assert (event["code"], event["id"]) == (code, request_id), request
            assert event["message"]
        assert server.slots.active == 1  # the healthy stream is still open

        bad.send(type="speak", id="ok", text=SHORT)  # the socket that sent garbage still speaks
        bad.finish("ok")
        assert same_speech(bad.heard.samples("ok"), engine, SHORT)

        assert healthy.finish("healthy")["stopped"] is False
        assert same_speech(healthy.heard.samples("healthy"), engine, MEDIUM)
    server.wait_idle()


_KILLED_CLIENT = """
import json, sys
from websockets.sync.client import connect
with connect(sys.argv[1], additional_headers={"Authorization": "Bearer " + sys.argv[2]}) as ws:
    ws.recv()
    ws.send(json.dumps({"type": "speak", "id": "gone", "text": sys.argv[3]}))
    while not isinstance(ws.recv(), bytes):
        pass
    print("playing", flush=True)
    sys.stdin.read()
"""


def test_a_client_killed_mid_stream_stops_its_synthesis(server: Server, engine: Any) -> None:
    stopped_before = server.slots.stopped_early
    cmd = [sys.executable, "-c", _KILLED_CLIENT, f"{server.url}/v1/stream", server.token, LONG]
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "playing"
        assert server.slots.synthesizing == 1
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    server.wait_idle()
    assert server.slots.stopped_early == stopped_before + 1  # stopped, not run to the end
    with server.connect() as client:  # and the server speaks on
        client.send(type="speak", id="next", text=SHORT)
        client.finish("next")
        assert same_speech(client.heard.samples("next"), engine, SHORT)


def test_a_typed_phrase_speaks_its_text(server: Server, engine: Any) -> None:
    with server.connect() as client:
        client.send(type="phrase", id="typed", phrase=1)
        assert client.finish("typed")["stopped"] is False
        assert client.heard.event("start", "typed")["voice"] == "joe"
        assert same_speech(client.heard.samples("typed"), engine, TYPED_PHRASE)


def test_a_recorded_phrase_arrives_byte_for_byte(server: Server, phrase_book: Path) -> None:
    if not CLIP.is_file():
        pytest.skip(f"real recordings not available: {CLIP} is absent")
    book = PhraseBook(phrase_book)
    recording = book.resolve(2).recording
    assert recording is not None
    banked, rate = sf.read(str(recording), dtype="int16")
    with server.connect() as client:
        client.send(type="phrase", id="rec", phrase=2, speed=2.0)  # speed and voice do not touch a recording
        end = client.finish("rec")
        start = client.heard.event("start", "rec")
        assert (start["sample_rate"], start["voice"], start["words"]) == (rate, None, [])
        assert bytes(client.heard.pcm["rec"]) == banked.astype("<i2").tobytes()
        assert end["stopped"] is False and end["seconds"] == pytest.approx(len(banked) / rate, abs=1e-3)


def test_busy_when_the_server_is_at_its_stream_limit(home: Path, engine: Any) -> None:
    settings = ServeSettings(port=0, token="t" * 24, max_streams=1, options=OPTIONS)
    app = create_app(settings, engine_factory=lambda voice: engine)
    with running(app) as (url, port):
        srv = Server(url.replace("http://", "ws://"), settings.token or "", app, port)
        with srv.connect() as first, srv.connect() as second:
            first.send(type="speak", id="a", text=LONG)
            first.until("frame", "a")
            assert second.error(type="speak", id="b", text=SHORT)["code"] == "busy"
            first.send(type="speak", id="a2", text=SHORT)  # barge-in keeps its own slot: never busy
            assert first.finish("a2")["type"] == "end"
            srv.wait_idle()
            second.send(type="speak", id="b2", text=SHORT)
            assert second.finish("b2")["type"] == "end"


def test_requests_past_the_rate_are_refused_and_the_utterance_goes_on(home: Path, engine: Any) -> None:
    """Each speak on a socket counts against the request rate: past the burst, `rate_limited`, while the one playing ends normally."""
    settings = ServeSettings(port=0, token="t" * 24, rate=0.01, burst=2, options=OPTIONS)
    app = create_app(settings, engine_factory=lambda voice: engine)
    with running(app) as (url, port):
        srv = Server(url.replace("http://", "ws://"), settings.token or "", app, port)
        with srv.connect() as client:
            client.send(type="speak", id="a", text=SHORT)
            assert client.finish("a")["stopped"] is False
            client.send(type="speak", id="b", text=LONG)
            client.until("frame", "b")
            client.send(type="speak", id="c", text=SHORT)
            refused = client.finish("c")
            assert refused["type"] == "error" and refused["code"] == "rate_limited", refused
            assert client.finish("b")["stopped"] is False


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token"}])
def test_the_upgrade_is_refused_without_the_token(server: Server, headers: dict[str, str]) -> None:
    with pytest.raises(websockets.exceptions.InvalidHandshake):
        with connect(f"{server.url}/v1/stream", additional_headers=headers, open_timeout=30) as ws:
            ws.recv(timeout=10)


def test_a_voice_that_will_not_load_fails_its_request_only(server: Server, home: Path, engine: Any) -> None:
    """A voice folder with a damaged model: `synthesis_failed` for that request, and the connection speaks on."""
    from voicebank.voice.registry import stock_voice

    folder = home / "voices" / "damaged"
    folder.mkdir(parents=True)
    (folder / "damaged.onnx").write_bytes(b"not an onnx model" * 64)
    (folder / "damaged.onnx.json").write_bytes(stock_voice().config.read_bytes())
    try:
        with server.connect() as client:
            assert "damaged" in client.hello["voices"]
            client.send(type="speak", id="d", text=SHORT, voice="damaged")
            event = client.finish("d")
            assert (event["type"], event["code"]) == ("error", "synthesis_failed"), event
            assert "damaged.onnx" in event["message"]  # says which file is wrong
            client.send(type="speak", id="fine", text=SHORT)
            client.finish("fine")
            assert same_speech(client.heard.samples("fine"), engine, SHORT)
    finally:
        shutil.rmtree(folder)
    server.wait_idle()
