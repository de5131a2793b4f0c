"""Word times from a voice's duration predictor: which phonemes each written word became, and when they are heard.

Two alignments are made before synthesis, both cheap and linear in the text:

* written words ↔ spoken words (the frontend's normalised text): equal words pair up; a
  written token that became several spoken words ("23" → "twenty-three", "$3.50" → "three
  dollars and fifty cents") keeps its written form over all of them; a short run of written
  tokens that became a different run ("3:30 pm" → "three thirty pee em") is one item with
  the written run as its text; spoken words with no clear written source keep their spoken
  form; written tokens that are not spoken (emoji, markup) are left out.
* spoken words ↔ espeak's words (the phonemes between spaces): one to one when the counts
  agree; otherwise a small dynamic programme allows espeak's joins ("of the" → ``ʌvðə``)
  and splits, judged by length. A joined espeak word's time is shared by letter count.

After the encoder has run, the duration predictor's frames per phoneme id give each
phoneme's samples (:func:`phoneme_times`), and :func:`timed_words` turns a sentence's plan
into :class:`~voicebank.audio.WordTiming` values. Punctuation is never a word.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..audio import WordTiming
from ..text.clean import PHONEME_MARKER, sanitize
from ..text.normalize import OTHER_TAG, PAUSE_MARKUP, normalize

# Phonemes that are punctuation (espeak keeps clause marks; Piper's map has these symbols)
PUNCTUATION = frozenset(".,;:!?¡¿-–—…'\"()[]«»“”‘’")
_EDGE = "\"'()[]{}«»“”‘’,;:!?…¿¡*_-–—"  # stripped from both ends of a written word
_TOKEN = re.compile(rf"{PHONEME_MARKER.pattern}|\S+")
_INITIALISM = re.compile(r"(?:\w\.){2,}")
_NOT_LENGTH = frozenset("ˈˌːˑ")  # stress and length marks: no sound of their own
_LOOKAHEAD = 24  # tokens searched on each side to find where written and spoken agree again
_MAX_RUN = 3  # a longer run of written tokens without a clear match is not one word
_JOINERS = frozenset({"the", "a", "an"})  # espeak glues these to the word before ("of the" → ʌvðə)


@dataclass(frozen=True)
class PlannedWord:
    """One word of a sentence to be timed: its text, from a fraction of one espeak word to a fraction of another."""

    text: str
    first: int  # index into WordPlan.spans
    lo: float  # the word starts this far into its first espeak word (0..1)
    last: int
    hi: float  # and ends this far into its last one


@dataclass(frozen=True)
class WordPlan:
    """The words of one synthesis unit: espeak words as phoneme ranges, and the words over them."""

    spans: tuple[tuple[int, int], ...]  # [a, b) phoneme indices of each espeak word, punctuation trimmed
    words: tuple[PlannedWord, ...]


@dataclass(frozen=True)
class PhonemeTimes:
    """Where phonemes ``[first, first + len(starts))`` of a sentence sound: samples from its first sample."""

    first: int
    starts: np.ndarray
    ends: np.ndarray

    def covers(self, a: int, b: int) -> bool:
        return self.first <= a and b <= self.first + len(self.starts)


def phoneme_times(
    durations: np.ndarray, ends: Sequence[int], lead: int, pad: int, hop: int, first: int = 0, last: int | None = None, shift: int = 0
) -> PhonemeTimes:
    """Samples where phonemes ``[first, last)`` start and end, from frames per phoneme id.

    ``ends`` is :func:`voicebank.voice.phonemes.phoneme_ids`'s second list (ids up to and
    including each phoneme's pad), ``lead`` the ids before the first phoneme (``^ _``),
    ``pad`` the ids of one pad; ``shift`` samples are added (a tail spoken from a seam).
    """
    last = len(ends) if last is None else last
    cum = np.concatenate(([0.0], np.cumsum(durations, dtype=np.float64)))
    stop = np.asarray(ends[first:last], dtype=np.int64)
    begin = np.concatenate(([ends[first - 1] if first > 0 else lead], stop[:-1])).astype(np.int64)
    own_end = np.maximum(begin, stop - pad)
    return PhonemeTimes(first, cum[begin] * hop + shift, cum[own_end] * hop + shift)


def timed_words(plan: WordPlan, times: PhonemeTimes, offset: int, rate: int, done: int = 0) -> tuple[tuple[WordTiming, ...], int]:
    """The words of ``plan`` from index ``done`` on that ``times`` covers, in seconds from the
    stream's start (``offset``: samples before this sentence); and the index to go on from."""
    out = []
    k = done
    spans = plan.spans
    while k < len(plan.words):
        w = plan.words[k]
        a, b = spans[w.first][0], spans[w.last][1]
        if not times.covers(a, b):
            break
        start = _at(times, spans[w.first], w.lo)
        end = _at(times, spans[w.last], w.hi)
        out.append(WordTiming(w.text, round((offset + start) / rate, 3), round((offset + max(end, start)) / rate, 3)))
        k += 1
    return tuple(out), k


