"""The editable script: normalised text with the book's accounting, replacements and lexicons, the file format's round trip, the summary."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicebank.audiobook.book import Block, Book, Chapter
from voicebank.audiobook.reader import read_book
from voicebank.audiobook.script import (
    NOTHING_TO_SAY,
    Line,
    Script,
    ScriptChapter,
    book_to_script,
    format_script,
    is_script,
    parse_script,
    read_script,
    summary,
    write_script,
)
from voicebank.errors import UsageError
from voicebank.text import Lexicon

REPO = Path(__file__).resolve().parents[1]
SAMPLE_MD = REPO / "samples" / "book" / "the-lighthouse-keeper.md"
pytestmark = pytest.mark.skipif(importlib.util.find_spec("markdown_it") is None, reason="needs the narrate extra")


@pytest.fixture(scope="module")
def sample() -> Book:
    return read_book(SAMPLE_MD)


def one_paragraph_book(text: str) -> Book:
    chars = len("".join(text.split()))
    return Book("T", chapters=[Chapter("C", [Block("paragraph", text, chars)], source_chars=chars)])


def test_sample_script_is_normalised_and_keeps_the_accounting(sample: Book) -> None:
    script = book_to_script(sample)
    assert [c.title for c in script.chapters] == [c.title for c in sample.chapters]
    text = format_script(script)
    for written, spoken in [
        ("3 March 1921", "the third of March, nineteen twenty-one"),
        ("Dr. Abernethy of St. Brigid's", "Doctor Abernethy of Saint Brigid's"),
        ("£38 a year", "thirty-eight pounds a year"),
        ("$3.10", "three dollars and ten cents"),
        ("5:52 in the evening", "five fifty-two in the evening"),
        ("3½ gallons", "three and a half gallons"),
    ]:
        assert written not in text and spoken in text
    assert not any(ch.isdigit() for ch in text.split("\n\n", 1)[1])  # after the header
    for chapter in script.chapters:
        assert chapter.accounted_chars() == chapter.source_chars, chapter.title
    assert [line.kind for line in script.chapters[4].lines] == ["heading"]  # "Part Two"
    assert script.read_chapters()[0].title == "Chapter One: The Ledger"  # front matter has no lines


def test_written_script_reads_back_equal(sample: Book, tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    script = book_to_script(sample)
    write_script(script, path)
    assert is_script(path) and not is_script(SAMPLE_MD)
    again = read_script(path)
    assert (again.title, again.author, again.language, again.source) == (
        script.title, script.author, script.language, str(SAMPLE_MD)
    )  # fmt: skip
    assert [(c.title, [(x.kind, x.text) for x in c.lines]) for c in again.chapters] == [
        (c.title, [(x.kind, x.text) for x in c.lines]) for c in script.read_chapters()
    ]
    # read from a file, the script is its own source: write → read is exact
    write_script(again, path)
    assert read_script(path) == again
    assert all(c.accounted_chars() == c.source_chars and not c.skipped for c in again.chapters)


def test_hand_edited_script(tmp_path: Path) -> None:
    path = tmp_path / "edited.txt"
    path.write_text(
        "voicebank-script: 1\ntitle: Mine\n\nA line before any chapter.\n\n# One\n\n## Heading one.\n\n"
        "A paragraph wrapped\n   by hand over\nthree lines.\n\n\\# not a chapter.\n\n[note] A note.\n",
        encoding="utf-8",
    )
    script = read_script(path)
    assert script.title == "Mine" and script.language == "en"
    assert [(c.title, [(x.kind, x.text) for x in c.lines]) for c in script.chapters] == [
        ("Mine", [("paragraph", "A line before any chapter.")]),
        ("One", [("heading", "Heading one."), ("paragraph", "A paragraph wrapped by hand over three lines."),
                 ("paragraph", "# not a chapter."), ("note", "A note.")]),
    ]  # fmt: skip
    assert script.chapters[1].source_chars == sum(len(x.text.replace(" ", "")) for x in script.chapters[1].lines)


@pytest.mark.parametrize(
    "text, message",
    [
        ("Chapter 1\n\nText.\n", "not a voicebank script"),
        ("voicebank-script: 1\nnarrator: me\n\n# A\n\nText.\n", "line 2: expected a header line"),
        ("voicebank-script: 1\ntitle: Empty\n\n# A\n", "no text to read"),
    ],
)
def test_bad_scripts_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        read_script(path)


_LINE_TEXT = st.text(alphabet="ab #\\[]note.,'-", min_size=1, max_size=20).map(lambda s: " ".join(s.split())).filter(bool)
_LINES = st.lists(st.tuples(st.sampled_from(["heading", "paragraph", "note"]), _LINE_TEXT), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(chapters=st.lists(st.tuples(_LINE_TEXT, _LINES), min_size=1, max_size=4))
def test_any_script_round_trips(chapters: list[tuple[str, list[tuple[str, str]]]]) -> None:
    script = Script("Title", "Author", "en", source="x.md")
    for title, lines in chapters:
        made = [Line(kind, text, len(text.replace(" ", ""))) for kind, text in lines]  # type: ignore[arg-type]
        script.chapters.append(ScriptChapter(title, made, source_chars=sum(x.source_chars for x in made)))
    assert parse_script(format_script(script)) == script


def test_replacements_run_first_then_normalisation(tmp_path: Path) -> None:
    rules = tmp_path / "rules.tsv"
    rules.write_text("# fix the OCR\nGul+ Point\tGull Point\n\\bNW\\b\tnorth-west\n(\\d+) gal\\.\t\\1 gallons\n",
                     encoding="utf-8")  # fmt: skip
    book = one_paragraph_book("Off Gulll Point, wind NW; 2 gal. of oil.")
    script = book_to_script(book, replacements_path=rules)
    assert script.chapters[0].lines[0].text == "Off Gull Point, wind north-west; two gallons of oil."


@pytest.mark.parametrize(
    "rules, message",
    [("ok\tfine\n\n(unclosed\tx\n", "line 3"), ("no tab here\n", "line 1: no tab"), ("(a)\t\\2\n", "line 1")],
)
def test_bad_replacement_files(tmp_path: Path, rules: str, message: str) -> None:
    path = tmp_path / "rules.tsv"
    path.write_text(rules, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as info:
        book_to_script(one_paragraph_book("Text."), replacements_path=path)
    assert str(path) in str(info.value)


def test_voice_and_book_lexicons(tmp_path: Path) -> None:
    voice = Lexicon()
    voice.add("Abernethy", "Abber nethy")
    voice.add("Gull", "Gul")
    voice.add("Dr.", "Dear")  # an entry wins over the built-in abbreviation
    book_lexicon = tmp_path / "lexicon.json"
    book_lexicon.write_text(json.dumps({"schema_version": 1, "entries": [{"word": "Gull", "respelling": "Gall"}]}))
    book = one_paragraph_book("Dr. Abernethy of Gull Point.")
    script = book_to_script(book, lexicon=voice, book_lexicon_path=book_lexicon)
    assert script.chapters[0].lines[0].text == "Dear Abber nethy of Gall Point."
    with pytest.raises(UsageError, match="no such lexicon file"):
        book_to_script(book, book_lexicon_path=tmp_path / "missing.json")


def test_unsayable_text_is_skipped_with_a_reason() -> None:
    book = Book("T", chapters=[Chapter("C", [Block("paragraph", "Hello Мир there.", 14),
                                             Block("paragraph", "— … —", 3)], source_chars=17)])  # fmt: skip
    chapter = book_to_script(book).chapters[0]
    assert [x.text for x in chapter.lines] == ["Hello there."]
    assert [(s.reason, s.chars) for s in chapter.skipped] == [
        ("Cyrillic letters the voice cannot read", 3), (NOTHING_TO_SAY, 3)
    ]  # fmt: skip
    assert chapter.accounted_chars() == chapter.source_chars


def test_summary_counts_words_and_estimates_length(sample: Book) -> None:
    script = book_to_script(sample)
    result = summary(script, words_per_minute=150)
    assert [c.title for c in result.chapters] == [c.title for c in script.read_chapters()]
    assert result.words == sum(len(x.text.split()) for c in script.chapters for x in c.lines) > 900
    assert result.seconds == pytest.approx(result.words * 60 / 150, abs=0.1)
    assert json.loads(json.dumps(result.to_dict()))["words"] == result.words
    with pytest.raises(UsageError):
        summary(script, words_per_minute=0)
