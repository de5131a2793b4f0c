"""Reading books: the sample book as Markdown and EPUB, TXT chapters, notes, front matter, bad input, and the accounting of every character."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicebank.audiobook.book import ALT_TEXT, NOTE_MARKER, Book, source_chars
from voicebank.audiobook.reader import ReadOptions, read_book
from voicebank.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_MD = REPO / "samples" / "book" / "the-lighthouse-keeper.md"
SAMPLE_EPUB = REPO / "samples" / "book" / "the-lighthouse-keeper.epub"
BODY_TITLES = [
    "Chapter One: The Ledger",
    "Chapter Two: The Account Book",
    "Part Two",
    "Chapter Three: The Storm",
    "Chapter Four: The Letter",
    "Chapter Five: The New Keeper",
]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("ebooklib") is None, reason="needs the narrate extra")


def assert_accounted(book: Book) -> None:
    for chapter in book.chapters:
        assert chapter.accounted_chars() == chapter.source_chars, chapter.title
        assert all(s.reason for s in chapter.skipped)


@pytest.fixture(scope="module", params=["md", "epub"])
def sample(request: pytest.FixtureRequest) -> Book:
    return read_book(SAMPLE_MD if request.param == "md" else SAMPLE_EPUB)


# --- the sample book -------------------------------------------------------------------


def test_sample_metadata_chapters_and_accounting(sample: Book) -> None:
    assert sample.title == "The Lighthouse Keeper's Ledger"
    assert sample.author == "The voicebank contributors"
    assert sample.language == "en"
    body = [c for c in sample.chapters if c.role == "body"]
    assert [c.title for c in body] == BODY_TITLES
    part_two = body[2]
    assert [(b.kind, b.text) for b in part_two.blocks] == [("heading", "Part Two")]
    assert body[0].blocks[0] == body[0].blocks[0].__class__("heading", "Chapter One: The Ledger", 20)
    assert_accounted(sample)
    front = {c.title: c for c in sample.chapters if c.role == "front"}
    assert {"Copyright", "Dedication"} <= set(front)
    assert front["Copyright"].blocks == []
    assert front["Copyright"].skipped[0].reason == "front matter: copyright page"
    storm = body[3]
    assert [s.reason for s in storm.skipped] == [NOTE_MARKER, "note (notes are not read)"]
    assert not any("[^1]" in b.text or "turning one1" in b.text for b in storm.blocks)


def test_markdown_and_epub_read_the_same_text() -> None:
    md, ep = read_book(SAMPLE_MD), read_book(SAMPLE_EPUB)
    body_md = [(c.title, [(b.kind, b.text) for b in c.blocks]) for c in md.chapters if c.role == "body"]
    body_ep = [(c.title, [(b.kind, b.text) for b in c.blocks]) for c in ep.chapters if c.role == "body"]
    assert body_md == body_ep
    assert ep.cover is not None and ep.cover.startswith(b"\x89PNG") and ep.cover_mime == "image/png"
    assert [c.role_reason for c in ep.chapters[:2]] == ["cover", "contents"]


def test_notes_are_read_at_the_chapter_end_when_asked() -> None:
    for path in (SAMPLE_MD, SAMPLE_EPUB):
        book = read_book(path, ReadOptions(read_notes=True))
        storm = next(c for c in book.chapters if c.title == "Chapter Three: The Storm")
        assert storm.blocks[-1].kind == "note"
        assert storm.blocks[-1].text.startswith("Each lighthouse has its own pattern of flashes")
        assert [s.reason for s in storm.skipped] == [NOTE_MARKER]
        assert_accounted(book)


def test_front_matter_is_read_when_asked() -> None:
    book = read_book(SAMPLE_MD, ReadOptions(include_front_matter=True))
    copyright_page = next(c for c in book.chapters if c.title == "Copyright")
    assert copyright_page.blocks[1].text.startswith("Copyright © 2026 the voicebank contributors.")
    assert_accounted(book)


def test_epub_source_chars_match_the_xhtml_text() -> None:
    """Independent count: every non-space character of each spine document's body text and alt text."""
    from lxml import etree

    expected = 0
    with zipfile.ZipFile(SAMPLE_EPUB) as zf:
        for name in zf.namelist():
            if name.endswith(".xhtml"):
                root = etree.fromstring(zf.read(name))
                body = root.find("{http://www.w3.org/1999/xhtml}body")
                expected += source_chars("".join(body.itertext()))
                expected += sum(source_chars(el.get("alt", "")) for el in body.iter("{*}img"))
    assert read_book(SAMPLE_EPUB).source_chars() == expected


