"""XTTS: base-model lookup, the fine-tuning recipe and dataset, and the engine on a tiny random model.

The real XTTS-v2 weights (1.9 GB, non-commercial licence) are never downloaded in tests:
``tests/xtts_tiny.py`` builds a randomly initialised XTTS with the real file layout, so
config building, dataset formatting, conditioning latents, streaming, zero-shot voices
from a bank and a one-epoch fine-tune all run on the real Coqui code. It speaks noise;
the tests check the plumbing (types, rates, flags, shapes, files), not the voice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import LJSPEECH
from voicebank.audio import AudioChunk
from voicebank.engines.base import SynthesisOptions
from voicebank.errors import BaseModelMissing
from voicebank.voice.bases import find_base, locate_base
from voicebank.train.recipes import RecipeError, load_recipe
from voicebank.train.xtts import XttsRecipe, format_dataset

XTTS_FILES = ("model.pth", "config.json", "vocab.json", "dvae.pth", "mel_stats.pth")
ENV_KEYS = ("TTS_HOME", "XDG_DATA_HOME", "HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME")


def _short_clips(n: int) -> list[tuple[str, str]]:
    """The ``n`` shortest LJSpeech clips: (id, normalised text)."""
    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    rows = [line.split("|") for line in (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines() if line]
    rows.sort(key=lambda r: sf.info(str(LJSPEECH / "wavs" / f"{r[0]}.wav")).duration)
    return [(r[0], r[-1]) for r in rows[:n]]


def _dataset(root: Path, train: list[tuple[str, str]], held: list[tuple[str, str]] | None) -> Path:
    (root / "wavs").mkdir(parents=True)
    for uid, _ in train + (held or []):
        shutil.copyfile(LJSPEECH / "wavs" / f"{uid}.wav", root / "wavs" / f"{uid}.wav")
    (root / "metadata.csv").write_text("".join(f"{u}|{t}|{t}\n" for u, t in train), encoding="utf-8")
    if held is not None:
        (root / "metadata_eval.csv").write_text("".join(f"{u}|{t}|{t}\n" for u, t in held), encoding="utf-8")
    return root


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No base model anywhere: voicebank's, Coqui's and Hugging Face's folders are all empty."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "vbhome"))
    monkeypatch.setenv("HOME", str(home))
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return home


def _clean_env(home: Path, vbhome: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(HOME=str(home), VOICEBANK_HOME=str(vbhome))
    return env


# ------------------------------------------------------------------------- base models


def test_missing_base_says_what_where_and_how(empty_home: Path) -> None:
    with pytest.raises(BaseModelMissing) as info:
        find_base("xtts_v2", None, purpose="train")
    msg = str(info.value)
    for name in XTTS_FILES:
        assert name in msg
    assert str(Path(os.environ["VOICEBANK_HOME"]) / "base_models" / "xtts_v2") in msg
    assert str(empty_home / ".local" / "share" / "tts" / "tts_models--multilingual--multi-dataset--xtts_v2") in msg
    assert "models--tts-hub--XTTS-v2" in msg
    assert "voicebank train base download xtts_v2" in msg
    assert "huggingface.co/coqui/XTTS-v2" in msg
    assert "Coqui Public Model License" in msg


def test_incomplete_given_folder_names_missing_files(tmp_path: Path, empty_home: Path) -> None:
    given = tmp_path / "xtts"
    given.mkdir()
    for name in ("model.pth", "config.json", "vocab.json"):
        (given / name).write_bytes(b"x")
    assert find_base("xtts_v2", given, purpose="speak").path == given  # enough to speak with
    with pytest.raises(BaseModelMissing) as info:
        find_base("xtts_v2", given, purpose="train")
    msg = str(info.value)
    assert f"{given} (the folder given): missing dvae.pth, mel_stats.pth" in msg
    assert f"into {given}/" in msg
    assert "base_models" not in msg  # an explicit --base is the only place looked at


def test_search_order_voicebank_then_coqui_then_huggingface(empty_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fill(folder: Path) -> Path:
        folder.mkdir(parents=True)
        for name in XTTS_FILES:
            (folder / name).write_bytes(b"x")
        return folder

    snapshot = fill(empty_home / ".cache" / "huggingface" / "hub" / "models--tts-hub--XTTS-v2" / "snapshots" / "abc")
    assert find_base("xtts_v2").source == "huggingface" and find_base("xtts_v2").path == snapshot
    coqui = fill(empty_home / ".local" / "share" / "tts" / "tts_models--multilingual--multi-dataset--xtts_v2")
    assert find_base("xtts-v2").path == coqui
    ours = fill(Path(os.environ["VOICEBANK_HOME"]) / "base_models" / "xtts_v2")
    report = locate_base("xtts", None, "train")
    assert report.found is not None and report.found.path == ours and report.found.source == "voicebank"
    monkeypatch.setenv("TTS_HOME", str(empty_home / "elsewhere"))
    assert str(empty_home / "elsewhere" / "tts") in str([loc.path for loc in locate_base("vits").locations])


def test_base_cli_lists_and_refuses_download_without_licence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(home, tmp_path / "vb")
    cmd = [sys.executable, "-m", "voicebank.cli.main", "train", "base"]
    proc = subprocess.run(cmd + ["list"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "xtts_v2" in proc.stdout and "not found" in proc.stdout and "Coqui Public Model License" in proc.stdout
    proc = subprocess.run(cmd + ["download", "xtts_v2"], input="n\n", capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "Nothing was downloaded" in proc.stdout
    assert "non-commercial" in proc.stdout
    assert not (home / ".cache").exists() and not (home / ".local").exists()


# ------------------------------------------------------------------ recipe and dataset


def test_shipped_recipe_and_validation() -> None:
    recipe = XttsRecipe.coerce(load_recipe("xtts-v2"))
    assert recipe == XttsRecipe()  # the TOML states the defaults, documented in one place
    assert recipe.epochs_for(16) == 50  # 2 min of speech: 4 batches/epoch → min_steps, capped
    assert recipe.epochs_for(600) == 10  # an hour: the demo's 10 epochs already exceed min_steps
    assert XttsRecipe.coerce({"epochs": 2, "max_epochs": 3, "min_steps": 0}).epochs_for(100) == 2
    with pytest.raises(RecipeError, match="Unknown key"):
        XttsRecipe.coerce({"learning_rate": 1e-5})
    with pytest.raises(RecipeError, match="whole number"):
        XttsRecipe.coerce({"batch_size": 2.5})
    with pytest.raises(RecipeError, match="not 'xtts'"):
        XttsRecipe.coerce({"schema_version": 1, "name": "v", "model": "vits"})


def test_format_dataset_for_the_gpt_trainer(tmp_path: Path) -> None:
    clips = _short_clips(6)
    root = _dataset(tmp_path / "ds", clips[:3] + clips[5:6], clips[3:4])
    (root / "metadata.csv").write_text(
        (root / "metadata.csv").read_text() + "GONE|No audio.|No audio.\n", encoding="utf-8"
    )
    recipe = XttsRecipe(max_audio_seconds=5.0, language="en")
    got = format_dataset(root, recipe)
    assert [s["audio_unique_name"] for s in got.train] == [f"ds#{u}" for u, _ in clips[:3]]
    sample = got.train[0]
    assert set(sample) == {"text", "audio_file", "speaker_name", "language", "root_path", "audio_unique_name"}
    assert sample["text"] == clips[0][1] and sample["language"] == "en" and Path(sample["audio_file"]).is_file()
    assert len(got.eval) == 1 and got.eval_seconds > 0
    reasons = dict(got.skipped)
    assert "XTTS takes clips up to 5.0 s" in reasons[clips[5][0]]
    assert "cannot be read" in reasons["GONE"]
    # a dataset without held-out clips gets some held out
    bare = format_dataset(_dataset(tmp_path / "bare", clips[:3], None), XttsRecipe())
    assert len(bare.eval) == 1 and len(bare.train) == 2


def test_finetune_without_base_fails_fast_before_torch(tmp_path: Path) -> None:
    clips = _short_clips(3)
    data = _dataset(tmp_path / "data", clips[:2], clips[2:])
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "import sys\n"
        "from voicebank.train.xtts import finetune\n"
        "from voicebank.errors import BaseModelMissing\n"
        "try:\n"
        f"    finetune('xtts-v2', {str(data)!r}, None, {str(tmp_path / 'voice')!r})\n"
        "except BaseModelMissing as exc:\n"
        "    print(exc)\n"
        "    print('TORCH', 'torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_clean_env(home, tmp_path / "vb"), timeout=120)
    assert "TORCH False" in proc.stdout, proc.stdout + proc.stderr
    assert "dvae.pth" in proc.stdout and "voicebank train base download xtts_v2" in proc.stdout
    assert not (tmp_path / "voice").exists()


def test_cli_finetune_without_base(tmp_path: Path) -> None:
    clips = _short_clips(3)
    data = _dataset(tmp_path / "data", clips[:2], clips[2:])
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "voicebank.cli.main", "train", "finetune", "--recipe", "xtts-v2",
         "--dataset", str(data), "--out", str(tmp_path / "voice"), "--without-consent", "test recordings"],
        capture_output=True, text=True, env=_clean_env(home, tmp_path / "vb"), timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "dvae.pth" in proc.stderr and "voicebank train base download xtts_v2" in proc.stderr, proc.stderr


# ------------------------------------------------------------- tiny model: the engine


@pytest.fixture(scope="module")
def torch_one_thread():
    torch = pytest.importorskip("torch")
    pytest.importorskip("TTS")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, torch_one_thread) -> Path:
    from tests.xtts_tiny import make_tiny_xtts

    return make_tiny_xtts(tmp_path_factory.mktemp("xtts") / "base", max_audio_tokens=24)


@pytest.fixture(scope="module")
def tiny_voice(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zero-shot voice folder: two reference clips, streaming every 8 GPT tokens."""
    from voicebank.engines.xtts import write_voice

    clips = [(uid, *sf.read(str(LJSPEECH / "wavs" / f"{uid}.wav"), dtype="float32")) for uid, _ in _short_clips(2)]
    folder = write_voice(tmp_path_factory.mktemp("voices") / "lj", clips, name="lj", kind="zero-shot", base=tiny_base)
    card = json.loads((folder / "voice.json").read_text())
    card["inference"] = {"stream_chunk_size": 8}
    (folder / "voice.json").write_text(json.dumps(card))
    return folder


