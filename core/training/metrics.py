"""Per-task validation metrics on known cells only: loss, AP, ROC-AUC, P/R/F1.

Numpy arrays in, dataclasses out; no torch here.

Conventions
-----------
* Targets are int codes: 1 present, 0 absent, -1 unknown. Each task is
  evaluated on its known cells only; unknown cells never count, whatever
  their probability (scoring them as negatives would roughly halve AP).
* AP is scikit-learn's non-interpolated average precision
  (``average_precision_score``: sum over thresholds of
  ``(R_k - R_{k-1}) * P_k``), not the Pascal VOC 11-point AP. Its chance
  level is the prevalence, reported beside it. AP, ROC-AUC and the
  precision-recall curve are computed here from one sort per task, exactly as
  scikit-learn computes them (``tests/core/training/test_metrics_sklearn.py``
  compares them, ties included): scikit-learn's per-call overhead, about 2 ms ×
  3 calls × tasks × epochs, was most of an instant-mode retrain.
* A cell is predicted present when ``prob >= threshold`` (the convention of
  ``precision_recall_curve``).
* AP and ROC-AUC need both classes among the known cells; otherwise they are
  ``None`` and ``na_reason`` says which class is missing, with the counts. Such
  tasks are left out of :func:`mean_ap` (the libraries would give AP 0 or 1,
  which means nothing).
* Precision, recall and F1 at the threshold are given where defined:
  precision needs at least one known cell predicted present; recall needs at
  least one present cell; F1 = 2TP / (2TP + FP + FN) is given whenever recall
  is (so a task whose positives were all missed gets F1 0 even though its
  precision is undefined), and is ``None`` without present cells, where any
  F1 would be 0 or undefined by construction. Every ``None`` metric is
  explained in ``na_reason``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# With fewer known positives than this, a tuned threshold is noise: use 0.5.
MIN_POSITIVES_FOR_TUNING = 3
DEFAULT_THRESHOLD = 0.5
MIN_RELIABLE_CELLS = 10
"""A task's validation AP counts in the headline only with this many cells of each class."""
# Probabilities are clipped to [EPS, 1 - EPS] for the loss.
EPS = 1e-7
# F1 values this close to the best count as ties (then the higher threshold wins).
_F1_TIE = 1e-12

PRESENT = 1
ABSENT = 0
UNKNOWN = -1

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]


@dataclass
class TaskMetrics:
    task_id: int
    name: str
    val_present: int
    val_absent: int
    val_unknown: int
    loss: float | None
    """Mean BCE over the task's known validation cells; None if none is known."""
    ap: float | None
    """Non-interpolated average precision (scikit-learn); None when n/a."""
    auc: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    threshold: float | None
    """A cell is predicted present when its probability is >= this."""
    prevalence: float | None
    """val_present / (val_present + val_absent): AP's chance level."""
    na_reason: str | None
    """Why any metric above is None; None when all metrics exist."""


# -- input checks ------------------------------------------------------------------


def _check_finite_probs(probs: FloatArray, names: Sequence[str] | None = None) -> None:
    bad = ~np.isfinite(probs)
    if bad.any():
        count = int(bad.sum())
        where = np.argwhere(bad)[0]
        if probs.ndim == 2:
            row, col = int(where[0]), int(where[1])
            task = f"task {names[col]!r}" if names is not None else f"column {col}"
            first = f"first at row {row}, {task}"
        else:
            first = f"first at index {int(where[0])}"
        raise ValueError(
            f"the model produced NaN or infinite probabilities ({count} of {probs.size} "
            f"values, {first}): training diverged; try a lower learning rate"
        )
    if probs.size and (probs.min() < 0.0 or probs.max() > 1.0):
        raise ValueError(
            f"probabilities must lie in [0, 1], got values from {float(probs.min()):.4g} "
            f"to {float(probs.max()):.4g} (were logits passed instead of probabilities?)"
        )


def _as_probs(probs: npt.ArrayLike, ndim: int) -> FloatArray:
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"probabilities must be a {ndim}-d array, got shape {arr.shape}")
    return arr


def _as_targets(targets: npt.ArrayLike, allowed: tuple[int, ...]) -> IntArray:
    arr = np.asarray(targets)
    if arr.size and not np.isin(arr, allowed).all():
        bad = np.unique(arr[~np.isin(arr, allowed)])[:5]
        raise ValueError(f"targets must be one of {allowed}, found {bad.tolist()}")
    return arr.astype(np.int8)


