"""Making any str safe to work on, and the private markers the frontend uses.

Everything the frontend does starts with :func:`sanitize`: it removes what
cannot be spoken (control and format characters, lone surrogates, private-use
and unassigned code points), folds compatibility forms (NFKC: full-width
digits, ligatures, "℃", "…"), and turns every decimal digit into ASCII so the
number rules only ever see 0-9. Private-use code points are ours afterwards:
they mark sentence joints and protected phoneme spans.
"""

from __future__ import annotations

import re
import unicodedata

# Private-use code points; sanitize() removes any the user typed.
PROTECT_OPEN = "\ue000"
PROTECT_CLOSE = "\ue001"
SENTENCE_SEP = "\ue002"
_INDEX_BASE = 0xE010  # digits of a protected span's index: U+E010..U+E019

_SURROGATES = re.compile("[\ud800-\udfff]")
# Terminal colour codes and other escape sequences pasted from a console.
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|[@-Z\\-_])")
_VULGAR = re.compile(r"([0-9]?)\s?([¼½¾⅐⅑⅒⅓⅔⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞])")
# Kept apart from NFKC, which would make "m²" "m2" and "™" "TM".
_BEFORE_NFKC = {"²": "^2", "³": "^3", "™": " ", "℠": " "}
_KEEP_WHITESPACE = {"\n": "\n", "\t": " ", "\x0b": " ", "\x0c": " ", "\r": "\n"}
_LINE_BREAKS = {"\x85": "\n", "\u2028": "\n", "\u2029": "\n\n"}
_QUOTES = {"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'}
_CJK_PUNCTUATION = {"。": ". ", "、": ", ", "・": " "}
_CACHE_LIMIT = 20_000
_BLANKS = re.compile(r"[ \t]+")
_LINE_END = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")


class _CharMap(dict[int, str]):
    """str.translate table filled on demand, so we never build all of Unicode."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        out = _map_char(ch)
        if len(self) < _CACHE_LIMIT:
            self[code] = out
        return out


def _map_char(ch: str) -> str:
    if ch in _KEEP_WHITESPACE:
        return _KEEP_WHITESPACE[ch]
    if ch in _LINE_BREAKS:
        return _LINE_BREAKS[ch]
    if ch in _QUOTES:
        return _QUOTES[ch]
    if ch in _CJK_PUNCTUATION:
        return _CJK_PUNCTUATION[ch]
    cat = unicodedata.category(ch)
    if cat[0] == "C":  # Cc control, Cf format, Cs surrogate, Co private use, Cn unassigned
        return ""
    if cat == "Nd" and not ("0" <= ch <= "9"):
        return str(unicodedata.decimal(ch))
    if cat[0] == "Z":
        return " "
    return ch


_TABLE = _CharMap()


def _vulgar(m: re.Match[str]) -> str:
    whole, frac = m.group(1), unicodedata.normalize("NFKC", m.group(2)).replace("⁄", "/")
    return f"{whole} {frac} " if whole else f" {frac} "


def sanitize(text: str) -> str:
    """Any str → text made only of speakable characters, newlines kept.

    Inline phonemes (``[[...]]``) only lose control characters: NFKC would
    fold IPA modifier letters ("ʰ" → "h").
    """
    if "[[" not in text:
        return _sanitize_text(text)
    pieces = PHONEME_MARKER.split(text)
    for i in range(1, len(pieces), 2):
        phonemes = _sanitize_phonemes(pieces[i])
        pieces[i] = f"[[{phonemes}]]" if phonemes else " "
    for i in range(0, len(pieces), 2):
        pieces[i] = _sanitize_text(pieces[i])
    return "".join(pieces)


def _sanitize_phonemes(text: str) -> str:
    text = _SURROGATES.sub("", text)
    kept = "".join(c for c in text if unicodedata.category(c)[0] != "C" or c == " ")
    return unicodedata.normalize("NFC", kept).strip()


def _sanitize_text(text: str) -> str:
    text = _SURROGATES.sub("", text)
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n")
    for special, plain in _BEFORE_NFKC.items():
        if special in text:
            text = text.replace(special, plain)
    text = _VULGAR.sub(_vulgar, text)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_TABLE)
    # Bounded whitespace keeps every later pattern linear: one space, or at
    # most a blank line.
    text = _BLANKS.sub(" ", text)
    text = _LINE_END.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text)


class Protected:
    """Spans (inline phonemes) hidden from the normalisation rules.

    Each span is replaced by private-use characters that no rule matches
    (they are neither word characters, digits nor whitespace) and put back at
    the end as an ``[[ ... ]]`` phoneme marker.
    """

    _TOKEN = re.compile(f"{PROTECT_OPEN}([\ue010-\ue019]+){PROTECT_CLOSE}")

    def __init__(self) -> None:
        self._spans: list[str] = []

    def hide(self, phonemes: str) -> str:
        index = str(len(self._spans))
        self._spans.append(phonemes)
        return PROTECT_OPEN + "".join(chr(_INDEX_BASE + int(d)) for d in index) + PROTECT_CLOSE

    def restore(self, text: str) -> str:
        if PROTECT_OPEN not in text:
            return text
        return self._TOKEN.sub(self._marker, text)

    def _marker(self, m: re.Match[str]) -> str:
        index = int("".join(str(ord(c) - _INDEX_BASE) for c in m.group(1)))
        return phoneme_marker(self._spans[index])


def phoneme_marker(phonemes: str) -> str:
    """The inline marker the engine recognises (espeak-ng raw phoneme input)."""
    return f"[[{phonemes}]]"


# Inline phonemes, ``[[...]]``: the one pattern the frontend and the engines find them with
# (group 1: the phonemes, unstripped). Bounded, so every pattern built on it stays linear.
PHONEME_MARKER = re.compile(r"\[\[([^\[\]\n]{1,200})\]\]")
