"""The client side of ``voicebank bench serve``: a separate process that times requests and plays streams.

It runs in its own process (``python -m voicebank.benchmarks.serve_clients``, started by
:mod:`voicebank.benchmarks.serve`), so the clients' Python work does not take the server's
GIL. The parent sends JSON commands on its stdin and reads JSON answers from its stdout:

* ``("ws",)`` / ``("http",)``: one timed request for the first-byte comparison, on a
  connection kept open between requests (as the board and the OpenAI client do);
* ``("clients", spec)``: the concurrency test, every client an asyncio task with its own
  WebSocket, each playing what it receives on a simulated real-time clock (:class:`Playback`);
* ``("quit",)``.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

RECV_TIMEOUT_S = 20.0  # a stream silent this long counts as an error (timeout)


# --------------------------------------------------------------------------- simulated playback


@dataclass
class Playback:
    """A player that starts ``jitter`` seconds after the first frame and plays in real time.

    A frame that arrives after its first sample was due is an underrun: the player stalls
    until it is there (as a real one runs dry and waits), which moves the rest of the
    utterance later by the same time.
    """

    rate: int
    jitter: float
    start: float | None = None
    samples: int = 0
    stalled: float = 0.0
    underruns: int = 0
    worst: float = 0.0

    def frame(self, arrived: float, samples: int) -> None:
        if self.start is None:
            self.start = arrived + self.jitter
        due = self.start + self.stalled + self.samples / self.rate
        if arrived > due:
            self.underruns += 1
            self.stalled += arrived - due
            self.worst = max(self.worst, arrived - due)
        self.samples += samples

    @property
    def end(self) -> float | None:
        """When the last sample received so far has been heard."""
        return None if self.start is None else self.start + self.stalled + self.samples / self.rate


def pcm_frame(message: bytes) -> tuple[str, int]:
    """A binary frame's utterance id and its number of 16-bit samples (docs/websocket.md)."""
    n = message[0]
    return message[1 : 1 + n].decode("utf-8"), (len(message) - 1 - n) // 2


# --------------------------------------------------------------------------- first-byte requests


class FirstByteClient:
    """One WebSocket and one keep-alive HTTP connection that time ``speak`` and ``/v1/audio/speech``."""

    def __init__(self, base_url: str, token: str, text: str) -> None:
        import httpx

        self.text = text
        self.url = base_url.replace("http", "ws", 1) + "/v1/stream"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(base_url=base_url, headers=self.headers, timeout=60.0)
        self._open = ExitStack()
        self.ws: Any = None  # opened at the first WebSocket request
        self.count = 0

    def websocket(self) -> dict[str, Any]:
        """``speak`` -> the first binary frame of that utterance; then ``stop`` and wait for its ``end``."""
        if self.ws is None:
            from websockets.sync.client import connect

            self.ws = self._open.enter_context(connect(self.url, additional_headers=self.headers, max_size=None))
            json.loads(self.ws.recv(timeout=RECV_TIMEOUT_S))  # hello
        self.count += 1
        uid = f"fb{self.count}"
        t0 = time.perf_counter()
        self.ws.send(json.dumps({"type": "speak", "id": uid, "text": self.text}))
        first = None
        while first is None:
            msg = self.ws.recv(timeout=RECV_TIMEOUT_S)
            if isinstance(msg, bytes):
                if pcm_frame(msg)[0] == uid:
                    first = time.perf_counter() - t0
            elif json.loads(msg).get("type") == "error":
                return {"error": json.loads(msg)}
        self.ws.send(json.dumps({"type": "stop", "id": uid}))
        while True:  # drain to the utterance's end, so the next request starts on a quiet connection
            msg = self.ws.recv(timeout=RECV_TIMEOUT_S)
            if isinstance(msg, str) and json.loads(msg).get("type") in ("end", "error"):
                break
        return {"first_s": first}

    def openai(self) -> dict[str, Any]:
        """``POST /v1/audio/speech`` (pcm) -> the first body byte; then close the response (stops synthesis)."""
        body = {"model": "tts-1", "input": self.text, "voice": "alloy", "response_format": "pcm"}
        t0 = time.perf_counter()
        with self.http.stream("POST", "/v1/audio/speech", json=body) as response:
            if response.status_code != 200:
                return {"error": {"status": response.status_code, "body": response.read().decode("utf-8", "replace")[:300]}}
            for piece in response.iter_raw():
                if piece:
                    return {"first_s": time.perf_counter() - t0}
        return {"error": {"message": "the response ended without audio"}}

    def close(self) -> None:
        self._open.close()
        self.http.close()


# --------------------------------------------------------------------------- concurrent clients


@dataclass
class ClientSpec:
    """What the concurrent clients do (one spec for all, ``seed`` makes their offsets repeatable)."""

    url: str
    token: str
    text: str
    clients: int
    duration: float
    every: float = 3.0
    pace: str = "gap"  # "gap": pause ~every after each utterance; "period": start every `every` s
    jitter: float = 0.1
    seed: int = 1


