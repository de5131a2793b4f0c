"""SIGKILL ``voicebank serve`` while the recorder page uploads takes, again and again; no take is lost or doubled.

The client here behaves as the recorder page does (docs/recorder-api.md): every take gets
one upload id and its sha256 when it is recorded, is PUT to the server, counts as saved
only once a 2xx answer came, and otherwise stays queued and is sent again (same id, same
bytes) once the server is back. The server is a real ``voicebank serve`` process, killed
with SIGKILL at random moments (while a body is on its way, while the server decodes,
checks and saves it, between takes) and, in a few rounds, by the bank's own fault hook at
each phase of the save. After the last restart every queued take must go through; then
``voicebank bank verify`` must pass, every take the client saw saved must be in the bank
under the id the server gave, with the audio that was sent, and no upload may be in the
bank twice (also not as a take the bank adopted after a kill: it keeps its upload id and capture).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.audio import resample
from voicebank.bank.store import Bank
from voicebank.durable import PHASES

httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared/data/ljspeech-sample"
BANK = "crash-bank"
DEVICE_RATE = 48000  # what a tablet's microphone delivers
SEED = 1616
RANDOM_KILLS = 24  # SIGKILL from outside, at random moments (the acceptance asks for at least 20)
TAKES_PER_ROUND = 12  # new takes a round may record at most (a round ends with the kill)
CHUNK = 32 * 1024  # the body goes out in pieces, so a kill can land while it is on its way
CHUNK_PAUSE_S = 0.01
SOURCE_PREFIX = "browser:"  # a take's source names its upload (voicebank/serve/recorder_uploads.py)

pytestmark = pytest.mark.slow


@dataclass
class Take:
    """One recorded take as the page holds it: the WAV bytes, their sha256 and the id chosen once."""

    upload_id: str
    body: bytes
    sha256: str
    samples: np.ndarray  # what the WAV holds, to compare with what the bank keeps


def _takes(rng: random.Random, count: int) -> Iterator[Take]:
    """Real speech at the device's rate, each take a little different (a clip and a gain of its own)."""
    meta = DATA / "metadata.csv"
    if not meta.is_file():
        pytest.skip(f"the LJSpeech sample is not at {DATA} (it lives in ../shared/data)")
    with open(meta, encoding="utf-8") as fh:
        ids = [row[0] for row in csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE)]
    for n in range(count):
        x, sr = sf.read(str(DATA / "wavs" / f"{ids[n % len(ids)]}.wav"), dtype="float32")
        y = resample(x, sr, DEVICE_RATE) * (0.5 + 0.4 * rng.random())
        buf = io.BytesIO()
        sf.write(buf, y, DEVICE_RATE, subtype="PCM_24", format="WAV")  # what the page's encoder makes
        body = buf.getvalue()
        samples, _ = sf.read(io.BytesIO(body), dtype="float32")
        yield Take(f"take-{n:04d}-{rng.getrandbits(64):016x}", body, hashlib.sha256(body).hexdigest(), samples)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``voicebank serve`` as a child process on one port, started again after every kill."""

    def __init__(self, home: Path, banks: Path, token: str, logs: Path) -> None:
        self.home, self.banks, self.token, self.logs = home, banks, token, logs
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token_file = home / "token"
        home.mkdir(parents=True, exist_ok=True)
        self.token_file.write_text(token)
        self.token_file.chmod(0o600)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts: list[float] = []  # seconds from launch until it answers
        self.log_path = logs / "serve-00.log"
        self.lock = threading.Lock()

    def start(self, fault: str | None = None) -> None:
        env = {**os.environ, "VOICEBANK_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        env.pop("VOICEBANK_FAULT", None)
        if fault:
            env["VOICEBANK_FAULT"] = fault  # the bank kills the server itself at that phase of a save
        self.log_path = self.logs / f"serve-{len(self.starts):02d}.log"
        log = open(self.log_path, "wb")
        t0 = time.monotonic()
        with log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "voicebank.cli.main", "serve", "--port", str(self.port),
                 "--token-file", str(self.token_file), "--banks-dir", str(self.banks)],
                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        with httpx.Client(base_url=self.base, headers=self.headers(), timeout=5) as probe:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"voicebank serve stopped at start:\n{self.log()}")
                assert time.monotonic() - t0 < 60, f"voicebank serve did not answer in 60 s:\n{self.log()}"
                try:
                    if probe.get("/v1/record/banks").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        self.starts.append(time.monotonic() - t0)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def kill(self) -> None:
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
        self.wait_dead()

    def wait_dead(self) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=60)

    def stop(self) -> None:
        """Ctrl+C, as a person stops it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"voicebank serve did not stop on Ctrl+C:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class Page:
    """The recorder page's upload rules: a take is saved only after a 2xx; the rest wait and are retried."""

    def __init__(self, server: Server, prompt_id: str) -> None:
        self.server, self.prompt_id = server, prompt_id
        self.saved: dict[str, str] = {}  # upload id -> take id the server answered
        self.queue: list[Take] = []  # recorded, not yet known to be saved (the page's IndexedDB)
        self.body_sent = threading.Event()  # the last byte of a body went out
        self.give_up_once = False  # the next PUT stops waiting for its answer once the body is sent
        self.answers: Counter[str] = Counter()  # "saved", "retry" (200: an earlier try had saved it), "lost" (no answer)

    def _body(self, take: Take) -> Iterator[bytes]:
        for i in range(0, len(take.body), CHUNK):
            yield take.body[i : i + CHUNK]
            time.sleep(CHUNK_PAUSE_S)
        self.body_sent.set()

    def put(self, take: Take) -> bool:
        """Send one take; True once the server said it is saved, False when the server went away."""
        headers = {
            **self.server.headers(),
            "Content-Type": "audio/wav",
            "Content-Length": str(len(take.body)),
            "X-Prompt-Id": self.prompt_id,
            "X-Content-SHA256": take.sha256,
            "X-Capture": json.dumps({"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False,
                                     "sampleRate": DEVICE_RATE, "deviceLabel": "crash test", "userAgent": "httpx"}),
        }
        url = f"{self.server.base}/v1/record/banks/{BANK}/uploads/{take.upload_id}"
        try:
            wait = httpx.Timeout(60, read=0.05) if self.give_up_once else 60
            self.give_up_once = False
            r = httpx.put(url, content=self._body(take), headers=headers, timeout=wait)
        except httpx.TransportError:
            self.answers["lost"] += 1
            return False  # killed before it answered: the take stays queued
        assert r.status_code in (200, 201), (take.upload_id, r.status_code, r.text)
        self.answers["saved" if r.status_code == 201 else "retry"] += 1
        tid = r.json()["take"]["id"]
        if take.upload_id in self.saved:  # a retry of a take already answered: the same take
            assert self.saved[take.upload_id] == tid, (take.upload_id, self.saved[take.upload_id], tid)
        self.saved[take.upload_id] = tid
        return True

    def record_until_down(self, new: Iterator[Take], limit: int) -> None:
        """Retry the queue first, then record up to ``limit`` new takes, until the server stops answering."""
        while self.server.proc is not None and self.server.proc.poll() is None:
            if not self.queue:
                take = next(new, None) if limit > 0 else None
                if take is None:
                    return
                limit -= 1
                self.queue.append(take)
            if self.put(self.queue[0]):
                self.queue.pop(0)

    def flush(self) -> None:
        """After the last restart: everything queued goes through."""
        while self.queue:
            assert self.put(self.queue[0]), f"the server went away:\n{self.server.log()}"
            self.queue.pop(0)


