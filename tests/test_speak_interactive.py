"""The interactive type-to-speak prompt in a real terminal (tmux) with a virtual sound card."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.tmux import Tmux

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
        tmux.keys("Enter")
        time.sleep(3.0)
        heard = np.concatenate(captured)
        assert np.sqrt(np.mean(heard**2)) > 0.005, "Enter did not speak the line"
        tmux.keys("-l", "/save")
        tmux.keys("Enter")
        tmux.wait_for("Saved as phrase 1.")
        tmux.keys("-l", "/list")
        tmux.keys("Enter")
        screen = tmux.wait_for("1  Good morning, how did you sleep?")
        tmux.keys("Up", "Up")  # history: /list, then /save
        screen = tmux.wait_for("say> /save")
        tmux.keys("C-u")  # clear the recalled line
        tmux.keys("F1")  # saved phrase 1, one keystroke
        tmux.keys("-l", "/7")
        tmux.keys("Enter")
        screen = tmux.wait_for("no saved phrase 7")
        tmux.keys("-l", "/quit")
        tmux.keys("Enter")
        screen = tmux.wait_for("EXITED 0", timeout=20)
        assert "Traceback" not in screen and "error: something went wrong" not in screen
    finally:
        mic.stop()
        mic.close()
        tmux.close()
    history = (tmp_path / "home" / "speak-history.txt").read_text()
    assert "Good morning, how did you sleep?" in history
