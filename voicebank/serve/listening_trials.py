"""A listening session's trials (drawn from its seed) and its answers (appended durably to the test's listening.jsonl).

A session is only its id: the trials are drawn again from it on every request, so the
server keeps no state and a session survives a restart. Each comparison gets the same
number of trials; within one, which side is real and which side X repeats are balanced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..durable import fsync_dir, storage_error, write_all
from ..errors import RequestError
from .listening_tests import ListeningTest
from .recorder_uploads import storable

ANSWERS_FILE = "listening.jsonl"
MAX_PER_COMPARISON = 10  # trials per comparison in one session: each held-out sentence once, up to this
SIDES = ("a", "b", "x")
_SESSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Trial:
    """One A/B/X trial: a sentence, the real take against one voice, and where each sits."""

    number: int  # from 1
    sentence: str
    text: str
    comparison: str
    voice: str  # the synthetic side's voice
    real_is_a: bool
    x_is_a: bool

    def is_real(self, side: str) -> bool:
        """Whether ``side`` (a, b or x) plays the person's real take."""
        a = side == "a" or (side == "x" and self.x_is_a)
        return a == self.real_is_a

    def public(self, base: str) -> dict[str, Any]:
        """What the page may know: the sentence and where to fetch A, B and X (not which is which)."""
        here = f"{base}/trials/{self.number}"
        return {"number": self.number, "text": self.text, "answer": f"{here}/answer",
                "audio": {side: f"{here}/{side}.wav" for side in SIDES}}


def new_session() -> str:
    return secrets.token_urlsafe(16)


def check_session(session: str) -> str:
    if not _SESSION.match(session):
        raise RequestError("A session id is 16-64 letters, digits, '-' or '_'; start a new session.", status=404,
                           param="session", code="no_session")
    return session


def session_trials(test: ListeningTest, session: str) -> list[Trial]:
    """The trials of ``session`` on ``test``, in order: the same every time for the same session."""
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{test.id}\0{session}".encode()).digest()[:8], "big"))
    per = min([MAX_PER_COMPARISON, *(len(s.audio) for s in test.sources)])
    drawn = []
    for source in test.sources:
        sentences = rng.sample(sorted(source.audio), per)
        real_a, x_a = _balanced(rng, per), _balanced(rng, per)
        drawn += [(sid, source.comparison, source.voice, ra, xa) for sid, ra, xa in zip(sentences, real_a, x_a)]
    rng.shuffle(drawn)
    return [Trial(n, sid, test.texts.get(sid, ""), comp, voice, ra, xa)
            for n, (sid, comp, voice, ra, xa) in enumerate(drawn, start=1)]


def _balanced(rng: random.Random, n: int) -> list[bool]:
    flags = [i % 2 == 0 for i in range(n)]
    rng.shuffle(flags)
    return flags


def trial_of(test: ListeningTest, session: str, number: int) -> Trial:
    trials = session_trials(test, session)
    if not 1 <= number <= len(trials):
        raise RequestError(f"This session has trials 1 to {len(trials)}, not {number}.", status=404, param="trial",
                           code="no_trial")
    return trials[number - 1]


# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """What a listener said about one trial."""

    answer: str  # "A" or "B": which one X is
    more_like: str | None  # "A", "B" or None: which sounds more like the person
    listener: str | None  # free text, optional


def parse_answer(data: dict[str, Any]) -> Answer:
    """The answer in a request body; a :class:`RequestError` naming the field otherwise."""
    answer = data.get("answer")
    if answer not in ("A", "B"):
        raise RequestError(f"'answer' must be \"A\" or \"B\" (which one X is), not {answer!r}.", param="answer")
    more_like = data.get("more_like")
    if more_like not in (None, "A", "B"):
        raise RequestError(f"'more_like' must be \"A\", \"B\" or null, not {more_like!r}.", param="more_like")
    listener = data.get("listener")
    if listener is not None and (not isinstance(listener, str) or len(listener) > 100
                                 or any(ord(c) < 32 for c in listener) or not storable(listener)):
        raise RequestError("'listener' must be a name of at most 100 characters on one line, or null.", param="listener")
    return Answer(answer, more_like, (listener or "").strip() or None)


def answer_record(test: ListeningTest, session: str, trial: Trial, given: Answer) -> dict[str, Any]:
    """The line written for an answer: who, which trial, what each side was, the answer and whether it was right."""
    sides = ("real", trial.comparison) if trial.real_is_a else (trial.comparison, "real")
    x = "A" if trial.x_is_a else "B"
    picked = None
    if given.more_like is not None:
        picked = "real" if trial.is_real(given.more_like.lower()) else trial.comparison
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "listener": given.listener,
        "session": session, "trial": trial.number, "sentence": trial.sentence, "comparison": trial.comparison,
        "voice": trial.voice, "a": sides[0], "b": sides[1], "x": x, "answer": given.answer,
        "correct": given.answer == x, "more_like": given.more_like, "picked": picked, "test_voice": test.voice,
    }


class AnswerBook:
    """The answers of every test, one ``listening.jsonl`` per evaluation folder; one writer at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def read(self, test: ListeningTest) -> list[dict[str, Any]]:
        return read_answers(test.folder / ANSWERS_FILE)

    def add(self, test: ListeningTest, record: dict[str, Any]) -> int:
        """Append ``record`` (durably) unless its trial was answered in its session; the session's answers so far."""
        path = test.folder / ANSWERS_FILE
        with self._lock:
            mine = [r for r in read_answers(path) if r.get("session") == record["session"]]
            if any(r.get("trial") == record["trial"] for r in mine):
                raise RequestError(f"Trial {record['trial']} of this session is answered already; go on to the next.",
                                   status=409, param="trial", code="already_answered")
            append_line(path, record)
            return len(mine) + 1


def read_answers(path: Path) -> list[dict[str, Any]]:
    """The answers in ``path`` (none when it is missing); a torn or damaged line is skipped."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise storage_error(exc, path, action="read", what="the listening answers") from exc
    found = []
    for line in lines:
        with contextlib.suppress(ValueError):
            item = json.loads(line)
            if isinstance(item, dict):
                found.append(item)
    return found


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it; a failed write is cut back off, and a torn last line is ended first."""
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        fd = os.open(str(path), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise storage_error(exc, path, what="the listening answers") from exc
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a line torn by a crash stays alone, unreadable, and this one reads
        try:
            write_all(fd, line)
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                os.fsync(fd)
            raise storage_error(exc, path, what="the listening answers", after="The answers before are safe.") from exc
    finally:
        os.close(fd)
    if size == 0:
        fsync_dir(path.parent)
