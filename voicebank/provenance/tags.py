"""Tags inside audio files (WAV, FLAC, MP3, M4B/M4A, Opus/Ogg) saying the audio is synthetic, which voice made it and with what.

Owned by the tags/manifest work of issue 19. Contract: :class:`ProvenanceInfo`,
:func:`write_tags(path, info)` (in place, atomically) and :func:`read_tags(path)`.

Where the keys go, per container (all written with ``mutagen``, the ``trust`` extra):

* FLAC, Ogg Opus, Ogg Vorbis: Vorbis comments ``SYNTHETIC``, ``VOICEBANK_VOICE`` ... and ``COMMENT``;
* MP3: ID3v2 ``TXXX`` frames with the same names, and a ``COMM`` comment;
* M4A/M4B: freeform atoms ``----:com.voicebank:SYNTHETIC`` ... and ``©cmt``;
* WAV: an ID3v2 ``id3 `` chunk as for MP3 (what :func:`read_tags` reads) and a RIFF ``LIST/INFO``
  chunk with ``ICMT`` (the comment), ``ISFT`` (the toolkit) and ``ICRD`` (the date), which is what
  ffprobe and most players show (ffmpeg ignores a WAV's ID3 chunk when an INFO list is there).
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..durable import atomic_output
from ..errors import AudioFormatError, MissingDependencyError, UsageError

KEY_SYNTHETIC = "SYNTHETIC"
# ProvenanceInfo field -> tag name (every container uses these names)
FIELD_KEYS = {
    "voice": "VOICEBANK_VOICE",
    "voice_id": "VOICEBANK_VOICE_ID",
    "toolkit": "VOICEBANK_TOOLKIT",
    "created": "VOICEBANK_CREATED",
}
MP4_PREFIX = "----:com.voicebank:"
KNOWN_FORMATS = "WAV, FLAC, MP3, M4A/M4B, Opus or Ogg Vorbis"


@dataclass(frozen=True)
class ProvenanceInfo:
    voice: str  # the voice's name
    voice_id: str = ""  # a stable id of the voice (its card's id or the model's sha256 prefix)
    toolkit: str = ""  # "voicebank 0.1.0"
    created: str = ""  # ISO 8601 UTC
    synthetic: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProvenanceInfo:
        return cls(
            voice=str(data.get("voice", "")),
            voice_id=str(data.get("voice_id", "")),
            toolkit=str(data.get("toolkit", "")),
            created=str(data.get("created", "")),
            synthetic=bool(data.get("synthetic", True)),
        )

    def describe(self) -> str:
        """One sentence for a comment field: what this audio is and what made it."""
        what = "Synthetic speech" if self.synthetic else "Speech"
        parts = [f"{what} made with {self.toolkit or 'voicebank'}"]
        if self.voice:
            parts.append(f"in the voice {self.voice}" + (f" ({self.voice_id})" if self.voice_id else ""))
        if self.created:
            parts.append(f"on {self.created}")
        return " ".join(parts) + "."


def tag_items(info: ProvenanceInfo) -> dict[str, str]:
    """The tag names and values written into every format."""
    items = {KEY_SYNTHETIC: "yes" if info.synthetic else "no"}
    for field_name, key in FIELD_KEYS.items():
        value = getattr(info, field_name)
        if value:
            items[key] = value
    return items


def info_from_items(items: dict[str, str]) -> ProvenanceInfo | None:
    """The ProvenanceInfo in a file's tags (None when it carries none of ours)."""
    if KEY_SYNTHETIC not in items and not any(k in items for k in FIELD_KEYS.values()):
        return None
    values = {f: items.get(k, "") for f, k in FIELD_KEYS.items()}
    return ProvenanceInfo(synthetic=items.get(KEY_SYNTHETIC, "yes").strip().lower() != "no", **values)


def write_tags(path: str | os.PathLike[str], info: ProvenanceInfo) -> None:
    """Tag ``path`` in place: a copy is tagged, then renamed over it (never a half-written file).

    Other tags already in the file (title, chapters, ...) are kept; ours are replaced.
    Raises :class:`AudioFormatError` for a file that is not one of the formats we tag.
    """
    path = Path(path)
    kind = _kind(path)
    with atomic_output(path) as tmp:
        if kind == "wav":
            _copy_with_riff_info(path, tmp, info)
        else:
            shutil.copyfile(path, tmp)
        shutil.copymode(path, tmp)
        audio = _mutagen().File(str(tmp))
        if audio.tags is None:
            audio.add_tags()
        _WRITERS[kind](audio.tags, info)
        audio.save()


def read_tags(path: str | os.PathLike[str]) -> ProvenanceInfo | None:
    """The provenance tags of ``path``; None when it has none of ours."""
    path = Path(path)
    kind = _kind(path)
    tags = _mutagen().File(str(path)).tags
    return info_from_items(_READERS[kind](tags) if tags is not None else {})


def _mutagen() -> Any:
    try:
        import mutagen
    except ImportError as exc:
        raise MissingDependencyError("mutagen (reads and writes audio file tags)", "trust") from exc
    return mutagen


