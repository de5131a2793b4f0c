"""The listening test (/listen) against a real server, through its API and in a real browser (Debian's Chromium via Playwright).

Two evaluation folders in the real `train eval` format, on the same dataset: the person's
real takes are LJSpeech clips, the "voices" the stock voice speaking the same texts (one
of them a little faster, so the two voices differ). The later evaluation then offers three
comparisons: the trained voice, the stock voice and the previous voice.
"""

from __future__ import annotations

import io
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

from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.listening import level_matched, speech_level_db  # noqa: E402
from voicebank.serve.listening_results import sentence, wilson  # noqa: E402
from voicebank.serve.listening_tests import Source, offered_tests  # noqa: E402
from voicebank.serve.listening_trials import append_line, read_answers, session_trials  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.conftest import LJSPEECH  # noqa: E402
from tests.helpers.serving import running  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
CLIPS = ("LJ001-0002", "LJ001-0011", "LJ001-0028")  # short real sentences (1-3 s)
WAIT_MS = 60_000


def _write(path: Path, samples: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate, subtype="PCM_16")


def _eval_folder(folder: Path, voice: str, dataset: Path, created: str, texts: dict[str, str],
                 speech: dict[str, tuple[np.ndarray, int]]) -> None:
    """An evaluation folder as `voicebank train eval` writes it (eval.json + audio/ID.{real,voice,baseline}.wav)."""
    rows: dict[str, list[dict[str, Any]]] = {"real": [], "voice": [], "baseline": []}
    for uid, text in texts.items():
        real, rate = sf.read(str(LJSPEECH / "wavs" / f"{uid}.wav"), dtype="float32")
        for role, (x, r) in (("real", (real, rate)), ("voice", speech[uid]), ("baseline", speech[uid])):
            _write(folder / "audio" / f"{uid}.{role}.wav", x, r)
            rows[role].append({"id": uid, "text": text, "audio": f"audio/{uid}.{role}.wav"})
    rows["voice"].append({"id": "sneaky", "text": "x", "audio": "../../../../etc/passwd"})  # never offered
    rows["real"].append({"id": "sneaky", "text": "x", "audio": "/etc/hostname"})
    data = {"schema_version": 1, "voice": str(folder.parent), "dataset": str(dataset), "created": created,
            "utterances": rows["voice"], "mean": {}, "real": {"mean": {}, "utterances": rows["real"]},
            "baseline": {"voice": "joe", "mean": {}, "utterances": rows["baseline"]}}
    (folder / "eval.json").write_text(json.dumps(data), encoding="utf-8")


@dataclass
class Served:
    url: str
    earlier: Path  # anna-1/eval
    later: Path  # anna-2/eval
    tests: dict[str, dict[str, Any]]  # by voice name


