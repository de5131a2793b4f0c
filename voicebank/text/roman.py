"""Roman numerals in names and titles.

"World War II" → "World War two", "Chapter IV" → "Chapter four",
"Henry VIII" → "Henry the eighth", "Apollo XI" → "Apollo eleven".
Only I, V and X are read (up to 39): "DC", "MD", "XL" and "CV" are far more
often letters than numbers. A lone "I", "V" or "X" is read as a number only
after a cue word ("Chapter I", "Part V"), never as the pronoun.
"""

from __future__ import annotations

import re

from . import words
from .context import Rule, prev_word

_ROMAN = re.compile(r"(?<![\w'.-])(?=[IVX])(?P<r>X{0,3}(?:IX|IV|V?I{0,3}))(?![\w'-])")
_VALUES = {"I": 1, "V": 5, "X": 10}

CUES = {
    "chapter", "part", "book", "volume", "vol", "act", "scene", "section", "war", "phase",
    "round", "level", "stage", "type", "class", "article", "title", "episode", "season",
    "appendix", "grade", "step", "unit", "lesson", "psalm", "canto", "movement",
}  # fmt: skip
REGNAL = {
    "henry", "elizabeth", "george", "louis", "charles", "edward", "william", "james",
    "richard", "john", "paul", "benedict", "pius", "leo", "gregory", "mary", "victoria",
    "napoleon", "philip", "frederick", "peter", "catherine", "alexander", "nicholas",
    "constantine", "ramesses", "ramses", "innocent", "clement", "urban", "boniface",
    "alfonso", "ferdinand", "felipe", "juan", "carlos", "gustav", "olaf", "haakon",
    "harald", "christian", "frederik", "margrethe", "willem", "ivan", "ludwig", "otto",
    "wilhelm", "francis", "anne", "david", "robert", "duncan", "kamehameha",
}  # fmt: skip


def value(numeral: str) -> int:
    total = 0
    for i, ch in enumerate(numeral):
        v = _VALUES[ch]
        nxt = _VALUES[numeral[i + 1]] if i + 1 < len(numeral) else 0
        total += -v if v < nxt else v
    return total


def _roman(m: re.Match[str]) -> str:
    numeral = m.group("r")
    before = prev_word(m.string, m.start())
    lowered, capitalized = before.lower(), before[:1].isupper()
    if len(numeral) == 1:
        # "Chapter I", "Henry V"; never "Tell Henry I said hi" or "this part I explain".
        if capitalized and lowered in CUES:
            return words.cardinal(value(numeral))
        if capitalized and lowered in REGNAL and numeral != "I":
            return "the " + words.ordinal(value(numeral))
        return m.group(0)
    if capitalized and lowered in REGNAL:
        return "the " + words.ordinal(value(numeral))
    if lowered in CUES or capitalized:
        return words.cardinal(value(numeral))
    return m.group(0)


RULES: list[Rule] = [(_ROMAN, _roman, ("I", "V", "X"))]
