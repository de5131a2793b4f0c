"""EPUB 2 and 3 books (via ebooklib): metadata, cover, chapters in spine order, XHTML cleaned to blocks.

The source text of a chapter is the text content of its XHTML ``<body>`` (``<script>`` and
``<style>`` are not text) plus the alt text of its images. Chapters follow the spine; each
spine document is a chapter, split further where the table of contents points into it at the
same level (one file holding several chapters). A document without a table-of-contents entry
and without a heading continues the chapter before it (converters split long chapters into
several files). Titles come from the table of contents (EPUB 3 nav, else the NCX), else the
first heading, else the first words.

Front and back matter is recognised from ``epub:type`` on the body or its top sections, the
EPUB 3 landmarks, the EPUB 2 guide, and common titles ("Contents", "Copyright", ...).
Page-break markers (``epub:type="pagebreak"``) are skipped as page numbers. Note references (``epub:type="noteref"``, ``role="doc-noteref"``, ``<sup>`` numbers or
symbols, "[1]") are dropped as note markers; footnotes and endnotes (``epub:type`` or ``role``
footnote/endnote) become notes at the end of their chapter. A notes section in a document of
its own is back matter ("Notes") and is read only with ``include_back_matter``.
"""

from __future__ import annotations

import html.entities
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import MissingDependencyError, UsageError
from .book import ALT_TEXT, NOTE_MARKER, PAGE_NUMBER, Book, Chapter, ChapterBuilder, ChapterRole, Piece
from .reader import SUP_MARKER, ReadOptions, matter_for_title, split_markers

_EPUB_NS = "http://www.idpf.org/2007/ops"
_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_FONT_SUFFIXES = (".otf", ".ttf", ".woff", ".woff2")
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_DRM_FILES = {"META-INF/rights.xml": "Adobe DRM", "META-INF/sinf.xml": "Apple FairPlay DRM",
              "META-INF/license.lcpl": "Readium LCP DRM"}  # fmt: skip