def test_engine_streams_through_the_protocol(tiny_voice: Path, torch_one_thread) -> None:
    from voicebank.engines.base import Engine
    from voicebank.engines.xtts import COND_CACHE, XttsEngine, is_xtts_voice

    assert is_xtts_voice(tiny_voice) and not is_xtts_voice(tiny_voice / "references")
    engine = XttsEngine.from_folder(tiny_voice, device="cpu")
    assert isinstance(engine, Engine) and engine.sample_rate == 24000 and engine.name == "lj"
    assert (tiny_voice / COND_CACHE).is_file()

    chunks = list(engine.stream("Hello there. [pause 0.2s] How are you?"))
    assert all(isinstance(c, AudioChunk) and c.sample_rate == 24000 for c in chunks)
    assert all(c.samples.dtype == np.float32 and c.samples.ndim == 1 for c in chunks)
    assert [c.utterance_end for c in chunks].count(True) == 1 and chunks[-1].utterance_end
    starts = [i for i, c in enumerate(chunks) if c.sentence_start]
    ends = [i for i, c in enumerate(chunks) if c.sentence_end]
    assert len(starts) == 2 and len(ends) == 2 and starts[0] == 0 and ends[-1] == len(chunks) - 1
    first = chunks[: ends[0] + 1]
    assert len(first) >= 3  # the sentence streams: several chunks before its last
    assert all(c.frames > 0 for c in first)
    pause = chunks[ends[0] + 1]
    assert not pause.sentence_start and not pause.sentence_end and pause.frames == int(0.2 * 24000)
    assert np.all(pause.samples == 0)
    # 24 GPT tokens per sentence (the tiny model never stops): ~1020 samples each at 24 kHz
    sentence = np.concatenate([c.samples for c in first])
    assert sentence.shape == (sum(c.frames for c in first),)
    assert 0.7 * 24 * 1024 * 24000 / 22050 <= sentence.shape[0] <= 24 * 1024 * 24000 / 22050
    assert np.all(np.abs(sentence) <= 1.0)

    whole = engine.synthesize("Hi.", SynthesisOptions(sample_format="int16", noise_scale=0.0))
    assert whole.samples.dtype == np.int16 and whole.utterance_end and whole.frames > 10000
    empty = list(engine.stream(" ... "))
    assert len(empty) == 1 and empty[0].frames == 0 and empty[0].utterance_end


