"""Audio out: a chunk stream encoded as WAV, raw PCM, FLAC, MP3, Opus or AAC (M4A), incrementally.

An encoder takes the stream's chunks one at a time and hands back the bytes that are
ready (``write``), then the rest (``close``), so a consumer (an HTTP response, a socket)
sends audio while it is still being spoken. Given a ``file``, an encoder writes that file
itself and can finish it properly (a WAV's sizes, an M4A's index, a FLAC's length).

WAV and raw PCM are 16-bit little-endian samples (nothing to encode); the other formats
go through ffmpeg in a subprocess. Lossy formats are encoded at 48 kHz (converted by
:class:`~voicebank.resample.StreamResampler`): Opus only takes 48 kHz, and at 48 kHz the
frames of MP3 and AAC are short enough that their encoder delay and padding add under
50 ms to a file's length (at 22.05 kHz an MP3 grows by ~80 ms).

>>> write_audio(engine.stream("Hello."), "hello.mp3")      # the format from the extension
>>> enc = get_encoder("opus")                              # or stream the bytes yourself
>>> body = b"".join(enc.write(c) for c in chunks) + enc.close()
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .audio import AudioChunk, to_int16
from .durable import atomic_output, storage_error
from .errors import EncoderError
from .resample import StreamResampler

LOSSY_RATE = 48000


@dataclass(frozen=True)
class AudioFileFormat:
    """One output format: its name, file extensions, media type and how it is made."""

    name: str
    extensions: tuple[str, ...]
    media_type: str
    rate: int | None = None  # encoded at this rate; None: at the stream's own rate
    codec: tuple[str, ...] = ()  # ffmpeg codec options; empty: written here (PCM)
    muxer: str = ""  # ffmpeg output format
    stream_options: tuple[str, ...] = ()  # muxer options when the output is a pipe
    file_options: tuple[str, ...] = ()  # muxer options when the output is a file

    @property
    def extension(self) -> str:
        return self.extensions[0]


FORMATS: dict[str, AudioFileFormat] = {
    f.name: f
    for f in (
        AudioFileFormat("wav", (".wav",), "audio/wav"),
        AudioFileFormat("pcm", (".pcm", ".raw"), "audio/L16"),
        AudioFileFormat("flac", (".flac",), "audio/flac", codec=("-c:a", "flac"), muxer="flac"),
        AudioFileFormat("mp3", (".mp3",), "audio/mpeg", LOSSY_RATE, ("-c:a", "libmp3lame", "-b:a", "64k"), "mp3"),
        AudioFileFormat("opus", (".opus", ".ogg"), "audio/ogg", LOSSY_RATE, ("-c:a", "libopus", "-b:a", "32k"), "ogg"),
        AudioFileFormat(
            "aac", (".m4a",), "audio/mp4", LOSSY_RATE, ("-c:a", "aac", "-b:a", "64k"), "ipod",
            # a pipe cannot be seeked back to write the index: fragments, each with its own
            stream_options=("-movflags", "+frag_keyframe+empty_moov+default_base_moof"),
            file_options=("-movflags", "+faststart"),  # the index first: players start at once
        ),
    )
}


def audio_format(name_or_path: str | os.PathLike[str]) -> AudioFileFormat:
    """The format named (``"mp3"``) or given by a file's extension (``".mp3"``, ``"talk.mp3"``)."""
    text = os.fspath(name_or_path)
    key = text.lower().lstrip(".")
    if key in FORMATS:
        return FORMATS[key]
    suffix = Path(text).suffix.lower() or f".{key}"
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    known = ", ".join(ext for f in FORMATS.values() for ext in f.extensions)
    raise EncoderError(f"Cannot write {text!r}: unknown audio format. Use one of {known}.")


