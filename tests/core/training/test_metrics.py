"""Validation metrics: known cells only, AP/AUC against independent formulas, thresholds."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from core.training.metrics import (
    DEFAULT_THRESHOLD,
    MIN_POSITIVES_FOR_TUNING,
    TaskMetrics,
    choose_threshold,
    mean_ap,
    task_metrics,
)

# -- independent reference computations --------------------------------------------


def ref_ap(p: np.ndarray, y: np.ndarray) -> float:
    """Non-interpolated AP: mean over positives of the precision at that positive's score.

    Tied scores are ranked together (everything scoring >= s is predicted present),
    which is how scikit-learn treats ties.
    """
    precisions = []
    for s in p[y == 1]:
        predicted = p >= s
        precisions.append((predicted & (y == 1)).sum() / predicted.sum())
    return float(np.mean(precisions))


def ref_auc(p: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney U statistic over all (positive, negative) pairs."""
    pos, neg = p[y == 1], p[y == 0]
    diff = pos[:, None] - neg[None, :]
    u = (diff > 0).sum() + 0.5 * (diff == 0).sum()
    return float(u / (len(pos) * len(neg)))


def ref_f1(p: np.ndarray, y: np.ndarray, t: float) -> float:
    predicted = p >= t
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn)


def random_case(
    seed: int, n: int = 80, tasks: int = 4, unknown_share: float = 0.4, decimals: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probs, targets with -1 for unknown, the full truth)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, tasks)) < 0.35).astype(np.int8)
    probs = np.clip(0.35 * truth + 0.65 * rng.random((n, tasks)), 0.0, 1.0)
    if decimals is not None:
        probs = np.round(probs, decimals)  # creates ties
    targets = truth.copy()
    targets[rng.random((n, tasks)) < unknown_share] = -1
    return probs.astype(np.float32), targets, truth


def names_for(k: int) -> tuple[list[int], list[str]]:
    return list(range(10, 10 + k)), [f"t{j}" for j in range(k)]


# -- AP / AUC ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decimals", [None, 1])
def test_ap_and_auc_match_independent_formulas(seed: int, decimals: int | None) -> None:
    probs, targets, _ = random_case(seed, decimals=decimals)
    ids, names = names_for(probs.shape[1])
    metrics = task_metrics(probs, targets, ids, names)
    for j, m in enumerate(metrics):
        known = targets[:, j] != -1
        p, y = probs[known, j].astype(np.float64), targets[known, j]
        assert (m.task_id, m.name) == (ids[j], names[j])
        assert (m.val_present, m.val_absent, m.val_unknown) == (
            int((y == 1).sum()),
            int((y == 0).sum()),
            int((~known).sum()),
        )
        assert m.ap == pytest.approx(ref_ap(p, y), abs=1e-12)
        assert m.auc == pytest.approx(ref_auc(p, y), abs=1e-12)
        assert m.prevalence == pytest.approx((y == 1).mean())
        assert m.na_reason is None
    assert mean_ap(metrics) == pytest.approx(np.mean([m.ap for m in metrics]))


def test_loss_is_mean_clipped_bce_over_known_cells() -> None:
    probs = np.array([[0.9], [0.2], [0.0], [0.7], [0.4]])
    targets = np.array([[1], [0], [1], [-1], [0]], dtype=np.int8)
    (m,) = task_metrics(probs, targets, [1], ["a"])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(1e-7) + math.log(0.6)) / 4
    assert m.loss == pytest.approx(expected)


# -- unknown cells -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_unknown_cells_do_not_change_any_metric(seed: int) -> None:
    probs, targets, _ = random_case(seed, unknown_share=0.5)
    ids, names = names_for(probs.shape[1])
    before = task_metrics(probs, targets, ids, names)
    scrambled = probs.copy()
    unknown = targets == -1
    scrambled[unknown] = np.random.default_rng(99).random(int(unknown.sum()))
    assert task_metrics(scrambled, targets, ids, names) == before
    # the same with fixed thresholds
    fixed = [0.5] * len(ids)
    assert task_metrics(scrambled, targets, ids, names, fixed) == task_metrics(
        probs, targets, ids, names, fixed
    )