def _at(times: PhonemeTimes, span: tuple[int, int], frac: float) -> float:
    s = float(times.starts[span[0] - times.first])
    e = float(times.ends[span[1] - 1 - times.first])
    return s + frac * (e - s)


# --------------------------------------------------------------------------- written ↔ spoken


def _display(token: str) -> str:
    """A written token as a word to show: outer punctuation off (a full stop too, but not an initialism's)."""
    if PHONEME_MARKER.fullmatch(token):
        return token
    word = token.strip(_EDGE + ".")
    after = token[token.find(word) + len(word) :] if word else ""
    if after.startswith(".") and _INITIALISM.fullmatch(word + "."):
        word += "."
    return word


def _key(token: str) -> str:
    return token.strip(_EDGE + ".").lower().replace("’", "'")


def _tokens(text: str) -> list[str]:
    """Whitespace tokens that are more than punctuation (symbols such as ``&`` or an emoji are said)."""
    found = (m.group(0) for m in _TOKEN.finditer(text))
    return [t for t in found if _key(t)]


def _written_tokens(text: str) -> list[str]:
    clean = OTHER_TAG.sub(" ", sanitize(text))
    clean = PAUSE_MARKUP.sub(lambda m: m.group(0) if m.group("phonemes") else " ", clean)
    return _tokens(clean)


class WordLinker:
    """Pairs the spoken words of a text's segments with its written words, segment by segment.

    Walks both word lists once: equal words pair up; where they differ, the nearest point
    where two words in a row agree again closes the differing runs (see the module docstring).
    """

    def __init__(self, text: str, spoken_texts: Sequence[str]) -> None:
        written = _written_tokens(text)
        self._shown = [_display(t) for t in written]
        self._w = [_key(t) for t in written]
        self._spoken: list[str] = []
        self._bounds: list[int] = [0]
        for s in spoken_texts:
            self._spoken.extend(_tokens(s))
            self._bounds.append(len(self._spoken))
        self._s = [_key(t) for t in self._spoken]
        self._label: list[tuple[int, str]] = []  # per spoken token: (item id, text)
        self._i = 0  # next written token
        self._next_id = 0
        self._segment = 0

    def next_segment(self) -> list[tuple[str, int, str]]:
        """The next segment's spoken words: ``(spoken word, item id, text to show)`` each."""
        lo, hi = self._bounds[self._segment], self._bounds[self._segment + 1]
        self._segment += 1
        while len(self._label) < hi:
            self._step()
        return [(self._spoken[j], *self._label[j]) for j in range(lo, hi)]

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _step(self) -> None:
        i, j = self._i, len(self._label)
        W, S = self._w, self._s
        if i < len(W) and W[i] == S[j]:
            self._label.append((self._new_id(), self._shown[i]))
            self._i += 1
            return
        di, dj = self._resync(i, j)
        self._block(i, di, j, dj)
        self._i += di

    def _resync(self, i: int, j: int) -> tuple[int, int]:
        """The shortest runs from ``i``/``j`` after which the words agree again, the next pair too
        (or the next written word is one the frontend rewrites, such as a number, or an end)."""
        W, S = self._w, self._s
        nw, ns = len(W), len(S)
        for total in range(1, 2 * _LOOKAHEAD + 1):
            for di in range(max(0, total - _LOOKAHEAD), min(total, _LOOKAHEAD) + 1):
                dj = total - di
                a, b = i + di, j + dj
                if a >= nw or b >= ns or W[a] != S[b]:
                    continue
                if a + 1 >= nw or b + 1 >= ns or W[a + 1] == S[b + 1] or not W[a + 1].isalpha():
                    return di, dj
        return nw - i, ns - j  # nothing agrees again: the rest is one differing run

    def _block(self, i: int, di: int, j: int, dj: int) -> None:
        """Label spoken ``[j, j + dj)``, which stands for written ``[i, i + di)``."""
        shown = self._shown[i : i + di]
        counts = [len(_tokens(normalize(t))) for t in shown] if di > 1 else [dj]
        if di > 1 and sum(counts) == dj:  # each written word alone says as many words as the run has
            for t, n in zip(shown, counts):
                self._label.extend([(self._new_id(), t)] * n)
        elif 1 <= len(shown) <= _MAX_RUN:  # one written word (or a short run) said as these words
            item = (self._new_id(), " ".join(shown))
            self._label.extend([item] * dj)
        else:  # no clear written source: the spoken words themselves
            self._label.extend((self._new_id(), _display(self._spoken[j + k])) for k in range(dj))


# --------------------------------------------------------------------------- spoken ↔ espeak


