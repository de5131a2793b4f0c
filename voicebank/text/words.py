"""Numbers as spoken US English words.

num2words does the spelling; this module only adapts it to one consistent
US style (no "and" inside numbers, no commas that would become pauses) and
adds the readings num2words has no mode for: digit strings, decimals read
digit by digit after "point", fractions and plural decades.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from ..errors import MissingDependencyError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# Letter names spelled so that a phonemizer says the letter, not a word:
# espeak-ng reads a lone "A" as the article, "ay" as "eye" and "eff" as
# three letters; these spellings come out as the letter names.
LETTER_NAMES = {
    "a": "eigh", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "ef", "g": "jee",
    "h": "aitch", "i": "eye", "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en",
    "o": "oh", "p": "pee", "q": "cue", "r": "ar", "s": "ess", "t": "tee", "u": "you",
    "v": "vee", "w": "double-you", "x": "ex", "y": "why", "z": "zee",
}  # fmt: skip

_SCALES = ("", " thousand", " million", " billion", " trillion")
# Integers with more digits than this are read digit by digit: nobody says
# "four hundred quadrillion ..." and num2words' output would be enormous.
MAX_CARDINAL_DIGITS = 15


@cache
def _num2words() -> Any:
    try:
        from num2words import num2words
    except ImportError as e:  # it comes with the "speak" extra
        raise MissingDependencyError("num2words (numbers as words)", "speak") from e
    return num2words


def num2words(number: int, to: str = "cardinal") -> str:
    return str(_num2words()(number, to=to))


def _us(words: str) -> str:
    """num2words' British-style output → US style: no "and", no commas."""
    return words.replace(",", "").replace(" and ", " ").replace("oh-", "oh ")


@lru_cache(maxsize=1024)
def _below_thousand(n: int) -> str:
    return _us(num2words(n))


def cardinal(n: int) -> str:
    """123 → "one hundred twenty-three" (US style, no "and")."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 1000:
        return _below_thousand(n)
    if len(str(n)) > MAX_CARDINAL_DIGITS:
        return digits(str(n))
    # num2words is slow (~80 µs a call); spelling thousands groups from a
    # cache keeps long inputs full of numbers linear and fast.
    parts = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            parts.append(_below_thousand(group) + _SCALES[scale])
        scale += 1
    return " ".join(reversed(parts))


@lru_cache(maxsize=1024)
def _ordinal_below_thousand(n: int) -> str:
    return _us(num2words(n, to="ordinal"))


def ordinal(n: int) -> str:
    """22 → "twenty-second"."""
    if n < 0:
        return "minus " + ordinal(-n)
    if n < 1000:
        return _ordinal_below_thousand(n)
    if len(str(n)) > MAX_CARDINAL_DIGITS:
        return digits(str(n))
    last = n % 1000
    if last:
        return cardinal(n - last) + " " + _ordinal_below_thousand(last)
    return cardinal(n) + "th"  # "one thousandth", "two millionth"


@lru_cache(maxsize=2048)
def year(n: int) -> str:
    """1984 → "nineteen eighty-four", 2005 → "two thousand five", 2024 → "twenty twenty-four"."""
    if n < 0 or n > 9999:
        return cardinal(n)
    return _us(num2words(n, to="year"))


def digits(text: str) -> str:
    """ "4567" → "four five six seven" (non-digits are skipped)."""
    return " ".join(DIGIT_WORDS[ord(c) - 48] for c in text if "0" <= c <= "9")


def number(text: str) -> str:
    """A written number as words: "1,234" "3.14" ".5" "007" "-2" all work.

    Leading zeros ("007") and very long integers are read digit by digit.
    """
    text = text.replace(",", "")
    sign = ""
    if text[:1] in "-−":
        sign, text = "minus ", text[1:]
    elif text[:1] == "+":
        sign, text = "plus ", text[1:]
    whole, dot, frac = text.partition(".")
    if not whole and not frac:
        return sign.strip()
    if not whole:
        spoken = "point " + digits(frac)
    else:
        spoken = integer(whole)
        if dot and frac:
            spoken += " point " + digits(frac)
    return sign + spoken


def integer(text: str) -> str:
    """An integer string: cardinal, or digit by digit for "007" and huge numbers."""
    if len(text) > 1 and text[0] == "0":
        return digits(text)
    if len(text) > MAX_CARDINAL_DIGITS:
        return digits(text)
    return cardinal(int(text))


def plural(words: str) -> str:
    """Pluralise the last number word: "nineteen ninety" → "nineteen nineties"."""
    head, _, last = words.rpartition(" ")
    if last.endswith("y"):
        last = last[:-1] + "ies"
    elif last.endswith("x"):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}" if head else last


_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def fraction(numerator: int, denominator: int) -> str:
    """3/4 → "three quarters", 1/2 → "one half", 5/12 → "five twelfths"."""
    if denominator == 0 or denominator > 1000 or numerator > 10**6:
        return f"{cardinal(numerator)} over {cardinal(denominator)}"
    if denominator == 1:
        return f"{cardinal(numerator)} over one"
    single, many = _DENOMINATORS.get(denominator, (None, None))
    if single is None:
        single = ordinal(denominator)
        many = single + "s"
    return f"{cardinal(numerator)} {single if numerator == 1 else many}"


def spell(letters: str) -> str:
    """ "FBI" → "eff bee eye"; characters other than A–Z are skipped."""
    return " ".join(LETTER_NAMES[c] for c in letters.lower() if c in LETTER_NAMES)
