"""The frontend never raises, never hangs and never blows up, whatever text it gets."""

from __future__ import annotations

import random
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicebank.text import Lexicon, clauses, normalize, segments, split_sentences

MAX_CHARS = 60

LEXICON = Lexicon()
LEXICON.add("Nguyen", "Win")
LEXICON.add("Siobhan", "ʃɪvˈɔːn", phonemes=True)

# Pieces that exercise the rules (numbers, markup, abbreviations, emoji
# sequences, control and format characters) glued together at random.
TOKENS = st.sampled_from(
    list("0123456789 .,:;/-$£€%°@#&+()[]<>'\"aZ\n\t\x00\x1b\u200d\ufe0f")
    + ["[pause]", "[pause 2s]", "[[x]]", "<break/>", "<b>", "e.g.", "U.S.", "Dr.", "St.", "Mr",
       "😂", "👍🏽", "🇺🇸", "km", "pm", "st", "1984", "http://", ".com", " and ", "@x.org", "²", "½"]
)  # fmt: skip


def _check(text: str) -> None:
    spoken = normalize(text, lexicon=LEXICON)
    assert isinstance(spoken, str)
    # Bounded: the longest readings ("⅞" → "seven eighths", "﷽" under NFKC)
    # stay far below this, so no input can make the output explode.
    assert len(spoken) <= 30 * len(text) + 64

    pieces = segments(text, lexicon=LEXICON, max_chars=MAX_CHARS)
    for piece in pieces:
        assert piece.kind in ("speech", "pause")
        if piece.kind == "speech":
            assert piece.text.strip() and len(piece.text) <= MAX_CHARS
        else:
            assert 0 < piece.seconds <= 30
    assert sum(len(p.text) for p in pieces) <= 30 * len(text) + 64

    assert all(s.strip() for s in split_sentences(text))
    parts = clauses(spoken)
    assert all(parts)
    assert " ".join(parts).split() == spoken.split()


@settings(max_examples=10_000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_unicode_text(text: str) -> None:
    _check(text)


@settings(max_examples=2_000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=40).map("".join))
def test_rule_heavy_text(text: str) -> None:
    _check(text)


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (where the platform has SIGALRM)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the frontend took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _random_text(n: int, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        c = rng.randrange(sys.maxunicode + 1) if rng.random() < 0.7 else rng.randrange(0x80)
        if not 0xD800 <= c <= 0xDFFF:
            out.append(chr(c))
    return "".join(out)


@pytest.mark.parametrize("seed", [1, 2])
def test_100k_random_characters(seed: int) -> None:
    text = _random_text(100_000, seed)
    with _time_limit(20):
        spoken = normalize(text)
        pieces = segments(text, max_chars=400)
    assert len(spoken) <= 30 * len(text)
    assert pieces and all(p.kind == "pause" or 0 < len(p.text) <= 400 for p in pieces)


@pytest.mark.parametrize("suffix", ["", "st", "th of May", ".50", "%", " km", "s", "/7", ":30", "-1", "x", " BC"])
@pytest.mark.parametrize("prefix", ["", "$", "-", "March ", "in ", "+"])
def test_numbers_with_thousands_of_digits(prefix: str, suffix: str) -> None:
    # Python refuses int() on strings of more than 4300 digits: such runs are read digit by digit.
    spoken = normalize(prefix + "7" * 5000 + suffix)
    assert spoken.count("seven") >= 5000


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \t\n\r\x0b\x0c",
        "".join(chr(c) for c in range(32)) + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0)),
        "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad",
        "\ue000\uf8ff\U000f0000",  # private use
        "\ud800\udfff lone surrogates",  # only possible from a bad decode, but still a str
    ],
)
def test_silence_or_text_never_a_crash(text: str) -> None:
    pieces = segments(text)
    if "surrogates" in text:
        assert [p.text for p in pieces] == ["lone surrogates"]
    else:
        assert pieces == []
        assert normalize(text) == ""
