"""The listening test (/listen): blind A/B/X trials of a person's real takes against voices (docs/listening-test.md).

The page and its API. Which tests there are comes from :mod:`.listening_tests`, a session's
trials and answers from :mod:`.listening_trials`, what they show from
:mod:`.listening_results`. Every file is played level-matched, so loudness gives no side away.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import RequestError
from . import listening_trials as trials
from .listening_results import results
from .listening_tests import ListeningTest, offered_tests
from .pages import _send_file
from .recorder import _json_body

if TYPE_CHECKING:
    from .app import SpeechServer

PAGE = "listening.html"
PLAY_RATE = 22050  # every side at one rate: a sample rate is no clue either
LEVEL_DB = -26.0  # the speech level every file is brought to (dBFS, over its louder frames)
PEAK = 0.9  # ...unless that would push a peak past this
_NO_STORE = {"Cache-Control": "no-store"}


def level_matched(path: Path) -> bytes:
    """``path`` as 16-bit WAV at :data:`PLAY_RATE`, its speech at :data:`LEVEL_DB`."""
    import soundfile as sf

    from ..audio import read_audio, resample, to_mono

    samples, rate = read_audio(path)
    x = resample(to_mono(samples), rate, PLAY_RATE)
    level = speech_level_db(x, PLAY_RATE)
    gain = 10 ** ((LEVEL_DB - level) / 20) if level > -100 else 1.0
    peak = float(np.max(np.abs(x))) * gain if len(x) else 0.0
    if peak > PEAK:
        gain *= PEAK / peak
    out = io.BytesIO()
    sf.write(out, np.clip(x * gain, -1, 1), PLAY_RATE, format="WAV", subtype="PCM_16")
    return out.getvalue()


def speech_level_db(x: np.ndarray, rate: int, frame_s: float = 0.02, within_db: float = 30.0) -> float:
    """The power mean (dBFS) of the 20 ms frames within 30 dB of the loudest: the speech, not the pauses."""
    n = max(1, int(rate * frame_s))
    k = len(x) // n
    if k == 0:
        return -120.0
    power = np.mean(np.square(x[: k * n].reshape(k, n), dtype=np.float64), axis=1)
    db = 10 * np.log10(np.maximum(power, 1e-12))
    return float(10 * np.log10(np.mean(power[db >= db.max() - within_db])))


class AudioCache:
    """The last few level-matched files, by path and change time (a trial's X is its A or B again)."""

    def __init__(self, size: int = 48) -> None:
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, path: Path) -> bytes:
        key = (str(path), path.stat().st_mtime_ns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = level_matched(path)
        with self._lock:
            self._items[key] = data
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return data


class Listening:
    """The routes of the listening test over the evaluations the server offers."""

    def __init__(self, server: SpeechServer) -> None:
        self.settings = server.settings
        self.answers = trials.AnswerBook()
        self.audio = AudioCache()

    async def _test(self, request: Request) -> ListeningTest:
        tests = await anyio.to_thread.run_sync(offered_tests, self.settings)
        test = tests.get(request.path_params["test"])
        if test is None:
            raise RequestError(f"There is no listening test {request.path_params['test']!r} here; "
                               "GET /v1/listen/tests lists them.", status=404, param="test", code="no_test")
        return test

    async def page(self, request: Request) -> Response:
        return await _send_file(PAGE)

    async def list_tests(self, request: Request) -> Response:
        def listed() -> list[dict[str, Any]]:
            found = offered_tests(self.settings).values()
            return [{**t.summary(), "answers": len(self.answers.read(t))} for t in found]

        listed_tests = await anyio.to_thread.run_sync(listed)
        return JSONResponse({"tests": listed_tests, "how": _HOW if not listed_tests else None}, headers=_NO_STORE)

    async def new_session(self, request: Request) -> Response:
        test = await self._test(request)
        return JSONResponse(self._session_json(test, trials.new_session(), []), status_code=201, headers=_NO_STORE)

    async def session(self, request: Request) -> Response:
        test = await self._test(request)
        session = trials.check_session(request.path_params["session"])
        mine = await anyio.to_thread.run_sync(self.answers.read, test)
        done = sorted({a["trial"] for a in mine if a.get("session") == session and isinstance(a.get("trial"), int)})
        return JSONResponse(self._session_json(test, session, done), headers=_NO_STORE)

    def _session_json(self, test: ListeningTest, session: str, answered: list[int]) -> dict[str, Any]:
        base = f"/v1/listen/tests/{test.id}/sessions/{session}"
        drawn = trials.session_trials(test, session)
        return {"test": test.summary(), "session": session, "trials": [t.public(base) for t in drawn],
                "answered": answered}

    async def trial_audio(self, request: Request) -> Response:
        test = await self._test(request)
        session = trials.check_session(request.path_params["session"])
        side = request.path_params["side"]
        if side not in trials.SIDES:
            raise RequestError(f"A trial plays a, b or x, not {side!r}.", status=404, param="side", code="no_side")
        trial = trials.trial_of(test, session, request.path_params["number"])
        source = test.source(trial.comparison)
        path = test.real[trial.sentence] if trial.is_real(side) or source is None else source.audio[trial.sentence]
        data = await anyio.to_thread.run_sync(self.audio.get, path)
        return Response(data, media_type="audio/wav", headers=_NO_STORE)

    async def answer(self, request: Request) -> Response:
        test = await self._test(request)
        session = trials.check_session(request.path_params["session"])
        trial = trials.trial_of(test, session, request.path_params["number"])
        given = trials.parse_answer(await _json_body(request, 4096))
        record = trials.answer_record(test, session, trial, given)
        count = await anyio.to_thread.run_sync(self.answers.add, test, record)
        total = len(trials.session_trials(test, session))
        return JSONResponse({"saved": True, "trial": trial.number, "answered": count, "trials": total,
                             "finished": count >= total}, status_code=201, headers=_NO_STORE)

    async def results(self, request: Request) -> Response:
        test = await self._test(request)
        answers = await anyio.to_thread.run_sync(self.answers.read, test)
        return JSONResponse(results(test, answers), headers=_NO_STORE)

    def routes(self) -> list[BaseRoute]:
        base = "/v1/listen/tests/{test}"
        trial = base + "/sessions/{session}/trials/{number:int}"
        return [
            Route("/listen", self.page, methods=["GET"]),
            Route("/v1/listen/tests", self.list_tests, methods=["GET"]),
            Route(base + "/sessions", self.new_session, methods=["POST"]),
            Route(base + "/sessions/{session}", self.session, methods=["GET"]),
            Route(trial + "/{side}.wav", self.trial_audio, methods=["GET"]),
            Route(trial + "/answer", self.answer, methods=["POST"]),
            Route(base + "/results", self.results, methods=["GET"]),
        ]


_HOW = ("No evaluation to listen to yet. Make one with: voicebank train eval VOICE --dataset DATA "
        "(it writes VOICE/eval/, which this page offers), or start the server with --eval FOLDER.")


def routes(server: SpeechServer) -> list[BaseRoute]:
    """The listening test's page and API."""
    return Listening(server).routes()