@pytest.fixture(scope="module")
def served(home: Path, engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    lines = (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines()
    texts = {uid: text for uid, _, text in (line.split("|") for line in lines) if uid in CLIPS}
    root = tmp_path_factory.mktemp("voices")
    folders = []
    for name, created, speed in (("anna-1", "2026-01-01T10:00:00+00:00", 1.0), ("anna-2", "2026-02-01T10:00:00+00:00", 1.2)):
        options = SynthesisOptions(length_scale=1 / speed, noise_scale=0.0, noise_w_scale=0.0)
        speech = {}
        for uid, text in texts.items():
            chunk = engine.synthesize(text, options)
            speech[uid] = (chunk.as_float32(), chunk.sample_rate)
        _eval_folder(root / name / "eval", name, root / "data", created, texts, speech)
        folders.append(root / name / "eval")
    settings = ServeSettings(token=None, preload=False, evaluations=tuple(folders))
    with running(create_app(settings)) as (url, _):
        listed = httpx.get(f"{url}/v1/listen/tests", timeout=60).json()["tests"]
        yield Served(url, folders[0], folders[1], {t["voice"]: t for t in listed})


def _answers(folder: Path) -> list[dict[str, Any]]:
    path = folder / "listening.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


def test_the_api_offers_blind_balanced_trials_and_saves_answers(served: Served) -> None:
    earlier, later = served.tests["anna-1"], served.tests["anna-2"]
    assert [c["comparison"] for c in earlier["comparisons"]] == ["voice", "stock"]
    assert [c["comparison"] for c in later["comparisons"]] == ["voice", "stock", "previous"]
    assert later["comparisons"][2]["label"] == "the previous voice (anna-1)"
    assert later["sentences"] == len(CLIPS), "the row whose audio leaves the folder is not offered"
    listed = httpx.get(f"{served.url}/v1/listen/tests").text
    assert str(served.earlier.parent.parent) not in listed and "/etc/" not in listed, "no file system paths"

    base = f"{served.url}/v1/listen/tests/{earlier['id']}"
    made = httpx.post(f"{base}/sessions", json={})
    assert made.status_code == 201
    session = made.json()
    trials = session["trials"]
    assert len(trials) == 2 * len(CLIPS) and {t["text"] for t in trials} == set(_texts())
    assert "real" not in json.dumps(trials) and ".wav" in trials[0]["audio"]["a"]
    again = httpx.get(f"{base}/sessions/{session['session']}").json()
    assert again["trials"] == trials and again["answered"] == [], "a session is drawn the same way every time"

    sides = {side: httpx.get(served.url + trials[0]["audio"][side]) for side in "abx"}
    assert all(r.status_code == 200 and r.headers["content-type"] == "audio/wav" for r in sides.values())
    assert sides["x"].content in (sides["a"].content, sides["b"].content), "X is A or B again"
    assert sides["a"].content != sides["b"].content
    levels = [speech_level_db(*_read(r.content)) for r in (sides["a"], sides["b"])]
    assert abs(levels[0] - levels[1]) < 1.0, f"level-matched: {levels}"
    real = level_matched(served.earlier / "audio" / f"{_id_of(trials[0]['text'])}.real.wav")
    x_is_a = sides["x"].content == sides["a"].content
    real_is_a = sides["a"].content == real
    assert real_is_a or sides["b"].content == real

    right = "A" if x_is_a else "B"
    saved = httpx.post(served.url + trials[0]["answer"], json={"answer": right, "more_like": "A", "listener": " Sam "})
    assert saved.status_code == 201 and saved.json()["answered"] == 1, saved.text
    line = _answers(served.earlier)[-1]
    assert line["session"] == session["session"] and line["trial"] == 1 and line["correct"] is True
    assert line["listener"] == "Sam" and line["x"] == right and line["a"] == ("real" if real_is_a else line["comparison"])
    assert line["picked"] == ("real" if real_is_a else line["comparison"])
    twice = _error(httpx.post(served.url + trials[0]["answer"], json={"answer": right}), 409)
    assert twice["code"] == "already_answered"
    assert httpx.get(f"{base}/sessions/{session['session']}").json()["answered"] == [1]

    found = httpx.get(f"{base}/results").json()
    row = next(c for c in found["comparisons"] if c["comparison"] == line["comparison"])
    assert row["trials"] == 1 and row["correct"] == 1 and row["verdict"] == "chance"
    assert "too few" in row["sentence"] and found["listeners"] == ["Sam"]


def test_api_errors_are_clear_json(served: Served) -> None:
    tid = served.tests["anna-1"]["id"]
    base = f"{served.url}/v1/listen/tests"
    assert _error(httpx.post(f"{base}/nobody-123/sessions", json={}), 404)["code"] == "no_test"
    assert "GET /v1/listen/tests" in _error(httpx.get(f"{base}/nobody-123/results"), 404)["message"]
    session = httpx.post(f"{base}/{tid}/sessions", json={}).json()["session"]
    trial = f"{base}/{tid}/sessions/{session}/trials"
    assert _error(httpx.post(f"{trial}/1/answer", json={"answer": "C"}), 400)["param"] == "answer"
    assert _error(httpx.post(f"{trial}/1/answer", json={"answer": "A", "more_like": 3}), 400)["param"] == "more_like"
    assert _error(httpx.post(f"{trial}/1/answer", json={"answer": "A", "listener": "a\nb"}), 400)["param"] == "listener"
    assert _error(httpx.post(f"{trial}/1/answer", content=b"not json"), 400)["message"].startswith("The request body")
    assert _error(httpx.post(f"{trial}/99/answer", json={"answer": "A"}), 404)["code"] == "no_trial"
    assert _error(httpx.get(f"{trial}/1/y.wav"), 404)["code"] == "no_side"
    assert _error(httpx.get(f"{base}/{tid}/sessions/short/trials/1/a.wav"), 404)["code"] == "no_session"
    for path in ("/1/..%2F..%2Feval.json", "/1/%2e%2e/a.wav", "/../../eval.json"):
        assert httpx.get(trial + path).status_code == 404, path
    assert not any(a["session"] == session for a in _answers(served.earlier)), "nothing written for a refused answer"


def test_the_routes_need_the_token_like_every_other(home: Path, served: Served) -> None:
    token = "t" * 32
    settings = ServeSettings(token=token, preload=False, evaluations=(served.earlier,))
    with running(create_app(settings)) as (url, _):
        tid = httpx.get(f"{url}/v1/listen/tests", headers={"Authorization": f"Bearer {token}"}).json()["tests"][0]["id"]
        for method, path in (("GET", "/listen"), ("GET", "/v1/listen/tests"), ("POST", f"/v1/listen/tests/{tid}/sessions"),
                             ("GET", f"/v1/listen/tests/{tid}/results")):
            assert httpx.request(method, url + path).status_code == 401, path


def test_sessions_are_balanced_and_seeded(served: Served) -> None:
    test = offered_tests(ServeSettings(token=None, evaluations=(served.earlier, served.later)))[served.tests["anna-2"]["id"]]
    one, other = session_trials(test, "a" * 22), session_trials(test, "b" * 22)
    assert one == session_trials(test, "a" * 22) and one != other, "the same session draws the same trials"
    for comparison in ("voice", "stock", "previous"):
        mine = [t for t in one if t.comparison == comparison]
        assert sorted(t.sentence for t in mine) == sorted(CLIPS), "each held-out sentence once per comparison"
        assert abs(2 * sum(t.real_is_a for t in mine) - len(mine)) <= 1 and abs(2 * sum(t.x_is_a for t in mine) - len(mine)) <= 1
    assert [t.number for t in one] == list(range(1, 10))


def test_an_answer_after_a_torn_line_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "listening.jsonl"
    append_line(path, {"trial": 1})
    with path.open("ab") as f:
        f.write(b'{"trial": 2, "answ')  # a write cut short by a crash
    append_line(path, {"trial": 3})
    assert read_answers(path) == [{"trial": 1}, {"trial": 3}]


def test_results_in_plain_words() -> None:
    low, high = wilson(18, 20)
    assert (round(low, 3), round(high, 3)) == (0.699, 0.972)
    assert wilson(0, 0) == (0.0, 1.0) and wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0
    voice = Source("voice", "anna", {})
    assert sentence(voice, 18, 20) == ("Listeners told the trained voice (anna) from the real recordings in 18 of 20 trials "
                                       "(90\u00a0%, 70–97\u00a0%): it does not yet pass for the person.")
    assert sentence(voice, 11, 20).endswith("about chance — they could not tell it from the real recordings.")
    assert "too few to tell" in sentence(voice, 3, 4)
    assert "less often than chance" in sentence(voice, 2, 20)
    assert "check the audio" in sentence(Source("stock", "joe", {}), 11, 20)


def test_a_listener_plays_and_answers_trials_from_the_keyboard(served: Served) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    before = len(_answers(served.later))
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = _open(browser, served.url, {"width": 1000, "height": 900})
            page.fill("#listener", "Robin")
            page.click(f"#tests button[data-test='{served.tests['anna-2']['id']}']")
            page.wait_for_selector("#trial:not([hidden])", timeout=WAIT_MS)
            assert page.evaluate("() => document.activeElement.id") == "play-a"
            assert page.inner_text("#progress-text") == "Trial 1 of 9"
            page.keyboard.press("2")  # not yet: X has not been played
            assert "Play X first" in page.inner_text("#status")
            # A sound stopped before it starts (the next trial, another button) is no failure to report.
            page.evaluate("() => { document.dispatchEvent(new KeyboardEvent('keydown', {key: 'a'}));"
                          " document.getElementById('audio-a').pause(); }")
            page.wait_for_timeout(300)
            assert "Play X first" in page.inner_text("#status")
            page.keyboard.press("x")
            page.wait_for_function(
                "() => { const a = document.getElementById('audio-x'); return a.ended || a.currentTime > 0.3; }",
                timeout=WAIT_MS)
            page.keyboard.press("2")
            page.wait_for_function("() => document.getElementById('progress-text').textContent === 'Trial 2 of 9'",
                                   timeout=WAIT_MS)
            assert page.inner_text("#status") == "Answer saved. Trial 2 of 9."
            assert page.get_attribute("#status", "aria-live") == "polite"
            session = page.evaluate("() => new URLSearchParams(location.search).get('session')")
            lines = _answers(served.later)
            assert len(lines) == before + 1
            assert lines[-1]["session"] == session and lines[-1]["time"].endswith("+00:00")
            assert (lines[-1]["trial"], lines[-1]["answer"], lines[-1]["listener"]) == (1, "B", "Robin")
            assert lines[-1]["correct"] == (lines[-1]["x"] == "B")

            page.reload()  # the session carries on from its address
            page.wait_for_function("() => document.getElementById('progress-text').textContent === 'Trial 2 of 9'",
                                   timeout=WAIT_MS)
            page.check("input[name='more-like'][value='A']")  # which sounds more like the person: A
            for n in range(2, 10):
                page.keyboard.press("x")
                page.keyboard.press("1")
                if n < 9:
                    page.wait_for_function(
                        "t => document.getElementById('progress-text').textContent === t",
                        arg=f"Trial {n + 1} of 9", timeout=WAIT_MS)
            page.wait_for_selector("#results:not([hidden])", timeout=WAIT_MS)
            page.wait_for_timeout(500)  # a play() cut short by the answer settles late: it must not be reported as a failure
            assert page.inner_text("#status") == "Answer saved. All 9 trials done, thank you."
            lines = _answers(served.later)[before:]
            assert len(lines) == 9 and [a["trial"] for a in lines] == list(range(1, 10))
            assert lines[1]["more_like"] == "A" and lines[1]["picked"] == ("real" if lines[1]["a"] == "real" else lines[1]["comparison"])
            assert all(a["more_like"] is None for a in lines[2:]), "the choice is cleared for each trial"
            assert sorted(a["comparison"] for a in lines) == ["previous"] * 3 + ["stock"] * 3 + ["voice"] * 3
            rows = page.eval_on_selector_all("#results-rows tr", "rs => rs.map(r => r.innerText)")
            assert len(rows) == 3 and all("\t3\t" in r for r in rows), rows
            said = page.inner_text("#results-sentences")
            assert "the trained voice (anna-2)" in said and "too few to tell" in said
            assert "Robin" in page.inner_text("#results-summary")
            assert "picked the" in said, "the more-like answer is reported"
            assert page.errors == []

            phone = _open(browser, served.url, {"width": 360, "height": 740})
            phone.click(f"#tests button[data-test='{served.tests['anna-1']['id']}']")
            phone.wait_for_selector("#trial:not([hidden])", timeout=WAIT_MS)
            assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), "fits a phone"
            assert phone.errors == []
            _screenshots(browser, served, page)
        finally:
            browser.close()


def test_the_page_at_phone_width_and_with_nothing_to_listen_to(home: Path, tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    settings = ServeSettings(token=None, preload=False, evaluations=(tmp_path / "nothing-here",))
    with running(create_app(settings)) as (url, _), playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = _open(browser, url, {"width": 360, "height": 740})
            page.wait_for_selector("#none:not([hidden])", timeout=WAIT_MS)
            assert "voicebank train eval" in page.inner_text("#none")
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            policy = httpx.get(f"{url}/listen").headers["content-security-policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            assert page.errors == []
        finally:
            browser.close()


def _open(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    page = browser.new_context(viewport=viewport).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    page.goto(f"{url}/listen")
    page.wait_for_selector("body[data-ready]", timeout=WAIT_MS)
    return page


def _screenshots(browser: Any, served: Served, results_page: Any) -> None:
    """docs/listening.png: a trial and the results, side by side (when VOICEBANK_LISTENING_SCREENSHOT names the file)."""
    shot = os.environ.get("VOICEBANK_LISTENING_SCREENSHOT")
    if not shot:
        return
    from PIL import Image

    page = _open(browser, served.url, {"width": 900, "height": 1000})
    page.fill("#listener", "Robin")
    page.click(f"#tests button[data-test='{served.tests['anna-2']['id']}']")
    page.wait_for_selector("#trial:not([hidden])", timeout=WAIT_MS)
    page.click("#play-a")
    page.click("#play-x")
    page.mouse.move(0, 999)
    page.wait_for_timeout(300)  # past the buttons' colour transition
    results_page.set_viewport_size({"width": 900, "height": 1000})
    left = Image.open(io.BytesIO(page.screenshot()))
    right = Image.open(io.BytesIO(results_page.screenshot()))
    both = Image.new("RGB", (left.width + right.width + 16, max(left.height, right.height)), "#5c6670")
    both.paste(left, (0, 0))
    both.paste(right, (left.width + 16, 0))
    both.save(shot)


def _texts() -> list[str]:
    lines = (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines()
    return [text for uid, _, text in (line.split("|") for line in lines) if uid in CLIPS]


def _id_of(text: str) -> str:
    lines = (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines()
    return next(uid for uid, _, t in (line.split("|") for line in lines) if t == text)


def _read(wav: bytes) -> tuple[np.ndarray, int]:
    x, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return x, rate
