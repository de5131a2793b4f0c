"""The interactive type-to-speak prompt in a real terminal (tmux) with a virtual sound card.

What the prompt said is read off the screen; what was heard is recorded from the null
sink's monitor. The sound server is SIGKILLed mid-line and started again.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import threading

import numpy as np
import pytest
import soundfile as sf

from tests.helpers.tmux import Tmux
from tests.pulse import reload_sounddevice, voiced_seconds

VOICEBANK = Path(sys.executable).with_name("voicebank")


@pytest.mark.slow
def test_type_to_speak_prompt(pulse_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import sounddevice as sd

    rate = 22050
    captured: list[np.ndarray] = []

    def on_input(indata: np.ndarray, frames: int, t: object, status: object) -> None:
        captured.append(indata[:, 0].copy())

    env = dict(os.environ, **pulse_server.env, VOICEBANK_HOME=str(tmp_path / "home"))
    tmux = Tmux(env, [str(VOICEBANK), "speak"], tmp_path)
    mic = sd.InputStream(samplerate=rate, channels=1, dtype="float32", callback=on_input)
    mic.start()
    try:
        tmux.wait_for("say>", timeout=60)
        tmux.keys("-l", "Good morning, how did you sleep?")
        before = len(captured)
        tmux.keys("Enter")
        # Only what was recorded after Enter counts; a loaded machine gets some seconds to say it.
        deadline = time.monotonic() + 20.0
        while voiced_seconds(np.concatenate(captured[before:] or [np.zeros(1, np.float32)]), rate) < 0.5:
            assert time.monotonic() < deadline, "Enter did not speak the line"
            time.sleep(0.1)
        tmux.keys("-l", "/save")
        tmux.keys("Enter")
        tmux.wait_for("Saved as phrase 1.")
        tmux.keys("-l", "/list")
        tmux.keys("Enter")
        tmux.wait_for("1  Good morning, how did you sleep?")
        tmux.keys("Up", "Up")  # history: /list, then /save
        tmux.wait_for("say> /save")
        tmux.keys("C-u")  # clear the recalled line
        tmux.keys("F1")  # saved phrase 1, one keystroke, shown on screen for a partner
        tmux.wait_for("F1: Good morning, how did you sleep?")
        tmux.keys("-l", "/7")
        tmux.keys("Enter")
        tmux.wait_for("no saved phrase 7")
        tmux.keys("-l", "/history on")  # from now on, at the person's word, typed lines are kept
        tmux.keys("Enter")
        tmux.wait_for("Lines you type from now on are kept")
        tmux.keys("-l", "See you tomorrow.")
        tmux.keys("Enter")
        _quit(tmux)
    finally:
        mic.stop()
        mic.close()
        tmux.close()
    # typed lines are private: kept only once the person turns keeping on
    kept = (tmp_path / "home" / "speak-history.txt").read_text()
    assert "See you tomorrow." in kept and "Good morning" not in kept


def test_history_is_the_persons_choice(tmp_path: Path) -> None:
    import subprocess

    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    history = tmp_path / "home" / "speak-history.txt"

    def speak(*args: str) -> str:
        proc = subprocess.run([str(VOICEBANK), "speak", *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        return proc.stdout

    assert str(history) in speak("--history", "on")
    assert json.loads((tmp_path / "home" / "settings.json").read_text())["speak_history"] is True
    history.write_text("\n# 2026-01-01\n+hello there\n")  # as the prompt keeps a line
    assert "not kept" in speak("--history", "off")
    assert history.exists(), "turning keeping off keeps what is there until the person clears it"
    assert "Deleted" in speak("--history", "clear") and not history.exists()
    assert "nothing to delete" in speak("--history", "clear")
    bad = subprocess.run([str(VOICEBANK), "speak", "Hi.", "--history", "on"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "give it alone" in bad.stderr


# Three lines of 3-4 s each: a line cut off by the next Enter would lose most of its sound.
LINES = [
    "Could you open the window a little, it is getting warm in here.",
    "After lunch I would like to sit in the garden for an hour or so.",
    "Please ask Maria to call me back when she gets home tonight.",
]


class _Monitor:
    """Records the null sink's monitor: what reached the speakers."""

    def __init__(self, rate: int = 22050) -> None:
        import sounddevice as sd

        self.rate = rate
        self.blocks: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.stream = sd.InputStream(samplerate=rate, channels=1, dtype="float32", callback=self._take)
        self.stream.start()

    def _take(self, data: np.ndarray, *args: object) -> None:
        with self._lock:
            self.blocks.append(data[:, 0].copy())

    def voiced_seconds(self) -> float:
        with self._lock:
            heard = np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)
        return voiced_seconds(heard, self.rate)

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


