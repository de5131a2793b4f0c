"""Numbers that are readings or identifiers, not quantities.

"BP 120/80" → "one hundred twenty over eighty", "pain 7/10" → "seven out of
ten", "20/20 vision" → "twenty twenty"; card, account and phone numbers
written in groups ("4111 1111 1111 1111", "020 7946 0958") or as one long
run ("account 12345678") are read digit by digit, group by group. What is
left (real fractions such as "3/4 cup", round numbers such as "1000000") goes
on to the number rules.
"""

from __future__ import annotations

import re

from . import words
from .clean import SENTENCE_SEP
from .context import Rule, next_word, prev_word
from .measures import UNITS
from .numeric import DATE_CUES, phone

# --- N/M readings ----------------------------------------------------------------

_LOOK_BACK = 40
# Words just before (or a little before) that make "N/M" a blood pressure.
_PRESSURE_CUE = re.compile(r"(?i)(?:\bb\.?p\b\.?|\bb/p\b|\bpressures?\b|\bbp's\b)[^0-9]{0,24}\Z")
# "rated it 4/5", "pain 7/10": a score out of the second number.
_SCORE_CUE = re.compile(r"(?i)\b(?:pain|rated?|rating|scored?|gave|give|mood)\b[^0-9]{0,16}\Z")
_SCORE_FOLLOWERS = {"stars", "star", "points", "pts"}
_EYE_CHART = {10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 200, 400}
_READING = re.compile(
    r"(?<![\w./\-])(?P<a>[0-9]{1,3})/(?P<b>[0-9]{1,3})(?P<unit>[ \t]?mm[ \t]?Hg)?(?![\w/]|[.,][0-9])"
)


def _before(text: str, start: int) -> str:
    """The same sentence's text just before ``start``."""
    return text[max(0, start - _LOOK_BACK) : start].rsplit(SENTENCE_SEP, 1)[-1]


def _is_pressure(text: str, start: int, a: int, b: int) -> bool:
    if _PRESSURE_CUE.search(_before(text, start)):
        return True
    # Shaped like one even without a cue: a real fraction is never written 120/80.
    return 60 <= a <= 300 and 30 <= b <= 200 and a > b


def _reading(m: re.Match[str]) -> str:
    text, a_text, b_text = m.string, m.group("a"), m.group("b")
    a, b = int(a_text), int(b_text)
    before, after = prev_word(text, m.start()).lower(), next_word(text, m.end())
    if before in DATE_CUES or after.lower() == "of" or after in UNITS or b == 0:
        return m.group(0)  # a date ("on 3/10") or a fraction ("3/10 of a mile", "1/2 tsp"): the later rules
    if a + b == 100 and not m.group("unit") and not _PRESSURE_CUE.search(_before(text, m.start())):
        return f"{words.cardinal(a)} {words.cardinal(b)}"  # a split: "60/40", "80/20"
    if m.group("unit") or _is_pressure(text, m.start(), a, b):
        unit = " millimeters of mercury" if m.group("unit") else ""
        return f"{words.cardinal(a)} over {words.cardinal(b)}{unit}"
    if m.group("unit"):
        return m.group(0)
    if a == 20 and b in _EYE_CHART:
        return f"twenty {words.cardinal(b)}"  # eyesight: "20/40 vision"
    scored = bool(_SCORE_CUE.search(_before(text, m.start()))) or after.lower() in _SCORE_FOLLOWERS
    if a <= b and (b in (10, 100) or (b == 5 and scored)):
        return f"{words.cardinal(a)} out of {words.cardinal(b)}"
    return m.group(0)


# --- digits in groups --------------------------------------------------------------

# Three to six groups of 3-6 digits ("4111 1111 1111 1111", "020 7946 0958"), or
# groups after a leading zero ("01 23 45 67 89", "07700 900123").
_GROUPS = re.compile(
    r"(?<![\w.,+\-/:$£€#])(?:[0-9]{3,6}(?:[ \t-][0-9]{3,6}){2,5}|0[0-9]{1,5}(?:[ \t-][0-9]{2,8}){1,5})"
    r"(?![\w]|[.,:/\-][0-9])"
)
_MIN_GROUPED_DIGITS = 8


def _groups(m: re.Match[str]) -> str:
    text = m.group(0)
    parts = re.split(r"[ \t-]", text)
    if sum(len(p) for p in parts) < _MIN_GROUPED_DIGITS:
        return text
    if len(parts) < 4 and all(len(p) == 4 and 1000 <= int(p) <= 2099 for p in parts):
        return text  # a list of years ("1990 2000 2010")
    return phone(text)


# Identifiers after these words are read digit by digit ("account 12345678", "PIN 4321").
ID_CUES = (
    "account|acct|a/c|card|pin|code|ref|reference|confirmation|tracking|policy|member|membership"
    "|routing|sort code|serial|iban|order|invoice|mrn|nhs|id|ssn|passport|licen[cs]e|booking|ticket"
)
_CUED_ID = re.compile(
    r"(?i)(?<![\w])(?P<cue>(?:" + ID_CUES + r")\.?(?:[ \t]*[#:]|[ \t]+(?:no\.?|number|num\.?|is|was))?[ \t]*)"
    r"(?P<n>[0-9]{4,40})(?![\w]|[.,:][0-9])"
)
# A long run with no thousands separators that is not a round amount.
_LONG_RUN = re.compile(r"(?<![\w.,+\-/:$£€#])[0-9]{8,40}(?![\w]|[.,:][0-9])")
_MAX_ROUND_FIGURES = 4  # "38250000" is thirty-eight million ...; "12345678" is an identifier


def grouped_digits(run: str) -> str:
    """ "12345678" → "one two three four, five six seven eight": groups of three or four digits."""
    if len(run) <= 5:
        return words.digits(run)
    count = -(-len(run) // 4)
    size, extra = divmod(len(run), count)
    out, pos = [], 0
    for i in range(count):
        width = size + (1 if i < extra else 0)
        out.append(words.digits(run[pos : pos + width]))
        pos += width
    return ", ".join(out)


def _cued_id(m: re.Match[str]) -> str:
    return m.group("cue").replace("#", " number ") + grouped_digits(m.group("n"))


def _long_run(m: re.Match[str]) -> str:
    run = m.group(0)
    if run[0] != "0" and len(run) <= words.MAX_CARDINAL_DIGITS and len(run.rstrip("0")) <= _MAX_ROUND_FIGURES:
        return run  # a round amount: the number rules say "twenty-five million"
    return grouped_digits(run)


RULES: list[Rule] = [
    (_READING, _reading, ("/",)),
    (_GROUPS, _groups),
    (_CUED_ID, _cued_id),
    (_LONG_RUN, _long_run),
]
