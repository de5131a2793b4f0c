"""The instant-voice walk's local model: each guide sentence's speaker embedding, linear in the style.

One evaluation of a candidate style gives one ECAPA embedding per guide sentence (8 × 192
numbers), not just their mean cosine. Fitting a linear model of those embeddings to the
style coordinates (least squares over the evaluations nearest the current centre) and then
maximising the model's mean cosine inside a box around the centre (a trust region) finds
good steps from far fewer evaluations than a blind random walk, which learns one number
per evaluation. The walk that uses it is :meth:`voicebank.train.instant.InstantSearch._walk`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RIDGE = 1e-3  # keeps the fit defined while evaluations are few or nearly collinear


def mean_cosine(embeddings: np.ndarray, target: np.ndarray) -> float:
    """Mean cosine of each row (one sentence's embedding) to the target: the search's score."""
    rows = embeddings / np.maximum(np.linalg.norm(embeddings, axis=-1, keepdims=True), 1e-12)
    return float(np.mean(rows @ (target / max(float(np.linalg.norm(target)), 1e-12))))


class LocalModel:
    """Embeddings ≈ ``a + z @ b`` for a style at ``centre + z`` (fitted on the nearest evaluations)."""

    def __init__(self, thetas: Sequence[np.ndarray], embeddings: Sequence[np.ndarray], centre: np.ndarray) -> None:
        x = np.asarray(thetas, np.float64) - centre
        y = np.stack([np.asarray(e, np.float64).reshape(-1) for e in embeddings])
        dims = x.shape[1]
        count = min(len(x), max(2 * dims, dims + 9))  # enough to fit, few enough to stay local
        near = np.argsort(np.linalg.norm(x, axis=1), kind="stable")[:count]
        design = np.c_[np.ones(len(near)), x[near]]
        ridge = RIDGE * np.eye(dims + 1)
        ridge[0, 0] = 0.0
        coef = np.linalg.solve(design.T @ design + ridge, design.T @ y[near])
        self.a, self.b = coef[0], coef[1:]
        self.shape = np.asarray(embeddings[0]).shape

    def predict(self, z: np.ndarray, target: np.ndarray) -> float:
        return mean_cosine((self.a + z @ self.b).reshape(self.shape), target)

    def best_step(self, target: np.ndarray, low: np.ndarray, high: np.ndarray, rng: np.random.Generator,
                  starts: int = 4) -> tuple[np.ndarray, float]:
        """The step ``z`` in the box [low, high] the model scores highest, and that score."""
        from scipy.optimize import minimize

        best_z, best = np.zeros(len(low)), self.predict(np.zeros(len(low)), target)
        for i in range(starts):
            z0 = np.zeros(len(low)) if i == 0 else rng.uniform(low, high)
            found = minimize(lambda z: -self.predict(z, target), z0, method="L-BFGS-B", bounds=list(zip(low, high)))
            if -found.fun > best:
                best_z, best = np.asarray(found.x, np.float64), float(-found.fun)
        return best_z, best
