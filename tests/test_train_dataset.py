"""Bank → dataset (``voicebank train prepare``) on real LJSpeech recordings imported into a bank."""

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

from voicebank.bank.store import Bank
from voicebank.errors import UsageError
from voicebank.text import normalize
from voicebank.train.dataset import DatasetError, load_dataset, prepare_dataset
from voicebank.train.dataset_split import choose_eval


@pytest.fixture(scope="module")
def lj_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank holding the 32 LJSpeech clips, each an accepted, chosen take."""
    from tests.conftest import LJSPEECH
    from voicebank.bank.importer import Importer

    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    root = tmp_path_factory.mktemp("bank") / "lj"
    with Bank.create(root) as bank:
        events = list(Importer(bank).import_ljspeech(LJSPEECH))
    assert sum(e.kind == "take" for e in events) == 32
    return root


@pytest.fixture(scope="module")
def prepared(lj_bank: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("ds") / "data"
    return out, prepare_dataset(lj_bank, out)


def _rows(path: Path) -> list[list[str]]:
    return [line.split("|") for line in path.read_text(encoding="utf-8").splitlines()]


def _clip(name: str = "LJ001-0002") -> tuple[np.ndarray, int]:
    from tests.conftest import LJSPEECH

    data, rate = sf.read(str(LJSPEECH / "wavs" / f"{name}.wav"), dtype="float32")
    return data, rate


def _copy_bank(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def test_prepare_writes_an_ljspeech_dataset_with_a_held_out_split(prepared: tuple[Path, object]) -> None:
    out, report = prepared
    train, held = _rows(out / "metadata.csv"), _rows(out / "metadata_eval.csv")
    assert len(train) == 28 and len(held) == 4  # 10% of 32 is 3, but at least 4 are held out
    assert all(len(r) == 3 for r in train + held)
    train_ids, eval_ids = {r[0] for r in train}, {r[0] for r in held}
    assert not train_ids & eval_ids and len(train_ids | eval_ids) == 32
    assert sorted(p.stem for p in (out / "wavs").glob("*.wav")) == sorted(train_ids | eval_ids)
    # the third column is the engine's own frontend applied to the transcript
    assert all(r[2] == normalize(r[1]) for r in train + held)
    assert any(r[1] != r[2] for r in train + held)  # e.g. 'i.e.' -> 'that is', quotes dropped

    for uid in train_ids | eval_ids:
        info = sf.info(str(out / "wavs" / f"{uid}.wav"))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    x, _ = sf.read(str(out / "wavs" / "LJ001-0002.wav"), dtype="float32")
    assert 20 * np.log10(np.max(np.abs(x))) <= -0.9  # peak limit -1 dBFS

    meta = json.loads((out / "dataset.json").read_text())
    assert meta["schema_version"] == 1 and meta["format"] == "voicebank-dataset"
    assert set(meta["eval_ids"]) == eval_ids and meta["settings"]["sample_rate"] == 22050
    assert meta["utterances"] == 32 and meta["train"] == 28 and meta["eval"] == 4
    assert 3.0 < meta["minutes"] < 3.8 and meta["rejected"] == []
    cov = meta["coverage"]
    assert cov["phones"] >= 40 and cov["diphones"] >= 400 and 0.2 < cov["fraction"] < 0.5
    assert "ʒ" in cov["missing_phones"]  # no 'measure'/'vision' in these 28 sentences
    assert report.to_dict()["eval_ids"] == meta["eval_ids"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folders left

    ds = load_dataset(out)
    assert {u.id for u in ds.eval} == eval_ids and len(ds.train) == 28 and ds.sample_rate == 22050


def test_takes_are_trimmed_and_level_matched(prepared: tuple[Path, object]) -> None:
    from voicebank.bank.vad import speech_segments

    out, _ = prepared
    src, rate = _clip("LJ001-0002")
    y, sr = sf.read(str(out / "wavs" / "LJ001-0002.wav"), dtype="float32")
    segs = speech_segments(y, sr)
    assert segs[0][0] <= 0.25 and y.shape[0] / sr - segs[-1][1] <= 0.25  # margin 0.15 s + detector frames
    assert y.shape[0] / sr <= src.shape[0] / rate + 0.01
    mask = np.zeros(y.shape[0], bool)
    for s, e in segs:
        mask[int(s * sr) : int(e * sr)] = True
    level = 20 * np.log10(np.sqrt(np.mean(y[mask] ** 2)))
    assert -22.5 < level < -17.5  # target -20 dBFS of active speech (unless the peak limit holds it down)


def test_split_is_seeded_stable_and_never_moves_a_held_out_clip_into_training(
    lj_bank: Path, prepared: tuple[Path, object], tmp_path: Path
) -> None:
    out, first = prepared
    old_eval = set(first.eval_ids)
    again = prepare_dataset(lj_bank, tmp_path / "elsewhere")  # same bank, same seed, another folder
    assert set(again.eval_ids) == old_eval
    other_seed = prepare_dataset(lj_bank, tmp_path / "seed1", seed=1)
    assert set(other_seed.eval_ids) != old_eval

    copy = tmp_path / "rerun"
    shutil.copytree(out, copy)
    smaller = prepare_dataset(lj_bank, copy, eval_count=2)  # asks for fewer: the old 4 stay held out
    assert set(smaller.eval_ids) == old_eval and smaller.kept_eval == 4
    bigger = prepare_dataset(lj_bank, copy, seed=7, eval_count=6)  # more (even with another seed): old 4 + 2 new
    assert old_eval < set(bigger.eval_ids) and len(bigger.eval_ids) == 6
    train = {r[0] for r in _rows(copy / "metadata.csv")}
    assert not train & set(bigger.eval_ids) and len(train) == 26


def test_choose_eval_prefers_clips_never_trained_on() -> None:
    ids = [f"u{i:02d}" for i in range(20)]
    first, _ = choose_eval(ids, 3, 0)
    assert first == choose_eval(list(reversed(ids)), 3, 0)[0]  # order of the bank does not matter
    new = ids + ["n1", "n2"]
    grown, kept = choose_eval(new, 5, 0, prev_eval=first, prev_train=set(ids) - first)
    assert kept == 3 and first < grown and grown - first == {"n1", "n2"}


def test_unusable_takes_are_left_out_with_their_reasons(lj_bank: Path, tmp_path: Path) -> None:
    root = _copy_bank(lj_bank, tmp_path / "bank")
    speech, rate = _clip()
    with Bank.open(root) as bank:
        bank.set_status("LJ001-0003.t01", "rejected")
        bad_qc = {"verdict": "fail", "checks": [{"name": "clipping", "verdict": "fail", "value": 40, "message": "the take is clipped"}]}
        bank.add_prompt("A sentence that was clipped.", prompt_id="clipped")
        bank.save_take("clipped", speech, rate, qc=bad_qc, status="accepted", choose=True)
        for pid, text in (("cyrillic", "Привет, как дела?"), ("han", "你好世界"), ("dots", "... !!!"), ("untranscribed", "")):
            bank.add_prompt(text, kind="imported", prompt_id=pid)
            bank.save_take(pid, speech, rate, qc={"verdict": "pass"}, status="accepted", choose=True)
        bank.add_prompt("Nothing is said in this take.", prompt_id="silent")
        noise = (1e-4 * np.random.default_rng(0).standard_normal(rate)).astype(np.float32)
        bank.save_take("silent", noise, rate, qc={"verdict": "pass"}, status="accepted", choose=True)
        bank.add_prompt("Recorded but never chosen.", prompt_id="unchosen")
        bank.save_take("unchosen", speech, rate, status="pending")
    report = prepare_dataset(root, tmp_path / "data")
    reasons = {r.prompt_id: r.reason for r in report.rejected}
    assert set(reasons) == {"LJ001-0003", "clipped", "cyrillic", "han", "dots", "untranscribed", "silent"}
    assert "rejected" in reasons["LJ001-0003"]
    assert "quality check" in reasons["clipped"] and "clipped" in reasons["clipped"]
    assert "Latin" in reasons["cyrillic"] and "П" in reasons["cyrillic"] and "Latin" in reasons["han"]
    assert "no words" in reasons["dots"]
    assert "no transcript" in reasons["untranscribed"]
    assert "speech" in reasons["silent"]
    assert report.utterances == 31 and report.prompts_without_chosen_take == 1
    listed = {r["prompt_id"] for r in json.loads((tmp_path / "data" / "dataset.json").read_text())["rejected"]}
    assert listed == set(reasons)


def _small_bank(root: Path, texts: list[str]) -> Path:
    speech, rate = _clip()
    with Bank.create(root) as bank:
        for i, text in enumerate(texts):
            pid = f"p{i}"
            bank.add_prompt(text, kind="imported", prompt_id=pid)
            bank.save_take(pid, speech, rate, qc={"verdict": "pass"}, status="accepted", choose=True)
    return root


def test_bad_banks_give_clear_errors_and_write_nothing(tmp_path: Path, lj_bank: Path) -> None:
    out = tmp_path / "data"
    with Bank.create(tmp_path / "empty"):
        pass
    with pytest.raises(DatasetError, match="record or accept some takes first"):
        prepare_dataset(tmp_path / "empty", out)

    one = _small_bank(tmp_path / "one", ["in being comparatively modern."])
    with pytest.raises(DatasetError, match="at least 2 are needed"):
        prepare_dataset(one, out)

    foreign = _small_bank(tmp_path / "foreign", ["Привет мир", "こんにちは"])
    with pytest.raises(DatasetError, match="None of the 2 chosen takes") as err:
        prepare_dataset(foreign, out)
    assert "Latin" in str(err.value)

    two = _small_bank(tmp_path / "two", ["in being comparatively modern.", "Being comparatively modern."])
    with pytest.raises(UsageError, match="at least one must remain"):
        prepare_dataset(two, out, eval_count=2)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    report = prepare_dataset(two, out)  # two utterances are enough: one of each
    assert (report.train, report.eval) == (1, 1)

    mine = tmp_path / "my-documents"
    mine.mkdir()
    (mine / "letter.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a voicebank dataset"):
        prepare_dataset(lj_bank, mine)
    assert [p.name for p in mine.iterdir()] == ["letter.txt"]


def test_cli_prepare_json_and_error(lj_bank: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("voicebank")
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [str(exe), "train", "prepare", str(lj_bank), str(tmp_path / "d"), "--eval-count", "5", "--json", "--without-consent", "test recordings"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["eval"] == 5 and data["train"] == 27 and data["coverage"]["phones"] > 30
    with Bank.create(tmp_path / "empty"):
        pass
    proc = subprocess.run(
        [str(exe), "train", "prepare", str(tmp_path / "empty"), str(tmp_path / "d2"), "--without-consent", "test recordings"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2 and "record or accept some takes first" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_held_out_size_grows_to_twenty_once_a_bank_has_ten_minutes() -> None:
    """A short bank holds out a tenth (at least 4); from 10 minutes on at least 20, never over a quarter."""
    from voicebank.train.dataset import PrepareSettings

    s = PrepareSettings()
    assert s.eval_size(32, minutes=3.7) == 4
    assert s.eval_size(85, minutes=9.9) == 8
    assert s.eval_size(85, minutes=10.0) == 20
    assert s.eval_size(60, minutes=12.0) == 15  # a quarter of 60
    assert s.eval_size(400, minutes=50.0) == 40  # a tenth is more than 20
    assert PrepareSettings(eval_count=6).eval_size(85, minutes=30.0) == 6
