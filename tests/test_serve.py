"""voicebank serve: the OpenAI-compatible speech API on a real uvicorn server on 127.0.0.1, with the stock voice.

The voice speaks with its noise at zero (a server setting), so one text always gives the
same durations and every format can be checked against the WAV of the same request.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.helpers.serving import running, wait_idle  # noqa: E402

TEXT = "The kettle is on. Would you like some tea?"
LONG = " ".join(["We walked along the river in the morning, and the light on the water was calm and bright."] * 12)
MAX_STREAMS = 2


@dataclass
class Server:
    url: str
    token: str
    app: object
    port: int

    @property
    def slots(self):  # type: ignore[no-untyped-def]
        return self.app.state.server.slots  # type: ignore[attr-defined]

    def client(self, token: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=token or self.token, max_retries=0)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def speech(self, **fields: object) -> httpx.Response:
        body = {"model": "tts-1", "voice": "alloy", "input": TEXT, **fields}
        return httpx.post(f"{self.url}/v1/audio/speech", json=body, headers=self.headers(), timeout=60)

    def wait_idle(self, seconds: float = 10.0) -> None:
        wait_idle(self.slots, seconds)


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    token = secrets.token_urlsafe(24)
    settings = ServeSettings(
        port=0, token=token, max_streams=MAX_STREAMS,
        options=SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0),
    )
    app = create_app(settings)
    with running(app) as (url, port):
        yield Server(url, token, app, port)


def pcm_of_wav(data: bytes) -> tuple[np.ndarray, int]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    rate = int.from_bytes(data[24:28], "little")
    return np.frombuffer(data[44:], dtype="<i2"), rate


def probe_seconds(path: Path, *raw: str) -> float:
    """ffprobe's duration; for a streamed FLAC (no length in its header) where its last packet ends."""
    def probe(*what: str) -> str:
        cmd = ["ffprobe", "-v", "error", *raw, "-i", str(path), *what, "-of", "csv=p=0"]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

    duration = probe("-show_entries", "format=duration")
    if duration != "N/A":
        return float(duration)
    last = probe("-select_streams", "a", "-show_entries", "packet=pts_time,duration_time").splitlines()[-1]
    start, length = (float(v) for v in last.split(",")[:2])
    return start + length


