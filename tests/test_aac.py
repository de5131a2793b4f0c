"""AsTeRICS Grid's external speech service contract, called as the Grid calls it, on a real ``--lan`` server.

The server runs over real TLS with a token (``lan=True``), allows the Grid's origin
(``--cors-origin``), and has a personal voice installed in its registry: the stock model
under a voice folder name of its own (so pocketsphinx can check the words). The Grid
sends no headers, so its URL carries the path key (``/aac/KEY``).
"""

from __future__ import annotations

import io
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("uvicorn")
pytest.importorskip("cryptography")
pytest.importorskip("wyoming")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from voicebank.audio import UNPACED  # noqa: E402
from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.serve.aac import grid_url  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.auth import aac_key  # noqa: E402
from voicebank.serve.settings import ServeSettings, TlsFiles  # noqa: E402
from voicebank.serve.tls import ensure_certificate  # noqa: E402

from tests.helpers.serving import running, wait_idle  # noqa: E402

TOKEN = "aac-test-token-" + "q" * 30
GRID = "https://grid.asterics.eu"
VOICE = "my-voice"
TEXT = "The kettle is on. Would you like some tea?"
OPTIONS = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)


CHROMIUM = Path("/usr/bin/chromium")
# What the Grid does with a data voice (speechServiceExternal.js): fetch, then AudioContext.decodeAudioData.
FETCH_AND_DECODE = """async ([base, voice, text]) => {
    try {
        const voices = await (await fetch(`${base}/voices`)).json();
        const audio = await fetch(`${base}/speakdata/${encodeURIComponent(text)}/voicebank/${encodeURIComponent(voice)}`);
        const buffer = await new AudioContext().decodeAudioData(await audio.arrayBuffer());
        return {ids: voices.map(v => v.id), seconds: buffer.duration, rate: buffer.sampleRate};
    } catch (e) {
        return {error: e.name};
    }
}"""


@dataclass
class Server:
    url: str
    app: object
    tls: TlsFiles
    page_origin: str  # a web page on another origin, allowed like the Grid's (the browser test)

    @property
    def grid_url(self) -> str:
        """What a person types into the Grid's "External speech service URL"."""
        return grid_url(self.url, TOKEN)

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(self.tls.ca_cert)), timeout=120)


def _install_personal_voice(home: Path) -> None:
    """A voice folder in the registry: the stock model (linked) and its config, under the name ``my-voice``."""
    from voicebank.config import voices_dir
    from voicebank.voice.registry import stock_voice

    stock = stock_voice()
    folder = voices_dir() / VOICE
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / f"{VOICE}.onnx").exists():
        (folder / f"{VOICE}.onnx").symlink_to(stock.model)
        (folder / f"{VOICE}.onnx.json").write_bytes(stock.config.read_bytes())


def _blank_site() -> Starlette:
    """Another web site: one empty page, for a browser to fetch from."""
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>another site</title>")

    return Starlette(routes=[Route("/", page)])


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _install_personal_voice(home)
    tls = ensure_certificate(tmp_path_factory.mktemp("tls"), addresses=[])
    with running(_blank_site()) as (site, _):
        settings = ServeSettings(
            port=0, token=TOKEN, lan=True, tls=tls, devices=tmp_path_factory.mktemp("devices") / "devices.json",
            cors_origins=(GRID, site), options=OPTIONS, preload=False, max_streams=2,
        )
        app = create_app(settings)
        files = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
        with running(app, scheme="https", log_config=None, log_level="info", **files) as (url, _):
            yield Server(url, app, tls, site)


def _speakdata(base: str, text: str, voice: str) -> str:
    """The URL the Grid fetches: each part percent-encoded as encodeURIComponent does."""
    return f"{base}/speakdata/{quote(text, safe='')}/voicebank/{quote(voice, safe='')}"


def test_voice_list_has_every_voice_as_the_grid_reads_it(server: Server) -> None:
    with server.client() as client:
        r = client.get(f"{server.grid_url}/voices", headers={"Origin": GRID})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == GRID
    voices = {v["id"]: v for v in r.json()}
    assert {"joe", VOICE} <= set(voices)
    mine = voices[VOICE]
    assert mine["type"] == "VOICE_TYPE_EXTERNAL_DATA" and mine["providerId"] == "voicebank" and mine["local"] is True
    assert mine["lang"] == "en-US" and VOICE in mine["name"]


