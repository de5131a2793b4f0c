"""The local player on a real (virtual) sound card: a private PulseAudio null sink.

60 s of streamed speech is played while the same process records the sink's monitor;
the recording must match what was synthesized, with no underflow between the first and
the last frame, and the first sound at the monitor is timed from the call.

These are the real-machine playback tests (marker ``realtime``): they play in real time and
fail when the machine is too loaded to keep up; the planner's pacing itself is tested on a
fake clock in test_stream_pacing.py.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import numpy as np
import pytest

from tests.pulse import correlate_audio
from tests.slowing import SlowingComputer
from voicebank.audio import AudioChunk

pytestmark = [pytest.mark.slow, pytest.mark.realtime]

# Written for this test: about a minute of plain narration.
PASSAGE = (
    "Every morning the baker on our corner opens her shutters a little before six. "
    "The first thing she does is switch on the radio, quietly, so the street is still asleep. "
    "Then she lights the big oven and lays out the dough she shaped the night before. "
    "By half past six the smell of warm bread has found its way down the whole road, "
    "and the first customers are already waiting by the door with their collars turned up. "
    "She knows most of them by name, and she knows what they will ask for before they speak. "
    "The man from the garage wants two rolls and a strong coffee. "
    "The twins from the blue house want whatever is sweetest, and their mother says no every time. "
    "On Saturdays her son comes in to help, and the queue moves twice as fast, "
    "although he talks to everyone about football and forgets to give the change. "
    "When the shop closes at two, she sweeps the floor, counts the money, "
    "and sits for ten minutes in the sun on the bench outside before she walks home. "
    "Some days a neighbour joins her there, and they talk about the weather, the prices, "
    "and the new family who moved in above the chemist last spring. "
    "Then the church clock strikes three, and she says it is time to start thinking about tomorrow."
)


def _tee(chunks: Iterator[AudioChunk], into: list[np.ndarray]) -> Iterator[AudioChunk]:
    for c in chunks:
        into.append(c.as_float32().copy())
        yield c


def test_player_streams_a_minute_without_underflow(pulse_server) -> None:  # type: ignore[no-untyped-def]
    import sounddevice as sd

    from voicebank.engines import load_engine
    from voicebank.player import Player

    engine = load_engine("joe")
    rate = engine.sample_rate
    engine.synthesize("Warming up.")  # load sessions and caches off the clock

    captured: list[tuple[float, np.ndarray]] = []
    lock = threading.Lock()

    def on_input(indata: np.ndarray, frames: int, t: object, status: object) -> None:
        stamp = time.perf_counter()
        with lock:
            captured.append((stamp, indata[:, 0].copy()))

    played: list[np.ndarray] = []
    with sd.InputStream(samplerate=rate, channels=1, dtype="float32", blocksize=256, callback=on_input):
        time.sleep(0.5)
        player = Player(blocksize=512)
        player.warm_up(rate)  # as the interactive prompt does at start
        stats = player.play(_tee(engine.stream(PASSAGE, None, player.pacing()), played))
        player.wait(timeout=180)
        time.sleep(0.5)

    reference = np.concatenate(played)
    seconds = len(reference) / rate
    assert seconds >= 60, f"the passage should give a minute of speech, got {seconds:.1f} s"
    assert stats.error == ""
    assert stats.frames_played == len(reference)
    assert stats.underruns == 0, stats
    assert stats.device_underflows == 0, stats.status_flags[:5]

    stamps = np.array([s for s, _ in captured])
    blocks = [b for _, b in captured]
    rec = np.concatenate(blocks)
    r, lag, overlap = correlate_audio(rec, rate, reference, rate)
    assert r > 0.9 and overlap > 0.99, (r, overlap)

    # first sound at the monitor, from the call: the block holding the first loud sample
    loud = np.flatnonzero(np.abs(rec) > 0.01)
    assert loud.size
    ends = np.cumsum([len(b) for b in blocks])
    block = int(np.searchsorted(ends, loud[0], side="right"))
    # a block's callback runs when its last frame has arrived: step back to the loud frame
    frames_after = ends[block] - loud[0]
    first_sound = stamps[block] - frames_after / rate - stats.started
    print(
        f"\nplayer: {seconds:.1f} s streamed, r={r:.4f}, first sound at the monitor "
        f"{first_sound * 1000:.0f} ms after the call (first chunk {(stats.first_chunk - stats.started) * 1000:.0f} ms), "
        f"underruns {stats.underruns}, device underflows {stats.device_underflows}"
    )
    assert 0.0 < first_sound < 2.0


def test_a_computer_that_slows_down_still_streams_without_a_gap(pulse_server) -> None:  # type: ignore[no-untyped-def]
    """The computer gets 1.8 times slower just after the first window (measured fast) left:
    each window is sized from the cost measured on the one before, with the flow it needs,
    and the sound card's read-ahead at the start is no budget, so a window that takes 1.8
    times longer than planned is still ready in time and the jitter buffer never runs dry."""
    import sounddevice as sd

    from voicebank.engines import load_engine
    from voicebank.player import Player

    engine = load_engine("joe")
    engine.synthesize("Warming up.")
    assert engine.split is not None, "the stock voice streams in windows"
    factor = 1.8
    engine.split = SlowingComputer(engine.split, factor, fast_runs=3)  # type: ignore[assignment]
    text = " ".join(PASSAGE.split(". ")[:5]) + "."  # the first five sentences, ~20 s
    played: list[np.ndarray] = []
    # a recorder on the monitor keeps the null sink running in real time from the first block
    with sd.InputStream(samplerate=engine.sample_rate, channels=1, dtype="float32", blocksize=256,
                        callback=lambda *args: None):
        time.sleep(0.5)
        player = Player(blocksize=512)
        player.warm_up(engine.sample_rate)
        t0 = time.perf_counter()
        stats = player.play(_tee(engine.stream(text, None, player.pacing()), played))
        player.wait(timeout=120)
    frames = sum(len(p) for p in played)
    seconds = frames / engine.sample_rate
    print(f"\nslowed {factor}x after the first window: {seconds:.1f} s of speech, first chunk {(stats.first_chunk - t0) * 1000:.0f} ms, "
          f"underruns {stats.underruns}, device underflows {stats.device_underflows}")
    assert seconds > 15
    assert stats.error == ""
    assert stats.frames_played == frames
    assert stats.underruns == 0, stats


def test_stop_interrupts_at_once(pulse_server) -> None:  # type: ignore[no-untyped-def]
    from voicebank.engines import load_engine
    from voicebank.player import Player

    engine = load_engine("joe")
    player = Player()
    player.play(engine.stream(PASSAGE))
    time.sleep(1.5)
    t0 = time.perf_counter()
    player.stop()
    assert time.perf_counter() - t0 < 0.5
    stats = player.wait(timeout=5)
    assert stats.interrupted
    assert stats.frames_played < 10 * engine.sample_rate


def test_the_player_tells_the_stream_how_far_the_sound_card_reads_ahead(pulse_server) -> None:  # type: ignore[no-untyped-def]
    """Before any stream the player assumes the usual read-ahead; a warm-up measures this sound
    card's (PulseAudio takes its whole buffer, ~0.14 s at the player's settings, at once)."""
    from voicebank.audio import DEFAULT_LEAD
    from voicebank.player import Player

    player = Player(blocksize=512)
    assert player.pacing().lead == DEFAULT_LEAD
    player.warm_up(22050)
    lead = player.pacing().lead
    print(f"\nmeasured read-ahead: {lead * 1000:.0f} ms")
    assert lead is not None and 0.05 < lead < 0.5


def test_a_recorded_take_plays_whole_through_the_same_player(pulse_server, ljspeech) -> None:  # type: ignore[no-untyped-def]
    """A recorded take (the recorder's playback) goes through the same player: every frame of it
    reaches the sound card, converted by the stream resampler when the card wants another rate."""
    import soundfile as sf

    from voicebank.player import Player

    take, rate = sf.read(ljspeech / "wavs" / "LJ001-0002.wav", dtype="float32")
    player = Player()
    stats = player.play(take, rate)
    assert player.playing
    player.wait(timeout=30)
    assert stats.error == "" and not stats.interrupted
    assert stats.frames_played == round(len(take) * stats.device_rate / rate)

