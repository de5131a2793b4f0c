"""Small helpers the rules use to look at a match's neighbours.

The rules run over several sentences at once, joined by ``SENTENCE_SEP``, so
"the end of the sentence" means that marker or the end of the string.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .clean import SENTENCE_SEP

Replace = Callable[[re.Match[str]], str]
# (pattern, replacement) or (pattern, replacement, triggers): a rule with
# triggers is skipped when none of them occurs in the text, which saves a
# regex pass over long inputs.
Rule = tuple[re.Pattern[str], Replace] | tuple[re.Pattern[str], Replace, tuple[str, ...]]

_WINDOW = 48  # how far a rule looks around a match; keeps every look O(1)
_CLOSERS = "\"')]}"
# A word may hold apostrophes and hyphens inside ("Mary's", "Saint-Denis").
_PREV_WORD = re.compile(r"((?:[^\W_]+['-])*[^\W_]+)\.?[ \t]*\Z")
_NEXT_WORD = re.compile(r"\s*([^\W_][\w'-]*)")


def ends_sentence(text: str, pos: int) -> bool:
    """True if nothing but closing quotes and spaces lies between pos and the sentence end."""
    rest = text[pos : pos + _WINDOW].lstrip(" ").lstrip(_CLOSERS).lstrip(" ")
    return not rest or rest[0] == SENTENCE_SEP or rest[0] == "\n"


def prev_word(text: str, pos: int) -> str:
    """The word just before pos within the same sentence ("" if none)."""
    before = text[max(0, pos - _WINDOW) : pos]
    if SENTENCE_SEP in before:
        before = before.rsplit(SENTENCE_SEP, 1)[1]
    m = _PREV_WORD.search(before)
    return m.group(1) if m else ""


def next_word(text: str, pos: int) -> str:
    """The word just after pos within the same sentence ("" if none)."""
    m = _NEXT_WORD.match(text[pos : pos + _WINDOW])
    return m.group(1) if m else ""


def with_final_dot(spoken: str, m: re.Match[str]) -> str:
    """Keep the sentence's full stop when an abbreviation's dot was also the sentence end."""
    if m.group(0).endswith(".") and ends_sentence(m.string, m.end()):
        return spoken + "."
    return spoken


def is_capitalized(word: str) -> bool:
    return bool(word) and word[0].isupper()


def apply_rules(text: str, rules: list[Rule]) -> str:
    for rule in rules:
        if len(rule) == 3 and not any(t in text for t in rule[2]):
            continue
        text = rule[0].sub(rule[1], text)
    return text
