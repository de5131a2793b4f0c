"""Sentence splitting, clauses, pause markup and length-limited segments."""

from __future__ import annotations


import pytest

from voicebank.text import Segment, TextOptions, clauses, segments, split_sentences

SPLITS = [
    ("Dr. Smith lives on Elm St. He is nice.", ["Dr. Smith lives on Elm St.", "He is nice."]),
    ("St. Mary's is near. Prices rose 3.5% today.", ["St. Mary's is near.", "Prices rose 3.5% today."]),
    ("It rose in the U.S. The end.", ["It rose in the U.S.", "The end."]),
    ("The U.S. Army came.", ["The U.S. Army came."]),
    ("Use tea, e.g. Earl Grey. Then rest.", ["Use tea, e.g. Earl Grey.", "Then rest."]),
    ('He said "Stop!" Then he left.', ['He said "Stop!"', "Then he left."]),
    ("'Really?' she asked.", ["'Really?' she asked."]),
    ("He left... And then? Nothing.", ["He left...", "And then?", "Nothing."]),
    ("Well... maybe.", ["Well... maybe."]),
    ("I said no. Then he left.", ["I said no.", "Then he left."]),
    ("See No. 5 and p. 12 for more.", ["See No. 5 and p. 12 for more."]),
    ("Mr. and Mrs. Jones met J. K. Rowling.", ["Mr. and Mrs. Jones met J. K. Rowling."]),
    ("Pi is 3.14159. Roughly.", ["Pi is 3.14159.", "Roughly."]),
    ("Visit example.com. It helps.", ["Visit example.com.", "It helps."]),
    ("日本語です。次の文。", ["日本語です.", "次の文."]),
    ("First paragraph\n\nSecond one", ["First paragraph", "Second one"]),
    ("- milk\n- eggs", ["- milk", "- eggs"]),
    (
        "A line wrapped by an old e-book because it was long\nand went on here.",
        ["A line wrapped by an old e-book because it was long and went on here."],
    ),
    ("no final stop", ["no final stop"]),
    ("10:05 a.m. Take 2 tabs", ["10:05 a.m.", "Take 2 tabs"]),
    ("Come at 7 P.M. We eat late.", ["Come at 7 P.M.", "We eat late."]),
    ("See you at 9 a.m. Monday.", ["See you at 9 a.m. Monday."]),
    ("It starts at 3 p.m. EST sharp.", ["It starts at 3 p.m. EST sharp."]),
    ("Call ext. 1234 now.", ["Call ext. 1234 now."]),
    ("St. Mary's St. He is there.", ["St. Mary's St.", "He is there."]),
]


@pytest.mark.parametrize(("text", "sentences"), SPLITS)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", "\x00\x1f"])
def test_split_nothing(text: str) -> None:
    assert split_sentences(text) == []


def test_clauses_cut_at_commas_and_conjunctions() -> None:
    sentence = "I went to the shop and bought bread, milk and eggs because we had none, and then I went home."
    assert clauses(sentence) == [
        "I went to the shop",
        "and bought bread,",
        "milk and eggs",
        "because we had none,",
        "and then I went home.",
    ]


@pytest.mark.parametrize("sentence", ["salt and pepper", "Yes, please.", "Hello", ""])
def test_short_clauses_stay_whole(sentence: str) -> None:
    assert clauses(sentence) == ([sentence] if sentence else [])


def test_clauses_never_cut_a_phoneme_marker() -> None:
    sentence = "Say [[a, b and c]] now, and then [[d]] again please"
    pieces = clauses(sentence, min_words=1)
    assert " ".join(pieces) == sentence
    assert all(p.count("[[") == p.count("]]") for p in pieces)


def test_segments_with_pauses_and_paragraphs() -> None:
    text = 'Hello [pause] world [pause 2s] ok <break time="300ms"/> bye.\n\nNext paragraph here.'
    assert segments(text) == [
        Segment("speech", "Hello"),
        Segment("pause", seconds=0.5),
        Segment("speech", "world"),
        Segment("pause", seconds=2.0),
        Segment("speech", "ok"),
        Segment("pause", seconds=0.3),
        Segment("speech", "bye."),
        Segment("pause", seconds=0.6),
        Segment("speech", "Next paragraph here."),
    ]


@pytest.mark.parametrize(
    ("markup", "seconds"),
    [
        ("[pause]", 0.5),
        ("[PAUSE 1.5]", 1.5),
        ("[pause 250ms]", 0.25),
        ("[pause: 2 seconds]", 2.0),
        ("[break 3s]", 3.0),
        ("<break/>", 0.5),
        ("<break time='2s'/>", 2.0),
        ('<break strength="strong"/>', 0.75),
        ("[pause 9999s]", 30.0),
    ],
)
def test_pause_syntax(markup: str, seconds: float) -> None:
    assert segments(f"One. {markup} Two.") == [
        Segment("speech", "One."),
        Segment("pause", seconds=seconds),
        Segment("speech", "Two."),
    ]


def test_touching_pauses_add_up_and_settings_apply() -> None:
    options = TextOptions(default_pause=0.2, paragraph_pause=0)
    assert segments("A [pause][pause] B\n\nC", options=options) == [
        Segment("speech", "A"),
        Segment("pause", seconds=0.4),
        Segment("speech", "B"),
        Segment("speech", "C"),
    ]


def test_other_tags_are_removed_not_split() -> None:
    assert segments("<speak>Hi <b>there</b>, Dr. Who.</speak>") == [Segment("speech", "Hi there, Doctor Who.")]


def test_inline_phonemes_are_not_pause_markup() -> None:
    assert segments("Say [[pˈɔːz]] now") == [Segment("speech", "Say [[pˈɔːz]] now")]


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01\x02\x1b[31m", "\u200b\u200e\ufeff", "***", "..."])
def test_nothing_to_say_is_no_segments(text: str) -> None:
    assert segments(text) == []


def test_long_sentence_is_cut_under_max_chars() -> None:
    sentence = ", ".join(f"item number {i} of the list" for i in range(60)) + "."
    pieces = segments(sentence, max_chars=80)
    assert len(pieces) > 5
    assert all(p.kind == "speech" and 0 < len(p.text) <= 80 for p in pieces)
    spoken = " ".join(p.text for p in pieces)
    assert spoken.split() == " ".join(s.text for s in segments(sentence, max_chars=100_000)).split()


def test_word_longer_than_max_chars_is_cut() -> None:
    pieces = segments("x" * 1000, max_chars=300)
    assert [len(p.text) for p in pieces] == [300, 300, 300, 100]


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError):
        segments("hi", max_chars=0)


def _check_big(text: str, max_chars: int = 400) -> list[Segment]:
    result = segments(text, max_chars=max_chars)
    assert all(s.kind == "pause" or 0 < len(s.text) <= max_chars for s in result)
    assert sum(len(s.text) for s in result) < 12 * len(text)
    return result


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(("Dr. Smith paid $3.50 on March 3, 2024 at 3:30 pm. " * 2000)[:100_000], id="prose"),
        pytest.param("a. " * 33_334, id="tiny-sentences"),
        pytest.param("x" * 100_000, id="one-word"),
        pytest.param("1 " * 50_000, id="numbers"),
        pytest.param("[pause] " * 12_500, id="pauses"),
        pytest.param("😂" * 100_000, id="emoji"),
        pytest.param("".join(chr(c) for c in range(0x20, 0x20 + 100_000) if not 0xD800 <= c <= 0xDFFF), id="unicode"),
    ],
)
def test_100k_characters_finish_with_bounded_output(text: str) -> None:
    assert len(text) >= 95_000
    _check_big(text)