@dataclass
class Utterance:
    """One utterance as a client saw it (times in seconds from the test's start)."""

    client: int
    sent: float
    first_audio_s: float | None = None
    audio_s: float = 0.0
    underruns: int = 0
    underrun_s: float = 0.0
    worst_underrun_s: float = 0.0
    completed: bool = False
    error: str | None = None
    playback_end: float | None = field(default=None, repr=False)


async def _one_utterance(ws: Any, uid: str, text: str, sent_at: Utterance, t0: float, rate: int, jitter: float) -> None:
    """Speak ``text`` and receive it to its ``end``, playing it on a :class:`Playback` clock."""
    u = sent_at
    play = Playback(rate, jitter)
    await ws.send(json.dumps({"type": "speak", "id": uid, "text": text}))
    while True:
        msg = await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S)
        now = time.perf_counter() - t0
        if isinstance(msg, bytes):
            frame_id, samples = pcm_frame(msg)
            if frame_id != uid:
                continue
            if u.first_audio_s is None:
                u.first_audio_s = now - u.sent
            play.frame(now, samples)
            continue
        event = json.loads(msg)
        if event.get("id") != uid:
            continue
        if event.get("type") == "start":
            play.rate = int(event.get("sample_rate", rate))
        elif event.get("type") == "error":
            u.error = str(event.get("code"))
            break
        elif event.get("type") == "end":
            u.completed = not event.get("stopped") and play.samples > 0
            if not u.completed:
                u.error = "stopped" if event.get("stopped") else "no_audio"
            break
    u.audio_s = play.samples / play.rate
    u.underruns, u.underrun_s, u.worst_underrun_s = play.underruns, play.stalled, play.worst
    u.playback_end = play.end


async def _client(i: int, spec: ClientSpec, t0: float, rng: random.Random, out: list[Utterance]) -> None:
    """One client: connect, then speak on its schedule until the test's time is up."""
    from websockets.asyncio.client import connect

    url = spec.url.replace("http", "ws", 1) + "/v1/stream"
    try:
        async with connect(url, additional_headers={"Authorization": f"Bearer {spec.token}"}, max_size=None) as ws:
            await _speak_on_schedule(i, ws, spec, t0, rng, out)
    except Exception as exc:  # noqa: BLE001 (a refused connection is a result, not a crash)
        out.append(Utterance(i, time.perf_counter() - t0, error=f"connection: {type(exc).__name__}"))


async def _speak_on_schedule(i: int, ws: Any, spec: ClientSpec, t0: float, rng: random.Random, out: list[Utterance]) -> None:
    hello = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
    rate = int(hello.get("sample_rate", 22050))
    due = rng.uniform(0.0, spec.every)
    n = 0
    while due < spec.duration:
        await asyncio.sleep(max(0.0, due - (time.perf_counter() - t0)))
        n += 1
        u = Utterance(i, time.perf_counter() - t0)
        out.append(u)
        try:
            await _one_utterance(ws, f"c{i}u{n}", spec.text, u, t0, rate, spec.jitter)
        except Exception as exc:  # noqa: BLE001 (a timeout or a dropped connection ends this client)
            u.error = type(exc).__name__
            return
        heard = u.playback_end if u.playback_end is not None else time.perf_counter() - t0
        if spec.pace == "period":  # start-to-start every `every` s, never cutting itself off
            due = max(u.sent + spec.every, heard)
        else:  # a conversation: listen to the end, then a pause of about `every` s
            due = heard + rng.uniform(0.5, 1.5) * spec.every


async def run_clients(spec: ClientSpec) -> dict[str, Any]:
    """Run ``spec.clients`` clients at once for ``spec.duration`` s; every utterance they spoke."""
    rng = random.Random(spec.seed)
    out: list[Utterance] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(i, spec, t0, random.Random(rng.random()), out) for i in range(spec.clients)))
    rows = [{k: v for k, v in u.__dict__.items() if k != "playback_end"} for u in out]
    return {"utterances": rows, "wall_s": time.perf_counter() - t0}


# --------------------------------------------------------------------------- the process


def main() -> None:
    """The client process: one JSON command a line on stdin, one JSON answer a line on stdout, until ``quit``.

    The first line gives ``url``, ``token`` and ``text``; then ``["ws"]``, ``["http"]``,
    ``["clients", spec]`` (a :class:`ClientSpec` as a dict) or ``["quit"]``.
    """
    setup = json.loads(sys.stdin.readline())
    fb: FirstByteClient | None = None

    def answer(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            try:
                if cmd[0] == "quit":
                    break
                if cmd[0] in ("ws", "http"):
                    fb = fb or FirstByteClient(setup["url"], setup["token"], setup["text"])
                    answer(fb.websocket() if cmd[0] == "ws" else fb.openai())
                elif cmd[0] == "clients":
                    answer(asyncio.run(run_clients(ClientSpec(**cmd[1]))))
                else:
                    answer({"error": {"message": f"unknown command {cmd[0]!r}"}})
            except Exception as exc:  # noqa: BLE001 (the parent reports it)
                answer({"error": {"message": f"{type(exc).__name__}: {exc}"}})
    finally:
        if fb is not None:
            fb.close()


if __name__ == "__main__":
    main()