def check_output_path(path: str | os.PathLike[str], fmt: str | None = None) -> AudioFileFormat:
    """The format to write ``path`` in, once it is clear the file can be written there.

    Refuses, before any work: an extension no encoder writes, a folder, and a place that is
    read-only or not writable by this user (its nearest existing folder is checked).
    Raises :class:`~voicebank.errors.EncoderError` or :class:`~voicebank.errors.StorageError`.
    """
    import errno

    path = Path(path)
    if path.is_dir():
        raise storage_error(IsADirectoryError(errno.EISDIR, "is a folder"), path)
    spec = audio_format(fmt or path)
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise storage_error(NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder"), path)
    if hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY:
        raise storage_error(OSError(errno.EROFS, os.strerror(errno.EROFS)), path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise storage_error(PermissionError(errno.EACCES, os.strerror(errno.EACCES)), path)
    return spec


class Encoder:
    """Encodes one stream: :meth:`write` each chunk, then :meth:`close` (or :meth:`abort`).

    Both return the encoded bytes that are ready (always ``b""`` when writing a ``file``).
    ``sample_rate`` is the stream's rate if known before its first chunk (so a stream with
    no chunks still makes a valid file); otherwise the first chunk sets it. ``seconds``
    is the length of the audio written so far.
    """

    def __init__(self, fmt: AudioFileFormat, sample_rate: int | None = None, file: Path | None = None) -> None:
        self.format = fmt
        self.file = file
        self.seconds = 0.0
        self._in_rate = sample_rate
        self._channels = 1
        self._resampler: StreamResampler | None = None
        self._started = False
        self._closed = False

    @property
    def media_type(self) -> str:
        return self.format.media_type

    @property
    def sample_rate(self) -> int:
        """The rate of the encoded audio."""
        return self.format.rate or self._in_rate or 22050

    def write(self, chunk: AudioChunk) -> bytes:
        if self._closed:
            raise EncoderError("This encoder is closed; start a new one for another stream.")
        if not self._started:
            self._in_rate = chunk.sample_rate
            self._channels = 1 if chunk.samples.ndim == 1 else int(chunk.samples.shape[1])
        elif chunk.sample_rate != self._in_rate:
            raise EncoderError(
                f"The stream changed its sample rate ({self._in_rate} -> {chunk.sample_rate} Hz) "
                "in the middle; one encoder takes one stream."
            )
        head = self._begin()
        self.seconds += chunk.frames / chunk.sample_rate
        if self._resampler is not None:
            samples = to_int16(self._resampler.process(chunk.as_float32()))
        else:
            samples = chunk.as_int16()
        return head + self._encode(samples.tobytes())

    def close(self) -> bytes:
        """Finish the stream: the last bytes (a file is complete when this returns)."""
        if self._closed:
            return b""
        head = self._begin()
        tail = b""
        if self._resampler is not None:
            tail = self._encode(to_int16(self._resampler.flush()).tobytes())
        self._closed = True
        return head + tail + self._finish()

    def abort(self) -> None:
        """Give up on the stream (an error upstream): stop at once, leave no process behind."""
        self._closed = True

    def start(self) -> bytes:
        """Start now, before the first chunk (ffmpeg takes ~50-70 ms to start): the bytes ready (a WAV's header).

        The stream's ``sample_rate`` must be known (given to the encoder); its chunks are mono.
        """
        return self._begin()

    def encode(self, chunks: Iterable[AudioChunk], wait: float = 0.0) -> Iterator[bytes]:
        """The whole stream's bytes, piece by piece as they are ready (empty pieces skipped).

        ``wait``: up to this many seconds after each chunk for its encoded bytes (ffmpeg answers
        a few milliseconds after a chunk is written; otherwise they go out with the next chunk).
        """
        try:
            for chunk in chunks:
                data = self.write(chunk)
                if not data and wait and chunk.frames:
                    data = self._ready(wait)
                if data:
                    yield data
            data = self.close()
        except BaseException:
            self.abort()
            raise
        if data:
            yield data

    def _begin(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        rate = self._in_rate or self.sample_rate
        self._in_rate = rate
        if self.format.rate and self.format.rate != rate:
            self._resampler = StreamResampler(rate, self.format.rate, self._channels)
        return self._start(self.sample_rate, self._channels)

    def _ready(self, wait: float) -> bytes:
        """Bytes encoded since the last write, waiting up to ``wait`` seconds for some."""
        return b""

    # what each kind of encoder does with 16-bit samples
    def _start(self, rate: int, channels: int) -> bytes:
        raise NotImplementedError

    def _encode(self, pcm: bytes) -> bytes:
        raise NotImplementedError

    def _finish(self) -> bytes:
        raise NotImplementedError


class PcmEncoder(Encoder):
    """Raw PCM (s16le) or WAV: the samples as they are, behind a header for WAV.

    A streamed WAV cannot know its length, so its header says 0xFFFFFFFF (as long as the
    data goes on; readers take what arrives); written to a file, the sizes are set at close.
    """

    def __init__(self, fmt: AudioFileFormat, sample_rate: int | None = None, file: Path | None = None) -> None:
        super().__init__(fmt, sample_rate, file)
        self._fh: IO[bytes] | None = open(file, "wb") if file is not None else None
        self._bytes = 0

    def _start(self, rate: int, channels: int) -> bytes:
        if self.format.name != "wav":
            return b""
        return self._out(wav_header(rate, channels))

    def _encode(self, pcm: bytes) -> bytes:
        self._bytes += len(pcm)
        return self._out(pcm)

    def _finish(self) -> bytes:
        fh, self._fh = self._fh, None
        if fh is not None:
            if self.format.name == "wav":
                fh.seek(0)
                fh.write(wav_header(self.sample_rate, self._channels, self._bytes))
            fh.close()
        return b""

    def abort(self) -> None:
        super().abort()
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _out(self, data: bytes) -> bytes:
        if self._fh is None:
            return data
        self._fh.write(data)
        return b""


def wav_header(rate: int, channels: int, data_bytes: int | None = None) -> bytes:
    """A 44-byte RIFF/WAVE header for 16-bit PCM; ``data_bytes=None``: length unknown (streaming)."""
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    data = 0xFFFFFFFF if data_bytes is None else data_bytes
    block = 2 * channels
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", riff, b"WAVE", b"fmt ", 16, 1, channels, rate, rate * block, block, 16,
        b"data", data,
    )


def ffmpeg_tool(what: str, tool: str = "ffmpeg") -> str:
    """Where ffmpeg (or ``tool="ffprobe"``) is; EncoderError saying how to install it, naming ``what`` needs it."""
    found = shutil.which(tool)
    if found is None:
        raise EncoderError(
            f"{what} needs {tool}, which is not installed. "
            "On Debian or Ubuntu: sudo apt install ffmpeg (scripts/install.sh installs it)."
        )
    return found


def run_ffmpeg(args: list[str], what: str, tool: str = "ffmpeg") -> bytes:
    """Run ffmpeg (or ffprobe) once with ``args``: its standard output, or EncoderError with its message.

    ``what`` says what it was doing, for the message ("Reading chapters of book.m4b").
    """
    exe = ffmpeg_tool(what, tool)
    quiet = ["-nostdin", "-hide_banner"] if tool == "ffmpeg" else ["-hide_banner"]
    try:
        done = subprocess.run([exe, *quiet, "-loglevel", "error", *args], capture_output=True, check=False)
    except OSError as exc:
        raise EncoderError(f"{what}: {tool} could not be started ({exc}).") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()[-500:]
        raise EncoderError(f"{what}: {tool} failed (exit {done.returncode}): {message}")
    return done.stdout


def decode_blocks(
    path: str | os.PathLike[str], rate: int, channels: int, frames: int = 1 << 18
) -> Iterator[np.ndarray]:
    """A file's first audio stream decoded by ffmpeg: float32 blocks of shape ``(frames, channels)`` (the last shorter).

    A stream, so that hours of audio are never all in memory. EncoderError if ffmpeg fails.
    """
    exe = ffmpeg_tool(f"Reading {path}")
    args = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", os.fspath(path), "-map", "0:a:0"]
    args += ["-f", "f32le", "-ac", str(channels), "-ar", str(rate), "pipe:1"]
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise EncoderError(f"Reading {path}: ffmpeg could not be started ({exc}).") from exc
    assert proc.stdout is not None and proc.stderr is not None
    size = 4 * channels * frames
    try:
        while data := proc.stdout.read(size):
            usable = len(data) - len(data) % (4 * channels)
            yield np.frombuffer(data[:usable], np.float32).reshape(-1, channels)
        err = proc.stderr.read()
        if proc.wait() != 0:
            message = err.decode(errors="replace").strip()[-500:]
            raise EncoderError(f"Reading {path}: ffmpeg failed (exit {proc.returncode}): {message}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


class FfmpegEncoder(Encoder):
    """FLAC, MP3, Opus and AAC through an ffmpeg subprocess (16-bit PCM in on stdin).

    A thread drains ffmpeg's output as it comes, so writing never blocks on a full pipe and
    :meth:`write` hands back whatever ffmpeg has produced so far.
    """

    def __init__(self, fmt: AudioFileFormat, sample_rate: int | None = None, file: Path | None = None) -> None:
        super().__init__(fmt, sample_rate, file)
        self._ffmpeg = ffmpeg_tool(f"Writing {fmt.name.upper()}")
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._lock = threading.Condition()  # notified when ffmpeg's output arrives
        self._readers: list[threading.Thread] = []

    def _start(self, rate: int, channels: int) -> bytes:
        fmt = self.format
        # -xerror: ffmpeg 5 otherwise exits 0 when it cannot write the file (a full disk)
        args = [self._ffmpeg or "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-xerror"]
        args += ["-probesize", "32", "-analyzeduration", "0"]  # start at the first bytes (+nobuffer would drop samples)
        args += ["-f", "s16le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0"]
        args += [*fmt.codec, "-f", fmt.muxer]
        if self.file is None:
            args += [*fmt.stream_options, "-flush_packets", "1", "pipe:1"]
        else:
            args += [*fmt.file_options, "-y", os.fspath(self.file)]
        try:
            self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise EncoderError(f"ffmpeg could not be started to write {fmt.name.upper()} ({exc}).") from exc
        for pipe, into in ((self._proc.stdout, self._out), (self._proc.stderr, self._err)):
            reader = threading.Thread(target=self._drain, args=(pipe, into), daemon=True, name="voicebank-ffmpeg-out")
            reader.start()
            self._readers.append(reader)
        return b""

    def _drain(self, pipe: Any, into: list[bytes]) -> None:
        for data in iter(lambda: pipe.read1(65536), b""):
            with self._lock:
                into.append(data)
                self._lock.notify_all()

    def _ready(self, wait: float) -> bytes:
        if self.file is None:
            with self._lock:
                self._lock.wait_for(lambda: self._out, timeout=wait)
        return self._take()

    def _take(self) -> bytes:
        with self._lock:
            data, self._out[:] = b"".join(self._out), []
        return data

    def _encode(self, pcm: bytes) -> bytes:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(pcm)
        except BrokenPipeError as exc:  # ffmpeg stopped: say why (once its messages are all read)
            self._proc.wait()
            for reader in self._readers:
                reader.join()
            raise self._failed() from exc
        return self._take()

    def _finish(self) -> bytes:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        proc.wait()
        for reader in self._readers:
            reader.join()
        if proc.returncode != 0 or self._os_error() is not None:
            raise self._failed()
        return self._take()

    def _os_error(self) -> OSError | None:
        """The operating system's error ffmpeg met writing the file (a full disk, no permission), if any."""
        import errno

        if self.file is None:
            return None
        message = b"".join(self._err).decode(errors="replace")
        for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOENT):
            if os.strerror(code) in message:
                return OSError(code, os.strerror(code), os.fspath(self.file))
        return None

    def _failed(self) -> Exception:
        """Why ffmpeg stopped: an ``OSError`` for the world's failures (the caller names the file), else EncoderError."""
        os_error = self._os_error()
        if os_error is not None:
            return os_error
        message = b"".join(self._err).decode(errors="replace").strip()[-500:]
        code = self._proc.returncode if self._proc is not None else None
        return EncoderError(f"ffmpeg could not encode {self.format.name.upper()} (exit {code}): {message}")

    def abort(self) -> None:
        super().abort()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def get_encoder(fmt: str | AudioFileFormat, sample_rate: int | None = None, file: Path | None = None) -> Encoder:
    """An encoder for a format name or extension (``"mp3"``, ``".m4a"``); see :class:`Encoder`."""
    spec = fmt if isinstance(fmt, AudioFileFormat) else audio_format(fmt)
    if spec.muxer:
        return FfmpegEncoder(spec, sample_rate, file)
    return PcmEncoder(spec, sample_rate, file)


def write_audio(chunks: Iterable[AudioChunk], path: str | os.PathLike[str], fmt: str | None = None) -> float:
    """Write a chunk stream to ``path`` durably, in the format of its extension (or ``fmt``).

    The file appears complete or not at all (see :func:`voicebank.durable.atomic_output`).
    Returns the seconds written; a stream with no audio at all writes no file and gives 0.
    """
    path = Path(path)
    spec = check_output_path(path, fmt)
    it = iter(chunks)
    first = next((c for c in it if c.frames > 0), None)
    if first is None:
        return 0.0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path.parent) from exc
    with atomic_output(path) as tmp:
        encoder = get_encoder(spec, file=tmp)
        try:
            encoder.write(first)
            for chunk in it:
                encoder.write(chunk)
            encoder.close()
        except BaseException:
            encoder.abort()
            raise
    return encoder.seconds