def test_make_epub_is_deterministic_and_committed_copy_is_current() -> None:
    result = subprocess.run([sys.executable, str(REPO / "samples" / "make_epub.py"), "--check"], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(REPO / "samples"))
    try:
        import make_epub
    finally:
        sys.path.remove(str(REPO / "samples"))
    text = SAMPLE_MD.read_text(encoding="utf-8")
    assert make_epub.build(text) == make_epub.build(text) == SAMPLE_EPUB.read_bytes()


# --- TXT ---------------------------------------------------------------------------------

TXT_BOOK = """The Tale of Two Lamps
Copyright (c) 2026 Nobody. All rights reserved.

CHAPTER ONE

It was a dark night.[1] The lamp
was lit at 6:15 p.m.

  An indented line starts a new paragraph.*

Part II

Chapter 2: The Second Lamp

The second lamp cost $3.50, and Dr. Watts paid it. It was *very* dear.

Book one of the series was
long, and this line is no heading.
"""


def test_txt_chapters_at_heading_lines(tmp_path: Path) -> None:
    path = tmp_path / "two_lamps.txt"
    path.write_text(TXT_BOOK, encoding="utf-8")
    book = read_book(path)
    assert [(c.title, c.role) for c in book.chapters] == [
        ("The Tale of Two Lamps", "front"),
        ("CHAPTER ONE", "body"),
        ("Part II", "body"),
        ("Chapter 2: The Second Lamp", "body"),
    ]
    one = book.chapters[1]
    assert [b.text for b in one.blocks] == [
        "CHAPTER ONE",
        "It was a dark night. The lamp was lit at 6:15 p.m.",
        "An indented line starts a new paragraph.",
    ]
    assert [(s.text, s.reason) for s in one.skipped] == [("[1]", NOTE_MARKER), ("*", NOTE_MARKER)]
    assert book.chapters[0].skipped[0].reason == "front matter: copyright page"
    assert [b.text for b in book.chapters[3].blocks][1:] == [
        "The second lamp cost $3.50, and Dr. Watts paid it. It was *very* dear.",
        "Book one of the series was long, and this line is no heading.",
    ]
    assert book.source_chars() == source_chars(TXT_BOOK)
    assert_accounted(book)


def test_txt_without_headings_is_one_chapter_titled_by_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a-short-note.txt"
    path.write_bytes("Caf\xe9 au lait, please.\r\n\r\nThank you.\r\n".encode("cp1252"))
    book = read_book(path)
    assert [(c.title, [b.text for b in c.blocks]) for c in book.chapters] == [
        ("a short note", ["Café au lait, please.", "Thank you."])
    ]


