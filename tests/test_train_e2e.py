"""End to end on the CPU: real recordings → bank → dataset → tiny VITS → ONNX → speech → evaluation.

The path a user takes, with the shipped ``vits-tiny`` recipe standing in for a real
fine-tune (a few steps of a 0.4 M-parameter model: it babbles). Asserted are the things
each stage promises: files, splits, sample rates, shapes, durations that follow the text,
and the evaluation's JSON fields, not how the voice sounds.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow

pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")

CLIPS = 12  # the shortest clips of the sample: 8 to train on, 4 held out


@pytest.fixture(autouse=True)
def _one_thread_private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "home"))


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from voicebank.cli.main import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"voicebank {' '.join(args)}:\n{result.output}\n{result.exception!r}"
    return result


def test_recordings_to_a_spoken_and_evaluated_voice(tmp_path: Path, ljspeech: Path) -> None:
    from piper.voice import PiperVoice

    from voicebank.bank.importer import Importer
    from voicebank.bank.store import Bank
    from voicebank.engines import load_engine
    from voicebank.train.dataset import prepare_dataset
    from voicebank.train.evaluate import evaluate_voice

    # 1. import: the shortest real clips into a new bank
    rows = [r for r in (ljspeech / "metadata.csv").read_text(encoding="utf-8").splitlines() if r.strip()]
    rows.sort(key=lambda r: sf.info(str(ljspeech / "wavs" / f"{r.split('|')[0]}.wav")).frames)
    sample = tmp_path / "lj"
    (sample / "wavs").mkdir(parents=True)
    for r in rows[:CLIPS]:
        name = f"{r.split('|')[0]}.wav"
        (sample / "wavs" / name).symlink_to(ljspeech / "wavs" / name)
    (sample / "metadata.csv").write_text("\n".join(rows[:CLIPS]) + "\n", encoding="utf-8")
    with Bank.create(tmp_path / "bank") as bank:
        events = list(Importer(bank).import_ljspeech(sample))
    assert sum(e.kind == "take" for e in events) == CLIPS

    # 2. prepare: LJSpeech layout with a held-out split at the model's rate
    data = tmp_path / "data"
    report = prepare_dataset(tmp_path / "bank", data)
    assert (report.train, report.eval) == (CLIPS - 4, 4)
    train_ids = [line.split("|")[0] for line in (data / "metadata.csv").read_text().splitlines()]
    held_ids = [line.split("|")[0] for line in (data / "metadata_eval.csv").read_text().splitlines()]
    assert len(train_ids) == CLIPS - 4 and len(held_ids) == 4 and not set(train_ids) & set(held_ids)
    assert {sf.info(str(data / "wavs" / f"{i}.wav")).samplerate for i in train_ids + held_ids} == {22050}

    # 3. fine-tune (the tiny recipe from scratch), through the CLI
    voice = tmp_path / "voice"
    _cli("train", "finetune", "--recipe", "vits-tiny", "--dataset", str(data), "--out", str(voice),
         "--max-steps", "10", "--threads", "1", "--device", "cpu", "--without-consent", "test recordings")
    log = [json.loads(line) for line in (voice / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 11)) and log[-1]["loss_eval"] is not None
    assert (voice / "model.pth").is_file() and (voice / "config.json").is_file()

    # 4. export into the voice folder itself (the default)
    done = _cli("train", "export", str(voice))
    assert "Streaming   yes" in done.output
    (onnx_path,) = voice.glob("*.onnx")
    config = json.loads(Path(f"{onnx_path}.json").read_text())
    assert config["audio"]["sample_rate"] == 22050 and config["num_symbols"] == 256

    # 5. speak: voicebank's engine (streamed in windows) and Piper itself
    engine = load_engine(voice, threads=1)
    assert engine.streaming and engine.sample_rate == 22050
    short = "Good morning."
    long = "Good morning. I would like a cup of tea with milk and no sugar, and then a walk in the park."
    a_short = np.concatenate([c.as_float32() for c in engine.stream(short)])
    chunks = list(engine.stream(long))
    a_long = np.concatenate([c.as_float32() for c in chunks])
    assert len(chunks) >= 2 and all(c.sample_rate == 22050 for c in chunks)
    assert a_short.size > 0.1 * 22050 and a_long.size > 3 * a_short.size  # duration follows the text
    assert np.all(np.isfinite(a_long))

    piper = PiperVoice.load(str(onnx_path))
    wav_path = tmp_path / "piper.wav"
    with wave.open(str(wav_path), "wb") as wav:
        piper.synthesize_wav(long, wav)
    info = sf.info(str(wav_path))
    assert info.samplerate == 22050 and info.channels == 1
    assert 0.5 < info.frames / a_long.size < 2.0  # same voice, same text: about the same length

    # 6. evaluate against the real held-out recordings
    result = evaluate_voice(voice, data, baseline=None, out_dir=tmp_path / "eval", whisper="tiny.en")
    assert result["schema_version"] == 1 and result["baseline"] is None
    assert [u["id"] for u in result["utterances"]] == held_ids
    for row in result["utterances"]:
        assert row["seconds"] > 0 and row["rtf"] is not None and row["rtf"] > 0
        # a babbling voice may give Resemblyzer nothing to embed: similarity is then null
        assert row["similarity"] is None or -1.0 <= row["similarity"] <= 1.0
        assert row["wer"] >= 0 and row["mcd_db"] > 0 and row["words"] > 0
    assert set(result["mean"]) >= {"similarity", "wer", "mcd_db", "rtf"}
    assert len(result["real"]["utterances"]) == 4 and result["real"]["mean"]["similarity"] > 0.5
    written = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert written["utterances"] == result["utterances"]
