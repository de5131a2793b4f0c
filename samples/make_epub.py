"""Build the sample book's EPUB 3 from its Markdown, byte for byte the same on every run.

    python samples/make_epub.py            # writes samples/book/the-lighthouse-keeper.epub
    python samples/make_epub.py --check    # exit 1 if the committed EPUB is not what this makes

The Markdown (``samples/book/the-lighthouse-keeper.md``) is the one source: each ``#`` heading
becomes one XHTML document (the copyright and dedication pages marked with their EPUB 3
``epub:type``), the footnote becomes an ``aside epub:type="footnote"`` cited by a noteref link,
and the cover is a small PNG drawn here with numpy. ebooklib writes the EPUB (nav and NCX both);
the ZIP is then rewritten with fixed timestamps, since ebooklib stamps each entry with the
current time. Needs the ``narrate`` extra (ebooklib, markdown-it-py).
"""

from __future__ import annotations

import argparse
import io
import re
import struct
import sys
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "book" / "the-lighthouse-keeper.md"
TARGET = HERE / "book" / "the-lighthouse-keeper.epub"
IDENTIFIER = "urn:uuid:5f0c2b9e-3f57-4b8e-9a63-6c1d2e7a4b10"  # fixed, so every build is the same book
MODIFIED = datetime(2026, 1, 1, tzinfo=timezone.utc)
ZIP_TIME = (2026, 1, 1, 0, 0, 0)
ROLES = {"Copyright": "copyright-page", "Dedication": "dedication"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed EPUB instead of writing")
    parser.add_argument("--out", type=Path, default=TARGET, help=f"where to write (default {TARGET.name})")
    args = parser.parse_args(argv)
    data = build(SOURCE.read_text(encoding="utf-8"))
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == data
        print(f"{args.out}: {'up to date' if same else 'differs from what make_epub.py builds'}")
        return 0 if same else 1
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0


def build(markdown: str) -> bytes:
    """The EPUB's bytes for the sample book's Markdown."""
    from ebooklib import epub
    from markdown_it import MarkdownIt

    meta, chapters, notes = split_book(markdown)
    md = MarkdownIt("commonmark")
    book = epub.EpubBook()
    book.set_identifier(IDENTIFIER)
    book.set_title(meta["title"])
    book.set_language(meta.get("language", "en"))
    book.add_author(meta["author"])
    book.set_cover("cover.png", cover_png(), create_page=True)
    docs = []
    for index, (title, body) in enumerate(chapters, 1):
        doc = epub.EpubHtml(title=title, file_name=f"chapter-{index:02d}.xhtml", lang="en", uid=f"chapter-{index:02d}")
        doc.content = chapter_xhtml(title, body, md, notes)
        book.add_item(doc)
        docs.append(doc)
    book.toc = [epub.Link(doc.file_name, doc.title, doc.id) for doc in docs]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["cover", "nav", *docs]
    raw = io.BytesIO()
    epub.write_epub(raw, book, {"mtime": MODIFIED, "raise_exceptions": True})
    return fixed_zip(raw.getvalue())


def split_book(markdown: str) -> tuple[dict[str, str], list[tuple[str, str]], dict[str, str]]:
    """(metadata, [(chapter title, chapter Markdown)], {footnote id: text}) of the sample's Markdown."""
    head = re.match(r"---\n(.*?)\n---\n", markdown, re.S)
    assert head, "the sample book starts with a --- metadata block"
    meta = dict(line.split(": ", 1) for line in head.group(1).splitlines())
    body = markdown[head.end() :]
    notes = {}
    for m in re.finditer(r"^\[\^(\w+)\]: (.*(?:\n {4}.*)*)", body, re.M):
        notes[m.group(1)] = " ".join(m.group(2).split())
    body = re.sub(r"^\[\^(\w+)\]: .*(?:\n {4}.*)*", "", body, flags=re.M)
    parts = re.split(r"^# (.+)$", body, flags=re.M)
    chapters = [(parts[i].strip(), parts[i + 1].strip()) for i in range(1, len(parts), 2)]
    return meta, chapters, notes


def chapter_xhtml(title: str, body: str, md: object, notes: dict[str, str]) -> str:
    """One chapter's XHTML body: its heading, its paragraphs, and its footnotes as asides."""
    cited = re.findall(r"\[\^(\w+)\]", body)
    html = md.render(body)  # type: ignore[attr-defined]
    for n, ident in enumerate(cited, 1):
        html = html.replace(
            f"[^{ident}]",
            f'<a epub:type="noteref" role="doc-noteref" id="ref-{ident}" href="#note-{ident}"><sup>{n}</sup></a>',
        )
    asides = "".join(
        f'<aside epub:type="footnote" role="doc-footnote" id="note-{ident}"><p>{notes[ident]}</p></aside>'
        for ident in cited
    )
    role = ROLES.get(title)
    section = f'<section epub:type="{role}">' if role else '<section epub:type="bodymatter chapter">'
    return f"{section}<h1>{title}</h1>{html}{asides}</section>"


def cover_png(width: int = 240, height: int = 360) -> bytes:
    """A lighthouse at dusk, drawn with numpy: sky, sea, a striped tower and its beam."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.zeros((height, width, 3), np.float64)
    sky = y / height
    img[...] = np.stack([20 + 60 * sky, 30 + 50 * sky, 70 + 60 * sky], axis=-1)
    sea = y > height * 0.72
    img[sea] = [15, 40, 70]
    cx, top, bottom = width // 2, int(height * 0.30), int(height * 0.78)
    half = 14 + (y - top) * 10 / max(1, bottom - top)
    tower = (y >= top) & (y <= bottom) & (np.abs(x - cx) <= half)
    stripe = ((y - top) // 22) % 2 == 0
    img[tower & stripe] = [235, 235, 230]
    img[tower & ~stripe] = [190, 40, 40]
    lamp = (np.abs(y - (top - 12)) <= 10) & (np.abs(x - cx) <= 12)
    img[lamp] = [255, 220, 90]
    beam = (x > cx) & (np.abs(y - (top - 12)) <= (x - cx) * 0.18 + 4) & ~lamp
    img[beam] = img[beam] * 0.4 + np.array([255, 230, 140]) * 0.6
    return png(np.clip(img, 0, 255).astype(np.uint8))


def png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (height × width × 3), with no timestamps or other varying chunks."""
    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[i].tobytes() for i in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def fixed_zip(data: bytes) -> bytes:
    """The same archive with every entry stamped ZIP_TIME (mimetype first and stored, as EPUB asks)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        names = sorted(src.namelist(), key=lambda n: (n != "mimetype", src.namelist().index(n)))
        for name in names:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name), compresslevel=9 if name != "mimetype" else None)
    return out.getvalue()


if __name__ == "__main__":
    sys.exit(main())
