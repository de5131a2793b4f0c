"""Averaging voices trained alike (``train finetune --seed``, ``train average``), for real on the CPU.

A tiny first voice is trained on the shortest LJSpeech clips, then trained further twice with
the shipped ``vits-offline-more`` recipe (sized for the tiny model) under two seeds; the two
are averaged, and the average is exported and spoken. Assertions are about the weights and
the files, not about how the babbling voice sounds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LJSPEECH
from tests.helpers.train_data import make_dataset, one_thread_session_home, sigkill_when, write_recipe  # noqa: F401 (autouse)
from voicebank.errors import TrainingError, UsageError

pytestmark = pytest.mark.skipif(not (LJSPEECH / "metadata.csv").is_file(), reason=f"real recordings not available: {LJSPEECH} is absent")

pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny first voice, and two second-stage runs of it that differ only in their seed."""
    from voicebank.train.finetune import finetune

    root = tmp_path_factory.mktemp("soup")
    dataset = make_dataset(root / "data", n_train=8, n_eval=2)
    first = write_recipe(root / "tiny.toml", training={"eval_every_steps": 4})
    finetune(first, dataset, root / "first", max_steps=4, threads=1, device="cpu")
    more = write_recipe(
        root / "more.toml", base="vits-offline-more",
        training={"batch_size": 4, "eval_batch_size": 4, "eval_every_steps": 2, "min_train_utterances": 2,
                  "loader_workers": 0, "discriminator_width": 8, "speak_held_out": False, "runs": 1},
        early_stopping={"min_steps": 0},
    )
    for name, seed in (("a", None), ("b", 7)):
        finetune(more, dataset, root / name, base=root / "first", max_steps=2, threads=1, device="cpu", seed=seed)
    return {"root": root, "dataset": dataset, "first": root / "first", "a": root / "a", "b": root / "b", "more": more}


def _weights(voice: Path) -> dict[str, Any]:
    import torch

    return torch.load(voice / "model.pth", weights_only=False)["model"]


def test_seed_changes_the_run_and_a_resumed_run_keeps_its_own(runs: dict[str, Path]) -> None:
    import torch

    from voicebank.train.finetune import finetune

    seeds = [json.loads((runs[n] / "training.json").read_text())["recipe"]["training"]["seed"] for n in ("a", "b")]
    assert seeds == [54321, 7]  # the recipe's, then the one given
    a, b = _weights(runs["a"]), _weights(runs["b"])
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("text_encoder."))

    with pytest.raises(TrainingError, match="keeps its seed"):
        finetune(None, None, runs["a"], resume=True, max_steps=3, threads=1, device="cpu", seed=7)
    assert json.loads((runs["a"] / "training.json").read_text())["steps"] == 2  # nothing ran


def test_average_is_the_mean_of_the_runs_and_exports_toward_their_start(runs: dict[str, Path], tmp_path: Path) -> None:
    import torch
    from typer.testing import CliRunner

    from voicebank.cli.main import app
    from voicebank.train.export import export_voice

    soup = tmp_path / "ab"
    done = CliRunner().invoke(app, ["train", "average", str(runs["a"]), str(runs["b"]), "--out", str(soup)])
    assert done.exit_code == 0, done.output
    assert "Averaged    2 voices (seeds 54321, 7)" in done.output

    a, b, mean, first = _weights(runs["a"]), _weights(runs["b"]), _weights(soup), _weights(runs["first"])
    assert mean.keys() == a.keys()
    for key, tensor in mean.items():
        expected = ((a[key].double() + b[key].double()) / 2).to(a[key].dtype) if a[key].is_floating_point() else a[key]
        assert torch.equal(tensor, expected), key
    # the frozen durations are the first voice's in both runs, so in their average too
    assert all(torch.equal(mean[k], first[k]) for k in first if k.startswith("duration_predictor."))

    record = json.loads((soup / "training.json").read_text())
    assert record["base"] == str(runs["first"].resolve()) and record["status"] == "averaged"
    assert [i["seed"] for i in record["averaged_from"]] == [54321, 7]
    card = json.loads((soup / "card.json").read_text())
    assert card["name"] == "ab" and "averaged from 2 voices" in card["notes"][-1]

    # exported at the recipe's strength, part of the way back to the start the runs share
    result = export_voice(soup, tmp_path / "onnx")
    assert result.strength == 0.8 and result.test_seconds > 0
    recorded = json.loads(result.config_path.read_text())["voicebank"]
    assert recorded["base"] == str(runs["first"].resolve() / "model.pth")


