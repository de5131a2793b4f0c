"""The web recorder's HTTP API on a real uvicorn: the session over HTTP, idempotent uploads, bad uploads refused, resume, terminal and web on one bank.

Takes are real speech (the LJSpeech sample in ../shared); every bank is a real bank on disk,
checked with ``bank verify`` after each refusal.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

pytest.importorskip("uvicorn")
import httpx  # noqa: E402
import soundfile as sf  # noqa: E402

from voicebank.bank.store import JOURNAL, MANIFEST, Bank  # noqa: E402
from voicebank.record.prompt_lists import build_prompts  # noqa: E402
from voicebank.record.session import RecordingSession  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.helpers.serving import running  # noqa: E402

VOICEBANK = str(Path(sys.executable).with_name("voicebank"))  # the installed command
TOKEN = "recorder-test-token-" + "r" * 24
CAPTURE = {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False, "sampleRate": 22050,
           "deviceLabel": "Fake microphone", "userAgent": "pytest"}


@pytest.fixture
def speech(ljspeech: Path) -> list[tuple[np.ndarray, int]]:
    """Three real sentences (float32 mono, 22050 Hz)."""
    out = []
    for name in ("LJ001-0002", "LJ001-0003", "LJ001-0004"):
        x, rate = sf.read(ljspeech / "wavs" / f"{name}.wav", dtype="float32")
        out.append((x, rate))
    return out


@pytest.fixture
def banks(tmp_path: Path) -> Path:
    folder = tmp_path / "banks"
    Bank.create(folder / "anna", speaker="Anna").close()
    return folder


def wav_bytes(x: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    out = io.BytesIO()
    sf.write(out, x, rate, format=fmt, subtype=subtype)
    return out.getvalue()


class Client:
    """The recorder page's side of the API, over real HTTP."""

    def __init__(self, url: str, bank: str = "anna", mode: str = "script") -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
        self.bank, self.mode = bank, mode
        self.n = 0

    @property
    def base(self) -> str:
        return f"/v1/record/banks/{self.bank}"

    def state(self) -> dict[str, Any]:
        r = self.http.get(f"{self.base}/session", params={"mode": self.mode})
        assert r.status_code == 200, r.text
        return r.json()

    def act(self, action: str, prompt_id: str | None, expect: int = 200) -> dict[str, Any]:
        r = self.http.post(f"{self.base}/session/{action}", params={"mode": self.mode}, json={"prompt_id": prompt_id})
        assert r.status_code == expect, r.text
        return r.json()

    def put(self, body: bytes, prompt_id: str, upload_id: str | None = None, *, sha: str | None = None,
            capture: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        if upload_id is None:
            self.n += 1
            upload_id = f"upload-{self.n:04d}-abcdefghijkl"
        head = {"Content-Type": "audio/wav", "X-Prompt-Id": prompt_id,
                "X-Content-SHA256": sha or hashlib.sha256(body).hexdigest(),
                "X-Capture": json.dumps(CAPTURE if capture is None else capture), **(headers or {})}
        return self.http.put(f"{self.base}/uploads/{upload_id}", params={"mode": self.mode}, content=body, headers=head)

    def record(self, clip: tuple[np.ndarray, int], prompt_id: str) -> dict[str, Any]:
        r = self.put(wav_bytes(*clip), prompt_id)
        assert r.status_code == 201, r.text
        return r.json()


def settings(banks: Path, **kw: Any) -> ServeSettings:
    return ServeSettings(port=0, token=TOKEN, preload=False, rate=0, banks_dir=banks, **kw)


@contextmanager
def serving(banks: Path, **kw: Any) -> Iterator[Client]:
    with running(create_app(settings(banks, **kw))) as (url, _):
        client = Client(url)
        try:
            yield client
        finally:
            client.http.close()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a bank, byte for byte."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def verify(root: Path) -> Bank:
    with Bank.open(root, writable=False) as bank:
        report = bank.verify()
        assert report.ok, report.to_dict()
        return bank


def test_the_whole_flow_over_http(banks: Path, speech) -> None:
    with serving(banks) as c:
        listed = c.http.get("/v1/record/banks").json()["banks"]
        assert [b["name"] for b in listed] == ["anna"] and listed[0]["takes"] == 0
        first = c.state()
        p1 = first["prompt"]["id"]
        assert first["prompt"]["position"] == 1 and first["take"] is None and not first["finished"]
        saved = c.record(speech[0], p1)
        take = saved["take"]
        assert take["verdict"] in ("pass", "warn", "fail") and take["status"] == "pending"
        assert saved["state"]["take"]["id"] == take["id"] and saved["state"]["prompt"]["takes"] == 1
        audio = c.http.get(take["url"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        played, rate = sf.read(io.BytesIO(audio.content), dtype="float32")
        assert rate == speech[0][1] and played.shape[0] == speech[0][0].shape[0]
        after = c.act("accept", p1)
        p2 = after["prompt"]["id"]
        assert p2 != p1 and after["progress"]["done"] == 1 and after["progress"]["minutes"] > 0
        c.record(speech[1], p2)
        redone = c.act("redo", p2)
        assert redone["prompt"]["id"] == p2 and redone["take"] is None and redone["prompt"]["takes"] == 1
        again = c.record(speech[2], p2)["take"]
        c.act("accept", p2)
        p3 = c.state()["prompt"]["id"]
        skipped = c.act("skip", p3)
        p4 = skipped["prompt"]["id"]
        later = c.act("later", p4)
        p5 = later["prompt"]["id"]
        assert later["progress"]["skipped"] == 1 and later["progress"]["later"] == 1
        back = c.act("back", p5)
        assert back["prompt"]["id"] == p4 and back["prompt"]["flag"] == "later"
        stale = c.act("accept", p5, expect=409)  # a stale page never acts on the wrong prompt
        assert stale["error"]["code"] == "stale_prompt" and stale["state"]["prompt"]["id"] == p4
        nothing = c.act("accept", p4, expect=409)
        assert nothing["error"]["code"] == "not_allowed" and "record it first" in nothing["error"]["message"]
        assert c.act("next", p4)["prompt"]["id"] == p5
        assert c.act("break", p5)["break_due"] is False
    bank = verify(banks / "anna")
    assert len(bank.takes) == 3
    assert bank.chosen == {p1: take["id"], p2: again["id"]}
    assert bank.flags == {p3: "skipped", p4: "later"}
    for t in bank.takes.values():  # what getSettings() read back is in every take's record
        assert t.source.startswith("browser:") and t.capture["echoCancellation"] is False
        assert t.capture["noiseSuppression"] is False and t.capture["autoGainControl"] is False
        assert t.capture["deviceLabel"] == "Fake microphone" and t.capture["upload"]["format"] == "wav"


def test_a_retried_upload_is_one_take_and_a_reused_id_is_refused(banks: Path, speech) -> None:
    with serving(banks) as c:
        prompt = c.state()["prompt"]["id"]
        body = wav_bytes(*speech[0])
        first = c.put(body, prompt, "retry-0001-abcdefgh")
        again = c.put(body, prompt, "retry-0001-abcdefgh")  # the answer was lost: the page sends it again
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["take"]["id"] == first.json()["take"]["id"]
        other = c.put(wav_bytes(*speech[1]), prompt, "retry-0001-abcdefgh")
        assert other.status_code == 409 and other.json()["error"]["code"] == "upload_id_reused"
        assert c.act("accept", prompt)["progress"]["done"] == 1
    bank = verify(banks / "anna")
    assert len(bank.takes) == 1 and bank.chosen == {prompt: first.json()["take"]["id"]}


def _one_hour_header(body: bytes) -> bytes:
    """A real WAV whose header claims an hour of audio (its RIFF and data sizes rewritten)."""
    pos = body.index(b"data")
    hour = 3600 * 22050 * 2
    out = bytearray(body)
    out[4:8] = (hour + pos).to_bytes(4, "little")
    out[pos + 4:pos + 8] = hour.to_bytes(4, "little")
    return bytes(out)


def test_bad_uploads_are_refused_clearly_and_change_nothing(banks: Path, speech) -> None:
    x, rate = speech[0]
    good = wav_bytes(x, rate)
    flac = wav_bytes(x, rate, "PCM_16", "FLAC")
    cases = [  # (body, expected status, expected code, words the message must hold)
        (b"", 415, "not_audio", "0 bytes"),
        (b"these are not the droids you are looking for" * 20, 415, "not_audio", "not a WAV or FLAC"),
        (good[: len(good) // 2], 422, "truncated", "cut short"),
        (flac[: len(flac) // 2], 422, "truncated", "cut short"),
        (wav_bytes(x, rate, "PCM_U8"), 422, "unsupported_format", "8-bit"),
        (_one_hour_header(good), 413, "too_long", "60 minutes"),
        (b"\0" * (3 * 1024 * 1024), 413, "request_too_large", "over 2097152 bytes"),
    ]
    with serving(banks, max_upload_bytes=2 * 1024 * 1024) as c:
        prompt = c.state()["prompt"]["id"]
        before = snapshot(banks / "anna")
        for i, (body, status, code, words) in enumerate(cases):
            r = c.put(body, prompt, f"bad-upload-{i:04d}-xyz")
            assert r.status_code == status, (code, r.text)
            error = r.json()["error"]
            assert error["code"] == code and words in error["message"], error
        mismatch = c.put(good, prompt, "bad-upload-sha-00001", sha="0" * 64)
        assert mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "checksum_mismatch"
        wrong = c.put(good, prompt, "bad-upload-token-0001", headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401
        assert c.put(good, "no-such-prompt", "bad-upload-prompt-001").json()["error"]["code"] == "no_prompt"
        assert c.put(good, prompt, "short").json()["error"]["code"] == "invalid_upload_id"
        capture = c.put(good, prompt, "bad-upload-capture-01", headers={"X-Capture": "[1, 2"})
        assert capture.status_code == 400 and capture.json()["error"]["param"] == "X-Capture"
        lost = c.http.put("/v1/record/banks/nobody/uploads/bad-upload-bank-00001", content=good)
        assert lost.status_code == 404 and lost.json()["error"]["code"] == "no_bank"
        assert snapshot(banks / "anna") == before  # byte for byte
        assert c.state()["prompt"]["takes"] == 0
    assert len(verify(banks / "anna").takes) == 0


def test_the_session_resumes_after_a_restart_and_a_retry_finds_its_take(banks: Path, speech) -> None:
    body = wav_bytes(*speech[1])
    with serving(banks) as c:
        p1 = c.state()["prompt"]["id"]
        c.record(speech[0], p1)
        c.act("accept", p1)
        p2 = c.state()["prompt"]["id"]
        c.act("skip", p2)
        p3 = c.state()["prompt"]["id"]
        saved = c.put(body, p3, "restart-upload-000001").json()["take"]  # its answer "lost" with the server
    with serving(banks) as c:  # a new app (a new process's worth of state) on the same bank
        state = c.state()
        assert state["prompt"]["id"] == p3 and state["progress"]["done"] == 1 and state["progress"]["skipped"] == 1
        assert state["take"]["id"] == saved["id"]  # saved, not yet kept: offered again after the restart
        retry = c.put(body, p3, "restart-upload-000001")
        assert retry.status_code == 200 and retry.json()["take"]["id"] == saved["id"]
        assert retry.json()["state"]["take"]["id"] == saved["id"]
        assert c.act("accept", p3)["progress"]["done"] == 2
    bank = verify(banks / "anna")
    assert len(bank.takes) == 2 and bank.chosen[p3] == saved["id"]


def test_a_take_adopted_after_a_crash_is_found_by_its_upload_id(banks: Path, speech) -> None:
    """Killed after the take's file, before its journal line: the bank adopts the file; the retry must not add a second."""
    root = banks / "anna"
    body = wav_bytes(*speech[0])
    with serving(banks) as c:
        prompt = c.state()["prompt"]["id"]
        first = c.put(body, prompt, "crash-upload-0000001").json()["take"]
    journal = root / JOURNAL
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(line for line in lines if b'"op":"take"' not in line))  # the line the kill lost
    with serving(banks) as c:
        retry = c.put(body, prompt, "crash-upload-0000001")
        assert retry.status_code == 200 and retry.json()["take"]["id"] == first["id"]
    bank = verify(root)
    take = bank.takes[first["id"]]
    assert len(bank.takes) == 1 and take.recovered and take.capture["echoCancellation"] is False


def test_messages_are_typed_then_recorded(banks: Path, speech) -> None:
    with serving(banks) as c:
        c.mode = "messages"
        r = c.http.post("/v1/record/banks/anna/messages", json={"text": "  Put the kettle on,   love. "})
        assert r.status_code == 201, r.text
        state = r.json()
        prompt = state["prompt"]
        assert state["mode"] == "messages" and prompt["text"] == "Put the kettle on, love." and prompt["kind"] == "message"
        assert c.record(speech[0], prompt["id"])["state"]["take"] is not None
        c.act("accept", prompt["id"])
        again = c.http.post("/v1/record/banks/anna/messages", json={"text": "Put the kettle on, love."}).json()
        assert again["prompt"]["id"] == prompt["id"] and again["prompt"]["chosen"] is True
        assert c.http.post("/v1/record/banks/anna/messages", json={"text": " "}).status_code == 400
    bank = verify(banks / "anna")
    assert bank.prompts[prompt["id"]].kind == "message" and prompt["id"] in bank.chosen


def test_banks_are_listed_and_created(banks: Path) -> None:
    with serving(banks) as c:
        made = c.http.post("/v1/record/banks", json={"name": "ben", "speaker": "Ben", "script": "en-core"})
        assert made.status_code == 201 and made.json()["speaker"] == "Ben" and made.json()["prompts_total"] > 100
        assert c.http.post("/v1/record/banks", json={"name": "ben"}).json()["error"]["code"] == "bank_exists"
        for name in ("../escape", "", ".hidden", "a/b"):
            assert c.http.post("/v1/record/banks", json={"name": name}).status_code == 400
        assert [b["name"] for b in c.http.get("/v1/record/banks").json()["banks"]] == ["anna", "ben"]
        assert c.http.get("/v1/record/banks/ben/takes/s0001.t01.wav").status_code == 404
    assert sorted(p.name for p in banks.iterdir()) == ["anna", "ben"]


@pytest.mark.slow
def test_terminal_and_web_recorders_agree_on_one_bank(banks: Path, speech, tmp_path: Path) -> None:
    root = banks / "anna"
    with Bank.open(root) as bank:  # the terminal recorder's way: RecordingSession over the bank
        prompts, script = build_prompts(bank, script=None, messages=False)
        term = RecordingSession(bank, prompts, script=script)
        p1 = term.current.id
        term.save_capture(*speech[0], capture_id="terminal-1")
        term.accept()
        p2 = term.current.id
        term.save_capture(*speech[1], capture_id="terminal-2")  # pending, not yet chosen
        with serving(banks) as c:  # the terminal recorder holds the bank: the page is told so
            busy = c.http.get("/v1/record/banks/anna/session")
            assert busy.status_code == 409 and busy.json()["error"]["code"] == "bank_in_use"
            assert "in use by another voicebank program" in busy.json()["error"]["message"]
    with serving(banks) as c:
        state = c.state()
        assert state["prompt"]["id"] == p2 and state["progress"]["done"] == 1 and state["prompt"]["takes"] == 1
        listed = c.http.get("/v1/record/banks").json()["banks"][0]
        assert listed["takes"] == 2 and listed["prompts_done"] == 1
        web = c.record(speech[2], p2)["take"]
        c.act("accept", p2)
        p3 = c.state()["prompt"]["id"]
        # While the server holds the bank, the terminal recorder is refused, and says why.
        out = subprocess.run([VOICEBANK, "record", str(root)], capture_output=True,
                             text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert out.returncode != 0 and "in use by another voicebank program" in out.stdout + out.stderr
        assert c.http.delete("/v1/record/banks/anna/session").status_code == 204  # let go of the bank
        with Bank.open(root) as bank:
            prompts, script = build_prompts(bank, script=None, messages=False)
            term = RecordingSession(bank, prompts, script=script)
            assert term.current.id == p3 and bank.chosen[p2] == web["id"]
            assert bank.takes[web["id"]].capture["echoCancellation"] is False
            term.skip()
        assert c.state()["prompt"]["id"] != p3  # the web sees what the terminal did
    verify(root)


def test_capture_settings_survive_the_journal_compaction_and_verify(banks: Path, speech) -> None:
    root = banks / "anna"
    label = "Anna’s AirPods — 麦克风"  # past U+00FF: the page percent-encodes the header
    encoded = quote(json.dumps({**CAPTURE, "deviceLabel": label}, ensure_ascii=False), safe="")
    with serving(banks) as c:
        prompt = c.state()["prompt"]["id"]
        r = c.put(wav_bytes(*speech[0]), prompt, headers={"X-Capture": encoded})
        assert r.status_code == 201, r.text
        take = r.json()["take"]["id"]
    with Bank.open(root) as bank:
        bank.compact()  # the journal folded into the manifest: the record keeps its capture
    manifest = json.loads((root / MANIFEST).read_text())
    assert [t["capture"]["autoGainControl"] for t in manifest["takes"]] == [False]
    with Bank.open(root, writable=False) as bank:
        assert bank.takes[take].capture["deviceLabel"] == label
        assert bank.takes[take].capture["upload"]["sha256"] == hashlib.sha256(wav_bytes(*speech[0])).hexdigest()
    out = subprocess.run([VOICEBANK, "bank", "verify", str(root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_take_record_from_before_capture_still_loads() -> None:
    from voicebank.bank.records import TakeRecord

    old = {"id": "s0001.t01", "prompt_id": "s0001", "text": "Hi.", "file": "takes/s0001/s0001.t01.flac",
           "sha256": "0" * 64, "sample_rate": 48000, "channels": 1, "subtype": "PCM_24", "frames": 48000,
           "recorded_at": "2026-01-01T00:00:00.000+00:00", "status": "accepted", "qc": {}}
    rec = TakeRecord.from_dict(old)
    assert rec.capture == {} and TakeRecord.from_dict(rec.to_dict()) == rec


def test_serve_refuses_a_bank_that_is_not_there(tmp_path: Path) -> None:
    env = {**os.environ, "VOICEBANK_HOME": str(tmp_path / "home")}
    out = subprocess.run([VOICEBANK, "serve", "--bank", str(tmp_path / "nobody")], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode != 0 and "there is no voice bank there" in out.stdout + out.stderr
    assert not (tmp_path / "home" / "serve-token").exists()  # refused before anything was made


def test_two_tabs_uploading_at_once_take_turns(banks: Path, speech) -> None:
    """The same retried upload from two tabs at once is one take; other uploads at once are each kept."""
    from concurrent.futures import ThreadPoolExecutor

    with serving(banks) as c:
        prompt = c.state()["prompt"]["id"]
        same = wav_bytes(*speech[0])
        jobs = [(same, "two-tabs-same-000001")] * 3 + [(wav_bytes(*speech[1]), "two-tabs-other-00001")]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda job: c.put(job[0], prompt, job[1]), jobs))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 200, 201, 201], [r.text for r in answers]
        assert len({r.json()["take"]["id"] for r in answers[:3]}) == 1
    bank = verify(banks / "anna")
    assert len(bank.takes) == 2