def test_scoring_unknown_cells_as_negatives_would_wreck_ap() -> None:
    """Half the cells hidden: known-only AP matches the full truth; unknown-as-absent does not."""
    probs, targets, truth = random_case(7, n=2000, tasks=3, unknown_share=0.5)
    ids, names = names_for(3)
    known_only = task_metrics(probs, targets, ids, names)
    as_negatives = task_metrics(probs, np.where(targets == -1, 0, targets), ids, names)
    full_truth = task_metrics(probs, truth, ids, names)
    for k, neg, full in zip(known_only, as_negatives, full_truth, strict=True):
        assert k.ap is not None and neg.ap is not None and full.ap is not None
        assert abs(k.ap - full.ap) < 0.05
        assert neg.ap < k.ap - 0.2
        assert k.val_unknown > 800 and neg.val_unknown == 0


# -- one-class and empty tasks -----------------------------------------------------


def test_one_class_and_empty_tasks_get_none_with_reason_and_leave_the_mean() -> None:
    probs = np.array(
        [
            [0.9, 0.8, 0.1, 0.5, 0.9],
            [0.7, 0.6, 0.7, 0.5, 0.2],
            [0.6, 0.4, 0.3, 0.5, 0.8],
            [0.4, 0.9, 0.2, 0.5, 0.1],
        ]
    )
    targets = np.array(
        [
            [1, 1, 0, -1, 1],
            [1, 1, 0, -1, 0],
            [-1, 1, 0, -1, 0],
            [0, 1, 0, -1, 1],
        ],
        dtype=np.int8,
    )
    ok, only_pos, only_neg, empty, ok2 = task_metrics(
        probs, targets, [1, 2, 3, 4, 5], ["ok", "pos", "neg", "empty", "ok2"]
    )
    assert ok.ap is not None and ok.auc is not None and ok.na_reason is None
    assert ok2.ap is not None

    assert only_pos.ap is None and only_pos.auc is None
    assert only_pos.na_reason == "no absent cells in validation (4 present, 0 absent)"
    assert only_pos.prevalence == 1.0
    # few positives -> threshold 0.5: 0.8, 0.6 and 0.9 predicted present
    assert only_pos.threshold == 0.5
    assert (only_pos.precision, only_pos.recall) == (1.0, 0.75)
    assert only_pos.f1 == pytest.approx(6 / 7)

    assert only_neg.ap is None and only_neg.auc is None
    assert only_neg.na_reason == "no present cells in validation (0 present, 4 absent)"
    assert only_neg.recall is None and only_neg.f1 is None
    assert only_neg.precision == 0.0  # one cell (0.7) predicted present, wrongly
    assert only_neg.prevalence == 0.0 and only_neg.loss is not None

    assert empty == TaskMetrics(
        task_id=4,
        name="empty",
        val_present=0,
        val_absent=0,
        val_unknown=4,
        loss=None,
        ap=None,
        auc=None,
        precision=None,
        recall=None,
        f1=None,
        threshold=None,
        prevalence=None,
        na_reason="no known validation cells",
    )
    assert mean_ap([ok, only_pos, only_neg, empty, ok2]) == pytest.approx((ok.ap + ok2.ap) / 2)
    assert mean_ap([only_pos, only_neg, empty]) is None
    assert mean_ap([]) is None


def test_only_negatives_none_predicted_explains_precision_too() -> None:
    probs = np.array([[0.1], [0.2], [0.3]])
    targets = np.zeros((3, 1), dtype=np.int8)
    (m,) = task_metrics(probs, targets, [1], ["a"])
    assert (m.precision, m.recall, m.f1) == (None, None, None)
    assert m.na_reason == (
        "no present cells in validation (0 present, 3 absent); "
        "precision n/a: no known cell predicted present at threshold 0.5"
    )


