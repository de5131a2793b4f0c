"""Files out: an M4B with chapter marks, tags and cover; chapter files; the ACX report on what was encoded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voicebank.audio import AudioChunk
from voicebank.audiobook.acx import acx_report, measure
from voicebank.audiobook.master import MasteringSettings, Piece, assemble, master
from voicebank.audiobook.outputs import (
    BookMeta,
    ChapterAudio,
    ffmetadata,
    safe_file_name,
    write_chapter_files,
    write_m4b,
)
from voicebank.encode import write_audio
from voicebank.errors import AudioFormatError, EncoderError

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg/ffprobe is not installed")

SETTINGS = MasteringSettings(watermark=False)
TITLES = ["One: the = start; #1 \\ back", "Two/Three?", "Ein Kapitel — «für» alle"]
TEXTS = [
    ["The lamp on the desk had burned all night.", "Nobody had noticed."],
    ["At a quarter past seven, Mrs. Hale opened the shutters."],
    ["Outside, the street was already loud with carts.", "It was Tuesday."],
]


def ffprobe(path: Path) -> dict:  # type: ignore[type-arg]
    args = ["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-show_streams", "-of", "json", str(path)]
    return json.loads(subprocess.run(args, capture_output=True, check=True).stdout)


@pytest.fixture(scope="module")
def book(engine, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Three mastered chapters in the stock voice, written once as M4B, MP3s and Opus files."""
    folder = tmp_path_factory.mktemp("book")
    chapters = []
    for number, (title, texts) in enumerate(zip(TITLES, TEXTS), 1):
        speech = [engine.synthesize(text) for text in texts]
        rate = speech[0].sample_rate
        pieces = [Piece(None, 0.75), *(Piece(c.as_float32(), 0.6) for c in speech), Piece(None, 1.5)]
        chapters.append(ChapterAudio(title, master(assemble(pieces, rate, number, SETTINGS), rate, SETTINGS)))
    cover = folder / "cover.jpg"
    lavfi = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=steelblue:s=64x64"]
    subprocess.run([*lavfi, "-frames:v", "1", str(cover)], check=True)
    meta = BookMeta("Tales; of = #Test", "Ann Lee", narrator="Joe", year="2026", cover=cover.read_bytes(), cover_mime="image/jpeg")
    return {
        "chapters": chapters, "rate": rate, "meta": meta, "folder": folder,
        "m4b": write_m4b(chapters, rate, meta, folder / "tales.m4b"),
        "mp3": write_chapter_files(chapters, rate, meta, folder / "mp3", "mp3"),
        "opus": write_chapter_files(chapters, rate, meta, folder / "opus", "opus"),
    }


def test_m4b_has_chapter_marks_tags_and_cover(book) -> None:  # type: ignore[no-untyped-def]
    info = ffprobe(book["m4b"])
    marks = info["chapters"]
    assert [m["tags"]["title"] for m in marks] == TITLES
    starts = np.cumsum([0] + [len(c.samples) for c in book["chapters"]])[:-1] / book["rate"]
    frame = 1024 / 48000  # one AAC frame
    assert np.allclose([float(m["start_time"]) for m in marks], starts, atol=frame)
    tags = {k.lower(): v for k, v in info["format"]["tags"].items()}
    assert tags["title"] == tags["album"] == "Tales; of = #Test"
    assert tags["artist"] == "Ann Lee" and tags["genre"] == "Audiobook" and tags["composer"] == "Joe"
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    pictures = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert len(audio) == 1 and audio[0]["codec_name"] == "aac"
    assert len(pictures) == 1 and pictures[0]["disposition"]["attached_pic"] == 1
    total = sum(len(c.samples) for c in book["chapters"]) / book["rate"]
    assert abs(float(info["format"]["duration"]) - total) < 0.05
    assert [p.name for p in book["folder"].iterdir() if p.name.startswith(".")] == []  # nothing half-made left


