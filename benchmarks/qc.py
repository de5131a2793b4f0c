"""``voicebank bench qc``: how long the quality checks take on one take (they run after every take).

The recorder shows the verdict as soon as a take ends, so the checks must take a small
fraction of a second. The benchmark times :func:`voicebank.bank.qc.analyze` on a
48 kHz take (the rate browsers and USB microphones usually record at) made of real
speech: the LJSpeech sample in ``../shared/data`` when it is there (``--audio`` for
another file), repeated to ``--seconds``. Prints JSON with the median, p95 and the
ratio of checking time to take length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TARGET_S = 0.3  # a verdict within this time after a 15-second take feels immediate
DEFAULT_AUDIO_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ljspeech-sample" / "wavs"


def _speech(audio: Path | None, seconds: float, rate: int) -> np.ndarray:
    import soundfile as sf

    from voicebank.audio import resample, to_mono

    files = [audio] if audio else sorted(DEFAULT_AUDIO_DIR.glob("*.wav"))[:4]
    if not files or not all(f.is_file() for f in files):
        raise SystemExit(f"bench qc: no speech to time (looked for {audio or DEFAULT_AUDIO_DIR}); pass --audio FILE.wav")
    parts = []
    for f in files:
        x, sr = sf.read(str(f), dtype="float32")
        parts.append(resample(to_mono(x), int(sr), rate))
    x = np.concatenate(parts)
    reps = int(np.ceil(seconds * rate / len(x)))
    return np.tile(x, reps)[: int(seconds * rate)]


def run_qc(audio: Path | None = None, seconds: float = 15.0, rate: int = 48000, runs: int = 7) -> dict[str, Any]:
    """Time the checks on one take; the first call (VAD model load, caches) is reported apart."""
    from voicebank.bank import qc, vad

    x = _speech(audio, seconds, rate)
    detector = vad.SpeechDetector()
    start = time.perf_counter()
    report = qc.analyze(x, rate, text="x" * 200, detector=detector)
    first = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        qc.analyze(x, rate, text="x" * 200, detector=detector)
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {
        "take_seconds": seconds,
        "sample_rate": rate,
        "runs": runs,
        "first_call_s": round(first, 4),
        "median_s": round(median, 4),
        "p95_s": round(float(np.percentile(times, 95)), 4),
        "seconds_per_take_second": round(median / seconds, 5),
        "verdict": report.verdict,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg": load},
        "acceptance": {f"median_s<={TARGET_S}": median <= TARGET_S},
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicebank bench qc", description=__doc__.split("\n\n")[0])
    p.add_argument("--audio", type=Path, help="a WAV/FLAC of speech to time (default: the LJSpeech sample)")
    p.add_argument("--seconds", type=float, default=15.0, help="length of the timed take (default 15)")
    p.add_argument("--rate", type=int, default=48000, help="sample rate of the timed take (default 48000)")
    p.add_argument("--runs", type=int, default=7, help="timed runs after the first call (default 7)")
    p.add_argument("--json", action="store_true", help="print JSON (the default output is JSON too, indented less)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    res = run_qc(args.audio, args.seconds, args.rate, args.runs)
    print(json.dumps(res, indent=2 if args.json else None))
    return 0
