"""The offline base: the stock voice's ONNX weights in a trainable Coqui VITS, the parts it lacks
trained against it, and fine-tuning from the result — all on the CPU, nothing downloaded.

The import is checked against ONNX Runtime on real sentences; the build runs a few real steps of
every stage, is killed with SIGKILL in the middle and resumed; the fine-tuner then takes a few
real steps from the built base on real LJSpeech clips.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import LJSPEECH
from tests.helpers.train_data import make_dataset, write_recipe

pytest.importorskip("TTS", reason="the train extra (coqui-tts) is not installed")

TINY_BUILD = {
    "sentences": 6,
    "posterior_steps": 6,
    "discriminator_steps": 3,
    "batch_size": 2,
    "crop_frames": 48,
    "checkpoint_every": 2,
    "threads": 1,
}


@pytest.fixture(scope="module")
def stock() -> Any:
    from voicebank.voice.registry import stock_voice

    return stock_voice()


@pytest.fixture(scope="module")
def imported(stock: Any) -> tuple[Any, Any, dict[str, int]]:
    import torch

    torch.set_num_threads(1)
    from voicebank.train.piper_import import import_voice

    return import_voice(stock.model, stock.config)


# ----------------------------------------------------------------------------- import


def test_stock_voice_in_coqui_says_what_onnx_runtime_says(imported: tuple[Any, Any, dict[str, int]], stock: Any) -> None:
    from voicebank.train.piper_import import check_import

    model, config, counts = imported
    assert counts["imported"] == 350  # every weight tensor of the ONNX file found its place
    assert counts["fresh_generator"] > 0  # ... and the posterior encoder etc. are left to train
    check = check_import(model, stock.model, [
        "Please open the window a little; it is warm in here.",
        "At half past seven, the bus was already full of tired people going home.",
    ])
    assert check.same_length  # identical durations: same text encoder and duration predictor
    assert check.snr_db_min > 80, check.to_dict()
    assert config.model_args.num_chars == 256 and config.add_blank and config.enable_eos_bos_chars


def test_coqui_tokenizer_gives_the_ids_the_stock_voice_was_trained_with(imported: tuple[Any, Any, dict[str, int]], stock: Any) -> None:
    """The imported text embedding keeps its meaning only if Coqui's ids are Piper's ids."""
    from TTS.tts.utils.text.tokenizer import TTSTokenizer

    from voicebank.engines.piper_onnx import PiperOnnxEngine

    _, config, _ = imported
    tokenizer, _ = TTSTokenizer.init_from_config(config)
    engine = PiperOnnxEngine(stock, streaming=False)
    phonemes = engine.phonemize("Thank you for coming, it means a lot.")[0]
    ids, _ = engine.phoneme_ids(phonemes)
    assert tokenizer.text_to_ids("".join(phonemes)) == ids


def test_damaged_or_foreign_voice_files_are_clear_errors(tmp_path: Path, stock: Any) -> None:
    from voicebank.train.piper_import import PiperImportError, check_symbols, read_piper_onnx

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(stock.model.read_bytes()[:4096])
    (tmp_path / "broken.onnx.json").write_bytes(stock.config.read_bytes())
    with pytest.raises(PiperImportError, match="broken.onnx"):
        read_piper_onnx(broken)

    voice = read_piper_onnx(stock.model, stock.config)
    id_map = voice.voice_config.phoneme_id_map
    id_map["a"], id_map["b"] = id_map["b"], id_map["a"]  # a voice trained with another alphabet
    with pytest.raises(PiperImportError, match="phoneme map differs"):
        check_symbols(voice)


# ----------------------------------------------------------------------------- build


_BUILD_SCRIPT = """
import json, sys, torch
from pathlib import Path
from voicebank.train.offline_base import BuildSettings, build_base
torch.set_num_threads(1)
build_base(Path(sys.argv[1]), BuildSettings(**json.loads(sys.argv[2])))
"""


def _log_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny build, SIGKILLed in the middle of the posterior stage and resumed in-process."""
    import torch

    from voicebank.train.offline_base import BuildEvent, BuildSettings, build_base

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("base") / "joe-offline"
    log = out / "work" / "build_log.jsonl"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", _BUILD_SCRIPT, str(out), json.dumps(TINY_BUILD)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while not any(r["stage"] == "posterior" and r["step"] >= 3 for r in _log_rows(log)):
            if proc.poll() is not None:
                raise AssertionError(f"the build ended before it was killed: {proc.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "the build made no progress in 300 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()
    killed_at = max(r["step"] for r in _log_rows(log) if r["stage"] == "posterior")
    events: list[BuildEvent] = []
    build_base(out, BuildSettings(**TINY_BUILD), events.append)
    return {"out": out, "rows": _log_rows(log), "killed_at": killed_at, "events": events}


@pytest.mark.slow
def test_build_resumes_after_sigkill_from_its_last_checkpoint(built: dict[str, Any]) -> None:
    rows, killed_at = built["rows"], built["killed_at"]
    posterior = [r["step"] for r in rows if r["stage"] == "posterior"]
    every = TINY_BUILD["checkpoint_every"]
    resumed_from = (killed_at // every) * every  # the newest checkpoint before the kill
    # the steps up to that checkpoint were done once, the ones after it again after the resume
    assert posterior == list(range(1, killed_at + 1)) + list(range(resumed_from + 1, TINY_BUILD["posterior_steps"] + 1))
    assert [r["step"] for r in rows if r["stage"] == "discriminator"] == list(range(1, TINY_BUILD["discriminator_steps"] + 1))
    for r in rows:
        assert all(np.isfinite(v) for k, v in r.items() if k.startswith("loss_"))
    assert not list(built["out"].glob("**/.*.tmp"))  # nothing half-written left behind


@pytest.mark.slow
def test_built_base_keeps_the_imported_generator_and_trains_the_missing_parts(built: dict[str, Any], imported: tuple[Any, Any, dict[str, int]]) -> None:
    import torch

    out = built["out"]
    base = json.loads((out / "base.json").read_text(encoding="utf-8"))
    assert base["measures"]["import_check"]["snr_db_min"] > 80
    assert base["settings"]["posterior_steps"] == TINY_BUILD["posterior_steps"]
    assert "non-commercial" in base["licence"]
    weights = torch.load(out / "model.pth", map_location="cpu", weights_only=False)["model"]
    reference = imported[0].state_dict()
    for key in ("waveform_decoder.conv_pre.weight", "waveform_decoder.ups.1.parametrizations.weight.original1", "text_encoder.emb.weight",
                "flow.flows.2.enc.in_layers.1.parametrizations.weight.original1", "duration_predictor.flows.3.proj.weight"):
        assert torch.equal(weights[key], reference[key]), f"{key} changed: the imported generator must stay frozen"
    # every weight speech comes from is the import's, so a rebuilt base is the same start to the voices made from it
    from voicebank.train.blend import base_fingerprint, weights_fingerprint

    assert base_fingerprint(str(out)) == weights_fingerprint(reference)
    rows = built["rows"]
    assert any(k.startswith("disc.") for k in weights)
    # the trained parts moved away from their seeded initialisation
    from voicebank.train.offline_base import BuildSettings
    from voicebank.train.piper_import import coqui_config, read_piper_onnx
    from voicebank.train.vits import VoicebankVits
    from voicebank.voice.registry import stock_voice

    torch.manual_seed(BuildSettings().seed)
    config = coqui_config(read_piper_onnx(stock_voice().model))
    config.model_args.init_discriminator = True
    fresh = VoicebankVits(config, discriminator_width=BuildSettings().discriminator_width).state_dict()
    for key in ("posterior_encoder.proj.weight", "duration_predictor.post_pre.weight", "disc.nets.0.conv_post.bias"):
        assert not torch.equal(weights[key], fresh[key]), f"{key} was not trained"
    assert rows[-1]["stage"] == "discriminator"


@pytest.fixture(scope="module")
def tuned(built: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A few real steps of the vits-offline recipe from the built base, on real LJSpeech clips."""
    from voicebank.train.finetune import TrainEvent, finetune

    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    tmp = tmp_path_factory.mktemp("tuned")
    data = make_dataset(tmp / "data", n_train=4, n_eval=2)
    recipe = write_recipe(tmp / "offline.toml", base="vits-offline", training={
        "batch_size": 2, "eval_batch_size": 2, "eval_every_steps": 2, "min_train_utterances": 2,
    }, early_stopping={"min_steps": 0}, inference={"strength": 0.5})  # the check speaks at that strength
    events: list[TrainEvent] = []
    finetune(recipe, data, tmp / "voice", base=built["out"], max_steps=2, threads=1, device="cpu",
             on_event=events.append)
    return {"voice": tmp / "voice", "data": data, "events": events, "tmp": tmp}


@pytest.mark.slow
def test_finetune_from_the_built_base(built: dict[str, Any], tuned: dict[str, Any]) -> None:
    """A few real steps of the vits-offline recipe from the built base: its generator and its
    discriminator are loaded (nothing starts fresh), and a voice comes out."""
    voice_dir, events = tuned["voice"], tuned["events"]
    started = [e.message for e in events if e.kind == "message" and e.message.startswith("Started from")]
    assert started and " 0 generator and 0 discriminator tensors start fresh" in started[0], started
    assert (voice_dir / "model.pth").is_file()
    log = [json.loads(x) for x in (voice_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(np.isfinite(r["loss_train"]) for r in log)
    # the held-out texts were spoken at the recipe's strength, half way back to the stock voice: two
    # steps in, that is the stock voice, a man, against the real recordings of a woman
    assert 0.3 < log[-1]["similarity"] < 0.7 and log[-1]["wer"] < 0.7, log[-1]

    # the recipe's frozen parts keep the stock voice's text -> latent path (text encoder, durations,
    # the first half of the flow); the decoder learns
    import torch

    base = torch.load(Path(built["out"]) / "model.pth", map_location="cpu", weights_only=False)["model"]
    voice = torch.load(voice_dir / "model.pth", map_location="cpu", weights_only=False)["model"]
    for part in ("text_encoder.", "duration_predictor.", "flow.flows.0.", "flow.flows.1."):
        keys = [k for k in voice if k.startswith(part)]
        assert keys and all(torch.equal(voice[k], base[k]) for k in keys), f"{part} moved but the recipe freezes it"
    moved = [k for k in voice if k.startswith("waveform_decoder.") and not torch.equal(voice[k], base[k])]
    assert moved, "the decoder did not train"


@pytest.mark.slow
def test_strength_takes_the_trained_parts_part_of_the_way_back_to_the_base(built: dict[str, Any], tuned: dict[str, Any]) -> None:
    """Strength 0 speaks exactly as the base, 1 exactly as the voice; in between only what training
    moved moves, linearly; the training-time check puts the weights back; export speaks the blend."""
    import torch

    from voicebank.engines.split import make_session, snr_db
    from voicebank.train import blend, vits
    from voicebank.train.export import export_voice
    from voicebank.train.export_graph import run_graph
    from voicebank.train.piper_import import coqui_speak

    voice_dir, tmp = tuned["voice"], tuned["tmp"]
    base = torch.load(Path(built["out"]) / "model.pth", map_location="cpu", weights_only=False)["model"]
    voice = torch.load(voice_dir / "model.pth", map_location="cpu", weights_only=False)["model"]
    config = vits.load_config(voice_dir / "config.json")
    config.model_args.init_discriminator = False
    model = vits.make_model(config).eval()
    record = json.loads((voice_dir / "training.json").read_text(encoding="utf-8"))
    toward, checkpoint = blend.base_weights(model, blend.trained_from(record, voice_dir))  # the base named there
    assert checkpoint == Path(built["out"]) / "model.pth"

    half, moved = blend.interpolate(voice, toward, 0.4)
    trained = [k for k in voice if not torch.equal(voice[k], base[k])]
    assert moved == len(trained) > 0 and all(k.startswith(("waveform_decoder.", "posterior_encoder.", "flow.flows.2.", "flow.flows.3.")) for k in trained)
    for key, v in voice.items():
        if key in trained:
            torch.testing.assert_close(half[key], base[key] + 0.4 * (v - base[key]))
        else:
            assert torch.equal(half[key], v), f"{key} was frozen but the blend changed it"

    ids = [1, 0, 41, 0, 120, 0, 14, 0, 3, 0, 59, 0, 26, 0, 2]

    def speak(weights: dict[str, Any]) -> np.ndarray:
        model.load_state_dict(weights, strict=False)
        return coqui_speak(model, ids)  # noise off: the same weights say the same samples

    base_audio, voice_audio = speak({k: v for k, v in base.items() if not k.startswith("disc.")}), speak(voice)
    assert not np.array_equal(base_audio, voice_audio)
    assert np.array_equal(speak(blend.interpolate(voice, toward, 0.0)[0]), base_audio)
    assert np.array_equal(speak(blend.interpolate(voice, toward, 1.0)[0]), voice_audio)
    half_audio = speak(half)

    model.load_state_dict(voice, strict=False)  # the speech check's way: blended for a while, then put back
    with blend.applied(model, toward, 0.0):
        assert np.array_equal(coqui_speak(model, ids), base_audio)
    assert all(torch.equal(t, voice[k]) for k, t in model.state_dict().items())

    exported = export_voice(voice_dir, tmp / "voice-0.4", strength=0.4)
    piper = json.loads(exported.config_path.read_text(encoding="utf-8"))
    assert exported.strength == 0.4 and piper["voicebank"]["strength"] == 0.4
    assert piper["voicebank"]["base"] == str(checkpoint) and "strength" not in piper["inference"]
    onnx_audio = run_graph(make_session(exported.onnx_path, threads=1), ids, (0.0, 1.0, 0.0)).reshape(-1)
    assert onnx_audio.shape == half_audio.shape and snr_db(half_audio, onnx_audio) > 60


def test_strength_refuses_what_it_cannot_do(built: dict[str, Any], tuned: dict[str, Any]) -> None:
    from voicebank.errors import UsageError
    from voicebank.train.export import export_voice
    from voicebank.train.recipes import RecipeError, InferenceSettings

    voice_dir, tmp = tuned["voice"], tuned["tmp"]
    with pytest.raises(UsageError, match="between 0"):
        export_voice(voice_dir, tmp / "too-strong", strength=1.5)
    bare = tmp / "bare"  # a voice folder without its training record: the base is unknown
    bare.mkdir()
    for name in ("model.pth", "config.json"):
        (bare / name).write_bytes((voice_dir / name).read_bytes())
    with pytest.raises(UsageError, match="base it was trained from is unknown"):
        export_voice(bare, tmp / "bare-out", strength=0.5)
    assert not (tmp / "too-strong").exists() and not list((tmp / "bare-out").glob("*.onnx"))
    with pytest.raises(RecipeError, match="strength"):
        InferenceSettings(strength=0.0)
    from voicebank.train.recipes import load_recipe

    with pytest.raises(RecipeError, match="from-scratch recipe has none"):
        load_recipe(write_recipe(tmp / "scratch.toml", base="vits-tiny", inference={"strength": 0.5}))


def test_offline_recipe_without_a_built_base_says_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebank.errors import BaseModelMissing
    from voicebank.train.vits import resolve_base

    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "home"))
    with pytest.raises(BaseModelMissing, match="voicebank train base build"):
        resolve_base("joe-offline")