def test_latents_are_cached_next_to_the_voice(tiny_voice: Path, torch_one_thread, monkeypatch: pytest.MonkeyPatch) -> None:
    import voicebank.engines.xtts as xtts

    XttsEngine = xtts.XttsEngine
    engine = XttsEngine.from_folder(tiny_voice, device="cpu")  # computes or reuses
    lat, spk = engine.gpt_cond_latent, engine.speaker_embedding
    assert tuple(lat.shape) == (1, 32, 32) and tuple(spk.shape) == (1, 512, 1)  # [1, gpt dim, 32 perceiver latents]

    def boom(*args, **kwargs):
        raise AssertionError("latents recomputed although cached")

    monkeypatch.setattr(xtts, "compute_conditioning", boom)
    again = XttsEngine.from_folder(tiny_voice, device="cpu")
    assert torch_one_thread.equal(again.gpt_cond_latent, lat)
    # a changed reference clip invalidates the cache
    ref = sorted((tiny_voice / "references").iterdir())[0]
    original = ref.read_bytes()
    audio, rate = sf.read(str(ref), dtype="float32")
    sf.write(str(ref), audio * 0.5, rate, subtype="PCM_16")
    try:
        with pytest.raises(AssertionError, match="recomputed"):
            XttsEngine.from_folder(tiny_voice, device="cpu")
    finally:
        ref.write_bytes(original)


