"""metrics.py computes AP, ROC-AUC and the PR curve itself (one sort per task, no
per-call overhead): the numbers are scikit-learn's, ties and all."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (  # type: ignore[import-untyped]
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)

from core.training.metrics import choose_threshold, task_metrics


def sklearn_threshold(p: np.ndarray, y: np.ndarray) -> float:
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(thresholds[np.flatnonzero(f1 >= f1.max() - 1e-12)].max())


@pytest.mark.parametrize("seed", range(40))
def test_ap_auc_and_threshold_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 400))
    y = (rng.random(n) < rng.uniform(0.05, 0.9)).astype(np.int8)
    y[:2] = [0, 1]
    p = rng.random(n)
    if seed % 2:
        p = np.round(p, 1)  # many ties
    if seed % 5 == 0:
        p = np.round(p * 3) / 3  # a handful of distinct scores
    (m,) = task_metrics(p[:, None], y[:, None], [1], ["t"])
    assert m.ap == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert m.auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    if (y == 1).sum() >= 3:
        assert choose_threshold(p, y) == sklearn_threshold(p, y)
