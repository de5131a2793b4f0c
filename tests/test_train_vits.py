"""VITS training: recipes, Piper phoneme ids, fine-tuning, checkpoints, resume, early stopping, export.

Everything runs for real on the CPU: a tiny VITS (``vits-tiny``: 0.4 M generator parameters,
~0.25 s per step on one core) is trained for a handful of steps on the shortest clips of the
LJSpeech sample, exported to ONNX, and spoken by Piper and by voicebank's engine. The
assertions are about properties (files, ids, shapes, rates, steps, learning rates, optimizer
state), not about how the babbling voice sounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import LJSPEECH
from tests.helpers.tmpfs import small_tmpfs
from tests.helpers.train_data import make_dataset, one_thread_session_home, sigkill_when, write_recipe  # noqa: F401 (autouse)
from voicebank.durable import is_partial
from voicebank.errors import UsageError

pytestmark = pytest.mark.skipif(not (LJSPEECH / "metadata.csv").is_file(), reason=f"real recordings not available: {LJSPEECH} is absent")

pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("ds") / "data", n_train=8, n_eval=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, dataset: Path) -> dict[str, Any]:
    """A tiny voice trained for 12 steps (evaluated and checkpointed every 4), with its events."""
    from voicebank.train.finetune import finetune

    root = tmp_path_factory.mktemp("trained")
    recipe = write_recipe(root / "tiny.toml", training={"eval_every_steps": 4, "keep_checkpoints": 2})
    events: list[Any] = []
    result = finetune(recipe, dataset, root / "voice", max_steps=12, threads=1, device="cpu", on_event=events.append)
    return {"result": result, "events": events, "voice": root / "voice", "recipe": recipe}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, trained: dict[str, Any]) -> Any:
    from voicebank.train.export import export_voice

    return export_voice(trained["voice"], tmp_path_factory.mktemp("onnx") / "me")


# ----------------------------------------------------------------------------- recipes


def test_shipped_recipes_load_and_round_trip() -> None:
    from voicebank.train.recipes import Recipe, available_recipes, load_recipe

    names = available_recipes()
    assert {"vits", "vits-tiny"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert Recipe.from_dict(recipe.to_dict()) == recipe
    full, tiny = load_recipe("vits"), load_recipe("vits-tiny")
    assert full.base == "required" and full.vits is None and full.audio is None
    assert tiny.from_scratch and tiny.vits is not None and tiny.vits.hop_length == tiny.audio.hop_length == 256
    assert full.early_stopping.patience >= 1 and 0 < full.early_stopping.min_delta < 0.05


def test_recipe_errors_name_the_problem(tmp_path: Path) -> None:
    from voicebank.train.recipes import RecipeError, load_recipe

    with pytest.raises(RecipeError, match="Unknown recipe 'vitz'.*vits-tiny"):
        load_recipe("vitz")
    typo = write_recipe(tmp_path / "typo.toml", training={"batch_sise": 4})
    with pytest.raises(RecipeError, match=r"\[training\].*batch_sise"):
        load_recipe(typo)
    stray = write_recipe(tmp_path / "stray.toml", learning_rate=0.1)
    with pytest.raises(RecipeError, match="Unknown key.*learning_rate"):
        load_recipe(stray)
    wrong = write_recipe(tmp_path / "wrong.toml", training={"batch_size": "big"})
    with pytest.raises(RecipeError, match="batch_size.*whole number"):
        load_recipe(wrong)
    old = write_recipe(tmp_path / "old.toml", schema_version=99)
    with pytest.raises(RecipeError, match="schema_version 99"):
        load_recipe(old)
    with pytest.raises(RecipeError, match="No recipe file"):
        load_recipe(tmp_path / "absent.toml")
    no_kl = write_recipe(tmp_path / "no_kl.toml", training={"kl_weight": 0.0})
    with pytest.raises(RecipeError, match="kl_weight must be positive"):
        load_recipe(no_kl)
    mine = write_recipe(tmp_path / "mine.toml", training={"batch_size": 2})
    assert load_recipe(str(mine)).training.batch_size == 2


def test_recipe_settings_reach_coqui_config(tmp_path: Path) -> None:
    from voicebank.train import vits
    from voicebank.train.recipes import load_recipe

    recipe = load_recipe(write_recipe(tmp_path / "r.toml", training={"kl_weight": 3.0, "freeze": ["flow"]}))
    config = vits.build_config(recipe, None, tmp_path / "out")
    assert config.kl_loss_alpha == 3.0
    assert config.model_args.freeze_flow_decoder and not config.model_args.freeze_encoder


def test_a_module_inside_a_part_can_be_frozen_alone(tmp_path: Path) -> None:
    """freeze = ["flow.flows.0"] fixes the first coupling layer and leaves the rest of the flow trainable."""
    from voicebank.train import vits
    from voicebank.train.recipes import RecipeError, load_recipe

    recipe = load_recipe(write_recipe(tmp_path / "r.toml", training={"freeze": ["text_encoder", "flow.flows.0"]}))
    config = vits.build_config(recipe, None, tmp_path / "out")
    assert config.model_args.freeze_encoder and not config.model_args.freeze_flow_decoder
    model = vits.make_model(config, recipe)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    first = [n for n, _ in model.named_parameters() if n.startswith("flow.flows.0.")]
    second = [n for n, _ in model.named_parameters() if n.startswith("flow.flows.1.")]
    assert first and second and not trainable.intersection(first) and trainable.issuperset(second)
    assert not any(n.startswith("text_encoder.") for n in trainable)
    assert any(n.startswith("waveform_decoder.") for n in trainable)

    nowhere = load_recipe(write_recipe(tmp_path / "n.toml", training={"freeze": ["flow.flows.99"]}))
    with pytest.raises(UsageError, match="no module 'flow.flows.99'"):
        vits.make_model(vits.build_config(nowhere, None, tmp_path / "out"), nowhere)
    with pytest.raises(RecipeError, match="unknown part"):
        load_recipe(write_recipe(tmp_path / "b.toml", training={"freeze": ["decoder.flows.0"]}))


def _one_clip_batch(model: Any, config: Any) -> dict[str, Any]:
    """A training batch of one real clip (its phoneme ids, waveform, spectrograms), as Coqui's loader makes it."""
    import torch
    from TTS.tts.utils.text.tokenizer import TTSTokenizer

    from tests.helpers.train_data import ljspeech_rows
    from voicebank.audio import read_audio
    from voicebank.train import vits

    uid, _, text = ljspeech_rows()[0].split("|")
    samples, rate = read_audio(LJSPEECH / "wavs" / f"{uid}.wav")
    assert rate == config.audio.sample_rate
    tokenizer, _ = TTSTokenizer.init_from_config(config)
    ids = tokenizer.text_to_ids(vits.phonemize([text], "en-us")[0])
    batch = {
        "tokens": torch.LongTensor([ids]),
        "token_lens": torch.LongTensor([len(ids)]),
        "waveform": torch.from_numpy(np.asarray(samples, dtype=np.float32)).view(1, 1, -1),
        "waveform_rel_lens": torch.FloatTensor([1.0]),
        "speaker_names": [vits.SPEAKER], "audio_unique_names": [uid], "language_names": [""],
    }
    return model.format_batch_on_device(model.format_batch(batch))


