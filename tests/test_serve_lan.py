"""voicebank serve on the network (``--lan``): HTTPS with its own CA, pairing, 401 on every route, limits, no secrets in logs.

Every server here is a real uvicorn over real TLS; clients trust only the CA the server made.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("cryptography")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402

from voicebank.errors import CorruptFileError  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.pairing import COOKIE, DeviceStore, PairingCodes  # noqa: E402
from voicebank.serve.ratelimit import TokenBuckets  # noqa: E402
from voicebank.serve.settings import ServeSettings, TlsFiles  # noqa: E402
from voicebank.serve.tls import ensure_certificate  # noqa: E402

from tests.helpers.serving import running  # noqa: E402

TOKEN = "lan-test-token-" + "k" * 30
LONG = " ".join(["We walked along the river in the morning, and the light on the water was calm and bright."] * 12)
ROUTES = [
    ("GET", "/"), ("GET", "/board"), ("GET", "/static/board.js"), ("GET", "/static/x"), ("GET", "/manifest.webmanifest"),
    ("GET", "/health"), ("GET", "/v1/models"), ("GET", "/v1/audio/voices"), ("GET", "/v1/phrases"),
    ("GET", "/openapi.json"), ("GET", "/ca.crt"), ("GET", "/no-such-page"), ("POST", "/v1/audio/speech"),
]


@dataclass
class Lan:
    url: str
    port: int
    app: object
    tls: TlsFiles
    devices: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls.ca_cert))

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.context(), timeout=60, **kw)  # type: ignore[arg-type]

    def new_code(self) -> str:
        return self.app.state.pairing.new_code()  # type: ignore[attr-defined]

    def ws_status(self, headers: dict[str, str]) -> int | None:
        """The HTTP status a WebSocket upgrade to /v1/stream is refused with (None: it was accepted).

        The asyncio client: the threaded one (websockets.sync) can hang in its reader thread's
        TLS read after a refused handshake, though the server has answered and closed.
        """

        async def upgrade() -> int | None:
            try:
                async with connect(self.url.replace("https", "wss") + "/v1/stream", ssl=self.context(),
                                   additional_headers=headers, open_timeout=60):
                    return None
            except InvalidStatus as exc:
                return exc.response.status_code

        return asyncio.run(upgrade())


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_certificate(tmp_path_factory.mktemp("tls"), addresses=[])


def _lan_server(tls: TlsFiles, devices: Path, **settings: object):  # type: ignore[no-untyped-def]
    app = create_app(ServeSettings(port=0, token=TOKEN, lan=True, tls=tls, devices=devices, **settings))  # type: ignore[arg-type]
    ssl_files = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    return app, running(app, scheme="https", log_config=None, log_level="info", **ssl_files)


@pytest.fixture(scope="module")
def lan(home: Path, tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lan]:
    devices = tmp_path_factory.mktemp("devices") / "serve-devices.json"
    app, server = _lan_server(tls, devices, max_streams=1)
    with server as (url, port):
        yield Lan(url, port, app, tls, devices)


def _auth(kind: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"} if kind == "bearer" else {"Cookie": f"{COOKIE}={secret}"}


def test_certificate_is_signed_by_a_private_ca_and_names_this_computer(tls: TlsFiles) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = san.get_values_for_type(x509.DNSName)
    assert "localhost" in names and any(n.endswith(".local") for n in names)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert (tls.ca_cert.parent / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    assert tls.key.stat().st_mode & 0o777 == 0o600
    before = tls.cert.read_bytes()
    assert ensure_certificate(tls.cert.parent, addresses=[]) == tls and tls.cert.read_bytes() == before  # kept
    ensure_certificate(tls.cert.parent, addresses=["10.9.8.7"])  # the computer moved: a new one, same CA
    san = x509.load_pem_x509_certificate(tls.cert.read_bytes()).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert {str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)} == {"10.9.8.7", "127.0.0.1"}
    ensure_certificate(tls.cert.parent, addresses=[])


def test_without_a_valid_token_every_route_and_the_websocket_get_401(lan: Lan) -> None:
    expired = DeviceStore(lan.devices).add(30, "old tablet", now=time.time() - 31 * 86400)  # paired 31 days ago
    refusals = {
        "none": {}, "wrong bearer": _auth("bearer", "x" * 43), "basic": {"Authorization": f"Basic {TOKEN}"},
        "token as cookie": _auth("cookie", TOKEN), "wrong cookie": _auth("cookie", "y" * 43),
        "expired bearer": _auth("bearer", expired), "expired cookie": _auth("cookie", expired),
    }
    with lan.client() as client:
        for name, headers in refusals.items():
            for method, path in ROUTES:
                r = client.request(method, path, headers=headers, json={"model": "tts-1", "voice": "joe", "input": "Hi."})
                assert r.status_code == 401, (name, method, path, r.status_code)
                assert TOKEN not in r.text and expired not in r.text
            assert lan.ws_status(headers) == 401, name
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 401 and "not paired" in page.text and "pairing code" in page.text
        good = _auth("bearer", TOKEN)
        assert client.get("/health", headers=good).json()["status"] == "ok"
        assert client.get("/v1/models", headers=good).status_code == 200
        assert client.get("/ca.crt", headers=good).content == lan.tls.ca_cert.read_bytes()
    assert lan.ws_status(good) != 401


def test_pairing_turns_a_one_time_code_into_a_session_cookie(lan: Lan) -> None:
    code = lan.new_code()
    with lan.client() as browser:
        r = browser.get("/pair", params={"code": code})
        assert r.status_code == 200 and 'url=/"' in r.text and r.headers["cache-control"] == "no-store"
        cookie = r.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Max-Age=2592000", "Path=/"):
            assert attribute in cookie, cookie
        device = browser.cookies[COOKIE]
        assert browser.get("/v1/models").status_code == 200
        assert browser.get("/").status_code == 200
        assert lan.ws_status(_auth("cookie", device)) != 401
        with lan.client() as api:  # the device token also works as an API key
            assert api.get("/v1/models", headers=_auth("bearer", device)).status_code == 200
            again = api.get("/pair", params={"code": code})
            assert again.status_code == 401 and "press Enter" in again.text and COOKIE not in again.cookies
            assert api.get("/pair", params={"code": "23456789abcd"}).status_code == 401
            assert api.get("/pair").status_code == 401
        assert code not in lan.devices.read_text() and device not in lan.devices.read_text()  # kept hashed
        assert lan.devices.stat().st_mode & 0o777 == 0o600
        assert DeviceStore(lan.devices).forget_all() >= 1  # as `voicebank serve --forget-devices` beside the server
        assert browser.get("/v1/models").status_code == 401
        assert lan.ws_status(_auth("cookie", device)) == 401


def test_a_device_in_use_stays_paired_and_one_left_unused_does_not(lan: Lan) -> None:
    store = DeviceStore(lan.devices)
    busy = store.add(30, "tablet used every day", now=time.time() - 20 * 86400)  # 10 days left
    idle = store.add(30, "phone in a drawer", now=time.time() - 30 * 86400 - 60)  # ran out a minute ago
    with lan.client() as client:
        first = client.get("/v1/models", headers=_auth("cookie", busy))
        assert first.status_code == 200 and "Max-Age=2592000" in first.headers["set-cookie"]
        assert store.days_left(busy) == pytest.approx(30, abs=0.01)
        assert "set-cookie" not in client.get("/v1/models", headers=_auth("cookie", busy)).headers  # renewed once
        assert client.get("/v1/models", headers=_auth("bearer", idle)).status_code == 401


def test_pairing_codes_expire_and_work_once() -> None:
    now = [1000.0]
    codes = PairingCodes(10, clock=lambda: now[0])
    late, once = codes.new(), codes.new()
    assert codes.redeem(once.upper()) and not codes.redeem(once)  # typed in capitals still works, but once
    now[0] += 601
    assert not codes.redeem(late)
    assert re.fullmatch(r"[2-9a-z]{12}", codes.new())


def test_a_damaged_devices_file_is_named_and_signs_no_one_in(tmp_path: Path) -> None:
    path = tmp_path / "serve-devices.json"
    store = DeviceStore(path)
    token = store.add(1, "phone")
    assert store.valid(token) and store.count() == 1
    path.write_text("{not json")
    assert not DeviceStore(path).valid(token)
    with pytest.raises(CorruptFileError, match="pair the devices again"):
        DeviceStore(path).count()


def _raw_get(lan: Lan, target: str) -> tuple[int, bytes]:
    """A GET with the request target sent exactly as written (no client-side normalising of ``..``)."""
    with socket.create_connection(("127.0.0.1", lan.port), timeout=30) as raw:
        with lan.context().wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_path_traversal_in_file_routes_gets_4xx(lan: Lan) -> None:
    targets = [
        "/static/..%2f..%2f..%2fetc%2fpasswd", "/static/../../../etc/passwd", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%5c..%5c..%5cetc%5cpasswd", "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/static/../app.py",
        "/static/..%2fapp.py", "/static/board.js%00.png", "/static/%252e%252e/app.py", "/../../etc/passwd",
    ]
    for target in targets:
        status, data = _raw_get(lan, target)
        assert 400 <= status < 500, (target, status)
        assert b"root:" not in data and b"create_app" not in data, target


def test_input_over_the_limit_gets_413_and_extra_streams_429(lan: Lan) -> None:
    with lan.client(headers=_auth("bearer", TOKEN)) as client:
        long = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "joe", "input": "a" * 4097})
        assert long.status_code == 413 and "4096" in long.json()["error"]["message"]
        big = b'{"model": "tts-1", "voice": "joe", "input": "' + b"a" * 70_000 + b'"}'
        assert client.post("/v1/audio/speech", content=big).status_code == 413
        held = _hold_stream(lan)  # the one stream allowed, read no further than its head
        try:
            second = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "joe", "input": "Hello."})
            assert second.status_code == 429 and second.headers["retry-after"] == "1"
            assert second.json()["error"]["code"] == "too_many_streams"
        finally:
            held.close()


def _hold_stream(lan: Lan) -> ssl.SSLSocket:
    """A TLS client with a tiny receive buffer that reads the head of a long stream, then stops reading."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", lan.port))
    sock = lan.context().wrap_socket(raw, server_hostname="localhost")
    body = json.dumps({"model": "tts-1", "voice": "joe", "input": LONG, "response_format": "wav"}).encode()
    sock.sendall(
        f"POST /v1/audio/speech HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )
    reader = sock.makefile("rb")
    status = reader.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    while reader.readline() not in (b"\r\n", b""):  # the headers
        pass
    assert reader.read1(64), "the server closed the stream"  # audio flows; now stop reading
    reader.close()  # the socket stays open until the caller closes it
    return sock


def test_rate_limit_gives_429_with_retry_after(home: Path, tls: TlsFiles, tmp_path: Path) -> None:
    app, server = _lan_server(tls, tmp_path / "devices.json", rate=0.1, burst=3, preload=False)
    with server as (url, port):
        lan = Lan(url, port, app, tls, tmp_path / "devices.json")
        with lan.client() as client:
            statuses = [client.get("/v1/models", headers=_auth("bearer", TOKEN)).status_code for _ in range(3)]
            assert statuses == [200, 200, 200]
            late = client.get("/v1/models", headers=_auth("bearer", TOKEN))
            assert late.status_code == 429 and int(late.headers["retry-after"]) >= 1
            assert late.json()["error"]["code"] == "rate_limited"
            assert client.get("/pair", params={"code": "guess"}).status_code == 429  # guessing codes is slowed too
        assert lan.ws_status(_auth("bearer", TOKEN)) == 429


def test_token_buckets_refill_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0.0 and buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5) and buckets.take("b") == 0.0  # one client's flood is its own
    now[0] += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0.0


