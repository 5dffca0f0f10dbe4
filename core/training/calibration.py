"""Calibrated probabilities: per-task Platt scaling fitted on validation, and its ECE.

A network trained with masked BCE ranks well but is rarely calibrated: early
stopping on AP keeps an over-confident epoch, ``--pos-weight`` shifts every
probability up, a small data set is memorised. The window and the bulk
"Accept" dialog read probabilities as "how often is this right", so each task's
logits ``z`` are mapped to ``sigmoid(a·z + b)`` with ``(a, b)`` fitted on that
task's known validation cells (Platt scaling).

Small validation sets must not produce extreme maps, so the fit is a MAP
estimate with Gaussian priors centred on "no change": ``a ~ N(1, 0.5²)``,
``b ~ N(0, 1)``. With a few dozen cells the prior keeps the map near identity;
with hundreds the data decide. The decision threshold is then 0.5 on the
calibrated probability — the value that is right most often for the one cell
an "Accept" sets — rather than a maximum-F1 point, which over-fits a small
validation set (a threshold of 0.88 from 5 positives set an obvious car absent).

ECE (expected calibration error) is the binary reliability error over the
known cells: 10 equal-width bins of the predicted probability, the weighted
mean of ``|mean probability − fraction present|`` (as torchmetrics'
``BinaryCalibrationError`` with ``norm="l1"``).

Numpy and scipy only; applying the map to logits is in ``predict.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize  # type: ignore[import-untyped]

SLOPE_PRIOR_SD = 0.5
INTERCEPT_PRIOR_SD = 1.0
MIN_SLOPE = 0.05
"""The slope stays positive: the calibrated ranking is the network's own."""
ECE_BINS = 10
_EPS = 1e-6


@dataclass(frozen=True)
class Calibration:
    """Per-task ``sigmoid(slope · logit + intercept)``; identity for tasks not fitted."""

    slope: np.ndarray
    intercept: np.ndarray
    cells: np.ndarray
    """Known validation cells each task was fitted on (0: identity, not fitted)."""

    @classmethod
    def identity(cls, n_tasks: int) -> Calibration:
        return cls(np.ones(n_tasks), np.zeros(n_tasks), np.zeros(n_tasks, dtype=np.int64))

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of (n, T) raw probabilities (through their logits,
        which saturate beyond about ±14: give logits to :meth:`apply_logits`)."""
        return self.apply_logits(_logit(probs))

    def apply_logits(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of (n, T) logits of the network."""
        z = np.asarray(logits, dtype=np.float64)
        return sigmoid(z * self.slope + self.intercept).astype(np.float32)

    def to_dict(self) -> dict[str, object]:
        return {
            "method": "platt",
            "slope": [float(v) for v in self.slope],
            "intercept": [float(v) for v in self.intercept],
            "cells": [int(v) for v in self.cells],
        }

    @classmethod
    def from_dict(cls, data: object, n_tasks: int) -> Calibration:
        """The map a checkpoint stored; identity for checkpoints from before calibration."""
        if not isinstance(data, dict):
            return cls.identity(n_tasks)
        slope = np.asarray(data.get("slope", []), dtype=np.float64)
        intercept = np.asarray(data.get("intercept", []), dtype=np.float64)
        cells = np.asarray(data.get("cells", [0] * n_tasks), dtype=np.int64)
        if slope.shape != (n_tasks,) or intercept.shape != (n_tasks,) or cells.shape != slope.shape:
            raise ValueError(f"the stored calibration does not cover the {n_tasks} tasks")
        if not (np.isfinite(slope).all() and np.isfinite(intercept).all()) or slope.min() <= 0:
            raise ValueError("the stored calibration holds a non-finite or non-positive value")
        return cls(slope, intercept, cells)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(q) - np.log1p(-q))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, stable for any z (float64)."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def _fit_one(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """MAP (slope, intercept) of Platt scaling on logits ``z`` with 0/1 targets ``y``."""

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = params
        s = a * z + b
        # BCE with logits, stable: log(1 + e^s) - y s
        nll = float(np.sum(np.logaddexp(0.0, s) - y * s))
        g = sigmoid(s) - y
        penalty = (a - 1.0) ** 2 / (2 * SLOPE_PRIOR_SD**2) + b**2 / (2 * INTERCEPT_PRIOR_SD**2)
        grad = np.array(
            [
                float(np.sum(g * z)) + (a - 1.0) / SLOPE_PRIOR_SD**2,
                float(np.sum(g)) + b / INTERCEPT_PRIOR_SD**2,
            ]
        )
        return nll + penalty, grad

    result = minimize(
        objective,
        np.array([1.0, 0.0]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(MIN_SLOPE, None), (None, None)],
    )
    return float(result.x[0]), float(result.x[1])


def fit_calibration(logits: np.ndarray, targets: np.ndarray) -> Calibration:
    """Per-task Platt scaling of (n, T) validation logits against targets (1 present,
    0 absent, -1 unknown). A task without both classes among its known cells keeps
    the identity (nothing to fit against)."""
    p = np.asarray(logits, dtype=np.float64)
    t = np.asarray(targets)
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"logits {p.shape} and targets {t.shape} must be equal 2-d shapes")
    n_tasks = p.shape[1]
    cal = Calibration.identity(n_tasks)
    slope, intercept, cells = cal.slope.copy(), cal.intercept.copy(), cal.cells.copy()
    for j in range(n_tasks):
        known = t[:, j] != -1
        y = (t[known, j] == 1).astype(np.float64)
        if y.size == 0 or y.min() == y.max():
            continue
        slope[j], intercept[j] = _fit_one(p[known, j], y)
        cells[j] = int(y.size)
    return Calibration(slope, intercept, cells)


def expected_calibration_error(
    probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS
) -> float | None:
    """ECE of 1-d probabilities against 0/1 targets (known cells only); None without cells."""
    p = np.asarray(probs, dtype=np.float64)
    target = np.asarray(y, dtype=np.float64)
    if p.size == 0:
        return None
    # bin k holds (k/bins, (k+1)/bins]; 0 falls into the first
    which = np.clip(np.ceil(p * bins).astype(np.int64) - 1, 0, bins - 1)
    mean_p = np.bincount(which, weights=p, minlength=bins)
    mean_y = np.bincount(which, weights=target, minlength=bins)
    return float(np.abs(mean_p - mean_y).sum() / p.size)


def task_eces(probs: np.ndarray, targets: np.ndarray) -> list[float | None]:
    """ECE per task column, each on its known cells."""
    p = np.asarray(probs, dtype=np.float64)
    t = np.asarray(targets)
    out: list[float | None] = []
    for j in range(p.shape[1]):
        known = t[:, j] != -1
        out.append(expected_calibration_error(p[known, j], t[known, j] == 1))
    return out