def test_all_positives_missed_gives_f1_zero_and_precision_none() -> None:
    probs = np.array([[0.1], [0.2], [0.3], [0.05]])
    targets = np.array([[1], [1], [0], [0]], dtype=np.int8)
    (m,) = task_metrics(probs, targets, [1], ["a"], [0.5])
    assert (m.precision, m.recall, m.f1) == (None, 0.0, 0.0)
    assert m.ap is not None and m.auc is not None
    assert m.na_reason == "precision n/a: no known cell predicted present at threshold 0.5"


def test_zero_rows() -> None:
    probs = np.zeros((0, 2), dtype=np.float32)
    targets = np.zeros((0, 2), dtype=np.int8)
    metrics = task_metrics(probs, targets, [1, 2], ["a", "b"])
    assert [m.na_reason for m in metrics] == ["no known validation cells"] * 2
    assert all(m.val_unknown == 0 and m.loss is None for m in metrics)
    assert mean_ap(metrics) is None
    # a given threshold is kept even without known cells
    assert [m.threshold for m in task_metrics(probs, targets, [1, 2], ["a", "b"], [0.3, None])] == [
        0.3,
        None,
    ]


# -- thresholds --------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("decimals", [None, 1])
def test_choose_threshold_maximises_f1_and_prefers_the_higher_on_ties(
    seed: int, decimals: int | None
) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    y = (rng.random(n) < 0.3).astype(np.int8)
    y[:3] = 1  # enough positives to tune
    y[3] = 0
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    if decimals is not None:
        p = np.round(p, decimals)
    chosen = choose_threshold(p, y)
    candidates = np.unique(p)
    f1s = np.array([ref_f1(p, y, t) for t in candidates])
    best = f1s.max()
    assert chosen in candidates
    assert ref_f1(p, y, chosen) == pytest.approx(best, abs=1e-12)
    assert chosen == candidates[np.isclose(f1s, best, rtol=0, atol=1e-12)].max()


def test_choose_threshold_tie_goes_to_the_higher_threshold() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    y = np.array([1, 1, 0, 0, 0, 0, 1, 1])
    # F1 = 2/3 both at 0.8 (tp 2, fp 0, fn 2) and at 0.2 (tp 4, fp 4, fn 0)
    assert ref_f1(p, y, 0.8) == pytest.approx(ref_f1(p, y, 0.2))
    assert choose_threshold(p, y) == 0.8


def test_few_positives_or_no_negatives_give_half() -> None:
    assert MIN_POSITIVES_FOR_TUNING == 3
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    assert choose_threshold(p, np.array([1, 1, 0, 0, 0])) == 0.5
    assert choose_threshold(p, np.array([1, 1, 1, 0, 0])) == 0.3  # perfect split
    assert choose_threshold(p, np.ones(5, dtype=np.int8)) == 0.5
    assert choose_threshold(np.array([]), np.array([], dtype=np.int8)) == 0.5


def test_given_thresholds_are_used_and_counts_match_a_hand_count() -> None:
    probs = np.array(
        [[0.95, 0.6], [0.85, 0.6], [0.55, 0.1], [0.45, 0.9], [0.35, 0.2], [0.15, 0.7], [0.9, 0.3]]
    )
    targets = np.array([[1, 1], [0, 1], [1, 0], [1, 0], [0, 1], [0, -1], [-1, 0]], dtype=np.int8)
    a, b = task_metrics(probs, targets, [1, 2], ["a", "b"], [0.5, 0.6])
    # task a at 0.5, known rows 0-5: predicted 0.95(1) 0.85(0) 0.55(1) -> tp 2 fp 1; fn 1 (0.45)
    assert a.threshold == 0.5
    assert (a.precision, a.recall, a.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # task b at 0.6 (>=), known rows 0-4 and 6: predicted 0.6(1) 0.6(1) 0.9(0) -> tp 2 fp 1; fn 1
    assert b.threshold == 0.6
    assert (b.precision, b.recall, b.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))

    # a different threshold for a changes its counts: at 0.4, tp 3 fp 1 fn 0
    (a2, b2) = task_metrics(probs, targets, [1, 2], ["a", "b"], [0.4, None])
    assert a2.threshold == 0.4 and (a2.precision, a2.recall) == (0.75, 1.0)
    assert a2.f1 == pytest.approx(6 / 7)
    assert b2.threshold == DEFAULT_THRESHOLD  # None: the calibrated decision, not a max-F1 point


