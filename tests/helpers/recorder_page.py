"""Driving the recorder page in Chromium with a fake microphone, and checking the bank it fills (tests/test_recorder_page.py).

The fed audio is real speech with silence around each sentence; the page is driven as a
person would: wait for the speaker to fall silent, press Record, wait for the next sentence
to be said and finished, press Stop.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from voicebank.bank.store import Bank

from tests.conftest import LJSPEECH

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
CLIPS = ["LJ001-0008", "LJ001-0009"]  # 1.8 s and 7.5 s of real read speech
RATE = 44100  # the fake microphone's own rate, so the file reaches the page unresampled
GAP_S = 2.0  # silence between the sentences of the fed file
WAIT_MS = 60_000
ROOT_ARGS = {"polling": 20, "timeout": WAIT_MS}


# ----------------------------------------------------------------------- the fed audio
def fed_speech() -> np.ndarray:
    """Two real sentences, each with silence before it, and silence after the last (float32 at RATE)."""
    if not all((LJSPEECH / "wavs" / f"{c}.wav").is_file() for c in CLIPS):
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    parts = []
    for name in CLIPS:
        x, rate = sf.read(LJSPEECH / "wavs" / f"{name}.wav", dtype="float32")
        parts += [np.zeros(int(GAP_S * RATE), np.float32), signal.resample_poly(x, RATE, rate).astype(np.float32)]
    return np.concatenate([*parts, np.zeros(int(GAP_S * RATE), np.float32)])


def variant(speech: np.ndarray, kind: str) -> np.ndarray:
    if kind == "clipped":
        return np.clip(speech * 8.0, -1.0, 1.0)  # 18 dB too hot, flat-topped at full scale
    if kind == "quiet":
        return speech * 10 ** (-20 / 20)
    return speech


@dataclass
class Browsers:
    """One Chromium per kind of fed audio (the fake microphone's file is fixed at launch)."""

    pw: Any
    folder: Path
    speech: np.ndarray
    launched: dict[str, Any] = field(default_factory=dict)

    def fed(self, kind: str) -> np.ndarray:
        return variant(self.speech, kind).astype(np.float32)

    def get(self, kind: str) -> Any:
        if kind not in self.launched:
            path = self.folder / f"fed-{kind}.wav"
            sf.write(path, self.fed(kind), RATE, subtype="PCM_16")
            args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={path}"]
            self.launched[kind] = self.pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        return self.launched[kind]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_SERVE = """
import sys, uvicorn
from pathlib import Path
from voicebank.serve.app import create_app
from voicebank.serve.settings import ServeSettings
app = create_app(ServeSettings(token=None, preload=False, banks_dir=Path(sys.argv[1])))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


class KilledServer:
    """The recorder's server as a child process on one port, killed with SIGKILL and started again on it."""

    def __init__(self, banks: Path, logs: Path) -> None:
        self.banks, self.logs = banks, logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        import httpx

        log = open(self.logs / f"serve-{self.starts:02d}.log", "wb")
        with log:
            self.proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(self.banks), str(self.port)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{self.url}/v1/record/banks", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no shutdown, no cleanup
            self.proc.wait(30)


# ----------------------------------------------------------------------- the page, as a person uses it
def open_page(browser: Any, url: str, bank: str | None = None, **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    page.goto(f"{url}/record?tap=1" + (f"&bank={bank}" if bank else ""))
    page.wait_for_function("() => window.voicebankTap && window.voicebankTap.ready", **ROOT_ARGS)
    return page


def create_bank(page: Any, name: str) -> None:
    page.fill("#bank-name", name)
    page.fill("#bank-speaker", "Test Speaker")
    page.click("#create-bank")
    page.wait_for_selector("#session:not([hidden])", timeout=WAIT_MS)


def count_in(page: Any, on: bool) -> None:
    page.click(".settings-box summary")
    page.set_checked("#count-in", on)
    page.focus("#record")


def wait_quiet(page: Any, ms: int) -> None:
    """Until the microphone has said something and been quiet again for ``ms``."""
    page.wait_for_function("() => window.voicebankTap.levelDb > -65", **ROOT_ARGS)
    page.wait_for_function("ms => performance.now() - window.voicebankTap.lastLoud > ms", arg=ms, **ROOT_ARGS)


def record_take(page: Any, press: Any = None, counted: bool = False, hold: bool = False) -> str:
    """Record one sentence of the fed audio from silence to silence; returns the status line after saving.

    ``press`` starts and stops (Space by default); ``hold``: Space is held down while recording.
    """
    keys = iter([lambda: page.keyboard.down("Space"), lambda: page.keyboard.up("Space")]) if hold else None
    press = press or ((lambda: next(keys)()) if hold else (lambda: page.keyboard.press("Space")))
    shown = page.evaluate("() => window.voicebankTap.uploads.length")
    wait_quiet(page, 250)
    press()
    if counted:
        page.wait_for_selector("#count:not([hidden])", timeout=WAIT_MS)
        assert page.inner_text("#count") in {"3", "2", "1"}, "the count-in shows"
    page.wait_for_function("() => document.getElementById('record').textContent === 'Stop'", **ROOT_ARGS)
    wait_quiet(page, 400)
    press()
    page.wait_for_function("n => window.voicebankTap.uploads.length > n", arg=shown, **ROOT_ARGS)
    return wait_saved(page)


def wait_saved(page: Any) -> str:
    page.wait_for_function(
        "() => window.voicebankTap.lastSaved === window.voicebankTap.uploads.at(-1)"
        " && document.getElementById('record').textContent === 'Record'", **ROOT_ARGS)
    return page.inner_text("#status")


def state(page: Any) -> dict[str, Any]:
    return {
        "label": page.inner_text("#prompt-label"), "prompt": page.inner_text("#prompt-text"),
        "verdict": page.inner_text("#verdict") if page.is_visible("#take") else None,
        "advice": page.inner_text("#advice") if page.is_visible("#take") else None,
        "accept": page.inner_text("#accept"), "saved": page.inner_text("#saved"),
    }


def prompt_after(page: Any, before: str) -> str:
    page.wait_for_function("t => document.getElementById('prompt-text').textContent !== t", arg=before, **ROOT_ARGS)
    return page.inner_text("#prompt-text")


# ----------------------------------------------------------------------- the bank afterwards
def verify_cli(bank: Path) -> None:
    result = subprocess.run([str(Path(sys.executable).with_name("voicebank")), "bank", "verify", str(bank)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All takes are intact." in result.stdout


def read_bank(path: Path) -> dict[str, Any]:
    with Bank.open(path, writable=False) as bank:
        takes = sorted(bank.takes.values(), key=lambda t: t.id)
        audio = {t.id: bank.read_take(t) for t in takes}
        return {"takes": takes, "chosen": dict(bank.chosen), "flags": dict(bank.flags), "audio": audio,
                "texts": {pid: p.text for pid, p in bank.prompts.items()}}


WINDOW_S = 0.25  # pieces of a take aligned one by one (a dropped device buffer shifts what follows)
SEARCH_S = 0.05  # how far each piece may sit from the take's own alignment


def correlation(take: np.ndarray, rate: int, fed: np.ndarray) -> float:
    """How closely a take matches the looping fed audio: the share of its pieces with speech that correlate > 0.9.

    The take is first aligned as a whole (cross-correlation with the loop); each 0.25 s piece
    is then aligned again within 50 ms, because Chromium's fake microphone may drop a 10 ms
    buffer when the machine is busy, which shifts all that follows by 441 samples.
    """
    x = np.asarray(take, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != RATE:
        x = signal.resample_poly(x, RATE, rate)
    loop = np.tile(fed.astype(np.float64), int(np.ceil(len(x) / len(fed))) + 4)
    lag = len(fed) + int(np.argmax(signal.correlate(loop, x, mode="valid", method="fft")[: len(fed)]))
    n, d = int(WINDOW_S * RATE), int(SEARCH_S * RATE)
    scores, shift = [], 0
    for at in range(0, len(x) - n + 1, n):
        piece = x[at : at + n]
        if np.sqrt(np.mean(piece**2)) < 1e-3:
            continue  # silence matches anything
        score = np.corrcoef(loop[lag + shift + at : lag + shift + at + n], piece)[0, 1]
        if score <= 0.9:  # a dropped buffer before this piece? look for it a little earlier or later
            near = loop[lag + shift + at - d : lag + shift + at + n + d]
            best = int(np.argmax(signal.correlate(near, piece, mode="valid")))
            moved = np.corrcoef(near[best : best + n], piece)[0, 1]
            if moved > score:
                score, shift = moved, shift + best - d
        scores.append(score)
    assert scores, "the take holds no sound"
    return float(np.mean(np.array(scores) > 0.9))


def assert_captured_raw(take: Any) -> None:
    c = take.capture
    assert c["echoCancellation"] is False and c["noiseSuppression"] is False and c["autoGainControl"] is False, c
    assert c["sampleRate"] == take.sample_rate and c["deviceLabel"], c


def focus_ring(page: Any) -> dict[str, Any]:
    return page.evaluate(
        "() => { const e = document.activeElement, s = getComputedStyle(e);"
        " return {id: e.id, style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"
    )