def _kind(path: Path) -> str:
    """Which tag family a file takes, from its content (not its name)."""
    mutagen = _mutagen()
    if not path.is_file():
        raise UsageError(f"No file at {path}.")
    try:
        found = mutagen.File(str(path))
    except mutagen.MutagenError as exc:
        raise AudioFormatError(
            f"Cannot tag {path}: it is not a complete {KNOWN_FORMATS} file ({exc}). Is it cut short, or another format?"
        ) from exc
    kind = {"WAVE": "wav", "FLAC": "vorbis", "OggOpus": "vorbis", "OggVorbis": "vorbis", "MP3": "id3", "MP4": "mp4"}.get(
        type(found).__name__
    )
    if kind is None:
        raise AudioFormatError(
            f"Cannot tag {path}: it is not a {KNOWN_FORMATS} file. Write the audio in one of those formats."
        )
    return kind


# --- Vorbis comments (FLAC, Opus, Vorbis) -----------------------------------------------------


def _write_vorbis(tags: Any, info: ProvenanceInfo) -> None:
    for key in (KEY_SYNTHETIC, *FIELD_KEYS.values()):
        if key in tags:
            del tags[key]
    for key, value in tag_items(info).items():
        tags[key] = [value]
    tags["COMMENT"] = [info.describe()]


def _read_vorbis(tags: Any) -> dict[str, str]:
    return {k.upper(): v[0] for k, v in tags.as_dict().items() if v}


# --- ID3 (MP3, and WAV's id3 chunk) ----------------------------------------------------------


def _write_id3(tags: Any, info: ProvenanceInfo) -> None:
    from mutagen.id3 import COMM, TXXX

    for key in (KEY_SYNTHETIC, *FIELD_KEYS.values()):
        tags.delall(f"TXXX:{key}")
    for key, value in tag_items(info).items():
        tags.add(TXXX(encoding=3, desc=key, text=[value]))
    tags.add(COMM(encoding=3, lang="eng", desc="", text=[info.describe()]))


def _read_id3(tags: Any) -> dict[str, str]:
    return {frame.desc.upper(): str(frame.text[0]) for frame in tags.getall("TXXX") if frame.text}


# --- MP4 (M4A, M4B) --------------------------------------------------------------------------


def _write_mp4(tags: Any, info: ProvenanceInfo) -> None:
    from mutagen.mp4 import AtomDataType, MP4FreeForm

    for key in (KEY_SYNTHETIC, *FIELD_KEYS.values()):
        tags.pop(MP4_PREFIX + key, None)
    for key, value in tag_items(info).items():
        tags[MP4_PREFIX + key] = [MP4FreeForm(value.encode("utf-8"), dataformat=AtomDataType.UTF8)]
    tags["\xa9cmt"] = [info.describe()]


def _read_mp4(tags: Any) -> dict[str, str]:
    return {
        k[len(MP4_PREFIX):].upper(): bytes(v[0]).decode("utf-8", "replace")
        for k, v in tags.items()
        if k.startswith(MP4_PREFIX) and v
    }


# --- WAV: RIFF LIST/INFO, written while copying --------------------------------------------


def _copy_with_riff_info(src: Path, dst: Path, info: ProvenanceInfo) -> None:
    """Copy a RIFF/WAVE file chunk by chunk, dropping its LIST/INFO chunk and appending ours."""
    entries = {b"ICMT": info.describe(), b"ISFT": info.toolkit, b"ICRD": info.created}
    body = b"INFO" + b"".join(_riff_chunk(cid, text.encode("utf-8") + b"\0") for cid, text in entries.items() if text)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        head = fin.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioFormatError(f"{src} is not a RIFF/WAVE file; it cannot be tagged as WAV.")
        fout.write(head)
        size = src.stat().st_size
        while fin.tell() + 8 <= size:
            hdr = fin.read(8)
            cid, length = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            padded = length + (length & 1)
            if fin.tell() + length > size:
                raise AudioFormatError(f"{src} is cut short (its {cid!r} chunk runs past the end); it cannot be tagged.")
            if cid == b"LIST" and fin.read(4) == b"INFO":
                fin.seek(padded - 4, os.SEEK_CUR)
                continue
            fin.seek(-4 if cid == b"LIST" else 0, os.SEEK_CUR)
            fout.write(hdr)
            copied = min(padded, size - fin.tell())
            _copy_bytes(fin, fout, copied)
            fout.write(b"\0" * (padded - copied))  # a last odd chunk left unpadded: pad it
        fout.write(_riff_chunk(b"LIST", body))
        riff_size = fout.tell() - 8
        fout.seek(4)
        fout.write(struct.pack("<I", riff_size))


def _riff_chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def _copy_bytes(fin: BinaryIO, fout: BinaryIO, count: int) -> None:
    while count > 0:
        block = fin.read(min(count, 1 << 20))
        if not block:
            return
        fout.write(block)
        count -= len(block)


_WRITERS = {"wav": _write_id3, "id3": _write_id3, "vorbis": _write_vorbis, "mp4": _write_mp4}
_READERS = {"wav": _read_id3, "id3": _read_id3, "vorbis": _read_vorbis, "mp4": _read_mp4}
