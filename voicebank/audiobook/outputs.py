"""Files out of a narration: one M4B (AAC) with chapter marks, tags and cover, or a file per chapter (MP3/Opus).

The codec work is :mod:`voicebank.encode`'s (the same encoders as everywhere else); this
module adds what belongs to the container: chapter marks (ffmpeg's FFMETADATA, muxed in
with the audio copied, not encoded again), tags and the cover (mutagen for chapter files).
Every file appears complete or not at all (:func:`voicebank.durable.atomic_output`).

>>> write_m4b([ChapterAudio("One", a), ChapterAudio("Two", b)], 22050, BookMeta("Tales", "Ann Lee"), "tales.m4b")
>>> write_chapter_files(chapters, 22050, meta, "tales/", "mp3")   # 01 - One.mp3, 02 - Two.mp3
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import AudioChunk
from ..durable import atomic_output, storage_error
from ..encode import FORMATS, AudioFileFormat, check_output_path, decode_blocks, get_encoder, run_ffmpeg
from ..errors import AudioFormatError, EncoderError, MissingDependencyError

GENRE = "Audiobook"
# ffmpeg's native AAC encoder: its "fast" coder overshoots peaks less than the default
# "twoloop" after a quiet pause (see docs/audiobook-mastering.md) and takes a third of the time
M4B_CODEC = ("-c:a", "aac", "-aac_coder", "fast")
ACX_MP3 = replace(FORMATS["mp3"], rate=44100, codec=("-c:a", "libmp3lame", "-b:a", "192k"))  # ACX's upload format
CHAPTER_FORMATS = ("mp3", "opus")
# Encoded peaks are held under this (ACX: -3 dBFS): lossy codecs overshoot the limiter's
# ceiling by up to ~2 dB at a few transients, which are found in the encoded file and lowered
ENCODED_PEAK_DB = -3.3
_TAME_HOLD_S = 0.02  # a lowered transient: this long each side at the lower gain,
_TAME_RAMP_S = 0.01  # ... with raised-cosine ramps this long
_TAME_ROUNDS = 3
_TAME_MAX = 1000  # more overs than this: not mastered audio, left as it is
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_FFMETA_SPECIAL = re.compile(r"([=;#\\\n])")


@dataclass(frozen=True)
class ChapterAudio:
    """One chapter's mastered samples (float32 mono) and its title."""

    title: str
    samples: np.ndarray


@dataclass(frozen=True)
class BookMeta:
    """What the files say about the book: tags and cover."""

    title: str
    author: str = ""
    language: str = "en"
    narrator: str = ""  # the voice that reads it
    year: str = ""
    cover: bytes | None = None  # JPEG or PNG bytes
    cover_mime: str = ""

    @classmethod
    def from_book(cls, book: Any, narrator: str = "", year: str = "") -> BookMeta:
        """The tags of a :class:`voicebank.audiobook.book.Book`."""
        return cls(book.title, book.author, book.language, narrator, year, book.cover, book.cover_mime)

    def tags(self) -> dict[str, str]:
        """The book's tags by ffmpeg's names (empty ones left out)."""
        tags = {
            "title": self.title, "album": self.title, "artist": self.author, "album_artist": self.author,
            "composer": self.narrator, "genre": GENRE, "date": self.year,
        }
        return {k: v for k, v in tags.items() if v}


def write_m4b(
    chapters: list[ChapterAudio], rate: int, meta: BookMeta, path: str | Path, *, bitrate: str = "64k"
) -> Path:
    """One M4B (AAC in MP4) with a chapter mark per chapter, the book's tags and cover; written atomically.

    Chapter marks start where each chapter's first sample is heard (to the millisecond).
    Returns ``path``. Raises AudioFormatError for no chapters or unusable samples,
    EncoderError when ffmpeg fails, StorageError when the file cannot be written.
    """
    path = Path(path)
    check_output_path(path, "aac")
    _check_chapters(chapters, rate)
    spec = replace(FORMATS["aac"], codec=(*M4B_CODEC, "-b:a", bitrate))
    _make_folder(path.parent)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.partial.") as work:
        audio = Path(work) / "audio.m4a"
        _encode_checked(chapters, rate, spec, audio)
        marks = Path(work) / "chapters.txt"
        marks.write_text(ffmetadata(chapters, rate, meta), encoding="utf-8")
        args = ["-i", str(audio), "-f", "ffmetadata", "-i", str(marks)]
        maps = ["-map", "0:a", "-map_metadata", "1", "-map_chapters", "1", "-c", "copy"]
        if meta.cover:
            cover = Path(work) / ("cover.png" if _is_png(meta.cover) else "cover.jpg")
            cover.write_bytes(meta.cover)
            args += ["-i", str(cover)]
            maps += ["-map", "2:v", "-disposition:v:0", "attached_pic"]
        with atomic_output(path) as tmp:
            run_ffmpeg([*args, *maps, "-movflags", "+faststart", "-f", "mp4", "-y", str(tmp)], f"Writing {path}")
    return path


