"""The text frontend: what a voice should say for a written text.

* :func:`segments` — the whole frontend: pause markup, sentences,
  normalisation, length-limited speech pieces.
* :func:`normalize` — written form → spoken English words.
* :func:`split_sentences`, :func:`clauses` — the splitting on their own.
* :class:`Lexicon` — the user's own pronunciations (respellings or phonemes).

Pure Python (num2words is the only dependency); nothing is loaded at import.
"""

from .clean import PHONEME_MARKER
from .frontend import Segment, segments
from .lexicon import Lexicon, LexiconEntry, LexiconError
from .normalize import TextOptions, normalize
from .split import clauses, split_sentences

__all__ = [
    "PHONEME_MARKER",
    "Lexicon",
    "LexiconEntry",
    "LexiconError",
    "Segment",
    "TextOptions",
    "clauses",
    "normalize",
    "segments",
    "split_sentences",
]