_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC.,;'\"!?0123456789*[]^#-é ", min_size=1, max_size=30)
_TXT_LINES = st.lists(
    st.one_of(_WORDS, st.just(""), st.just("  "), st.sampled_from(["Chapter 3", "PART ONE", "Prologue", "[2]", "*"])),
    max_size=40,
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_TXT_LINES)
def test_txt_accounts_for_every_character(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    text = "\n".join(lines)
    if not text.strip() or not any(c.isalnum() for c in text):
        return
    path = tmp_path_factory.mktemp("txt") / "book.txt"
    path.write_text(text, encoding="utf-8")
    try:
        book = read_book(path, ReadOptions(include_front_matter=True))
    except UsageError:
        return  # nothing to read (only markers): refused, not silently empty
    assert book.source_chars() == source_chars(text)
    assert_accounted(book)


# --- Markdown ----------------------------------------------------------------------------


def test_markdown_headings_markup_images_and_footnotes(tmp_path: Path) -> None:
    path = tmp_path / "book.md"
    path.write_text(
        "Opening Words\n=============\n\nSome *emphasis* and a [link](http://example.com) here.[^a]\n\n"
        "![A map of the bay](map.png)\n\n### A section\n\nMore text<sup>3</sup>.\n\n"
        "Second Chapter\n--------------\n\nThe end.\n\n[^a]: The note,\n    continued.\n",
        encoding="utf-8",
    )
    book = read_book(path)
    assert [c.title for c in book.chapters] == ["Opening Words", "Second Chapter"]
    first = book.chapters[0]
    assert [(b.kind, b.text) for b in first.blocks] == [
        ("heading", "Opening Words"),
        ("paragraph", "Some emphasis and a link here."),
        ("heading", "A section"),
        ("paragraph", "More text."),
    ]
    assert [(s.reason, s.text) for s in first.skipped] == [
        (NOTE_MARKER, "[^a]"), (ALT_TEXT, "A map of the bay"), (NOTE_MARKER, "3"),
        ("note (notes are not read)", "The note, continued.")
    ]  # fmt: skip
    assert_accounted(book)
    read_all = read_book(path, ReadOptions(read_notes=True, read_alt_text=True))
    texts = [b.text for b in read_all.chapters[0].blocks]
    assert "A map of the bay" in texts and texts[-1] == "The note, continued."


_PLAIN = st.text(alphabet="abcdefghij klmnopqrstuvwxyz.,?'", min_size=1, max_size=40).filter(lambda s: s.strip())


@st.composite
def markdown_books(draw: st.DrawFn) -> tuple[str, int]:
    """(Markdown, the source characters of its rendered text)."""
    parts, chars = [], 0
    for _ in range(draw(st.integers(1, 8))):
        words = draw(_PLAIN).strip()
        shape = draw(st.sampled_from(["atx1", "atx2", "setext", "para", "emph", "ref", "list"]))
        if shape == "atx1":
            parts.append(f"# {words}")
        elif shape == "atx2":
            parts.append(f"## {words}")
        elif shape == "setext":
            parts.append(f"{words}\n{'=' * 3}")
        elif shape == "emph":
            parts.append(f"_{words}_ and **{words}**")
            chars += source_chars(words) + 3
        elif shape == "ref":
            parts.append(f"{words}[^n]")
            chars += 4
        elif shape == "list":
            parts.append(f"- {words}\n- {words}")
            chars += source_chars(words)
        else:
            parts.append(words)
        chars += source_chars(words)
    return "\n\n".join(parts) + "\n", chars


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=markdown_books())
def test_markdown_accounts_for_every_character(tmp_path_factory: pytest.TempPathFactory, book: tuple[str, int]) -> None:
    text, chars = book
    path = tmp_path_factory.mktemp("md") / "book.md"
    path.write_text(text, encoding="utf-8")
    try:
        read = read_book(path, ReadOptions(include_front_matter=True))
    except UsageError:
        return
    assert read.source_chars() == chars
    assert_accounted(read)


# --- EPUB shapes and bad input ------------------------------------------------------------


