"""espeak-ng phonemes → Kokoro-82M's symbols → Kokoro's token ids.

Kokoro was trained on the phonemes of its own G2P (misaki), which writes English with a
few single-letter aliases: ``A I W Y O`` for the diphthongs eɪ aɪ aʊ ɔɪ oʊ, ``ʤ ʧ`` for the
affricates, ``T`` for the American flap, ``ᵊ`` for a reduced schwa, and no length marks.
voicebank phonemizes with espeak-ng (:mod:`.phonemize`, the phonemizer every voicebank
engine shares, with the person's lexicon), so :func:`kokoro_symbols` rewrites espeak-ng's
IPA into that alphabet and :func:`token_ids` looks the symbols up in Kokoro's vocabulary
(:data:`VOCAB`, the ``vocab`` table of ``config.json`` in hexgrad/Kokoro-82M).

Responsible for the symbol mapping and the ids only; no model, no audio.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Kokoro-82M's vocabulary (config.json "vocab"): symbol → token id. Id 0 is the pad that
# opens and closes every sequence. Written as runs of (first id, symbols with consecutive ids).
_VOCAB_RUNS: tuple[tuple[int, str], ...] = (
    (1, ';:,.!?'),
    (9, '—…"()“” \u0303ʣʥʦʨᵝꭧAI'),
    (31, "O"), (33, "Q"), (35, "ST"), (39, "W"), (41, "Yᵊabcdef"),
    (50, "hijklmnopqrstuvwxyzɑɐɒæ"),
    (75, "βɔɕç"), (80, "ɖðʤə"), (85, "ɚɛɜ"), (90, "ɟ"), (92, "ɡ"), (99, "ɥ"),
    (101, "ɨɪʝ"), (110, "ɯɰŋɳɲɴø"), (118, "ɸθœ"), (123, "ɹ"), (125, "ɾɻ"),
    (128, "ʁɽʂʃʈʧ"), (135, "ʊʋ"), (138, "ʌɣɤ"), (142, "χʎ"), (147, "ʒʔ"),
    (156, "ˈˌː"), (162, "ʰ"), (164, "ʲ"), (169, "↓"), (171, "→↗↘"), (177, "ᵻ"),
)
VOCAB: dict[str, int] = {sym: first + i for first, run in _VOCAB_RUNS for i, sym in enumerate(run)}
PAD_ID = 0
MAX_TOKENS = 510  # symbols per call (512 positions less the two pads); the style table has one row per count
CLAUSE_SYMBOLS = frozenset(",;:")
SENTENCE_SYMBOLS = frozenset(".!?")

# espeak-ng (en-us) → Kokoro, applied in this order; longer patterns first where they overlap.
_SYLLABIC = re.compile("([lmn])\u0329")  # button bˈʌʔn̩ → bˈʌʔᵊn
_DARK_L = re.compile(r"əl(?=$|[\s,;:.!?])")  # little lˈɪɾəl → lˈɪTᵊl (misaki writes a final -al so)
_SHARED: tuple[tuple[str, str], ...] = (
    ("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("ɔɪ", "Y"),
    ("dʒ", "ʤ"), ("tʃ", "ʧ"),
    ("ʲ", ""), ("\u0303", ""),
    ("ɐ", "ə"), ("ʔ", "t"), ("r", "ɹ"), ("ɬ", "l"), ("x", "k"), ("ç", "k"),
)
_AMERICAN: tuple[tuple[str, str], ...] = (
    ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɚ", "əɹ"),  # r-coloured vowels as misaki writes them
    *_SHARED,
    ("oʊ", "O"), ("əʊ", "O"), ("ɪə", "iə"), ("ː", ""), ("ɾ", "T"),
    ("e", "A"), ("o", "O"), ("a", "æ"),  # leftovers of diphthongs espeak wrote apart
)
# British voices were trained on misaki's British set: əʊ as Q, length marks kept, TRAP as a.
_BRITISH: tuple[tuple[str, str], ...] = (
    ("ɚ", "ə"), *_SHARED, ("əʊ", "Q"), ("oʊ", "Q"), ("eə", "ɛː"), ("iə", "ɪə"), ("ɾ", "t"), ("e", "A"), ("o", "Q"), ("æ", "a"),
)


def kokoro_symbols(phonemes: Sequence[str] | str, *, british: bool = False) -> str:
    """espeak-ng IPA (a string, or the phoneme list voicebank's phonemizer gives) in Kokoro's alphabet.

    ``british``: for Kokoro's British voices (espeak-ng ``en-gb`` phonemes). Symbols Kokoro
    has no id for are dropped; stress marks, spaces and clause punctuation stay.
    """
    text = unicodedata.normalize("NFC", "".join(phonemes))
    text = _SYLLABIC.sub(r"ᵊ\1", text)
    text = _DARK_L.sub("ᵊl", text)
    for old, new in _BRITISH if british else _AMERICAN:
        text = text.replace(old, new)
    return "".join(ch for ch in text if ch in VOCAB)


def token_ids(symbols: str) -> list[int]:
    """The ids of Kokoro symbols (unknown ones skipped), without the pads."""
    return [VOCAB[ch] for ch in symbols if ch in VOCAB]


def with_pads(ids: Sequence[int]) -> list[int]:
    """``0 ids… 0``: the sequence the model takes."""
    return [PAD_ID, *ids, PAD_ID]


def split_symbols(symbols: str, limit: int = MAX_TOKENS) -> list[str]:
    """Cut a symbol string longer than ``limit`` at clause marks, else at spaces, else anywhere."""
    rest = symbols
    pieces: list[str] = []
    while len(rest) > limit:
        window = rest[:limit]
        cut = _last_cut(window, CLAUSE_SYMBOLS | SENTENCE_SYMBOLS, limit // 3) or _last_cut(window, {" "}, limit // 3)
        cut = cut or limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest.strip())
    return [p for p in pieces if p]


def _last_cut(window: str, marks: set[str] | frozenset[str], floor: int) -> int:
    for i in range(len(window) - 1, floor, -1):
        if window[i] in marks:
            return i + 1
    return 0


def is_spoken(symbols: str) -> bool:
    """True when the symbols hold a sound (not only punctuation, spaces and stress marks)."""
    return any(ch not in ';:,.!?—…"()“” ˈˌ' for ch in symbols)
