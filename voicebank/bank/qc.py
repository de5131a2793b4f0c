"""Quality checks for one take: is it good enough to keep, and if not, what to do.

Runs after every take while the speaker waits, so it is plain numpy on the samples
plus one pass of the speech detector (:mod:`voicebank.bank.vad`).

Each check gives pass/warn/fail with one sentence a tired person can act on. The
absolute checks (format, level, clipping, noise, silence, cut-off speech, length) need
nothing but the take. Duration and speaking rate are compared with the speaker's own
running medians within a bank (:class:`SpeakerBaseline`): there is no right speed for
everybody, only a usual one for each person.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from ..audio import PathLike, audio_info, db, read_audio
from ..errors import AudioFormatError, UsageError
from . import vad

SCHEMA_VERSION = 1
VERDICTS = ("pass", "warn", "fail")
_FRAME_S = 0.010  # level frames: fine enough for edges, coarse enough to be cheap


@dataclass(frozen=True)
class QCThresholds:
    """Every number the quality checks judge by, in one place."""

    schema_version: int = SCHEMA_VERSION
    # -- format --
    min_sample_rate: int = 16000  # below this: fail (telephone quality, too little detail to learn a voice)
    good_sample_rate: int = 22050  # below this: warn (usable, but a better rate gives a better voice)
    min_bits: int = 16  # fewer bits per sample (8-bit files): fail, the hiss of 8-bit is baked in
    dead_channel_db: float = 30.0  # a channel this far below the loudest one is dead (unplugged/unused input)
    cancel_db: float = 12.0  # mixing channels loses this much level: they cancel (one is wired back to front)
    min_highband_db: float = -45.0  # energy 4.5-8 kHz vs 0.3-3.4 kHz below this: muffled, phone-line audio
    # -- level --
    clip_level: float = 0.999  # a sample at or above this (fraction of full scale) is clipped
    clip_run: int = 4  # this many equal samples in a row at the take's peak are clipped too (clipped, then scaled)
    clip_warn_samples: int = 2  # this many clipped samples: warn (the odd peak touched the limit)
    clip_fail_samples: int = 20  # this many: fail (audible distortion)
    level_fail_dbfs: float = -36.0  # speech RMS below this: fail, too quiet
    level_warn_dbfs: float = -28.0  # speech RMS below this: warn, a bit quiet
    loud_warn_dbfs: float = -12.0  # speech RMS above this: warn, close to distorting
    snr_fail_db: float = 15.0  # speech this little above the noise floor: fail
    snr_warn_db: float = 25.0  # below this: warn
    # -- speech and silence --
    vad_threshold: float = 0.5  # speech probability at which speech starts (ends 0.15 lower)
    min_speech_s: float = 0.3  # less speech than this in a take: fail, nothing was said
    silence_warn_s: float = 2.0  # silence before the first or after the last word longer than this: warn
    trunc_fail_db: float = -12.0  # outermost 10 ms this close to the loud parts of speech: cut off, fail
    trunc_warn_db: float = -20.0  # this close: may be cut off, warn
    trunc_above_noise_db: float = 12.0  # ...and only if that edge is this far above the noise floor
    trunc_sustain_db: float = -30.0  # ...and the outermost 50 ms stay this close (a click at the edge does not)
    trunc_max_gap_s: float = 0.5  # ...and the speech detector heard speech within this of the edge
    max_take_s: float = 30.0  # a take longer than this: fail, it belongs to import-audio
    # -- against the speaker's own takes (SpeakerBaseline) --
    baseline_min_takes: int = 5  # the baseline speaks only once this many takes have the measure
    rate_warn_ratio: float = 1.4  # speaking rate this many times faster (or slower) than usual: warn
    rate_fail_ratio: float = 1.8  # this many times: fail
    duration_warn_ratio: float = 3.0  # take this many times longer than usual (no text given): warn

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QCThresholds:
        """Build from a dict (JSON/TOML); missing keys keep their defaults."""
        types = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(d) - set(types))
        if unknown:
            raise UsageError(f"Unknown QC threshold(s): {', '.join(unknown)}. Known: {', '.join(types)}.")
        out: dict[str, Any] = {}
        for k, v in d.items():
            try:
                out[k] = int(v) if types[k] in ("int", int) else float(v)
            except (TypeError, ValueError) as exc:
                raise UsageError(f"QC threshold {k} must be a number, not {v!r}.") from exc
        return cls(**out)


@dataclass(frozen=True)
class Check:
    """One check's outcome: its name, pass/warn/fail, the value judged, what to do."""

    name: str
    verdict: str
    value: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict, "value": self.value, "message": self.message}