def make_epub(path: Path, chapters: list[tuple[str, str]], *, toc: bool = True) -> Path:
    """A small EPUB 3 built with ebooklib: (title, XHTML body) per chapter."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title("Test Book")
    book.set_language("en")
    book.add_author("A. Tester")
    docs = []
    for i, (title, body) in enumerate(chapters, 1):
        doc = epub.EpubHtml(title=title, file_name=f"c{i}.xhtml", lang="en")
        doc.content = body
        book.add_item(doc)
        docs.append(doc)
    book.toc = [epub.Link(d.file_name, d.title, f"c{i}") for i, d in enumerate(docs, 1)] if toc else []
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *docs]
    epub.write_epub(str(path), book, {"raise_exceptions": True})
    return path


def test_epub_notes_markers_splits_and_image_chapter(tmp_path: Path) -> None:
    path = make_epub(tmp_path / "b.epub", [
        ("Contents", "<h1>Contents</h1><p>One, Two</p>"),
        ("One", '<h1>One</h1><p>Text<sup>2</sup> and <a epub:type="noteref" href="#n1">[1]</a> more†.'
                '<span epub:type="pagebreak" id="p7">7</span></p>'
                '<aside epub:type="footnote" id="n1"><p><a role="doc-backlink" href="#r">↩</a> A note.</p></aside>'
                '<script>var x = 1;</script>'),
        ("Maps", '<img src="map.png" alt="A map of the coast"/>'),
        ("Two", "<h2>Two</h2><p>The end.</p>"),
    ])  # fmt: skip
    book = read_book(path, ReadOptions(read_notes=True))
    assert [(c.title, c.role) for c in book.chapters] == [
        ("Contents", "front"), ("Contents", "front"), ("One", "body"), ("Maps", "body"), ("Two", "body")
    ]  # fmt: skip
    one = book.chapters[2]
    assert [(b.kind, b.text) for b in one.blocks] == [("heading", "One"), ("paragraph", "Text and more."),
                                                      ("note", "A note.")]  # fmt: skip
    assert sorted((s.text, s.reason) for s in one.skipped) == sorted(
        [("2", NOTE_MARKER), ("[1]", NOTE_MARKER), ("↩", NOTE_MARKER), ("†", NOTE_MARKER), ("7", "page number")]
    )
    maps = book.chapters[3]
    assert maps.blocks == [] and [(s.text, s.reason) for s in maps.skipped] == [("A map of the coast", ALT_TEXT)]
    assert_accounted(book)


def test_epub_chapters_split_inside_one_file(tmp_path: Path) -> None:
    from ebooklib import epub

    path = make_epub(tmp_path / "one-file.epub", [("All", '<h1 id="a">First</h1><p>One.</p><h1 id="b">Second</h1><p>Two.</p>')])
    book = epub.read_epub(str(path), {"ignore_ncx": False})
    book.toc = [epub.Link("c1.xhtml#a", "First", "a"), epub.Link("c1.xhtml#b", "Second", "b")]
    book.get_item_with_id("nav").content = b""  # let ebooklib write a fresh nav from the new toc
    epub.write_epub(str(path), book, {"raise_exceptions": True})
    read = read_book(path)
    assert [(c.title, [b.text for b in c.blocks]) for c in read.chapters if c.role == "body"] == [
        ("First", ["First", "One."]), ("Second", ["Second", "Two."])
    ]  # fmt: skip


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


CONTAINER = (b'<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
             b'<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
             b"</rootfiles></container>")  # fmt: skip


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.epub", b"", r"empty \(0 bytes\)"),
        ("empty.txt", b"", r"empty \(0 bytes\)"),
        ("binary.txt", bytes(range(256)) * 8, "not a text file"),
        ("binary.epub", bytes(range(256)) * 8, "not an EPUB"),
        ("book.pdf", b"%PDF-1.4", "cannot read .pdf files"),
        ("blank.md", b"   \n\n", "no text to read"),
    ],
)
def test_bad_files_give_clear_messages(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message) as info:
        read_book(path)
    assert str(path) in str(info.value)


def test_damaged_drm_and_textless_epubs(tmp_path: Path) -> None:
    cases = {
        "no-container.epub": ({"mimetype": b"application/epub+zip"}, "no META-INF/container.xml"),
        "damaged.epub": ({"mimetype": b"application/epub+zip", "META-INF/container.xml": CONTAINER,
                          "OEBPS/content.opf": b"<package"}, "damaged"),
        "adobe.epub": ({"mimetype": b"application/epub+zip", "META-INF/container.xml": CONTAINER,
                        "META-INF/rights.xml": b"<rights/>"}, "Adobe DRM"),
        "encrypted.epub": ({"mimetype": b"application/epub+zip", "META-INF/container.xml": CONTAINER,
                            "META-INF/encryption.xml": b'<encryption><EncryptedData><EncryptionMethod '
                            b'Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><CipherData><CipherReference '
                            b'URI="OEBPS/c1.xhtml"/></CipherData></EncryptedData></encryption>'}, "encrypted"),
    }  # fmt: skip
    for name, (files, message) in cases.items():
        with pytest.raises(UsageError, match=message):
            read_book(_zip(tmp_path / name, files))
    textless = make_epub(tmp_path / "textless.epub", [("Pictures", '<img src="a.png"/>')])
    with pytest.raises(UsageError, match="no text to read"):
        read_book(textless)


def test_font_obfuscation_is_not_drm(tmp_path: Path) -> None:
    with zipfile.ZipFile(SAMPLE_EPUB) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    files["META-INF/encryption.xml"] = (
        b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">'
        b'<enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/><enc:CipherData>'
        b'<enc:CipherReference URI="EPUB/fonts/a.otf"/></enc:CipherData></enc:EncryptedData></encryption>'
    )
    book = read_book(_zip(tmp_path / "fonts.epub", files))
    assert [c.title for c in book.chapters if c.role == "body"] == BODY_TITLES


def test_epub2_ncx_guide_and_continuation_files(tmp_path: Path) -> None:
    """No nav: titles from the NCX, front matter from the guide, a TOC-less file continuing its chapter."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("epub2-book")
    book.set_title("Old Style")
    book.add_author("B. Writer")
    book.set_language("en-GB")
    bodies = {
        "small.xhtml": "<p>All rights kept by nobody at all.</p>",
        "c1.xhtml": "<h1>I</h1><p>The first part.</p>",
        "c1_split.xhtml": "<p>Still the first chapter.</p>",
        "c2.xhtml": "<p>No heading here, but the TOC names it.</p>",
    }
    docs = []
    for name, body in bodies.items():
        doc = epub.EpubHtml(title=name, file_name=name, uid=name.split(".")[0])
        doc.content = body
        book.add_item(doc)
        docs.append(doc)
    book.toc = [epub.Link("small.xhtml", "Small Print", "s"), epub.Link("c1.xhtml", "The Beginning", "a"),
                epub.Link("c2.xhtml", "The Middle", "b")]  # fmt: skip
    book.guide = [{"href": "small.xhtml", "title": "Small Print", "type": "copyright-page"}]
    book.add_item(epub.EpubNcx())
    book.spine = docs
    path = tmp_path / "old.epub"
    epub.write_epub(str(path), book, {"raise_exceptions": True})
    read = read_book(path)
    assert read.language == "en-GB" and read.author == "B. Writer"
    assert [(c.title, c.role, [b.text for b in c.blocks]) for c in read.chapters] == [
        ("Small Print", "front", []),
        ("The Beginning", "body", ["I", "The first part.", "Still the first chapter."]),
        ("The Middle", "body", ["No heading here, but the TOC names it."]),
    ]
    assert read.chapters[0].skipped[0].reason == "front matter: copyright page"
    assert_accounted(read)