def test_prior_path_loss_trains_only_the_decoder_on_what_it_hears_at_inference(tmp_path: Path) -> None:
    """prior_decoder_weight adds a mel loss of the decoder speaking the clip from the text's prior;
    its gradient reaches the decoder only, it is off in evaluation, and weight 0 means no extra pass."""
    import torch

    from voicebank.train import vits
    from voicebank.train.recipes import RecipeError, load_recipe

    torch.manual_seed(0)
    recipe = load_recipe(write_recipe(tmp_path / "p.toml", training={"prior_decoder_weight": 2.0}))
    config = vits.build_config(recipe, None, tmp_path / "out")
    model = vits.make_model(config, recipe)
    assert model.prior_decoder_weight == 2.0 and model.prior_noise_scale == recipe.inference.noise_scale
    criteria = model.get_criterion()
    batch = _one_clip_batch(model, config)

    model.train()
    model.train_step(batch, criteria[0], optimizer_idx=0)
    outputs, losses = model.train_step(batch, criteria[1], optimizer_idx=1)
    prior = losses["loss_prior_mel"]
    assert torch.isfinite(prior) and prior.item() > 0
    assert outputs["prior_outputs"].shape == outputs["model_outputs"].shape
    parts = ("loss_kl", "loss_feat", "loss_mel", "loss_gen", "loss_duration")
    assert losses["loss"].item() == pytest.approx(sum(losses[k].item() for k in parts) + prior.item(), rel=1e-5)
    # the prior path decodes the frames of the posterior path's segment: a randomly initialised
    # decoder is far from the recording both ways, but the two losses are of the same size
    assert 0.2 < prior.item() / (2.0 * losses["loss_mel"].item()) < 5.0

    model.zero_grad()
    prior.backward()
    moved = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert moved == {"waveform_decoder"}

    model.eval()
    with torch.no_grad():
        model.train_step(batch, criteria[0], optimizer_idx=0)
        _, held_out = model.train_step(batch, criteria[1], optimizer_idx=1)
    assert "loss_prior_mel" not in held_out  # the held-out loss stays comparable with and without it

    off = load_recipe(write_recipe(tmp_path / "o.toml"))
    plain = vits.make_model(vits.build_config(off, None, tmp_path / "out"), off).train()
    disc_loss, gen_loss = plain.get_criterion()
    plain.train_step(batch, disc_loss, optimizer_idx=0)
    outputs, losses = plain.train_step(batch, gen_loss, optimizer_idx=1)
    assert "loss_prior_mel" not in losses and "prior_outputs" not in outputs
    with pytest.raises(RecipeError, match="prior_decoder_weight"):
        load_recipe(write_recipe(tmp_path / "n.toml", training={"prior_decoder_weight": -1.0}))


# ----------------------------------------------------------------------------- phoneme ids


def test_coqui_tokenizer_emits_piper_ids() -> None:
    """The ids Coqui trains on are the ids Piper computes at run time for the same phonemes."""
    from piper.phoneme_ids import phonemes_to_ids
    from TTS.tts.utils.text.tokenizer import TTSTokenizer

    from voicebank.train import vits
    from voicebank.train.recipes import load_recipe

    config = vits.build_config(load_recipe("vits-tiny"), None, Path("unused"))
    tokenizer, _ = TTSTokenizer.init_from_config(config)
    id_map = vits.piper_phoneme_id_map()
    assert len(id_map) == 151 and id_map["_"] == [0] and id_map["^"] == [1] and id_map["$"] == [2] and id_map[" "] == [3]
    assert tokenizer.characters.num_chars == 256
    phonemes = vits.phonemize(["Hello there, how are you today?"], "en-us")[0]
    assert tokenizer.text_to_ids(phonemes) == phonemes_to_ids(list(phonemes), id_map)