def hold_stream(server: Server, text: str = LONG, fmt: str = "wav") -> socket.socket:
    """A client with a tiny receive buffer that reads the head of a stream and then stops reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    body = json.dumps({"model": "tts-1", "voice": "joe", "input": text, "response_format": fmt}).encode()
    head = (
        f"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body)
    got = b""
    while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 64:
        piece = sock.recv(4096)
        assert piece, "the server closed the stream"
        got += piece
    assert got.startswith(b"HTTP/1.1 200"), got[:200]
    return sock


def ffmpeg_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, ppid = stat[stat.index("(") + 1 : stat.rindex(")")], int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == os.getpid() and name == "ffmpeg":
                found.append(int(entry.name))
    return found


def test_openai_client_streams_all_six_formats(server: Server, tmp_path: Path) -> None:
    client = server.client()
    files = {}
    for fmt in ("wav", "pcm", "mp3", "opus", "aac", "flac"):
        path = tmp_path / f"speech.{fmt}"
        with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=TEXT, response_format=fmt
        ) as response:
            assert response.headers["x-accel-buffering"] == "no"
            response.stream_to_file(path)
        files[fmt] = path
    samples, rate = pcm_of_wav(files["wav"].read_bytes())
    expected = len(samples) / rate
    assert expected > 1.5
    pcm_seconds = files["pcm"].stat().st_size / 2 / 24000  # OpenAI's pcm: 24 kHz s16le
    assert abs(pcm_seconds - expected) < 0.05
    for fmt in ("mp3", "opus", "aac", "flac"):
        seconds = probe_seconds(files[fmt])
        assert abs(seconds - expected) < 0.05, (fmt, seconds, expected)
    assert abs(probe_seconds(files["pcm"], "-f", "s16le", "-ar", "24000", "-ac", "1") - expected) < 0.05


def test_sse_events_carry_base64_pcm_then_done(server: Server) -> None:
    events = []
    with server.client().audio.speech.with_streaming_response.create(
        model="tts-1", voice="joe", input=TEXT, response_format="pcm", stream_format="sse"
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done" and set(kinds[:-1]) == {"speech.audio.delta"} and len(kinds) > 2
    assert events[-1]["usage"]["input_tokens"] == len(TEXT)
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    samples = np.frombuffer(pcm, dtype="<i2")
    wav, rate = pcm_of_wav(server.speech(response_format="wav").content)
    assert abs(len(samples) / 24000 - len(wav) / rate) < 0.05
    assert np.abs(samples).max() > 3000  # speech, not silence


def test_first_bytes_come_while_the_voice_still_speaks(server: Server) -> None:
    body = {"model": "tts-1", "voice": "joe", "input": LONG, "response_format": "pcm"}
    with httpx.stream("POST", f"{server.url}/v1/audio/speech", json=body, headers=server.headers(), timeout=60) as r:
        pieces = r.iter_raw()
        first = next(pieces)
        assert first and server.slots.synthesizing == 1  # the engine has more of the text to say
        rest = sum(len(piece) for piece in pieces)
    assert (len(first) + rest) / 2 / 24000 > 40  # the whole long text came
    server.wait_idle()


def test_every_route_but_health_needs_the_token(server: Server) -> None:
    routes = [("GET", "/v1/models"), ("GET", "/v1/audio/voices"), ("GET", "/openapi.json"),
              ("POST", "/v1/audio/speech"), ("GET", "/no/such/route")]
    for auth in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {server.token}"}):
        for method, path in routes:
            r = httpx.request(method, server.url + path, headers=auth, json={"model": "tts-1", "voice": "joe", "input": "Hi."})
            assert r.status_code == 401, (method, path, auth)
            assert r.json()["error"]["code"] == "invalid_api_key"
            assert server.token not in r.text
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    with pytest.raises(openai.AuthenticationError):
        server.client(token="not-the-token").audio.speech.create(model="tts-1", voice="joe", input="Hi.")


def test_listing_routes(server: Server) -> None:
    client = server.client()
    assert "tts-1" in [m.id for m in client.models.list()]
    voices = httpx.get(server.url + "/v1/audio/voices", headers=server.headers()).json()["voices"]
    assert {"id": "joe", "name": "joe (stock voice)"} in voices
    doc = httpx.get(server.url + "/openapi.json", headers=server.headers()).json()
    assert "/v1/audio/speech" in doc["paths"] and doc["openapi"].startswith("3.")


def test_too_long_input_and_body_get_413(server: Server) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        server.client().audio.speech.create(model="tts-1", voice="joe", input="a" * 4097)
    assert caught.value.status_code == 413 and "4096" in caught.value.message
    big = b'{"model": "tts-1", "voice": "joe", "input": "' + b"a" * 70_000 + b'"}'
    r = httpx.post(f"{server.url}/v1/audio/speech", content=big, headers=server.headers())
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_bad_requests_get_clear_4xx_while_a_healthy_stream_completes(server: Server) -> None:
    reference, rate = pcm_of_wav(server.speech(response_format="wav", voice="joe").content)
    body = {"model": "tts-1", "voice": "joe", "input": TEXT, "response_format": "wav"}
    with httpx.stream("POST", f"{server.url}/v1/audio/speech", json=body, headers=server.headers(), timeout=60) as healthy:
        pieces = healthy.iter_raw()
        head = next(pieces)
        bad = {
            "voice": server.speech(voice="nobody"),
            "input": server.speech(input="   "),
            "speed": server.speech(speed=0),
            "response_format": server.speech(response_format="ogg"),
        }
        for param, r in bad.items():
            assert r.status_code == 400, (param, r.text)
            assert r.json()["error"]["param"] == param
        assert "joe" in bad["voice"].json()["error"]["message"]
        broken = httpx.post(f"{server.url}/v1/audio/speech", content=b'{"model": "tts-1",', headers=server.headers())
        assert broken.status_code == 400 and "JSON" in broken.json()["error"]["message"]
        data = head + b"".join(pieces)
    samples, _ = pcm_of_wav(data)
    assert len(samples) == len(reference)
    assert np.abs(samples.astype(np.int32) - reference).max() <= 2  # same speech (windows are exact to ~1e-6)


def test_concurrent_streams_on_one_engine_give_the_same_speech(server: Server) -> None:
    reference, _ = pcm_of_wav(server.speech(response_format="wav").content)
    with ThreadPoolExecutor(MAX_STREAMS) as pool:
        results = list(pool.map(lambda _: server.speech(response_format="wav"), range(MAX_STREAMS)))
    for r in results:
        samples, _ = pcm_of_wav(r.content)
        assert len(samples) == len(reference)
        assert np.abs(samples.astype(np.int32) - reference).max() <= 2


def test_too_many_streams_get_429_with_retry_after(server: Server) -> None:
    held = [hold_stream(server) for _ in range(MAX_STREAMS)]
    try:
        r = server.speech()
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["type"] == "rate_limit_error"
    finally:
        for sock in held:
            sock.close()
    server.wait_idle()
    assert server.speech(response_format="wav").status_code == 200


def test_a_client_that_leaves_stops_synthesis_and_the_server_goes_on(server: Server) -> None:
    stopped = server.slots.stopped_early
    sock = hold_stream(server, fmt="mp3")
    encoders = server.app.state.server.encoders  # type: ignore[attr-defined]
    assert server.slots.synthesizing == 1 and len(ffmpeg_children()) > encoders.ready
    sock.close()
    server.wait_idle()
    assert server.slots.stopped_early == stopped + 1  # the engine's stream was closed, not run to its end
    deadline = time.monotonic() + 5
    while len(ffmpeg_children()) > encoders.ready and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(ffmpeg_children()) == encoders.ready  # the stream's encoder was aborted; the started spares wait
    assert not [t for t in threading.enumerate() if t.name == "voicebank-stream"]
    r = server.speech(response_format="mp3")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg" and len(r.content) > 1000


def test_speed_changes_the_length(server: Server) -> None:
    normal, rate = pcm_of_wav(server.speech(response_format="wav").content)
    fast, _ = pcm_of_wav(server.speech(response_format="wav", speed=2.0).content)
    assert 0.4 < len(fast) / len(normal) < 0.7  # durations are whole frames: not exactly half


def _start_cli(home: Path, *args: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "VOICEBANK_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicebank.cli.main", "serve", "--port", str(port), *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    return proc, port


def test_cli_makes_a_private_token_prints_it_once_and_never_logs_it(home: Path) -> None:
    proc, port = _start_cli(home)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "voicebank serve did not start"
            try:
                httpx.get(url + "/health")
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        token_file = home / "serve-token"
        token = token_file.read_text().strip()
        assert token_file.stat().st_mode & 0o777 == 0o600
        good = {"Authorization": f"Bearer {token}"}
        speech = {"model": "tts-1", "voice": "nova", "input": "Hello.", "response_format": "wav"}
        assert httpx.post(url + "/v1/audio/speech", json=speech, headers=good, timeout=60).status_code == 200
        assert httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {token[:-1]}x"}).status_code == 401
    finally:
        proc.send_signal(2)  # Ctrl+C
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert out.count(token) == 1  # shown once, when it was made; not in the access log below it
    assert f"{url}/v1" in out and "POST /v1/audio/speech" in out and "401" in out


def test_token_file_is_private_kept_and_refused_when_others_can_read_it(tmp_path: Path) -> None:
    from voicebank.errors import UsageError
    from voicebank.serve.auth import bearer_matches, load_or_create_token, read_token

    path = tmp_path / "serve-token"
    token, created = load_or_create_token(path)
    assert created and len(token) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_token(path) == (token, False)
    assert bearer_matches(f"bearer {token}".encode(), token) and not bearer_matches(b"Bearer " + b"x" * 43, token)
    assert not bearer_matches(None, token) and not bearer_matches(token.encode(), token)
    path.chmod(0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        read_token(path)
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(UsageError, match="no usable token"):
        read_token(path)
