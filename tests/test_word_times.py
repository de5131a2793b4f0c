"""Word times from the stock voice's duration predictor, on the engine's own chunk stream."""

from __future__ import annotations

import numpy as np
import pytest

from voicebank.audio import UNPACED, AudioChunk, WordTiming, resample
from voicebank.engines.base import SynthesisOptions

QUIET = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
TWENTY = (
    "The old lighthouse keeper walked slowly along the narrow path to check the lamp "
    "before the storm arrived again tonight."
)


def _speak(engine, text: str, options: SynthesisOptions = QUIET) -> tuple[list[AudioChunk], np.ndarray]:
    chunks = list(engine.stream(text, options, UNPACED))
    return chunks, np.concatenate([c.as_float32() for c in chunks])


def _all_words(chunks: list[AudioChunk]) -> list[WordTiming]:
    return [w for c in chunks for w in c.words]


def _check_order(words: list[WordTiming], seconds: float) -> None:
    assert words, "no word times"
    assert all(0.0 <= w.start < w.end for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:])), "words overlap or go back"
    assert words[-1].end <= seconds


@pytest.mark.parametrize(
    "text, expected",
    [
        (TWENTY, TWENTY.rstrip(".").split()),
        # espeak joins "in the", "on the", "at the", "of the" into one word each: still one time per written word
        ("Put it in the box on the table at the end of the hall!", "Put it in the box on the table at the end of the hall".split()),
        # numbers and symbols are said as several words and keep their written form
        ("I have 23 apples, and $3.50 in my pocket.", ["I", "have", "23", "apples", "and", "$3.50", "in", "my", "pocket"]),
    ],
)
def test_one_time_per_written_word_in_order_on_the_first_chunk(engine, text: str, expected: list[str]) -> None:
    chunks, audio = _speak(engine, text)
    assert [w.text for w in chunks[0].words] == expected
    assert all(not c.words for c in chunks[1:])
    _check_order(chunks[0].words, len(audio) / engine.sample_rate)
    numbers = {w.text: w.end - w.start for w in chunks[0].words}
    if "$3.50" in numbers:  # "three dollars and fifty cents" lasts longer than "I"
        assert numbers["$3.50"] > 4 * numbers["I"]


def test_each_sentence_gets_its_words_offset_by_everything_before_it(engine) -> None:
    """Pauses and the silence after each sentence count; a sentence's times in the stream are
    its times spoken alone plus the samples handed out before it."""
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.25)
    sentences = ["The kettle is on.", "Please come to the kitchen now.", "We have tea and cake."]
    chunks, audio = _speak(engine, f"{sentences[0]} [pause 1s] {sentences[1]} {sentences[2]}", options)
    starts, before = [], 0
    for c in chunks:
        if c.sentence_start:
            starts.append((before, c))
        else:
            assert not c.words
        before += c.frames
    assert len(starts) == 3
    rate = engine.sample_rate
    for sentence, (offset, chunk) in zip(sentences, starts):
        alone = _speak(engine, sentence, options)[0][0].words
        assert [w.text for w in chunk.words] == sentence.rstrip(".").split() == [w.text for w in alone]
        for here, there in zip(chunk.words, alone):
            assert here.start == pytest.approx(there.start + offset / rate, abs=0.0011)
            assert here.end == pytest.approx(there.end + offset / rate, abs=0.0011)
    _check_order(_all_words(chunks), len(audio) / rate)
    assert starts[1][1].words[0].start > starts[0][1].words[-1].end + 1.0  # the pause is between


def test_a_sentence_spoken_from_its_first_clause_times_every_word(engine) -> None:
    """First-clause mode: the clause's words come on the first chunk, the rest with the first
    chunk after the clause (their durations are known only once the whole sentence is encoded)."""
    text = "Yesterday afternoon, after a very long and tiring meeting, everybody went home early and slept."
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, first_clause=True)
    chunks, audio = _speak(engine, text, options)
    assert [w.text for w in chunks[0].words] == ["Yesterday", "afternoon"]
    words = _all_words(chunks)
    assert [w.text for w in words] == text.replace(",", "").rstrip(".").split()
    _check_order(words, len(audio) / engine.sample_rate)


def _rms(audio: np.ndarray, rate: int, start: float, end: float) -> float:
    piece = audio[int(start * rate) : int(end * rate)]
    return float(np.sqrt(np.mean(piece.astype(np.float64) ** 2)))


def test_the_pause_at_a_comma_falls_between_the_words_and_the_words_hold_the_speech(engine) -> None:
    chunks, audio = _speak(engine, "Yesterday, after a very long meeting, everybody went home.")
    rate = engine.sample_rate
    words = chunks[0].words
    assert [w.text for w in words][:2] == ["Yesterday", "after"]
    gap = (words[0].end, words[1].start)
    assert gap[1] - gap[0] >= 0.1
    speech = np.concatenate([audio[int(w.start * rate) : int(w.end * rate)] for w in words])
    loud = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2)))
    assert _rms(audio, rate, gap[0] + 0.02, gap[1] - 0.02) < 0.1 * loud
    inside = float(np.sum(speech.astype(np.float64) ** 2))
    assert inside >= 0.9 * float(np.sum(audio.astype(np.float64) ** 2))


def test_word_times_agree_with_a_forced_alignment_by_pocketsphinx(engine) -> None:
    """An independent measurement: pocketsphinx aligns the sentence's words to the audio. Each
    word's middle is within 0.1 s of the middle of the span it finds for that word (a word is
    0.05-0.5 s long, so a time off by a word would fail), and inside that span for the longer words."""
    pocketsphinx = pytest.importorskip("pocketsphinx")
    chunks, audio = _speak(engine, TWENTY)
    rate = 16000
    pcm = (np.clip(resample(audio, engine.sample_rate, rate), -1.0, 1.0) * 32767.0).astype(np.int16)
    decoder = pocketsphinx.Decoder(samprate=rate, loglevel="FATAL")
    decoder.set_align_text(TWENTY.rstrip(".").lower())
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    found = [s for s in decoder.seg() if not s.word.startswith(("<", "["))]
    words = chunks[0].words
    assert [s.word.split("(")[0] for s in found] == [w.text.lower() for w in words]
    for w, s in zip(words, found):
        start, end = s.start_frame / 100, (s.end_frame + 1) / 100  # 10 ms frames
        middle = (w.start + w.end) / 2
        assert abs(middle - (start + end) / 2) < 0.1, (w, start, end)
        if len(w.text) >= 5:
            assert start <= middle <= end, (w, start, end)
