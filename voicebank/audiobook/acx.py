"""ACX's audio checks (RMS, peak, noise floor) measured on an encoded file, per file and per chapter mark.

ACX (Audible's Audiobook Creation Exchange) rejects a file whose RMS is outside -23…-18 dB,
whose peaks pass -3 dBFS or whose noise floor is above -60 dB, and asks for 0.5-1 s of room
tone at the head of each file and 1-5 s at its tail. The figures here are taken from the
file as a listener gets it: decoded by ffmpeg to float samples, after the codec.

* RMS: of every sample of the file, pauses included (not LUFS), in dB re full scale;
* peak: the largest sample (dBFS), and the true peak (4x oversampled, dBTP) beside it;
* noise floor: the RMS of the quietest 0.5 s window (windows every 0.05 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..encode import decode_blocks, run_ffmpeg
from ..errors import AudioFormatError
from .master import PEAK_CONTEXT, peak_envelope

RMS_RANGE_DB = (-23.0, -18.0)
PEAK_MAX_DB = -3.0
NOISE_FLOOR_MAX_DB = -60.0
FLOOR_WINDOW_S = 0.5
FLOOR_HOP_S = 0.05
DIGITAL_SILENCE_DB = -100.0  # a floor this low is digital silence (ACX reviewers reject it)
HEAD_RANGE_S = (0.5, 1.0)  # room tone ACX asks for before the first word
TAIL_RANGE_S = (1.0, 5.0)  # ... and after the last
SPEECH_OVER_FLOOR_DB = 20.0  # a 50 ms window this far over the floor is taken as speech (head/tail)


def acx_report(path: str | Path) -> dict[str, Any]:
    """The ACX figures of an encoded file, pass/fail with reasons, and the same per chapter mark.

    Returns ``{"file", "sample_rate", "channels", "duration_s", "rms_db", "peak_dbfs",
    "true_peak_dbtp", "noise_floor_db", "head_s", "tail_s", "passes", "reasons", "warnings",
    "chapters": [{"index", "title", "start_s", "end_s", ...the same figures}]}``. The file
    passes when it and every chapter pass. The file is decoded as a stream (a book of hours
    is never all in memory). Raises AudioFormatError for a file without audio.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"{path} does not exist or is not a file.")
    info = _probe(path)
    streams = info.get("streams") or []
    if not streams:
        raise AudioFormatError(f"{path} holds no audio stream; give an encoded narration (M4B, MP3, Opus).")
    rate, channels = int(streams[0]["sample_rate"]), int(streams[0]["channels"])
    whole = Meter(rate)
    marks = info.get("chapters") or []
    spans = [(round(float(m["start_time"]) * rate), round(float(m["end_time"]) * rate)) for m in marks]
    meters = [Meter(rate) for _ in marks]
    at = 0
    for block in decode_blocks(path, rate, channels):
        whole.feed(block)
        for (start, end), meter in zip(spans, meters):
            lo, hi = max(start, at), min(end, at + len(block))
            if lo < hi:
                meter.feed(block[lo - at : hi - at])
        at += len(block)
    report: dict[str, Any] = {"file": str(path), "sample_rate": rate, "channels": channels, **whole.figures()}
    report["chapters"] = [
        {
            "index": i + 1,
            "title": (mark.get("tags") or {}).get("title", f"Chapter {i + 1}"),
            "start_s": float(mark["start_time"]),
            "end_s": float(mark["end_time"]),
            **meter.figures(),
        }
        for i, (mark, meter) in enumerate(zip(marks, meters))
    ]
    report["passes"] = bool(report["passes"] and all(c["passes"] for c in report["chapters"]))
    return report


def measure(samples: np.ndarray, rate: int) -> dict[str, Any]:
    """ACX's figures of samples in memory (``(frames,)`` or ``(frames, channels)``), judged against its limits."""
    meter = Meter(rate)
    meter.feed(np.asarray(samples, np.float32))
    return meter.figures()


