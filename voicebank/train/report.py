"""The evaluation as a web page: summary, training curves, per-sentence scores with players.

One self-contained HTML file (no scripts, no fonts or styles from the network; the plots
are inline SVG drawn here) that links the audio files beside it with relative paths, so
the folder can be copied, zipped or opened offline. Responsible for presentation only:
the numbers come from :mod:`.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

COLORS = {"voice": "#1f6fb4", "baseline": "#e07b1a", "real": "#2e9b4b", "loss_eval": "#c0392b", "loss_train": "#1f6fb4"}

_CSS = """
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ddd;padding:.35rem .6rem;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.good{color:#1e7b34;font-weight:600}.bad{color:#b03a2e;font-weight:600}.muted{color:#666;font-size:.9rem}
.utt td{font-size:.92rem}.utt audio{width:15rem;display:block;margin:.2rem 0}.hyp{color:#555;font-style:italic}
svg{max-width:100%;height:auto;background:#fff}svg text{font:12px system-ui,sans-serif;fill:#333}
"""

_METRICS = (
    ("similarity_ecapa", "Speaker similarity (ECAPA)", "higher is better", "{:.3f}",
     "ECAPA-TDNN speaker verifier: cosine between each synthesized sentence and the real held-out recordings "
     "(the field's measure; the real recordings' own score is the ceiling, a stranger scores near 0)."),
    ("wer_whisper", "Word error rate (Whisper)", "lower is better", "{:.1%}",
     "Share of words Whisper gets wrong, the text normalised the same way on both sides."),
    ("cer_whisper", "Character error rate (Whisper)", "lower is better", "{:.1%}",
     "As the word error rate, counted in characters: a near miss costs less."),
    ("similarity", "Speaker similarity (Resemblyzer)", "higher is better", "{:.3f}",
     "Resemblyzer cosine between each synthesized sentence and the real held-out recordings "
     "(same speaker typically 0.75-0.96, different speakers 0.43-0.70)."),
    ("wer", "Word error rate (PocketSphinx)", "lower is better", "{:.1%}",
     "Share of words an offline recognizer (PocketSphinx) gets wrong. Coarse: read it next to the "
     "real recordings' own rate."),
    ("mcd_db", "Mel-cepstral distortion", "lower is better", "{:.2f} dB",
     "How far the sound spectrum is from the real recording of the same sentence, after time alignment."),
    ("rtf", "Real-time factor", "lower is faster", "{:.3f}",
     "Seconds of computing per second of speech on this machine (below 1: faster than real time)."),
)


def render_html(result: dict[str, Any], curve: list[dict[str, float]], *, looked_for: Path | None = None) -> str:
    """The page for an evaluation result (see :func:`voicebank.train.evaluate.evaluate_voice`)."""
    base = result.get("baseline") or None
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Voice evaluation: {escape(str(result['voice']))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Voice evaluation: {escape(str(result['voice']))}</h1>",
        f'<p class="muted">{len(result["utterances"])} held-out sentences of the dataset '
        f"{escape(str(result['dataset']))} (never used in training)"
        + (f", compared with the baseline voice <b>{escape(str(base['voice']))}</b>" if base else "")
        + f". Made {escape(str(result.get('created', '')))}.</p>",
        _summary(result),
        "<h2>Training</h2>",
        _training(curve, looked_for),
        "<h2>Sentence by sentence</h2>",
        "<p>Listen to the real recording next to the voice"
        + (" and the baseline" if base else "")
        + ". The recognizers' transcripts are in italics under each score.</p>",
        _similarity_charts(result),
        _utterance_table(result),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------ sections


FIELD = ("similarity_ecapa", "wer_whisper", "cer_whisper")


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "–"
    fmt = next(m[3] for m in _METRICS if m[0] == key)
    return fmt.format(value)


def _with_ci(key: str, mean: dict[str, Any]) -> str:
    """A mean and, below it, its 95 % interval when it has one."""
    shown = _fmt(key, mean.get(key))
    bounds = mean.get(f"{key}_ci95")
    if mean.get(key) is None or not bounds or None in bounds:
        return shown
    return f'{shown}<br><span class="muted">[{_fmt(key, bounds[0])}, {_fmt(key, bounds[1])}]</span>'


def _scorers_note(result: dict[str, Any]) -> str:
    scorers = result.get("scorers")
    if not scorers:
        return ""
    return (
        '<p class="muted">Numbers in brackets: 95 % bootstrap interval over the held-out sentences. '
        f"<b>Which score is which.</b> {escape(scorers['success'])} {escape(scorers['selection'])}</p>"
    )


def _summary(result: dict[str, Any]) -> str:
    base = result.get("baseline") or None
    gain = result.get("gain") or {}
    real = (result.get("real") or {}).get("mean", {})
    head = "<tr><th>Measure</th><th>This voice</th>"
    head += f"<th>Baseline ({escape(str(base['voice']))})</th><th>Gain</th>" if base else ""
    head += "<th>Real recordings</th><th></th></tr>"
    rows = [head]
    for key, name, better, _, help_text in _METRICS:
        if key in FIELD and key not in result["mean"]:
            continue  # evaluated without the field's scorers
        cells = [f'<td><b>{name}</b><br><span class="muted">{escape(help_text)}</span></td>',
                 f'<td class="num">{_with_ci(key, result["mean"])}</td>']
        if base:
            cells.append(f'<td class="num">{_with_ci(key, base["mean"])}</td>')
            g = gain.get(key)
            if g is None:
                cells.append('<td class="num">–</td>')
            else:
                cls = "good" if g > 0 else "bad" if g < 0 else ""
                shown = f"{g:+.1%}" if key in ("wer", "wer_whisper", "cer_whisper") else f"{g:+.2f} dB" if key == "mcd_db" else f"{g:+.3f}"
                cells.append(f'<td class="num {cls}">{shown}</td>')
        cells.append(f'<td class="num">{_with_ci(key, real) if key in real else "–"}</td>')
        cells.append(f'<td class="muted">{better}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = (
        '<p class="muted">Gain is signed so that a positive number means this voice does better than '
        "the baseline. The real recordings' similarity compares each one with the others: it is what the "
        "same speaker scores, the ceiling for a cloned voice.</p>"
    )
    if gain.get("gap_closed_ecapa") is not None:
        note += (
            f"<p>On ECAPA similarity this voice has come <b>{gain['gap_closed_ecapa']:.0%}</b> of the way from the "
            "baseline to the real recordings.</p>"
        )
    note += _scorers_note(result)
    takes = result.get("repeats") or {}
    if takes.get("count", 1) > 1:
        spread = []
        for label, summary in (("this voice", takes.get("voice")), ("the baseline", takes.get("baseline"))):
            if summary and summary["sd"].get("wer") is not None:
                spread.append(f"{label} {summary['sd']['wer']:.1%}")
        note += (
            f'<p class="muted">Each sentence was spoken {int(takes["count"])} times with fresh noise; the scores '
            "pool every take, the players and the table below play and score the first one."
            + (f" Standard deviation of the WER between takes: {escape(', '.join(spread))}." if spread else "")
            + "</p>"
        )
    return "<h2>Summary</h2><table>" + "".join(rows) + "</table>" + note


def _training(curve: list[dict[str, float]], looked_for: Path | None) -> str:
    if not curve:
        where = f" at {escape(str(looked_for))}" if looked_for is not None else ""
        return (
            f"<p>No training log was found{where}, so there are no training curves. "
            "Voices trained with <code>voicebank train finetune</code> write <code>train_log.jsonl</code> "
            "in the voice folder.</p>"
        )
    out = []
    losses = [
        (name, COLORS[key], [(p["step"], p[key]) for p in curve if key in p])
        for key, name in (("loss_train", "training loss"), ("loss_eval", "held-out loss"))
    ]
    losses = [s for s in losses if s[2]]
    if losses:
        out.append(line_chart(losses, title="Loss", x_label="step", y_label="loss"))
    spoken = [
        (name, color, [(p["step"], p[key]) for p in curve if key in p])
        for key, name, color in (("similarity", "speaker similarity", COLORS["voice"]), ("wer", "word error rate", COLORS["loss_eval"]))
    ]
    spoken = [s for s in spoken if s[2]]
    if spoken:
        out.append(line_chart(spoken, title="Held-out texts spoken during training (similarity: higher is better; WER: lower)",
                              x_label="step", y_label="score"))
    if not out:
        return "<p>The training log holds no loss or similarity values yet.</p>"
    return "\n".join(out)


def _similarity_charts(result: dict[str, Any]) -> str:
    """Per-sentence similarity bars: ECAPA (when scored) and Resemblyzer."""
    charts = []
    for key, name, y_range in (("similarity_ecapa", "ECAPA", (-0.2, 1.0)), ("similarity", "Resemblyzer", (0.0, 1.0))):
        if key in result["mean"]:
            charts.append(_similarity_chart(result, key, name, y_range))
    return "\n".join(charts)


def _similarity_chart(result: dict[str, Any], key: str, name: str, y_range: tuple[float, float]) -> str:
    ids = [r["id"] for r in result["utterances"]]
    series = [("this voice", COLORS["voice"], [r.get(key) for r in result["utterances"]])]
    base = result.get("baseline") or None
    if base:
        by_id = {r["id"]: r for r in base["utterances"]}
        series.append((f"baseline ({base['voice']})", COLORS["baseline"], [by_id.get(i, {}).get(key) for i in ids]))
    real = {r["id"]: r for r in (result.get("real") or {}).get("utterances", [])}
    series.append(("real recording", COLORS["real"], [real.get(i, {}).get(key) for i in ids]))
    return bar_chart(ids, series, title=f"Speaker similarity per sentence ({name})", y_label="similarity", y_range=y_range)


def _utterance_table(result: dict[str, Any]) -> str:
    base = result.get("baseline") or None
    real = {r["id"]: r for r in (result.get("real") or {}).get("utterances", [])}
    base_rows = {r["id"]: r for r in base["utterances"]} if base else {}
    head = "<tr><th>Sentence</th><th>Real recording</th><th>This voice</th>"
    head += f"<th>Baseline ({escape(str(base['voice']))})</th>" if base else ""
    head += "</tr>"
    rows = [head]
    for r in result["utterances"]:
        uid = r["id"]
        cells = [f"<td><b>{escape(uid)}</b><br>{escape(r.get('text', ''))}</td>"]
        rr = real.get(uid, {})
        cells.append("<td>" + _player(rr.get("audio")) + _scores(rr, real=True) + "</td>")
        cells.append("<td>" + _player(r.get("audio")) + _scores(r) + "</td>")
        if base:
            br = base_rows.get(uid, {})
            cells.append("<td>" + _player(br.get("audio")) + _scores(br) + "</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<table class="utt">' + "".join(rows) + "</table>"


def _player(src: str | None) -> str:
    if not src:
        return '<span class="muted">(no audio)</span>'
    return f'<audio controls preload="none" src="{escape(src, quote=True)}"></audio>'


def _scores(row: dict[str, Any], *, real: bool = False) -> str:
    if not row:
        return ""
    short = {"similarity_ecapa": "ECAPA", "wer_whisper": "Whisper WER", "cer_whisper": "CER",
             "similarity": "sim", "wer": "WER", "mcd_db": "MCD", "rtf": "RTF"}
    keys = [k for k in short if k in row and not (real and k in ("mcd_db", "rtf"))]
    text = " · ".join(f"{short[k]} {_fmt(k, row.get(k))}" for k in keys)
    note = f'<br><span class="bad">{escape(row["note"])}</span>' if row.get("note") else ""
    heard = ""
    for label, key in (("Whisper", "hypothesis_whisper"), ("PocketSphinx", "hypothesis")):
        if row.get(key):
            heard += f'<br><span class="hyp">{label}: “{escape(row[key])}”</span>'
    return text + heard + note


# ---------------------------------------------------------------------------------- SVG


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) * 0.1 or 1.0)
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    v = first
    while v < hi + step * 0.5:
        ticks.append(round(v, 12))
        v += step
    return ticks


def _tick_label(v: float) -> str:
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.0e}"
    return f"{v:g}"


class _Frame:
    """Plot geometry: data coordinates → SVG pixels."""

    W, H, LEFT, RIGHT, TOP, BOTTOM = 680, 280, 58, 150, 30, 42

    def __init__(self, xs: tuple[float, float], ys: tuple[float, float]) -> None:
        self.x0, self.x1 = xs
        self.y0, self.y1 = ys

    def px(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.LEFT + (x - self.x0) / span * (self.W - self.LEFT - self.RIGHT)

    def py(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.H - self.BOTTOM - (y - self.y0) / span * (self.H - self.TOP - self.BOTTOM)


def _axes(f: _Frame, yticks: list[float], title: str, x_label: str, y_label: str) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {f.W} {f.H}" role="img" aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>",
           f'<text x="{f.LEFT}" y="18" style="font-weight:600">{escape(title)}</text>']
    for t in yticks:
        y = f.py(t)
        out.append(f'<line x1="{f.LEFT}" y1="{y:.1f}" x2="{f.W - f.RIGHT}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{f.LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick_label(t)}</text>')
    base = f.H - f.BOTTOM
    out.append(f'<line x1="{f.LEFT}" y1="{base}" x2="{f.W - f.RIGHT}" y2="{base}" stroke="#888"/>')
    out.append(f'<line x1="{f.LEFT}" y1="{f.TOP}" x2="{f.LEFT}" y2="{base}" stroke="#888"/>')
    out.append(f'<text x="{(f.LEFT + f.W - f.RIGHT) / 2:.0f}" y="{f.H - 6}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(14 {(f.TOP + base) / 2:.0f}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>')
    return out


def _legend(f: _Frame, names: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for i, (name, color) in enumerate(names):
        y = f.TOP + 8 + 18 * i
        x = f.W - f.RIGHT + 12
        out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{color}"/>')
        shown = name if len(name) <= 20 else name[:19] + "…"
        out.append(f'<text x="{x + 18}" y="{y + 2}">{escape(shown)}<title>{escape(name)}</title></text>')
    return out


def line_chart(
    series: Sequence[tuple[str, str, Sequence[tuple[float, float]]]], *, title: str, x_label: str, y_label: str
) -> str:
    """An inline SVG line chart; ``series`` is ``(name, colour, [(x, y), ...])`` each."""
    pts = [(x, y) for _, _, s in series for x, y in s]
    xs = [p[0] for p in pts] or [0.0, 1.0]
    ys = [p[1] for p in pts] or [0.0, 1.0]
    xt = nice_ticks(min(xs), max(xs))
    yt = nice_ticks(min(ys), max(ys))
    f = _Frame((min(xt[0], min(xs)), max(xt[-1], max(xs))), (yt[0], yt[-1]))
    out = _axes(f, yt, title, x_label, y_label)
    for t in xt:
        if f.x0 <= t <= f.x1:
            out.append(f'<text x="{f.px(t):.1f}" y="{f.H - f.BOTTOM + 16}" text-anchor="middle">{_tick_label(t)}</text>')
    for name, color, s in series:
        coords = " ".join(f"{f.px(x):.1f},{f.py(y):.1f}" for x, y in s)
        if len(s) > 1:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        if len(s) <= 40:
            out += [f'<circle cx="{f.px(x):.1f}" cy="{f.py(y):.1f}" r="3" fill="{color}"/>' for x, y in s]
    out += _legend(f, [(n, c) for n, c, _ in series])
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    title: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
) -> str:
    """An inline SVG grouped bar chart: one group per category, one bar per series (None: no bar)."""
    vals = [v for _, _, s in series for v in s if v is not None]
    lo, hi = y_range if y_range else (min([0.0, *vals]), max([1.0, *vals]))
    yt = nice_ticks(lo, hi)
    f = _Frame((0.0, float(max(1, len(categories)))), (yt[0], yt[-1]))
    out = _axes(f, yt, title, "sentence", y_label)
    group = (f.px(1.0) - f.px(0.0)) * 0.8
    width = group / max(1, len(series))
    for i, cat in enumerate(categories):
        left = f.px(i + 0.1)
        for k, (_, color, s) in enumerate(series):
            v = s[i] if i < len(s) else None
            if v is None:
                continue
            top, zero = f.py(max(v, f.y0)), f.py(max(0.0, f.y0))
            out.append(f'<rect x="{left + k * width:.1f}" y="{min(top, zero):.1f}" width="{max(1.0, width - 1):.1f}" '
                       f'height="{abs(zero - top):.1f}" fill="{color}"><title>{escape(cat)}: {v:.3f}</title></rect>')
        label = cat if len(categories) <= 12 else cat[-6:]
        out.append(f'<text x="{f.px(i + 0.5):.1f}" y="{f.H - f.BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>')
    out += _legend(f, [(n, c) for n, c, _ in series])
    out.append("</svg>")
    return "\n".join(out)