@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_chapter_files_are_named_tagged_and_play_for_their_length(book, fmt: str) -> None:  # type: ignore[no-untyped-def]
    import mutagen

    paths = book[fmt]
    assert [p.name for p in paths] == [
        f"01 - One the = start; #1 back.{fmt}", f"02 - Two Three.{fmt}", f"03 - Ein Kapitel — «für» alle.{fmt}"
    ]
    for number, (path, chapter) in enumerate(zip(paths, book["chapters"]), 1):
        decoded = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", "48000", "-"],
            capture_output=True, check=True,
        ).stdout
        assert abs(len(decoded) / 4 / 48000 - len(chapter.samples) / book["rate"]) < 0.05
        tags = mutagen.File(path, easy=True)
        assert tags["title"] == [chapter.title] and tags["album"] == ["Tales; of = #Test"]
        assert tags["artist"] == ["Ann Lee"] and tags["tracknumber"][0].split("/")[0] == str(number)
        pictures = [s for s in ffprobe(path)["streams"] if s["codec_type"] == "video"] if fmt == "mp3" else []
        has_cover = bool(pictures) if fmt == "mp3" else "metadata_block_picture" in mutagen.File(path)
        assert has_cover


def test_acx_report_passes_on_mastered_speech(book) -> None:  # type: ignore[no-untyped-def]
    report = acx_report(book["m4b"])
    assert report["passes"], report
    assert [c["title"] for c in report["chapters"]] == TITLES
    for chapter in report["chapters"]:
        assert -23 <= chapter["rms_db"] <= -18 and chapter["peak_dbfs"] <= -3 and chapter["noise_floor_db"] <= -60
        assert chapter["warnings"] == []  # head and tail room tone as ACX asks
    for path in book["mp3"] + book["opus"]:
        assert acx_report(path)["passes"], path


def test_acx_figures_agree_with_ffmpeg(book) -> None:  # type: ignore[no-untyped-def]
    report = acx_report(book["m4b"])
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(book["m4b"]), "-map", "0:a"]
    args += ["-af", "astats=measure_perchannel=none,ebur128=peak=true", "-f", "null", "-"]
    log = subprocess.run(args, capture_output=True, text=True, check=True).stderr
    overall = log[log.index("Overall") :]
    assert abs(report["true_peak_dbtp"] - float(re.findall(r"Peak:\s+(-?[\d.]+) dBFS", log)[-1])) < 0.3

    def stat(name: str) -> float:
        return float(re.search(rf"{name}:\s+(-?[\d.]+)", overall).group(1))  # type: ignore[union-attr]

    assert abs(report["rms_db"] - stat("RMS level dB")) < 0.1
    assert abs(report["peak_dbfs"] - stat("Peak level dB")) < 0.1
    # the noise floor: every 0.5 s window, sliding by 10 ms, of what ffmpeg decodes (astats' trough counts
    # windows that are not yet full at the start, so it cannot stand in)
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(book["m4b"]), "-map", "0:a", "-f", "f32le", "-"], capture_output=True, check=True
    ).stdout
    power = np.frombuffer(decoded, np.float32).astype(np.float64) ** 2
    sums = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, power.size - 24000, 480)
    floor = 10 * np.log10(((sums[starts + 24000] - sums[starts]) / 24000).min())
    assert abs(report["noise_floor_db"] - floor) < 0.5


@pytest.mark.parametrize("fault", ["too quiet", "clipped", "noisy floor"])
def test_acx_report_fails_clearly_bad_audio(book, tmp_path: Path, fault: str) -> None:  # type: ignore[no-untyped-def]
    rate = book["rate"]
    x = np.concatenate([c.samples for c in book["chapters"]]).astype(np.float64)
    if fault == "too quiet":
        x = x * 0.1
    elif fault == "clipped":
        x = np.clip(x * 4, -1, 1)
    else:
        x = x + np.random.default_rng(0).normal(0, 10 ** (-45 / 20), x.size)
    path = tmp_path / "bad.mp3"
    write_audio([AudioChunk(x.astype(np.float32), rate)], path)
    report = acx_report(path)
    assert not report["passes"]
    expected = {"too quiet": "too quiet", "clipped": "peak", "noisy floor": "noise floor"}[fault]
    assert any(expected in reason for reason in report["reasons"]), report["reasons"]


