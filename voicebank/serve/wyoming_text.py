"""Text that arrives in pieces (an LLM's tokens), handed out as sentences, or clauses, as soon as each is complete.

A sentence is complete once the text after it shows it ended: its final punctuation and the
whitespace after it have arrived, and the splitter (:func:`voicebank.text.split.split_sentences`,
which knows "Dr. Smith" and "3.5") would end it there whatever capitalised word came next.
The trailing word still arriving is never judged. A clause (up to a comma, semicolon or colon,
three words at least) is handed out only when asked for: the speaker asks when the listener's
audio is about to run out, so a fast writer gives whole sentences and a slow one clauses.
"""

from __future__ import annotations

import re

from ..text.split import clauses, split_sentences

_PROBE = "Zq"  # a capitalised word no rule treats as a sentence opener: a break before it is a break before anything
_CLAUSE_END = (",", ";", ":")
MAX_PENDING_CHARS = 2000  # text without any sentence end is spoken once it is this long (a runaway stream)
_LAST_SPACE = re.compile(r"\s(?=\S*$)")


class IncomingText:
    """The unspoken text of one ``synthesize-start`` … ``synthesize-stop`` stream."""

    def __init__(self) -> None:
        self._pending = ""

    @property
    def pending(self) -> str:
        return self._pending

    def add(self, text: str) -> list[str]:
        """Take one piece of text; return the sentences it completed, in order."""
        self._pending += text
        head, tail = self._split_last_word()
        if not head.strip():
            return []
        pieces = split_sentences(f"{head} {_PROBE}")
        rest = pieces[-1][: -len(_PROBE)].rstrip()
        done = pieces[:-1]
        if len(rest) > MAX_PENDING_CHARS:
            done, rest = done + [rest], ""
        self._pending = f"{rest}{tail}" if rest else tail.lstrip()
        return done

    def take_clause(self) -> str | None:
        """The complete clauses at the start of the unfinished sentence, taken out of it; None if there are none."""
        head, tail = self._split_last_word()
        pieces = clauses(f"{head} {_PROBE} {_PROBE} {_PROBE}")
        ends = [i for i, piece in enumerate(pieces[:-1]) if piece.endswith(_CLAUSE_END)]
        if not ends:
            return None
        clause = " ".join(pieces[: ends[-1] + 1])
        rest = " ".join(pieces[ends[-1] + 1 :])[: -len(f" {_PROBE} {_PROBE} {_PROBE}")].strip()
        self._pending = f"{rest}{tail}" if rest else tail.lstrip()
        return clause

    def finish(self) -> list[str]:
        """The sentences left when the stream ends (the last may lack its final punctuation)."""
        rest, self._pending = self._pending, ""
        return split_sentences(rest) if rest.strip() else []

    def _split_last_word(self) -> tuple[str, str]:
        """The text up to its last whitespace (whole words) and the rest (whitespace + the word still arriving)."""
        m = _LAST_SPACE.search(self._pending)
        if m is None:
            return "", self._pending
        return self._pending[: m.start()], self._pending[m.start() :]
