"""``voicebank train instant``: a Kokoro style searched from real recordings, written as a voice that speaks.

Runs the real search (Kokoro-82M, the ECAPA verifier) on a tiny dataset of real LJSpeech
clips with a tiny budget: two shipped voices, a few short sentences, three walk steps.
The dataset's held-out split is made unreadable: the search must never open it.
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

from tests.conftest import LJSPEECH
from tests.test_kokoro import _installed


def _tiny_dataset(root: Path, n: int = 6) -> Path:
    """A dataset folder (prepare's layout) of ``n`` real clips; its held-out split is poison."""
    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    rows = [line.split("|") for line in (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines() if line]
    (root / "wavs").mkdir(parents=True)
    for uid, *_ in rows[:n]:
        shutil.copy(LJSPEECH / "wavs" / f"{uid}.wav", root / "wavs" / f"{uid}.wav")
    (root / "metadata.csv").write_text("".join(f"{r[0]}|{r[1]}|{r[-1]}\n" for r in rows[:n]), encoding="utf-8")
    # Held out: a listed wav that is not audio, one that does not exist, and a metadata file
    # that is not text. Reading any of them would fail the run.
    (root / "wavs" / "HELD-0001.wav").write_bytes(b"not audio at all")
    (root / "metadata_eval.csv").write_bytes(b"\xff\xfe HELD-0001|x|x\nHELD-0002|y|y\n")
    return root


@pytest.fixture(scope="module")
def made(home: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One tiny search, shared by the tests below."""
    _installed()
    from voicebank.train.instant import InstantSettings, make_instant_voice

    base = tmp_path_factory.mktemp("instant")
    data = _tiny_dataset(base / "data")
    settings = InstantSettings(
        minutes=10, seed=3, voices=("af_heart", "bm_george"), guide_count=3, validation_count=2,
        screen_count=1, keep=2, max_steps=3, max_symbols=40, dims=1,
    )
    events = []
    card = make_instant_voice(data, base / "voice", settings, on_event=events.append)
    return data, base / "voice", card, events


@pytest.mark.slow
def test_the_search_writes_a_voice_that_speaks(made) -> None:  # type: ignore[no-untyped-def]
    from voicebank.engines import load_engine
    from voicebank.voice.kokoro_card import KokoroVoice

    data, folder, card, events = made
    assert json.loads((folder / "voice.json").read_text(encoding="utf-8")) == json.loads(json.dumps(card))
    search = card["search"]
    assert set(search["screen"]) == {"af_heart", "bm_george"}
    assert search["curve"][0]["step"] == 0 and "validation" in search["curve"][0]
    assert search["steps"] == 3 and search["stopped"] == "reached 3 steps"  # 2 probes (a direction per half), 1 model step
    assert [e.kind for e in events][:1] == ["target"] and events[-1].kind == "done"
    assert any(e.kind == "screen" for e in events) and any(e.kind == "step" for e in events)
    made_from = card["made_from"]
    assert made_from["recordings"] == 6 and not any(i.startswith("HELD") for i in made_from["guide_recordings"])
    assert set(made_from["guide_recordings"]).isdisjoint(made_from["validation_recordings"])
    voice = KokoroVoice.load(folder)
    assert voice.style.shape == (510, 256)
    audio = load_engine(folder).synthesize("Thank you for coming.").samples
    assert np.abs(audio).max() > 0.05


@pytest.mark.slow
def test_the_same_seed_makes_the_same_voice(made, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from voicebank.train.instant import InstantSettings, make_instant_voice
    from voicebank.voice.kokoro_card import KokoroVoice

    data, folder, card, _ = made
    settings = InstantSettings(**card["search"]["settings"] | {"voices": ("af_heart", "bm_george")})
    again = make_instant_voice(data, tmp_path / "again", settings)
    strip = [{k: v for k, v in point.items() if k != "seconds"} for point in card["search"]["curve"]]
    assert [{k: v for k, v in point.items() if k != "seconds"} for point in again["search"]["curve"]] == strip
    assert np.array_equal(KokoroVoice.load(tmp_path / "again").style, KokoroVoice.load(folder).style)


@pytest.mark.slow
def test_the_cli_prints_progress_and_what_to_do_next(made, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from voicebank.cli.train_instant import _print_summary, _progress

    data, folder, card, events = made
    for event in events:
        _progress(event)
    _print_summary(card, folder, data)
    out, err = capsys.readouterr()
    assert "shipped voice 1/2 af_heart" in err and "step 2: guide" in err and "left]" in err
    assert f"voicebank train eval {folder} --dataset {data}" in out and f"voicebank speak --voice {folder}" in out


def test_a_folder_of_recordings_without_transcripts_uses_prompt_sentences(tmp_path: Path) -> None:
    from voicebank.train.instant import InstantSettings, _prompt_sentences, find_clips, sentence_texts, split_clips

    for name in ("a.wav", "b.wav", "c.flac", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    clips, kind = find_clips(tmp_path)
    assert kind == "folder" and [c.id for c in clips] == ["a", "b", "c"] and all(c.text is None for c in clips)
    guide, val = split_clips(clips, InstantSettings())
    assert guide == val == clips  # too few to split: both sides hear them all
    texts = sentence_texts(guide, 8, _prompt_sentences())
    assert len(texts) == 8 and all(len(t.split()) >= 6 for t in texts)


def test_bad_data_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """As a person runs it: one clear line and exit code 2, nothing written."""
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "voicebank.cli.main", "train", "instant"]
    proc = subprocess.run([*cli, str(tmp_path / "nowhere"), "--out", str(tmp_path / "v")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "not a folder" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([*cli, str(tmp_path / "empty"), "--out", str(tmp_path / "v")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "no recordings" in proc.stderr
    assert not (tmp_path / "v").exists()
    help_text = subprocess.run([*cli, "--help"], capture_output=True, text=True, env=env).stdout
    assert "--minutes" in help_text and "--seed" in help_text


@pytest.mark.slow
def test_a_spent_budget_still_lets_the_walk_fit_its_model_and_step(made, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """On a slow machine the budget runs out among the probes; the walk still takes its first model step, and says so."""
    from voicebank.cli.train_instant import _progress
    from voicebank.train.instant import InstantSettings, make_instant_voice

    data, _, card, _ = made
    slow = card["search"]["settings"] | {"voices": ("af_heart", "bm_george"), "minutes": 0.01, "max_steps": None, "min_model_steps": 1}
    events: list = []
    search = make_instant_voice(data, tmp_path / "slow", InstantSettings(**slow), on_event=events.append)["search"]
    assert search["steps"] == 3 and search["stopped"] == "time budget spent"  # 2 probes, then the one owed model step
    walk = [e for e in events if e.kind == "walk"]
    assert len(walk) == 1 and "2 probes" in walk[0].message and "past the 0.01-minute budget" in walk[0].message
    _progress(walk[0])
    assert "past the 0.01-minute budget" in capsys.readouterr().err