def test_an_average_trained_further_brings_the_mean_of_its_runs_discriminators(runs: dict[str, Path], tmp_path: Path) -> None:
    """An averaged voice's model.pth holds only the generator; a run from it takes the discriminator
    its runs left at their best steps, averaged as the generator was, not a fresh one."""
    import torch

    from voicebank.train.checkpoints import list_checkpoints
    from voicebank.train.finetune import finetune
    from voicebank.train.soup import average_voices

    soup = average_voices([runs["a"], runs["b"]], tmp_path / "ab").voice_dir

    def best_discriminator(voice: Path) -> dict[str, Any]:
        record = json.loads((voice / "training.json").read_text())
        checkpoint = dict(list_checkpoints(voice / record["run_dir"]))[record["best_step"]]
        return {k: v for k, v in torch.load(checkpoint, weights_only=False)["model"].items() if k.startswith("disc.")}

    a, b = best_discriminator(runs["a"]), best_discriminator(runs["b"])
    assert a and any(not torch.equal(a[k], b[k]) for k in a)
    events: list[Any] = []
    finetune(runs["more"], runs["dataset"], tmp_path / "further", base=soup, max_steps=1, threads=1, device="cpu",
             on_event=events.append)
    (started,) = [e.message for e in events if e.message.startswith("Started from")]
    assert "0 generator and 0 discriminator tensors start fresh" in started, started

    # with one run's checkpoints gone there is no mean to take: the discriminator starts fresh, and says so
    record = json.loads((runs["b"] / "training.json").read_text())
    moved = tmp_path / "b-checkpoints"
    shutil.move(runs["b"] / record["run_dir"], moved)
    try:
        events.clear()
        finetune(runs["more"], runs["dataset"], tmp_path / "fresh", base=soup, max_steps=1, threads=1, device="cpu",
                 on_event=events.append)
    finally:
        shutil.move(moved, runs["b"] / record["run_dir"])
    (started,) = [e.message for e in events if e.message.startswith("Started from")]
    fresh = int(started.split(" discriminator tensors start fresh")[0].rsplit(" ", 1)[1])
    assert fresh == len(a), started


def test_voices_that_were_not_trained_alike_are_refused_and_nothing_is_written(runs: dict[str, Path], tmp_path: Path) -> None:
    from voicebank.train.soup import average_voices

    twin = tmp_path / "twin"  # a copy of run a: the same seed
    shutil.copytree(runs["a"], twin, ignore=shutil.ignore_patterns("checkpoints"))
    made = tmp_path / "made"
    made.mkdir()
    (made / "model.pth").write_bytes(b"a voice already here")
    cases = [
        ([runs["a"]], "at least two voices"),
        ([runs["a"], runs["a"]], "named twice"),
        ([runs["a"], twin], "same seed"),
        ([runs["a"], runs["first"]], "another start"),
        ([runs["a"], runs["dataset"]], "not a trained voice folder"),
    ]
    for voices, message in cases:
        with pytest.raises(UsageError, match=message):
            average_voices(voices, tmp_path / "out")
        assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError, match="already holds a voice"):
        average_voices([runs["a"], runs["b"]], made)
    assert (made / "model.pth").read_bytes() == b"a voice already here"


def test_a_start_that_changed_since_a_run_began_is_refused_by_export_average_and_resume(runs: dict[str, Path], tmp_path: Path) -> None:
    """A start is named by its folder; when that folder's voice changes (trained further), the runs
    made from it before no longer line up with it, and each use that relies on it says so."""
    import torch

    from voicebank.train.export import export_voice
    from voicebank.train.finetune import finetune
    from voicebank.train.soup import average_voices

    start = tmp_path / "start"
    shutil.copytree(runs["first"], start, ignore=shutil.ignore_patterns("checkpoints"))
    x, y = tmp_path / "x", tmp_path / "y"
    finetune(runs["more"], runs["dataset"], x, base=start, max_steps=2, threads=1, device="cpu", seed=11)
    began = json.loads((x / "training.json").read_text())["base_weights_sha256"]
    assert len(began) == 64

    # parts only training uses (what rebuilding the offline base changes) leave the start the same
    saved = torch.load(start / "model.pth", weights_only=False)
    only_training = ("posterior_encoder.", "duration_predictor.post_", "duration_predictor.flows.1.")
    touched = [k for k in saved["model"] if k.startswith(only_training) and saved["model"][k].is_floating_point()]
    assert touched
    for k in touched:
        saved["model"][k] = saved["model"][k] + 0.01
    torch.save(saved, start / "model.pth")
    assert export_voice(x, tmp_path / "onnx-x08").strength == 0.8

    shutil.copyfile(runs["a"] / "model.pth", start / "model.pth")  # the start now holds other weights
    finetune(runs["more"], runs["dataset"], y, base=start, max_steps=2, threads=1, device="cpu", seed=12)
    assert json.loads((y / "training.json").read_text())["base_weights_sha256"] != began

    with pytest.raises(UsageError, match="did not start together"):
        average_voices([x, y], tmp_path / "xy")
    assert not (tmp_path / "xy").exists()
    with pytest.raises(UsageError, match="has changed since"):
        export_voice(x, tmp_path / "onnx-x")
    assert not (tmp_path / "onnx-x").exists()
    with pytest.raises(UsageError, match="keeps its start"):
        finetune(None, None, x, resume=True, max_steps=3, threads=1, device="cpu")
    assert json.loads((x / "training.json").read_text())["steps"] == 2  # nothing ran

    # full strength does not use the start; y began from the start as it is now
    assert export_voice(x, tmp_path / "onnx-x1", strength=1.0).strength == 1.0
    assert export_voice(y, tmp_path / "onnx-y").strength == 0.8