def write_chapter_files(
    chapters: list[ChapterAudio],
    rate: int,
    meta: BookMeta,
    folder: str | Path,
    fmt: str = "mp3",
    *,
    bitrate: str | None = None,
    acx: bool = False,
) -> list[Path]:
    """A file per chapter in ``folder``, ``NN - Title.mp3`` (or ``.opus``), tagged for audiobook players.

    Tags: title, album (the book), artist and album artist (the author), composer (the
    narrator, as Audiobookshelf reads it), track ``n/total``, genre, year and the cover.
    ``bitrate`` overrides the format's (MP3 64k, Opus 32k); ``acx=True`` writes ACX's upload
    format instead: MP3, 192 kbit/s constant, 44.1 kHz. Returns the paths in chapter order.
    """
    if fmt not in CHAPTER_FORMATS:
        raise EncoderError(f"Chapter files are written as {' or '.join(CHAPTER_FORMATS)}, not {fmt!r}.")
    _check_chapters(chapters, rate)
    spec = ACX_MP3 if acx else FORMATS[fmt]
    if bitrate:
        spec = _with_bitrate(spec, bitrate)
    folder = Path(folder)
    _make_folder(folder)
    width = max(2, len(str(len(chapters))))
    paths = []
    for number, chapter in enumerate(chapters, 1):
        name = f"{number:0{width}d} - {safe_file_name(chapter.title, f'Chapter {number}')}{spec.extension}"
        target = folder / name
        check_output_path(target, spec.name)
        with atomic_output(target) as tmp:
            _encode_checked([chapter], rate, spec, tmp)
            _tag(tmp, spec.name, meta, chapter.title, number, len(chapters))
        paths.append(target)
    return paths


