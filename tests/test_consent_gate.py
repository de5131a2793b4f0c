"""Training refuses a bank without the speaker's consent, unless a reason is given, and the reason reaches the voice's card.

Runs the real CLI (``voicebank train prepare / finetune / instant``, subprocesses) on a real
bank of LJSpeech clips, and the real instant-voice search (tiny settings) for the voice
whose card is checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LJSPEECH

REASON = "public-domain LJSpeech reader, used to test voicebank"
CLI = [sys.executable, "-m", "voicebank.cli.main"]


def _run(home: Path, *args: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VOICEBANK_HOME=str(home))
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A bank of six real takes (one reader), with no consent on file."""
    from voicebank.bank.importer import Importer
    from voicebank.bank.store import Bank

    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    root = tmp_path_factory.mktemp("gate")
    source = root / "lj6"
    (source / "wavs").mkdir(parents=True)
    rows = [r for r in (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines() if r][:6]
    for row in rows:
        shutil.copy(LJSPEECH / "wavs" / f"{row.split('|')[0]}.wav", source / "wavs")
    (source / "metadata.csv").write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    with Bank.create(root / "bank", speaker="Linda") as opened:
        assert sum(e.kind == "take" for e in Importer(opened).import_ljspeech(source)) == 6
    yield root / "bank"


def test_prepare_refuses_a_bank_without_consent_and_says_why_and_how_to_go_on(bank: Path, tmp_path: Path) -> None:
    proc = _run(tmp_path / "home", "train", "prepare", bank, tmp_path / "data")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    said = proc.stderr
    assert "Training needs the speaker's consent" in said and "Why:" in said
    assert "consent" in said.split("Why:")[1].splitlines()[0].lower(), "the reason names what is missing"
    assert f"voicebank consent record {bank}" in said
    assert f"voicebank consent written {bank}" in said and "--attested-by" in said
    assert '--without-consent "the reason"' in said
    assert not (tmp_path / "data").exists(), "nothing is written"


@pytest.fixture(scope="module")
def prepared(bank: Path, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bank's dataset, made with a reason instead of consent (through the CLI)."""
    data = tmp_path_factory.mktemp("prepared") / "data"
    proc = _run(home, "train", "prepare", bank, data, "--without-consent", REASON, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["consent"]["reason_without_consent"] == REASON
    return data


def test_with_a_reason_prepare_goes_on_and_keeps_the_reason_with_the_dataset(bank: Path, prepared: Path) -> None:
    kept = json.loads((prepared / "consent.json").read_text(encoding="utf-8"))
    assert kept["consent"]["status"] == "without-consent" and kept["consent"]["reason_without_consent"] == REASON
    assert kept["speaker"] == "Linda" and kept["training_data"]["bank"] == str(bank.resolve())
    assert kept["training_data"]["takes"] + kept["training_data"]["held_out"] == 6


@pytest.mark.slow
def test_the_reason_reaches_a_trained_voices_card_and_its_export(bank: Path, prepared: Path, home: Path,
                                                                tmp_path: Path) -> None:
    pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")
    voice = tmp_path / "voice"
    proc = _run(home, "train", "finetune", "--recipe", "vits-tiny", "--dataset", prepared, "--out", voice,
                "--max-steps", "1", "--threads", "1", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    card = json.loads((voice / "card.json").read_text(encoding="utf-8"))
    assert card["kind"] == "vits" and card["consent"]["reason_without_consent"] == REASON and card["speaker"] == "Linda"
    assert card["base_model"] == "none (trained from scratch)" and card["training_data"]["dataset"] == str(prepared.resolve())
    proc = _run(home, "train", "export", voice, "--out", tmp_path / "exported")
    assert proc.returncode == 0, proc.stderr
    shown = _run(home, "voice", "info", tmp_path / "exported").stdout
    assert shown.splitlines()[0] == "Voice       voice (piper)", shown
    assert f"the reason given: {REASON}" in shown and "Note        exported as voice.onnx" in shown, shown


@pytest.mark.slow
def test_resume_keeps_the_reason_the_run_was_started_with(prepared: Path, home: Path, tmp_path: Path) -> None:
    """A dataset with no consent record (made before consent was checked): the reason given when the
    run started is in its card, so --resume goes on without being told again, and keeps it."""
    pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")
    data = tmp_path / "old-data"
    shutil.copytree(prepared, data)
    (data / "consent.json").unlink()
    voice = tmp_path / "voice"
    common = ["--max-steps", "1", "--threads", "1", "--device", "cpu"]
    proc = _run(home, "train", "finetune", "--recipe", "vits-tiny", "--dataset", data, "--out", voice, *common,
                "--without-consent", REASON)
    assert proc.returncode == 0, proc.stderr
    common[1] = "2"
    proc = _run(home, "train", "finetune", "--resume", "--out", voice, *common)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    card = json.loads((voice / "card.json").read_text(encoding="utf-8"))
    assert card["consent"]["reason_without_consent"] == REASON and card["training_data"]["data"] == str(data.resolve())


@pytest.mark.slow
def test_the_reason_reaches_an_instant_voices_card(bank: Path, prepared: Path, home: Path, tmp_path: Path) -> None:
    data = prepared
    from tests.test_kokoro import _installed

    _installed()
    from voicebank.train.consent_gate import dataset_consent
    from voicebank.train.instant import InstantSettings, make_instant_voice

    settings = InstantSettings(minutes=5, voices=("af_heart",), guide_count=2, validation_count=1, screen_count=1,
                               keep=1, max_steps=0, max_symbols=30, dims=1)
    voice = tmp_path / "voice"
    make_instant_voice(data, voice, settings, consent=dataset_consent(data, None))  # what 'train instant' does
    proc = _run(home, "voice", "info", voice, "--json")
    assert proc.returncode == 0, proc.stderr
    card = json.loads(proc.stdout)
    assert card["consent"]["status"] == "without-consent" and card["consent"]["reason_without_consent"] == REASON
    assert card["speaker"] == "Linda" and card["kind"] == "instant" and card["base_model"] == "Kokoro-82M"
    assert card["training_data"]["bank"] == str(bank.resolve()) and card["toolkit"].startswith("voicebank ")
    shown = _run(home, "voice", "info", voice).stdout
    assert f"the reason given: {REASON}" in shown and "Apache-2.0" in shown


def test_finetune_and_instant_refuse_data_without_a_consent_record(bank: Path, tmp_path: Path) -> None:
    plain = tmp_path / "recordings"
    (plain / "wavs").mkdir(parents=True)
    clip = sorted(LJSPEECH.glob("wavs/*.wav"))[0]
    shutil.copy(clip, plain / "wavs")
    (plain / "metadata.csv").write_text(f"{clip.stem}|Words.|Words.\n", encoding="utf-8")
    for args in (["train", "finetune", "--recipe", "vits-tiny", "--dataset", plain, "--out", tmp_path / "v1"],
                 ["train", "instant", plain, "--out", tmp_path / "v2"]):
        proc = _run(tmp_path / "home", *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "holds no consent record" in proc.stderr and '--without-consent "the reason"' in proc.stderr
        assert "voicebank train prepare BANK" in proc.stderr
    assert not (tmp_path / "v1").exists() and not (tmp_path / "v2").exists()
    proc = _run(tmp_path / "home", "train", "prepare", bank, tmp_path / "d", "--without-consent", " ")
    assert proc.returncode == 2 and "needs the reason in words" in proc.stderr


def test_written_consent_lets_training_go_on_and_is_what_the_card_says(bank: Path, tmp_path: Path) -> None:
    from voicebank.provenance.consent import save_written
    from voicebank.train.consent_gate import require_consent, training_card

    own = tmp_path / "bank"
    shutil.copytree(bank, own)
    save_written(own, reason="can no longer speak; consent signed on 2026-12-01", attested_by="Dr A. Example")
    consent = require_consent(own, None)
    assert consent["status"] == "passed" and consent["how"] == "written" and "Dr A. Example" in consent["detail"]
    proc = _run(tmp_path / "home", "train", "prepare", own, tmp_path / "data", "--json")
    assert proc.returncode == 0, proc.stderr
    card = training_card("v", "vits", json.loads(proc.stdout)["consent"], data=tmp_path / "data", recipe={"base": "none"})
    assert card.consent["status"] == "passed" and card.speaker == "Linda" and card.training_data["takes"] >= 3