def test_cors_preflight_from_the_grids_origin_passes_and_another_origin_gets_nothing(server: Server) -> None:
    preflight = {"Origin": GRID, "Access-Control-Request-Method": "GET"}  # what a browser sends before a fetch it must ask for
    with server.client() as client:
        r = client.options(f"{server.grid_url}/voices", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == GRID
        assert "GET" in r.headers["access-control-allow-methods"]
        other = client.options(f"{server.grid_url}/voices", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        simple = client.get(f"{server.grid_url}/voices", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers  # the browser keeps the answer from that page


@pytest.mark.slow  # loads the voice (about 20 s on a busy 2-core machine)
def test_speakdata_is_a_wav_of_the_personal_voice_that_says_the_words(server: Server) -> None:
    from voicebank.train.metrics import Recognizer

    with server.client() as client:
        r = client.get(_speakdata(server.grid_url, TEXT, VOICE), headers={"Origin": GRID})
        again = client.get(_speakdata(server.grid_url, TEXT, VOICE))  # the second time from the cache
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.headers["access-control-allow-origin"] == GRID
    assert again.content == r.content
    samples, rate = sf.read(io.BytesIO(r.content), dtype="int16")
    engine, _ = server.app.state.server.engines.get(VOICE)  # type: ignore[attr-defined]
    assert rate == engine.sample_rate == 22050 and sf.info(io.BytesIO(r.content)).frames == len(samples)
    expected = np.concatenate([c.as_int16() for c in engine.stream(TEXT, OPTIONS, UNPACED)])
    assert np.array_equal(samples, expected)  # the engine's own samples, in a complete WAV
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 500  # not silence
    heard = set(Recognizer().transcribe(samples.astype(np.float32) / 32768.0, rate).split())
    assert len(heard & {"the", "kettle", "is", "on", "would", "you", "like", "some", "tea"}) >= 4, heard


def test_cache_route_fills_the_cache_and_texts_with_slashes_arrive_whole(server: Server) -> None:
    text = "Yes/no?"
    with server.client() as client:
        cached = client.get(f"{server.grid_url}/cache/{quote(text, safe='')}/voicebank/joe")
        assert cached.status_code == 200 and cached.json() is True
        assert ("joe", text) in _grid(server).cache._items
        r = client.get(_speakdata(server.grid_url, text, "joe"))
        assert r.status_code == 200 and sf.info(io.BytesIO(r.content)).duration > 0.3
        assert client.get(f"{server.grid_url}/speaking").json() is False and client.get(f"{server.grid_url}/stop").json() is True
        unknown = client.get(_speakdata(server.grid_url, "Hi.", "/etc/passwd"))  # only listed voices, never a path
        assert unknown.status_code == 404 and "my-voice" in unknown.json()["error"]["message"]
        assert server.app.state.server.slots.active == 0  # type: ignore[attr-defined]


def test_a_request_the_page_gives_up_on_stops_its_synthesis(server: Server) -> None:
    """The Grid aborts the fetch of the last word when the next is pressed; the server then stops making it."""
    slots = server.app.state.server.slots  # type: ignore[attr-defined]
    before = slots.stopped_early
    long_text = " ".join(["We walked along the river in the morning, and the light on the water was calm and bright."] * 12)
    with server.client() as client, pytest.raises(httpx.ReadTimeout):
        client.get(_speakdata(server.grid_url, long_text, "joe"), timeout=httpx.Timeout(60, read=0.2))
    wait_idle(slots)
    assert slots.stopped_early == before + 1
    assert ("joe", long_text) not in _grid(server).cache._items  # half a WAV is never kept


def _grid(server: Server):  # type: ignore[no-untyped-def]
    """The server's AsTeRICS Grid routes' object (its WAV cache)."""
    return next(r.endpoint.__self__ for r in server.app.routes if getattr(r, "path", "") == "/aac/{rest:path}")  # type: ignore[attr-defined]


def test_with_lan_the_token_rules_apply(server: Server) -> None:
    key = aac_key(TOKEN)
    with server.client() as client:
        for url in (f"{server.url}/aac/voices", f"{server.url}/aac/{'x' * len(key)}/voices", f"{server.url}/aac"):
            r = client.get(url, headers={"Origin": GRID})
            assert r.status_code == 401, url
            assert r.headers["access-control-allow-origin"] == GRID  # the page can read why
        assert client.get(f"{server.url}/aac/voices", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.get(f"{server.url}/aac/{key}/voices").status_code == 200
        for path in ("/v1/models", "/health", "/"):  # the key opens the Grid's routes alone
            assert client.get(f"{server.url}{path}", params={"key": key}).status_code == 401, path
        assert client.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401
        page = client.get(f"{server.url}/aac", headers={"Authorization": f"Bearer {TOKEN}"})
        assert page.json() == {"url": server.grid_url}


def test_the_key_and_the_spoken_text_never_appear_in_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    secret_text = "my bank pin is four four two"
    with server.client() as client:
        client.get(f"{server.grid_url}/cache/{quote(secret_text, safe='')}/voicebank/joe")
        client.get(f"{server.url}/aac/wrong-key-{quote(secret_text, safe='')}/voices")
    lines = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("uvicorn", "voicebank")))
    assert '"GET /aac/…/cache/… HTTP/1.1" 200' in lines  # the access log was read
    assert aac_key(TOKEN) not in lines and "pin" not in lines and TOKEN not in lines


def test_no_auth_on_loopback_just_works(home: Path) -> None:
    app = create_app(ServeSettings(port=0, token=None, preload=False, cors_origins=(GRID,)))
    with running(app) as (url, _):
        assert grid_url(url, None) == f"{url}/aac"
        r = httpx.get(f"{url}/aac/voices/", headers={"Origin": GRID}, follow_redirects=True, timeout=60)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == GRID
        assert "joe" in {v["id"] for v in r.json()}


@pytest.mark.slow
def test_a_browser_page_on_an_allowed_origin_fetches_and_decodes_the_voice(server: Server) -> None:
    """Real CORS in Chromium: the page's origin is allowed; the same page under another name (localhost) is not."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_context(ignore_https_errors=True).new_page()  # the tablet that trusts the server's CA
            page.goto(server.page_origin + "/")
            heard = page.evaluate(FETCH_AND_DECODE, [server.grid_url, VOICE, TEXT])
            assert VOICE in heard.get("ids", []), heard
            assert heard["seconds"] > 1.5 and heard["rate"] > 0, heard
            page.goto(server.page_origin.replace("127.0.0.1", "localhost") + "/")  # an origin not named
            assert page.evaluate(FETCH_AND_DECODE, [server.grid_url, VOICE, TEXT]) == {"error": "TypeError"}
        finally:
            browser.close()
