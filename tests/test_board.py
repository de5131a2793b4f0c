"""The speak board in a real browser (Debian's Chromium, headless, driven by Playwright) against a real server.

The page is opened with ``?tap=1``: it then keeps the exact PCM it handed to its AudioWorklet,
per utterance, and the worklet's reports (started, drained, silent after a stop) with their
AudioContext times. The voice speaks with its noise at zero, so the server's audio for a text
is the engine's own output for that text.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

from voicebank.audio import UNPACED  # noqa: E402
from voicebank.bank.store import Bank  # noqa: E402
from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.phrases import Phrase, PhraseBook, recorded_message  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.conftest import LJSPEECH  # noqa: E402
from tests.helpers.serving import running  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]
OPTIONS = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
TEXT = "The kettle is on. Would you like some tea?"
LONG = "We walked along the river in the morning, and the light on the water was calm and bright. " * 3
CLIP = LJSPEECH / "wavs" / "LJ001-0008.wav"  # 1.8 s of real speech
WAIT_MS = 60_000


@dataclass
class Board:
    url: str
    app: Any
    browser: Any
    recorded: np.ndarray  # the recorded phrase's samples, as its FLAC holds them (int16)
    recorded_rate: int

    def open(self, **context: Any) -> Any:
        """A fresh page of the board, in a context of its own (``viewport=...`` and so on)."""
        page = self.browser.new_context(**context).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.errors = errors
        page.goto(f"{self.url}/?tap=1")
        _wait_status(page, "Connected")
        page.wait_for_function("() => document.querySelectorAll('#phrases button').length === 2", timeout=WAIT_MS)
        return page


def _phrase_book(root: Path) -> tuple[Path, np.ndarray, int]:
    """A phrase book with a typed phrase and a recorded message (a real clip saved through a bank, 16-bit FLAC)."""
    if not CLIP.is_file():
        pytest.skip(f"real recordings not available: {CLIP} is absent")
    clip, rate = sf.read(CLIP, dtype="float32")
    with Bank.create(root / "bank") as bank:
        prompt = bank.add_prompt("Printing, in the only sense with which we are concerned.", kind="message")
        bank.save_take(prompt.id, clip, rate, subtype="PCM_16", choose=True)
    book = PhraseBook(root / "home" / "phrases.json")
    book.add(Phrase("Could you open the window, please?"))
    number = book.add(recorded_message(str(root / "bank"), prompt.id))
    flac = book.audio_dir / book.get(number).audio
    assert sf.info(flac).subtype == "PCM_16"
    samples, flac_rate = sf.read(flac, dtype="int16")
    return book.path, samples, flac_rate


@pytest.fixture(scope="module")
def board(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    phrases, recorded, rate = _phrase_book(tmp_path_factory.mktemp("board"))
    app = create_app(ServeSettings(token=None, options=OPTIONS, phrases=phrases))
    with running(app) as (url, _), playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield Board(url, app, browser, recorded, rate)
        finally:
            browser.close()


def _wait_status(page: Any, start: str) -> None:
    page.wait_for_function("s => document.getElementById('status').textContent.startsWith(s)", arg=start, timeout=WAIT_MS)


def _tapped(page: Any, id: str) -> np.ndarray:
    """The PCM the page handed to the worklet for utterance ``id``."""
    return np.frombuffer(base64.b64decode(page.evaluate("id => window.voicebankTap.pcmBase64(id)", id)), dtype="<i2")


def _wait_report(page: Any, kind: str, id: str | None) -> dict[str, Any]:
    page.wait_for_function(
        "([kind, id]) => window.voicebankTap.reports.some(r => r.type === kind && r.id === id)", arg=[kind, id], timeout=WAIT_MS
    )
    return page.evaluate("([kind, id]) => window.voicebankTap.reports.find(r => r.type === kind && r.id === id)", [kind, id])


def _last_utterance(page: Any) -> dict[str, Any]:
    return page.evaluate("() => window.voicebankTap.utterances.at(-1)")


def _engine_pcm(board: Board, text: str) -> np.ndarray:
    engine, _ = board.app.state.server.engines.get("joe")
    return np.concatenate([c.as_int16() for c in engine.stream(text, OPTIONS, UNPACED)])


def _focus_ring(page: Any) -> dict[str, Any]:
    return page.evaluate(
        "() => { const e = document.activeElement, s = getComputedStyle(e);"
        " return {id: e.id || e.dataset.phrase || e.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"
    )


def test_typed_text_reaches_the_worklet_as_the_engines_audio(board: Board) -> None:
    page = board.open()
    page.fill("#text", TEXT)
    page.press("#text", "Enter")
    assert page.input_value("#text") == "", "Enter speaks the text and clears the box"
    said = _last_utterance(page)
    assert said["text"] == TEXT and said["request"]["type"] == "speak"
    page.wait_for_selector("#now span.spoken", timeout=WAIT_MS)  # the word being heard is marked
    drained = _wait_report(page, "drained", said["id"])

    received = _tapped(page, said["id"])
    expected = _engine_pcm(board, TEXT)
    assert len(received) == len(expected)
    diff = np.abs(received.astype(np.int32) - expected).max()
    assert diff <= 1, f"the audio differs from the engine's by up to {diff} steps"
    rate = board.app.state.server.engines.get("joe")[0].sample_rate
    assert drained["played"] == pytest.approx(len(expected) / rate, abs=0.01), "all of it played, at the context's rate"
    assert page.locator("#history button").first.inner_text() == TEXT
    marks = page.evaluate("() => [...document.querySelectorAll('#now span[data-start]')].map(s => s.textContent)")
    assert marks == ["The", "kettle", "is", "on", "Would", "you", "like", "some", "tea"], "timed words found in the text"
    assert page.errors == []


def test_a_phrase_button_plays_the_recorded_message_verbatim(board: Board) -> None:
    page = board.open()
    page.locator("#phrases button", has_text="recorded").click()
    said = _last_utterance(page)
    assert said["request"] == {**said["request"], "type": "phrase", "phrase": 2}
    drained = _wait_report(page, "drained", said["id"])

    received = _tapped(page, said["id"])
    assert received.tobytes() == board.recorded.astype("<i2").tobytes(), "the FLAC's samples, byte for byte"
    assert drained["played"] == pytest.approx(len(board.recorded) / board.recorded_rate, abs=0.01)
    assert page.errors == []


_RENDER = """async ([rate, outRate, pcm]) => {
  const context = new OfflineAudioContext(1, Math.ceil(pcm.length * outRate / rate) + 4096, outRate);
  await context.audioWorklet.addModule("/static/player-worklet.js");
  const node = new AudioWorkletNode(context, "pcm-player", {numberOfInputs: 0, outputChannelCount: [1]});
  node.connect(context.destination);
  node.port.postMessage({type: "begin", id: "t", rate});
  node.port.postMessage({type: "pcm", id: "t", pcm: Int16Array.from(pcm)});
  node.port.postMessage({type: "end", id: "t"});
  await new Promise(done => setTimeout(done, 200));  // the messages reach the audio thread before it renders
  return Array.from((await context.startRendering()).getChannelData(0));
}"""


def test_the_worklet_outputs_its_pcm_resampled_to_the_context(board: Board) -> None:
    page = board.open()
    for rate in [48000, 22050, 44100]:  # the context's own rate, the voice's, a recording's
        t = np.arange(rate) / rate  # one second of a 440 Hz tone at the stream's rate
        pcm = np.round(0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        out = np.array(page.evaluate(_RENDER, [rate, 48000, pcm.tolist()]), dtype=np.float32)
        heard = np.flatnonzero(np.abs(out) > 0)
        assert abs(heard[-1] + 1 - len(pcm) * 48000 / rate) <= 2, "as long as the stream, at the context's rate"
        if rate == 48000:
            assert np.array_equal(out[: len(pcm)], (pcm / 32768).astype(np.float32)), "the same rate passes through untouched"
        else:
            k = np.arange(8, int(0.99 * 48000))  # past the first samples, which are eased in from silence
            expected = 0.5 * 32767 / 32768 * np.sin(2 * np.pi * 440 * k / 48000)
            assert np.abs(out[k] - expected).max() < 1e-3, f"the tone, resampled from {rate} Hz"


def test_the_board_reconnects_by_itself_and_keeps_unsent_words(board: Board) -> None:
    page = board.open()
    page.evaluate("() => window.voicebankTap.dropConnection()")
    _wait_status(page, "Connection lost")
    page.fill("#text", "Are you still there?")
    page.press("#text", "Enter")
    assert page.input_value("#text") == "Are you still there?", "words that could not be sent stay in the box"
    assert "Not connected" in page.inner_text("#status")
    _wait_status(page, "Connected")
    page.press("#text", "Enter")
    assert page.input_value("#text") == ""
    _wait_report(page, "drained", _last_utterance(page)["id"])


def test_a_refused_request_is_said_in_the_status_line(board: Board) -> None:
    page = board.open()
    page.evaluate("() => { const v = document.getElementById('voice'); v.add(new Option('gone', 'gone')); v.value = 'gone'; }")
    page.fill("#text", "Hello.")  # a voice deleted on the server since the page opened
    page.press("#text", "Enter")
    _wait_status(page, "Could not say that: ")
    assert "gone" in page.inner_text("#status")
    assert page.get_attribute("#status", "aria-live") == "polite"


def test_stop_silences_within_100_ms(board: Board) -> None:
    page = board.open()
    page.fill("#text", LONG)
    page.press("#text", "Enter")
    said = _last_utterance(page)
    _wait_report(page, "started", said["id"])
    page.wait_for_timeout(400)  # well into the sentence
    page.keyboard.press("Escape")
    silent = _wait_report(page, "silent", said["id"])
    stop = page.evaluate("() => window.voicebankTap.stops.at(-1)")

    context_ms = (silent["time"] - stop["time"]) * 1000
    page_ms = silent["perf"] - stop["perf"]
    latency = page.evaluate("() => window.voicebankTap.latency()")
    print(f"stop -> silent output: {context_ms:.1f} ms of AudioContext time, {page_ms:.1f} ms until the page heard of it; "
          f"the context's own output latency {latency}")
    assert stop["id"] == said["id"]
    heard_ms = context_ms + (latency["base"] + latency["output"]) * 1000  # what was in the sound card's buffer still plays
    assert heard_ms < 100 and page_ms < 100
    handed = len(_tapped(page, said["id"]))
    page.wait_for_timeout(300)
    assert len(_tapped(page, said["id"])) == handed, "no audio of a stopped utterance reaches the worklet"
    reports = page.evaluate("id => window.voicebankTap.reports.filter(r => r.id === id).map(r => r.type)", said["id"])
    assert "drained" not in reports, "it was cut short, not played to its end"


def test_the_whole_flow_from_the_keyboard_alone(board: Board) -> None:
    page = board.open(viewport={"width": 1000, "height": 900})
    first_stop = page.evaluate(
        "() => [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]"
        ".find(e => e.tabIndex >= 0 && !e.disabled).id"
    )
    assert first_stop == "text", "the text box is the first stop in the tab order"
    ring = _focus_ring(page)
    assert ring["id"] == "text", "and has the focus when the board opens"
    assert ring["style"] != "none" and ring["width"] >= 2, "focus is visible"
    page.keyboard.type("Good morning, everyone.")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("Thank you for coming.")
    assert page.input_value("#text") == "Good morning, everyone.\nThank you for coming.", "Shift+Enter is a new line"
    page.keyboard.press("Enter")
    first = _last_utterance(page)
    assert first["text"] == "Good morning, everyone.\nThank you for coming."

    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        ring = _focus_ring(page)
        assert ring["style"] != "none" and ring["width"] >= 2, f"focus on {ring['id']} is visible"
        order.append(ring["id"])
    assert order == ["speak", "stop", "1", "2"], "text box, Speak, Stop, then the saved phrases"
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    assert _focus_ring(page)["id"] == "speak", "Shift+Tab goes back the same way"
    for _ in range(3):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # phrase 2: the recorded message
    second = _last_utterance(page)
    assert second["request"]["phrase"] == 2 and second["id"] != first["id"]
    _wait_report(page, "started", second["id"])
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")  # phrase 1, typed: barge-in
    third = _last_utterance(page)
    assert third["request"]["phrase"] == 1
    _wait_report(page, "started", third["id"])
    shot = os.environ.get("VOICEBANK_BOARD_SCREENSHOT")  # docs/speak-board.png is made this way
    if shot:
        page.wait_for_selector("#now span.spoken", timeout=WAIT_MS)
        page.screenshot(path=shot, full_page=True)
    page.keyboard.press("Escape")
    _wait_report(page, "silent", third["id"])

    history = page.locator("#history button").all_inner_texts()
    assert history[:3] == ["Could you open the window, please?", second["text"], first["text"]]
    assert page.errors == []


@pytest.mark.parametrize(
    "context",
    [
        {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True},
        {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2},  # a 1280 x 800 window at 200 % zoom
        {"viewport": {"width": 320, "height": 480}},  # WCAG reflow: 1280 px at 400 %
    ],
    ids=["phone", "zoom-200", "reflow-320"],
)
def test_narrow_screens_and_zoom_need_no_sideways_scrolling(board: Board, context: dict[str, Any]) -> None:
    page = board.open(**context)
    page.fill("#text", "A line long enough to wrap across a narrow phone screen without trouble.")
    page.press("#text", "Enter")
    page.wait_for_selector("#history button")
    width = page.evaluate("() => document.documentElement.clientWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "no horizontal scroll"
    for selector in ["#text", "#speak", "#stop", "#phrases button", "#history button", "#voice", "#speed"]:
        for box in [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]:
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, selector
            assert box["height"] >= 44 or selector == "#speed", f"{selector} is a large target"
    assert page.locator("#text").is_visible() and page.locator("#stop").is_visible()


def test_a_paired_browser_uses_the_board_with_its_cookie(board: Board, tmp_path: Path) -> None:
    settings = ServeSettings(token="t" * 32, options=OPTIONS, phrases=tmp_path / "phrases.json", devices=tmp_path / "devices.json")
    app = create_app(settings)
    with running(app) as (url, _):
        assert httpx.get(f"{url}/", timeout=30).status_code == 401, "no board before pairing"
        page = board.browser.new_context().new_page()
        page.goto(f"{url}/pair?code={app.state.pairing.new_code()}")
        page.wait_for_url(f"{url}/", timeout=WAIT_MS)  # the pairing page moves on to the board
        page.goto(f"{url}/?tap=1")
        _wait_status(page, "Connected")
        page.wait_for_selector("#phrases-note:not([hidden])")  # the phrase list came too (an empty book here)
        page.fill("#text", "Hello.")
        page.press("#text", "Enter")
        drained = _wait_report(page, "drained", _last_utterance(page)["id"])
        assert drained["played"] > 0.2


def _raw_get(port: int, path: str) -> http.client.HTTPResponse:
    """GET ``path`` sent exactly as written (no client normalising ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_the_board_files_are_served_with_their_types(board: Board) -> None:
    page = httpx.get(f"{board.url}/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert httpx.get(f"{board.url}/board", timeout=30).text == page.text
    for name, kind in [("board.js", "text/javascript"), ("player-worklet.js", "text/javascript"), ("board.css", "text/css"),
                       ("icon.svg", "image/svg+xml"), ("icon-192.png", "image/png")]:
        response = httpx.get(f"{board.url}/static/{name}", timeout=30)
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind), name
        assert response.headers["cache-control"] == "no-cache"
    manifest = httpx.get(f"{board.url}/manifest.webmanifest", timeout=30)
    assert manifest.headers["content-type"] == "application/manifest+json"
    for icon in json.loads(manifest.text)["icons"]:
        assert httpx.get(board.url + icon["src"], timeout=30).status_code == 200


def test_no_file_outside_the_static_folder_is_served(board: Board) -> None:
    port = int(board.url.rsplit(":", 1)[1])
    for path in ["/static/../pages.py", "/static/..%2fpages.py", "/static/%2e%2e/%2e%2e/serve/app.py",
                 "/static/../../../../../../etc/passwd", "/static//etc/passwd", "/static/", "/static/nothing.js",
                 "/static/%00.js", "/static/board.js%00.png"]:
        assert _raw_get(port, path).status == 404, path


def test_the_phrase_list(board: Board) -> None:
    listed = httpx.get(f"{board.url}/v1/phrases", timeout=30).json()
    assert listed == {"phrases": [
        {"number": 1, "text": "Could you open the window, please?", "recorded": False},
        {"number": 2, "text": "Printing, in the only sense with which we are concerned.", "recorded": True},
    ]}
