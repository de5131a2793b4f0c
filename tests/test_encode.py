"""Audio out: every format from a real chunk stream, read back by ffprobe; seamless stream resampling.

Streams are the stock voice's own chunks (windows of every size) and a real LJSpeech
recording cut into awkward pieces. ffprobe (not our code) says how long each output is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.audio import AudioChunk
from voicebank.encode import FORMATS, audio_format, get_encoder, write_audio
from voicebank.errors import EncoderError
from voicebank.resample import StreamResampler, resample_chunks

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg/ffprobe is not installed")

TEXT = "The old lighthouse keeper walked along the path. He checked the lamp before the storm, and went home."
CLIP = "LJ001-0001.wav"
CODECS = {"wav": "pcm_s16le", "flac": "flac", "mp3": "mp3", "opus": "opus", "aac": "aac"}
MAGIC = {"wav": b"RIFF", "flac": b"fLaC", "opus": b"OggS", "aac": b"\x00\x00\x00"}
AWKWARD = [1, 7, 333, 4097, 13, 1024, 2, 9973]  # chunk sizes that line up with nothing


def probe(path: Path) -> dict[str, str]:
    """ffprobe's view of a file: codec, sample rate and duration (summed packets where the
    container has no length, as in a streamed FLAC)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate:format=duration", "-of", "json",
         str(path)], capture_output=True, text=True, check=True,
    ).stdout
    info = json.loads(out)
    result = {**info["streams"][0], "duration": info["format"].get("duration", "N/A")}
    if result["duration"] == "N/A":
        packets = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "packet=duration_time", "-of", "csv=p=0", str(path)],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        result["duration"] = str(sum(float(p) for p in packets))
    return result


@pytest.fixture(scope="module")
def spoken(engine) -> list[AudioChunk]:  # type: ignore[no-untyped-def]
    """One stream of the stock voice, as the engine hands it out."""
    chunks = list(engine.stream(TEXT))
    assert len(chunks) >= 4, "the stream should come in several chunks"
    return chunks


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """A real recording (LJSpeech, 22.05 kHz)."""
    from tests.conftest import LJSPEECH

    path = LJSPEECH / "wavs" / CLIP
    if not path.is_file():
        pytest.skip(f"real recordings not available: {path} is absent")
    x, rate = sf.read(path, dtype="float32")
    return x, rate


def _pieces(x: np.ndarray, rate: int) -> list[AudioChunk]:
    out, i, k = [], 0, 0
    while i < len(x):
        n = AWKWARD[k % len(AWKWARD)]
        out.append(AudioChunk(x[i : i + n], rate, utterance_end=i + n >= len(x)))
        i, k = i + n, k + 1
    return out


def _seconds(chunks: list[AudioChunk]) -> float:
    return sum(c.frames for c in chunks) / chunks[0].sample_rate


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus", "aac"])
def test_a_streamed_encoding_has_the_length_of_the_speech(fmt: str, spoken: list[AudioChunk], tmp_path: Path) -> None:
    encoder = get_encoder(fmt)
    body = b"".join(encoder.encode(spoken))
    path = tmp_path / f"streamed{audio_format(fmt).extension}"
    path.write_bytes(body)
    info = probe(path)
    assert info["codec_name"] == CODECS[fmt]
    assert abs(float(info["duration"]) - _seconds(spoken)) <= 0.05, (info, _seconds(spoken))


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus", "aac"])
def test_a_written_file_has_the_length_of_the_speech(fmt: str, spoken: list[AudioChunk], tmp_path: Path) -> None:
    path = tmp_path / "sub" / f"speech{audio_format(fmt).extension}"
    assert write_audio(spoken, path) == pytest.approx(_seconds(spoken))
    info = probe(path)
    assert info["codec_name"] == CODECS[fmt]
    assert abs(float(info["duration"]) - _seconds(spoken)) <= 0.05, (info, _seconds(spoken))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    if fmt == "wav":  # sizes set at the end: every reader agrees on the length
        assert sf.info(path).frames == sum(c.frames for c in spoken)


def test_raw_pcm_is_the_samples_themselves(spoken: list[AudioChunk], tmp_path: Path) -> None:
    body = b"".join(get_encoder("pcm").encode(spoken))
    expected = np.concatenate([c.as_int16() for c in spoken])
    assert np.array_equal(np.frombuffer(body, "<i2"), expected)
    write_audio(spoken, tmp_path / "x.raw")
    assert (tmp_path / "x.raw").read_bytes() == body