def _bank_takes(server: Server) -> int:
    with httpx.Client(base_url=server.base, headers=server.headers(), timeout=10) as c:
        return next(b["takes"] for b in c.get("/v1/record/banks").json()["banks"] if b["name"] == BANK)


def _killer(server: Server, page: Page, rng: random.Random) -> tuple[threading.Thread, str]:
    """A thread that SIGKILLs the server at a random moment of one of three kinds.

    ``any``: whatever is going on (a body on its way, a save, between takes); ``after_body``:
    soon after a body's last byte went out, while the server checks and saves it;
    ``answer_lost``: the page stops waiting for its answer (a dropped connection), and the
    server is killed once it has saved the take anyway, so only a retry can learn of it.
    """
    mode = rng.choice(("any", "after_body", "answer_lost"))
    delay = rng.uniform(0.0, 2.5) if mode == "any" else rng.uniform(0.0, 1.0)
    page.body_sent.clear()
    before = _bank_takes(server) if mode == "answer_lost" else 0
    page.give_up_once = mode == "answer_lost"

    def run() -> None:
        if mode != "any" and not page.body_sent.wait(30):
            return
        if mode == "answer_lost":
            deadline = time.monotonic() + 30
            while _bank_takes(server) == before and time.monotonic() < deadline:
                time.sleep(0.02)
            delay_s = 0.0
        else:
            delay_s = delay
        time.sleep(delay_s)
        server.kill()

    return threading.Thread(target=run, daemon=True), mode


def _twice_at_once(page: Page, take: Take) -> None:
    """The page gave up on a slow answer and sent the take again while the first try was still saving: one take."""
    results: list[bool] = []
    tries = [threading.Thread(target=lambda: results.append(page.put(take))) for _ in range(2)]
    for t in tries:
        t.start()
    for t in tries:
        t.join(60)
    assert results == [True, True]