@dataclass
class QCReport:
    """All checks of one take plus the measurements behind them (JSON-safe numbers)."""

    checks: list[Check]
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """The worst verdict of any check ("pass" when there are none)."""
        return max((c.verdict for c in self.checks), key=VERDICTS.index, default="pass")

    def problems(self) -> list[Check]:
        """The checks that did not pass, fails first."""
        bad = [c for c in self.checks if c.verdict != "pass"]
        return sorted(bad, key=lambda c: -VERDICTS.index(c.verdict))

    def check(self, name: str) -> Check | None:
        """The check called ``name``, if it ran."""
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict,
            "checks": [c.to_dict() for c in self.checks],
            "measures": dict(self.measures),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QCReport:
        checks = [
            Check(str(c["name"]), str(c["verdict"]), None if c.get("value") is None else float(c["value"]), str(c["message"]))
            for c in d.get("checks", [])
        ]
        return cls(checks, {str(k): float(v) for k, v in d.get("measures", {}).items()})


@dataclass(frozen=True)
class SpeakerBaseline:
    """The speaker's own usual values: medians of each measure over their recent takes.

    Build it from the measures of the takes a bank kept (``QCReport.measures``). Takes
    lacking a measure are ignored for that measure; a median counts only once
    ``QCThresholds.baseline_min_takes`` takes had it. The most recent ``recent`` takes
    are used because a voice may change over the weeks of banking.
    """

    medians: dict[str, float]
    counts: dict[str, int]

    @classmethod
    def from_measures(cls, measures: Iterable[Mapping[str, Any]], *, recent: int | None = 200) -> SpeakerBaseline:
        values: dict[str, list[float]] = {}
        for m in measures:
            for k, v in m.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                    values.setdefault(k, []).append(float(v))
        if recent:
            values = {k: v[-recent:] for k, v in values.items()}
        return cls({k: statistics.median(v) for k, v in values.items()}, {k: len(v) for k, v in values.items()})

    def median(self, name: str, min_takes: int = QCThresholds.baseline_min_takes) -> float | None:
        """The usual value of a measure, or None while fewer than ``min_takes`` takes had it."""
        return self.medians.get(name) if self.counts.get(name, 0) >= min_takes else None

    def active(self, min_takes: int = QCThresholds.baseline_min_takes) -> bool:
        """Whether enough takes are known to compare with (by duration, which every take has)."""
        return self.median("duration_s", min_takes) is not None

    def to_dict(self) -> dict[str, Any]:
        return {"medians": dict(self.medians), "counts": dict(self.counts)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SpeakerBaseline:
        return cls({k: float(v) for k, v in d["medians"].items()}, {k: int(v) for k, v in d["counts"].items()})


# ---------------------------------------------------------------- analysis


def check_file(
    path: PathLike,
    *,
    text: str | None = None,
    baseline: SpeakerBaseline | None = None,
    thresholds: QCThresholds = QCThresholds(),
) -> QCReport:
    """Check one audio file; raises AudioFormatError when it cannot be read at all."""
    info = audio_info(path)
    samples, rate = read_audio(path)
    report = analyze(samples, rate, text=text, baseline=baseline, thresholds=thresholds)
    bits = info.bits
    if bits is not None:
        report.measures["bits"] = float(bits)
        if bits < thresholds.min_bits:
            c = Check("bit_depth", "fail", float(bits),
                      f"The file is {bits}-bit, which adds hiss that cannot be removed: "
                      f"record at {thresholds.min_bits}-bit or better.")
        else:
            c = Check("bit_depth", "pass", float(bits), f"{bits}-bit samples are fine.")
        report.checks.insert(0, c)
    return report


def analyze(
    samples: np.ndarray,
    sample_rate: int,
    *,
    text: str | None = None,
    baseline: SpeakerBaseline | None = None,
    thresholds: QCThresholds = QCThresholds(),
    detector: vad.SpeechDetector | None = None,
) -> QCReport:
    """Judge one take. ``samples``: float, ``(frames,)`` or ``(frames, channels)``, full scale 1.0.

    ``text`` (what was to be said) enables the speaking-rate measure; ``baseline`` adds
    the comparisons with the speaker's usual takes. ``detector`` lets a caller reuse one
    speech detector across many takes.
    """
    th = thresholds
    x = _validated(samples, sample_rate)
    rate = int(sample_rate)
    m: dict[str, float] = {
        "duration_s": x.shape[0] / rate,
        "sample_rate": float(rate),
        "channels": float(x.shape[1]),
    }
    checks = [_check_sample_rate(rate, th)]
    mono, channel_check = _channels(x, th, m)
    checks.append(channel_check)
    checks.append(_check_too_long(m["duration_s"], th))
    checks.append(_check_clipping(x, th, m))

    mono = mono - np.float32(mono.mean())  # DC offset is not sound
    det = detector or vad.SpeechDetector()
    probs = det.probabilities(mono, rate)
    segs = vad.segments_from_probabilities(probs, m["duration_s"], threshold=th.vad_threshold, keep_edges=True)
    m["speech_s"] = float(sum(e - s for s, e in segs))
    if det.backend != "silero":
        m["vad_energy_fallback"] = 1.0
    if m["speech_s"] < th.min_speech_s:
        checks.append(Check("speech", "fail", m["speech_s"],
                            "No speech was heard: check that the microphone is switched on and not muted, "
                            "then record again."))
        return QCReport(checks, _rounded(m))
    checks.append(Check("speech", "pass", m["speech_s"], f"{m['speech_s']:.1f} s of speech."))

    levels = _frame_levels(mono, rate)
    speech = _speech_mask(segs, len(levels))
    checks += _level_and_noise(levels, speech, th, m)
    checks += _silence_and_edges(levels, segs, th, m)
    checks.append(_check_bandwidth(mono, rate, segs, th, m))
    if text:
        letters = sum(ch.isalnum() for ch in text)
        if letters:  # letters per second of speech (pauses left out: they vary with punctuation)
            m["speech_rate"] = letters / m["speech_s"]
    checks += _against_baseline(m, text, baseline, th)
    return QCReport(checks, _rounded(m))


def _validated(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise AudioFormatError(f"Expected audio samples shaped (frames,) or (frames, channels), got {np.shape(samples)}.")
    if sample_rate <= 0:
        raise AudioFormatError(f"The sample rate must be positive, not {sample_rate}.")
    if np.issubdtype(x.dtype, np.integer):  # PCM integers: scale to full scale 1.0
        x = x.astype(np.float32) / float(2 ** (8 * x.dtype.itemsize - 1))
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise AudioFormatError("The audio holds invalid samples (NaN or infinity); record or export it again.")
    return x


def _rounded(m: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in m.items()}


def _check_sample_rate(rate: int, th: QCThresholds) -> Check:
    if rate < th.min_sample_rate:
        return Check("sample_rate", "fail", float(rate),
                     f"Recorded at only {rate} Hz (telephone quality): set the recorder to 44100 or 48000 Hz "
                     "and record again.")
    if rate < th.good_sample_rate:
        return Check("sample_rate", "warn", float(rate),
                     f"Recorded at {rate} Hz: usable, but 44100 or 48000 Hz keeps more of your voice.")
    return Check("sample_rate", "pass", float(rate), f"Sample rate {rate} Hz is fine.")


def _channels(x: np.ndarray, th: QCThresholds, m: dict[str, float]) -> tuple[np.ndarray, Check]:
    """Mono signal to analyse, and whether the channels are sound."""
    n = x.shape[1]
    if n == 1:
        return x[:, 0], Check("channels", "pass", 1.0, "Mono recording.")
    rms = [db(float(np.sqrt(np.mean(np.square(x[:, c], dtype=np.float64))))) for c in range(n)]
    loud = max(rms)
    live = [c for c in range(n) if rms[c] > loud - th.dead_channel_db]
    m["dead_channels"] = float(n - len(live))
    mix = x[:, live].mean(axis=1) if len(live) > 1 else x[:, live[0]]
    mix_db = db(float(np.sqrt(np.mean(np.square(mix, dtype=np.float64)))))
    if len(live) < n:
        check = Check("channels", "fail", float(n - len(live)),
                      f"{n - len(live)} of the {n} channels is silent: set the recorder to mono, or plug the "
                      "microphone into the input it is meant for, then record again.")
    elif len(live) > 1 and mix_db < loud - th.cancel_db:
        mix = x[:, rms.index(loud)]
        check = Check("channels", "fail", mix_db - loud,
                      "The two channels cancel each other out when mixed (one is wired back to front): "
                      "record in mono or fix the cable, then record again.")
    else:
        check = Check("channels", "pass", float(n), f"{n} channels, mixed to mono for the voice.")
    return mix.astype(np.float32, copy=False), check


def _check_too_long(duration: float, th: QCThresholds) -> Check:
    if duration > th.max_take_s:
        return Check("too_long", "fail", duration,
                     f"Too long for one take ({duration:.0f} s, at most {th.max_take_s:.0f} s): record one "
                     "sentence per take, or use import-audio, which cuts long recordings into pieces.")
    return Check("too_long", "pass", duration, f"Length {duration:.1f} s is fine.")


def _check_clipping(x: np.ndarray, th: QCThresholds, m: dict[str, float]) -> Check:
    mag = np.abs(x)
    peak = float(mag.max())
    m["peak_dbfs"] = db(peak)
    clipped = int(np.count_nonzero(mag >= th.clip_level))
    if peak < th.clip_level and peak > 0.05:
        # Flat tops below full scale: clipped somewhere earlier, then turned down.
        clipped += sum(_flat_top_samples(x[:, c], 0.99 * peak, th.clip_run) for c in range(x.shape[1]))
    m["clipped_samples"] = float(clipped)
    if clipped >= th.clip_fail_samples:
        return Check("clipping", "fail", float(clipped),
                     f"Too loud: the sound hit the limit ({clipped} clipped samples) and is distorted. Move a little "
                     "further from the microphone or turn the input gain down, then record again.")
    if clipped >= th.clip_warn_samples:
        return Check("clipping", "warn", float(clipped),
                     "Almost too loud: a few peaks touched the limit. Move back from the microphone a little.")
    return Check("clipping", "pass", float(clipped), f"No clipping (peak {m['peak_dbfs']:.1f} dBFS).")


def _flat_top_samples(ch: np.ndarray, level: float, run: int) -> int:
    """Samples in runs of ``run`` or more equal values at or above ``level`` in magnitude."""
    hot = np.abs(ch) >= level
    same = np.zeros(len(ch), dtype=bool)
    same[1:] = (ch[1:] == ch[:-1]) & hot[1:] & hot[:-1]
    if not same.any():
        return 0
    edges = np.diff(np.concatenate([[0], same.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts + 1  # a run of k equal samples has k-1 "same as before" marks
    return int(lengths[lengths >= run].sum())


def _frame_levels(mono: np.ndarray, rate: int) -> np.ndarray:
    """Level in dBFS of each 10 ms frame (the last partial frame included)."""
    n = max(1, int(round(_FRAME_S * rate)))
    k = -(-len(mono) // n)
    padded = np.zeros(k * n, dtype=np.float32)
    padded[: len(mono)] = mono
    power = np.mean(np.square(padded.reshape(k, n), dtype=np.float64), axis=1)
    if len(mono) % n:
        power[-1] *= n / (len(mono) % n)
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def _speech_mask(segs: list[tuple[float, float]], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for s, e in segs:
        mask[int(s / _FRAME_S) : int(math.ceil(e / _FRAME_S))] = True
    return mask


def _power_mean_db(levels: np.ndarray) -> float:
    return float(10.0 * np.log10(np.mean(10.0 ** (levels / 10.0))))


def _level_and_noise(levels: np.ndarray, speech: np.ndarray, th: QCThresholds, m: dict[str, float]) -> list[Check]:
    m["rms_dbfs"] = rms = max(_power_mean_db(levels[speech]), -120.0)
    m["speech_peak_db"] = float(np.percentile(levels[speech], 95))
    # Noise floor: the quieter part of the frames well away from speech (a guard of 60 ms
    # keeps speech onsets and tails out; the 20th percentile keeps breaths and clicks out).
    guard = np.convolve(speech.astype(np.int8), np.ones(13, dtype=np.int8), mode="same") > 0
    pause = levels[~guard]
    # The quietest gaps between words bound the floor from above; they also guard against
    # speech the detector missed (it is slow to rise on speech already under way at the
    # first sample, and less sure of very quiet speech).
    gaps = float(np.percentile(levels, 5))
    if len(pause) >= 10:
        floor = min(float(np.percentile(pause, 20)), gaps)
        m["noise_from_pauses"] = 1.0
    else:
        floor, m["noise_from_pauses"] = gaps, 0.0
    m["noise_floor_dbfs"] = floor = max(floor, -120.0)
    m["snr_db"] = snr = rms - floor

    if rms < th.level_fail_dbfs:
        level = Check("level", "fail", rms, f"Too quiet ({rms:.0f} dBFS): speak closer to the microphone or turn "
                      "the input gain up, then record again.")
    elif rms < th.level_warn_dbfs:
        level = Check("level", "warn", rms, f"A bit quiet ({rms:.0f} dBFS): move a little closer to the microphone.")
    elif rms > th.loud_warn_dbfs:
        level = Check("level", "warn", rms, f"Very loud ({rms:.0f} dBFS): move back from the microphone a little.")
    else:
        level = Check("level", "pass", rms, f"Level is good ({rms:.0f} dBFS).")
    if snr < th.snr_fail_db:
        noise = Check("noise", "fail", snr, f"Too much background noise (your voice is only {snr:.0f} dB above it): "
                      "find a quieter spot or switch off fans and TV, then record again.")
    elif snr < th.snr_warn_db:
        noise = Check("noise", "warn", snr, f"Some background noise (your voice is {snr:.0f} dB above it): "
                      "a quieter room would help.")
    else:
        noise = Check("noise", "pass", snr, f"Background is quiet (your voice is {snr:.0f} dB above it).")
    return [level, noise]


def _edge_levels(levels: np.ndarray, start: bool) -> tuple[float, float]:
    """Level of the outermost 10 ms, and the median of the outermost 50 ms (is it sustained?)."""
    outer = levels[:5] if start else levels[::-1][:5]
    return float(outer[0]), float(np.median(outer))


def _silence_and_edges(
    levels: np.ndarray, segs: list[tuple[float, float]], th: QCThresholds, m: dict[str, float]
) -> list[Check]:
    m["lead_silence_s"] = lead = segs[0][0]
    m["trail_silence_s"] = trail = m["duration_s"] - segs[-1][1]
    out = []
    for name, gap, where in (("silence_start", lead, "before you started"), ("silence_end", trail, "after you finished")):
        if gap > th.silence_warn_s:
            tip = "start a little sooner after pressing record" if name == "silence_start" else "stop a little sooner"
            out.append(Check(name, "warn", gap, f"Long silence {where} ({gap:.1f} s): you can {tip}."))
        else:
            out.append(Check(name, "pass", gap, f"{gap:.1f} s of silence {where}."))
    ref, floor = m["speech_peak_db"], m["noise_floor_dbfs"]
    for name, gap, start in (("truncated_start", lead, True), ("truncated_end", trail, False)):
        # Speech runs into the edge at nearly full level, and keeps going (a click does not).
        edge, sustained = _edge_levels(levels, start)
        rel = edge - ref
        m["head_db" if start else "tail_db"] = rel
        cut = (gap <= th.trunc_max_gap_s and edge - floor >= th.trunc_above_noise_db
               and sustained - ref >= th.trunc_sustain_db)
        what = "first word" if start else "last word"
        tip = ("wait a moment after pressing record before you speak" if start
               else "wait a moment after your last word before stopping")
        if cut and rel >= th.trunc_fail_db:
            out.append(Check(name, "fail", rel, f"The {what} is cut off: {tip}, then record again."))
        elif cut and rel >= th.trunc_warn_db:
            out.append(Check(name, "warn", rel, f"The {what} may be clipped short: next time, {tip}."))
        else:
            out.append(Check(name, "pass", rel, f"The {what} is complete."))
    return out


def _check_bandwidth(mono: np.ndarray, rate: int, segs: list[tuple[float, float]], th: QCThresholds,
                     m: dict[str, float]) -> Check:
    """Muffled audio: a file at a good rate that was a phone call or an 8 kHz file once."""
    hi_top = min(8000.0, 0.95 * rate / 2)
    if hi_top < 6000.0:  # nothing to judge: the sample_rate check already speaks
        return Check("bandwidth", "pass", None, "Bandwidth not judged at this sample rate.")
    n = 1024
    spec = np.zeros(n // 2 + 1)
    for s, e in segs:
        a, b = int(s * rate), int(e * rate)
        k = (b - a) // n
        if k:
            frames = mono[a : a + k * n].reshape(k, n) * np.hanning(n).astype(np.float32)
            spec += np.sum(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    low = spec[(freqs >= 300) & (freqs <= 3400)].sum()
    high = spec[(freqs >= 4500) & (freqs <= hi_top)].sum()
    if low <= 0:
        return Check("bandwidth", "pass", None, "Bandwidth not judged (too little speech).")
    m["highband_db"] = hb = 10.0 * math.log10(max(high, 1e-30) / low)
    if hb < th.min_highband_db:
        return Check("bandwidth", "fail", hb,
                     "Sounds muffled, like a phone line (almost nothing above 4 kHz): record straight from "
                     "a good microphone, not through a phone call or a low-quality file.")
    return Check("bandwidth", "pass", hb, "Full bandwidth.")


def _against_baseline(m: dict[str, float], text: str | None, baseline: SpeakerBaseline | None,
                      th: QCThresholds) -> list[Check]:
    if baseline is None:
        return []
    out = []
    usual_rate = baseline.median("speech_rate", th.baseline_min_takes)
    if "speech_rate" in m and usual_rate:
        r = m["speech_rate"] / usual_rate
        m["speech_rate_ratio"] = r
        fast = r >= 1.0
        how = "faster" if fast else "slower"
        tip = ("read at your normal pace" if fast
               else "if you are tired, take a break; then read at your normal pace")
        far = max(r, 1.0 / r)
        if far >= th.rate_fail_ratio:
            out.append(Check("speaking_rate", "fail", r, f"Much {how} than you usually speak: {tip}, and record again."))
        elif far >= th.rate_warn_ratio:
            out.append(Check("speaking_rate", "warn", r, f"A bit {how} than you usually speak: {tip}."))
        else:
            out.append(Check("speaking_rate", "pass", r, "Your usual pace."))
    usual_dur = baseline.median("duration_s", th.baseline_min_takes)
    if not text and usual_dur:
        r = m["duration_s"] / usual_dur
        m["duration_ratio"] = r
        if r >= th.duration_warn_ratio:
            out.append(Check("duration", "warn", r,
                             f"Much longer than your usual takes ({m['duration_s']:.1f} s against about "
                             f"{usual_dur:.1f} s): check that it holds only the prompt."))
        else:
            out.append(Check("duration", "pass", r, "A usual length for your takes."))
    return out