class Meter:
    """ACX's figures of one stream fed block by block: RMS, peak, true peak, noise floor, head and tail.

    Holds only per-50-ms energies and a few samples of context, never the stream itself.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.hop = max(1, round(FLOOR_HOP_S * rate))
        self.frames = 0
        self.energy = 0.0
        self.peak = 0.0
        self.true_peak = 0.0
        self._hops: list[np.ndarray] = []  # mean power of each whole hop
        self._pending = np.zeros(0)  # power of frames not yet a whole hop
        self._context: np.ndarray | None = None  # the last frames, for true peaks across blocks

    def feed(self, block: np.ndarray) -> None:
        x = np.asarray(block, np.float32)
        x = x.reshape(x.shape[0], -1)
        if x.shape[0] == 0:
            return
        power = np.mean(np.square(x, dtype=np.float64), axis=1)
        self.frames += power.size
        self.energy += float(power.sum())
        self.peak = max(self.peak, float(np.abs(x).max()))
        power = np.concatenate([self._pending, power])
        whole = power.size - power.size % self.hop
        self._hops.append(power[:whole].reshape(-1, self.hop).mean(axis=1))
        self._pending = power[whole:]
        self._true_peak(x)

    def _true_peak(self, x: np.ndarray, last: bool = False) -> None:
        """Peaks of the frames with ``PEAK_CONTEXT`` frames of context both sides; the rest waits for the next block."""
        if self._context is None:
            self._context = np.zeros((PEAK_CONTEXT, x.shape[1]), np.float32)  # silence before the start
        seg = np.concatenate([self._context, x])
        if last:
            seg = np.concatenate([seg, np.zeros((PEAK_CONTEXT, seg.shape[1]), np.float32)])  # and after the end
        if seg.shape[0] > 2 * PEAK_CONTEXT:
            for ch in range(seg.shape[1]):
                env = peak_envelope(seg[:, ch], self.rate)[PEAK_CONTEXT:-PEAK_CONTEXT]
                self.true_peak = max(self.true_peak, float(env.max()))
            seg = seg[-2 * PEAK_CONTEXT :]
        self._context = seg

    def figures(self) -> dict[str, Any]:
        """The figures so far, judged (see :func:`judge`)."""
        if self.frames == 0:
            return {"duration_s": 0.0, "passes": False, "reasons": ["no audio"], "warnings": []}
        if self._context is not None:
            self._true_peak(np.zeros((0, self._context.shape[1]), np.float32), last=True)
            self._context = None
        hops = np.concatenate(self._hops)
        floor = self._floor(hops)
        figures: dict[str, Any] = {
            "duration_s": round(self.frames / self.rate, 3),
            "rms_db": _round(_power_db(self.energy / self.frames)),
            "peak_dbfs": _round(_db(self.peak)),
            "true_peak_dbtp": _round(_db(max(self.true_peak, self.peak))),
            "noise_floor_db": _round(_power_db(floor)),
            **self._edges(hops, floor),
        }
        figures.update(judge(figures))
        return figures

    def _floor(self, hops: np.ndarray) -> float:
        """Mean power of the quietest 0.5 s window (of whole hops; all of it when shorter)."""
        span = max(1, round(FLOOR_WINDOW_S / FLOOR_HOP_S))
        if hops.size < span:
            return self.energy / self.frames
        sums = np.concatenate([[0.0], np.cumsum(hops)])
        return float((sums[span:] - sums[:-span]).min() / span)

    def _edges(self, hops: np.ndarray, floor: float) -> dict[str, float]:
        """Seconds before the first and after the last 50 ms that stands out of the floor as speech."""
        loud = np.flatnonzero(hops > max(floor, 1e-12) * 10 ** (SPEECH_OVER_FLOOR_DB / 10))
        seconds = self.frames / self.rate
        if loud.size == 0:
            return {"head_s": round(seconds, 2), "tail_s": 0.0}
        tail = seconds - (loud[-1] + 1) * self.hop / self.rate
        return {"head_s": round(float(loud[0] * self.hop / self.rate), 2), "tail_s": round(float(tail), 2)}


def judge(figures: dict[str, Any]) -> dict[str, Any]:
    """``passes``, ``reasons`` (ACX's rules broken) and ``warnings`` (what a reviewer may still flag)."""
    reasons, warnings = [], []
    rms, peak, floor = figures["rms_db"], figures["peak_dbfs"], figures["noise_floor_db"]
    low, high = RMS_RANGE_DB
    if not low <= rms <= high:
        side = "too quiet" if rms < low else "too loud"
        reasons.append(f"RMS {rms:.1f} dB is {side} (ACX: {low:.0f} to {high:.0f} dB)")
    if peak > PEAK_MAX_DB:
        reasons.append(f"peak {peak:.1f} dBFS is above {PEAK_MAX_DB:.0f} dBFS")
    if floor > NOISE_FLOOR_MAX_DB:
        reasons.append(f"noise floor {floor:.1f} dB is above {NOISE_FLOOR_MAX_DB:.0f} dB (no quiet half second)")
    if figures["true_peak_dbtp"] > PEAK_MAX_DB >= peak:
        warnings.append(f"true peak {figures['true_peak_dbtp']:.1f} dBTP is above {PEAK_MAX_DB:.0f} (samples are under)")
    if floor <= DIGITAL_SILENCE_DB:
        warnings.append("digital silence in the pauses (ACX asks for room tone)")
    if not HEAD_RANGE_S[0] <= figures["head_s"] <= HEAD_RANGE_S[1]:
        warnings.append(f"{figures['head_s']:.2f} s before the first word (ACX: {HEAD_RANGE_S[0]}-{HEAD_RANGE_S[1]} s)")
    if not TAIL_RANGE_S[0] <= figures["tail_s"] <= TAIL_RANGE_S[1]:
        warnings.append(f"{figures['tail_s']:.2f} s after the last word (ACX: {TAIL_RANGE_S[0]:.0f}-{TAIL_RANGE_S[1]:.0f} s)")
    return {"passes": not reasons, "reasons": reasons, "warnings": warnings}


def _probe(path: Path) -> dict[str, Any]:
    what = f"Reading {path}"
    args = ["-show_streams", "-select_streams", "a:0", "-show_chapters", "-of", "json", str(path)]
    try:
        return json.loads(run_ffmpeg(args, what, tool="ffprobe") or b"{}")
    except ValueError as exc:
        raise AudioFormatError(f"{what}: ffprobe gave no readable answer ({exc}).") from exc


def _db(amplitude: float) -> float:
    return float(20 * np.log10(amplitude)) if amplitude > 0 else -120.0


def _power_db(power: float) -> float:
    return float(10 * np.log10(power)) if power > 0 else -120.0


def _round(value: float) -> float:
    return round(float(max(value, -120.0)), 2)
