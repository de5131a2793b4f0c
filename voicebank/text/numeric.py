"""Phone numbers, ordinals, decades, fractions, ranges, years and plain numbers.

Years vs numbers (US English): a four-digit number from 1000 to 2099 is read
as a year ("nineteen eighty-four") after a cue word ("in", "since", a month,
...), before an era ("AD", "BC"), or when it stands alone (end of sentence,
before punctuation or a capitalised word). Otherwise it is a cardinal:
"1984 people" → "one thousand nine hundred eighty-four people". No "and"
inside numbers anywhere. Phone numbers are read digit by digit in groups.
"""

from __future__ import annotations

import re

from . import words
from .context import Rule, next_word, prev_word, with_final_dot
from .measures import NUM, UNIT_ALT, UNITS

# --- phone numbers -----------------------------------------------------------

_NANP = re.compile(
    r"(?<![\w+.\-/])(?:\+?1[-. \t]?)?(?:\([0-9]{3}\)[ \t]?|[0-9]{3}[-. \t])[0-9]{3}[-. \t][0-9]{4}(?![\w]|[-.][0-9])"
)
# Each group after the country code starts with a separator or "(" (or
# follows a ")"), so a digit run can be grouped one way only: no backtracking
# explosion on "+1111111111111111111x".
_INTERNATIONAL = re.compile(
    r"(?<![\w+])\+[0-9]{1,3}(?:(?:[-. \t]\(?|\(|(?<=\)))[0-9]{1,5}\)?){1,6}(?![\w]|[-.][0-9])"
    r"|(?<![\w+])\+[0-9]{7,15}(?![\w]|[-.][0-9])"
)
_LOCAL = re.compile(r"(?<![\w.\-/])[0-9]{3}-[0-9]{4}(?![\w]|[-.][0-9])")
_CUE = re.compile(
    r"(?<![\w])(?P<cue>(?:[Cc]all|[Dd]ial|[Tt]ext|[Pp]hone|[Tt]el|[Ff]ax|[Rr]ing)\.?:?[ \t]+)(?P<n>[0-9]{3,15})(?![\w]|[.,:][0-9]|[ \t-][0-9])"
)
_EMERGENCY = re.compile(r"(?<![\w.,$])911(?![\w]|[.,][0-9])")
_DIGIT_GROUPS = re.compile(r"[0-9]+")


def phone(text: str) -> str:
    """ "+1 (555) 123-4567" → "plus one, five five five, one two three, four five six seven"."""
    groups = [words.digits(g) for g in _DIGIT_GROUPS.findall(text)]
    spoken = ", ".join(groups)
    return ("plus " + spoken) if text.lstrip().startswith("+") else spoken


def _phone(m: re.Match[str]) -> str:
    digit_count = sum(c.isdigit() for c in m.group(0))
    if not 7 <= digit_count <= 15:
        return m.group(0)
    return phone(m.group(0))


def _cue(m: re.Match[str]) -> str:
    return m.group("cue") + words.digits(m.group("n"))


# --- ordinals, decades ---------------------------------------------------------

_ORDINAL = re.compile(r"(?<![\w.,])(?P<n>[0-9]+)(?:st|nd|rd|th|ST|ND|RD|TH)(?![\w])")


def _ordinal(m: re.Match[str]) -> str:
    n = m.group("n")
    if len(n) > words.MAX_CARDINAL_DIGITS:
        return words.digits(n)  # and never int() on thousands of digits
    return words.ordinal(int(n))


_DECADE = re.compile(r"(?<![\w.,'])(?:'(?P<short>[0-9]0)|(?P<full>[1-9][0-9]?0|1[0-9]{2}0|20[0-9]0))'?s(?![\w'])")
# "his 30s", "the 90s"; elsewhere "30s" is thirty seconds.
_DECADE_CUES = {"the", "his", "her", "their", "my", "your", "our", "its", "early", "late", "mid", "mid-", "in"}
_ROUND = {100: "hundreds", 1000: "thousands"}


def _decade(m: re.Match[str]) -> str:
    if m.group("short"):
        return words.plural(words.cardinal(int(m.group("short"))))
    n = int(m.group("full"))
    if n >= 1000:
        return words.plural(words.year(n)) if n != 1000 else "thousands"
    before = prev_word(m.string, m.start()).lower()
    if before not in _DECADE_CUES and next_word(m.string, m.end()).lower() != "of":
        return m.group(0)  # "30s" → thirty seconds (units rule)
    return _ROUND.get(n) or words.plural(words.cardinal(n))


# --- prefixes and operators ----------------------------------------------------