def test_epub_html_entities_and_empty_documents(tmp_path: Path) -> None:
    path = make_epub(tmp_path / "raw.epub", [("One", "<p>placeholder</p>"), ("Two", "<p>placeholder</p>")])
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    files["EPUB/c1.xhtml"] = (b'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                              b"<body><p>Tea&nbsp;at four &mdash; or five &amp; no later.</p></body></html>")  # fmt: skip
    files["EPUB/c2.xhtml"] = b""
    book = read_book(_zip(tmp_path / "entities.epub", files))
    assert [(c.title, [b.text for b in c.blocks]) for c in book.chapters if c.role == "body"] == [
        ("One", ["Tea at four — or five & no later."])
    ]
    assert_accounted(book)


_TAGS = ["p", "div", "span", "em", "sup", "h2", "li", "aside", "a", "script", "img", "br", "section", "b"]
_ATTRS = ['', ' epub:type="noteref"', ' epub:type="footnote"', ' role="doc-endnote"', ' epub:type="pagebreak"',
          ' alt="a picture"']  # fmt: skip
_XTEXT = st.text(alphabet="ab1 .*[]†\n", max_size=8)


@st.composite
def xhtml_bodies(draw: st.DrawFn, depth: int = 0) -> str:
    out = draw(_XTEXT)
    for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
        tag, attrs = draw(st.sampled_from(_TAGS)), draw(st.sampled_from(_ATTRS))
        if tag in ("img", "br"):
            out += f"<{tag}{attrs}/>"
        else:
            out += f"<{tag}{attrs}>{draw(xhtml_bodies(depth + 1))}</{tag}>"
        out += draw(_XTEXT)
    return out


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=xhtml_bodies(), notes=st.booleans(), alt=st.booleans())
def test_epub_walker_accounts_for_every_character(body: str, notes: bool, alt: bool) -> None:
    """Any XHTML body: blocks plus skipped pieces cover its text (without <script>) and its alt text."""
    from voicebank.audiobook.read_epub import _parse_xhtml, _Walker

    xhtml = f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body>{body}</body></html>'
    root = _parse_xhtml(xhtml.encode())
    for script in list(root.iter("{*}script")):  # not text: empty it, keep its tail
        script.text = ""
        for child in list(script):
            script.remove(child)
    expected = source_chars("".join(root.iter("{*}body").__next__().itertext()))
    expected += sum(source_chars(el.get("alt", "")) for el in root.iter("{*}img"))
    doc = _Walker(ReadOptions(read_notes=notes, read_alt_text=alt), []).read(_parse_xhtml(xhtml.encode()))
    assert sum(b.chapter.source_chars for b in doc.builders) == expected
    for builder in doc.builders:
        assert builder.chapter.accounted_chars() == builder.chapter.source_chars


