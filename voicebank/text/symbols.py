"""Emoji, emoticons, symbols and the final tidy-up of punctuation.

Emoji policy (``TextOptions.emoji``):

* ``"common"`` (default): about forty everyday emoji and text emoticons are
  read as a short word or two ("❤️" → "love", "👍" → "thumbs up", ":)" →
  "smile"); all other emoji are dropped. A message made only of "👍" still
  says something, and a string of pictures never turns into a long list of
  Unicode names.
* ``"name"``: the everyday ones as above, every other emoji by its Unicode
  name ("🦔" → "hedgehog").
* ``"drop"``: no emoji or emoticon is spoken.

A run of the same emoji ("❤️❤️❤️") is read once.
"""

from __future__ import annotations

import re
import unicodedata

from .clean import SENTENCE_SEP
from .context import Rule, ends_sentence

EMOJI_MODES = ("common", "name", "drop")

COMMON_EMOJI = {
    "❤": "love", "♥": "love", "💕": "love", "💖": "love", "💗": "love", "💙": "love",
    "💚": "love", "💛": "love", "💜": "love", "🧡": "love", "🖤": "love", "🤍": "love",
    "😍": "love it", "🥰": "love", "😘": "kiss", "💋": "kiss",
    "😀": "smile", "😃": "smile", "😄": "smile", "😁": "grin", "🙂": "smile",
    "😊": "smile", "☺": "smile", "😂": "laughing", "🤣": "laughing", "😆": "laughing",
    "😉": "wink", "😅": "phew", "😎": "cool", "🤗": "hug", "🤔": "hmm", "😮": "wow",
    "😲": "wow", "😢": "sad", "😞": "sad", "😔": "sad", "🙁": "sad", "☹": "sad",
    "😭": "crying", "😠": "angry", "😡": "angry", "😴": "sleepy", "🤒": "sick",
    "🙄": "eye roll", "😬": "yikes", "👍": "thumbs up", "👎": "thumbs down",
    "👏": "applause", "🙏": "thank you", "👋": "wave", "👌": "okay", "💪": "strong",
    "🎉": "hooray", "🥳": "hooray", "🎂": "birthday cake", "🎁": "present",
    "🔥": "fire", "✅": "done", "✔": "check", "❌": "no", "💯": "one hundred percent",
    "⭐": "star", "🌟": "star", "☀": "sunny", "🌧": "rain", "☕": "coffee",
}  # fmt: skip

EMOTICONS = {
    ":)": "smile", ":-)": "smile", "=)": "smile", ":]": "smile", ":(": "sad", ":-(": "sad",
    ";)": "wink", ";-)": "wink", ":D": "laughing", ":-D": "laughing", "XD": "laughing",
    ":P": "tongue out", ":-P": "tongue out", ":p": "tongue out", ":'(": "crying",
    ":O": "wow", ":-O": "wow", "<3": "love",
}  # fmt: skip

