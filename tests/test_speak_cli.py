"""`voicebank speak` as a person runs it: to a file, to the default speakers, saved phrases."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]
HELLO = "Hello, my name is Sam and this is my voice."


def run(args: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + args, capture_output=True, text=True, env=env, input=stdin, timeout=300)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))


def test_speak_to_a_file(tmp_path: Path, home: dict[str, str]) -> None:
    out = tmp_path / "hello.wav"
    proc = run(["speak", HELLO, "--out", str(out)], env=home)
    assert proc.returncode == 0, proc.stderr
    info = sf.info(out)
    assert info.samplerate == 22050 and info.channels == 1
    assert 2.0 < info.duration < 5.0
    # a longer text gives proportionally longer speech
    out2 = tmp_path / "twice.wav"
    run(["speak", f"{HELLO} {HELLO}", "--out", str(out2)], env=home)
    assert 1.7 < sf.info(out2).duration / info.duration < 2.4


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x01\x02\x07\x1b"])
def test_nothing_to_say_is_a_clear_result(text: str, tmp_path: Path, home: dict[str, str]) -> None:
    out = tmp_path / "x.wav"
    proc = run(["speak", text, "--out", str(out)], env=home)
    assert proc.returncode == 0 and "Nothing to say" in proc.stdout
    assert not out.exists()


def test_stdin_and_bad_options(tmp_path: Path, home: dict[str, str]) -> None:
    out = tmp_path / "in.wav"
    assert run(["speak", "-", "--out", str(out)], env=home, stdin="It is 5:45 pm.").returncode == 0
    assert sf.info(out).duration > 0.8
    bad = run(["speak", "Hi.", "--speed", "9"], env=home)
    assert bad.returncode != 0 and "--speed" in bad.stderr
    missing = run(["speak", "Hi.", "--voice", str(tmp_path / "no-such-voice")], env=home)
    assert missing.returncode != 0 and missing.stderr.startswith("error:")


def test_saved_phrases_text_and_recorded_message(tmp_path: Path, home: dict[str, str]) -> None:
    from voicebank.bank.store import Bank

    rate = 22050
    t = np.arange(int(1.2 * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 180 * t) * np.hanning(len(t))).astype(np.float32)
    with Bank.create(tmp_path / "bank") as bank:
        p = bank.add_prompt("Love you, kiddo.", kind="message")
        take = bank.save_take(p.id, tone, rate, subtype="PCM_16", choose=True)
    assert run(["phrases", "add", "Could you pass the water, please?"], env=home).returncode == 0
    added = run(["phrases", "add", "--bank", str(tmp_path / "bank"), "--message", p.id], env=home)
    assert added.returncode == 0 and "phrase 2" in added.stdout
    listing = run(["phrases", "list"], env=home).stdout
    assert "1  Could you pass the water" in listing and "[recorded]" in listing
    out = tmp_path / "msg.wav"
    assert run(["speak", "--phrase", "2", "--out", str(out)], env=home).returncode == 0
    played, r = sf.read(out, dtype="int16")
    with Bank.open(tmp_path / "bank", writable=False) as bank:
        original, r0 = sf.read(bank.take_path(take), dtype="int16")
    assert r == r0 and np.abs(played.astype(int) - original.astype(int)).max() <= 1  # verbatim
    nope = run(["speak", "--phrase", "7"], env=home)
    assert nope.returncode != 0 and "no saved phrase 7" in nope.stderr


@pytest.mark.slow
def test_speak_plays_through_the_default_output(pulse_server, home: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    import sounddevice as sd

    rate = 22050
    captured: list[np.ndarray] = []
    lock = threading.Lock()

    def on_input(indata: np.ndarray, frames: int, t: object, status: object) -> None:
        with lock:
            captured.append(indata[:, 0].copy())

    env = dict(home, **{k: pulse_server.env[k] for k in ("HOME", "XDG_RUNTIME_DIR", "PULSE_SERVER")})
    with sd.InputStream(samplerate=rate, channels=1, dtype="float32", callback=on_input):
        time.sleep(0.3)
        proc = run(["speak", HELLO], env=env)
        time.sleep(0.5)
    assert proc.returncode == 0, proc.stderr
    assert "first sound after" in proc.stderr
    rec = np.concatenate(captured)
    frame = rate // 50
    energy = np.array([np.sqrt(np.mean(rec[i : i + frame] ** 2)) for i in range(0, len(rec) - frame, frame)])
    loud = np.flatnonzero(energy > 0.01)
    assert loud.size, "nothing reached the speakers"
    span = (loud[-1] - loud[0]) / 50.0
    assert 2.0 < span < 5.0, span  # the whole sentence was heard