def test_epub3_landmarks_and_section_types_mark_matter(tmp_path: Path) -> None:
    path = make_epub(tmp_path / "marks.epub", [
        ("Rights", "<p>Nobody may copy this.</p>"),
        ("Thanks", '<section epub:type="backmatter acknowledgments"><p>To my cat.</p></section>'),
        ("Foreword", '<section epub:type="frontmatter foreword"><p>A word first.</p></section>'),
        ("Story", "<p>Once.</p>"),
    ])  # fmt: skip
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    files["EPUB/nav.xhtml"] = files["EPUB/nav.xhtml"].replace(
        b"</body>",
        b'<nav epub:type="landmarks"><ol><li><a epub:type="copyright-page" href="c1.xhtml">Rights</a></li>'
        b'<li><a epub:type="bodymatter" href="c4.xhtml">Start</a></li></ol></nav></body>',
    )
    book = read_book(_zip(tmp_path / "landmarks.epub", files))
    assert [(c.title, c.role, c.role_reason) for c in book.chapters][1:] == [
        ("Rights", "front", "copyright page"),
        ("Thanks", "back", "acknowledgments"),
        ("Foreword", "body", ""),
        ("Story", "body", ""),
    ]


def test_markdown_single_title_over_chapters(tmp_path: Path) -> None:
    path = tmp_path / "titled.md"
    path.write_text("# The Book\n\n## One\n\nFirst.\n\n## Two\n\nSecond.\n", encoding="utf-8")
    book = read_book(path)
    assert book.title == "The Book"
    assert [(c.title, c.role) for c in book.chapters] == [("The Book", "front"), ("One", "body"), ("Two", "body")]


def test_epub_text_outside_the_toc_is_not_merged_into_front_matter(tmp_path: Path) -> None:
    book = read_book(make_epub(tmp_path / "no-toc.epub", [("", "<p>Plain text, no heading.</p>")], toc=False))
    assert [(c.title, c.role) for c in book.chapters] == [("Contents", "front"), ("Plain text, no heading.", "body")]


def test_txt_project_gutenberg_header_and_licence_are_matter(tmp_path: Path) -> None:
    text = ("The Project Gutenberg eBook of Lamps\n\nRelease date: 1 May 2020\n\n"
            "*** START OF THE PROJECT GUTENBERG EBOOK LAMPS ***\n\nCHAPTER I\n\nA lamp.\n\n"
            "*** END OF THE PROJECT GUTENBERG EBOOK LAMPS ***\n\nSection 1. General Terms of Use.\n")  # fmt: skip
    path = tmp_path / "lamps.txt"
    path.write_text(text, encoding="utf-16")
    book = read_book(path)
    assert [(c.title, c.role, [b.text for b in c.blocks]) for c in book.chapters] == [
        ("Project Gutenberg header", "front", []),
        ("CHAPTER I", "body", ["CHAPTER I", "A lamp."]),
        ("Project Gutenberg licence", "back", []),
    ]
    assert book.source_chars() == source_chars(text)
    assert_accounted(book)
