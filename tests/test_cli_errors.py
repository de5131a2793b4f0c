"""The world's failures and surprising inputs get plain words from the real CLI (issue 14, items 4-6).

Each test runs ``voicebank`` in a subprocess as a person would, on real file systems: a
small tmpfs filled for real, a read-only mount, a folder where a file was asked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.helpers.tmpfs import small_tmpfs

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]
LONG = "Hello, this is a sentence long enough that its audio will never fit on a disk this small. " * 2


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + args, capture_output=True, text=True, env=env, input=stdin, timeout=300)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert "something went wrong inside voicebank" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))


@pytest.mark.parametrize("ext", ["wav", "mp3", "flac"])
def test_speak_out_onto_a_full_disk(ext: str, tmp_path: Path, home: dict[str, str]) -> None:
    with small_tmpfs(tmp_path / "small", "64k") as disk:
        proc = run(["speak", LONG, "--out", str(disk / f"speech.{ext}")], home)
        assert proc.returncode == 2, proc.stderr
        assert "disk is full" in proc.stderr.lower() and f"speech.{ext}" in proc.stderr
        assert "ffmpeg" not in proc.stderr and "System error" not in proc.stderr
        assert sorted(os.listdir(disk)) == []  # no partial file, no empty file


def test_speak_out_onto_a_folder_or_read_only_disk(tmp_path: Path, home: dict[str, str]) -> None:
    folder = tmp_path / "speech.wav"
    folder.mkdir()
    proc = run(["speak", "Hi.", "--out", str(folder)], home)
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    proc = run(["speak", "Hi.", "--out", str(tmp_path)], home)  # a folder without an extension too
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    with small_tmpfs(tmp_path / "ro", "64k") as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        proc = run(["speak", "Hi.", "--out", str(disk / "sub" / "x.wav")], home)
        assert proc.returncode == 2 and "read-only" in proc.stderr
        assert os.listdir(disk) == []


def test_piped_text_is_written_to_out(tmp_path: Path, home: dict[str, str]) -> None:
    out = tmp_path / "piped.wav"
    proc = run(["speak", "--out", str(out)], home, stdin="Could you open the window, please?")
    assert proc.returncode == 0, proc.stderr
    assert f"Wrote {out}" in proc.stdout and sf.info(out).duration > 1.0


def test_out_without_text_at_a_terminal_is_refused(tmp_path: Path, home: dict[str, str]) -> None:
    import pty

    leader, follower = pty.openpty()  # standard input is a terminal: nothing is piped in
    try:
        proc = subprocess.run(VOICEBANK + ["speak", "--out", str(tmp_path / "x.wav")], stdin=follower,
                              capture_output=True, text=True, env=home, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2 and "--out writes the text you give" in proc.stderr, proc.stderr
    assert not (tmp_path / "x.wav").exists()


def test_conflicting_and_unwritable_options_are_refused_before_any_work(tmp_path: Path, home: dict[str, str]) -> None:
    proc = run(["speak", "Hello there.", "--phrase", "1"], home)
    assert proc.returncode == 2 and "not both" in proc.stderr
    proc = run(["speak", "Hi.", "--out", str(tmp_path / "x.wav"), "--device", "1"], home)
    assert proc.returncode == 2 and "--device" in proc.stderr
    proc = run(["speak", "Hi.", "--out", str(tmp_path / "x.aiff")], home)
    assert proc.returncode == 2 and "unknown audio format" in proc.stderr
    assert not (Path(home["VOICEBANK_HOME"]) / "cache").exists()  # refused before the voice loaded
    assert not list(tmp_path.glob("x.*"))


def test_record_list_devices_needs_no_bank_and_says_when_there_are_none(home: dict[str, str]) -> None:
    env = dict(home, PULSE_SERVER="unix:/nonexistent/native")  # no sound server to find devices on
    proc = run(["record", "--list-devices"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "prints something either way"
    listed = [line for line in proc.stdout.splitlines() if " in, " in line]
    assert listed or "No microphones or speakers were found" in proc.stdout
    proc = run(["record", "--mode", "auto"], home)
    assert proc.returncode == 2 and "voicebank record BANK" in proc.stderr


def test_record_refuses_a_session_on_a_nearly_full_disk(tmp_path: Path, home: dict[str, str]) -> None:
    from voicebank.bank.store import Bank

    with small_tmpfs(tmp_path / "small", "2m") as disk:
        Bank.create(disk / "bank", speaker="Test").close()
        proc = run(["record", str(disk / "bank")], home)
        assert proc.returncode == 2, proc.stderr
        assert "nearly full" in proc.stderr and "MB free" in proc.stderr
        with Bank.open(disk / "bank", writable=False) as bank:  # untouched and still readable
            assert not bank.takes


@pytest.mark.parametrize("name", ["vits", "xtts_v2"])
def test_offline_base_download_is_one_message_and_writes_nothing_outside(
    name: str, tmp_path: Path, home: dict[str, str]
) -> None:
    pytest.importorskip("TTS")
    user = tmp_path / "user"  # the person's home: Coqui and Hugging Face would write under it
    user.mkdir()
    dead = "http://127.0.0.1:9"  # nothing listens there: "no network", the same on every machine
    env = dict(home, HOME=str(user), HTTPS_PROXY=dead, HTTP_PROXY=dead, https_proxy=dead, http_proxy=dead,
               NO_PROXY="", no_proxy="")
    for var in ("TTS_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE"):
        env.pop(var, None)
    proc = run(["train", "base", "download", name, "--accept-licence"], env)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) <= 3 and errors[0].startswith("error: Downloading"), proc.stderr
    assert "cannot be reached" in proc.stderr and "by hand" in proc.stderr
    assert list(user.iterdir()) == []  # nothing created outside voicebank's data folder
    base_models = Path(home["VOICEBANK_HOME"]) / "base_models"
    assert not base_models.exists() or list(base_models.iterdir()) == []  # and no half download inside it
