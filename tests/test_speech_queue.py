"""The speech queue on a real (virtual) sound card: lines queue, none cut, none lost when
the sound server dies (it is SIGKILLed mid-line and started again)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.pulse import voiced_seconds
from voicebank.speech_queue import SpeechEvent, SpeechQueue, Utterance

pytestmark = [pytest.mark.slow, pytest.mark.realtime]

LINES = [
    "Could you open the window a little?",
    "It is warm in here today.",
    "Thank you, that is much better.",
]


def _utterance(engine, text: str) -> Utterance:  # type: ignore[no-untyped-def]
    return Utterance(text, lambda pacing: engine.stream(text, None, pacing))


class _Events:
    def __init__(self) -> None:
        self.items: list[tuple[float, SpeechEvent]] = []
        self.changed = threading.Condition()

    def __call__(self, event: SpeechEvent) -> None:
        with self.changed:
            self.items.append((time.monotonic(), event))
            self.changed.notify_all()

    def wait_for(self, kind: str, timeout: float) -> tuple[float, SpeechEvent]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for stamp, event in self.items:
                    if event.kind == kind:
                        return stamp, event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind!r} event within {timeout} s: {[e.kind for _, e in self.items]}")
                self.changed.wait(left)


def test_lines_typed_in_quick_succession_are_all_spoken_in_order(pulse_server, engine) -> None:  # type: ignore[no-untyped-def]
    import sounddevice as sd

    from voicebank.player import Player

    rate = engine.sample_rate
    captured: list[np.ndarray] = []
    events = _Events()
    player = Player()
    player.warm_up(rate)
    with sd.InputStream(samplerate=rate, channels=1, dtype="float32", callback=lambda d, *a: captured.append(d[:, 0].copy())):
        with SpeechQueue(player, events, rate=rate) as speech:
            for line in LINES:
                speech.say(_utterance(engine, line))
                time.sleep(0.3)  # a fast typist: the next Enter while the first line plays
            assert speech.state().queued, "the later lines wait for the first"
            assert speech.wait_idle(timeout=40)
        time.sleep(0.3)
    spoken = list(speech.log)
    assert [s.text for s in spoken] == LINES
    assert [s.outcome for s in spoken] == ["spoken"] * 3
    for s in spoken:  # every frame of every line reached the sound card
        assert s.frames_fed > 0.8 * s.device_rate and s.frames_played == s.frames_fed, s
    heard = np.concatenate(captured)
    voiced = voiced_seconds(heard, rate)
    expected = sum(s.frames_fed / s.device_rate for s in spoken)
    assert voiced > 0.6 * expected, (voiced, expected)


def test_a_killed_sound_server_keeps_the_lines_and_speaks_them_when_it_is_back(pulse_server, engine) -> None:  # type: ignore[no-untyped-def]
    from voicebank.player import Player

    events = _Events()
    player = Player()
    player.warm_up(engine.sample_rate)
    with SpeechQueue(player, events, rate=engine.sample_rate, retry_every=0.5) as speech:
        for line in LINES:
            speech.say(_utterance(engine, line))
        events.wait_for("started", timeout=10)
        time.sleep(1.0)  # mid first line
        killed = time.monotonic()
        pulse_server.kill()
        stamp, lost = events.wait_for("device_lost", timeout=5)
        print(f"\nfailure reported {(stamp - killed) * 1000:.0f} ms after the sound server was killed")
        assert stamp - killed < 1.0
        assert [u.text for u in lost.kept] == LINES, "the line cut off and the queued ones are kept"
        assert not speech.state().device_ok and "sound" in lost.message.lower()
        time.sleep(1.5)  # retries fail while the server is down; nothing is dropped
        assert [u.text for u in speech.unspoken()] == LINES
        pulse_server.restart()
        events.wait_for("device_back", timeout=15)
        assert speech.wait_idle(timeout=40)
    outcomes = [(s.text, s.outcome) for s in speech.log]
    assert outcomes[0] == (LINES[0], "device_lost")
    assert outcomes[1:] == [(line, "spoken") for line in LINES]
    assert all(s.frames_played == s.frames_fed for s in list(speech.log)[1:])


def test_a_frozen_sound_server_is_noticed_and_the_line_said_when_it_resumes(pulse_server, engine) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP: the stream neither ends nor errs, it just stops asking for audio."""
    import os
    import signal

    from voicebank.player import Player

    line = " ".join(LINES)  # about 6 s
    events = _Events()
    player = Player()
    player.warm_up(engine.sample_rate)
    with SpeechQueue(player, events, rate=engine.sample_rate, retry_every=0.5) as speech:
        speech.say(_utterance(engine, line))
        events.wait_for("started", timeout=10)
        time.sleep(3.5)  # playing steadily
        os.kill(pulse_server.process.pid, signal.SIGSTOP)
        try:
            _, lost = events.wait_for("device_lost", timeout=10)
            assert [u.text for u in lost.kept] == [line]
        finally:
            os.kill(pulse_server.process.pid, signal.SIGCONT)
        events.wait_for("device_back", timeout=20)
        assert speech.wait_idle(timeout=30)
    assert [(s.text, s.outcome) for s in speech.log] == [(line, "device_lost"), (line, "spoken")]


def test_stop_interrupts_and_clears_the_queue(pulse_server, engine) -> None:  # type: ignore[no-untyped-def]
    from voicebank.player import Player

    events = _Events()
    with SpeechQueue(Player(), events, rate=engine.sample_rate) as speech:
        for line in LINES:
            speech.say(_utterance(engine, line))
        events.wait_for("started", timeout=10)
        time.sleep(0.5)
        dropped = speech.stop()
        assert [u.text for u in dropped] == LINES[1:]
        assert speech.wait_idle(timeout=5)
    assert [(s.text, s.outcome) for s in speech.log] == [(LINES[0], "interrupted")]