@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("streamed", [True, False])
def test_lossless_formats_hold_every_sample(fmt: str, streamed: bool, speech: tuple[np.ndarray, int], tmp_path: Path) -> None:
    """Nothing is dropped or shifted at the start, the seams or the end (a probe option once cut 40 ms)."""
    chunks = _pieces(*speech)
    path = tmp_path / f"x.{fmt}"
    if streamed:
        path.write_bytes(b"".join(get_encoder(fmt).encode(chunks)))
    else:
        write_audio(chunks, path)
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "pipe:1"], capture_output=True, check=True
    ).stdout
    assert np.array_equal(np.frombuffer(decoded, "<i2"), np.concatenate([c.as_int16() for c in chunks]))


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus", "aac"])
def test_bytes_arrive_while_the_stream_goes_on(fmt: str, speech: tuple[np.ndarray, int]) -> None:
    """A consumer can send the first bytes before the last chunk exists."""
    chunks = [AudioChunk(p, speech[1]) for p in np.array_split(speech[0], 80)]  # ~0.1 s each
    encoder = get_encoder(fmt)
    before_last = b"".join(encoder.write(c) for c in chunks[:-1])
    rest = encoder.write(chunks[-1]) + encoder.close()
    assert len(before_last) > 0, "nothing came out before the end of the stream"
    assert before_last.startswith(MAGIC.get(fmt, b"")) and (fmt != "aac" or before_last[4:8] == b"ftyp")
    assert len(rest) > 0 or fmt == "wav"


def test_a_stream_with_nothing_to_say_writes_no_file(tmp_path: Path) -> None:
    empty = [AudioChunk(np.zeros(0, np.float32), 22050, utterance_end=True)]
    assert write_audio(empty, tmp_path / "x.mp3") == 0.0
    assert list(tmp_path.iterdir()) == []


def test_a_failing_stream_leaves_no_file_and_no_ffmpeg(spoken: list[AudioChunk], tmp_path: Path) -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield from spoken[:2]
        raise RuntimeError("the voice failed")

    with pytest.raises(RuntimeError):
        write_audio(broken(), tmp_path / "x.m4a")
    assert list(tmp_path.iterdir()) == []


def test_unknown_formats_and_missing_ffmpeg_are_clear_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match=r"unknown audio format.*\.mp3.*\.m4a"):
        audio_format("speech.xyz")
    assert audio_format("Speech.MP3").name == "mp3" and audio_format("aac").extension == ".m4a"
    monkeypatch.setenv("PATH", str(tmp_path))  # a computer without ffmpeg
    with pytest.raises(EncoderError, match="apt install ffmpeg"):
        get_encoder("opus")
    assert get_encoder("wav").media_type == "audio/wav"  # WAV needs no ffmpeg


# ---- resampling a stream -----------------------------------------------------------------


def _snr(reference: np.ndarray, other: np.ndarray) -> float:
    noise = np.sum((reference - other) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(reference**2) / noise))


@pytest.mark.parametrize("dst", [48000, 44100, 16000])
def test_resampling_in_chunks_equals_resampling_the_whole(dst: int, speech: tuple[np.ndarray, int]) -> None:
    import soxr

    x, rate = speech
    whole = soxr.resample(x, rate, dst, quality="HQ")
    resampler = StreamResampler(rate, dst)
    pieces = [resampler.process(c.samples) for c in _pieces(x, rate)] + [resampler.flush()]
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(whole) == round(len(x) * dst / rate)
    assert _snr(whole, streamed) >= 60.0
    # no seam: where the pieces were joined, the signal steps as it does in the whole
    edges = np.cumsum([len(p) for p in pieces])[:-1]
    edges = edges[(edges > 0) & (edges < len(whole))]
    assert len(edges) > 100
    jump = np.abs(np.diff(streamed) - np.diff(whole))[edges - 1]
    assert jump.max() <= 1e-4


def test_a_resampled_chunk_stream_keeps_its_flags_and_length(speech: tuple[np.ndarray, int]) -> None:
    x, rate = speech
    chunks = _pieces(x, rate)
    out = list(resample_chunks(chunks, 48000))
    assert [c.utterance_end for c in out] == [c.utterance_end for c in chunks]
    assert all(c.sample_rate == 48000 for c in out)
    assert sum(c.frames for c in out) == round(len(x) * 48000 / rate)


# ---- the command line ----------------------------------------------------------------------


@pytest.mark.slow
def test_speak_out_writes_every_format_with_the_length_it_spoke(tmp_path: Path) -> None:
    """``voicebank speak --out`` as a person runs it: each file is as long as the speech it reports."""
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    for ext in (".wav", ".mp3", ".opus", ".m4a", ".flac"):
        out = tmp_path / f"hello{ext}"
        proc = subprocess.run(
            [sys.executable, "-m", "voicebank.cli.main", "speak", TEXT, "--out", str(out)],
            capture_output=True, text=True, env=env, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        spoke = float(re.search(r"\(([\d.]+) s of speech\)", proc.stdout).group(1))  # type: ignore[union-attr]
        info = probe(out)
        assert info["codec_name"] == CODECS[audio_format(ext).name]
        assert abs(float(info["duration"]) - spoke) <= 0.05, (ext, info, spoke)
    bad = subprocess.run([sys.executable, "-m", "voicebank.cli.main", "speak", "Hi.", "--out", str(tmp_path / "x.doc")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode != 0 and "unknown audio format" in bad.stderr and ".m4a" in bad.stderr
    assert not (tmp_path / "x.doc").exists()
    assert set(FORMATS) >= {"wav", "pcm", "flac", "mp3", "opus", "aac"}
