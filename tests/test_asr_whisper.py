"""Whisper as the intelligibility scorer: real LJSpeech speech transcribed offline from the pinned
weights, the text normalisation both sides share, and the pooled WER/CER it gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from voicebank.errors import UsageError
from voicebank.train.asr_whisper import pooled_rate, scoring_text, text_errors


@pytest.fixture(scope="module")
def tiny(home: Path) -> Any:
    """Whisper tiny.en (the quick size; users get base by default)."""
    from voicebank.train.asr_whisper import WhisperRecognizer

    return WhisperRecognizer("tiny.en", threads=1)


def _clip(ljspeech: Path, uid: str) -> tuple[Any, int, str]:
    rows = dict(line.split("|")[:2] for line in (ljspeech / "metadata.csv").read_text(encoding="utf-8").splitlines())
    x, rate = sf.read(str(ljspeech / "wavs" / f"{uid}.wav"), dtype="float32")
    return x, rate, rows[uid]


def test_whisper_transcribes_real_speech(tiny: Any, ljspeech: Path) -> None:
    x, rate, text = _clip(ljspeech, "LJ001-0012")  # 9 s at 22.05 kHz: resampled to 16 kHz inside
    hyp = tiny.transcribe(x, rate)
    words = scoring_text(hyp).split()
    for word in ("especially", "occupied", "incurred", "casting", "printing", "beautiful", "letters"):
        assert word in words, hyp
    errors = text_errors(text, hyp)
    assert errors.words == 17 and errors.wer is not None and errors.wer <= 0.12, (hyp, errors)
    assert errors.cer is not None and errors.cer <= errors.wer + 0.05
    assert tiny.transcribe(x, rate) == hyp  # deterministic decoding: the same audio, the same words
    assert tiny.transcribe(x[:0], rate) == ""


def test_normalisation_is_the_same_on_both_sides() -> None:
    # the frontend reads "1455" by its context; a transcript's punctuation changes the context
    for written in ("In 1455,", "of about 1455.", "in fourteen fifty-five", "one thousand four hundred and fifty-five"):
        assert scoring_text(written).split()[-1] == "1455", written
    assert text_errors("the Bible of about fourteen fifty-five,", "The Bible of about 1455.").word_errors == 0
    assert scoring_text("Dr. Smith’s  42-line BIBLE — Zoë!") == "doctor smith's 42 line bible zoe"
    assert scoring_text("one hundred and five dogs and two cats") == "105 dogs and 2 cats"
    assert scoring_text("twenty twenty-six") == scoring_text("2026") == "2026"


def test_word_and_character_errors_pool_over_utterances() -> None:
    e = text_errors("in being comparatively modern", "in being comparatively mater")
    assert (e.word_errors, e.words) == (1, 4)
    assert e.chars == len("in being comparatively modern") and 0 < e.char_errors <= len("modern")
    missing = text_errors("in being modern", "")
    assert (missing.word_errors, missing.words, missing.char_errors, missing.chars) == (3, 3, 15, 15)
    # pooled: all edits over all reference words, not the mean of the per-sentence rates
    assert pooled_rate([1, 3], [4, 3]) == pytest.approx(4 / 7)
    assert pooled_rate([], []) is None


def test_weights_are_the_pinned_upstream_files(home: Path) -> None:
    from voicebank.train.asr_whisper import model_folder
    from voicebank.voice.registry import file_sha256

    folder = model_folder("base")  # the two packaged halves joined into the cache, checked
    assert folder.is_relative_to(home)
    assert file_sha256(folder / "model.bin") == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    # a changed file in the cache is never loaded: it is replaced by the checked packaged one
    (folder / "config.json").write_text('{"tampered": true}')
    assert model_folder("base") == folder
    assert file_sha256(folder / "config.json") == "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"
    with pytest.raises(UsageError, match="tiny.en"):
        model_folder("large-v3")