def _create_bank(server: Server) -> str:
    """The bank, made through the API as the page does; returns the prompt the session shows first."""
    with httpx.Client(base_url=server.base, headers=server.headers(), timeout=30) as c:
        r = c.post("/v1/record/banks", json={"name": BANK, "speaker": "Crash Test", "script": "en-core"})
        assert r.status_code == 201, r.text
        state = c.get(f"/v1/record/banks/{BANK}/session", params={"mode": "script"})
        assert state.status_code == 200, state.text
        return state.json()["prompt"]["id"]


def _bank_takes_by_upload(bank_path: Path, takes: dict[str, Take]) -> tuple[dict[str, list[str]], set[str], list[str]]:
    """Upload id -> the takes in the bank holding its audio; the takes adopted after a kill; what is wrong.

    A take is found by its audio, not by its record: a take whose file was saved but whose
    journal line was lost to the kill is adopted by the bank (``recovered``) with the upload id
    and capture its file carries, and a retry must find it rather than save a second copy.
    """
    by_key = {(len(t.samples), round(float(np.sum(np.abs(t.samples[:4096]))), 3)): t for t in takes.values()}
    found: dict[str, list[str]] = {}
    adopted, problems = set(), []
    with Bank.open(bank_path, writable=False) as bank:
        for rec in bank.takes.values():
            x, rate = bank.read_take(rec)
            x = x[:, 0] if x.ndim == 2 else x
            take = by_key.get((len(x), round(float(np.sum(np.abs(x[:4096]))), 3)))
            if take is None or rate != DEVICE_RATE or not np.allclose(x, take.samples, atol=1e-6):
                problems.append(f"take {rec.id} (source {rec.source!r}) holds audio no upload sent")
                continue
            found.setdefault(take.upload_id, []).append(rec.id)
            if rec.source != SOURCE_PREFIX + take.upload_id or rec.capture.get("echoCancellation") is not False:
                problems.append(f"take {rec.id} holds upload {take.upload_id} but says source {rec.source!r}, "
                                f"capture {rec.capture!r}")  # an adopted take keeps them too: its file carries them
            elif rec.recovered:
                adopted.add(rec.id)
    return found, adopted, problems


def test_sigkill_during_uploads_never_loses_or_doubles_a_take(tmp_path: Path) -> None:
    rng = random.Random(SEED)  # the kills' kinds and moments
    take_rng = random.Random(SEED + 1)  # the takes (apart, so the kill schedule does not depend on how many were made)
    home, banks, logs = tmp_path / "home", tmp_path / "banks", tmp_path / "logs"
    logs.mkdir()
    server = Server(home, banks, secrets.token_urlsafe(32), logs)
    takes: dict[str, Take] = {}

    def new_takes() -> Iterator[Take]:
        for take in _takes(take_rng, 10_000):
            takes[take.upload_id] = take
            yield take

    fresh = new_takes()
    server.start()
    page = Page(server, _create_bank(server))
    kills: Counter[str] = Counter()
    # Random kills from outside, then one round per phase of the bank's save killed by its fault hook.
    rounds: list[str | None] = [None] * RANDOM_KILLS + [f"{p}:1" for p in PHASES]
    for n, fault in enumerate(rounds):
        if n:
            server.start(fault)
        killer, mode = _killer(server, page, rng) if fault is None else (None, fault)
        if killer is not None:
            killer.start()
        page.record_until_down(fresh, TAKES_PER_ROUND)
        if killer is not None:
            killer.join(60)
        assert server.proc is not None and server.proc.poll() is not None, f"round {n} ({mode}): the server lives on"
        assert server.wait_dead() != 0
        kills[mode] += 1
    server.start()
    page.flush()
    retried = page.answers["retry"]  # 200s so far: a take saved by a try whose answer was lost, or adopted
    for take in list(takes.values())[:3]:  # a retry of a saved take (its answer was lost) is the same take
        assert page.put(take)
    _twice_at_once(page, next(fresh))
    server.stop()

    verify = subprocess.run([sys.executable, "-m", "voicebank.cli.main", "bank", "verify", str(banks / BANK)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    found, adopted, problems = _bank_takes_by_upload(banks / BANK, takes)
    doubled = {uid: ids for uid, ids in found.items() if len(ids) > 1}
    missing = sorted(set(takes) - set(found))
    assert not problems and not doubled and not missing, (problems, doubled, missing)
    assert not page.queue and set(page.saved) == set(takes)
    for uid, tid in page.saved.items():  # the take the page was told about is the one holding its audio
        assert found[uid] == [tid], (uid, tid, found[uid])
    assert adopted, "no round left a take for the bank to adopt (the after_rename fault should)"
    assert retried > len(adopted), "no retry found a take that an earlier try, its answer lost, had saved"
    assert sum(kills.values()) >= 20 + len(PHASES)
    print(f"\nkills {dict(kills)}; takes {len(takes)} ({len(adopted)} adopted after a kill); answers {page.answers}; "
          f"server start s: median {sorted(server.starts)[len(server.starts) // 2]:.2f}, max {max(server.starts):.2f}")
