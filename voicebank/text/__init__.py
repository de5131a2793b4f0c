"""The text frontend: what a voice should say for a written text.

* :func:`segments` — the whole frontend: pause markup, sentences,
  normalisation, length-limited speech pieces.
* :func:`normalize` — written form → spoken English words.
* :func:`split_sentences`, :func:`clauses` — the splitting on their own.
* :class:`Lexicon` — the user's own pronunciations (respellings or phonemes).
* :func:`unreadable` — what the frontend skips (scripts the voice cannot read), to tell the person.

Pure Python (num2words is the only dependency); nothing is loaded at import.
"""

from .clean import PHONEME_MARKER
from .frontend import Segment, segments
from .lexicon import Lexicon, LexiconEntry, LexiconError
from .normalize import TextOptions, normalize
from .scripts import TextWarning, unreadable
from .split import clauses, split_sentences

__all__ = [
    "PHONEME_MARKER",
    "Lexicon",
    "LexiconEntry",
    "LexiconError",
    "Segment",
    "TextOptions",
    "TextWarning",
    "clauses",
    "normalize",
    "segments",
    "split_sentences",
    "unreadable",
]
