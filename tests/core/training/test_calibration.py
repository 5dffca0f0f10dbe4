"""Calibrated probabilities: the Platt map fitted on validation, and what a run stores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core import runs
from core.project import Project
from core.thresholds import task_validation
from core.training.calibration import (
    Calibration,
    expected_calibration_error,
    fit_calibration,
    task_eces,
)
from core.training.checkpoint import load_checkpoint
from core.training.loop import train
from core.training.predict import predict_run
from tests.core.training.conftest import tiny_config


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-z)))


def logit(p: np.ndarray) -> np.ndarray:
    return np.asarray(np.log(p) - np.log1p(-p))


def overconfident(n: int, seed: int, scale: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a network whose logits are ``scale`` times too large, and labels
    drawn from the true probabilities."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(0, 1.5, n)
    y = (rng.random(n) < sigmoid(true_logit)).astype(np.int8)
    return sigmoid(scale * true_logit)[:, None], y[:, None]


def test_a_large_validation_set_corrects_an_overconfident_network() -> None:
    probs, y = overconfident(4000, seed=0)
    cal = fit_calibration(logit(probs), y)
    assert cal.slope[0] == pytest.approx(1 / 3, abs=0.05)
    assert abs(cal.intercept[0]) < 0.1
    (before,) = task_eces(probs, y)
    (after,) = task_eces(cal.apply(probs), y)
    assert before is not None and after is not None
    assert before > 0.08 and after < 0.03
    # held-out cells from the same network: calibrated there too
    test_p, test_y = overconfident(4000, seed=1)
    (held_out,) = task_eces(cal.apply(test_p), test_y)
    assert held_out is not None and held_out < 0.03


def test_a_tiny_validation_set_cannot_push_the_map_to_an_extreme() -> None:
    """Six perfectly separated cells: an unregularised fit would send the slope to
    infinity (every probability to 0 or 1); the prior keeps it near no change."""
    probs = np.array([[0.9], [0.8], [0.7], [0.3], [0.2], [0.1]])
    y = np.array([[1], [1], [1], [0], [0], [0]], dtype=np.int8)
    cal = fit_calibration(logit(probs), y)
    assert 0.8 < cal.slope[0] < 2.5 and abs(cal.intercept[0]) < 0.5
    out = cal.apply(probs)[:, 0]
    assert out.max() < 0.995 and out.min() > 0.005


def test_calibration_keeps_the_ranking_and_leaves_unfit_tasks_alone() -> None:
    rng = np.random.default_rng(3)
    probs = rng.random((50, 3))
    targets = np.stack(
        [
            (rng.random(50) < probs[:, 0]).astype(np.int8),
            np.ones(50, dtype=np.int8),  # one class only: nothing to fit against
            np.full(50, -1, dtype=np.int8),  # no known cell
        ],
        axis=1,
    )
    cal = fit_calibration(logit(probs), targets)
    out = cal.apply(probs)
    assert (np.argsort(out[:, 0], kind="stable") == np.argsort(probs[:, 0], kind="stable")).all()
    assert list(cal.cells) == [50, 0, 0]
    assert list(cal.slope[1:]) == [1, 1] and list(cal.intercept[1:]) == [0, 0]
    assert out[:, 1:] == pytest.approx(probs[:, 1:], abs=1e-6)
    again = Calibration.from_dict(cal.to_dict(), 3)
    assert again.apply(probs) == pytest.approx(out)


def test_ece_by_hand() -> None:
    # bins (0, .1] ... (.9, 1]: 0.05 & 0.15 & 0.95 land in bins 0, 1, 9
    p = np.array([0.05, 0.05, 0.15, 0.95])
    y = np.array([0, 1, 0, 1])
    # bin 0: mean p .05, frac .5 -> .45 × 2/4; bin 1: .15 vs 0 -> .15 × 1/4; bin 9: .05 × 1/4
    assert expected_calibration_error(p, y) == pytest.approx(0.45 / 2 + 0.15 / 4 + 0.05 / 4)
    assert expected_calibration_error(np.array([]), np.array([])) is None


def test_a_damaged_stored_map_is_refused() -> None:
    with pytest.raises(ValueError, match="cover"):
        Calibration.from_dict({"slope": [1.0], "intercept": [0.0], "cells": [3]}, 2)
    with pytest.raises(ValueError, match="non-positive"):
        Calibration.from_dict({"slope": [0.0], "intercept": [0.0], "cells": [3]}, 1)
    same = Calibration.from_dict(None, 2).apply(np.array([[0.2, 0.7]]))
    assert same == pytest.approx(np.array([[0.2, 0.7]]), abs=1e-6)


def test_a_run_stores_calibrated_predictions_and_says_what_calibration_changed(
    demo_project: Project,
) -> None:
    events: list[dict[str, Any]] = []
    run_id = train(demo_project, tiny_config(epochs=2), events.append)
    info = runs.get_run(demo_project, run_id)
    assert info.status == "done", info.error
    messages = [e["message"] for e in events if e["event"] == "info"]
    assert any(m.startswith("calibrated the probabilities of") and "→" in m for m in messages)
    ckpt = load_checkpoint(demo_project.root / str(info.checkpoint))
    stored_map = Calibration.from_dict(ckpt["calibration"], len(ckpt["task_ids"]))
    metrics = runs.run_task_metrics(demo_project, run_id)
    for j, m in enumerate(metrics):
        assert m.threshold == 0.5
        assert m.calibration_slope == pytest.approx(stored_map.slope[j])
        if m.val_present and m.val_absent:
            assert m.ece is not None and m.ece_raw is not None
    # the stored predictions of validation images are the calibrated validation cells
    image_ids, task_ids, probs = runs.read_predictions(demo_project, run_id)
    row_of = {i: n for n, i in enumerate(image_ids)}
    column = task_ids.index(metrics[0].task_id)
    data = np.load(demo_project.root / "runs" / str(run_id) / "validation.npz")
    assert data["probabilities"][:, 0] == pytest.approx(
        [probs[row_of[int(i)], column] for i in data["image_ids"]], abs=2e-6
    )
    val = task_validation(demo_project, run_id, metrics[0].task_id)
    assert val is not None and val.n_present == metrics[0].val_present
    # predicting again (e.g. after new images) goes through the same map
    predict_run(demo_project, run_id, lambda e: None, lambda: False, "cpu")
    _, _, again = runs.read_predictions(demo_project, run_id)
    assert again == pytest.approx(probs, abs=2e-6)
