"""``voicebank bench narrate``: the whole narration pipeline's speed as a multiple of real time, stage by stage.

One cold run (an empty cache) of :func:`voicebank.audiobook.narrate.narrate` on a book (the
sample book in ``samples/book/`` unless ``--book``) with a voice (the stock joe voice unless
``--voice``), with the settings a user gets by default: read → plan → synthesize and check
every chunk (worker processes, one per CPU) → assemble and master → encode the M4B → ACX
figures → report. It prints:

* ``audio_s`` (the chapters' length), ``wall_s`` (the whole call, process start-up of the
  workers included) and ``realtime_x`` = audio / wall (the issue asks at least 15 on 2 cores);
* ``cpu_s``: CPU seconds of this process and its workers and encoders, and ``cpu_s_per_audio_s``
  (less sensitive than wall time to other work on the machine: at most ``cores / 15`` for
  15 times real time);
* ``stages``: each stage's share of the busy time (they sum to 1; ``stage_s`` has the seconds).
  Chapters are assembled and mastered beside synthesis, as soon as their chunks are in, so the
  stages' seconds can add up to more than the wall time; ``after_synthesis_s`` is the
  mastering left once the last chunk is in. The synthesize stage is split into ``synthesize``
  and ``check`` in proportion to the workers' own synthesis and check seconds; ``other`` is
  the wall time no stage on the critical path claims (the report, bookkeeping);
* ``worker``: synthesis and check seconds per audio second inside the workers, and the
  check's cost relative to synthesis;
* ``peer`` (unless ``--no-peer``): plain ``python -m piper`` speaking the same sentences into one
  WAV (no checks, no mastering, no M4B), its real-time multiple, and ``ratio`` = ours / piper.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SAMPLE_BOOK = Path(__file__).resolve().parents[1] / "samples" / "book" / "the-lighthouse-keeper.epub"
TARGET_X = 15.0  # the acceptance: the whole pipeline at 15 times real time on 2 cores
STAGES = ("read", "plan", "synthesize", "check", "assemble", "master", "encode", "acx", "other")


def run_narrate_bench(book: Path, voice: str = "joe", workers: int | None = None, peer: bool = True,
                      keep: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Narrate ``book`` once into a fresh folder and measure it (see the module docstring)."""
    import soundfile as sf

    from voicebank.audiobook.narrate import narrate
    from voicebank.audiobook.plan import NarrationSettings
    from voicebank.errors import UsageError

    if not book.is_file():
        raise UsageError(f"{book}: no such book; give one with --book (the sample book ships in the source tree only)")
    with tempfile.TemporaryDirectory(prefix="voicebank-bench-narrate-") as tmp:
        out = keep or Path(tmp) / "out"
        cpu0, t0 = _cpu_s(), time.perf_counter()
        result = narrate(book, NarrationSettings(voice=voice), out, workers=workers)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        audio = sum(sf.info(str(p)).duration for p in result.pcm)
        texts = [job.text for job in result.plan.jobs]
        peer_result = _peer(texts, voice, Path(tmp)) if peer else None
    t = result.timings
    stage_s = _stage_seconds(t, wall)
    busy = sum(stage_s.values()) or 1.0
    realtime = audio / wall if wall > 0 else 0.0
    report: dict[str, Any] = {
        "benchmark": "narrate",
        "book": str(book),
        "voice": voice,
        "workers": workers or _cpus(),
        "chunks": len(result.plan.jobs),
        "failed_chunks": len(result.failed),
        "takes": sum(o.attempts for o in result.outcomes),
        "audio_s": round(audio, 2),
        "wall_s": round(wall, 2),
        "realtime_x": round(realtime, 2),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_audio_s": round(cpu / audio, 4) if audio else None,
        "target_x": TARGET_X,
        "meets_target": realtime >= TARGET_X,
        "stages": {k: round(v / busy, 4) for k, v in stage_s.items()},
        "stage_s": {k: round(v, 3) for k, v in stage_s.items()},
        "after_synthesis_s": round(t.get("after_synthesis", 0.0), 3),
        "worker": {
            "synth_s_per_audio_s": round(t.get("synth_worker", 0.0) / audio, 4) if audio else None,
            "check_s_per_audio_s": round(t.get("check_worker", 0.0) / audio, 4) if audio else None,
            "check_vs_synth": round(t["check_worker"] / t["synth_worker"], 3) if t.get("synth_worker") else None,
        },
        "peer": None,
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
    }
    if peer_result is not None:
        peer_x = peer_result["audio_s"] / peer_result["wall_s"]
        report["peer"] = {**peer_result, "realtime_x": round(peer_x, 2), "ratio": round(realtime / peer_x, 3)}
    return report