_BLOCK_TAGS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "section", "article", "aside",
    "header", "footer", "figure", "figcaption", "pre", "dt", "dd", "td", "th", "tr", "table", "ul", "ol",
    "dl", "nav", "main", "body", "hr", "address", "caption", "center",
}  # fmt: skip
_NOT_TEXT = {"script", "style", "head", "template", "noscript"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_NOTE_TYPES = {"footnote", "endnote", "rearnote", "note", "doc-footnote", "doc-endnote"}
_PAGEBREAK_TYPES = {"pagebreak", "doc-pagebreak"}
_COVER_TYPES = ("image/jpeg", "image/png")  # what an M4B can carry
_NOTEREF_TYPES = {"noteref", "doc-noteref", "backlink", "doc-backlink"}
_BODY_TYPES = {"bodymatter", "chapter", "part", "preface", "foreword", "introduction", "prologue", "epilogue",
               "afterword", "conclusion", "preamble", "appendix", "text"}  # fmt: skip
_FRONT_TYPES = {"cover": "cover", "titlepage": "title page", "title-page": "title page", "halftitlepage": "title page",
                "copyright-page": "copyright page", "toc": "contents", "dedication": "dedication",
                "epigraph": "epigraph", "loi": "contents", "lot": "contents", "imprint": "copyright page",
                "frontmatter": "front matter", "landmarks": "contents"}  # fmt: skip
_BACK_TYPES = {"index": "index", "acknowledgments": "acknowledgments", "acknowledgements": "acknowledgments",
               "colophon": "colophon", "bibliography": "bibliography", "glossary": "glossary",
               "endnotes": "notes", "rearnotes": "notes", "footnotes": "notes", "contributors": "about the author",
               "backmatter": "back matter", "other.also-by": "also by the author"}  # fmt: skip


def read_epub(path: Path, options: ReadOptions) -> Book:
    """An EPUB book; :class:`UsageError` for a file that is not one, is damaged or is DRM-protected."""
    try:
        from ebooklib import epub
    except ImportError as e:
        raise MissingDependencyError("ebooklib (to read EPUB books)", "narrate") from e
    _check_archive(path)
    try:
        try:
            book = epub.read_epub(str(path), {"ignore_ncx": True})  # the EPUB 3 nav; the NCX only without one
        except Exception:  # a broken nav: the NCX may still hold the table of contents
            book = epub.read_epub(str(path), {"ignore_ncx": False})
    except Exception as e:  # ebooklib raises EpubException, KeyError, lxml errors, ... for damaged books
        raise UsageError(
            f"{path}: the EPUB is damaged and cannot be read ({type(e).__name__}: {e}); "
            "open it in an e-book editor (e.g. Calibre or Sigil) and save it again"
        ) from e
    return _Epub(path, book, options).read()


def _check_archive(path: Path) -> None:
    """Refuse what is not an EPUB archive, or is locked by DRM, with what to do about it."""
    if not zipfile.is_zipfile(path):
        raise UsageError(
            f"{path}: this is not an EPUB (an EPUB is a ZIP archive); if it is a Kindle or PDF book, "
            "convert it to EPUB first (e.g. with Calibre)"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            encryption = zf.read("META-INF/encryption.xml") if "META-INF/encryption.xml" in names else b""
    except (zipfile.BadZipFile, OSError) as e:
        raise UsageError(f"{path}: the EPUB archive is damaged ({e}); download or export it again") from e
    if "META-INF/container.xml" not in names:
        raise UsageError(f"{path}: not an EPUB (no META-INF/container.xml); give an EPUB 2 or 3 book")
    for name, what in _DRM_FILES.items():
        if name in names:
            raise UsageError(f"{path}: the book is protected by {what} and cannot be read; use a DRM-free copy")
    if encryption and _encrypts_text(encryption):
        raise UsageError(f"{path}: the book's text is encrypted (DRM) and cannot be read; use a DRM-free copy")


def _encrypts_text(encryption: bytes) -> bool:
    """Whether META-INF/encryption.xml encrypts anything but fonts (font obfuscation is not DRM)."""
    from lxml import etree

    try:
        root = etree.fromstring(encryption, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return True  # unreadable encryption data: the content cannot be trusted to be plain
    for data in (el for el in root.iter() if _local(el) == "encrypteddata"):
        algorithm = next((el.get("Algorithm", "") for el in data.iter() if _local(el) == "encryptionmethod"), "")
        uri = next((el.get("URI", "") for el in data.iter() if _local(el) == "cipherreference"), "")
        if algorithm not in _FONT_OBFUSCATION and not uri.lower().endswith(_FONT_SUFFIXES):
            return True
    return False


@dataclass
class _TocEntry:
    file: str
    fragment: str
    title: str
    depth: int


@dataclass
class _Doc:
    """One spine document as read: its chapters (one, or several where the TOC splits it)."""

    builders: list[ChapterBuilder] = field(default_factory=list)
    in_toc: bool = False
    has_heading: bool = False
    types: set[str] = field(default_factory=set)  # epub:type and role values of the body and its top sections


class _Epub:
    """Reading one opened ebooklib book into a :class:`Book`."""

    def __init__(self, path: Path, book: Any, options: ReadOptions) -> None:
        self.path = path
        self.book = book
        self.options = options
        self.toc = list(_flatten_toc(book.toc))
        self.landmarks = self._landmarks()

    def read(self) -> Book:
        title = self._meta("title") or self.path.stem
        authors = [v for v, _ in self.book.get_metadata("DC", "creator")]
        language = (self._meta("language") or "en").strip()
        cover, mime = self._cover()
        chapters = self._documents()
        return Book(title=title, author=", ".join(a.strip() for a in authors if a), language=language,
                    chapters=chapters, cover=cover, cover_mime=mime)  # fmt: skip

    def _meta(self, name: str) -> str:
        values = self.book.get_metadata("DC", name)
        return " ".join(str(values[0][0] or "").split()) if values else ""

    def _cover(self) -> tuple[bytes | None, str]:
        import ebooklib

        for item in self.book.get_items_of_type(ebooklib.ITEM_COVER):
            if item.media_type in _COVER_TYPES:
                return item.get_content(), item.media_type
        for _, attrs in self.book.get_metadata("OPF", "cover"):  # EPUB 2: <meta name="cover" content="id">
            item = self.book.get_item_with_id((attrs or {}).get("content", ""))
            if item is not None and getattr(item, "media_type", "") in _COVER_TYPES:
                return item.get_content(), item.media_type
        return None, ""

    def _landmarks(self) -> dict[str, str]:
        """file name → landmark or guide type (EPUB 3 nav landmarks, EPUB 2 guide)."""
        from ebooklib import epub

        out: dict[str, str] = {}
        for ref in getattr(self.book, "guide", []) or []:
            if ref.get("href") and ref.get("type"):
                out.setdefault(_file_of(ref["href"]), ref["type"].lower())
        for nav in (item for item in self.book.get_items() if isinstance(item, epub.EpubNav)):
            base = posixpath.dirname(nav.file_name)
            root = _parse_xhtml(nav.get_content())
            if root is None:
                continue
            for el in root.iter():
                if _local(el) == "nav" and "landmarks" in _types(el):
                    for a in el.iter():
                        if _local(a) == "a" and a.get("href"):
                            href = posixpath.normpath(posixpath.join(base, a.get("href")))
                            for t in _types(a):
                                out[_file_of(href)] = t
        return out

    def _documents(self) -> list[Chapter]:
        out: list[Chapter] = []
        for idref, linear in self.book.spine:
            item = self.book.get_item_with_id(idref)
            if item is None or not item.file_name.endswith((".xhtml", ".html", ".htm", ".xml")):
                continue
            entries = [e for e in self.toc if _same_file(e.file, item.file_name)]
            root = _parse_xhtml(item.get_content())
            if root is None:
                continue  # an empty document: nothing to read or account for
            doc = _Walker(self.options, entries).read(root)
            doc.in_toc = bool(entries)
            role = self._role(item, doc)
            previous = out[-1] if out else None
            if (not doc.in_toc and not doc.has_heading and role is None and linear != "no"
                    and previous is not None and previous.role == "body"):  # fmt: skip
                _merge(previous, doc.builders)  # a converter's continuation file
                continue
            for builder in doc.builders:
                if builder.is_empty() and not doc.in_toc:
                    continue
                chapter = builder.finish()
                matter = role or matter_for_title(chapter.title)
                if linear == "no" and matter is None:
                    matter = ("back", "outside the reading order (spine linear=no)")
                if matter:
                    chapter.role, chapter.role_reason = matter
                    if not doc.in_toc and matter[1] in ("cover", "contents"):
                        chapter.title = matter[1].capitalize()
                out.append(chapter)
        return out

    def _role(self, item: Any, doc: _Doc) -> tuple[ChapterRole, str] | None:
        from ebooklib import epub

        types = set(doc.types)
        if isinstance(item, epub.EpubNav):
            types.add("toc")
        elif isinstance(item, epub.EpubCoverHtml) or (
            "cover" in item.file_name.lower() and not any(b.has_text() for b in doc.builders)
        ):
            types.add("cover")
        landmark = self.landmarks.get(item.file_name)
        if landmark:
            types.add(landmark)
        if types & _BODY_TYPES:
            return None
        for t in sorted(types):
            if t in _FRONT_TYPES and t != "frontmatter":
                return "front", _FRONT_TYPES[t]
            if t in _BACK_TYPES and t != "backmatter":
                return "back", _BACK_TYPES[t]
        if "frontmatter" in types:
            return "front", "front matter"
        if "backmatter" in types:
            return "back", "back matter"
        return None


def _merge(previous: Chapter, builders: list[ChapterBuilder]) -> None:
    for builder in builders:
        previous.blocks.extend(builder.chapter.blocks)
        previous.skipped.extend(builder.chapter.skipped)
        previous.source_chars += builder.chapter.source_chars
    previous.blocks.sort(key=lambda b: b.kind == "note")  # notes stay at the chapter's end (a stable sort)


@dataclass
class _Part:
    """A chapter's worth of one document: its title and its (kind, pieces) blocks and notes."""

    title: str
    blocks: list[tuple[str, list[Piece]]] = field(default_factory=list)
    notes: list[list[Piece]] = field(default_factory=list)


class _Walker:
    """One XHTML document → parts of heading, paragraph and note blocks, in document order."""

    def __init__(self, options: ReadOptions, entries: list[_TocEntry]) -> None:
        self.options = options
        first = entries[0] if entries else None
        # TOC entries after the first, at its level or above, start chapters inside this file.
        self.splits = {e.fragment: e.title for e in entries[1:] if e.fragment and first and e.depth <= first.depth}
        self.parts = [_Part(first.title if first else "")]
        self.pieces: list[Piece] = []
        self.kind = "paragraph"
        self.has_heading = False

    def read(self, root: Any) -> _Doc:
        body = next((el for el in root.iter() if _local(el) == "body"), root)
        types = set(_types(body))
        for child in body:
            if _local(child) in ("section", "article", "div", "nav"):
                types |= set(_types(child))
        self.walk(body, top=True)
        self.flush()
        doc = _Doc(in_toc=len(self.parts[0].title) > 0, has_heading=self.has_heading, types=types)
        for part in self.parts:
            builder = ChapterBuilder(title=" ".join(part.title.split()))
            for kind, pieces in part.blocks:
                builder.add(kind, pieces)  # type: ignore[arg-type]
            for pieces in part.notes:
                builder.add("note", pieces)
            doc.builders.append(builder)
        return doc

    def walk(self, el: Any, top: bool = False) -> None:
        tag = _local(el)
        if tag is None or tag in _NOT_TEXT:
            return
        ident = el.get("id")
        if ident in self.splits:
            self.flush()
            self.parts.append(_Part(self.splits.pop(ident)))
        types = set(_types(el))
        if types & _NOTE_TYPES and not top:
            self.flush()
            notes = _Walker(self.options, [])
            notes.walk(el, top=True)
            notes.flush()
            self.parts[-1].notes.extend(pieces for _, pieces in notes.parts[0].blocks)
            self.parts[-1].notes.extend(notes.parts[0].notes)  # notes nested in this one
            return
        if types & _PAGEBREAK_TYPES:
            self.pieces.append((_text(el), PAGE_NUMBER))
            return
        if types & _NOTEREF_TYPES or (tag == "sup" and SUP_MARKER.match(_text(el).strip())):
            self.pieces.append((_text(el), NOTE_MARKER))
            return
        if tag == "img":
            alt = el.get("alt") or ""
            self.pieces.append((f" {alt} ", None if self.options.read_alt_text else ALT_TEXT))
            return
        if tag == "br":
            self.pieces.append((" ", None))
            return
        block = tag in _BLOCK_TAGS
        if block:
            self.flush()
            if tag in _HEADINGS:
                self.kind = "heading"
                self.has_heading = True
        if el.text:
            self.pieces.extend(split_markers(el.text))
        for child in el:
            self.walk(child)
            if child.tail:
                self.pieces.extend(split_markers(child.tail))
        if block:
            self.flush()

    def flush(self) -> None:
        if self.pieces:
            self.parts[-1].blocks.append((self.kind, self.pieces))
        self.pieces = []
        self.kind = "paragraph"


def _flatten_toc(toc: Any, depth: int = 0) -> Any:
    for entry in toc or []:
        if isinstance(entry, tuple):
            section, children = entry
            if getattr(section, "href", None):
                yield _entry(section.href, section.title, depth)
            yield from _flatten_toc(children, depth + 1)
        elif getattr(entry, "href", None):
            yield _entry(entry.href, entry.title, depth)


def _entry(href: str, title: str, depth: int) -> _TocEntry:
    file, _, fragment = unquote(href).partition("#")
    return _TocEntry(file, fragment, " ".join((title or "").split()), depth)


def _same_file(href_file: str, file_name: str) -> bool:
    """Whether a TOC entry's file is this manifest file (NCX links may be relative to the NCX's folder)."""
    a, b = posixpath.normpath(href_file), posixpath.normpath(file_name)
    return a == b or b.endswith("/" + a) or a.endswith("/" + b)


def _file_of(href: str) -> str:
    return unquote(href).partition("#")[0]


def _parse_xhtml(content: bytes) -> Any:
    """The document's element tree; None when there is nothing to parse.

    HTML named entities (``&nbsp;``, ``&mdash;``), undefined in XML without the XHTML DTD, are
    turned into character references first: the XML parser's recovery would otherwise drop
    them and garble the text around them.
    """
    from lxml import etree
    from lxml import html as lxml_html

    content = _ENTITY.sub(_numeric_entity, content)
    try:
        root = etree.fromstring(content, etree.XMLParser(recover=True, resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        try:
            root = lxml_html.fromstring(content)
        except (etree.ParserError, ValueError):
            return None
    return root


def _numeric_entity(m: re.Match[bytes]) -> bytes:
    name = m.group(1).decode("ascii")
    if name in ("amp", "lt", "gt", "quot", "apos"):
        return m.group(0)
    value = html.entities.html5.get(name + ";")
    return value.encode("ascii", "xmlcharrefreplace") if value else m.group(0)


def _local(el: Any) -> Any:
    tag = el.tag
    if not isinstance(tag, str):
        return None  # comments, processing instructions
    return tag.rsplit("}", 1)[-1].lower()


def _types(el: Any) -> list[str]:
    """The element's ``epub:type`` and ``role`` values, lower-case."""
    values = (el.get(f"{{{_EPUB_NS}}}type") or el.get("epub:type") or "") + " " + (el.get("role") or "")
    return values.lower().split()


def _text(el: Any) -> str:
    """The element's source text: its text content without <script>/<style>, with images' alt text."""
    tag = _local(el)
    if tag == "img":
        return f" {el.get('alt') or ''} "
    parts = [el.text or ""] if tag not in _NOT_TEXT else []
    for child in el if tag not in _NOT_TEXT else ():
        if _local(child) is not None:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