def test_cors_is_off_unless_an_origin_is_named(home: Path, tls: TlsFiles, tmp_path: Path, lan: Lan) -> None:
    preflight = {"Origin": "https://board.example.org", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    with lan.client() as client:
        assert "access-control-allow-origin" not in client.options("/v1/audio/speech", headers=preflight).headers
    app, server = _lan_server(tls, tmp_path / "devices.json", preload=False, cors_origins=("https://board.example.org",))
    with server as (url, port), Lan(url, port, app, tls, tmp_path).client() as client:
        r = client.options("/v1/audio/speech", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://board.example.org"
        models = client.get("/v1/models", headers={"Origin": "https://board.example.org", **_auth("bearer", TOKEN)})
        assert models.headers["access-control-allow-origin"] == "https://board.example.org"
        other = client.options("/v1/audio/speech", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_token_and_pairing_code_never_appear_in_logs(lan: Lan, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    code, wrong = lan.new_code(), "zzzzzzzzzzzz"
    with lan.client() as browser:
        assert browser.get("/pair", params={"code": code}).status_code == 200
        assert browser.get("/pair", params={"code": wrong}).status_code == 401
        device = browser.cookies[COOKIE]
        assert browser.get("/v1/models").status_code == 200
        assert browser.get("/v1/models", headers=_auth("bearer", TOKEN)).status_code == 200
    with lan.client() as stranger:  # a token put in a query by mistake is not logged either
        assert stranger.get(f"/v1/models?api_key={TOKEN}").status_code == 401
    lan.ws_status({**_auth("bearer", TOKEN)})
    lan.ws_status({})
    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith(("uvicorn", "voicebank"))]
    text = "\n".join(server_lines)
    assert '"GET /pair HTTP/1.1" 200' in text and '"GET /v1/models HTTP/1.1" 401' in text  # the access log was read
    for secret in (code, wrong, TOKEN, device):
        assert secret not in text


def _cli(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "VOICEBANK_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "voicebank.cli.main", "serve", *args], env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def _read_until(proc: subprocess.Popen[str], marker: str) -> str:
    out = ""
    deadline = time.monotonic() + 180
    while marker not in out:
        assert proc.poll() is None and time.monotonic() < deadline, f"voicebank serve stopped or hung:\n{out}"
        out += proc.stdout.readline()  # type: ignore[union-attr]
    return out


def _wait_listening(port: int, seconds: float = 60.0) -> None:
    """Until the server's socket accepts (uvicorn reports startup complete just before it listens)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, f"nothing listens on port {port}"
            time.sleep(0.05)


def test_cli_lan_prints_an_https_pairing_url_and_qr_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused = subprocess.run(
        [sys.executable, "-m", "voicebank.cli.main", "serve", "--lan", "--no-auth"],
        env={**os.environ, "VOICEBANK_HOME": str(home)}, capture_output=True, text=True,
    )
    assert refused.returncode != 0 and "--no-auth" in refused.stdout + refused.stderr
    proc = _cli(home, "--lan", "--port", "0", "--host", "127.0.0.1")
    try:
        out = _read_until(proc, "Application startup complete")
        url = re.search(r"https://127\.0\.0\.1:(\d+)/pair\?code=([2-9a-z]{12})", out)
        assert url, out
        port, code = url.groups()
        assert "▀" in out and "█" in out  # the QR code, in block characters
        ca = home / "serve-tls" / "ca.pem"
        assert str(ca) in out
        _wait_listening(int(port))
        context = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context) as browser:
            assert browser.get("/pair", params={"code": code}).status_code == 200
            assert browser.get("/v1/models").status_code == 200
            forget = subprocess.run(
                [sys.executable, "-m", "voicebank.cli.main", "serve", "--forget-devices"],
                env={**os.environ, "VOICEBANK_HOME": str(home)}, capture_output=True, text=True, check=True,
            )
            assert "Unpaired 1 device" in forget.stdout
            assert browser.get("/v1/models").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    out += rest
    assert out.count(code) == 1 and '"GET /pair HTTP/1.1" 200' in out  # shown once; the access log leaves it out
    assert json.loads((home / "serve-devices.json").read_text())["devices"] == []


def test_cli_on_this_computer_prints_a_plain_http_pairing_url(tmp_path: Path) -> None:
    proc = _cli(tmp_path / "home", "--port", "0")
    try:
        out = _read_until(proc, "Application startup complete")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert re.search(r"http://127\.0\.0\.1:\d+/pair\?code=[2-9a-z]{12}", out), out
    assert "▀" not in out