def _check_threshold(threshold: float, name: str) -> float:
    value = float(threshold)
    if not np.isfinite(value):
        raise ValueError(f"threshold for task {name!r} is {value}, not a finite number")
    return value


# -- the ranked counts behind AP, ROC-AUC and the PR curve ----------------------------


def _ranked_counts(p: FloatArray, y: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(distinct scores, descending; true positives and false positives among the cells
    scoring >= each) — scikit-learn's ``_binary_clf_curve`` / ``confusion_matrix_at_thresholds``."""
    order = np.argsort(p, kind="mergesort")[::-1]
    scores, hits = p[order], (y[order] == PRESENT).astype(np.float64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(hits)[last_of_tie]
    fps = 1.0 + last_of_tie - tps
    return scores[last_of_tie], tps, fps


def _average_precision(tps: FloatArray, fps: FloatArray) -> float:
    """Σ (R_k − R_{k−1}) · P_k over the thresholds (needs a positive)."""
    recall = tps / tps[-1]
    precision = tps / (tps + fps)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _roc_auc(tps: FloatArray, fps: FloatArray) -> float:
    """Trapezoidal area under the ROC curve from (0, 0) (needs both classes)."""
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


# -- threshold ---------------------------------------------------------------------


def tuned_on(present: int, absent: int) -> bool:
    """Whether validation labels this many present and absent tune a threshold
    (``choose_threshold``); otherwise it is DEFAULT_THRESHOLD."""
    return present >= MIN_POSITIVES_FOR_TUNING and absent > 0


def choose_threshold(probs: np.ndarray, y: np.ndarray) -> float:
    """The threshold that maximises F1 over the precision-recall curve (the window
    offers it as a hint when a user moves a threshold; runs decide at 0.5 on
    calibrated probabilities instead, which a small validation set cannot push to
    an extreme).

    ``probs`` are 1-d probabilities, ``y`` the matching 0/1 targets (known cells
    only). Candidates are the distinct probabilities (predict present when
    ``prob >= threshold``); among thresholds with the best F1 the highest wins.
    With fewer than :data:`MIN_POSITIVES_FOR_TUNING` positives, or no negatives
    (the "best" threshold would then just be the lowest score), returns 0.5.
    """
    p = _as_probs(probs, 1)
    t = _as_targets(y, (ABSENT, PRESENT))
    if p.shape != t.shape:
        raise ValueError(f"probabilities {p.shape} and targets {t.shape} differ in shape")
    _check_finite_probs(p)
    positives = int((t == PRESENT).sum())
    if not tuned_on(positives, t.size - positives):
        return DEFAULT_THRESHOLD
    thresholds, tps, fps = _ranked_counts(p, t)
    precision, recall = tps / (tps + fps), tps / tps[-1]
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = f1.max()
    candidates = np.flatnonzero(f1 >= best - _F1_TIE)
    return float(thresholds[candidates].max())


# -- metrics -----------------------------------------------------------------------


def _bce(p: FloatArray, y: IntArray) -> float:
    q = np.clip(p, EPS, 1.0 - EPS)
    losses = np.where(y == PRESENT, -np.log(q), -np.log1p(-q))
    return float(losses.mean())


def _one_task(
    task_id: int,
    name: str,
    p: FloatArray,
    y: IntArray,
    unknown: int,
    threshold: float | None,
) -> TaskMetrics:
    present = int((y == PRESENT).sum())
    absent = int((y == ABSENT).sum())
    if present + absent == 0:
        return TaskMetrics(
            task_id=task_id,
            name=name,
            val_present=0,
            val_absent=0,
            val_unknown=unknown,
            loss=None,
            ap=None,
            auc=None,
            precision=None,
            recall=None,
            f1=None,
            threshold=threshold,
            prevalence=None,
            na_reason="no known validation cells",
        )
    reasons: list[str] = []
    counts = f"({present} present, {absent} absent)"
    ap: float | None = None
    auc: float | None = None
    if present == 0:
        reasons.append(f"no present cells in validation {counts}")
    elif absent == 0:
        reasons.append(f"no absent cells in validation {counts}")
    else:
        _, tps, fps = _ranked_counts(p, y)
        ap = _average_precision(tps, fps)
        auc = _roc_auc(tps, fps)

    t = threshold if threshold is not None else DEFAULT_THRESHOLD
    predicted = p >= t
    tp = int((predicted & (y == PRESENT)).sum())
    fp = int((predicted & (y == ABSENT)).sum())
    fn = present - tp
    precision = tp / (tp + fp) if tp + fp > 0 else None
    recall = tp / present if present > 0 else None
    f1 = 2 * tp / (2 * tp + fp + fn) if present > 0 else None
    if precision is None:
        reasons.append(f"precision n/a: no known cell predicted present at threshold {t:.4g}")

    return TaskMetrics(
        task_id=task_id,
        name=name,
        val_present=present,
        val_absent=absent,
        val_unknown=unknown,
        loss=_bce(p, y),
        ap=ap,
        auc=auc,
        precision=precision,
        recall=recall,
        f1=f1,
        threshold=t,
        prevalence=present / (present + absent),
        na_reason="; ".join(reasons) if reasons else None,
    )


def task_metrics(
    probs: np.ndarray,
    targets: np.ndarray,
    task_ids: Sequence[int],
    names: Sequence[str],
    thresholds: Sequence[float | None] | None = None,
) -> list[TaskMetrics]:
    """Metrics per task (column), each on that task's known cells only.

    ``probs`` is (n, T) in [0, 1]; ``targets`` is (n, T) with 1 / 0 / -1
    (unknown). With ``thresholds`` None (or a None entry) the task's threshold
    is ``DEFAULT_THRESHOLD`` (0.5: the decision on calibrated probabilities, see
    ``calibration.py``); a given threshold is used as is (and reported even for a
    task without known cells). Raises ValueError
    for NaN/inf or out-of-range probabilities and for mismatched shapes.
    """
    p = _as_probs(probs, 2)
    t = _as_targets(targets, (UNKNOWN, ABSENT, PRESENT))
    n_tasks = len(task_ids)
    if len(names) != n_tasks:
        raise ValueError(f"{n_tasks} task ids but {len(names)} names")
    if p.shape != t.shape:
        raise ValueError(f"probabilities {p.shape} and targets {t.shape} differ in shape")
    if p.shape[1] != n_tasks:
        raise ValueError(f"arrays have {p.shape[1]} task columns but {n_tasks} tasks were named")
    if thresholds is not None and len(thresholds) != n_tasks:
        raise ValueError(f"{len(thresholds)} thresholds for {n_tasks} tasks")
    _check_finite_probs(p, names)

    result: list[TaskMetrics] = []
    for j in range(n_tasks):
        given = thresholds[j] if thresholds is not None else None
        threshold = _check_threshold(given, names[j]) if given is not None else None
        known = t[:, j] != UNKNOWN
        result.append(
            _one_task(
                int(task_ids[j]),
                str(names[j]),
                p[known, j],
                t[known, j],
                int((~known).sum()),
                threshold,
            )
        )
    return result


def mean_ap(metrics: Sequence[TaskMetrics]) -> float | None:
    """Mean AP over the tasks that have one; None if no task has one."""
    aps = [m.ap for m in metrics if m.ap is not None]
    return float(np.mean(aps)) if aps else None


def unreliable_reason(present: int, absent: int) -> str | None:
    """Why an AP on ``present`` / ``absent`` validation cells cannot be trusted, or None:
    with fewer than ``MIN_RELIABLE_CELLS`` of a class one cell moves it by a tenth."""
    fewest, which = min((present, "present"), (absent, "absent"))
    if fewest >= MIN_RELIABLE_CELLS:
        return None
    return (
        f"AP unreliable: {fewest} {which} cell{'s' if fewest != 1 else ''} in validation "
        f"(fewer than {MIN_RELIABLE_CELLS}); left out of the mean AP"
    )


def headline_ap(metrics: Sequence[TaskMetrics]) -> float | None:
    """The run's mean AP: over the tasks whose AP is reliable (``unreliable_reason``),
    over every task with an AP when none is."""
    reliable = [m for m in metrics if not unreliable_reason(m.val_present, m.val_absent)]
    return mean_ap(reliable) if mean_ap(reliable) is not None else mean_ap(metrics)