def test_generation_cap_stops_a_babbling_gpt(torch_one_thread) -> None:
    from voicebank.engines.xtts import _token_cap

    cap = _token_cap(3)[0]
    ids = torch_one_thread.zeros((1, 10), dtype=torch_one_thread.long)  # prompt of 9 + 1 generated
    assert not bool(cap(ids, None)[0])
    assert not bool(cap(torch_one_thread.zeros((1, 11), dtype=torch_one_thread.long), None)[0])
    assert bool(cap(torch_one_thread.zeros((1, 12), dtype=torch_one_thread.long), None)[0])


def test_zero_shot_voice_from_a_bank(tiny_base: Path, tmp_path: Path, torch_one_thread, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebank.bank.store import Bank
    from voicebank.engines.xtts import XttsEngine, XttsVoice

    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "vbhome"))
    clips = _short_clips(5)
    with Bank.create(tmp_path / "bank", speaker="Linda") as bank:
        for n, (uid, text) in enumerate(clips):
            prompt = bank.add_prompt(text)
            audio, rate = sf.read(str(LJSPEECH / "wavs" / f"{uid}.wav"), dtype="float32")
            verdict = "fail" if n == 4 else "pass"  # the longest is failed by QC: never a reference
            bank.save_take(prompt.id, audio, rate, qc={"verdict": verdict}, choose=True)
        failed = bank.chosen_take(prompt.id).id
    engine = XttsEngine.from_bank(tmp_path / "bank", n_refs=2, base=tiny_base, device="cpu")
    folder = tmp_path / "vbhome" / "voices" / "Linda-xtts"
    voice = XttsVoice.load(folder)
    assert voice.card["kind"] == "zero-shot" and voice.card["base"] == str(tiny_base.resolve())
    assert len(voice.references) == 2 and failed not in voice.card["source"]["takes"]
    assert "non-commercial" in voice.card["licence"]
    for ref in voice.references:
        assert sf.info(str(ref)).samplerate == 22050
    chunks = list(engine.stream("Hello."))
    assert chunks[0].sentence_start and chunks[-1].sentence_end and chunks[-1].utterance_end
    assert len(chunks) >= 2
    # later starts need neither the bank nor --base: the card remembers the base
    assert XttsEngine.from_folder(folder, device="cpu").name == "Linda-xtts"

    from typer.testing import CliRunner

    from voicebank.cli.main import app

    out = tmp_path / "cloned"
    run = CliRunner().invoke(app, ["train", "clone", str(tmp_path / "bank"), "--out", str(out), "--refs", "1",
                                   "--base", str(tiny_base), "--device", "cpu",
                                   "--without-consent", "test recordings"])
    assert run.exit_code == 0, run.output
    assert "non-commercial" in run.output and (out / "conditioning.pt").is_file()
    assert len(list((out / "references").iterdir())) == 1


