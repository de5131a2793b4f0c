"""The whole text frontend: written text → speech and pause segments.

Pause markup (case-insensitive):

* ``[pause]`` — a pause of ``TextOptions.default_pause`` (0.5 s);
* ``[pause 2s]``, ``[pause 1.5]``, ``[pause 300ms]``, ``[pause: 2 seconds]``
  (``[break ...]`` works too);
* SSML-style ``<break/>``, ``<break time="500ms"/>``, ``<break time="2s"/>``,
  ``<break strength="strong"/>`` (none 0, x-weak 0.1, weak 0.25, medium 0.5,
  strong 0.75, x-strong 1.2 seconds).

Other ``<tags>`` (``<speak>``, ``<p>``, ...) are removed; their text is read.
A blank line between paragraphs gives ``TextOptions.paragraph_pause``.
Pauses are capped at ``TextOptions.max_pause``; touching pauses add up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .clean import sanitize
from .normalize import DEFAULT_OPTIONS, OTHER_TAG, PAUSE_MARKUP, TextOptions, normalize_sentences
from .split import chunk, sentences_of_paragraph, split_paragraphs

if TYPE_CHECKING:
    from .lexicon import Lexicon


@dataclass(frozen=True)
class Segment:
    """One piece of the spoken result: a normalised sentence (or part of one), or a silence."""

    kind: str  # "speech" or "pause"
    text: str = ""  # normalised words for "speech"; "" for "pause"
    seconds: float = 0.0  # length of a "pause"; 0.0 for "speech"


_STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 0.75, "x-strong": 1.2}
_TIME_ATTR = re.compile(r"time\s*=\s*[\"']?\s*([0-9]{1,6}(?:\.[0-9]{1,6})?)\s*(ms|s)?", re.IGNORECASE)
_STRENGTH_ATTR = re.compile(r"strength\s*=\s*[\"']?\s*(x-weak|x-strong|none|weak|medium|strong)", re.IGNORECASE)
_PARAGRAPH = object()  # marks a paragraph break between text pieces


def segments(
    text: str,
    *,
    lexicon: Lexicon | None = None,
    max_chars: int = 400,
    options: TextOptions | None = None,
) -> list[Segment]:
    """Written text → speech and pause segments, ready for an engine.

    Each speech segment is one normalised sentence, or a piece of one cut at
    clause boundaries or spaces so that none is longer than ``max_chars``.
    Empty, whitespace-only or control-only text gives ``[]``. Linear in the
    input's length; never raises for any str.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    options = options or DEFAULT_OPTIONS
    # The plan: a list of sentence strings (to normalise together), pause
    # lengths (float) and paragraph marks.
    plan: list[object] = []
    sentences: list[str] = []
    clean = OTHER_TAG.sub(" ", sanitize(text))
    pos = 0
    for m in PAUSE_MARKUP.finditer(clean):
        if m.group("phonemes"):
            continue  # inline phonemes are text; the normaliser protects them
        _plan_text(clean[pos : m.start()], plan, sentences)
        pos = m.end()
        plan.append(_pause_seconds(m, options))
    _plan_text(clean[pos:], plan, sentences)

    spoken = iter(normalize_sentences(sentences, lexicon=lexicon, options=options))
    out: list[Segment] = []
    pending_paragraph = False
    for item in plan:
        if item is _PARAGRAPH:
            pending_paragraph = bool(out) and out[-1].kind == "speech"
        elif isinstance(item, float):
            _add_pause(out, item, options)
            pending_paragraph = False
        else:
            pieces = chunk(next(spoken), max_chars)
            if pieces and pending_paragraph and options.paragraph_pause > 0:
                _add_pause(out, options.paragraph_pause, options)
            if pieces:
                pending_paragraph = False
            out.extend(Segment("speech", piece) for piece in pieces)
    return out


def _plan_text(text: str, plan: list[object], sentences: list[str]) -> None:
    starts_paragraph = bool(re.match(r"\s*\n[ \t]*\n", text))
    for i, paragraph in enumerate(split_paragraphs(text)):
        if i or starts_paragraph:
            plan.append(_PARAGRAPH)
        for sentence in sentences_of_paragraph(paragraph):
            plan.append(sentence)
            sentences.append(sentence)


def _pause_seconds(m: re.Match[str], options: TextOptions) -> float:
    """Seconds for one pause markup match."""
    attrs = m.group("attrs")
    if attrs is None:  # [pause ...]
        if m.group("n") is None:
            return float(options.default_pause)
        value = float(m.group("n"))
        return value / 1000 if (m.group("unit") or "").lower() == "ms" else value
    time = _TIME_ATTR.search(attrs)
    if time:
        value = float(time.group(1))
        return value / 1000 if (time.group(2) or "").lower() == "ms" else value
    strength = _STRENGTH_ATTR.search(attrs)
    if strength:
        return _STRENGTHS[strength.group(1).lower()]
    return float(options.default_pause)


def _add_pause(out: list[Segment], seconds: float, options: TextOptions) -> None:
    if out and out[-1].kind == "pause":
        seconds += out.pop().seconds
    seconds = min(seconds, options.max_pause)
    if seconds > 0:
        out.append(Segment("pause", seconds=round(seconds, 3)))
