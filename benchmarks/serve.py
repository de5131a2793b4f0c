"""``voicebank bench serve``: first audio over loopback, and many clients playing in real time.

A real server (the ``voicebank serve`` app on uvicorn, token auth on, the stock voice with
its default noise) runs on a thread of this process, on a free 127.0.0.1 port. The clients
run in a second process (:mod:`.serve_clients`), so their work does not take the server's GIL.

1. **First audio byte**, interleaved run by run (engine, WebSocket, HTTP, rotating), each
   after an idle gap, on the 20-word sentence of ``bench latency``:

   * ``engine``: the first chunk of the engine instance the server speaks with, called here,
     in the server's process, as the server calls it (same options and pacing);
   * ``ws``: ``speak`` on an open ``/v1/stream`` WebSocket -> the utterance's first binary frame;
   * ``http``: ``POST /v1/audio/speech`` (``response_format=pcm``, keep-alive connection)
     -> the first body byte.

   The goal: each endpoint's p50 at most the engine's p50 + 20 ms.
2. **Concurrency**: ``--clients`` WebSocket clients for ``--duration`` s, each speaking the
   sentence at a seeded random offset, then after each utterance has played a pause of about
   ``--every`` s (``--pace period``: start to start every ``--every`` s instead), playing what
   it receives on a simulated real-time clock that starts ``--jitter-ms`` after the first frame.
   The goal: no errors, first audio p95 <= 300 ms, no underrun. ``--clients-sweep 4,8,12``
   runs it at growing counts and names the highest count that meets the goal.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from voicebank.benchmarks.latency import INPUTS, _machine
from voicebank.benchmarks.serve_clients import ClientSpec

TEXT = INPUTS["medium"]  # the 20-word sentence of `bench latency`
TARGETS = {"first_byte_extra_ms_p50": 20.0, "first_audio_ms_p95": 300.0}


# --------------------------------------------------------------------------- server and client process


@contextmanager
def serving(settings_kw: dict[str, Any], deflate: bool = False) -> Iterator[tuple[str, Any]]:
    """The server app on uvicorn on a thread, on a free loopback port; yields ``(base_url, SpeechServer)``.

    ``deflate``: WebSocket permessage-deflate (off, as docs/websocket.md advises: PCM hardly compresses).
    """
    import uvicorn

    from voicebank.serve.app import create_app
    from voicebank.serve.settings import ServeSettings

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    settings = ServeSettings(port=sock.getsockname()[1], **settings_kw)
    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, ws_per_message_deflate=deflate)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:  # the lifespan loads the default voice first
        if not thread.is_alive():
            raise RuntimeError("the benchmark's server did not start; see the log above")
        time.sleep(0.05)
    try:
        yield settings.url, app.state.server
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class ClientProcess:
    """The clients' process (``python -m voicebank.benchmarks.serve_clients``): send it a command, read its answer."""

    def __init__(self, url: str, token: str, text: str) -> None:
        cmd = [sys.executable, "-m", "voicebank.benchmarks.serve_clients"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._send({"url": url, "token": token, "text": text})

    def _send(self, data: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(data) + "\n")
        self.proc.stdin.flush()

    def ask(self, *cmd: Any) -> dict[str, Any]:
        assert self.proc.stdout is not None
        self._send(list(cmd))
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the clients' process ended (exit {self.proc.wait()}); see its messages above")
        return json.loads(line)

    def close(self) -> None:
        try:
            self._send(["quit"])
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- first audio byte


def _stats_ms(values: Sequence[float]) -> dict[str, Any]:
    """p50/p95/max (and min, mean) of times in seconds, in milliseconds."""
    if not values:
        return {"n": 0}
    ms = np.asarray(values, dtype=float) * 1000.0
    pct = lambda q: round(float(np.percentile(ms, q)), 1)  # noqa: E731
    return {"p50": pct(50), "p95": pct(95), "max": round(float(ms.max()), 1), "min": round(float(ms.min()), 1),
            "mean": round(float(ms.mean()), 1), "n": int(ms.size)}


def _engine_first(server: Any, text: str) -> float:
    """The first chunk of the server's own engine for the default voice, called as the server calls it."""
    from contextlib import nullcontext

    from voicebank.audio import Pacing

    engine, lock = server.engines.get(server.settings.voice)
    with lock or nullcontext():
        t0 = time.perf_counter()
        chunks = engine.stream(text, server.settings.options, Pacing(lead=server.settings.lead))
        next(iter(chunks))
        first = time.perf_counter() - t0
        chunks.close()
    return first


def first_byte(server: Any, clients: ClientProcess, text: str, runs: int, settle: float) -> dict[str, Any]:
    """Engine, WebSocket and HTTP first audio, interleaved (the order rotates run by run)."""
    kinds = ["engine", "ws", "http"]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    errors: list[dict[str, Any]] = []

    def one(kind: str) -> float | None:
        time.sleep(settle)  # the previous stream's trailing work ends before this one starts
        if kind == "engine":
            return _engine_first(server, text)
        answer = clients.ask(kind)
        if "error" in answer:
            errors.append({"kind": kind, **answer})
            return None
        return answer["first_s"]

    for kind in kinds:  # warm-up: connections, caches, the first encoder
        one(kind)
    errors.clear()
    paired: dict[str, list[float]] = {"ws": [], "http": []}
    for r in range(runs):
        got = {kind: one(kind) for kind in kinds[r % 3 :] + kinds[: r % 3]}
        for kind, t in got.items():
            if t is not None:
                times[kind].append(t)
        for kind in paired:
            if got[kind] is not None and got["engine"] is not None:
                paired[kind].append(got[kind] - got["engine"])
    stats = {k: _stats_ms(v) for k, v in times.items()}
    out: dict[str, Any] = {"runs": runs, "settle_ms": round(settle * 1000), "first_ms": stats, "errors": errors}
    extra = {}
    for kind in paired:
        if stats[kind]["n"] and stats["engine"]["n"]:
            extra[kind] = {
                "p50_minus_engine_p50": round(stats[kind]["p50"] - stats["engine"]["p50"], 1),
                "median_of_paired_differences": round(float(np.median(paired[kind])) * 1000.0, 1),
                "ratio_p50": round(stats[kind]["p50"] / stats["engine"]["p50"], 3),
            }
    out["minus_engine_ms"] = extra
    limit = TARGETS["first_byte_extra_ms_p50"]
    out["goal"] = f"ws and http p50 <= engine p50 + {limit:.0f} ms"
    out["meets_goal"] = len(extra) == 2 and not errors and all(e["p50_minus_engine_p50"] <= limit for e in extra.values())
    return out


# --------------------------------------------------------------------------- concurrency


def _summarize_clients(raw: dict[str, Any], spec: ClientSpec) -> dict[str, Any]:
    """Per-client and overall first audio, errors, underruns and utterances from the clients' records."""
    rows = raw["utterances"]

    def summary(us: list[dict[str, Any]]) -> dict[str, Any]:
        firsts = [u["first_audio_s"] for u in us if u["first_audio_s"] is not None]
        return {
            "utterances": len(us),
            "completed": sum(1 for u in us if u["completed"]),
            "errors": sum(1 for u in us if u["error"]),
            "first_audio_ms": _stats_ms(firsts),
            "underruns": sum(u["underruns"] for u in us),
            "underrun_ms_total": round(sum(u["underrun_s"] for u in us) * 1000.0, 1),
            "underrun_ms_max": round(max((u["worst_underrun_s"] for u in us), default=0.0) * 1000.0, 1),
            "audio_s": round(sum(u["audio_s"] for u in us), 2),
        }

    overall = summary(rows)
    per_client = [{"client": i, **summary([u for u in rows if u["client"] == i])} for i in range(spec.clients)]
    kinds: dict[str, int] = {}
    for u in rows:
        if u["error"]:
            kinds[u["error"]] = kinds.get(u["error"], 0) + 1
    p95 = overall["first_audio_ms"].get("p95")
    meets = overall["errors"] == 0 and overall["underruns"] == 0 and overall["completed"] > 0 and p95 is not None \
        and p95 <= TARGETS["first_audio_ms_p95"]
    return {
        "clients": spec.clients,
        "duration_s": spec.duration,
        "wall_s": round(raw["wall_s"], 1),
        "pace": spec.pace,
        "every_s": spec.every,
        "jitter_buffer_ms": round(spec.jitter * 1000),
        "seed": spec.seed,
        "overall": overall,
        "error_kinds": kinds,
        "per_client": per_client,
        "goal": f"no errors, first audio p95 <= {TARGETS['first_audio_ms_p95']:.0f} ms, no underrun",
        "meets_goal": meets,
    }


def concurrency(clients: ClientProcess, spec: ClientSpec) -> dict[str, Any]:
    raw = clients.ask("clients", asdict(spec))
    if "error" in raw:
        raise RuntimeError(f"the clients' process failed: {raw['error']['message']}")
    return _summarize_clients(raw, spec)


def sweep(clients: ClientProcess, spec: ClientSpec, counts: Sequence[int]) -> dict[str, Any]:
    """The concurrency test at growing client counts, until one misses the goal."""
    steps, best = [], None
    for n in counts:
        step = concurrency(clients, replace(spec, clients=n))
        step.pop("per_client")
        steps.append(step)
        if not step["meets_goal"]:
            break
        best = n
    return {"counts": list(counts), "duration_s": spec.duration, "steps": steps, "highest_meeting_goal": best,
            "note": "stops at the first count that misses the goal"}


# --------------------------------------------------------------------------- the whole run


def run_serve(
    runs: int = 20,
    clients: int = 8,
    duration: float = 60.0,
    every: float = 3.0,
    pace: str = "gap",
    jitter_ms: float = 100.0,
    seed: int = 1,
    sweep_counts: Sequence[int] = (),
    max_streams: int = 32,
    settle_ms: float = 300.0,
    text: str = TEXT,
    deflate: bool = False,
) -> dict[str, Any]:
    """Run the benchmark and return its results as a JSON-ready dict."""
    token = secrets.token_urlsafe(24)
    streams = max([max_streams, clients, *sweep_counts])
    machine_before = _machine()
    out: dict[str, Any] = {"benchmark": "serve", "text": text, "words": len(text.split())}
    with serving({"token": token, "max_streams": streams}, deflate) as (url, server):
        engine, _ = server.engines.get(server.settings.voice)
        out["voice"] = engine.describe()
        out["server"] = {"url": url, "auth": "bearer token", "max_streams": streams, "lead_s": server.settings.lead,
                         "ws_per_message_deflate": deflate,
                         "options": asdict(server.settings.options), "where": "uvicorn on a thread of the benchmark's process"}
        out["client_process"] = "python -m voicebank.benchmarks.serve_clients: asyncio tasks with the websockets client"
        proc = ClientProcess(url, token, text)
        try:
            if runs > 0:
                out["first_byte"] = first_byte(server, proc, text, runs, settle_ms / 1000.0)
            spec = ClientSpec(url, token, text, clients, duration, every, pace, jitter_ms / 1000.0, seed)
            if runs == 0 and (sweep_counts or clients > 0):
                proc.ask("ws")  # one unmeasured utterance: the server's first calls allocate and fill caches
            if sweep_counts:
                out["sweep"] = sweep(proc, spec, sweep_counts)
            elif clients > 0:
                out["concurrency"] = concurrency(proc, spec)
        finally:
            proc.close()
    out["machine"] = {"before": machine_before, "after": _machine()}
    out["acceptance"] = {k: out[k]["meets_goal"] for k in ("first_byte", "concurrency") if k in out}
    return out


def _text_report(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [f"{res['words']}-word sentence; {m['before']['cpus']} CPUs, load {m['before'].get('load_avg')} "
             f"-> {m['after'].get('load_avg')}"]
    if "first_byte" in res:
        fb = res["first_byte"]
        for kind, s in fb["first_ms"].items():
            extra = fb["minus_engine_ms"].get(kind)
            plus = f"  (p50 {extra['p50_minus_engine_p50']:+.1f} ms vs engine)" if extra else ""
            lines.append(f"first audio {kind:6s} p50 {s.get('p50')} ms  p95 {s.get('p95')} ms{plus}")
        lines.append(f"  {fb['goal']}: {'met' if fb['meets_goal'] else 'NOT met'}"
                     + (f"; {len(fb['errors'])} errors" if fb["errors"] else ""))
    steps = [res["concurrency"]] if "concurrency" in res else res.get("sweep", {}).get("steps", [])
    for c in steps:
        o = c["overall"]
        lines.append(f"{c['clients']} clients x {c['duration_s']:g} s: {o['completed']}/{o['utterances']} utterances, "
                     f"first audio p50 {o['first_audio_ms'].get('p50')} p95 {o['first_audio_ms'].get('p95')} "
                     f"max {o['first_audio_ms'].get('max')} ms, {o['errors']} errors, {o['underruns']} underruns "
                     f"-> {'met' if c['meets_goal'] else 'NOT met'}")
    if "sweep" in res:
        lines.append(f"highest client count meeting the goal: {res['sweep']['highest_meeting_goal']}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicebank bench serve", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the full results as JSON")
    p.add_argument("--runs", type=int, default=20, help="first-byte runs of each kind (default 20; 0 skips)")
    p.add_argument("--clients", type=int, default=8, help="concurrent WebSocket clients (default 8; 0 skips)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds the clients start utterances (default 60)")
    p.add_argument("--every", type=float, default=3.0, help="seconds between a client's utterances (default 3)")
    p.add_argument("--pace", choices=("gap", "period"), default="gap",
                   help="gap: a pause of ~--every after each utterance has played (default); period: start to start")
    p.add_argument("--jitter-ms", type=float, default=100.0, help="client playback starts this long after the first frame")
    p.add_argument("--seed", type=int, default=1, help="seed of the clients' offsets and pauses")
    p.add_argument("--clients-sweep", default="", help="run the concurrency test at these counts instead, e.g. 4,8,12,16")
    p.add_argument("--max-streams", type=int, default=32, help="the server's stream limit (default 32, raised to the clients)")
    p.add_argument("--ws-deflate", action="store_true", help="serve WebSockets with permessage-deflate (default off)")
    p.add_argument("--settle-ms", type=float, default=300.0, help="idle gap before each first-byte run (default 300)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = [int(c) for c in str(args.clients_sweep).split(",") if c.strip()]
    res = run_serve(
        runs=max(0, args.runs), clients=max(0, args.clients), duration=args.duration, every=args.every, pace=args.pace,
        jitter_ms=args.jitter_ms, seed=args.seed, sweep_counts=counts, max_streams=args.max_streams,
        settle_ms=args.settle_ms, deflate=args.ws_deflate,
    )
    print(json.dumps(res, indent=2) if args.json else _text_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
