"""``voicebank voice export --format sherpa-onnx``: the sherpa-onnx 2.0.1 Python package, offline, speaks the export.

The stock voice and a tiny personal voice (trained here the way test_train_vits does) are
exported; sherpa-onnx loads each folder and speaks through phoneme code points (the same
samples as voicebank's engine, noise off) and through the exported lexicon (the same length
within 10 %, and for the stock voice a PocketSphinx transcript about as good as ours).
Refused voices leave nothing behind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import LJSPEECH
from voicebank.errors import ExportError

SENTENCES = (
    "The birch canoe slid on the smooth planks, and the boy glued the sheet to the dark blue background.",
    "It is easy to tell the depth of a well, and these days a chicken leg is a rare dish.",
    "Rice is often served in round bowls, and the juice of lemons makes fine punch.",
)
WORDS = Path("/usr/share/dict/words")


def _sherpa(folder: Path, *, lexicon: bool = True) -> Any:
    """sherpa-onnx 2.0.1's TTS on an exported folder, noise off (so it says what our engine says)."""
    sherpa_onnx = pytest.importorskip("sherpa_onnx")
    vits = sherpa_onnx.OfflineTtsVitsModelConfig(
        model=str(folder / "model.onnx"), tokens=str(folder / "tokens.txt"),
        lexicon=str(folder / "lexicon.txt") if lexicon else "", noise_scale=0.0, noise_scale_w=0.0,
    )
    return sherpa_onnx.OfflineTts(sherpa_onnx.OfflineTtsConfig(model=sherpa_onnx.OfflineTtsModelConfig(vits=vits, num_threads=1)))


def _say(tts: Any, text: str = "", codepoints: list[list[str]] | None = None) -> np.ndarray:
    import sherpa_onnx

    config = sherpa_onnx.GenerationConfig()
    config.silence_scale = 1.0  # 2.0.1's default (0.2) shortens pauses; keep them as the model made them
    if codepoints is not None:
        config.phoneme_codepoints = [[ord(c) for c in sentence] for sentence in codepoints]
    audio = tts.generate(text, config)
    assert audio.sample_rate == 22050
    return np.asarray(audio.samples, dtype=np.float32)


def _ours(engine: Any, text: str) -> np.ndarray:
    from voicebank.engines import SynthesisOptions

    return engine.synthesize(text, SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)).samples.reshape(-1)


def _same(a: np.ndarray, b: np.ndarray) -> float:
    from voicebank.engines.split import snr_db

    assert len(a) == len(b), f"lengths differ: {len(a)} vs {len(b)} samples"
    return snr_db(a, b)


