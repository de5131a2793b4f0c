"""Percentile bootstrap intervals over held-out utterances, for means and pooled rates.

The unit resampled is the utterance (sentence), not the take: every take of a sentence
goes in or out of a resample together, because takes of one sentence share its words and
are not independent. Each of ``resamples`` draws picks as many utterances as there are,
with replacement, and recomputes the pooled statistic on what it drew; the interval is the
``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of those values. The random
generator is seeded, so the same scores always give the same interval.

Both kinds of score used in the evaluation are a ratio of sums over utterances, which is
what :func:`ratio_interval` takes: a mean (similarity) is the sum of the values over their
count (:func:`mean_interval`), a pooled rate (WER, CER) all edits over all reference words
or characters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 20261205  # any fixed number: the same scores give the same interval


def _draws(n: int, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, n)`` utterance indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    lo, hi = np.percentile(finite, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return float(lo), float(hi)


def ratio_interval(
    numerators: Sequence[float],
    denominators: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[float, float] | None:
    """Interval of ``sum(numerators) / sum(denominators)`` with one entry per utterance.

    An utterance's entry sums over its takes (errors and reference words for a rate; the
    sum and the count of its values for a mean). None when there is nothing to resample.
    """
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    if num.shape != den.shape or num.ndim != 1:
        raise ValueError("one numerator and one denominator per utterance")
    if num.size == 0 or not np.any(den > 0):
        return None
    idx = _draws(num.size, resamples, seed)
    totals = den[idx].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(totals > 0, num[idx].sum(axis=1) / totals, np.nan)
    return _percentiles(values, level)


def mean_interval(
    groups: Sequence[Sequence[float | None]],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[float, float] | None:
    """Interval of the mean of every value, the values grouped by utterance (None values left out)."""
    sums = [float(sum(v for v in g if v is not None)) for g in groups]
    counts = [float(sum(1 for v in g if v is not None)) for g in groups]
    return ratio_interval(sums, counts, resamples=resamples, level=level, seed=seed)
