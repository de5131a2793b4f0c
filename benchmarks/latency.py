"""``voicebank bench latency``: time to first audio and real-time factor, against Piper.

Both engines speak the same voice and sentences in the same process, interleaved run by
run, at each thread setting (ONNX Runtime ``intra_op_num_threads``; ``inter_op`` = 1):

* **voicebank**: :meth:`PiperOnnxEngine.stream` (windowed flow/decoder, first-clause mode
  on for long sentences); also ``voicebank-no-first-clause`` on the long input, i.e. with the
  first-clause mode off, to show what it buys;
* **voicebank-watermark** (with ``--watermark``): the same engine wrapped in
  :class:`~voicebank.engines.marked.MarkedEngine`, as ``speak`` and ``serve`` use it, so the
  watermark's cost on time to first audio is read off one run (``comparison.watermark``);
* **piper**: ``piper-tts``'s own ``PiperVoice.synthesize`` generator, unmodified except
  that its ONNX Runtime session is built here to set the thread counts.

Time to first audio (TTFA) runs from the call to the first chunk being available to the
player; the real-time factor (RTF) is the time to the last chunk over the audio's length.
For each engine the ratio uses its best thread setting.  ``underrun_ms`` is how late the
worst of our later chunks would have been for a player that starts on the first chunk.

``--typing`` replays the medium sentence typed keystroke by keystroke at 40 words per
minute (5 characters a word: 0.3 s a key, real time) through :class:`TypeAhead`, the
object the interactive prompt feeds, and times Enter → first audio; Piper gets the
finished line at Enter.

``first_clause`` reports what the first-clause mode costs in prosody on the long input
(noise off, so both versions are deterministic): clause duration, F0 and level of the
clause spoken alone against the same clause inside the whole sentence.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

INPUTS = {
    "short": "Yes, thank you.",
    "medium": (
        "The old lighthouse keeper walked slowly along the narrow path to check the lamp "
        "before the storm arrived again tonight."
    ),
    "long": (
        "When the morning train finally pulled into the quiet station after a long night of "
        "delays, the passengers stepped onto the platform, stretched their tired legs, collected "
        "their heavy bags from the racks above the seats, and walked together toward the small "
        "cafe across the square where the owner was already waiting with fresh bread and hot "
        "coffee for everyone."
    ),
}
TARGETS = {"ttfa_medium": 0.4, "ttfa_long": 0.25, "typing_medium": 0.2, "rtf": 1.1}


# --------------------------------------------------------------------------- engines under test


def load_piper(model: os.PathLike, config: os.PathLike, threads: int) -> Any:
    """Piper's own PiperVoice with an ONNX Runtime session that has the given thread counts."""
    import onnxruntime as ort
    from piper import PiperConfig, PiperVoice

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
    with open(config, encoding="utf-8") as fh:
        cfg = PiperConfig.from_dict(json.load(fh))
    return PiperVoice(session=session, config=cfg)


SETTLE_S = 0.05  # idle time before each timed run


def _time_chunks(start: Callable[[], Iterable[Any]], frames: Callable[[Any], int], rate: int) -> dict[str, float]:
    """Time one utterance: first chunk, last chunk, audio length, and player underrun.

    Each run starts after a short idle gap: ONNX Runtime's thread pools spin for a while after
    a run (Piper's do by default), and a run started at once would share the cores with the
    previous engine's spinning threads; in real use nothing else synthesizes just before.
    """
    time.sleep(SETTLE_S)
    t0 = time.perf_counter()
    first: float | None = None
    audio = 0
    late = 0.0
    for chunk in start():
        now = time.perf_counter() - t0
        if first is None:
            first = now
        else:  # a player starting at `first` needs this chunk when the audio before it is done
            late = max(late, now - (first + audio / rate))
        audio += frames(chunk)
    total = time.perf_counter() - t0
    seconds = audio / rate
    return {
        "ttfa": first if first is not None else total,
        "total": total,
        "audio_s": seconds,
        "rtf": total / seconds if seconds else float("nan"),
        "underrun": late,
    }