_NUMBER_ABBREVIATION = {
    "no": "number", "nos": "numbers", "p": "page", "pp": "pages", "vol": "volume",
    "ch": "chapter", "fig": "figure", "eq": "equation", "art": "article", "sec": "section",
}  # fmt: skip
_PREFIX = re.compile(
    r"(?<![\w.])(?:(?P<abbr>No|no|Nos|nos|p|pp|Vol|vol|Ch|ch|Fig|fig|Eq|eq|Art|art|Sec|sec)\.|(?P<hash>#)|(?P<about>~))[ \t]?(?=[0-9])"
)


def _prefix(m: re.Match[str]) -> str:
    if m.group("hash"):
        return "number "
    if m.group("about"):
        return "about "
    return _NUMBER_ABBREVIATION[m.group("abbr").lower()] + " "


_DIMENSION = re.compile(r"(?<![\w.])(?P<a>" + NUM + r")[ \t]?[x×][ \t]?(?P<b>" + NUM + r")(?![\w]|\.[0-9])")


def _dimension(m: re.Match[str]) -> str:
    return f"{words.number(m.group('a'))} by {words.number(m.group('b'))}"


_TIMES = re.compile(r"(?<![\w.])(?P<n>[0-9]+(?:\.[0-9]+)?)[x×](?![\w])|(?<![\w.])[x×](?P<m>[0-9]+)(?![\w]|\.[0-9])")


def _times(m: re.Match[str]) -> str:
    if m.group("m"):
        return "times " + words.integer(m.group("m"))  # "x2" (twice)
    return words.number(m.group("n")) + " times"  # "2x" (two times)


# --- fractions, ranges -----------------------------------------------------------

_FRACTION = re.compile(
    r"(?<![\w./\-])(?:(?P<whole>[0-9]+)[ \t]+)?(?P<a>[0-9]+)/(?P<b>[0-9]+)"
    r"(?:[ \t]?(?P<unit>" + UNIT_ALT + r")(?![\w°/^]|\.[^\W\d_]))?(?![\w/]|[.,][0-9])"
)
_SAID_AS_NUMBERS = {("24", "7"), ("9", "11"), ("50", "50")}
# "on 3/4", "Tues. 3/12": a date, not a fraction.
DATE_CUES = {
    "on", "until", "till", "since", "due", "from", "mon", "tue", "tues", "wed", "thu", "thur",
    "thurs", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday",
}  # fmt: skip


def _fraction(m: re.Match[str]) -> str:
    spoken = _fraction_words(m)
    unit = m.group("unit")
    if not unit or spoken == m.group(0):
        return spoken
    one, many = UNITS[unit]  # "1/2 tsp": "one half teaspoon"; "1 1/2 tsp": "one and a half teaspoons"
    return f"{spoken} {many if m.group('whole') or int(m.group('a')) > int(m.group('b')) else one}"


def _fraction_words(m: re.Match[str]) -> str:
    a, b, whole = m.group("a"), m.group("b"), m.group("whole")
    if (a, b) in _SAID_AS_NUMBERS and not whole:
        return f"{words.integer(a)} {words.integer(b)}"
    if len(a) > 9 or len(b) > 9:
        return f"{words.integer(a)} slash {words.integer(b)}"
    na, nb = int(a), int(b)
    date_cue = prev_word(m.string, m.start()).lower() in DATE_CUES and next_word(m.string, m.end()) != "of"
    if not whole and not m.group("unit") and 1 <= na <= 12 and (13 <= nb <= 31 or (date_cue and 1 <= nb <= 31)):
        from .dates import month_day

        return month_day(na, nb)  # "3/14": a date, the day cannot be a month
    spoken = words.fraction(na, nb)
    if whole:
        if spoken.startswith("one "):
            spoken = "a " + spoken[4:]
        return f"{words.integer(whole)} and {spoken}"
    return spoken


_RANGE = re.compile(r"(?<![\w.,/:\-])(?P<a>" + NUM + r")[ \t]?[-–][ \t]?(?P<b>" + NUM + r")(?![\w/:]|[.,][0-9]|-[0-9])")


def _is_year(text: str) -> bool:
    return len(text) == 4 and text.isdigit() and 1000 <= int(text) <= 2099


def _range(m: re.Match[str]) -> str:
    a, b = m.group("a"), m.group("b")
    if _is_year(a) and (_is_year(b) or (len(b) == 2 and b.isdigit())):
        second = words.year(int(b)) if len(b) == 4 else words.integer(b)
        return f"{words.year(int(a))} to {second}"
    return f"{words.number(a)} to {words.number(b)}"


# --- years -------------------------------------------------------------------

