"""Provenance tags, the signed sidecar and C2PA manifests on real encoded speech (stock voice, ffmpeg)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.encode import write_audio
from voicebank.errors import AudioFormatError
from voicebank.provenance import sidecar
from voicebank.provenance.c2pa_sign import read_c2pa
from voicebank.provenance.stamp import provenance_for, stamp_file
from voicebank.provenance.tags import ProvenanceInfo, read_tags, write_tags

pytest.importorskip("mutagen", reason="the trust extra (mutagen) is not installed")

INFO = ProvenanceInfo("joe", "sha256:58afce0321b8d9c4", "voicebank 0.1.0", "2026-12-05T22:50:00Z")
EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".m4b", ".opus", ".ogg")


@pytest.fixture(scope="module")
def speech(engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """One stock-voice sentence written in every format we tag (fresh copies per test via ``fresh``)."""
    folder = tmp_path_factory.mktemp("speech")
    chunks = list(engine.stream("Provenance tags say this speech is synthetic."))
    files = {}
    for ext in EXTENSIONS:
        fmt = "aac" if ext == ".m4b" else None
        write_audio(iter(chunks), folder / f"speech{ext}", fmt)
        files[ext] = folder / f"speech{ext}"
    return files


def fresh(speech: dict[str, Path], ext: str, tmp_path: Path) -> Path:
    out = tmp_path / f"copy{ext}"
    shutil.copyfile(speech[ext], out)
    return out


def ffprobe_tags(path: Path) -> dict[str, str]:
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", str(path)]
    data = json.loads(subprocess.run(cmd, capture_output=True, check=True, text=True).stdout)
    found = {k.lower(): v for k, v in data.get("format", {}).get("tags", {}).items()}
    for s in data.get("streams", []):
        found.update({k.lower(): v for k, v in s.get("tags", {}).items()})
    return found


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_tags_round_trip_and_other_tools_see_them(speech: dict[str, Path], ext: str, tmp_path: Path) -> None:
    path = fresh(speech, ext, tmp_path)
    assert read_tags(path) is None
    before, rate = sf.read(str(path), dtype="float32") if ext in (".wav", ".flac") else (None, 0)
    write_tags(path, ProvenanceInfo("someone else"))
    write_tags(path, INFO)  # a second stamp replaces the first, it does not pile up
    assert read_tags(path) == INFO
    seen = ffprobe_tags(path)
    assert "synthetic speech" in seen.get("comment", "").lower() and "joe" in seen["comment"]
    if ext != ".wav":  # WAV's INFO list has no free-form keys: its ID3 chunk holds them for read_tags
        assert seen.get("synthetic") == "yes" and seen.get("voicebank_voice") == "joe"
    if before is not None:
        after, _ = sf.read(str(path), dtype="float32")
        assert np.array_equal(before, after)  # the audio is untouched
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_other_tags_are_kept(speech: dict[str, Path], tmp_path: Path) -> None:
    import mutagen
    from mutagen.easyid3 import EasyID3

    path = fresh(speech, ".mp3", tmp_path)
    tags = EasyID3()
    tags["title"] = "Chapter one"
    tags.save(str(path))
    write_tags(path, INFO)
    assert str(mutagen.File(str(path)).tags["TIT2"]) == "Chapter one" and read_tags(path) == INFO


def test_unknown_format_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_bytes(b"not audio at all, just text " * 10)
    with pytest.raises(AudioFormatError, match="WAV, FLAC, MP3"):
        write_tags(path, INFO)
    assert path.read_bytes() == b"not audio at all, just text " * 10
    assert [p.name for p in tmp_path.iterdir()] == ["notes.wav"]


def test_raw_pcm_gets_only_a_sidecar(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "speech.pcm"
    write_audio(engine.stream("Raw samples."), path)
    done = stamp_file(path, INFO)
    assert not done.tagged and sidecar.check_sidecar(path).verdict == sidecar.VALID


def test_sidecar_verdicts(speech: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = fresh(speech, ".flac", tmp_path)
    sidecar.sign_file(path, INFO)
    assert stat.S_IMODE(sidecar.key_path().stat().st_mode) == 0o600
    check = sidecar.check_sidecar(path)
    assert check.verdict == sidecar.VALID and check.info == INFO

    side = sidecar.sidecar_path(path)
    body = json.loads(side.read_text())
    body["provenance"]["voice"] = "somebody"
    side.write_text(json.dumps(body))
    assert sidecar.check_sidecar(path).verdict == sidecar.BAD_SIGNATURE

    sidecar.sign_file(path, INFO)
    with open(path, "r+b") as fh:  # one byte of the audio changes
        fh.seek(path.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert sidecar.check_sidecar(path).verdict == sidecar.CHANGED

    sidecar.sign_file(path, INFO)
    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path / "another-machine"))
    other = sidecar.check_sidecar(path)
    assert other.verdict == sidecar.UNKNOWN_KEY and other.info == INFO
    side.unlink()
    assert sidecar.check_sidecar(path).verdict == sidecar.MISSING


def test_stamp_speech_with_c2pa(speech: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("c2pa", reason="c2pa-python is not installed")
    info = provenance_for("joe")
    assert info.voice == "joe" and info.voice_id.startswith("sha256:58afce03") and info.toolkit.startswith("voicebank ")
    path = fresh(speech, ".mp3", tmp_path)
    done = stamp_file(path, info, c2pa=True)
    assert done.tagged and done.c2pa == "signed"
    assert sidecar.check_sidecar(path).verdict == sidecar.VALID and read_tags(path) == info
    manifest = read_c2pa(path)
    assert manifest.verdict == "valid" and manifest.info == info and "local certificate" in manifest.detail

    data = bytearray(path.read_bytes())
    data[-2000] ^= 0xFF  # the audio changes under the manifest
    path.write_bytes(bytes(data))
    assert read_c2pa(path).verdict == "invalid"

    opus = fresh(speech, ".opus", tmp_path)
    assert stamp_file(opus, info, c2pa=True).c2pa.startswith("C2PA not available for this file")
