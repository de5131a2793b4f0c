"""Writing systems the English frontend cannot read: skipped, and said so.

The voices read English in Latin letters (accents included). espeak-ng would
spell anything else letter by letter ("Chinese letter, Chinese letter, ...",
Cyrillic as a string of letter names), which is gibberish to a listener. So
runs of letters from other scripts are dropped from what is spoken, and
:func:`unreadable` tells the caller what was dropped, to show the person.
A lone Greek letter ("β-blocker", "α") stays: espeak-ng says its name.
A lexicon entry for a foreign word ("你好" → "nee how") is applied first,
so the person can give any word a reading.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .clean import PHONEME_MARKER, Protected, sanitize
from .context import Rule

if TYPE_CHECKING:
    from .lexicon import Lexicon

# Latin (with accents), IPA and modifier letters, and our private-use markers.
_READABLE = "\\x00-\\u02ff\\u1e00-\\u1eff\\u2c60-\\u2c7f\\ua720-\\ua7ff\\uab30-\\uab6f\\ue000-\\uf8ff\\ufb00-\\ufb06"
_FOREIGN_LETTER = rf"(?:(?![{_READABLE}])[^\W\d_])"
# Vowel signs and other combining marks of those scripts (not letters to \w, but part of the words).
_FOREIGN_MARK = (
    "[\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0900-\u0dff"
    "\u0e31-\u0e4e\u0eb1-\u0ecd\u0f18-\u0fbc\u102b-\u103e\u17b4-\u17d3\u302a-\u302f\u3099\u309a]"
)
_FOREIGN_CHAR = f"(?:{_FOREIGN_LETTER}|{_FOREIGN_MARK})"
_FOREIGN_RUN = re.compile(rf"{_FOREIGN_LETTER}{_FOREIGN_CHAR}*(?:[ \t]+{_FOREIGN_CHAR}+)*")
_GREEK = re.compile(r"[\u0370-\u03ff]")
_SCRIPT_NAMES = {
    "CJK": "Chinese", "HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HALFWIDTH": "Japanese",
    "HANGUL": "Korean", "IDEOGRAPHIC": "Chinese",
}  # fmt: skip
_SAMPLE = 24


@dataclass(frozen=True)
class TextWarning:
    """Text the voice could not read and skipped: its script, how many letters, the first of them."""

    script: str  # "Chinese", "Cyrillic", "Arabic", ...
    letters: int  # how many letters of that script were skipped
    sample: str  # the first skipped words (at most 24 characters)

    def __str__(self) -> str:
        what = f"{self.letters} {self.script} letter{'s' if self.letters != 1 else ''}"
        return (
            f"Skipped {what} ({self.sample}): this voice reads English in Latin letters only. "
            f"To have a word said, give it a respelling: voicebank lexicon add WORD RESPELLING"
        )


def script_of(letter: str) -> str:
    """The script of one letter, in words ("Chinese", "Cyrillic", ...)."""
    first = unicodedata.name(letter, "UNKNOWN").split()[0]
    return _SCRIPT_NAMES.get(first) or first.capitalize()


def _readable_greek(run: str) -> bool:
    return len(run) == 1 and bool(_GREEK.match(run))


def _drop(m: re.Match[str]) -> str:
    return m.group(0) if _readable_greek(m.group(0)) else " "


RULES: list[Rule] = [(_FOREIGN_RUN, _drop)]


def unreadable(text: str, *, lexicon: Lexicon | None = None) -> list[TextWarning]:
    """What of ``text`` the frontend skips because the voice cannot read its script.

    One warning per script, in order of first appearance; ``[]`` when all is readable.
    The same text given to :func:`voicebank.text.segments` (with the same lexicon)
    speaks everything else and none of this.
    """
    clean = PHONEME_MARKER.sub(" ", sanitize(text))
    if lexicon is not None:
        clean = lexicon.substitute(clean, Protected())
    letters: dict[str, int] = {}
    samples: dict[str, str] = {}
    for m in _FOREIGN_RUN.finditer(clean):
        run = m.group(0)
        if _readable_greek(run):
            continue
        for letter in (c for c in run if c.isalpha()):
            script = script_of(letter)
            letters[script] = letters.get(script, 0) + 1
        first = script_of(run[0])
        sample = samples.get(first, "")
        if len(sample) < _SAMPLE:
            samples[first] = (f"{sample} {run}" if sample else run)[:_SAMPLE]
    return [TextWarning(script, n, samples.get(script, "")) for script, n in letters.items()]
