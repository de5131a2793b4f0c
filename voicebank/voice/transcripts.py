"""Whether espeak-ng will read a transcript as the words it says: the one check for training text.

espeak-ng never fails: it reads an emoji as "grinning face", Chinese characters as
"chinese letter" and Cyrillic in an English voice as letter names. Training on that
teaches the voice nonsense, so the dataset builder and the trainer both refuse such
transcripts here, with the characters named.
"""

from __future__ import annotations

import unicodedata

# espeak-ng voices whose language is written in Latin letters: other scripts are spelt out.
LATIN_LANGUAGES = frozenset(
    "en fr de es it nl pt ca da sv nb no fi et lv lt pl cs sk sl hr bs ro hu tr id ms vi sw af eu ga cy is mt sq".split()
)


def transcript_problem(text: str, espeak_voice: str = "en-us") -> str | None:
    """Why espeak-ng (voice ``espeak_voice``) would not read ``text`` as its words; None when it would.

    Refused: symbols read out by name (emoji, ™, arrows), control and private-use
    characters, letters of another script than a Latin-script voice reads, and text with
    no letters or digits at all. Punctuation, digits, currency and maths signs are fine.
    The answer completes "the transcript has …".
    """
    latin_voice = espeak_voice.split("-")[0].lower() in LATIN_LANGUAGES
    letters: list[str] = []
    symbols: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in " \t":
            continue
        if cat.startswith("L"):
            if latin_voice and "LATIN" not in _char_name(ch):
                letters.append(ch)
        elif not (cat.startswith(("N", "P", "Z", "M")) or cat in ("Sm", "Sc")):
            symbols.append(ch)  # So (emoji, ™), Sk, control, private use, unassigned
    parts = []
    if letters:
        parts.append(
            f"letters espeak-ng ({espeak_voice}) cannot read as words: {_shown(letters)}; "
            "write them in Latin letters as they are spoken, or leave this take out"
        )
    if symbols:
        parts.append(f"characters espeak-ng cannot read as words: {_shown(symbols)}; write them out as they are spoken")
    if parts:
        return "; and ".join(parts)
    if not any(unicodedata.category(c).startswith(("L", "N")) for c in text):
        return "no words to say"
    return None


def _shown(chars: list[str]) -> str:
    return ", ".join(f"{c!r} ({_char_name(c)})" for c in list(dict.fromkeys(chars))[:6])


def _char_name(ch: str) -> str:
    return unicodedata.name(ch, f"U+{ord(ch):04X}")