def ffmetadata(chapters: list[ChapterAudio], rate: int, meta: BookMeta) -> str:
    """ffmpeg's metadata file: the book's tags, then a ``[CHAPTER]`` per chapter (milliseconds)."""
    lines = [";FFMETADATA1", *(f"{key}={_ffescape(value)}" for key, value in meta.tags().items())]
    lines.append("media_type=2")  # MP4 'stik' 2: an audiobook (Apple Books files it under Audiobooks)
    at = 0
    for chapter in chapters:
        start, at = at, at + len(chapter.samples)
        lines += [
            "[CHAPTER]", "TIMEBASE=1/1000", f"START={round(start * 1000 / rate)}",
            f"END={round(at * 1000 / rate)}", f"title={_ffescape(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


def safe_file_name(title: str, fallback: str, limit: int = 80) -> str:
    """``title`` as a file name any system takes: no separators or reserved characters, trimmed to ``limit``."""
    name = _UNSAFE.sub(" ", unicodedata.normalize("NFC", title))
    name = " ".join(name.split()).strip(" .")
    if len(name) > limit:
        cut = name[:limit]
        name = (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut).rstrip(" .")
    return name or fallback


def _check_chapters(chapters: list[ChapterAudio], rate: int) -> None:
    if rate <= 0:
        raise AudioFormatError(f"The sample rate must be above 0 Hz (got {rate}).")
    if not chapters:
        raise AudioFormatError("There are no chapters to write; narrate at least one chapter first.")
    for number, chapter in enumerate(chapters, 1):
        samples = np.asarray(chapter.samples)
        if samples.ndim != 1 or samples.size == 0:
            raise AudioFormatError(
                f"Chapter {number} ({chapter.title!r}) has no mono audio (shape {samples.shape}); narrate it again."
            )


def _encode(chapters: list[ChapterAudio], rate: int, spec: AudioFileFormat, file: Path) -> None:
    """The chapters one after another, encoded into ``file`` by :mod:`voicebank.encode`."""
    encoder = get_encoder(spec, sample_rate=rate, file=file)
    try:
        for chapter in chapters:
            encoder.write(AudioChunk(np.asarray(chapter.samples, np.float32), rate))
        encoder.close()
    except BaseException:
        encoder.abort()
        raise


def _encode_checked(chapters: list[ChapterAudio], rate: int, spec: AudioFileFormat, file: Path) -> None:
    """:func:`_encode`, then the peaks the codec pushed over :data:`ENCODED_PEAK_DB` lowered and encoded again.

    The encoded file is decoded and scanned; each transient over the limit gets a short local
    dip of its excess (up to ``_TAME_ROUNDS`` times; what is left shows in the ACX report).
    """
    for round_ in range(_TAME_ROUNDS + 1):
        _encode(chapters, rate, spec, file)
        overs = [] if round_ == _TAME_ROUNDS else _overs(file, spec.rate or rate)
        if not overs:
            return
        chapters = _tamed(chapters, rate, overs)


def _overs(file: Path, rate: int) -> list[tuple[float, float]]:
    """(seconds, dB over :data:`ENCODED_PEAK_DB`) of each 10 ms of the decoded file that passes it."""
    limit = 10 ** (ENCODED_PEAK_DB / 20)
    overs: dict[int, float] = {}
    at = 0
    for block in decode_blocks(file, rate, 1):
        x = np.abs(block[:, 0])
        where = np.flatnonzero(x > limit)
        if where.size:
            slots = (at + where) * 100 // rate
            firsts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
            excess = np.maximum.reduceat(20 * np.log10(x[where] / limit), firsts)
            for slot, db in zip(slots[firsts].tolist(), excess.tolist()):
                overs[slot] = max(overs.get(slot, 0.0), db)
        at += len(x)
    if len(overs) > _TAME_MAX:
        return []  # not a codec's overshoot: audio that was never mastered (the ACX report will say)
    return [(slot / 100 + 0.005, excess) for slot, excess in sorted(overs.items())]


def _tamed(chapters: list[ChapterAudio], rate: int, overs: list[tuple[float, float]]) -> list[ChapterAudio]:
    """The chapters with a short dip in gain at each over (its excess and 0.3 dB more)."""
    hold, ramp = round(_TAME_HOLD_S * rate), max(1, round(_TAME_RAMP_S * rate))
    edge = np.sin(0.5 * np.pi * (np.arange(ramp) + 0.5) / ramp) ** 2  # 0 → 1
    out, start = [], 0
    for chapter in chapters:
        size = len(chapter.samples)
        gain = np.ones(size)
        for seconds, excess in overs:
            centre = round(seconds * rate) - start
            if not -hold - ramp <= centre < size + hold + ramp:
                continue
            depth = 1 - 10 ** (-(excess + 0.3) / 20)
            shape = np.concatenate([edge, np.ones(2 * hold + 1), edge[::-1]])  # 0 → 1 → 0
            lo = centre - hold - ramp
            a, b = max(0, lo), min(size, lo + shape.size)
            np.minimum(gain[a:b], 1 - depth * shape[a - lo : b - lo], out=gain[a:b])
        out.append(replace(chapter, samples=(chapter.samples * gain).astype(np.float32)))
        start += size
    return out


def _tag(path: Path, fmt: str, meta: BookMeta, title: str, number: int, total: int) -> None:
    try:
        import mutagen  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("mutagen (tags of chapter files)", "narrate") from exc
    if fmt == "mp3":
        _tag_mp3(path, meta, title, number, total)
    else:
        _tag_opus(path, meta, title, number, total)


def _tag_mp3(path: Path, meta: BookMeta, title: str, number: int, total: int) -> None:
    from mutagen import id3

    tags = id3.ID3()
    frames = {
        id3.TIT2: title, id3.TALB: meta.title, id3.TPE1: meta.author, id3.TPE2: meta.author,
        id3.TCOM: meta.narrator, id3.TCON: GENRE, id3.TDRC: meta.year, id3.TRCK: f"{number}/{total}",
    }
    for frame, text in frames.items():
        if text:
            tags.add(frame(encoding=3, text=text))
    if meta.cover:
        tags.add(id3.APIC(encoding=3, mime=_cover_mime(meta), type=3, desc="Cover", data=meta.cover))
    tags.save(str(path), v2_version=3)  # ID3v2.3: what most players and file browsers read


def _tag_opus(path: Path, meta: BookMeta, title: str, number: int, total: int) -> None:
    import base64

    from mutagen.flac import Picture
    from mutagen.oggopus import OggOpus

    audio = OggOpus(str(path))
    comments = {
        "title": title, "album": meta.title, "artist": meta.author, "albumartist": meta.author,
        "composer": meta.narrator, "genre": GENRE, "date": meta.year, "language": meta.language,
        "tracknumber": str(number), "tracktotal": str(total),
    }
    for key, value in comments.items():
        if value:
            audio[key] = value
    if meta.cover:
        picture = Picture()
        picture.type, picture.mime, picture.desc, picture.data = 3, _cover_mime(meta), "Cover", meta.cover
        audio["metadata_block_picture"] = base64.b64encode(picture.write()).decode("ascii")
    audio.save()


def _with_bitrate(spec: AudioFileFormat, bitrate: str) -> AudioFileFormat:
    codec = list(spec.codec)
    if "-b:a" in codec:
        codec[codec.index("-b:a") + 1] = bitrate
    else:
        codec += ["-b:a", bitrate]
    return replace(spec, codec=tuple(codec))


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, folder) from exc


def _ffescape(value: str) -> str:
    return _FFMETA_SPECIAL.sub(r"\\\1", value)


def _is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


def _cover_mime(meta: BookMeta) -> str:
    return meta.cover_mime or ("image/png" if meta.cover and _is_png(meta.cover) else "image/jpeg")