_ERA_WORDS = {"AD": "eigh dee", "BC": "bee see", "BCE": "bee see ee", "CE": "see ee"}
_ERA = re.compile(r"(?<![\w.,$£€])(?P<y>[0-9]{1,4})[ \t]?(?P<era>A\.D\.|B\.C\.E\.|B\.C\.|C\.E\.|AD|BCE|BC|CE)(?![\w])")


def _era(m: re.Match[str]) -> str:
    era = _ERA_WORDS[m.group("era").replace(".", "")]
    y = int(m.group("y"))
    spoken = f"{words.year(y)} {era}"
    return with_final_dot(spoken, m)


YEAR_CUES = {
    "in", "since", "from", "until", "till", "by", "during", "circa", "before", "after",
    "between", "year", "early", "late", "mid", "summer", "winter", "spring", "autumn",
    "fall", "christmas", "easter", "born", "died", "est", "established", "founded", "around",
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
}  # fmt: skip
# Verbs that follow a year used as a subject ("1984 was a good year").
YEAR_FOLLOWERS = {
    "was", "is", "will", "would", "had", "has", "saw", "brought", "marked", "began",
    "ended", "changed", "became", "proved", "onward", "onwards",
}  # fmt: skip
_YEAR = re.compile(r"(?<![\w.,$£€¥#\-+/:])(?P<y>1[0-9]{3}|20[0-9]{2})(?![\w%°]|[.,:][0-9]|[-/][0-9])")


def _year(m: re.Match[str]) -> str:
    y = int(m.group("y"))
    text = m.string
    if prev_word(text, m.start()).lower() in YEAR_CUES:
        return words.year(y)
    after = next_word(text, m.end())
    # Standing alone ("in" or not, "1984." "1984, the year"), from 1500 on.
    if y >= 1500 and (not after or after[0].isupper() or after.lower() in YEAR_FOLLOWERS):
        return words.year(y)
    return words.cardinal(y)


# --- plain numbers -----------------------------------------------------------------

# 1.2.3 (version) / 192.168.0.1 (address)
_DOTTED_NUMBERS = re.compile(r"(?<![\w.])[0-9]+(?:\.[0-9]+){2,}(?![\w]|\.[0-9])")


def _dotted_numbers(m: re.Match[str]) -> str:
    parts = m.group(0).split(".")
    if len(parts) > 12:
        return words.digits(m.group(0))
    joiner = " dot " if len(parts) == 4 and all(len(p) <= 3 for p in parts) else " point "
    return joiner.join(words.integer(p) for p in parts)


_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=[0-9])|(?<=[0-9])(?=[^\W\d_])")
_NUMBER = re.compile(r"(?<![\w.])(?P<sign>[-−+](?=\.?[0-9]))?(?P<num>" + NUM + r")")
_DIGITS = re.compile(r"[0-9]+")


def _number(m: re.Match[str]) -> str:
    sign = m.group("sign") or ""
    return words.number(sign + m.group("num"))


def _digits(m: re.Match[str]) -> str:
    return " " + words.integer(m.group(0)) + " "


RULES: list[Rule] = [
    (_NANP, _phone),
    (_INTERNATIONAL, _phone, ("+",)),
    (_LOCAL, _phone, ("-",)),
    (_CUE, _cue),
    (_EMERGENCY, lambda m: "nine one one", ("911",)),
]
_POWER = re.compile(r"\^(?P<p>[23])(?![0-9])")
# 2:1, 16:9 (what is left with a colon after the clock-time rule)
_RATIO = re.compile(r"(?<![\w:.])(?P<a>[0-9]{1,6}):(?P<b>[0-9]{1,6})(?![\w:]|[.,][0-9])")


def _ratio(m: re.Match[str]) -> str:
    return f"{words.integer(m.group('a'))} to {words.integer(m.group('b'))}"


DECADE_RULES: list[Rule] = [(_DECADE, _decade, ("s",))]
LATE_RULES: list[Rule] = [
    (_POWER, lambda m: " squared " if m.group("p") == "2" else " cubed ", ("^",)),
    (_ORDINAL, _ordinal),
    (_PREFIX, _prefix, (".", "#", "~")),
    (_DIMENSION, _dimension, ("x", "×")),
    (_TIMES, _times, ("x", "×")),
    (_FRACTION, _fraction, ("/",)),
    (_RATIO, _ratio, (":",)),
    (_RANGE, _range, ("-", "–")),
    (_ERA, _era, ("AD", "BC", "CE", "A.D.", "B.C.", "C.E.")),
    (_YEAR, _year),
    (_DOTTED_NUMBERS, _dotted_numbers, (".",)),
    (_LETTER_DIGIT, lambda m: " "),
    (_NUMBER, _number),
    (_DIGITS, _digits),
]
