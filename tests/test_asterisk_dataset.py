"""The Asterisk dataset script on the real Debian packages, and the path a user takes with its output:
bank import-audio, then train prepare holding out exactly the fixed list (--eval-ids)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.helpers.scripts import load_script
from voicebank.errors import CorruptFileError, DatasetError, UsageError

REPO = Path(__file__).resolve().parents[1]
VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


ast = load_script("asterisk_dataset")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + [str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole set, built once from the real .debs (downloaded by apt-get download)."""
    debs = tmp_path_factory.mktemp("debs")
    try:
        ast.fetch_debs(debs, None)
    except (DatasetError, UsageError) as exc:  # no apt, no network, or the pinned version is gone
        pytest.skip(f"cannot get the Asterisk .debs from Debian here: {exc}")
    out = tmp_path_factory.mktemp("asterisk") / "full"
    ast.build(out, debs)
    return out


# ------------------------------------------------------------------------- no download needed


def test_transcript_cleaning_keeps_words_and_skips_sounds() -> None:
    assert ast.clean_text("silence/3", "(3 seconds of silence)")[1] == "silence"
    assert ast.clean_text("beep", "[this is a simple beep tone]")[1].startswith("a sound, not speech")
    assert ast.clean_text("confbridge-join", "<beep ascending>")[1].startswith("a sound, not speech")
    assert "note" in ast.clean_text("spy-iax2", 'IAX (note: does not say "2")')[1]
    assert ast.clean_text("letters/at", "at [@]") == ("at", "")
    assert ast.clean_text("letters/exclaimation-point", "exclaimation-point [!]") == ("exclamation point", "")
    said = ast.clean_text("dictate/enter_filename", "Enter a filename followed by # or just # to exit")
    assert said == ("Enter a filename followed by pound or just pound to exit", "")
    assert ast.clean_text("x", "")[1] == "no transcript"
    assert ast.clean_text("privacy-unident", "The party you are trying")[0].startswith("The party you're trying")
    assert ast.clean_text("y", "Un-indentified or witheld; mute or umute")[0] == "Unidentified or withheld; mute or unmute"


def test_debs_are_checked_against_the_pinned_sha256(tmp_path: Path) -> None:
    for package in ast.SHA256:
        (tmp_path / ast.deb_name(package)).write_bytes(b"not the package")
    with pytest.raises(CorruptFileError, match="pinned"):
        ast.fetch_debs(tmp_path / "unused", tmp_path)
    with pytest.raises(UsageError, match="missing"):
        ast.fetch_debs(tmp_path / "unused", tmp_path / "empty")


def test_clear_errors_without_apt_or_a_built_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no dpkg-deb, no ffmpeg
    with pytest.raises(UsageError, match="apt-get was not found.*--debs DIR"):
        ast.fetch_debs(tmp_path, None)
    assert ast.main(["subsets", str(tmp_path), str(tmp_path / "sets")]) == 2
    assert "error:" in capsys.readouterr().err


# ----------------------------------------------------------------------- on the real packages


