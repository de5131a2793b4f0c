"""Written text → spoken English words, sentence by sentence.

The rules run in a fixed order, most specific first, over all sentences of a
text at once (joined by a private marker, so the cost is a few regex passes
over the whole input rather than per sentence):

1. inline phonemes ``[[...]]`` and lexicon phoneme entries are hidden from
   the rules; lexicon respellings replace their words (so a user's entry
   wins over every built-in rule);
2. letters of scripts the voice cannot read are dropped (``scripts``; the
   caller learns what through :func:`voicebank.text.unreadable`); web and
   e-mail addresses, text emoticons;
3. "123 Main St.", "WW2", "ext. 12" while their digits are digits; clock
   times and dates;
4. phone numbers; readings and identifiers ("BP 120/80", "7/10", card and
   account numbers, digit groups); money, percentages, decades, units;
5. ordinals, fractions, ranges, years, plain numbers;
6. Roman numerals, abbreviations, titles and initialisms;
7. symbols, emoji;
8. a tidy-up that leaves only words, apostrophes, hyphens inside words,
   the sentence punctuation ``. , ? ! ; :`` and phoneme markers.

Each stage only sees what earlier stages left, so "$3.50" is money before
"3.50" could be read as a plain number. The rule tables live in the modules
named above; this module only orders them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from ..errors import UsageError
from . import abbrev, dates, measures, numeric, readings, scripts, symbols, web
from .clean import PHONEME_MARKER, SENTENCE_SEP, Protected, sanitize
from .context import Rule, apply_rules
from .split import sentences_of_paragraph, split_paragraphs

if TYPE_CHECKING:
    from .lexicon import Lexicon

OPTIONS_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TextOptions:
    """Per-voice or per-call choices for the text frontend."""

    emoji: str = "common"  # "common": everyday emoji named, others dropped; "name": all named; "drop": none
    default_pause: float = 0.5  # seconds for "[pause]" and <break/> with no time given
    paragraph_pause: float = 0.6  # seconds of silence between paragraphs (blank line); 0 for none
    max_pause: float = 30.0  # longest single pause; longer requests are shortened to this

    def __post_init__(self) -> None:
        if self.emoji not in symbols.EMOJI_MODES:
            raise UsageError(f"emoji must be one of {', '.join(symbols.EMOJI_MODES)}, not {self.emoji!r}")
        for name in ("default_pause", "paragraph_pause", "max_pause"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 3600:
                raise UsageError(f"{name} must be a number of seconds from 0 to 3600, not {value!r}")

    def to_dict(self) -> dict[str, object]:
        return {"schema_version": OPTIONS_SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TextOptions:
        """Build from a dict; unknown keys are ignored so newer files still load."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]


DEFAULT_OPTIONS = TextOptions()

# "[pause]", "[pause 2s]", <break time="500ms"/>; and inline phonemes,
# matched first so "[[...]]" is never taken for markup.
PAUSE_MARKUP = re.compile(
    rf"(?P<phonemes>{PHONEME_MARKER.pattern})"
    r"|\[[ \t]*(?:pause|break)(?:[ \t]*[:=]?[ \t]*(?P<n>[0-9]{1,6}(?:\.[0-9]{1,6})?)[ \t]*(?P<unit>ms|s|secs?|seconds?)?)?[ \t]*\]"
    r"|<[ \t]*break\b(?P<attrs>[^<>]{0,200})>",
    re.IGNORECASE,
)
# Any other SSML-ish or HTML tag: removed, its text is read.
OTHER_TAG = re.compile(r"</?(?!break\b)[A-Za-z][\w:.-]{0,30}(?:\s[^<>]{0,200})?/?>", re.IGNORECASE)
_HAS_DIGIT = re.compile(r"[0-9]")


def normalize(text: str, *, lexicon: Lexicon | None = None, options: TextOptions | None = None) -> str:
    """Written text → spoken-form English words.

    Sentence punctuation (. , ? ! ; :) is kept for prosody; lexicon
    respellings are applied and phoneme entries appear as ``[[phonemes]]``.
    Pause markup is removed (use :func:`voicebank.text.segments` to get it
    as silences). Never raises for any str.
    """
    clean = PAUSE_MARKUP.sub(_markup_to_text, OTHER_TAG.sub(" ", sanitize(text)))
    sentences = [s for p in split_paragraphs(clean) for s in sentences_of_paragraph(p)]
    return " ".join(s for s in normalize_sentences(sentences, lexicon=lexicon, options=options) if s)


def _markup_to_text(m: re.Match[str]) -> str:
    return m.group("phonemes") or " "


def normalize_sentences(
    sentences: list[str], *, lexicon: Lexicon | None = None, options: TextOptions | None = None
) -> list[str]:
    """Normalise sanitised sentences; the result has one (maybe empty) string per input."""
    if not sentences:
        return []
    options = options or DEFAULT_OPTIONS
    protected = Protected()
    joined = f" {SENTENCE_SEP} ".join(s.replace(SENTENCE_SEP, " ") for s in sentences)
    if "[[" in joined:
        joined = PHONEME_MARKER.sub(lambda m: protected.hide(m.group(1).strip()), joined)
    if lexicon is not None:
        joined = lexicon.substitute(joined, protected)
    for rules in _pipeline(options.emoji, bool(_HAS_DIGIT.search(joined))):
        joined = apply_rules(joined, rules)
    return [protected.restore(symbols.finish_sentence(part)) for part in joined.split(SENTENCE_SEP)]


def _pipeline(emoji: str, digits: bool) -> list[list[Rule]]:
    emoticons, emoji_rule = symbols.emoji_rules(emoji)
    stages: list[list[Rule]] = [scripts.RULES, web.RULES, [emoticons]]
    if digits:
        stages += [
            abbrev.EARLY_RULES,
            dates.RULES,
            numeric.RULES,
            readings.RULES,
            measures.MONEY_RULES,
            numeric.DECADE_RULES,
            measures.UNIT_RULES,
            numeric.LATE_RULES,
        ]
    stages += [abbrev.RULES, symbols.RULES, [emoji_rule], symbols.TIDY]
    return stages