def test_codec_overshoot_is_found_in_the_encoded_file_and_lowered(tmp_path: Path) -> None:
    from voicebank.audiobook.master import limit
    from voicebank.audiobook.outputs import ENCODED_PEAK_DB

    rate = 22050
    t = np.arange(rate // 3) / rate
    bursts = [np.zeros(rate // 2)]
    for freq in (180.0, 440.0, 1200.0, 3000.0):  # square waves: the worst case for a codec's overshoot
        bursts += [0.5 * np.sign(np.sin(2 * np.pi * freq * t)), np.zeros(rate // 2)]
    x = limit(np.concatenate(bursts), rate, SETTINGS).astype(np.float32)  # true peak -4 dBTP
    write_audio([AudioChunk(x, rate)], tmp_path / "plain.mp3")
    assert acx_report(tmp_path / "plain.mp3")["peak_dbfs"] > -3.0  # MP3 alone pushes it over ACX's limit
    [path] = write_chapter_files([ChapterAudio("Bursts", x)], rate, BookMeta("t"), tmp_path / "out", "mp3")
    assert acx_report(path)["peak_dbfs"] <= ENCODED_PEAK_DB + 0.05


def test_measure_in_blocks_equals_measure_at_once(book) -> None:  # type: ignore[no-untyped-def]
    from voicebank.audiobook.acx import Meter

    x, rate = book["chapters"][0].samples, book["rate"]
    meter = Meter(rate)
    for start in range(0, len(x), 10007):  # blocks that cut hops and true-peak context anywhere
        meter.feed(x[start : start + 10007])
    assert meter.figures() == measure(x, rate)


def test_digital_silence_is_flagged() -> None:
    rate = 22050
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate * 2) / rate)
    figures = measure(np.concatenate([np.zeros(rate), tone, np.zeros(rate * 2)]), rate)
    assert any("digital silence" in w for w in figures["warnings"])


def test_ffmetadata_escapes_and_chapter_times() -> None:
    chapters = [ChapterAudio("a=b;c#d\\e\nf", np.zeros(22050, np.float32)), ChapterAudio("Two", np.zeros(11025, np.float32))]
    text = ffmetadata(chapters, 22050, BookMeta("T=1"))
    assert text.startswith(";FFMETADATA1\n") and "title=T\\=1\n" in text
    assert "title=a\\=b\\;c\\#d\\\\e\\\nf\n" in text
    assert "START=1000\nEND=1500\n" in text


def test_safe_file_names() -> None:
    assert safe_file_name('a/b:c*?"<>|d', "x") == "a b c d"
    assert safe_file_name(" ... ", "Chapter 3") == "Chapter 3"
    long = safe_file_name("word " * 40, "x", limit=30)
    assert len(long) <= 30 and not long.endswith(" ")


def test_bad_requests_fail_clearly_and_leave_nothing(book, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AudioFormatError, match="no chapters"):
        write_m4b([], 22050, BookMeta("t"), tmp_path / "a.m4b")
    with pytest.raises(EncoderError, match="mp3 or opus"):
        write_chapter_files(book["chapters"], book["rate"], BookMeta("t"), tmp_path, "wav")
    with pytest.raises(EncoderError):  # a cover that is not an image: ffmpeg refuses it
        write_m4b(book["chapters"][:1], book["rate"], BookMeta("t", cover=b"not an image"), tmp_path / "b.m4b")
    assert list(tmp_path.iterdir()) == []  # no file, no temporary left behind
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises((AudioFormatError, EncoderError)):
        acx_report(tmp_path / "notes.txt")