def test_transcripts_espeak_would_misread_are_named() -> None:
    from voicebank.voice.transcripts import transcript_problem

    assert transcript_problem("Printing, in the only sense; résumé café (2024)!", "en-us") is None
    problem = transcript_problem("I ❤ you 😀", "en-us")
    assert problem and "HEAVY BLACK HEART" in problem and "GRINNING FACE" in problem
    assert "CJK" in (transcript_problem("漢字です", "en-us") or "")
    assert transcript_problem("...", "en-us") == "no words to say"
    assert transcript_problem("Привет", "ru") is None  # a Cyrillic voice reads Cyrillic


# ----------------------------------------------------------------------------- early stopping


def test_early_stopper_counts_evaluations_without_relative_improvement() -> None:
    from voicebank.train.finetune import EarlyStopper

    es = EarlyStopper(patience=2, min_delta=0.01, min_steps=30)
    assert es.update(10, 100.0) == (True, False)
    assert es.update(20, 99.5) == (False, False)  # 0.5 % better: below min_delta
    assert es.update(25, 101.0) == (False, False)  # patience reached but before min_steps
    assert es.update(30, 98.0) == (True, False)
    assert es.update(40, float("nan")) == (False, False)
    assert es.update(50, 99.0) == (False, True)
    assert (es.best, es.best_step) == (98.0, 30)
    again = EarlyStopper(patience=2)
    again.restore(es.to_dict())
    assert (again.best, again.best_step, again.bad_evals) == (98.0, 30, 2)


def test_early_stopping_stops_a_run_whose_held_out_loss_rises(tmp_path: Path, dataset: Path) -> None:
    """A learning rate 500x too high makes the held-out loss climb at once; the run stops long before max_steps."""
    from voicebank.train.finetune import MODEL_FILE, finetune, read_train_log

    recipe = write_recipe(
        tmp_path / "hot.toml",
        training={"lr_gen": 0.1, "lr_disc": 0.1, "eval_every_steps": 1},
        early_stopping={"patience": 2, "min_delta": 0.0, "min_steps": 0},
    )
    result = finetune(recipe, dataset, tmp_path / "voice", max_steps=40, threads=1)
    assert result.stop_reason == "early_stopping"
    assert result.steps < 40
    evals = [(r["step"], r["loss_eval"]) for r in read_train_log(tmp_path / "voice") if r["loss_eval"] is not None]
    best_step, best = min(evals, key=lambda e: e[1])
    assert (result.best_step, result.best_loss_eval) == (best_step, pytest.approx(best))
    later = [loss for step, loss in evals if step > best_step]
    assert len(later) == 2 and min(later) > best  # it rose, twice in a row, then training stopped
    import torch

    kept = torch.load(tmp_path / "voice" / MODEL_FILE, weights_only=False)
    assert kept["step"] == best_step  # the voice kept is the best one, not the last


# ----------------------------------------------------------------------------- fine-tuning


def test_finetune_writes_voice_log_and_keeps_the_last_checkpoints(trained: dict[str, Any]) -> None:
    import torch

    from voicebank.train import vits
    from voicebank.train.finetune import read_train_log

    result, voice = trained["result"], trained["voice"]
    assert result.steps == 12 and result.stop_reason == "max_steps"
    assert 0.0 < result.seconds_per_step < 30.0
    rows = read_train_log(voice)
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert all(set(r) >= {"step", "loss_train", "loss_eval"} for r in rows)
    assert [r["step"] for r in rows if r["loss_eval"] is not None] == [4, 8, 12]
    assert all(np.isfinite(r["loss_train"]) and r["loss_train"] > 0 for r in rows)

    # keep_checkpoints = 2, plus the best one if it is older
    steps = sorted(int(p.stem.split("_")[1]) for p in result.checkpoints)
    assert steps[-2:] == [8, 12] and set(steps) <= {result.best_step, 8, 12}
    for p in result.checkpoints:
        assert p.with_suffix(".json").is_file()
    assert not [p for p in voice.rglob("*") if is_partial(p.name)]

    state = json.loads((voice / "training.json").read_text())
    assert state["status"] == "finished" and state["steps"] == 12 and state["stop_reason"] == "max_steps"

    # the generator-only voice: no discriminator, loads strictly into a model built from config.json
    saved = torch.load(voice / "model.pth", weights_only=False)
    assert saved["step"] == result.best_step
    assert not any(k.startswith("disc.") for k in saved["model"])
    config = vits.load_config(voice / "config.json")
    assert config.model_args.init_discriminator is False
    vits.VoicebankVits(config).load_state_dict(saved["model"], strict=True)
    assert (voice / "model.pth").stat().st_size < result.checkpoints[-1].stat().st_size
    kinds = {e.kind for e in trained["events"]}
    assert {"start", "step", "eval", "checkpoint", "best", "stop"} <= kinds


def test_library_prints_nothing(capfd: pytest.CaptureFixture[str], tmp_path: Path, dataset: Path) -> None:
    from voicebank.train.finetune import finetune

    recipe = write_recipe(tmp_path / "r.toml", training={"eval_every_steps": 2})
    finetune(recipe, dataset, tmp_path / "voice", max_steps=2, threads=1)
    out, err = capfd.readouterr()
    assert out == "" and "CHECKPOINT" not in err and "EPOCH" not in err and "%|" not in err