_EMOJI_CHARS = (
    "\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_MODIFIERS = "\ufe0e\ufe0f\u20e3\U0001f3fb-\U0001f3ff"
_EMOJI = re.compile(
    rf"(?P<flag>[\U0001f1e6-\U0001f1ff]{{1,2}})"
    rf"|(?P<e>[{_EMOJI_CHARS}])[{_MODIFIERS}]*(?:(?P=e)[{_MODIFIERS}]*)*|[{_MODIFIERS}]+"
)


def _emoji_name(ch: str, mode: str) -> str:
    if mode == "drop":
        return ""
    common = COMMON_EMOJI.get(ch)
    if common or mode == "common":
        return common or ""
    name = unicodedata.name(ch, "").lower()
    # Arrows, boxes and geometric shapes are layout, not words.
    if not name or name.startswith(("box drawings", "black ", "white ", "ballot", "circled")):
        return ""
    return name.replace("-", " ")


def emoji_rules(mode: str) -> list[Rule]:
    """The emoji and emoticon rules for one policy (see module docstring)."""

    def emoji(m: re.Match[str]) -> str:
        if m.group("flag"):
            return " flag " if mode == "name" else " "
        ch = m.group("e")
        if ch is None:
            return ""  # a stray modifier or variation selector
        name = _emoji_name(ch, mode)
        return f" {name} " if name else " "

    def emoticon(m: re.Match[str]) -> str:
        return "" if mode == "drop" else EMOTICONS[m.group(0)]

    return [(_EMOTICON, emoticon, (":", ";", "=", "<", "XD")), (_EMOJI, emoji)]


_EMOTICON = re.compile(
    r"(?<!\S)(?:" + "|".join(re.escape(e) for e in sorted(EMOTICONS, key=len, reverse=True)) + r")(?=\s|\Z|[.,!?;])"
)

# --- symbols -------------------------------------------------------------------

SYMBOL_WORDS = {
    "&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "%": " percent ",
    "×": " times ", "÷": " divided by ", "±": " plus or minus ", "≈": " approximately ",
    "≠": " not equal to ", "≤": " less than or equal to ", "≥": " greater than or equal to ",
    "°": " degrees ", "§": " section ", "©": " copyright ", "∞": " infinity ",
    "→": " to ", "⇒": " to ", "√": " square root of ", "‰": " per mille ",
}  # fmt: skip
_SYMBOL = re.compile("[" + re.escape("".join(SYMBOL_WORDS)) + "]")

_SHARP = re.compile(r"(?<=\b[A-G])#(?![\w])")
_HASHTAG = re.compile(r"#(?=[^\W\d_])")
_COMPARE = re.compile(r"(?<=\s)[<>](?=\s)")
_ARROW = re.compile(r"\s(?:->|=>|-->)\s")
_OR_SLASH = re.compile(r"(?<=[^\W\d_])/(?=[^\W\d_])")
PER = {
    "day": "day", "week": "week", "month": "month", "year": "year", "hour": "hour",
    "night": "night", "person": "person", "head": "head", "dose": "dose", "serving": "serving",
    "min": "minute", "minute": "minute", "hr": "hour", "h": "hour", "wk": "week", "mo": "month",
    "yr": "year", "kg": "kilogram", "lb": "pound",
}  # fmt: skip
_PER = re.compile(r"(?<=[^\W_])[ \t]?/[ \t]?(?P<unit>" + "|".join(sorted(PER, key=len, reverse=True)) + r")(?![\w])")
_WORD_DOT = re.compile(r"(?<=[^\W\d_])\.(?=[^\W\d_])")
# Patterns that start with a run of spaces only start where the run starts
# ("(?<!\s)"): otherwise a long run would be rescanned from every position.
_DASH = re.compile(r"(?<!\s)\s+-+\s+|-{2,}|[\u2012-\u2015\u2e3a\u2e3b]")
_ELLIPSIS = re.compile(r"\.{2,}")
_BRACKETS = re.compile(r"[()\[\]{}]")


def _word_dot(m: re.Match[str]) -> str:
    following = m.string[m.end() : m.end() + 1]
    return ". " if following.isupper() else " dot "


def _ellipsis(m: re.Match[str]) -> str:
    return "." if ends_sentence(m.string, m.end()) else ","


RULES: list[Rule] = [
    (_SHARP, lambda m: " sharp", ("#",)),
    (_HASHTAG, lambda m: "hashtag ", ("#",)),
    (_ARROW, lambda m: " to ", ("->", "=>")),
    (_COMPARE, lambda m: " less than " if m.group(0) == "<" else " greater than ", ("<", ">")),
    (_SYMBOL, lambda m: SYMBOL_WORDS[m.group(0)], tuple(SYMBOL_WORDS)),
    (_PER, lambda m: " per " + PER[m.group("unit")], ("/",)),
    (_OR_SLASH, lambda m: " or ", ("/",)),
    (_WORD_DOT, _word_dot, (".",)),
    (_DASH, lambda m: ", ", ("-", "\u2012", "\u2013", "\u2014", "\u2015", "\u2e3a", "\u2e3b")),
    (_ELLIPSIS, _ellipsis, ("..",)),
    (_BRACKETS, lambda m: ", ", ("(", ")", "[", "]", "{", "}")),
]

# --- final tidy-up ------------------------------------------------------------------

_UNSPEAKABLE = re.compile(r"[^\w\s'.,?!;:\-\ue000-\ue019" + SENTENCE_SEP + r"]|_")
_STRAY_APOSTROPHE = re.compile(r"(?<![^\W\d_]|\ue001)'|(?<![sS])'(?![^\W\d_])")
_STRAY_HYPHEN = re.compile(r"(?<![^\W_])-|-(?![^\W_])")
_PUNCT_RUN = re.compile(r"(?<![\s.,?!;:])\s*([.,?!;:](?:\s*[.,?!;:])*)")
_SPACES = re.compile(r"[ \t\n]+")


def _punct_run(m: re.Match[str]) -> str:
    run = m.group(1)
    for mark in "?!.;:":
        if mark in run:
            return mark + " "
    return ", "


TIDY: list[Rule] = [
    (_UNSPEAKABLE, lambda m: " "),
    (_STRAY_APOSTROPHE, lambda m: "", ("'",)),
    (_STRAY_HYPHEN, lambda m: " ", ("-",)),
    (_SPACES, lambda m: " "),
    (_PUNCT_RUN, _punct_run),
    (_SPACES, lambda m: " "),
]

_LEADING = re.compile(r"^[\s.,?!;:]+")


def finish_sentence(text: str) -> str:
    """Trim one tidied sentence: no leading punctuation, no outer spaces."""
    return _LEADING.sub("", text).strip()
