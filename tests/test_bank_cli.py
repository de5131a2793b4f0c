"""The bank commands as a person runs them: real LJSpeech clips, real files, real processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.bank.store import Bank

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


def run(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + [str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import LJSPEECH

    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    bank = tmp_path_factory.mktemp("lj") / "bank"
    proc = run("bank", "import-audio", bank, LJSPEECH)
    assert "32 takes" in proc.stdout
    return bank


def test_import_ljspeech_status_verify(imported: Path) -> None:
    with Bank.open(imported, writable=False) as bank:
        st = bank.status()
        assert st.takes == 32 and st.chosen == 32
        assert 3.5 <= st.speech_minutes <= 3.9  # 3.7 min of speech in the sample
        assert all(t.qc_verdict in ("pass", "warn") for t in bank.takes.values())
        assert bank.takes["LJ001-0002.t01"].text == "in being comparatively modern."
    status = run("bank", "status", imported).stdout
    assert "32" in status and "3.7 min" in status
    st_json = json.loads(run("bank", "status", imported, "--json").stdout)
    assert st_json["takes"] == 32
    assert "All takes are intact" in run("bank", "verify", imported).stdout


def test_export_then_import_is_byte_identical(imported: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bank.vbank.tar"
    run("bank", "export", imported, archive)
    run("bank", "import", archive, tmp_path / "copy")
    assert _hashes(imported) == _hashes(tmp_path / "copy")
    assert (imported / "manifest.json").read_bytes() == (tmp_path / "copy" / "manifest.json").read_bytes()


def test_verify_reports_damage(imported: Path, tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    run("bank", "export", imported, archive)
    run("bank", "import", archive, tmp_path / "b")
    victim = next((tmp_path / "b" / "takes").rglob("*.flac"))
    data = bytearray(victim.read_bytes())
    data[-100] ^= 0x55
    victim.write_bytes(bytes(data))
    proc = run("bank", "verify", tmp_path / "b", "--json", ok=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["corrupt"] == [victim.stem]


# ---------------------------------------------------------------- bad inputs
def _bad_files(tmp: Path, clip: Path) -> dict[str, Path]:
    data, rate = sf.read(clip, dtype="int16")
    files = {}
    full = tmp / "full.wav"
    sf.write(full, data, rate, subtype="PCM_16")
    raw = full.read_bytes()
    files["truncated"] = tmp / "truncated.wav"
    files["truncated"].write_bytes(raw[: len(raw) // 2])
    files["empty"] = tmp / "empty.wav"
    files["empty"].write_bytes(b"")
    files["text"] = tmp / "notes.wav"
    files["text"].write_text("this is not audio, just some notes\n" * 20)
    files["8bit"] = tmp / "eight.wav"
    sf.write(files["8bit"], data.astype(np.float32) / 32768, rate, subtype="PCM_U8")
    files["hour"] = tmp / "hour.wav"
    with sf.SoundFile(files["hour"], "w", 8000, 1, subtype="PCM_16") as fh:
        block = np.zeros(8000 * 60, dtype=np.int16)
        for _ in range(60):
            fh.write(block)
    files["missing"] = tmp / "does-not-exist.wav"
    return files


def test_bad_inputs_give_clear_errors_and_change_nothing(imported: Path, tmp_path: Path, ljspeech: Path) -> None:
    work = tmp_path / "bank"
    run("bank", "export", imported, tmp_path / "a.tar")
    run("bank", "import", tmp_path / "a.tar", work)
    before = _hashes(work)
    files = _bad_files(tmp_path, ljspeech / "wavs" / "LJ001-0002.wav")
    expect = {
        "truncated": "truncated",
        "empty": "empty",
        "text": "not a readable audio file",
        "8bit": "8-bit",
        "hour": "too long for one take",
        "missing": "does not exist",
    }
    for name, needle in expect.items():
        proc = run("bank", "add-take", work, "LJ001-0002", files[name], ok=False)
        assert proc.returncode != 0, name
        assert needle in proc.stderr, (name, proc.stderr)
        assert proc.stderr.startswith("error:"), proc.stderr
        check = run("bank", "check", files[name], ok=False)
        assert check.returncode != 0 and needle.split()[0] in check.stdout + check.stderr, (name, check.stdout)
    assert _hashes(work) == before
    missing = run("bank", "status", tmp_path / "nowhere", ok=False)
    assert missing.returncode != 0 and "no bank" in missing.stderr
    (work / "manifest.json").write_text("{ this is not json")
    corrupt = run("bank", "status", work)  # a damaged bank still answers, and says what is wrong
    assert "damaged" in corrupt.stderr and "untouched" in corrupt.stderr and "bank salvage" in corrupt.stderr
    refused = run("bank", "add-take", work, "LJ001-0002", ljspeech / "wavs" / "LJ001-0002.wav", ok=False)
    assert refused.returncode == 2 and "bank salvage" in refused.stderr  # nothing is written on top of damage
    assert {k: v for k, v in _hashes(work).items() if k != "manifest.json"} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }


@pytest.mark.slow
def test_long_recording_is_cut_into_utterances(ljspeech: Path, tmp_path: Path) -> None:
    clips, texts = [], []
    rows = [ln.split("|") for ln in (ljspeech / "metadata.csv").read_text().splitlines()][:10]
    pieces, cues, t = [], [], 0.0
    for cid, text, _ in rows:
        data, rate = sf.read(ljspeech / "wavs" / f"{cid}.wav", dtype="float32")
        gap = np.zeros(int(1.2 * rate), np.float32)
        cues.append(f"{t + 1.2:.3f}\t{t + 1.2 + len(data) / rate:.3f}\t{text}")
        pieces += [gap, data]
        t += (len(gap) + len(data)) / rate
    long = tmp_path / "interview.wav"
    sf.write(long, np.concatenate(pieces + [np.zeros(rate, np.float32)]), rate, subtype="PCM_16")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(cues) + "\n")
    run("bank", "import-audio", tmp_path / "b1", long, "--transcript", labels)
    with Bank.open(tmp_path / "b1", writable=False) as bank:
        assert len(bank.takes) == 10
        assert [p.text for p in bank.prompts.values()] == [r[1] for r in rows]
    run("bank", "import-audio", tmp_path / "b2", long)  # no transcript: cut at pauses
    with Bank.open(tmp_path / "b2", writable=False) as bank:
        assert 8 <= len(bank.takes) <= 14
        assert all(t.duration <= 16.0 for t in bank.takes.values())