@pytest.fixture(scope="module")
def stock(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stock voice exported with the whole word list (phonemized once; later exports reuse it)."""
    from voicebank.exports import export_sherpa

    if not WORDS.is_file():
        pytest.skip(f"{WORDS} is absent (Debian's wamerican; install.sh installs it)")
    return export_sherpa("joe", tmp_path_factory.mktemp("sherpa") / "joe").out


@pytest.mark.slow
def test_the_stock_voice_export_holds_what_sherpa_onnx_reads(stock: Path) -> None:
    import onnx

    from voicebank.voice.registry import STOCK_SHA256, file_sha256, stock_voice

    meta = {p.key: p.value for p in onnx.load(str(stock / "model.onnx"), load_external_data=False).metadata_props}
    assert meta["model_type"] == "vits" and meta["comment"] == "piper" and meta["voice"] == "en-us"
    assert meta["sample_rate"] == "22050" and meta["n_speakers"] == "1" and meta["add_blank"] == "0"
    source = stock_voice(verify=False)
    id_map = json.loads(source.config.read_text(encoding="utf-8"))["phoneme_id_map"]
    tokens = (stock / "tokens.txt").read_text(encoding="utf-8").splitlines()
    assert len(tokens) == len(id_map) and tokens[3] == "  3" and all(f"{s} {i[0]}" in tokens for s, i in id_map.items())
    lines = [line for line in (stock / "lexicon.txt").read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    entries = dict(line.split(" || ") for line in lines)
    assert len(entries) > 100_000 and entries["hello"] == "həlˈoʊ" and entries["a"] == "ɐ" and entries["1984"]
    assert entries["don't"] == entries["don’t"]  # the apostrophe phone keyboards type
    assert (stock / "espeak-ng-data" / "phontab").is_file() and (stock / "lang").read_text() == "eng"
    assert file_sha256(source.model) == STOCK_SHA256  # the source was only read


@pytest.mark.slow
def test_sherpa_onnx_speaks_the_stock_export_as_our_engine_does(stock: Path, engine: Any) -> None:
    from voicebank.train.metrics import Recognizer, word_errors

    tts = _sherpa(stock)
    asr = Recognizer()
    errors = {"ours": 0, "lexicon": 0}
    words = 0
    for text in SENTENCES:
        ours = _ours(engine, text)
        # phoneme code points from our phonemizer: the very samples our engine makes
        assert _same(ours, _say(tts, codepoints=engine.phonemize(text))) > 60
        # words through the exported lexicon: sherpa-onnx's own reading of the text
        heard = _say(tts, text)
        assert abs(len(heard) - len(ours)) <= 0.10 * len(ours), (len(heard), len(ours))
        for name, audio in (("ours", ours), ("lexicon", heard)):
            wrong, n = word_errors(text, asr.transcribe(audio, 22050))
            errors[name] += wrong
        words += n
    wer = {k: v / words for k, v in errors.items()}
    assert wer["lexicon"] <= wer["ours"] + 0.10, wer


@pytest.mark.slow
def test_a_word_not_in_the_lexicon_is_skipped(stock: Path) -> None:
    """sherpa-onnx 2.0.1 drops an unknown word (it neither spells it nor stops): docs/android.md says so."""
    tts = _sherpa(stock)
    np.testing.assert_array_equal(_say(tts, "Hello there, world."), _say(tts, "Hello zxqvy there, world."))


@pytest.fixture(scope="module")
def personal(home: Path, stock: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny voice trained for two steps and exported as the user does, with a lexicon entry of its own."""
    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")
    import torch

    from tests.helpers.train_data import make_dataset, write_recipe
    from voicebank.text.lexicon import FILE_NAME, Lexicon
    from voicebank.train.export import export_voice
    from voicebank.train.finetune import finetune
    from voicebank.voice.registry import file_sha256

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("personal")
    data = make_dataset(root / "data", n_train=4, n_eval=1)
    finetune(write_recipe(root / "tiny.toml"), data, root / "trained", max_steps=2, threads=1, device="cpu")
    voice = export_voice(root / "trained", root / "me").onnx_path.parent
    mine = Lexicon()
    mine.add("Nguyen", "Win")
    mine.save(voice / FILE_NAME)
    before = {p.name: file_sha256(p) for p in voice.iterdir()}
    from voicebank.exports import export_sherpa

    out = export_sherpa(voice, root / "me-sherpa", espeak_data=False)
    return {"voice": voice, "out": out, "before": before}


@pytest.mark.slow
def test_a_personal_voice_exports_with_its_lexicon_and_speaks(personal: dict[str, Any]) -> None:
    from voicebank.engines import load_engine
    from voicebank.voice.registry import file_sha256

    voice, out = personal["voice"], personal["out"]
    assert {p.name: file_sha256(p) for p in voice.iterdir()} == personal["before"]  # the voice was only read
    assert out.lexicon.user_entries == 1 and not (out.out / "espeak-ng-data").exists()
    assert "nguyen || wˈɪn" in (out.out / "lexicon.txt").read_text(encoding="utf-8").splitlines()
    engine = load_engine(voice)
    tts = _sherpa(out.out)
    text = SENTENCES[1]
    ours = _ours(engine, text)
    assert _same(ours, _say(tts, codepoints=engine.phonemize(text))) > 60
    heard = _say(tts, text)
    assert abs(len(heard) - len(ours)) <= 0.10 * len(ours), (len(heard), len(ours))
    np.testing.assert_array_equal(_say(tts, "Call Nguyen today."), _say(tts, "Call win today."))


# ---------------------------------------------------------------------------- refusals


def _copy_stock(folder: Path) -> Path:
    from voicebank.voice.registry import stock_voice

    source = stock_voice(verify=False)
    folder.mkdir(parents=True)
    shutil.copyfile(source.config, folder / "v.onnx.json")
    return folder / "v.onnx"


def _xtts(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "voice.json").write_text(json.dumps({"engine": "xtts", "name": "x", "references": []}))
    return folder


def _kokoro(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "voice.json").write_text(json.dumps({"engine": "kokoro", "name": "k"}))
    return folder


def _truncated(folder: Path) -> Path:
    from voicebank.voice.registry import stock_voice

    model = _copy_stock(folder)
    model.write_bytes(stock_voice(verify=False).model.read_bytes()[: 5_000_000])
    return folder


def _not_onnx(folder: Path) -> Path:
    _copy_stock(folder).write_text("this is not a model\n")
    return folder


def _no_phoneme_map(folder: Path) -> Path:
    from voicebank.voice.registry import stock_voice

    model = _copy_stock(folder)
    shutil.copyfile(stock_voice(verify=False).model, model)
    config = json.loads((folder / "v.onnx.json").read_text(encoding="utf-8"))
    config["phoneme_id_map"] = {}
    (folder / "v.onnx.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_xtts, "XTTS voice"),
        (_kokoro, "kokoro voice"),
        (_truncated, "not a readable ONNX model"),
        (_not_onnx, "not a readable ONNX model"),
        (_no_phoneme_map, "no usable phoneme map"),
    ],
)
def test_a_voice_it_cannot_convert_is_refused_and_nothing_is_written(
    home: Path, tmp_path: Path, make: Any, message: str
) -> None:
    from voicebank.exports import export_sherpa

    voice = make(tmp_path / "voice")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ExportError, match=message):
        export_sherpa(voice, tmp_path / "out", word_list=WORDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no folder, no partial folder


def test_the_cli_refuses_with_the_reason_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    def export(voice: str, out: Path) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "voicebank.cli.main", "voice", "export", voice, "--format", "sherpa-onnx", "--out", str(out)]
        return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=300)

    proc = export(str(_not_onnx(tmp_path / "voice")), tmp_path / "out")
    assert proc.returncode == 2 and "not a readable ONNX model" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    proc = export("joe", tmp_path / "full")
    assert proc.returncode == 2 and "not an empty folder" in proc.stderr
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