def test_missing_weights_are_a_clear_engine_error(tiny_voice: Path, tmp_path: Path, empty_home: Path) -> None:
    from voicebank.engines.xtts import XttsEngine, load_model
    from voicebank.errors import EngineError

    copy = tmp_path / "voice"
    shutil.copytree(tiny_voice, copy)
    card = json.loads((copy / "voice.json").read_text())
    card["base"] = str(tmp_path / "moved-away")
    (copy / "voice.json").write_text(json.dumps(card))
    with pytest.raises(EngineError, match=r"XTTS-v2 base model \(.*xtts_v2\) is needed to speak with it"):
        XttsEngine.from_folder(copy, device="cpu")
    with pytest.raises(EngineError, match="is missing config.json, model.pth, vocab.json"):
        load_model(tmp_path)


# ---------------------------------------------------------- tiny model: fine-tuning


def test_build_config_reads_architecture_from_the_base(tmp_path: Path, torch_one_thread) -> None:
    from tests.xtts_tiny import make_tiny_xtts
    from voicebank.train.xtts import build_config

    base = find_base("xtts_v2", make_tiny_xtts(tmp_path / "base", train=True), purpose="train")
    config = build_config(XttsRecipe(lr=1e-5, batch_size=2), base, tmp_path / "out", epochs=3)
    args = config.model_args
    assert (args.gpt_layers, args.gpt_n_model_channels, args.gpt_num_audio_tokens) == (1, 32, 66)
    assert args.dvae_checkpoint == str(tmp_path / "base" / "dvae.pth")
    assert args.xtts_checkpoint == str(tmp_path / "base" / "model.pth")
    assert args.max_wav_length == int(11.6 * 22050) and args.min_conditioning_length == 3 * 22050
    assert (config.lr, config.batch_size, config.epochs, config.optimizer) == (1e-5, 2, 3, "AdamW")
    assert config.model == "xtts" and config.audio.output_sample_rate == 24000


@pytest.mark.slow
def test_finetune_tiny_model_end_to_end(tmp_path: Path, torch_one_thread, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.xtts_tiny import make_tiny_xtts
    from voicebank.engines.xtts import XttsEngine, XttsVoice
    from voicebank.train.xtts import finetune

    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "vbhome"))
    base = make_tiny_xtts(tmp_path / "base", train=True, max_audio_tokens=120)
    clips = _short_clips(4)
    data = _dataset(tmp_path / "data", clips[:3], clips[3:])
    recipe = {"epochs": 1, "max_epochs": 1, "min_steps": 0, "batch_size": 2, "loader_workers": 0,
              "max_audio_seconds": 5.0, "n_refs": 2, "save_step": 1000}
    events = []
    out = tmp_path / "voice"
    # "cpu" hides the GPUs, which only works before CUDA starts: on a GPU machine use it
    device = "cuda" if torch_one_thread.cuda.is_available() else "cpu"
    result = finetune(recipe, data, base, out, device=device, progress=events.append)

    kinds = [e.kind for e in events]
    assert kinds[:2] == ["message", "start"] and kinds[-2:] == ["message", "stop"]
    assert {"step", "eval", "best"} <= set(kinds)
    assert result.steps == 2 and result.train_clips == 3 and result.eval_clips == 1
    for name in ("model.pth", "config.json", "vocab.json", "voice.json", "conditioning.pt", "train_log.jsonl",
                 "xtts_run.json"):
        assert (out / name).is_file(), name
    state = torch_one_thread.load(str(out / "model.pth"), map_location="cpu", weights_only=True)["model"]
    assert "gpt.text_embedding.weight" in state and not any(k.startswith(("xtts.", "dvae.")) for k in state)
    voice = XttsVoice.load(out)
    assert voice.model_dir == out and voice.card["kind"] == "fine-tuned" and len(voice.references) == 2
    assert voice.card["training"]["steps"] == 2 and "non-commercial" in voice.card["licence"]
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2 and log[-1]["loss_eval"] is not None
    assert (result.run_dir / "trainer_0_log.txt").is_file()

    engine = XttsEngine.from_folder(out, device=device)
    chunks = list(engine.stream("Hi."))
    assert chunks[-1].sentence_end and chunks[-1].utterance_end and sum(c.frames for c in chunks) > 0

    # --resume continues the run in OUT/training (Coqui redoes the epoch it saved in) and re-exports
    again = finetune({**recipe, "epochs": 2, "max_epochs": 2}, None, None, out, device=device, resume=True)
    assert again.run_dir == result.run_dir and again.steps > result.steps
    assert len((out / "train_log.jsonl").read_text().splitlines()) > len(log)

    from voicebank.errors import UsageError

    with pytest.raises(UsageError, match="not empty"):
        finetune(recipe, data, base, out, device=device)
    with pytest.raises(UsageError, match="no XTTS training to resume"):
        finetune(recipe, data, base, tmp_path / "other", device=device, resume=True)


