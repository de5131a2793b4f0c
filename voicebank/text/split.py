"""Sentences, clauses and chunks.

:func:`split_sentences` works on written text, before normalisation: it
knows that the dot in "Dr. Smith", "3.5", "e.g." or "U.S. Army" does not
end a sentence, keeps closing quotes with their sentence, and treats a blank
line as a paragraph end. :func:`clauses` and :func:`chunk` work on
normalised text, to get a fast first piece and to respect a length limit.
"""

from __future__ import annotations

import bisect
import re

from .abbrev import BREAK_UNLESS_NUMBER, MAYBE_BREAK_AFTER, NO_BREAK_AFTER
from .clean import PHONEME_MARKER, sanitize

# Words that typically open a sentence: after an ambiguous abbreviation
# ("on Elm St. He said") they tip the balance towards a sentence end.
SENTENCE_STARTERS = {
    "i", "the", "a", "an", "he", "she", "it", "we", "they", "you", "this", "that",
    "these", "those", "there", "then", "but", "and", "so", "or", "if", "when", "what",
    "why", "how", "who", "where", "my", "our", "his", "her", "its", "their", "your",
    "in", "on", "at", "after", "before", "now", "yes", "no", "please", "thank",
    "thanks", "hello", "hi", "let", "let's", "is", "are", "was", "were", "do", "does",
    "did", "can", "could", "will", "would", "should", "also", "however", "today",
    "tomorrow", "yesterday", "i'm", "it's", "we're", "they're", "he's", "she's",
}  # fmt: skip

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"(?<![ \t])[ \t]*\n[ \t]*")
_BULLET = re.compile(r"(?:[-*•◦‣]|[0-9]{1,3}[.)])[ \t]")
# Sentence-final punctuation, any closing quotes, then a space. (sanitize()
# has already turned "。" into ". " and full-width "！？" into "!?".)
_CANDIDATE = re.compile(r"(?<![.!?…])(?P<p>[.!?…]+)(?P<q>[\"')\]}]*)(?=\s)")
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")
_OPENERS = "\"'([{"
_SHORT_LINE = 50
STREET_TITLES = {"st", "dr"}  # "Saint"/"Doctor" before a name, "Street"/"Drive" after one
# After "a.m."/"p.m." a capitalised word opens a new sentence ("at 10 a.m. Take two"),
# unless it belongs to the time: "9 a.m. Monday", "3 p.m. Eastern", "10 a.m. EST".
TIME_FOLLOWERS = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun", "eastern", "central",
    "mountain", "pacific", "atlantic", "alaska", "hawaii", "local", "standard", "daylight",
    "time", "gmt", "utc", "bst", "cet", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt",
    "et", "ct", "mt", "pt", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "tomorrow", "tonight", "today",
}  # fmt: skip
_WINDOW = 40


