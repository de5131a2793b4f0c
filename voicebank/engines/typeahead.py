"""Type-ahead synthesis: speak while the user is still typing, play at Enter.

The prompt calls :meth:`TypeAhead.update` with the whole current line on every keystroke;
a background thread then synthesizes what is already settled:

* every sentence followed by more text, and the last one as soon as it ends with
  ``.``, ``!`` or ``?`` (a guess: it is dropped if the user types on);
* the first clause of the sentence being typed, once its ``,``/``;``/``:`` is typed
  (spoken alone, it gives Enter a fast first chunk while the whole sentence is encoded;
  the rest of the sentence then comes from the whole-sentence synthesis);
* optionally the unfinished line itself after the user pauses (``idle_after`` seconds).

Work is keyed by phonemes, so an edit that does not change a sentence keeps its audio,
and work for text that is no longer there is cancelled between windows.  At Enter,
:meth:`TypeAhead.speak` plays what is ready and synthesizes the rest.

Responsible for deciding what to compute ahead and reusing it; not for playing audio,
nor for reading keys (the prompt does that).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..audio import AudioChunk, Pacing
from .base import SynthesisOptions
from .streaming import PlaybackClock

_SENTENCE_END = frozenset(".!?")
_CLAUSE_MARKS = frozenset(",;:")
_MIN_HEAD = 15  # phonemes; a shorter first clause would end before the whole sentence is ready


class _Job:
    """One unit computed ahead: a whole sentence or a first clause (keyed by its phonemes)."""

    def __init__(self, engine: Any, phonemes: tuple[str, ...], options: SynthesisOptions) -> None:
        self.engine = engine
        self.phonemes = phonemes
        self.options = options
        self.synth: Any = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self.started = False

    @property
    def encoded(self) -> bool:
        return self.synth is not None

    def ensure_encoded(self) -> Any:
        """Encode once (whoever comes first); others wait for that result."""
        with self._lock:
            if self.synth is None:
                self.started = True
                try:
                    self.synth = self.engine.open_sentence(self.phonemes, self.options)
                except Exception as exc:
                    self.error = exc
                    raise
            return self.synth

    def cancel(self) -> None:
        if self.synth is not None:
            self.synth.cancelled = True


class TypeAhead:
    """Synthesizes completed sentences and clauses in the background while text is typed.

    Thread-safe: ``update`` may be called from the input thread while ``speak`` runs in
    another.  Use as a context manager or call :meth:`close` to stop the worker thread.

    Args:
        engine: a :class:`~.piper_onnx.PiperOnnxEngine` (or an engine with the same
            ``plan``/``open_sentence``/``seam_frame`` methods).
        options: synthesis options for everything this object speaks.
        idle_after: seconds without a keystroke after which the unfinished line is
            synthesized too (None: never).
        max_cached: how many computed units to keep for reuse after edits.
    """

    def __init__(
        self,
        engine: Any,
        options: SynthesisOptions | None = None,
        *,
        idle_after: float | None = 0.8,
        max_cached: int = 32,
    ) -> None:
        self.engine = engine
        self.options = options or SynthesisOptions()
        self.idle_after = idle_after
        self.max_cached = max(4, int(max_cached))
        self._jobs: OrderedDict[tuple[str, tuple[str, ...]], _Job] = OrderedDict()
        self._cond = threading.Condition()
        self._line = ""
        self._final = False
        self._dirty = False
        self._last_update = time.monotonic()
        self._closed = False
        self._clauses = bool(getattr(engine, "can_split_sentences", False))
        self.last_speak: dict[str, Any] = {}
        self.errors: list[str] = []
        self._worker = threading.Thread(target=self._run, name="voicebank-typeahead", daemon=True)
        self._worker.start()

    # ---- the prompt's side ------------------------------------------------------------

    def update(self, line: str) -> None:
        """The current text of the line (call on every keystroke; returns at once)."""
        with self._cond:
            if line == self._line and not self._final:
                return
            self._line = line
            self._final = False
            self._dirty = True
            self._last_update = time.monotonic()
            self._cond.notify_all()

    def speak(self, line: str, pacing: Pacing | None = None) -> Iterator[AudioChunk]:
        """Speak the finished line: audio computed ahead first, the rest synthesized now.

        ``pacing``: the consumer's (see :meth:`voicebank.player.Player.pacing`).
        """
        from .piper_onnx import emit_chunks

        with self._cond:
            # a queued line may start while the next one is being typed: leave that one's work alone
            if not self._line.strip() or self._line == line:
                self._line = line
                self._final = True
                self._dirty = True
                self._cond.notify_all()
        # per sentence, what was there at Enter: audio ("ready"), only the latent ("encoded"),
        # a typed-ahead first clause ("clause_head"), or nothing ("fresh")
        info = {"sentences": 0, "ready": 0, "encoded": 0, "clause_head": 0, "fresh": 0}
        self.last_speak = info
        units = self.engine.plan(line)

        def audio_for(
            phonemes: Sequence[str], options: SynthesisOptions, clock: PlaybackClock
        ) -> Iterator[tuple[np.ndarray, bool]]:
            info["sentences"] += 1
            return self._sentence_audio(tuple(phonemes), info, clock)

        yield from emit_chunks(units, audio_for, self.engine.sample_rate, self.options, pacing)

    def close(self) -> None:
        """Stop the background thread and drop all work."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=5.0)
        for job in list(self._jobs.values()):
            job.cancel()
        self._jobs.clear()

    def __enter__(self) -> TypeAhead:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def ready(self) -> dict[str, int]:
        """How many units are encoded / fully rendered right now (for tests and benchmarks)."""
        with self._cond:
            jobs = list(self._jobs.values())
        return {
            "jobs": len(jobs),
            "encoded": sum(j.encoded for j in jobs),
            "finished": sum(bool(j.encoded and j.synth.finished) for j in jobs),
        }

    # ---- playing one sentence at Enter -----------------------------------------------------

    def _sentence_audio(
        self, phonemes: tuple[str, ...], info: dict[str, int], clock: PlaybackClock
    ) -> Iterator[tuple[np.ndarray, bool]]:
        # decide before announcing the whole sentence, or the worker may grab it first
        whole = self._job("sentence", phonemes, create=False)
        k = _clause_boundary(phonemes) if self._clauses else None
        clause = self._job("clause", phonemes[:k], create=False) if k else None
        use_clause = False
        if whole is None or not whole.encoded:
            if clause is not None and clause.encoded:
                use_clause = True
            elif (whole is None or not whole.started) and k and self.engine.first_clause_cut(phonemes, self.options) == k:
                clause = self._job("clause", phonemes[:k], create=True)
                use_clause = True
        if whole is None:
            whole = self._job("sentence", phonemes, create=True)
        if not use_clause or clause is None:
            if whole.encoded:
                info["ready" if whole.synth.rendered_from(0) > 0 else "encoded"] += 1
            else:
                info["fresh"] += 1
            yield from whole.ensure_encoded().chunks(0, clock=clock)
            return
        info["clause_head"] += 1
        tail: Any | None = None
        from .streaming import Background

        for audio, _ in clause.ensure_encoded().chunks(0, clock=clock):
            if tail is None:
                tail = Background(whole.ensure_encoded)
            yield audio, False
        assert tail is not None
        synth = tail.result()
        seam = self.engine.seam_frame(synth, phonemes, k)
        yield from synth.chunks(seam or 0, fast_start=False, clock=clock)

    def _job(self, kind: str, phonemes: tuple[str, ...], create: bool) -> Any:
        key = (kind, phonemes)
        with self._cond:
            job = self._jobs.get(key)
            if job is None and create:
                job = _Job(self.engine, phonemes, self.options)
                self._jobs[key] = job
                self._trim()
                self._dirty = True
                self._cond.notify_all()
            if job is not None:
                self._jobs.move_to_end(key)
            return job

    def _trim(self) -> None:
        while len(self._jobs) > self.max_cached:
            _, old = self._jobs.popitem(last=False)
            old.cancel()

    # ---- the background worker -----------------------------------------------------------

    def _run(self) -> None:
        wanted: list[tuple[str, tuple[str, ...]]] = []
        idle_line: str | None = None  # the line already planned with idle speculation
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    idle_new = self._idle_due() and self._line != idle_line
                    if self._dirty or idle_new or wanted:
                        break
                    self._cond.wait(self._idle_timeout() if self._line != idle_line else None)
                line, final, dirty = self._line, self._final, self._dirty
                self._dirty = False
            idle = self._idle_due()
            if dirty or (idle and line != idle_line):
                if idle:
                    idle_line = line
                try:
                    wanted = self._wanted(line, final, idle)
                except Exception as exc:  # a frontend error must not kill the worker
                    self.errors.append(repr(exc))
                    wanted = []
                self._prune(wanted)
            job = self._next_job(wanted)
            if job is None:
                wanted = []
                continue
            try:
                job.ensure_encoded().step()
            except Exception as exc:
                self.errors.append(repr(exc))
                with self._cond:
                    for key in [k for k, j in self._jobs.items() if j is job]:
                        del self._jobs[key]
                wanted = [k for k in wanted if k[1] != job.phonemes]

    def _idle_due(self) -> bool:
        if self.idle_after is None or self._final:
            return False
        return time.monotonic() - self._last_update >= self.idle_after

    def _idle_timeout(self) -> float | None:
        if self.idle_after is None or self._final:
            return None
        left = self.idle_after - (time.monotonic() - self._last_update)
        return left if left > 0 else None

    def _wanted(self, line: str, final: bool, idle: bool) -> list[tuple[str, tuple[str, ...]]]:
        from .piper_onnx import Sentence

        limit = self.max_cached // 2
        units = []
        for unit in self.engine.plan(line):  # lazy: a huge paste is not phonemized whole
            if isinstance(unit, Sentence):
                units.append(unit.phonemes)
                if len(units) > limit:
                    break
        out: list[tuple[str, tuple[str, ...]]] = []
        for i, ph in enumerate(units):
            last = i == len(units) - 1
            complete = final or not last or _ends_sentence(ph)
            k = _clause_boundary(ph) if self._clauses else None
            if complete:
                out.append(("sentence", ph))
                if k and ("clause", ph[:k]) in self._jobs:
                    out.append(("clause", ph[:k]))  # keep it: it may still beat the whole sentence
            else:
                if k:
                    out.append(("clause", ph[:k]))
                if idle:
                    out.append(("sentence", ph))
        return out[:limit]

    def _prune(self, wanted: list[tuple[str, tuple[str, ...]]]) -> None:
        keep = set(wanted)
        with self._cond:
            for key, job in list(self._jobs.items()):
                if key not in keep:
                    job.cancel()  # stops background rendering; finished audio stays cached
            for key in wanted:
                if key not in self._jobs:
                    self._jobs[key] = _Job(self.engine, key[1], self.options)
                elif self._jobs[key].synth is not None:
                    self._jobs[key].synth.cancelled = False  # wanted again after an undo
            self._trim()

    def _next_job(self, wanted: list[tuple[str, tuple[str, ...]]]) -> _Job | None:
        with self._cond:
            jobs = [self._jobs[k] for k in wanted if k in self._jobs]
        for job in jobs:  # 1. encode everything, in reading order
            if not job.encoded and job.error is None:
                return job
        for job in jobs:  # 2. the first window of each
            if job.encoded and job.synth.pending and job.synth.rendered == 0:
                return job
        for job in jobs:  # 3. the rest
            if job.encoded and job.synth.pending:
                return job
        return None


def _ends_sentence(phonemes: Sequence[str]) -> bool:
    for p in reversed(phonemes):
        if p != " ":
            return p in _SENTENCE_END
    return False


def _clause_boundary(phonemes: Sequence[str]) -> int | None:
    """Phoneme count up to the first clause mark (and its space) after at least _MIN_HEAD phonemes."""
    for i in range(_MIN_HEAD - 2, len(phonemes) - 1):
        if phonemes[i] in _CLAUSE_MARKS and phonemes[i + 1] == " ":
            return i + 2
    return None
