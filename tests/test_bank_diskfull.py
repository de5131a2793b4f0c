"""The bank on a disk that fills up for real (a small tmpfs): a clear "disk is full", exit 2, nothing damaged.

Each command runs as a person runs it (``python -m voicebank.cli.main`` in a subprocess);
afterwards the bank still opens strictly and every take verifies.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import soundfile as sf

from tests.helpers.tmpfs import small_tmpfs
from voicebank.bank.store import Bank

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(VOICEBANK + [str(a) for a in args], capture_output=True, text=True, timeout=600)


def _assert_disk_full(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "disk is full" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def _assert_intact(bank: Path) -> int:
    with Bank.open(bank, writable=False) as b:  # strict: no damage, no stray files
        rep = b.verify()
        assert rep.ok and not rep.leftovers, rep.to_dict()
        return len(b.takes)


def _fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` until only about ``leave`` bytes are free."""
    import shutil

    free = shutil.disk_usage(disk).free
    with open(disk / "filler.bin", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk", "1m") as mount:
        yield mount


def test_import_audio_on_a_filling_disk(disk: Path, ljspeech: Path) -> None:
    bank = disk / "bank"
    proc = run("bank", "import-audio", bank, ljspeech)  # ~6 MB of takes into 1 MB
    _assert_disk_full(proc)
    assert 0 < _assert_intact(bank) < 32
    assert "needs" in proc.stderr and "free" in proc.stderr  # how much is needed and free


def test_take_save_on_a_full_disk(disk: Path, ljspeech: Path) -> None:
    bank = disk / "bank"
    assert run("bank", "new", bank).returncode == 0
    _fill(disk, 24 * 1024)
    proc = run("bank", "add-take", bank, "s0001", ljspeech / "wavs" / "LJ001-0001.wav")
    _assert_disk_full(proc)
    assert _assert_intact(bank) == 0
    assert not any((bank / "takes").rglob("*.flac"))


def test_export_to_a_full_disk(tmp_path: Path, ljspeech: Path) -> None:
    bank = tmp_path / "bank"
    with Bank.create(bank) as b:
        for wav in sorted((ljspeech / "wavs").glob("*.wav"))[:3]:
            p = b.add_prompt("some words", kind="imported", prompt_id=wav.stem)
            data, rate = sf.read(wav, dtype="float32")
            b.save_take(p.id, data, rate)
    with small_tmpfs(tmp_path / "disk", "64k") as out_disk:
        proc = run("bank", "export", bank, out_disk / "bank.vbank.tar")
        _assert_disk_full(proc)
        assert "needs" in proc.stderr and "free" in proc.stderr
        assert list(out_disk.iterdir()) == []  # no half archive
    assert _assert_intact(bank) == 3
    assert run("bank", "export", bank, tmp_path).returncode == 0  # a folder: the archive goes inside it
    (archive,) = tmp_path.glob("bank-*.vbank.tar")
    with small_tmpfs(tmp_path / "disk2", "64k") as in_disk:
        proc = run("bank", "import", archive, in_disk / "restored")
        _assert_disk_full(proc)
        assert list(in_disk.iterdir()) == []  # no half bank


def test_a_take_whose_journal_line_does_not_fit_leaves_no_file(disk: Path, ljspeech: Path) -> None:
    """The audio fits, its journal line does not: the take was never saved, so its file goes too."""
    from voicebank.errors import DiskFullError

    bank = disk / "bank"
    data, rate = sf.read(ljspeech / "wavs" / "LJ001-0002.wav", dtype="float32")
    with Bank.create(bank) as b:
        b.add_prompt("in being comparatively modern.", prompt_id="p1")
        _fill(disk, 160 * 1024)
        with pytest.raises(DiskFullError, match="journal"):
            b.save_take("p1", data, rate, qc={"notes": "x" * 300_000})  # a journal line larger than the room left
        assert not any((bank / "takes").rglob("*.flac"))
        (disk / "filler.bin").unlink()
        b.save_take("p1", data, rate)  # and the bank goes on
    assert _assert_intact(bank) == 1