def test_without_thresholds_every_task_decides_at_one_half_on_known_cells() -> None:
    probs, targets, _ = random_case(3)
    ids, names = names_for(probs.shape[1])
    for j, m in enumerate(task_metrics(probs, targets, ids, names)):
        known = targets[:, j] != -1
        assert m.threshold == 0.5
        assert m.f1 == pytest.approx(
            ref_f1(probs[known, j].astype(np.float64), targets[known, j], m.threshold)
        )


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_probabilities_raise(bad: float) -> None:
    probs = np.full((3, 2), 0.5)
    probs[1, 1] = bad
    targets = np.array([[1, -1], [0, -1], [1, 0]], dtype=np.int8)  # even on an unknown cell
    with pytest.raises(ValueError, match=r"NaN or infinite.*row 1, task 'b'"):
        task_metrics(probs, targets, [1, 2], ["a", "b"])
    with pytest.raises(ValueError, match="NaN or infinite"):
        choose_threshold(probs[:, 1], np.array([1, 0, 1]))


def test_other_bad_input_raises() -> None:
    probs = np.full((2, 2), 0.5)
    targets = np.zeros((2, 2), dtype=np.int8)
    with pytest.raises(ValueError, match=r"\[0, 1\].*logits"):
        task_metrics(probs + 1.0, targets, [1, 2], ["a", "b"])
    with pytest.raises(ValueError, match="targets must be"):
        task_metrics(probs, targets + 2, [1, 2], ["a", "b"])
    with pytest.raises(ValueError, match="differ in shape"):
        task_metrics(probs, targets[:1], [1, 2], ["a", "b"])
    with pytest.raises(ValueError, match="task columns"):
        task_metrics(probs, targets, [1], ["a"])
    with pytest.raises(ValueError, match="names"):
        task_metrics(probs, targets, [1, 2], ["a"])
    with pytest.raises(ValueError, match="thresholds"):
        task_metrics(probs, targets, [1, 2], ["a", "b"], [0.5])
    with pytest.raises(ValueError, match="not a finite number"):
        task_metrics(probs, targets, [1, 2], ["a", "b"], [0.5, float("nan")])


def test_metrics_are_plain_python_numbers() -> None:
    probs, targets, _ = random_case(1)
    ids, names = names_for(probs.shape[1])
    for m in task_metrics(probs, targets, ids, names):
        for f in dataclasses.fields(m):
            value = getattr(m, f.name)
            assert value is None or type(value) in (int, float, str), (f.name, type(value))


def test_an_ap_on_fewer_than_ten_cells_of_a_class_is_left_out_of_the_headline() -> None:
    from core.training.metrics import headline_ap, mean_ap, unreliable_reason

    rng = np.random.default_rng(0)
    y = np.array([[1, 1]] * 12 + [[0, 0]] * 30)
    y[3:, 1] = 0  # task b: only 3 present cells
    p = np.clip(y + rng.normal(0, 0.6, y.shape), 0, 1)
    metrics = task_metrics(p, y, [1, 2], ["a", "b"])
    assert unreliable_reason(metrics[0].val_present, metrics[0].val_absent) is None
    assert "3 present cells" in str(unreliable_reason(metrics[1].val_present, 39))
    assert headline_ap(metrics) == metrics[0].ap != mean_ap(metrics)
    assert headline_ap(metrics[1:]) == metrics[1].ap  # none reliable: every AP counts