def espeak_words(phonemes: Sequence[str]) -> list[tuple[int, int]]:
    """``[a, b)`` phoneme ranges of the words espeak made (split at spaces, punctuation trimmed)."""
    out = []
    a = 0
    n = len(phonemes)
    for i in range(n + 1):
        if i < n and phonemes[i] != " ":
            continue
        s, e = a, i
        while s < e and phonemes[s] in PUNCTUATION:
            s += 1
        while e > s and phonemes[e - 1] in PUNCTUATION:
            e -= 1
        if e > s:
            out.append((s, e))
        a = i + 1
    return out


def _sound_length(phonemes: Sequence[str], span: tuple[int, int]) -> int:
    """Phonemes that make a sound of their own (not stress or length marks, nor diacritics)."""
    return sum(1 for p in phonemes[span[0] : span[1]] if p not in _NOT_LENGTH and not 0x300 <= ord(p[0]) < 0x370)


# moves (spoken words, espeak words) and what each costs before lengths are compared
_MOVES = ((1, 1, 0.0), (2, 1, 0.6), (1, 2, 1.0))


def _pair(words: Sequence[str], lengths: Sequence[int], slack: int = 0) -> list[tuple[int, int, int, int]] | None:
    """Groups ``(word0, word1, espeak0, espeak1)`` pairing spoken words with espeak words, or None.

    Each group costs its move's penalty plus how far the espeak word's sound count is from
    the written letters (|log| of the ratio); the cheapest path wins. Only paths within
    ``slack`` moves of the fewest joins or splits are searched (a band around the diagonal:
    with 0, a sentence with joins only, the usual case, costs ~0.1 ms for 60 words).
    """
    n, m = len(words), len(lengths)
    if n == m:
        return [(k, k + 1, k, k + 1) for k in range(n)]
    said = [0.0, *np.cumsum(lengths, dtype=np.float64).tolist()]
    written = [0.0, *np.cumsum([0.85 * len(w) for w in words], dtype=np.float64).tolist()]
    joins = [w.lower() in _JOINERS for w in words]
    log = math.log
    best: dict[tuple[int, int], tuple[float, int, int]] = {(0, 0): (0.0, 0, 0)}
    lo_d, hi_d = min(0, n - m) - slack, max(0, n - m) + slack  # i - j stays in this band
    for i in range(n + 1):
        for j in range(max(0, i - hi_d), min(m, i - lo_d) + 1):
            here = best.get((i, j))
            if here is None:
                continue
            for di, dj, penalty in _MOVES:
                a, b = i + di, j + dj
                if a > n or b > m or not lo_d <= a - b <= hi_d:
                    continue
                if di == 2 and joins[i + 1]:
                    penalty -= 0.3
                cost = here[0] + penalty + abs(log((said[b] - said[j] + 1.0) / (written[a] - written[i] + 1.0)))
                if cost < best.get((a, b), (math.inf,))[0]:
                    best[(a, b)] = (cost, i, j)
    if (n, m) not in best:
        return None
    groups = []
    at = (n, m)
    while at != (0, 0):
        _, i, j = best[at]
        groups.append((i, at[0], j, at[1]))
        at = (i, j)
    return groups[::-1]


def plan_words(units: Sequence[Sequence[str]], spoken: Sequence[tuple[str, int, str]]) -> list[WordPlan | None]:
    """Word plans for the synthesis units of one segment (None for all when they cannot be paired)."""
    spans = [espeak_words(u) for u in units]
    flat = [(u, s) for u, unit_spans in enumerate(spans) for s in unit_spans]
    lengths = [_sound_length(units[u], s) for u, s in flat]
    words = [w for w, _, _ in spoken]
    groups = _pair(words, lengths) or _pair(words, lengths, slack=2)  # joins and splits both: rare
    if groups is None:
        return [None] * len(units)
    # per espeak word: the spoken words on it, as (item id, text, lo, hi)
    pieces: list[list[tuple[int, str, float, float]]] = [[] for _ in flat]
    for w0, w1, e0, e1 in groups:
        if e1 - e0 == 1:
            share = [len(spoken[k][0]) for k in range(w0, w1)]
            total, acc = float(sum(share)), 0.0
            for k, n in zip(range(w0, w1), share):
                pieces[e0].append((spoken[k][1], spoken[k][2], acc / total, (acc + n) / total))
                acc += n
        else:
            for e in range(e0, e1):
                pieces[e].append((spoken[w0][1], spoken[w0][2], 0.0, 1.0))
    plans: list[WordPlan | None] = []
    index = 0
    for unit_spans in spans:
        words: list[PlannedWord] = []
        ids: list[int] = []
        for local in range(len(unit_spans)):
            for item, text, lo, hi in pieces[index + local]:
                if ids and ids[-1] == item:  # the same written word goes on
                    prev = words[-1]
                    words[-1] = PlannedWord(prev.text, prev.first, prev.lo, local, hi)
                else:
                    words.append(PlannedWord(text, local, lo, local, hi))
                    ids.append(item)
        index += len(unit_spans)
        plans.append(WordPlan(tuple(unit_spans), tuple(words)))
    return plans
