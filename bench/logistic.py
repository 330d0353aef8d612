"""A small L2-regularised logistic regression in numpy (Newton's method), and threshold fitting.

Used by bench/verify_fit.py to fit the citation checker and by bench/verify.py to fit the
thresholds of its baselines; nothing here is imported by the product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Logistic:
    """P(y = 1 | x) = sigmoid(bias + weights · x), weights in the features' own units."""

    weights: np.ndarray
    bias: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.bias + np.asarray(x, dtype=np.float64) @ self.weights)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> Logistic:
    """Fit on standardised features (so ``l2`` treats every feature alike), returned unstandardised.
    Features that never vary get weight 0."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, np.inf)
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (p - y) + penalty * beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(z.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = beta[1:] / std
    return Logistic(weights, float(beta[0] - weights @ mean))


def fit_signed(x: np.ndarray, y: np.ndarray, signs: np.ndarray, l2: float = 1.0) -> Logistic:
    """Like fit_logistic, with each weight kept to the sign ``signs`` gives it (+1, -1): while some
    weight comes out the wrong way, the worst such feature is dropped (weight 0) and the rest refitted.
    A coverage that lowers the score, or a missing number that raises it, would be an artefact of
    correlated features, not something to ship."""
    active = list(range(x.shape[1]))
    while True:
        model = fit_logistic(x[:, active], y, l2)
        wrong = [(w * signs[a], a) for w, a in zip(model.weights, active, strict=True) if w * signs[a] < 0]
        if not wrong:
            weights = np.zeros(x.shape[1])
            weights[active] = model.weights
            return Logistic(weights, model.bias)
        active.remove(min(wrong)[1])


def folds(n: int, k: int) -> list[np.ndarray]:
    """``k`` interleaved folds of range(n) (the items are already in a hashed, random-like order)."""
    return [np.arange(i, n, k) for i in range(k)]


def cross_validated(x: np.ndarray, y: np.ndarray, signs: np.ndarray, l2: float, k: int = 5) -> np.ndarray:
    """Out-of-fold probabilities of fit_signed: each item scored by a model fitted without it."""
    scores = np.zeros(len(y))
    for held in folds(len(y), k):
        train = np.setdiff1d(np.arange(len(y)), held)
        scores[held] = fit_signed(x[train], y[train], signs, l2).predict(x[held])
    return scores


def best_threshold(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """The cut that maximises accuracy when ``score < cut`` predicts positive (ties: the middle of the
    best run, so the cut sits between items rather than on one)."""
    values = np.sort(np.unique(np.asarray(scores, dtype=np.float64)))
    cuts = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    s, p = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    accuracy = np.array([np.mean((s < c) == p) for c in cuts])
    best = np.flatnonzero(accuracy == accuracy.max())
    return float(cuts[best[len(best) // 2]])
