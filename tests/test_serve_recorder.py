"""The web recorder's HTTP API on a real uvicorn: the session over HTTP, idempotent uploads, bad uploads refused, resume, terminal and web on one bank.

Takes are real speech (the LJSpeech sample in ../shared); every bank is a real bank on disk,
checked with ``bank verify`` after each refusal.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("uvicorn")
import httpx  # noqa: E402
import soundfile as sf  # noqa: E402

from voicebank.bank.store import JOURNAL, MANIFEST, Bank  # noqa: E402
from voicebank.record.session import RecordingSession, build_prompts  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402

from tests.helpers.serving import running  # noqa: E402

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