@pytest.mark.slow
def test_build_decodes_every_prompt_and_is_idempotent(full: Path) -> None:
    m = json.loads((full / "manifest.json").read_text())
    assert m["prompts"] == 568 and m["debs"] == ast.SHA256
    assert m["skipped_by_reason"]["silence"] == 10 and m["skipped_by_reason"]["a sound, not speech"] == 7
    assert 520 <= m["kept"] <= 550 and 20.0 <= m["minutes"] <= 23.0
    assert m["low_band_energy_median"] > 0.9  # speech, not the noise of a wrong decode
    rows = list(csv.reader((full / "metadata.csv").read_text().splitlines(), delimiter="|", quoting=csv.QUOTE_NONE))
    assert len(rows) == m["kept"] and all(len(r) == 3 and r[1] for r in rows)
    texts = {r[0]: r for r in rows}
    assert texts["demo-enterkeywords"][1].startswith("Please enter one or more keywords separated by star")
    assert texts["digits_1"][1] == "one" and "silence_1" not in texts and "beep" not in texts
    assert texts["vm-mismatch"][1].startswith("The password you entered")  # corrected to what she says
    assert sorted(p.stem for p in (full / "wavs").iterdir()) == sorted(texts)
    with wave.open(str(full / "wavs" / "agent-alreadyon.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() == 2 * 44131  # 64 kbit/s G.722: two samples per byte of the .g722
    assert "CC-BY-SA-3.0" in (full / "LICENSE.txt").read_text() and "Allison Smith" in (full / "LICENSE.txt").read_text()
    before = (full / "metadata.csv").stat().st_mtime_ns
    ast.build(full)  # already built: nothing downloaded or written
    assert (full / "metadata.csv").stat().st_mtime_ns == before


@pytest.mark.slow
def test_subsets_are_nested_disjoint_from_held_out_and_deterministic(full: Path) -> None:
    clips = [c for c in json.loads((full / "manifest.json").read_text())["clips"] if not c["skipped"]]
    held = ast.choose_heldout(clips, 20, 0)
    assert [c["id"] for c in held] == [c["id"] for c in ast.choose_heldout(list(reversed(clips)), 20, 0)]
    assert {c["id"] for c in held} != {c["id"] for c in ast.choose_heldout(clips, 20, 1)}  # the seed matters
    assert all(c["words"] >= 6 and c["text"].endswith((".", "?", "!")) for c in held)
    subsets = ast.nested_subsets(clips, held, [3, 8, 15], 0)
    ids = {k: [c["id"] for c in v] for k, v in subsets.items()}
    assert ids == {k: [c["id"] for c in v] for k, v in ast.nested_subsets(clips, held, [15, 3, 8], 0).items()}
    assert set(ids[3]) < set(ids[8]) < set(ids[15])
    assert not set(ids[15]) & {c["id"] for c in held}
    for k, v in subsets.items():
        minutes = sum(c["speech_seconds"] for c in v) / 60
        assert k - 0.05 <= minutes <= k
    assert all(c["words"] >= 3 for c in subsets[8])  # multi-word prompts come first
    with pytest.raises(UsageError, match="remain"):
        ast.nested_subsets(clips, held, [60], 0)


@pytest.mark.slow
def test_a_subset_imports_into_a_bank_and_prepares_with_the_fixed_held_out_set(full: Path, tmp_path: Path) -> None:
    assert ast.main(["subsets", str(full), str(tmp_path / "sets"), "--subsets", "0.5", "--held-out", "3"], report=print) == 0
    folder = tmp_path / "sets" / "asterisk-0.5min"
    heldout = [ln for ln in (folder / "heldout.txt").read_text().splitlines() if not ln.startswith("#")]
    assert heldout == [ln for ln in (tmp_path / "sets" / "heldout.txt").read_text().splitlines() if not ln.startswith("#")]
    bank = tmp_path / "bank"
    run("bank", "new", bank, "--speaker", "Allison Smith")
    imported = run("bank", "import-audio", bank, folder).stdout
    train_ids = json.loads((folder / "manifest.json").read_text())["train"]
    assert f"{len(train_ids) + 3} takes" in imported
    report = json.loads(run("train", "prepare", bank, tmp_path / "ds", "--eval-ids", folder / "heldout.txt", "--json", "--without-consent", "test recordings").stdout)
    assert sorted(report["eval_ids"]) == sorted(heldout)
    assert report["settings"]["eval_ids"] == heldout
    eval_rows = (tmp_path / "ds" / "metadata_eval.csv").read_text().splitlines()
    assert sorted(r.split("|")[0] for r in eval_rows) == sorted(heldout)
    assert report["train"] >= len(train_ids) - 2  # a take or two may fail QC against the speaker's baseline

    from voicebank.train.dataset import prepare_dataset

    with pytest.raises(DatasetError, match="not-a-prompt: no chosen take"):
        prepare_dataset(bank, tmp_path / "ds2", eval_ids=[*heldout, "not-a-prompt"])
    with pytest.raises(UsageError, match="not both"):
        prepare_dataset(bank, tmp_path / "ds2", eval_ids=heldout, eval_count=3)
