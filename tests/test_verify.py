"""`voicebank verify` as a person runs it: a speak output re-encoded and stripped, a real recording, a short clip, a tampered file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voicebank.provenance import sidecar
from voicebank.provenance.tags import read_tags
from voicebank.provenance.verify import EXIT_JUDGED, EXIT_TAMPERED, EXIT_TOO_SHORT, inspect_file

pytest.importorskip("perth", reason="the trust extra (resemble-perth) is not installed")

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]
TEXT = "The quick brown fox jumps over the lazy dog, then runs far away into the quiet green forest to sleep."


def run(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + list(args), capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def spoken(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `voicebank speak --out` wrote (about 6 s of the stock voice), with its sidecar."""
    out = tmp_path_factory.mktemp("verify") / "note.wav"
    proc = run("speak", TEXT, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
def test_reencoded_stripped_file_still_reports_the_watermark(spoken: Path, tmp_path: Path) -> None:
    report = inspect_file(spoken)
    assert report.watermark is not None and report.watermark.present is True
    assert report.sidecar is not None and report.sidecar.verdict == sidecar.VALID
    assert report.voice is not None and report.voice.voice == "joe" and report.exit_code() == EXIT_JUDGED

    stripped = tmp_path / "forwarded.mp3"  # as a messaging app might pass it on: MP3, no tags, no sidecar
    ffmpeg("-i", str(spoken), "-map_metadata", "-1", "-c:a", "libmp3lame", "-b:a", "128k", str(stripped))
    assert read_tags(stripped) is None and not sidecar.sidecar_path(stripped).exists()
    proc = run("verify", str(stripped))
    assert proc.returncode == EXIT_JUDGED, proc.stdout + proc.stderr
    assert "Watermark: PRESENT" in proc.stdout and "no sidecar" in proc.stdout and "none of ours" in proc.stdout


def test_real_recording_has_no_watermark(ljspeech: Path, home: Path) -> None:
    clip = ljspeech / "wavs" / "LJ001-0001.wav"  # 9.7 s of a real reader
    report = inspect_file(clip)
    assert report.watermark is not None and report.watermark.present is False
    assert report.tags is None and report.voice is None and report.exit_code() == EXIT_JUDGED


def test_short_clip_is_not_judged(spoken: Path, tmp_path: Path) -> None:
    short = tmp_path / "one-second.wav"
    ffmpeg("-i", str(spoken), "-t", "1", str(short))
    proc = run("verify", str(short), "--json")
    assert proc.returncode == EXIT_TOO_SHORT, proc.stdout + proc.stderr
    found = json.loads(proc.stdout)
    assert found["judged"] is False and found["watermark"]["present"] is None
    assert "too short to judge" in found["watermark"]["reason"] and found["sidecar"]["verdict"] == sidecar.MISSING


def test_tampered_file_is_reported_changed(spoken: Path, tmp_path: Path) -> None:
    copy = tmp_path / spoken.name
    shutil.copyfile(spoken, copy)
    shutil.copyfile(sidecar.sidecar_path(spoken), sidecar.sidecar_path(copy))
    with open(copy, "r+b") as fh:  # one sample in the middle changes
        fh.seek(copy.stat().st_size // 2)
        fh.write(b"\x00\x40")
    report = inspect_file(copy)
    assert report.sidecar is not None and report.sidecar.verdict == sidecar.CHANGED
    assert report.exit_code() == EXIT_TAMPERED
