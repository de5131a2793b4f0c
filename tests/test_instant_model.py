"""The instant walk's local model: fit embeddings that are linear in the style, then step inside the region."""

from __future__ import annotations

import numpy as np

from voicebank.train.instant_model import LocalModel, mean_cosine


def _world(dims: int = 5, pieces: int = 3, width: int = 16, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((pieces, width))
    b = rng.standard_normal((dims, pieces * width)) * 0.3
    target = rng.standard_normal(width)
    return (lambda theta: (a.reshape(-1) + theta @ b).reshape(pieces, width)), target, rng


def test_mean_cosine_is_the_mean_of_each_rows_cosine() -> None:
    rows = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    assert mean_cosine(rows, np.array([3.0, 0.0])) == (1.0 + 0.0 + 0.0) / 3  # an all-zero row scores 0, not NaN


def test_a_linear_world_is_recovered_and_its_best_step_is_found() -> None:
    speak, target, rng = _world()
    centre = np.full(5, 0.2)
    thetas = [centre + rng.uniform(-1, 1, 5) for _ in range(12)]
    model = LocalModel(thetas, [speak(t) for t in thetas], centre)
    z = rng.uniform(-1, 1, 5)
    assert abs(model.predict(z, target) - mean_cosine(speak(centre + z), target)) < 1e-4

    low, high = np.full(5, -0.5), np.full(5, 0.5)
    step, predicted = model.best_step(target, low, high, rng)
    assert np.all(step >= low - 1e-9) and np.all(step <= high + 1e-9)  # never leaves the region
    assert abs(predicted - mean_cosine(speak(centre + step), target)) < 1e-4
    here = mean_cosine(speak(centre), target)
    corners = [mean_cosine(speak(centre + rng.choice([-0.5, 0.5], 5)), target) for _ in range(200)]
    assert predicted > here and predicted >= max(corners) - 1e-3  # as good as anything a random search tries


def test_the_fit_uses_the_evaluations_nearest_the_centre() -> None:
    """Far evaluations from a different regime must not bend the local fit."""
    speak, target, rng = _world(dims=2)
    centre = np.zeros(2)
    near = [centre + rng.uniform(-0.3, 0.3, 2) for _ in range(13)]
    far = [np.array([50.0, 50.0]) + rng.uniform(-1, 1, 2) for _ in range(5)]
    wrong = [speak(t) * -7.0 for t in far]  # nothing like the local world
    model = LocalModel(near + far, [speak(t) for t in near] + wrong, centre)
    z = np.array([0.1, -0.2])
    assert abs(model.predict(z, target) - mean_cosine(speak(z), target)) < 1e-4


def test_the_walk_moves_each_half_of_the_style_on_its_own_directions() -> None:
    """Timbre (first 128 numbers of a style row) and prosody (last 128) get separate, orthonormal directions."""
    from voicebank.train.instant import STYLE_SHAPE, subspace

    rng = np.random.default_rng(1)
    styles = [rng.standard_normal(STYLE_SHAPE).astype(np.float32) for _ in range(6)]
    basis, std = subspace(styles, dims=3)
    assert basis.shape == (6, STYLE_SHAPE[0] * STYLE_SHAPE[1]) and std.shape == (6,) and np.all(std > 0)
    rows = basis.reshape(6, *STYLE_SHAPE)
    assert np.all(rows[:3, :, 128:] == 0) and np.all(rows[3:, :, :128] == 0)
    assert np.allclose(basis @ basis.T, np.eye(6), atol=1e-5)
    assert std[0] >= std[1] >= std[2] and std[3] >= std[4] >= std[5]  # strongest direction first within each half
