"""What a test's answers show: per comparison, how often listeners told the voice from the real takes, and in plain words."""

from __future__ import annotations

import math
from typing import Any

from .listening_tests import COMPARISONS, ListeningTest, Source

CHANCE = 0.5  # an A/B/X answer right by guessing
Z95 = 1.959964  # the normal quantile of a two-sided 95 % interval
FEW = 10  # below this many trials an interval that holds chance says little


def wilson(correct: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``correct`` of ``trials`` (good at small counts and at 0 % or 100 %)."""
    if trials == 0:
        return 0.0, 1.0
    p = correct / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    low = 0.0 if correct == 0 else max(0.0, centre - half)  # exact at the ends, where rounding would miss 0 or 1
    return low, 1.0 if correct == trials else min(1.0, centre + half)


def results(test: ListeningTest, answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Per comparison (offered now, or answered before): trials, correct, rate, 95 % interval and a sentence."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {(s.comparison, s.voice): [] for s in test.sources}
    for a in answers:
        if a.get("comparison") in COMPARISONS and isinstance(a.get("voice"), str) and isinstance(a.get("correct"), bool):
            groups.setdefault((a["comparison"], a["voice"]), []).append(a)
    rows = [_row(Source(comp, voice, {}), found) for (comp, voice), found in groups.items()]
    listeners = sorted({a["listener"] for a in answers if isinstance(a.get("listener"), str)})
    return {
        "test": test.id, "voice": test.voice, "answers": sum(r["trials"] for r in rows),
        "sessions": len({a.get("session") for a in answers if isinstance(a.get("session"), str)}), "listeners": listeners,
        "comparisons": rows,
    }


def _row(source: Source, found: list[dict[str, Any]]) -> dict[str, Any]:
    n, k = len(found), sum(a["correct"] for a in found)
    low, high = wilson(k, n)
    asked = [a for a in found if a.get("picked") is not None]
    picked = sum(a["picked"] != "real" for a in asked)
    return {
        "comparison": source.comparison, "voice": source.voice, "label": source.label,
        "trials": n, "correct": k, "rate": round(k / n, 4) if n else None,
        "interval": [round(low, 4), round(high, 4)] if n else None,
        "verdict": verdict(k, n), "sentence": sentence(source, k, n),
        "more_like": {"asked": len(asked), "picked_voice": picked, "sentence": _more_like(source, picked, len(asked))},
    }


def verdict(correct: int, trials: int) -> str:
    """``apart`` (the interval lies above chance), ``chance`` (it holds chance), ``below`` or ``none`` (no answers)."""
    if trials == 0:
        return "none"
    low, high = wilson(correct, trials)
    return "apart" if low > CHANCE else "below" if high < CHANCE else "chance"


def _pct(x: float) -> str:
    return f"{round(100 * x)}"


def sentence(source: Source, correct: int, trials: int) -> str:
    """The result in plain words, with the count, the rate and its 95 % interval."""
    if trials == 0:
        return f"No answers yet about {source.label}."
    low, high = wilson(correct, trials)
    numbers = f"{correct} of {trials} trials ({_pct(correct / trials)}\u00a0%, {_pct(low)}–{_pct(high)}\u00a0%)"
    kind = verdict(correct, trials)
    if kind == "apart":
        said = f"Listeners told {source.label} from the real recordings in {numbers}"
        if source.comparison == "stock":
            return said + ": as expected, since it is another person's voice."
        return said + ": it does not yet pass for the person."
    if kind == "below":
        return (f"Against {source.label}, listeners were right in only {numbers}, less often than chance: "
                "something other than the voice gives the sides away; listen to the recordings.")
    said = f"Against {source.label}, listeners were right in {numbers}: about chance"
    if trials < FEW:
        return said + f", but {trials} trials are too few to tell; aim for 20 or more."
    if source.comparison == "stock":
        return (said + " — yet the stock voice is another person's, which listeners should hear at once: "
                "check the audio and how it is played.")
    return said + " — they could not tell it from the real recordings."


def _more_like(source: Source, picked: int, asked: int) -> str:
    if asked == 0:
        return "Nobody said yet which sounds more like the person."
    return (f"Asked which sounds more like the person, listeners picked {source.label} over the real recording "
            f"in {picked} of {asked} trials ({_pct(picked / asked)}\u00a0%; 50\u00a0% would mean as much like them).")