def _quit(tmux: Tmux) -> str:
    """/quit, and the screen once the prompt has left (no traceback, no C library noise)."""
    tmux.keys("-l", "/quit")
    tmux.keys("Enter")
    screen = tmux.wait_for("EXITED 0", timeout=30)
    assert "Traceback" not in screen and "error: something went wrong" not in screen
    assert "ALSA lib" not in screen and "pa_linux_alsa" not in screen
    return screen


def _expected_voiced(engine) -> float:  # type: ignore[no-untyped-def]
    return sum(voiced_seconds(engine.synthesize(line).as_float32(), engine.sample_rate) for line in LINES)


def _type_lines(tmux: Tmux) -> None:
    for line in LINES:  # a fast typist: each Enter while the line before still plays
        tmux.keys("-l", line)
        tmux.keys("Enter")


@pytest.mark.slow
@pytest.mark.realtime
def test_lines_typed_in_quick_succession_are_all_spoken_in_order(pulse_server, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    expected = _expected_voiced(engine)
    env = dict(os.environ, **pulse_server.env, VOICEBANK_HOME=str(tmp_path / "home"))
    tmux = Tmux(env, [str(VOICEBANK), "speak"], tmp_path)
    monitor = _Monitor()
    try:
        tmux.wait_for("say>", timeout=60)
        _type_lines(tmux)
        tmux.wait_for("2 waiting", timeout=10)  # the speaking indicator: the first plays, two wait
        tmux.wait_for(f"Speaking: {LINES[1][:40]}", timeout=30)  # in order
        tmux.wait_for(f"Speaking: {LINES[2][:40]}", timeout=30)
        tmux.wait_for("Enter speak", timeout=30)  # idle again
        time.sleep(0.5)
        heard = monitor.voiced_seconds()
        print(f"\nheard {heard:.1f} s of voice, the three lines hold {expected:.1f} s")
        assert heard > 0.8 * expected, "a line was cut off"
        _quit(tmux)
    finally:
        monitor.close()
        tmux.close()


@pytest.mark.slow
@pytest.mark.realtime
def test_a_killed_sound_server_is_reported_and_the_lines_are_said_when_it_is_back(  # type: ignore[no-untyped-def]
    pulse_server, engine, tmp_path: Path
) -> None:
    expected = _expected_voiced(engine)
    env = dict(os.environ, **pulse_server.env, VOICEBANK_HOME=str(tmp_path / "home"))
    tmux = Tmux(env, [str(VOICEBANK), "speak"], tmp_path)
    monitor = None
    try:
        tmux.wait_for("say>", timeout=60)
        _type_lines(tmux)
        tmux.wait_for("2 waiting", timeout=10)
        time.sleep(2.5)  # well into the first line
        killed = time.monotonic()
        pulse_server.kill()
        tmux.wait_for("NO SOUND", timeout=5)
        shown = time.monotonic() - killed
        print(f"\nthe prompt showed the failure {shown * 1000:.0f} ms after the sound server was killed")
        assert shown < 1.0
        screen = tmux.wait_for("Not heard: 3 lines, kept")
        assert "ALSA" not in screen and "PortAudio" not in screen and "pa_linux_alsa" not in screen
        tmux.keys("-l", "/show")  # the fallback: the unspoken lines in large letters
        tmux.keys("Enter")
        tmux.wait_for("▀")
        tmux.keys("-l", f"/write {tmp_path / 'kept.wav'}")  # or as audio, to play elsewhere
        tmux.keys("Enter")
        tmux.wait_for("s: 3 lines).", timeout=30)
        assert sf.info(tmp_path / "kept.wav").duration > 0.8 * expected
        pulse_server.restart()
        reload_sounddevice()
        monitor = _Monitor()
        tmux.wait_for("Sound is back: saying the 3 lines kept.", timeout=15)
        tmux.wait_for(f"Speaking: {LINES[2][:40]}", timeout=40)
        tmux.wait_for("Enter speak", timeout=30)
        time.sleep(0.5)
        heard = monitor.voiced_seconds()
        print(f"after the restart: heard {heard:.1f} s of voice, the three lines hold {expected:.1f} s")
        assert heard > 0.8 * expected, "the kept lines were not all said"
        # again, and this time the person drops what was not heard
        monitor.close()
        monitor = None
        tmux.keys("-l", LINES[0])
        tmux.keys("Enter")
        tmux.wait_for(f"Speaking: {LINES[0][:40]}", timeout=10)
        pulse_server.kill()
        tmux.wait_for("Not heard: 1 line, kept", timeout=5)
        tmux.keys("Escape")
        tmux.wait_for("Dropped 1 line not yet spoken.")
        pulse_server.restart()
        reload_sounddevice()
        assert "Not said" not in _quit(tmux)
    finally:
        if monitor is not None:
            monitor.close()
        tmux.close()
