"""The web recorder's consent step: the API on a real uvicorn, and the page in a real browser.

The API: the server makes the statement (the speaker's name, today's date, code words), a
take of real speech is stored and checked in the bank's ``consent/`` folder, retries give
the same verdict without a second take, and bad requests are refused without a server
error. The page (Debian's Chromium, its fake microphone playing real LJSpeech speech, as in
tests/test_recorder_page.py): a new bank shows the consent step first; the speaker's name is
asked, the statement shown and recorded by a proxy operator, and the verdict is said in the
live region. The fed speech does not say the code words, so the verdict is a failure that
says why.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("uvicorn")
import httpx  # noqa: E402
import soundfile as sf  # noqa: E402

from voicebank.bank.store import Bank  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.helpers.serving import running  # noqa: E402

TOKEN = "consent-test-token-" + "c" * 24


def _wav(x: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, x, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def _put(http: httpx.Client, bank: str, sid: str, body: bytes, sha: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "audio/wav", "X-Content-SHA256": sha or hashlib.sha256(body).hexdigest()}
    return http.put(f"/v1/record/banks/{bank}/consent/statements/{sid}", content=body, headers=headers)


@pytest.fixture
def server(home: Path, tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    banks = tmp_path / "banks"
    Bank.create(banks / "anna", speaker="Anna Example").close()
    with running(create_app(ServeSettings(token=TOKEN, preload=False, banks_dir=banks))) as (url, _):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300) as http:
            yield http, banks


def test_a_statement_is_made_by_the_server_and_its_take_is_checked_once(server: tuple[httpx.Client, Path],
                                                                      ljspeech: Path) -> None:
    http, banks = server
    early = http.post("/v1/record/banks/anna/consent/check")
    assert early.status_code == 400 and "voicebank consent record" in early.json()["error"]["message"], early.text
    status = http.get("/v1/record/banks/anna/consent").json()
    assert status["ok"] is False and status["verdict"] == "none" and status["speaker"] == "Anna Example"

    made = http.post("/v1/record/banks/anna/consent/statements", json={"speaker": "Anna Example", "operator": "Pat Nurse"})
    assert made.status_code == 201, made.text
    statement = made.json()
    assert statement["text"].startswith("I, Anna Example, am recording my voice on ")
    assert len(statement["code_words"]) >= 3 and all(w in statement["text"] for w in statement["code_words"])
    other = http.post("/v1/record/banks/anna/consent/statements", json={"speaker": "Anna Example"}).json()
    assert other["id"] != statement["id"] and other["code_words"] != statement["code_words"]

    x, rate = sf.read(ljspeech / "wavs" / "LJ001-0009.wav", dtype="float32")  # real speech, not the statement
    body = _wav(x, rate)
    first = _put(http, "anna", statement["id"], body)
    assert first.status_code == 201, first.text
    verdict = first.json()
    assert verdict["ok"] is False and verdict["verdict"] == "fail" and verdict["how"] == "recorded-by-proxy"
    assert verdict["operator"] == "Pat Nurse" and "code" in verdict["detail"].lower(), verdict
    assert "voicebank consent record" not in verdict["detail"], "the page gets its own advice, not a terminal command"
    again = _put(http, "anna", statement["id"], body)
    assert again.status_code == 200 and again.json() == verdict, "a retry gets the same verdict"
    records = sorted((banks / "anna" / "consent").glob("*.json"))
    assert len(records) == 1, "and no second take"
    kept = json.loads(records[0].read_text(encoding="utf-8"))
    assert kept["operator"] == "Pat Nurse" and kept["code_words"] == statement["code_words"]
    assert http.get("/v1/record/banks/anna/consent").json()["verdict"] == "fail"
    checked = http.post("/v1/record/banks/anna/consent/check")
    assert checked.status_code == 200 and checked.json()["verdict"] == "fail", checked.text
    assert len(list((banks / "anna" / "consent").glob("*.json"))) == 2, "a check again is a new attempt on the same take"


def test_bad_consent_requests_are_refused_plainly(server: tuple[httpx.Client, Path], ljspeech: Path) -> None:
    http, banks = server
    base = "/v1/record/banks/anna/consent/statements"
    cases: list[tuple[Any, int, str | None]] = [
        (http.post(base, json={}), 400, "speaker"),
        (http.post(base, json={"speaker": "   "}), 400, "speaker"),
        (http.post(base, json={"speaker": "A", "operator": 7}), 400, "operator"),
        (http.post("/v1/record/banks/nobody/consent/statements", json={"speaker": "A"}), 404, "bank"),
        (http.get("/v1/record/banks/nobody/consent"), 404, "bank"),
    ]
    for response, code, param in cases:
        assert response.status_code == code and response.json()["error"]["param"] == param, response.text
    sid = http.post(base, json={"speaker": "Anna Example"}).json()["id"]
    x, rate = sf.read(ljspeech / "wavs" / "LJ001-0009.wav", dtype="float32")
    short = _wav(x[: rate], rate)
    refused = {
        "no_statement": _put(http, "anna", "A" * 24, short),
        "invalid_upload_id": _put(http, "anna", "short", short),
        "checksum_mismatch": _put(http, "anna", sid, short, sha="0" * 64),
        "not_audio": _put(http, "anna", sid, b"hello, not audio"),
        "unusable_take": _put(http, "anna", sid, short),  # one second cannot hold the statement
    }
    statuses = {"no_statement": 404, "invalid_upload_id": 400, "checksum_mismatch": 422, "not_audio": 415, "unusable_take": 422}
    for code, response in refused.items():
        assert response.status_code == statuses[code] and response.json()["error"]["code"] == code, (code, response.text)
    assert not list((banks / "anna" / "consent").glob("*.json")) if (banks / "anna" / "consent").exists() else True


# ----------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("scipy.signal")
    from tests.helpers.recorder_page import CHROMIUM, Browsers, fed_speech

    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    with playwright_api.sync_playwright() as pw:
        found = Browsers(pw, tmp_path_factory.mktemp("fed"), fed_speech())
        try:
            yield found.get("good")
        finally:
            for b in found.launched.values():
                b.close()


@pytest.mark.slow
def test_the_page_asks_the_name_shows_the_statement_records_it_and_says_the_verdict(browser: Any, home: Path,
                                                                                  tmp_path: Path) -> None:
    from tests.helpers.recorder_page import ROOT_ARGS, WAIT_MS, create_bank, open_page, wait_quiet

    banks = tmp_path / "banks"
    with running(create_app(ServeSettings(token=None, preload=False, banks_dir=banks))) as (url, _):
        page = open_page(browser, url)
        create_bank(page, "consenting")
        page.wait_for_selector("#consent:not([hidden])", timeout=WAIT_MS)
        assert page.evaluate("() => document.activeElement.id") == "record", "the sentences stay under the finger"
        assert page.input_value("#consent-speaker") == "Test Speaker", "the bank's speaker is asked first, filled in"
        for field in ("consent-speaker", "consent-operator"):
            assert page.locator(f"label[for='{field}']").count() == 1, f"#{field} has a label"
        assert page.get_attribute("#consent-verdict", "aria-live") == "polite"

        page.fill("#consent-operator", "Pat Nurse")
        page.focus("#consent-speaker")
        page.keyboard.press("Enter")  # the form, from the keyboard
        page.wait_for_selector("#consent-read:not([hidden])", timeout=WAIT_MS)
        text = page.inner_text("#consent-text")
        assert text.startswith("I, Test Speaker, am recording my voice on ") and "code phrase" in text
        assert page.evaluate("() => document.activeElement.id") == "consent-record"

        wait_quiet(page, 250)
        page.keyboard.press("Enter")  # start, on the focused button
        page.wait_for_function("() => document.getElementById('consent-record').textContent === 'Stop'", **ROOT_ARGS)
        wait_quiet(page, 400)
        page.keyboard.press("Enter")  # stop: the take goes to the server and is checked
        page.wait_for_function("() => window.voicebankTap.consent", **ROOT_ARGS)
        title = page.inner_text("#consent-verdict-title")
        detail = page.inner_text("#consent-verdict-detail")
        assert title == "The consent take did not pass", (title, detail)
        assert "code" in detail.lower() and "read it again" in detail, detail
        assert page.evaluate("() => document.activeElement.id") == "consent-verdict-title"
        assert page.is_visible("#consent-record"), "a failed take can be recorded again at once"
        assert page.errors == []

        records = list((banks / "consenting" / "consent").glob("*.json"))
        assert len(records) == 1
        kept = json.loads(records[0].read_text(encoding="utf-8"))
        assert kept["how"] == "recorded-by-proxy" and kept["operator"] == "Pat Nurse" and kept["speaker"] == "Test Speaker"
        assert kept["statement"] == text and kept["verdict"] == "fail"