def _summary(samples: Sequence[dict[str, float]]) -> dict[str, float]:
    ttfa = np.array([s["ttfa"] for s in samples]) * 1000.0
    rtf = np.array([s["rtf"] for s in samples])
    return {
        "ttfa_ms_p50": round(float(np.percentile(ttfa, 50)), 1),
        "ttfa_ms_p95": round(float(np.percentile(ttfa, 95)), 1),
        "rtf_p50": round(float(np.percentile(rtf, 50)), 4),
        "rtf_p95": round(float(np.percentile(rtf, 95)), 4),
        "total_s_p50": round(float(np.percentile([s["total"] for s in samples], 50)), 3),
        "audio_s": round(float(np.median([s["audio_s"] for s in samples])), 3),
        "underrun_ms_max": round(max(0.0, max(s["underrun"] for s in samples)) * 1000.0, 1),
        "runs": len(samples),
    }


def _best(per_threads: dict[str, dict[str, float]], key: str) -> tuple[str, float]:
    name = min(per_threads, key=lambda k: per_threads[k][key])
    return name, per_threads[name][key]


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform()}
    try:
        info["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------- latency runs


def run_latency(
    runs: int = 10,
    threads: Sequence[int] = (1, 2),
    voice: str | None = None,
    typing: bool = False,
    typing_runs: int = 3,
    wpm: float = 40.0,
    prosody: bool = True,
    inputs: dict[str, str] | None = None,
    watermark: bool = False,
) -> dict[str, Any]:
    """Run the benchmark and return its results as a JSON-ready dict."""
    from voicebank.engines import SynthesisOptions, load_engine

    texts = dict(inputs or INPUTS)
    ours = {t: load_engine(voice, threads=t) for t in threads}
    files = next(iter(ours.values())).voice
    piper = {t: load_piper(files.model, files.config, t) for t in threads}
    no_head = SynthesisOptions(first_clause=False)
    machine_before = _machine()

    def ours_run(t: int, text: str, opts: Any | None = None) -> dict[str, float]:
        eng = ours[t]
        return _time_chunks(lambda: eng.stream(text, opts), lambda c: c.frames, eng.sample_rate)

    def piper_run(t: int, text: str) -> dict[str, float]:
        v = piper[t]
        return _time_chunks(lambda: v.synthesize(text), lambda c: len(c.audio_float_array), v.config.sample_rate)

    configs: list[tuple[str, int, Callable[[str], dict[str, float]], str | None]] = []
    for t in threads:
        configs.append(("voicebank", t, lambda text, t=t: ours_run(t, text), None))
        configs.append(("piper", t, lambda text, t=t: piper_run(t, text), None))
        configs.append(("voicebank-no-first-clause", t, lambda text, t=t: ours_run(t, text, no_head), "long"))
    if watermark:
        from voicebank.engines.marked import MarkedEngine

        marked = {t: MarkedEngine(load_engine(voice, threads=t)) for t in threads}
        for t in threads:
            marked[t].load()
            configs.append(("voicebank-watermark", t, lambda text, t=t: _time_chunks(
                lambda: marked[t].stream(text), lambda c: c.frames, marked[t].sample_rate), None))

    for name, text in texts.items():  # warm-up: first calls allocate arenas and caches
        for _, _, fn, only in configs:
            if only is None or only == name:
                fn(text)

    raw: dict[str, dict[str, dict[str, list[dict[str, float]]]]] = {}
    for r in range(runs):
        order = configs if r % 2 == 0 else list(reversed(configs))
        for name, text in texts.items():
            for engine_name, t, fn, only in order:
                if only is not None and only != name:
                    continue
                raw.setdefault(engine_name, {}).setdefault(f"threads={t}", {}).setdefault(name, []).append(fn(text))

    results: dict[str, Any] = {}
    for engine_name, per_t in raw.items():
        results[engine_name] = {tk: {n: _summary(s) for n, s in per_in.items()} for tk, per_in in per_t.items()}

    out: dict[str, Any] = {
        "note": "engines were interleaved run by run in one process, each run after a "
        f"{SETTLE_S * 1000:.0f} ms idle gap; timings on a shared machine are noisy.",
        "machine": {"before": machine_before, "after": _machine()},
        "voice": next(iter(ours.values())).describe(),
        "inputs": {n: {"text": t, "words": len(t.split())} for n, t in texts.items()},
        "runs": runs,
        "threads": list(threads),
        "results": results,
    }
    out["comparison"] = _compare(results, texts)
    if watermark:
        out["comparison"]["watermark"] = _watermark_cost(results, texts)
    if prosody:
        out["first_clause"] = first_clause_prosody(ours[threads[0]], texts.get("long", INPUTS["long"]))
    if typing:
        out["typing"] = run_typing(ours, piper, texts.get("medium", INPUTS["medium"]), typing_runs, wpm)
        out["comparison"]["typing_medium"] = out["typing"]["comparison"]
    out["acceptance"] = _acceptance(out)
    return out


def _compare(results: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    comp: dict[str, Any] = {}
    total_ours = total_piper = audio_ours = audio_piper = 0.0
    for name in texts:
        ours = {k: v[name] for k, v in results["voicebank"].items()}
        base = {k: v[name] for k, v in results["piper"].items()}
        ot, ov = _best(ours, "ttfa_ms_p50")
        pt, pv = _best(base, "ttfa_ms_p50")
        orr, orv = _best(ours, "rtf_p50")
        prr, prv = _best(base, "rtf_p50")
        comp[name] = {
            "ttfa_ms_p50": {"voicebank": ov, "piper": pv, "ratio": round(ov / pv, 3), "best": {"voicebank": ot, "piper": pt}},
            "ttfa_ms_p95": {
                "voicebank": ours[ot]["ttfa_ms_p95"],
                "piper": base[pt]["ttfa_ms_p95"],
                "ratio": round(ours[ot]["ttfa_ms_p95"] / base[pt]["ttfa_ms_p95"], 3),
            },
            "rtf_p50": {"voicebank": orv, "piper": prv, "ratio": round(orv / prv, 3), "best": {"voicebank": orr, "piper": prr}},
        }
        total_ours += ours[orr]["total_s_p50"]
        audio_ours += ours[orr]["audio_s"]
        total_piper += base[prr]["total_s_p50"]
        audio_piper += base[prr]["audio_s"]
    if audio_ours and audio_piper:
        rtf_o, rtf_p = total_ours / audio_ours, total_piper / audio_piper
        comp["all_inputs_rtf"] = {"voicebank": round(rtf_o, 4), "piper": round(rtf_p, 4), "ratio": round(rtf_o / rtf_p, 3)}
    return comp


def _watermark_cost(results: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    """Time to first audio and RTF with the mark against without, thread setting by thread setting."""
    out: dict[str, Any] = {}
    for tk, per_in in results["voicebank-watermark"].items():
        for name in texts:
            plain, marked = results["voicebank"][tk][name], per_in[name]
            out.setdefault(tk, {})[name] = {
                "ttfa_ms_p50": {"unmarked": plain["ttfa_ms_p50"], "marked": marked["ttfa_ms_p50"],
                                "extra": round(marked["ttfa_ms_p50"] - plain["ttfa_ms_p50"], 1)},
                "rtf_p50": {"unmarked": plain["rtf_p50"], "marked": marked["rtf_p50"]},
                "underrun_ms_max_marked": marked["underrun_ms_max"],
            }
    return out


def _acceptance(out: dict[str, Any]) -> dict[str, Any]:
    comp = out["comparison"]
    acc: dict[str, Any] = {}
    if "medium" in comp:
        acc["ttfa_medium_ratio<=0.4"] = comp["medium"]["ttfa_ms_p50"]["ratio"] <= TARGETS["ttfa_medium"]
    if "long" in comp:
        acc["ttfa_long_ratio<=0.25"] = comp["long"]["ttfa_ms_p50"]["ratio"] <= TARGETS["ttfa_long"]
    if "all_inputs_rtf" in comp:
        acc["rtf_ratio<=1.1 (all inputs)"] = comp["all_inputs_rtf"]["ratio"] <= TARGETS["rtf"]
        acc["rtf_ratio<=1.1 (each input)"] = all(
            comp[n]["rtf_p50"]["ratio"] <= TARGETS["rtf"] for n in out["inputs"] if n in comp
        )
    if "typing_medium" in comp:
        acc["typing_medium_ratio<=0.2"] = comp["typing_medium"]["ratio"] <= TARGETS["typing_medium"]
    return acc


# --------------------------------------------------------------------------- typing replay


def replay_typing(engine: Any, text: str, wpm: float = 40.0, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Type ``text`` key by key into a TypeAhead at ``wpm`` (real time), press Enter, time the audio."""
    from voicebank.engines import TypeAhead

    per_key = 60.0 / (wpm * 5.0)
    with TypeAhead(engine) as typing:
        line = ""
        for ch in text:
            line += ch
            typing.update(line)
            sleep(per_key)
        ready = typing.ready()
        result = _time_chunks(lambda: typing.speak(line), lambda c: c.frames, engine.sample_rate)
        result["ready_at_enter"] = ready
        result["speak"] = dict(typing.last_speak)
    return result


def run_typing(
    ours: dict[int, Any], piper: dict[int, Any], text: str, runs: int = 3, wpm: float = 40.0
) -> dict[str, Any]:
    """Enter → first audio with type-ahead, against Piper given the finished line at Enter."""
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {"voicebank": {}, "piper": {}}
    for _ in range(runs):
        for t in ours:
            samples["voicebank"].setdefault(f"threads={t}", []).append(replay_typing(ours[t], text, wpm))
            v = piper[t]
            samples["piper"].setdefault(f"threads={t}", []).append(
                _time_chunks(lambda v=v: v.synthesize(text), lambda c: len(c.audio_float_array), v.config.sample_rate)
            )
    summary: dict[str, Any] = {"wpm": wpm, "seconds_per_key": round(60.0 / (wpm * 5.0), 3), "runs": runs}
    for engine_name, per_t in samples.items():
        summary[engine_name] = {k: _summary(s) for k, s in per_t.items()}
    summary["voicebank_ready_at_enter"] = [s["ready_at_enter"] for s in next(iter(samples["voicebank"].values()))]
    ot, ov = _best(summary["voicebank"], "ttfa_ms_p50")
    pt, pv = _best(summary["piper"], "ttfa_ms_p50")
    summary["comparison"] = {
        "enter_to_first_audio_ms_p50": {"voicebank": ov, "piper": pv},
        "ratio": round(ov / pv, 3),
        "best": {"voicebank": ot, "piper": pt},
    }
    return summary


# --------------------------------------------------------------------------- first-clause prosody


def f0_track(x: np.ndarray, rate: int, fmin: float = 60.0, fmax: float = 400.0, hop: int = 256) -> np.ndarray:
    """A small YIN pitch tracker: F0 in Hz per hop, NaN where unvoiced or quiet."""
    frame = 1024
    tau_min, tau_max = int(rate / fmax), int(rate / fmin)
    x = np.asarray(x, dtype=np.float64)
    n = max(0, (len(x) - frame - tau_max) // hop + 1)
    out = np.full(n, np.nan)
    level = np.sqrt(np.mean(x * x)) if len(x) else 0.0
    for i in range(n):
        seg = x[i * hop : i * hop + frame + tau_max]
        w = seg[:frame]
        if np.sqrt(np.mean(w * w)) < 0.3 * level:
            continue
        taus = np.arange(1, tau_max + 1)
        energy = np.cumsum(seg * seg)
        e0 = energy[frame - 1]
        shifted = energy[taus + frame - 1] - energy[taus - 1]
        spec = np.fft.rfft(seg, 2 * len(seg))
        corr = np.fft.irfft(spec * np.conj(np.fft.rfft(w, 2 * len(seg))))[1 : tau_max + 1]
        d = e0 + shifted - 2.0 * corr
        cmnd = d * taus / np.maximum(np.cumsum(d), 1e-12)
        cand = np.flatnonzero(cmnd[tau_min - 1 :] < 0.15)
        if cand.size == 0:
            continue
        t = cand[0] + tau_min - 1
        while t + 1 < len(cmnd) and cmnd[t + 1] < cmnd[t]:
            t += 1
        if 0 < t < len(cmnd) - 1:
            a, b, c = cmnd[t - 1], cmnd[t], cmnd[t + 1]
            shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        else:
            shift = 0.0
        out[i] = rate / (t + 1 + shift)
    return out


def _pause_ms(x: np.ndarray, rate: int, around: int, hop: int = 256) -> float:
    """Length of the quiet stretch that contains sample ``around`` (−40 dB of the clip's peak RMS)."""
    frames = len(x) // hop
    rms = np.array([np.sqrt(np.mean(x[i * hop : (i + 1) * hop] ** 2)) for i in range(frames)])
    quiet = rms < (rms.max() * 0.01 if frames else 0)
    i = min(max(around // hop, 0), frames - 1)
    if not quiet[i]:
        j = i
        while j > 0 and not quiet[j]:
            j -= 1
        i = j
    lo = hi = i
    while lo > 0 and quiet[lo - 1]:
        lo -= 1
    while hi < frames - 1 and quiet[hi + 1]:
        hi += 1
    return round((hi - lo + 1) * hop / rate * 1000.0, 1) if quiet[i] else 0.0


def first_clause_prosody(engine: Any, text: str) -> dict[str, Any]:
    """What speaking the first clause alone changes, against the same clause in the whole sentence."""
    from voicebank.engines import SynthesisOptions

    opts = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, first_clause=True)
    phonemes = engine.phonemize(text)[0]
    k = engine.first_clause_cut(phonemes, opts)
    if k is None:
        return {"applies": False}
    rate, hop = engine.sample_rate, engine.hop
    whole_syn = engine.open_sentence(phonemes, opts)
    whole = np.concatenate([a for a, _ in whole_syn.chunks()])
    head = np.concatenate([a for a, _ in engine.open_sentence(phonemes[:k], opts).chunks()])
    seam = engine.seam_frame(whole_syn, phonemes, k) * hop
    in_whole = whole[:seam]
    spliced = np.concatenate([head, whole[seam:]])
    f_head, f_whole = f0_track(head, rate), f0_track(in_whole, rate)

    def stats(f: np.ndarray) -> dict[str, float]:
        v = f[~np.isnan(f)]
        return {"median_hz": round(float(np.median(v)), 1), "voiced_frames": int(v.size)}

    def tail_hz(f: np.ndarray, seconds: float = 0.4) -> float:
        v = f[~np.isnan(f)]
        n = max(1, int(seconds * rate / hop))
        return float(np.mean(v[-n:])) if v.size else float("nan")

    def contour(f: np.ndarray, n: int = 100) -> np.ndarray:
        idx = np.flatnonzero(~np.isnan(f))
        return np.interp(np.linspace(idx[0], idx[-1], n), idx, f[idx])

    st = lambda a, b: round(12.0 * float(np.log2(a / b)), 2)  # noqa: E731 (semitones)
    ca, cb = contour(f_head), contour(f_whole)
    rms = lambda x: float(np.sqrt(np.mean(x * x)))  # noqa: E731
    words = len(text.split(",")[0].split())
    return {
        "applies": True,
        "clause_words": words,
        "clause_phonemes": k,
        "sentence_phonemes": len(phonemes),
        "noise": "off (noise_scale = noise_w = 0) so both versions are deterministic",
        "clause_duration_s": {
            "alone": round(len(head) / rate, 3),
            "in_sentence": round(seam / rate, 3),
            "ratio": round(len(head) / max(seam, 1), 3),
        },
        "f0": {
            "alone": stats(f_head),
            "in_sentence": stats(f_whole),
            "median_diff_semitones": st(stats(f_head)["median_hz"], stats(f_whole)["median_hz"]),
            "last_400ms_before_seam_diff_semitones": st(tail_hz(f_head), tail_hz(f_whole)),
            "contour_correlation": round(float(np.corrcoef(ca, cb)[0, 1]), 3),
            "contour_rms_diff_semitones": round(float(np.sqrt(np.mean((12 * np.log2(ca / cb)) ** 2))), 2),
        },
        "level_diff_db": round(20.0 * float(np.log10(rms(head) / rms(in_whole))), 2),
        "pause_at_seam_ms": {
            "first_clause_mode": _pause_ms(spliced, rate, len(head)),
            "whole_sentence": _pause_ms(whole, rate, seam),
        },
        "total_duration_s": {"first_clause_mode": round(len(spliced) / rate, 3), "whole_sentence": round(len(whole) / rate, 3)},
    }


# --------------------------------------------------------------------------- command line


def _text_report(res: dict[str, Any]) -> str:
    lines = [res["note"]]
    for name, comp in res["comparison"].items():
        if name == "all_inputs_rtf":
            lines.append(f"RTF over all inputs: ours {comp['voicebank']} piper {comp['piper']} ratio {comp['ratio']}")
        elif name == "typing_medium":
            lines.append(f"typing medium: Enter→audio {comp['enter_to_first_audio_ms_p50']} ratio {comp['ratio']}")
        elif name == "watermark":
            for tk, per in comp.items():
                extra = {n: v["ttfa_ms_p50"]["extra"] for n, v in per.items()}
                lines.append(f"watermark {tk}: TTFA p50 extra ms {extra}")
        else:
            t, r = comp["ttfa_ms_p50"], comp["rtf_p50"]
            lines.append(
                f"{name:7s} TTFA p50 ours {t['voicebank']} ms / piper {t['piper']} ms = {t['ratio']}; "
                f"RTF {r['voicebank']} / {r['piper']} = {r['ratio']}"
            )
    lines.append("acceptance: " + json.dumps(res["acceptance"]))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicebank bench latency", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the full results as JSON")
    p.add_argument("--runs", type=int, default=10, help="measured runs per input and setting (default 10)")
    p.add_argument("--threads", default="1,2", help="thread settings to compare, e.g. 1,2")
    p.add_argument("--voice", default=None, help="voice reference (default: the stock voice)")
    p.add_argument("--typing", action="store_true", help="also replay the medium sentence typed at --wpm")
    p.add_argument("--typing-runs", type=int, default=3, help="typing replays per thread setting (default 3)")
    p.add_argument("--wpm", type=float, default=40.0, help="typing speed in words per minute (default 40)")
    p.add_argument("--no-prosody", action="store_true", help="skip the first-clause prosody measurement")
    p.add_argument("--watermark", action="store_true", help="also time the watermarked stream (what speak and serve send) beside the unmarked one")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    threads = tuple(int(t) for t in str(args.threads).split(",") if t.strip())
    res = run_latency(
        runs=max(1, args.runs),
        threads=threads,
        voice=args.voice,
        typing=args.typing,
        typing_runs=max(1, args.typing_runs),
        wpm=args.wpm,
        prosody=not args.no_prosody,
        watermark=args.watermark,
    )
    print(json.dumps(res, indent=2) if args.json else _text_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