@pytest.mark.slow
def test_runs_train_each_seed_then_average_and_a_killed_set_resumes_what_was_left(runs: dict[str, Path], tmp_path: Path) -> None:
    """``--runs 2`` trains two seeds and averages them into --out; SIGKILL in the second run, and
    --resume keeps the finished first run, continues the second from its checkpoint and averages."""
    import torch

    from voicebank.train.finetune import finetune

    out = tmp_path / "two"
    cmd = [sys.executable, "-m", "voicebank.cli.main", "train", "finetune", "--out", str(out), "--threads", "1",
           "--device", "cpu", "--without-consent", "test recordings"]
    proc = subprocess.Popen(
        cmd + ["--recipe", str(runs["more"]), "--dataset", str(runs["dataset"]), "--base", str(runs["first"]),
               "--max-steps", "6", "--runs", "2", "--seed", "5"],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    first, second = out / "runs" / "seed-5", out / "runs" / "seed-6"
    sigkill_when(proc, lambda: any(p.with_suffix(".pth").is_file() for p in second.glob("checkpoints/*/checkpoint_*.json")), 240)
    assert json.loads((first / "training.json").read_text())["status"] == "finished"
    assert json.loads((second / "training.json").read_text())["status"] == "training"
    assert not (out / "model.pth").exists()
    first_log = (first / "train_log.jsonl").read_bytes()

    resumed = subprocess.run(cmd + ["--resume"], env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Run 1 of 2 (seed 5) finished before" in resumed.stdout and "Resumed from checkpoint_" in resumed.stdout
    assert (first / "train_log.jsonl").read_bytes() == first_log  # the finished run was not trained again
    assert json.loads((second / "training.json").read_text())["steps"] == 6

    a, b, mean = _weights(first), _weights(second), _weights(out)
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("text_encoder."))
    for key, tensor in mean.items():
        expected = ((a[key].double() + b[key].double()) / 2).to(a[key].dtype) if a[key].is_floating_point() else a[key]
        assert torch.equal(tensor, expected), key
    record = json.loads((out / "training.json").read_text())
    assert record["status"] == "averaged" and [i["seed"] for i in record["averaged_from"]] == [5, 6]
    for folder in (first, second):  # each run got its card before the average carried it
        assert json.loads((folder / "card.json").read_text())["consent"]["reason_without_consent"] == "test recordings"
    assert "averaged from 2 voices" in json.loads((out / "card.json").read_text())["notes"][-1]

    again = subprocess.run(cmd + ["--resume"], env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "nothing is left to train" in again.stdout + again.stderr
    with pytest.raises(UsageError, match="holds no set of runs"):
        finetune(None, None, runs["a"], resume=True, runs=2, threads=1, device="cpu")
    with pytest.raises(TrainingError, match="already holds a voice"):
        finetune(runs["more"], runs["dataset"], out, base=runs["first"], runs=2, threads=1, device="cpu")


@pytest.mark.slow
def test_a_set_of_runs_killed_before_its_first_run_began_still_needs_consent_to_resume(runs: dict[str, Path], tmp_path: Path) -> None:
    """The plan is written before the first run's record; a resume from there is checked against the plan's dataset."""
    out = tmp_path / "early"
    cmd = [sys.executable, "-m", "voicebank.cli.main", "train", "finetune", "--out", str(out), "--threads", "1", "--device", "cpu"]
    proc = subprocess.Popen(
        cmd + ["--recipe", str(runs["more"]), "--dataset", str(runs["dataset"]), "--base", str(runs["first"]),
               "--max-steps", "2", "--runs", "2", "--without-consent", "test recordings"],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    sigkill_when(proc, lambda: (out / "runs" / "plan.json").is_file())
    assert not list(out.glob("runs/*/training.json"))  # no run had begun

    refused = subprocess.run(cmd + ["--resume"], env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "needs the speaker's consent" in refused.stdout + refused.stderr
    assert not list(out.glob("runs/*/training.json"))  # refused before any work