def split_paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs of already sanitised text, non-empty, stripped."""
    return [p.strip() for p in _PARAGRAPH.split(text) if p.strip()]


def split_sentences(text: str) -> list[str]:
    """Split written text into sentences (stripped, non-empty, in order)."""
    out: list[str] = []
    for paragraph in split_paragraphs(sanitize(text)):
        out.extend(sentences_of_paragraph(paragraph))
    return out


def sentences_of_paragraph(paragraph: str) -> list[str]:
    """Sentences of one sanitised paragraph."""
    out: list[str] = []
    for block in _line_blocks(paragraph):
        start = 0
        for m in _CANDIDATE.finditer(block):
            if _ends_here(block, m):
                sentence = block[start : m.end()].strip()
                if sentence:
                    out.append(sentence)
                start = m.end()
        rest = block[start:].strip()
        if rest:
            out.append(rest)
    return out


def _line_blocks(paragraph: str) -> list[str]:
    """Join wrapped lines; keep short lines and list items apart."""
    lines = _LINE.split(paragraph)
    blocks = [lines[0]]
    for previous, line in zip(lines, lines[1:]):
        starts_anew = line[:1].isupper() or line[:1].isdigit()
        if _BULLET.match(line) or (len(previous) < _SHORT_LINE and starts_anew):
            blocks.append(line)
        else:
            blocks[-1] += " " + line
    return blocks


def _next_word(text: str, pos: int) -> str:
    rest = text[pos : pos + _WINDOW].lstrip()
    word = rest.split(None, 1)[0] if rest else ""
    return word.lstrip(_OPENERS)


def _is_initial(token: str) -> bool:
    """ "u.s", "j", "e.g" (lower-cased, final dot removed): letters with dots between."""
    return len(token) <= 12 and (len(token) == 1 or "." in token) and bool(_INITIALISM.fullmatch(token))


def _is_opener(word: str) -> bool:
    return word.lower().rstrip(".,;:!?\"')") in SENTENCE_STARTERS


def _ends_here(text: str, m: re.Match[str]) -> bool:
    """Does the punctuation matched by _CANDIDATE end a sentence?"""
    after = _next_word(text, m.end())
    if not after:
        return True
    first = after[0]
    punct = m.group("p")
    if "?" in punct or "!" in punct:
        return not (m.group("q") and first.islower())
    if first.islower():
        return False
    if punct != ".":  # an ellipsis: a break only before a new capitalised sentence
        return first.isupper() or first.isdigit()
    before = text[max(0, m.start() - _WINDOW) : m.start()].rsplit(None, 2)
    token = before[-1].lstrip(_OPENERS).lower() if before else ""
    if m.group("q"):
        return True  # 'He said "no." Then ...': the quote closes the sentence
    if token.endswith(("a.m", "p.m")):
        return after.lower().rstrip(".,;:!?\"')") not in TIME_FOLLOWERS
    if token in NO_BREAK_AFTER:
        return False
    if token in BREAK_UNLESS_NUMBER:
        return not first.isdigit()
    if token in STREET_TITLES:
        # "on Elm St. He said": a street name before and an opener after.
        name_before = len(before) > 1 and (before[-2][:1].isupper() or before[-2][:1].isdigit())
        return name_before and _is_opener(after)
    if token in MAYBE_BREAK_AFTER or (token and _is_initial(token)):
        return _is_opener(after)
    return True


# --- clauses and chunks --------------------------------------------------------

_CLAUSE_CUT = re.compile(
    r"(?<=[,;:])\s+|(?<!\s)\s+(?=(?:and|but|or|so|because|which|while|although|though|whereas|unless)\s)"
)
_TOKEN = re.compile(rf"{PHONEME_MARKER.pattern}|\S+")


def clauses(sentence: str, *, min_words: int = 3) -> list[str]:
    """Split a normalised sentence at clause boundaries for a fast first chunk.

    Cuts after commas, semicolons and colons and before conjunctions ("and",
    "but", "because", ...); a piece shorter than ``min_words`` words is joined
    to its neighbour, so "salt and pepper" stays whole. The pieces are
    non-empty and, joined with spaces, give back the sentence's words in order.
    """
    sentence = sentence.strip()
    if not sentence:
        return []
    markers = [(m.start(), m.end()) for m in PHONEME_MARKER.finditer(sentence)] if "[[" in sentence else []
    marker_starts = [a for a, _ in markers]
    pieces: list[str] = []
    start = 0
    for m in _CLAUSE_CUT.finditer(sentence):
        i = bisect.bisect_left(marker_starts, m.start()) - 1
        if i >= 0 and markers[i][1] > m.start():
            continue  # inside a phoneme marker
        piece = sentence[start : m.start()].strip()
        if piece:
            pieces.append(piece)
        start = m.end()
    tail = sentence[start:].strip()
    if tail:
        pieces.append(tail)
    return _merge_short(pieces, min_words)


def _merge_short(pieces: list[str], min_words: int) -> list[str]:
    merged: list[str] = []
    for piece in pieces:
        if merged and len(merged[-1].split()) < min_words:
            merged[-1] += " " + piece
        else:
            merged.append(piece)
    if len(merged) > 1 and len(merged[-1].split()) < min_words:
        last = merged.pop()
        merged[-1] += " " + last
    return merged


def chunk(sentence: str, max_chars: int) -> list[str]:
    """Break a normalised sentence into pieces of at most ``max_chars`` characters.

    Clause boundaries are preferred, then spaces; a single word longer than
    the limit is cut (a phoneme marker is never cut unless it alone is over
    the limit).
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    sentence = sentence.strip()
    if len(sentence) <= max_chars:
        return [sentence] if sentence else []
    out: list[str] = []
    for piece in clauses(sentence, min_words=1):
        if len(piece) <= max_chars:
            _pack(out, piece, max_chars)
            continue
        for token in (m.group(0) for m in _TOKEN.finditer(piece)):
            while len(token) > max_chars:
                _pack(out, token[:max_chars], max_chars)
                token = token[max_chars:]
            _pack(out, token, max_chars)
    return out


def _pack(out: list[str], piece: str, max_chars: int) -> None:
    if out and len(out[-1]) + 1 + len(piece) <= max_chars:
        out[-1] += " " + piece
    else:
        out.append(piece)