@pytest.mark.slow
def test_cli_finetune_xtts_recipe_with_tiny_base(tmp_path: Path, torch_one_thread) -> None:
    """`voicebank train finetune` hands an XTTS recipe to voicebank.train.xtts and prints its events."""
    from tests.xtts_tiny import make_tiny_xtts

    base = make_tiny_xtts(tmp_path / "base", train=True, max_audio_tokens=120)
    clips = _short_clips(4)
    data = _dataset(tmp_path / "data", clips[:3], clips[3:])
    recipe = tmp_path / "tiny-xtts.toml"
    recipe.write_text(
        'schema_version = 1\nname = "tiny-xtts"\nmodel = "xtts"\n[xtts]\nepochs = 1\nmax_epochs = 1\n'
        "min_steps = 0\nbatch_size = 2\nloader_workers = 0\nmax_audio_seconds = 5.0\nn_refs = 1\n",
        encoding="utf-8",
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {**_clean_env(home, tmp_path / "vb"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "voicebank.cli.main", "train", "finetune", "--recipe", str(recipe), "--dataset",
         str(data), "--base", str(base), "--out", str(tmp_path / "voice"), "--device", "cpu",
         "--without-consent", "test recordings"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "held-out loss" in proc.stdout and "non-commercial" in proc.stdout
    assert (tmp_path / "voice" / "model.pth").is_file() and (tmp_path / "voice" / "conditioning.pt").is_file()


@pytest.mark.gpu
def test_tiny_xtts_on_cuda(tiny_voice: Path, tmp_path: Path, torch_one_thread, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same paths on a GPU: streaming from CUDA, and a one-epoch fine-tune there."""
    if not torch_one_thread.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    from tests.xtts_tiny import make_tiny_xtts
    from voicebank.engines.xtts import XttsEngine
    from voicebank.train.xtts import finetune

    engine = XttsEngine.from_folder(tiny_voice, device="cuda")
    assert engine.describe()["device"].startswith("cuda")
    chunks = list(engine.stream("Hello there."))
    assert chunks[0].sentence_start and chunks[-1].sentence_end and len(chunks) >= 3
    assert all(c.samples.dtype == np.float32 for c in chunks)

    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "vbhome"))
    base = make_tiny_xtts(tmp_path / "base", train=True, max_audio_tokens=120)
    clips = _short_clips(4)
    data = _dataset(tmp_path / "data", clips[:3], clips[3:])
    recipe = {"epochs": 1, "max_epochs": 1, "min_steps": 0, "batch_size": 2, "loader_workers": 0,
              "max_audio_seconds": 5.0, "n_refs": 1}
    result = finetune(recipe, data, base, tmp_path / "voice", device="cuda")
    assert result.steps == 2 and (tmp_path / "voice" / "conditioning.pt").is_file()
