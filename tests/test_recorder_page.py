"""The recorder page in a real browser (Debian's Chromium, headless, via Playwright) against a real server.

Chromium's fake microphone plays a WAV file made from real speech (two LJSpeech clips with
silence around them), looping. The test acts like a person: it waits for the speaker in
the file to fall silent, presses Record, waits for the next sentence to be said and
finished, and presses Stop. Every take then lands in a real bank on disk, which is checked
with ``voicebank bank verify``, and each take is compared with the fed audio.

The fake microphone's file is fixed for the life of a browser, so each kind of audio
(good, clipped, 20 dB too quiet) gets a browser of its own.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")
pytest.importorskip("scipy.signal")

from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.helpers.recorder_page import (  # noqa: E402
    CHROMIUM, RATE, ROOT_ARGS, WAIT_MS, Browsers, KilledServer, assert_captured_raw, correlation, count_in, create_bank,
    fed_speech, focus_ring, open_page, prompt_after, read_bank, record_take, state, verify_cli, wait_quiet, wait_saved,
)
from tests.helpers.serving import running  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browsers]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    speech = fed_speech()
    with playwright_api.sync_playwright() as pw:
        found = Browsers(pw, tmp_path_factory.mktemp("fed"), speech)
        try:
            yield found
        finally:
            for b in found.launched.values():
                b.close()


# ----------------------------------------------------------------------- the server
def _settings(banks: Path) -> ServeSettings:
    return ServeSettings(token=None, preload=False, banks_dir=banks)


@dataclass
class Server:
    url: str
    banks: Path


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    banks = tmp_path_factory.mktemp("banks")
    with running(create_app(_settings(banks))) as (url, _):
        yield Server(url, banks)


# ----------------------------------------------------------------------- tests
def test_record_accept_redo_skip_then_resume_after_closing_the_page(browsers: Browsers, server: Server) -> None:
    browser = browsers.get("good")
    page = open_page(browser, server.url)
    create_bank(page, "flow")
    count_in(page, False)
    first = page.inner_text("#prompt-text")
    assert page.inner_text("#progress-text").startswith("0 of ")

    said = record_take(page)
    shown = state(page)
    assert shown["verdict"].startswith("Good take"), (shown, said)
    assert page.evaluate("() => document.activeElement.id") == "accept", "a good take puts Keep it under the finger"
    page.click("#accept")
    second = prompt_after(page, first)
    assert page.inner_text("#progress-text").startswith("1 of ")

    record_take(page)
    page.click("#redo")  # the take stays in the bank, not chosen
    page.wait_for_selector("#take", state="hidden", timeout=WAIT_MS)
    assert page.inner_text("#prompt-text") == second
    record_take(page)
    page.click("#accept")
    third = prompt_after(page, second)
    page.click("#skip")
    fourth = prompt_after(page, third)
    record_take(page)  # recorded, then the page is closed before deciding
    assert page.inner_text("#saved") == "Saved"
    assert page.evaluate("() => localStorage.length") == 0, "no progress kept in the browser"
    assert page.errors == []
    page.context.close()

    page = open_page(browser, server.url)
    page.click("#bank-list button[data-bank='flow']")
    page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)
    assert page.inner_text("#prompt-text") == fourth, "the page resumes where the bank is"
    assert page.inner_text("#progress-text").startswith("2 of ")
    assert page.is_visible("#take") and page.inner_text("#verdict").startswith("Good take"), "with the take not yet decided"
    page.click("#accept")
    prompt_after(page, fourth)
    assert page.inner_text("#progress-text").startswith("3 of ")
    assert page.errors == []

    verify_cli(server.banks / "flow")
    bank = read_bank(server.banks / "flow")
    by_text = {t: pid for pid, t in bank["texts"].items()}
    chosen_texts = sorted(bank["texts"][pid] for pid in bank["chosen"])
    assert chosen_texts == sorted([first, second, fourth])
    assert bank["flags"].get(by_text[third]) == "skipped"
    assert len(bank["takes"]) == 4, "one take each, two of the redone prompt"
    redone = [t for t in bank["takes"] if t.prompt_id == by_text[second]]
    assert len(redone) == 2 and sum(bank["chosen"][by_text[second]] == t.id for t in redone) == 1
    fed = browsers.fed("good")
    for take in bank["takes"]:
        samples, rate = bank["audio"][take.id]
        assert rate == RATE and take.subtype == "PCM_24" and take.channels == 1
        assert correlation(samples, rate, fed) >= 0.9, take.id
        assert_captured_raw(take)


@pytest.mark.parametrize(("kind", "words"), [("clipped", ("loud", "soft", "back")), ("quiet", ("quiet", "closer"))])
def test_a_failed_take_shows_its_advice_and_is_kept_only_when_accepted_anyway(
    browsers: Browsers, server: Server, kind: str, words: tuple[str, ...]
) -> None:
    page = open_page(browsers.get(kind), server.url)
    create_bank(page, f"fail-{kind}")
    count_in(page, False)
    prompt = page.inner_text("#prompt-text")

    record_take(page)
    shown = state(page)
    assert shown["verdict"] == "This take has a problem", shown
    assert any(w in shown["advice"].lower() for w in words), shown
    assert shown["accept"] == "Keep it anyway"
    assert page.evaluate("() => document.activeElement.id") == "redo", "a failed take puts Record again under the finger"
    assert page.evaluate("() => Boolean(window.voicebankTap.clipped)") == (kind == "clipped"), "the meter marked the clipping"
    page.click("#redo")
    page.wait_for_selector("#take", state="hidden", timeout=WAIT_MS)
    record_take(page)
    assert state(page)["verdict"] == "This take has a problem"
    page.click("#accept")  # kept anyway
    prompt_after(page, prompt)
    assert page.errors == []

    verify_cli(server.banks / f"fail-{kind}")
    bank = read_bank(server.banks / f"fail-{kind}")
    first, second = bank["takes"]
    assert first.qc_verdict == second.qc_verdict == "fail"
    assert bank["chosen"] == {second.prompt_id: second.id}, "only the take accepted anyway is chosen"
    assert first.status == "pending" and second.status == "accepted"
    for take in bank["takes"]:
        samples, rate = bank["audio"][take.id]
        assert correlation(samples, rate, browsers.fed(kind)) >= 0.9
        assert_captured_raw(take)


def test_a_take_the_server_missed_is_kept_retried_and_saved_once(browsers: Browsers, tmp_path: Path, home: Path) -> None:
    (tmp_path / "logs").mkdir()
    server = KilledServer(tmp_path / "banks", tmp_path / "logs")
    server.start()
    try:
        page = open_page(browsers.get("good"), server.url)
        create_bank(page, "retry")
        count_in(page, False)
        server.kill()  # the server is gone while the take is recorded: it cannot be saved now
        wait_quiet(page, 250)
        page.keyboard.press("Space")
        page.wait_for_function("() => document.getElementById('record').textContent === 'Stop'", **ROOT_ARGS)
        wait_quiet(page, 400)
        page.keyboard.press("Space")
        page.wait_for_function(
            "() => document.getElementById('saved').textContent === '1 take not yet saved — retrying'", **ROOT_ARGS)
        assert "not saved yet" in page.inner_text("#status")
        assert page.get_attribute("#saved", "aria-live") == "polite"
        assert read_bank(tmp_path / "banks" / "retry")["takes"] == []
        server.start()  # the same bank, the same address
        page.wait_for_function("() => document.getElementById('saved').textContent === 'Saved'", **ROOT_ARGS)
        wait_saved(page)
        assert page.inner_text("#verdict").startswith("Good take")
        assert page.evaluate("() => window.voicebankTap.uploads.length") == 1
    finally:
        server.kill()
    verify_cli(tmp_path / "banks" / "retry")
    bank = read_bank(tmp_path / "banks" / "retry")
    assert len(bank["takes"]) == 1, "one take, however often it was sent"
    assert correlation(*bank["audio"][bank["takes"][0].id], browsers.fed("good")) >= 0.9


def test_a_typed_message_is_recorded_by_holding_space(browsers: Browsers, server: Server) -> None:
    page = open_page(browsers.get("good"), server.url)
    create_bank(page, "messages")
    count_in(page, False)
    page.check("#hold")  # push-to-talk: recording lasts while Space is held down
    page.click("#mode-messages")
    page.wait_for_selector("#message-form:not([hidden])", timeout=WAIT_MS)
    assert page.get_attribute("#mode-messages", "aria-pressed") == "true"
    text = "Could you put the kettle on, love?"
    page.fill("#message-text", text)
    page.click("#message-add")
    page.wait_for_function("t => document.getElementById('prompt-text').textContent === t", arg=text, **ROOT_ARGS)
    assert page.inner_text("#prompt-label").startswith("Message ")
    assert focus_ring(page)["id"] == "record"

    said = record_take(page, press=None, hold=True)
    assert page.inner_text("#verdict").startswith("Good take"), said
    page.keyboard.press("a")
    page.wait_for_function("t => document.getElementById('prompt-text').textContent !== t", arg=text, **ROOT_ARGS)

    other = "See you on Sunday."
    page.fill("#message-text", other)
    page.press("#message-text", "Enter")  # Enter in the box adds it too
    page.wait_for_function("t => document.getElementById('prompt-text').textContent === t", arg=other, **ROOT_ARGS)
    page.hover("#record")
    buttons = iter([page.mouse.down, page.mouse.up])  # the on-screen button, held down while speaking
    record_take(page, press=lambda: next(buttons)())
    page.click("#accept")
    page.wait_for_function("t => document.getElementById('prompt-text').textContent !== t", arg=other, **ROOT_ARGS)
    assert page.errors == []

    bank = read_bank(server.banks / "messages")
    assert sorted(bank["texts"][t.prompt_id] for t in bank["takes"]) == sorted([text, other])
    assert sorted(bank["chosen"].values()) == sorted(t.id for t in bank["takes"])
    for take in bank["takes"]:
        assert correlation(*bank["audio"][take.id], browsers.fed("good")) >= 0.9


def test_the_server_killed_while_takes_upload_loses_and_doubles_nothing(browsers: Browsers, tmp_path: Path,
                                                                        home: Path) -> None:
    rng = random.Random(16)
    (tmp_path / "logs").mkdir()
    server = KilledServer(tmp_path / "banks", tmp_path / "logs")
    server.start()
    rounds, kept = 6, 0
    try:
        page = open_page(browsers.get("good"), server.url)
        create_bank(page, "killed")
        count_in(page, False)
        while kept < rounds:
            prompt = page.inner_text("#prompt-text")
            wait_quiet(page, 250)
            page.keyboard.press("Space")
            page.wait_for_function("() => document.getElementById('record').textContent === 'Stop'", **ROOT_ARGS)
            wait_quiet(page, 400)
            page.keyboard.press("Space")  # the take goes out when it stops (after the page's 200 ms tail)...
            time.sleep(rng.uniform(0.0, 0.8))  # ...and the server dies at some moment of its upload and save
            server.kill()
            server.start()
            page.wait_for_function("() => document.getElementById('saved').textContent === 'Saved'", **ROOT_ARGS)
            wait_saved(page)
            assert page.inner_text("#prompt-text") == prompt and page.is_visible("#take")
            page.click("#accept")  # a take saved just before the kill is the restarted session's take too
            page.wait_for_function(
                "t => document.getElementById('prompt-text').textContent !== t", arg=prompt, **ROOT_ARGS)
            kept += 1
        saved = page.evaluate("() => window.voicebankTap.savedIds")
        sent = page.evaluate("() => window.voicebankTap.uploads")
        assert page.errors == [] or all("Failed to load resource" in e for e in page.errors), page.errors
    finally:
        server.kill()
    verify_cli(tmp_path / "banks" / "killed")
    bank = read_bank(tmp_path / "banks" / "killed")
    uploads = [t.source.rsplit(":", 1)[-1] for t in bank["takes"]]
    assert sorted(uploads) == sorted(set(uploads)) == sorted(sent), "every take once, none twice"
    assert set(saved) == set(sent) and len(bank["chosen"]) == rounds
    print(f"{server.starts - 1} kills")
    for take in bank["takes"]:
        assert correlation(*bank["audio"][take.id], browsers.fed("good")) >= 0.9


def test_the_whole_flow_from_the_keyboard_alone(browsers: Browsers, server: Server) -> None:
    page = open_page(browsers.get("good"), server.url, viewport={"width": 1000, "height": 900})
    for _ in range(30):  # past the banks already there, to the new bank's name
        if focus_ring(page)["id"] == "bank-name":
            break
        page.keyboard.press("Tab")
    ring = focus_ring(page)
    assert ring["id"] == "bank-name" and ring["style"] != "none" and ring["width"] >= 2, ring
    page.keyboard.type("keys")
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard User")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)
    ring = focus_ring(page)
    assert ring["id"] == "record" and ring["style"] != "none" and ring["width"] >= 2, ring
    first = page.inner_text("#prompt-text")

    record_take(page, counted=True)  # Space starts (after 3, 2, 1) and stops
    assert page.inner_text("#verdict").startswith("Good take")
    ring = focus_ring(page)
    assert ring["id"] == "accept" and ring["style"] != "none"
    page.keyboard.press("Space")  # one switch: the same key keeps the take
    second = prompt_after(page, first)
    assert focus_ring(page)["id"] == "record"
    page.keyboard.press("s")
    third = prompt_after(page, second)
    page.keyboard.press("l")
    prompt_after(page, third)
    page.keyboard.press("b")
    page.wait_for_function("t => document.getElementById('prompt-text').textContent === t", arg=third, **ROOT_ARGS)
    assert "(marked later)" in page.inner_text("#prompt-label")
    page.keyboard.press("b")
    page.wait_for_function("t => document.getElementById('prompt-text').textContent === t", arg=second, **ROOT_ARGS)
    assert "(marked skipped)" in page.inner_text("#prompt-label")

    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        ring = focus_ring(page)
        assert ring["style"] != "none" and ring["width"] >= 2, f"focus on {ring['id']} is visible"
        order.append(ring["id"])
    assert order == ["back", "skip", "later", "next", ""], order  # then the settings' summary
    assert page.errors == []
    bank = read_bank(server.banks / "keys")
    assert len(bank["takes"]) == 1 and len(bank["chosen"]) == 1
    by_text = {t: pid for pid, t in bank["texts"].items()}
    assert bank["flags"] == {by_text[second]: "skipped", by_text[third]: "later"}


@pytest.mark.parametrize(
    ("context", "shot"),
    [
        ({"viewport": {"width": 1280, "height": 800}}, "recorder.png"),
        ({"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True},
         "recorder-phone.png"),
        ({"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}, None),
        ({"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}, None),  # 1280 x 800 at 200 % zoom
    ],
    ids=["desktop", "phone-390", "phone-375", "zoom-200"],
)
def test_large_targets_and_no_sideways_scrolling(browsers: Browsers, server: Server, context: dict[str, Any],
                                                 shot: str | None) -> None:
    name = f"looks-{context['viewport']['width']}"
    page = open_page(browsers.get("good"), server.url, **context)
    create_bank(page, name)
    count_in(page, False)
    record_take(page, press=lambda: page.click("#record"))
    width = page.evaluate("() => document.documentElement.clientWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "no horizontal scroll"
    for selector in ["#record", "#accept", "#redo", "#back", "#skip", "#later", "#next", ".modes button", "#count-in"]:
        for i in range(page.locator(selector).count()):
            box = page.locator(selector).nth(i).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, selector
            if selector == "#count-in":  # the checkbox's label is the target
                box = page.locator("label", has=page.locator(selector)).bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, f"{selector} is a large target"
    assert page.get_attribute("#status", "aria-live") == "polite" and page.get_attribute("#saved", "role") == "status"
    folder = os.environ.get("VOICEBANK_RECORDER_SCREENSHOTS")  # docs/recorder.png and recorder-phone.png come from here
    if shot and folder:  # a little way into a session, the meter showing the voice
        page.click("#accept")
        record_take(page, press=lambda: page.click("#record"))
        page.wait_for_function("() => window.voicebankTap.levelDb > -20", **ROOT_ARGS)
        page.screenshot(path=str(Path(folder) / shot), full_page=True)
    assert page.errors == []


def test_the_page_is_served_with_the_strict_policy(server: Server) -> None:
    import httpx

    page = httpx.get(f"{server.url}/record", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    for name in ["recorder.js", "recorder-capture.js", "recorder-worklet.js", "recorder-uploads.js", "recorder-session.js",
                 "recorder-meter.js", "recorder.css"]:
        response = httpx.get(f"{server.url}/static/{name}", timeout=30)
        assert response.status_code == 200, name
        assert "MediaRecorder" not in response.text or name == "recorder-capture.js", "never the lossy recorder"
    assert json.loads(httpx.get(f"{server.url}/v1/record/banks", timeout=30).text)["banks"] is not None
