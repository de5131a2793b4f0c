"""Voice cards: the stock voice's built-in card, cards built for older voice folders, ``voice info``, and cards in exports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicebank.errors import CorruptFileError
from voicebank.voice.card import JOE_LICENCE, VoiceCard, card_for, new_card, read_card, write_card

REASON = "my own recordings, made by me for myself"


def _info(*args: str) -> tuple[int, str]:
    from voicebank.cli.main import app

    result = CliRunner().invoke(app, ["voice", "info", *args])
    return result.exit_code, result.output


def _personal(folder: Path) -> Path:
    """A Piper-format voice folder that is not the stock voice (its files copied), with a card made as training makes one."""
    from voicebank.voice.registry import stock_voice

    stock = stock_voice()
    folder.mkdir(parents=True)
    shutil.copyfile(stock.model, folder / "mine.onnx")
    shutil.copyfile(stock.config, folder / "mine.onnx.json")
    consent = {"status": "without-consent", "how": "none", "detail": "Made without a passing consent take.",
               "reason_without_consent": REASON}
    write_card(folder, new_card("mine", kind="piper", consent=consent, speaker="Anna",
                                training_data={"bank": "/banks/anna", "takes": 120, "minutes": 14.5},
                                base_model="joe-offline", base_licence=JOE_LICENCE))
    return folder


def test_the_stock_voice_has_a_card_with_its_licence(home: Path) -> None:
    from voicebank.voice.registry import stock_voice

    card = card_for("joe")
    assert card == card_for(None) == card_for(stock_voice().model), "by name or by its file"
    assert card.kind == "piper" and card.consent["status"] == "public-dataset"
    assert "non-commercial" in card.base_licence and "CC0" in card.base_licence
    code, shown = _info("joe")
    assert code == 0 and "Consent     public-dataset" in shown and "Licence" in shown and "non-commercial" in shown
    code, text = _info("joe", "--json")
    assert code == 0 and json.loads(text)["name"] == "joe"


def test_a_made_voice_shows_its_card_and_the_card_survives_a_round_trip(home: Path, tmp_path: Path) -> None:
    folder = _personal(tmp_path / "mine")
    card = read_card(folder)
    assert card is not None and VoiceCard.from_dict(json.loads((folder / "card.json").read_text())) == card
    assert card_for(folder) == card == card_for(folder / "mine.onnx"), "the folder or its .onnx: the same card"
    code, shown = _info(str(folder))
    assert code == 0, shown
    assert "Speaker     Anna" in shown and f"the reason given: {REASON}" in shown
    assert "/banks/anna (takes 120, minutes 14.5)" in shown and "voicebank " in shown
    (folder / "card.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="card.json"):
        read_card(folder)
    proc = subprocess.run([sys.executable, "-m", "voicebank.cli.main", "voice", "info", str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "damaged" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_an_older_voice_gets_a_card_from_what_its_folder_says(home: Path, tmp_path: Path) -> None:
    from voicebank.train.consent_gate import write_dataset_consent
    from voicebank.voice.training_record import write_training_record
    from voicebank.voice.xtts_card import write_card as write_xtts_card

    data = tmp_path / "data"
    data.mkdir()
    consent = {"status": "passed", "how": "recorded", "detail": "consent take passed"}
    write_dataset_consent(data, consent, bank=tmp_path / "bank", speaker="Bo", takes=40, minutes=5.0, held_out=4)
    trained = tmp_path / "trained"
    trained.mkdir()
    write_training_record(trained, {"recipe": {"name": "vits-offline", "model": "vits", "base": "required",
                                               "base_model": "joe-offline"},
                                    "base": str(tmp_path / "models" / "joe-offline"), "dataset": str(data)})
    card = card_for(trained)
    assert card.kind == "vits" and card.consent == consent and card.speaker == "Bo"
    assert card.training_data["takes"] == 40 and card.base_licence == JOE_LICENCE
    assert card.created == "unknown" and card.notes, "what is not known is said to be unknown"
    assert not (trained / "card.json").exists(), "reading never writes"

    old = _personal(tmp_path / "old")
    (old / "card.json").unlink()
    card = card_for(old)
    assert card.kind == "piper" and card.consent["status"] == "unknown" and card.base_licence == "unknown"

    xtts = tmp_path / "xtts"
    xtts.mkdir()
    write_xtts_card(xtts, name="x", kind="zero-shot", references=["references/a.wav"])
    card = card_for(xtts)
    assert card.kind == "xtts (zero-shot)" and "non-commercial" in card.base_licence and card.training_data["takes"] == 1


def test_a_voice_trained_further_from_a_voice_made_here_keeps_that_voices_base_and_licence(tmp_path: Path) -> None:
    from voicebank.voice.card import base_of

    first = tmp_path / "first"
    (first / "checkpoints" / "run-1").mkdir(parents=True)
    write_card(first, new_card("first", kind="vits", consent={"status": "passed"}, base_model="the offline base",
                               base_licence=JOE_LICENCE))
    recipe = {"name": "vits-offline", "model": "vits", "base": "required"}
    for given in (first, first / "model.pth", first / "checkpoints" / "run-1" / "checkpoint_3000.pth"):
        model, licence = base_of(recipe, str(given))
        assert licence == JOE_LICENCE and "'first'" in model and "the offline base" in model, (given, model)

    elsewhere = tmp_path / "coqui-vits"
    elsewhere.mkdir()  # a folder without a card: named as before, its licence left to its own model card
    model, licence = base_of(recipe, str(elsewhere))
    assert model == f"Coqui VITS ({elsewhere})" and "model card" in licence


def test_exports_carry_the_card(home: Path, tmp_path: Path) -> None:
    from voicebank.exports import export_speechd
    from voicebank.exports.sherpa import export_sherpa

    folder = _personal(tmp_path / "mine")
    export_speechd(folder, tmp_path / "speechd")
    words = tmp_path / "words.txt"
    words.write_text("hello\nvoice\n", encoding="utf-8")
    export_sherpa(folder, tmp_path / "sherpa", word_list=words, espeak_data=False)
    for out, fmt in ((tmp_path / "speechd", "speech-dispatcher"), (tmp_path / "sherpa", "sherpa-onnx")):
        card = read_card(out)
        assert card is not None and card.consent["reason_without_consent"] == REASON and card.speaker == "Anna"
        assert card.notes[-1].startswith(f"exported for {fmt} (voicebank ")
    export_speechd("joe", tmp_path / "stock")
    stock = read_card(tmp_path / "stock")
    assert stock is not None and stock.name == "joe" and stock.consent["status"] == "public-dataset"
