"""Listening while training: the held-out texts spoken through the inference path and scored.

Real components throughout: the stock voice imported into Coqui's VITS speaks real
LJSpeech held-out texts; Resemblyzer and PocketSphinx score them against the real
recordings; a tiny VITS really trains with the check switched on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LJSPEECH
from tests.helpers.train_data import make_dataset, write_recipe

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (LJSPEECH / "metadata.csv").is_file(), reason=f"real recordings not available: {LJSPEECH} is absent"),
]
pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    return make_dataset(tmp_path_factory.mktemp("ds") / "data", n_train=8, n_eval=2)


def test_stock_voice_is_scored_as_another_speaker_who_speaks_clearly(dataset: Path) -> None:
    import torch

    from voicebank.voice.registry import stock_voice
    from voicebank.train.speech_check import SpeechCheck

    stock = stock_voice()
    from voicebank.train.piper_import import import_voice

    model, config, _ = import_voice(stock.model, stock.config)
    model.train()  # as the fine-tuner hands it over
    check = SpeechCheck(dataset, "en-us", int(config.audio.sample_rate))

    torch.manual_seed(7)
    before = torch.get_rng_state()
    first = check(model)
    assert torch.equal(torch.get_rng_state(), before), "the check must not change the training's random numbers"
    assert model.training, "the model goes back to training mode"
    assert check(model) == first, "fixed noise: the same model scores the same"

    # joe (a man) against LJ (a woman): different speakers score 0.43-0.70 (DESIGN.md);
    # the stock voice is clear, so PocketSphinx gets most words of these short sentences.
    assert 0.3 < first["similarity"] < 0.75, first
    assert first["wer"] is not None and first["wer"] < 0.6, first


def test_finetune_logs_similarity_and_wer_at_each_evaluation(dataset: Path, tmp_path: Path) -> None:
    from voicebank.train.finetune import TrainEvent, finetune, read_train_log

    recipe = write_recipe(tmp_path / "tiny.toml", training={"eval_every_steps": 2, "speak_held_out": True})
    events: list[TrainEvent] = []
    result = finetune(recipe, dataset, tmp_path / "voice", max_steps=4, threads=1, device="cpu", on_event=events.append)

    rows = read_train_log(tmp_path / "voice")
    scored = [r for r in rows if "wer" in r]
    assert [r["step"] for r in scored] == [2, 4]
    assert [r["step"] for r in rows if r["loss_eval"] is not None] == [2, 4]
    for r in scored:
        # four steps from scratch babble (or stay silent: no similarity then, every word missed);
        # the recognizer finds almost none of the words
        assert r["similarity"] is None or -1.0 <= r["similarity"] <= 1.0, r
        assert r["wer"] >= 0.8, r
    evals = [e for e in events if e.kind == "eval"]
    assert [(e.similarity, e.wer) for e in evals] == [(r["similarity"], r["wer"]) for r in scored]
    side = json.loads(next(p for p in result.checkpoints if p.stem.endswith("_4")).with_suffix(".json").read_text())
    assert side["wer"] == scored[-1]["wer"]


def test_check_is_off_unless_the_recipe_asks(dataset: Path, tmp_path: Path) -> None:
    from voicebank.train.finetune import finetune, read_train_log

    recipe = write_recipe(tmp_path / "tiny.toml", training={"eval_every_steps": 2})
    finetune(recipe, dataset, tmp_path / "voice", max_steps=2, threads=1, device="cpu")
    rows: list[dict[str, Any]] = read_train_log(tmp_path / "voice")
    assert rows[-1]["loss_eval"] is not None and "wer" not in rows[-1]