@pytest.mark.slow
def test_resume_after_sigkill_continues_step_count_optimizer_and_lr(tmp_path: Path, dataset: Path) -> None:
    """Kill the training process (SIGKILL) right after a checkpoint; --resume goes on from there."""
    import torch

    from voicebank.train.finetune import read_train_log

    voice = tmp_path / "voice"
    # lr_decay 0.5 per epoch (2 steps per epoch here) makes a restarted schedule obvious
    recipe = write_recipe(tmp_path / "r.toml", training={"eval_every_steps": 4, "lr_decay": 0.5, "keep_checkpoints": 3})
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "voicebank.cli.main", "train", "finetune", "--out", str(voice), "--threads", "1", "--device", "cpu",
           "--without-consent", "test recordings"]
    proc = subprocess.Popen(
        cmd + ["--recipe", str(recipe), "--dataset", str(dataset), "--max-steps", "12"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    sigkill_when(proc, lambda: any(p.with_suffix(".pth").is_file() for p in voice.glob("checkpoints/*/checkpoint_*.json")))
    done = sorted(int(p.stem.split("_")[1]) for p in voice.glob("checkpoints/*/checkpoint_*.pth"))
    killed_at = done[-1]
    assert 4 <= killed_at < 12
    lr_before = {r["step"]: r["lr"] for r in read_train_log(voice)}

    resumed = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resumed from checkpoint_{killed_at}.pth (step {killed_at}" in resumed.stdout

    rows = read_train_log(voice)
    assert [r["step"] for r in rows] == list(range(1, 13))  # no gap, no repeat, no restart at 1
    lr = {r["step"]: r["lr"] for r in rows}
    lr0 = lr[1]
    assert lr[killed_at + 1] <= lr_before[killed_at] < lr0  # the schedule went on, it did not restart
    assert lr[12] < lr0 * 0.5**3

    ckpt = torch.load(next(voice.glob("checkpoints/*/checkpoint_12.pth")), map_location="cpu", weights_only=False)
    assert ckpt["step"] == 11  # Coqui's convention: the next run continues at step + 1
    for optimizer in ckpt["optimizer"]:  # AdamW's own step counter: 12 updates in all, not 12 - killed_at
        counts = {float(s["step"]) for s in optimizer["state"].values()}
        assert counts == {12.0}
    state = json.loads((voice / "training.json").read_text())
    assert state["steps"] == 12 and state["status"] == "finished"


@pytest.mark.slow
def test_decoder_ceiling_script_scores_the_three_ways_of_speaking_against_the_recordings(
    tmp_path: Path, trained: dict[str, Any], dataset: Path
) -> None:
    """scripts/decoder_ceiling.py on a tiny voice: the recordings score as one speaker; the babbling
    12-step voice, whichever way it speaks, is far from them; a checkpoint loads like the voice."""
    from tests.helpers.scripts import load_script
    from voicebank.train.checkpoints import list_checkpoints
    from voicebank.train.speaker_verify import ECAPA_THRESHOLD

    script = load_script("decoder_ceiling")

    out = tmp_path / "ceiling.json"
    assert script.main([str(trained["voice"]), str(dataset), "--takes", "1", "--threads", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["held_out"] == 2 and result["takes"] == 1
    assert result["real"]["mean"] > ECAPA_THRESHOLD  # two LJSpeech recordings: one speaker
    for way in ("reconstructed", "real_timing", "spoken"):
        low, high = result[way]["ci95"]
        assert low <= result[way]["mean"] <= high and result[way]["mean"] < result["real"]["mean"] - 0.2, (way, result)

    record = json.loads((trained["voice"] / "training.json").read_text())
    (_, checkpoint), *_ = sorted(list_checkpoints(trained["voice"] / record["run_dir"]))
    assert script.probe(checkpoint, dataset, takes=1, threads=1)["held_out"] == 2


# ----------------------------------------------------------------------------- bad inputs


def test_dataset_with_one_utterance_is_refused(tmp_path: Path, trained: dict[str, Any]) -> None:
    from voicebank.train.finetune import TrainingError, finetune

    one = make_dataset(tmp_path / "one", n_train=1, n_eval=1)
    with pytest.raises(TrainingError, match="1 training utterance;.*at least 2"):
        finetune("vits-tiny", one, tmp_path / "voice", threads=1)
    assert not (tmp_path / "voice" / "checkpoints").exists()
    (one / "metadata_eval.csv").unlink()
    with pytest.raises(TrainingError, match="no held-out utterances"):
        finetune("vits-tiny", one, tmp_path / "voice2", threads=1)

    # resuming a real run with it: refused before anything is touched
    voice = trained["voice"]
    before = {p: p.stat().st_mtime_ns for p in voice.rglob("*") if p.is_file()}
    with pytest.raises(TrainingError, match="held-out"):
        finetune(None, one, voice, resume=True, threads=1)
    assert {p: p.stat().st_mtime_ns for p in voice.rglob("*") if p.is_file()} == before


def test_unreadable_transcripts_are_listed_before_training(tmp_path: Path) -> None:
    from tests.helpers.train_data import ljspeech_rows
    from voicebank.train.dataset import DatasetError
    from voicebank.train.finetune import finetune

    ids = [r.split("|")[0] for r in ljspeech_rows()[:4]]
    data = make_dataset(tmp_path / "bad", n_train=3, n_eval=1, texts={ids[1]: "I ❤ you 😀", ids[3]: "漢字です"})
    with pytest.raises(DatasetError) as info:
        finetune("vits-tiny", data, tmp_path / "voice", threads=1)
    message = str(info.value)
    assert ids[1] in message and "HEAVY BLACK HEART" in message and "GRINNING FACE" in message
    assert ids[3] in message and "CJK" in message
    assert ids[0] not in message
    assert not (tmp_path / "voice" / "checkpoints").exists()


def test_missing_base_model_is_an_offline_error_saying_what_to_get(tmp_path: Path, dataset: Path) -> None:
    from voicebank.errors import BaseModelMissing
    from voicebank.train.finetune import finetune

    missing = tmp_path / "no-such-base"
    with pytest.raises(BaseModelMissing) as info:
        finetune("vits", dataset, tmp_path / "voice", base=missing, threads=1)
    message = str(info.value)
    assert "tts_models/en/ljspeech/vits" in message and str(missing) in message
    assert "voicebank train base download vits" in message
    assert not (tmp_path / "voice").exists()


def test_from_scratch_recipe_refuses_a_base(tmp_path: Path, dataset: Path) -> None:
    from voicebank.train.finetune import finetune

    with pytest.raises(UsageError, match="from scratch"):
        finetune("vits-tiny", dataset, tmp_path / "voice", base=tmp_path)


def test_xtts_recipe_is_handed_to_the_xtts_trainer(tmp_path: Path, dataset: Path) -> None:
    from voicebank.errors import BaseModelMissing
    from voicebank.train.finetune import finetune

    with pytest.raises(BaseModelMissing, match="XTTS"):
        finetune("xtts-v2", dataset, tmp_path / "voice", base=tmp_path / "no-xtts-here")


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 12 MB tmpfs (root only); unmounted afterwards."""
    with small_tmpfs(tmp_path / "disk", "12m") as mount:
        yield mount


def test_full_disk_during_checkpointing_keeps_earlier_checkpoints_usable(small_disk: Path, tmp_path: Path, dataset: Path) -> None:
    """Checkpoints of the tiny model are ~5.6 MB: the second one does not fit in 12 MB next to the first."""
    import torch

    from voicebank.train.finetune import CheckpointError, finetune, read_train_log

    voice = small_disk / "voice"
    recipe = write_recipe(tmp_path / "r.toml", training={"eval_every_steps": 2, "keep_checkpoints": 3})
    with pytest.raises(CheckpointError) as info:
        finetune(recipe, dataset, voice, max_steps=40, threads=1)
    message = str(info.value)
    assert "disk space" in message and "--resume" in message and "checkpoint_2.pth" in message
    assert not [p for p in voice.rglob("*") if is_partial(p.name)]
    (ckpt,) = voice.glob("checkpoints/*/checkpoint_2.pth")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert state["step"] == 1 and len(state["optimizer"]) == 2 and state["model"]
    # the voice itself (small) was saved before the checkpoint that did not fit
    assert torch.load(voice / "model.pth", weights_only=False)["step"] in (2, 4)

    # with room again, the run resumes from the checkpoint that was kept
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    result = finetune(None, None, voice, resume=True, max_steps=6, threads=1)
    assert result.resumed_from == 2 and result.steps == 6
    assert [r["step"] for r in read_train_log(voice)] == list(range(1, 7))


def test_full_disk_in_the_middle_of_a_write_leaves_the_old_file(small_disk: Path) -> None:
    """The free-space check can be fooled (another program fills the disk): the write itself fails safely."""
    from voicebank.train.checkpoints import CheckpointError, write_atomic

    target = small_disk / "checkpoint_1.pth"
    target.write_bytes(b"old checkpoint" * 1000)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            for _ in range(40):  # 40 MB into 12 MB
                fh.write(b"\0" * (1 << 20))

    def error(exc: BaseException, path: Path) -> CheckpointError:
        return CheckpointError(f"{path.name}: {exc}")

    with pytest.raises(CheckpointError, match="No space left"):
        write_atomic(target, write, error)
    assert target.read_bytes() == b"old checkpoint" * 1000
    assert sorted(p.name for p in small_disk.iterdir()) == ["checkpoint_1.pth"]


# ----------------------------------------------------------------------------- export


def test_export_is_a_piper_voice(exported: Any, trained: dict[str, Any]) -> None:
    import onnx

    assert exported.onnx_path.name == "voice.onnx" and exported.config_path.name == "voice.onnx.json"
    config = json.loads(exported.config_path.read_text())
    assert config["audio"]["sample_rate"] == 22050 and config["hop_length"] == 256
    assert config["espeak"]["voice"] == "en-us" and config["phoneme_type"] == "espeak"
    assert config["num_symbols"] == 256 and len(config["phoneme_id_map"]) == 151
    assert config["voicebank"]["step"] == trained["result"].best_step
    assert config["inference"] == {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}  # the recipe's (Piper's)
    graph = onnx.load(str(exported.onnx_path)).graph
    assert [i.name for i in graph.input] == ["input", "input_lengths", "scales"]
    assert [o.name for o in graph.output] == ["output"]
    assert any(n.name == "/waveform_decoder/conv_pre/Conv" for n in graph.node)
    assert (exported.onnx_path.parent / "train_log.jsonl").is_file()


def test_export_reproduces_the_trained_generator(exported: Any, trained: dict[str, Any]) -> None:
    """ONNX Runtime and Coqui's own inference agree (noise off) to better than 60 dB."""
    import onnxruntime as ort
    import torch

    from voicebank.train import vits

    config = vits.load_config(trained["voice"] / "config.json")
    model = vits.VoicebankVits(config)
    model.load_state_dict(torch.load(trained["voice"] / "model.pth", weights_only=False)["model"])
    model.eval()
    model.inference_noise_scale = model.inference_noise_scale_dp = 0.0
    ids = [1, 0] + [x for p in (20, 18, 24, 27, 3, 35, 62, 24, 17, 10) for x in (p, 0)] + [2]
    ref = model.inference(torch.tensor([ids]), aux_input={"x_lengths": torch.tensor([len(ids)])})["model_outputs"]
    ref = ref.numpy().reshape(-1)
    session = ort.InferenceSession(str(exported.onnx_path), providers=["CPUExecutionProvider"])
    feeds = {"input": np.array([ids]), "input_lengths": np.array([len(ids)]), "scales": np.array([0, 1, 0], np.float32)}
    out = session.run(None, feeds)[0]
    assert out.shape[:2] == (1, 1) and out.shape[2] == ref.size and ref.size % 256 == 0
    err = out.reshape(-1) - ref
    assert 10 * np.log10(np.sum(ref**2) / np.sum(err**2)) > 60


def test_exported_voice_speaks_in_piper_and_streams_split_in_our_engine(exported: Any) -> None:
    from piper.config import SynthesisConfig
    from piper.voice import PiperVoice

    from voicebank.engines import SynthesisOptions, load_engine

    short, long = "Hello there.", "Hello there, this is a much longer sentence with many more words in it."
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    piper = PiperVoice.load(str(exported.onnx_path))
    assert piper.config.sample_rate == 22050
    p_short = np.concatenate([c.audio_float_array for c in piper.synthesize(short, syn_config=quiet)])
    p_long = np.concatenate([c.audio_float_array for c in piper.synthesize(long, syn_config=quiet)])
    assert p_short.size % 256 == 0 and p_long.size > 2.5 * p_short.size  # duration follows the text

    assert exported.streamable
    engine = load_engine(exported.onnx_path.parent, threads=1)
    assert engine.streaming  # cut into encoder / flow / decoder, not run whole per sentence
    chunks = list(engine.stream(long, SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)))
    assert len(chunks) > 1 and {c.sample_rate for c in chunks} == {22050}
    ours = np.concatenate([c.as_float32() for c in chunks])
    assert abs(ours.size - p_long.size) <= 256 * 2  # same phonemes, same durations
    n = min(ours.size, p_long.size)
    err = ours[:n] - p_long[:n]
    assert 10 * np.log10(np.sum(p_long[:n] ** 2) / max(np.sum(err**2), 1e-20)) > 30


def test_recipe_inference_settings_travel_into_the_exported_voice(tmp_path: Path, dataset: Path) -> None:
    from voicebank.engines import load_engine
    from voicebank.train.export import export_voice
    from voicebank.train.finetune import finetune

    recipe = write_recipe(tmp_path / "calm.toml", training={"eval_every_steps": 2},
                          inference={"noise_scale": 0.4, "noise_w": 0.5, "length_scale": 1.1})
    finetune(recipe, dataset, tmp_path / "voice", max_steps=2, threads=1, device="cpu")
    result = export_voice(tmp_path / "voice", tmp_path / "onnx")
    config = json.loads(result.config_path.read_text())
    assert config["inference"] == {"noise_scale": 0.4, "length_scale": 1.1, "noise_w": 0.5}
    engine = load_engine(result.onnx_path)  # the engine speaks with the voice's own defaults
    assert (engine.config.noise_scale, engine.config.length_scale, engine.config.noise_w_scale) == (0.4, 1.1, 0.5)


def test_export_can_speak_at_the_pace_of_the_recordings(tmp_path: Path, trained: dict[str, Any], dataset: Path) -> None:
    """--pace recordings: the exported length_scale is measured on the training clips; keep (the
    default) leaves the recipe's; a dataset that is gone is a clear error."""
    import shutil

    from voicebank.train.export import ExportError, export_voice
    from voicebank.train.pace import LIMITS

    kept = export_voice(trained["voice"], tmp_path / "keep")
    assert kept.pace is None and "--pace recordings" in kept.pace_note
    assert json.loads(kept.config_path.read_text())["inference"]["length_scale"] == 1.0

    measured = export_voice(trained["voice"], tmp_path / "rec", pace="recordings")
    config = json.loads(measured.config_path.read_text())
    pace = config["voicebank"]["pace"]
    assert measured.pace is not None and pace["utterances"] == 8 and pace["dataset"] == str(dataset)
    assert config["inference"]["length_scale"] == measured.pace.length_scale
    assert LIMITS[0] <= measured.pace.length_scale <= LIMITS[1] and pace["previous"] == 1.0
    assert "length_scale" in measured.pace_note or "already speaks" in measured.pace_note

    moved = tmp_path / "moved"
    shutil.copytree(trained["voice"], moved)
    state = json.loads((moved / "training.json").read_text())
    state["dataset"] = str(tmp_path / "gone")
    (moved / "training.json").write_text(json.dumps(state))
    with pytest.raises(ExportError, match="--dataset"):
        export_voice(moved, tmp_path / "r", pace="recordings")
    assert export_voice(moved, tmp_path / "d", pace="recordings", dataset=dataset).pace is not None
    with pytest.raises(UsageError, match="pace must be one of"):
        export_voice(moved, tmp_path / "x", pace="auto")


def test_cli_export(tmp_path: Path, trained: dict[str, Any]) -> None:
    from typer.testing import CliRunner

    from voicebank.cli.main import app

    done = CliRunner().invoke(app, ["train", "export", str(trained["voice"]), "--out", str(tmp_path / "out"), "--name", "mine"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "mine.onnx").is_file() and (tmp_path / "out" / "mine.onnx.json").is_file()
    assert "Streaming   yes" in done.output


def test_export_of_a_folder_that_is_no_voice_says_so(tmp_path: Path) -> None:
    from voicebank.train.export import ExportError, export_voice

    with pytest.raises(ExportError, match="model.pth is missing"):
        export_voice(tmp_path, tmp_path / "out")


def test_a_trained_voice_is_a_valid_base(trained: dict[str, Any]) -> None:
    from voicebank.train import vits
    from voicebank.train.vits_weights import _base_symbol_ids

    base = vits.resolve_base(trained["voice"])
    assert base.checkpoint == trained["voice"] / "model.pth" and base.config == trained["voice"] / "config.json"
    assert vits.resolve_base(trained["voice"] / "model.pth") == base
    assert _base_symbol_ids(vits.base_config(base)) == {s: i for i, s in enumerate(vits.piper_symbols())}


@pytest.mark.slow
def test_a_voice_trained_further_takes_its_discriminator_from_the_best_checkpoint_and_trains_its_encoder(
    tmp_path: Path, trained: dict[str, Any], dataset: Path
) -> None:
    import shutil

    import torch

    from voicebank.train.finetune import finetune

    # the shipped second-stage recipe, sized for the tiny voice (its discriminator is 8 wide)
    recipe = write_recipe(
        tmp_path / "more.toml",
        base="vits-offline-more",
        training={"batch_size": 4, "eval_batch_size": 4, "eval_every_steps": 1, "min_train_utterances": 2,
                  "loader_workers": 0, "discriminator_width": 8, "speak_held_out": False, "runs": 1},
        early_stopping={"min_steps": 0},
    )

    def started(base: Path, out: Path) -> str:
        events: list[Any] = []
        finetune(recipe, dataset, out, base=base, max_steps=1, threads=1, device="cpu", on_event=events.append)
        (message,) = [e.message for e in events if e.message.startswith("Started from")]
        return message

    # model.pth holds only the generator; the discriminator comes from the run's best checkpoint
    assert "0 generator and 0 discriminator tensors start fresh" in started(trained["voice"], tmp_path / "more")

    # the second stage trains the text encoder and the whole flow; the durations stay the first voice's
    first = torch.load(trained["voice"] / "model.pth", weights_only=False)["model"]
    more = torch.load(tmp_path / "more" / "model.pth", weights_only=False)["model"]
    moved = {part: any(not torch.equal(more[k], first[k]) for k in first if k.startswith(part))
             for part in ("text_encoder.", "flow.flows.0.", "flow.flows.1.", "duration_predictor.")}
    assert moved == {"text_encoder.": True, "flow.flows.0.": True, "flow.flows.1.": True, "duration_predictor.": False}

    # without its checkpoints (a voice copied elsewhere) the discriminator starts fresh, and says so
    bare = tmp_path / "copied"
    bare.mkdir()
    for name in ("model.pth", "config.json", "training.json"):
        shutil.copy(trained["voice"] / name, bare / name)
    message = started(bare, tmp_path / "more-from-copy")
    fresh = int(message.split(" discriminator tensors start fresh")[0].rsplit(" ", 1)[1])
    assert "0 generator and" in message and fresh > 0

    # the recipe only trains a voice made here further: no --base, or a folder of another kind, is refused
    for base in (None, dataset, dataset / "metadata.csv"):
        with pytest.raises(UsageError, match="--base VOICE"):
            finetune(recipe, dataset, tmp_path / "refused", base=base, max_steps=1, threads=1, device="cpu")
    assert not (tmp_path / "refused").exists()


def _coqui_style_base(folder: Path) -> tuple[Path, dict[str, Any], list[str]]:
    """A base laid out like Coqui's released LJSpeech VITS: model_file.pth + config.json, Coqui's
    own IPA vocabulary (VitsCharacters, blank <BLNK>), old-style weight-norm tensor names."""
    import torch
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsCharacters

    from voicebank.train.recipes import load_recipe

    arch = load_recipe("vits-tiny").vits
    config = VitsConfig()
    for key, val in arch.__dict__.items():
        if key != "discriminator_width":
            setattr(config.model_args, key, [list(v) if isinstance(v, tuple) else v for v in val] if isinstance(val, tuple) else val)
    config.characters = VitsCharacters().to_config()
    config.characters.characters_class = "TTS.tts.models.vits.VitsCharacters"
    config.add_blank = True
    config.phoneme_language = "en-us"
    model = Vits(config)
    vocab = list(model.tokenizer.characters.vocab)
    state = {}
    for k, v in model.state_dict().items():  # torch < 2.1 names, as in Coqui's 2022 releases
        k = k.replace(".parametrizations.weight.original0", ".weight_g").replace(".parametrizations.weight.original1", ".weight_v")
        state[k] = v
    folder.mkdir(parents=True)
    torch.save({"model": state, "step": 1000000}, folder / "model_file.pth")
    saved = config.to_dict()
    saved.update(use_phonemes=True, phonemizer="espeak")  # as the real one (never started here)
    (folder / "config.json").write_text(json.dumps(saved), encoding="utf-8")
    return folder, state, vocab


@pytest.mark.slow
def test_finetune_from_a_coqui_style_base_keeps_its_weights_and_maps_its_alphabet(tmp_path: Path, dataset: Path) -> None:
    import torch

    from voicebank.train import vits
    from voicebank.train.finetune import finetune

    base, base_state, base_vocab = _coqui_style_base(tmp_path / "tts_models--en--ljspeech--vits")
    recipe = write_recipe(
        tmp_path / "ft.toml",
        base="vits",
        training={"batch_size": 4, "eval_batch_size": 4, "eval_every_steps": 1, "min_train_utterances": 2, "loader_workers": 0},
        early_stopping={"min_steps": 0},
    )
    events: list[Any] = []
    result = finetune(recipe, dataset, tmp_path / "voice", base=base, max_steps=1, threads=1, on_event=events.append)
    (started,) = [e.message for e in events if e.message.startswith("Started from")]
    assert "model_file.pth" in started and "0 generator and 0 discriminator tensors start fresh" in started
    kept = int(started.split(" phoneme symbols kept")[0].rsplit(" ", 1)[1])
    assert kept > 100  # IPA, stress marks, punctuation and space all exist in Coqui's vocabulary

    tuned = torch.load(result.model_path, weights_only=False)["model"]
    piper_ids = vits.piper_phoneme_id_map()
    emb, old = tuned["text_encoder.emb.weight"], base_state["text_encoder.emb.weight"]
    assert emb.shape[0] == 256 and old.shape[0] == len(base_vocab)
    for symbol in ("ə", "ˈ", "ɹ", " ", ","):  # one AdamW step (lr 1e-4) away from the base's row
        assert torch.allclose(emb[piper_ids[symbol][0]], old[base_vocab.index(symbol)], atol=1e-2)
    assert torch.allclose(emb[0], old[base_vocab.index("<BLNK>")], atol=1e-2)  # Piper's pad = Coqui's blank
    g = "waveform_decoder.ups.0.parametrizations.weight.original1"
    assert torch.allclose(tuned[g], base_state["waveform_decoder.ups.0.weight_v"], atol=1e-2)


def test_anchor_penalty_pulls_trained_generator_weights_toward_the_base(tmp_path: Path) -> None:
    """anchor_weight (L2-SP) adds weight * squared distance from the anchored weights: zero at the
    anchor, exact after a known move, with gradients on trained generator weights only."""
    import torch

    from voicebank.train import vits
    from voicebank.train.recipes import RecipeError, load_recipe

    torch.manual_seed(0)
    recipe = load_recipe(write_recipe(tmp_path / "a.toml", training={"anchor_weight": 0.5, "freeze": ["text_encoder"]}))
    config = vits.build_config(recipe, None, tmp_path / "out")
    model = vits.make_model(config, recipe)
    anchor = model.set_anchor()
    assert anchor and not any(n.startswith(("disc.", "text_encoder.")) for n in anchor)
    assert model.anchor_loss().item() == 0.0
    name = next(iter(anchor))
    with torch.no_grad():
        dict(model.named_parameters())[name].add_(0.1)
    moved = dict(model.named_parameters())[name].numel()
    assert model.anchor_loss().item() == pytest.approx(0.5 * moved * 0.01, rel=1e-4)

    batch = _one_clip_batch(model, config)
    criteria = model.get_criterion()
    model.train()
    model.train_step(batch, criteria[0], optimizer_idx=0)
    _, losses = model.train_step(batch, criteria[1], optimizer_idx=1)
    assert losses["loss_anchor"].item() == pytest.approx(0.5 * moved * 0.01, rel=1e-4)
    model.zero_grad()
    losses["loss_anchor"].backward()
    pulled = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert pulled == {name}

    with pytest.raises(RecipeError, match="anchor_weight"):
        load_recipe(write_recipe(tmp_path / "n.toml", training={"anchor_weight": -1.0}))


def test_anchor_decay_moves_trained_weights_a_fixed_fraction_back_to_the_base(tmp_path: Path) -> None:
    """anchor_decay (decoupled L2-SP) moves each trained generator weight that fraction of the way
    back to the anchor, leaving frozen parts and the discriminator alone."""
    import torch

    from voicebank.train import vits
    from voicebank.train.recipes import RecipeError, load_recipe

    torch.manual_seed(0)
    recipe = load_recipe(write_recipe(tmp_path / "d.toml", training={"anchor_decay": 0.25, "freeze": ["text_encoder"]}))
    model = vits.make_model(vits.build_config(recipe, None, tmp_path / "out"), recipe)
    anchor = {n: v.clone() for n, v in model.set_anchor().items()}
    params = dict(model.named_parameters())
    frozen = next(n for n in params if n.startswith("text_encoder."))
    disc = next(n for n in params if n.startswith("disc."))
    before = {n: params[n].detach().clone() for n in (frozen, disc)}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.pull_toward_anchor()
    name = next(iter(anchor))
    assert torch.allclose(params[name], anchor[name] + 0.75, atol=1e-6)
    assert torch.allclose(params[frozen], before[frozen] + 1.0) and torch.allclose(params[disc], before[disc] + 1.0)

    with pytest.raises(RecipeError, match="anchor_decay"):
        load_recipe(write_recipe(tmp_path / "n.toml", training={"anchor_decay": 1.0}))
