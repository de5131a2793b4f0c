"""Files out of a narration: one M4B (AAC) with chapter marks, tags and cover, or a file per chapter (MP3/Opus).

The codec work is :mod:`voicebank.encode`'s (the same encoders as everywhere); this module
adds what belongs to the container: chapter marks, tags and the cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


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


def write_m4b(chapters: list[ChapterAudio], rate: int, meta: BookMeta, path: str | Path, *, bitrate: str = "64k") -> Path:
    """One M4B (AAC in MP4) with a chapter mark per chapter, the book's tags and cover; written atomically."""
    raise NotImplementedError


def write_chapter_files(
    chapters: list[ChapterAudio], rate: int, meta: BookMeta, folder: str | Path, fmt: str = "mp3", *, bitrate: str | None = None
) -> list[Path]:
    """A file per chapter, ``NN - Title.mp3`` (or ``.opus``), tagged with track number, album and author."""
    raise NotImplementedError