def _stage_seconds(t: dict[str, float], wall: float) -> dict[str, float]:
    """Wall seconds per stage; the synthesize stage split by the workers' synthesis/check seconds."""
    synth_w, check_w = t.get("synth_worker", 0.0), t.get("check_worker", 0.0)
    check_part = check_w / (synth_w + check_w) if synth_w + check_w > 0 else 0.0
    seconds = {
        "read": t.get("read", 0.0),
        "plan": t.get("plan", 0.0),
        "synthesize": t.get("synthesize", 0.0) * (1.0 - check_part),
        "check": t.get("synthesize", 0.0) * check_part,
        "assemble": t.get("assemble", 0.0),
        "master": t.get("master", 0.0),
        "encode": t.get("encode", 0.0),
        "acx": t.get("acx", 0.0),
    }
    critical = sum(t.get(k, 0.0) for k in ("read", "plan", "synthesize", "after_synthesis", "encode", "acx"))
    seconds["other"] = max(0.0, wall - critical)
    return seconds


def _peer(texts: list[str], voice: str, folder: Path) -> dict[str, Any] | None:
    """``python -m piper`` speaking the same sentences into one WAV; None when piper or the voice is not there."""
    import soundfile as sf

    try:
        model, config = _piper_files(voice)
    except Exception:  # noqa: BLE001 - no peer for a voice piper cannot load: the column is left out
        return None
    wav = folder / "piper.wav"
    cmd = [sys.executable, "-m", "piper", "-m", str(model), "-c", str(config), "-f", str(wav)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, input="\n".join(texts) + "\n", capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    if done.returncode != 0 or not wav.is_file():
        return None
    return {"tool": "python -m piper (one process, plain WAV)", "audio_s": round(sf.info(str(wav)).duration, 2),
            "wall_s": round(wall, 2)}  # fmt: skip


def _piper_files(voice: str) -> tuple[Path, Path]:
    from voicebank.voice.registry import resolve_voice

    files = resolve_voice(voice)
    return Path(files.model), Path(files.config)


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the workers, ffmpeg)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _text_report(res: dict[str, Any]) -> str:
    lines = [
        f"narrated {res['chunks']} chunks of {Path(res['book']).name} with {res['voice']} on {res['workers']} workers:",
        f"  audio {res['audio_s']:.1f} s in {res['wall_s']:.1f} s wall = {res['realtime_x']:.1f}x real time "
        f"(target {res['target_x']:.0f}x: {'met' if res['meets_target'] else 'NOT met'}); "
        f"{res['cpu_s_per_audio_s']} CPU s per audio s",
        "  stages: " + ", ".join(f"{k} {v:.1%}" for k, v in res["stages"].items()),
        f"  in the workers: synthesis {res['worker']['synth_s_per_audio_s']} s and checks "
        f"{res['worker']['check_s_per_audio_s']} s per audio second",
    ]
    if res["peer"]:
        p = res["peer"]
        lines.append(f"  peer {p['tool']}: {p['realtime_x']:.1f}x real time; ours / peer = {p['ratio']:.2f}")
    if res["failed_chunks"]:
        lines.append(f"  {res['failed_chunks']} chunks failed their checks (see the narration report)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicebank bench narrate", description=__doc__.splitlines()[0])
    p.add_argument("--book", type=Path, default=SAMPLE_BOOK, help="the book to narrate (default: the sample book)")
    p.add_argument("--voice", default="joe", help="the voice (default: joe, the stock voice)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    p.add_argument("--no-peer", action="store_true", help="skip the plain piper run")
    p.add_argument("--keep", type=Path, default=None, help="narrate into this folder and keep it (default: a temporary one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    res = run_narrate_bench(args.book, voice=args.voice, workers=args.workers, peer=not args.no_peer, keep=args.keep)
    print(json.dumps(res, indent=2) if args.json else _text_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
