"""A task's threshold moved by the user: used by every prediction query, refused when bad."""

from __future__ import annotations

import numpy as np
import pytest

from core import predictions, runs
from core.errors import UserError
from core.project import Project
from core.thresholds import TaskValidation, set_user_threshold, task_validation
from core.training.loop import train
from tests.core.training.conftest import tiny_config


def test_precision_and_recall_at_a_threshold_by_hand() -> None:
    v = TaskValidation(1, np.array([0.9, 0.7, 0.6, 0.4, 0.2]), np.array([1, 0, 1, 1, 0], bool))
    assert (v.n_present, v.n_absent) == (3, 2)
    precision, recall = v.at(0.5)
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(2 / 3)
    assert v.at(0.95) == (None, 0.0)  # nothing called present: precision undefined
    assert v.at(0.1) == (0.6, 1.0)


def test_a_moved_threshold_changes_what_the_run_predicts_and_a_bad_one_changes_nothing(
    demo_project: Project,
) -> None:
    run_id = train(demo_project, tiny_config(epochs=1), lambda e: None)
    task_id = runs.run_task_metrics(demo_project, run_id)[0].task_id
    assert predictions.thresholds(demo_project, run_id)[task_id] == 0.5
    set_user_threshold(demo_project, run_id, task_id, 0.97)
    assert predictions.thresholds(demo_project, run_id)[task_id] == 0.97
    assert runs.run_task_metrics(demo_project, run_id)[0].decision_threshold == 0.97
    plan = predictions.task_acceptance(demo_project, run_id, task_id)
    assert plan.threshold == 0.97
    for bad in (0.0, 1.0, 1.5, float("nan")):
        with pytest.raises(UserError, match="strictly between 0 and 1"):
            set_user_threshold(demo_project, run_id, task_id, bad)
    assert predictions.thresholds(demo_project, run_id)[task_id] == 0.97
    with pytest.raises(UserError, match="no metrics for this task"):
        set_user_threshold(demo_project, run_id, 10_000, 0.4)
    set_user_threshold(demo_project, run_id, task_id, None)
    assert predictions.thresholds(demo_project, run_id)[task_id] == 0.5
    val = task_validation(demo_project, run_id, task_id)
    assert val is not None and len(val.probabilities) == val.n_present + val.n_absent > 0


def test_a_moved_threshold_moves_the_validation_precision_and_recall_with_it(
    demo_project: Project,
) -> None:
    run_id = train(demo_project, tiny_config(epochs=1), lambda e: None)
    row = runs.run_task_metrics(demo_project, run_id)[0]
    val = task_validation(demo_project, run_id, row.task_id)
    assert val is not None
    low = float(np.min(val.probabilities))  # everything called present
    set_user_threshold(demo_project, run_id, row.task_id, max(low, 0.01))
    moved = runs.run_task_metrics(demo_project, run_id)[0]
    assert moved.recall == 1.0
    assert moved.precision == pytest.approx(val.n_present / (val.n_present + val.n_absent))
    set_user_threshold(demo_project, run_id, row.task_id, None)
    back = runs.run_task_metrics(demo_project, run_id)[0]
    assert (back.precision, back.recall, back.f1) == (row.precision, row.recall, row.f1)
