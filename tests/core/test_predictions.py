"""Inspecting predictions: the active-learning queue, likely label errors, accepting cells.

Runs and predictions are inserted directly (no training); every order is checked
against a brute-force sort of the same cells.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import pytest
from sqlalchemy import Table, insert

from core import predictions as pred
from core.db.models import Prediction, Run, RunTaskMetric
from core.errors import NotFoundError, UserError
from core.labels import set_cells
from core.project import Project
from core.tasks import add_task, archive_task, get_task
from tests.helpers import add_fake_images

Cells = dict[tuple[int, int], float]


def insert_run(
    project: Project,
    probabilities: Mapping[tuple[int, int], float],
    thresholds: Mapping[int, float | None] | None = None,
    *,
    complete: bool = True,
    status: str = "done",
    best_epoch: int = 2,
) -> int:
    """A finished run with the given predictions ((image, task) → p) and per-task
    thresholds at its best epoch (an earlier epoch gets different ones, to be ignored)."""
    with project.transaction() as session:
        run = Run(
            config=json.dumps({}),
            status=status,
            epochs_done=best_epoch + 1,
            best_epoch=best_epoch,
            predictions_complete=complete,
        )
        session.add(run)
        session.flush()
        for epoch, shift in ((best_epoch - 1, 0.2), (best_epoch, 0.0)):
            for task_id, t in (thresholds or {}).items():
                session.add(
                    RunTaskMetric(
                        run_id=run.id,
                        epoch=epoch,
                        task_id=task_id,
                        train_present=0,
                        train_absent=0,
                        train_unknown=0,
                        val_present=0,
                        val_absent=0,
                        val_unknown=0,
                        loss=None,
                        ap=None,
                        auc=None,
                        precision=None,
                        recall=None,
                        f1=None,
                        threshold=None if t is None else t + shift,
                        na_reason=None,
                    )
                )
        rows = [
            {"run_id": run.id, "image_id": i, "task_id": t, "probability": p}
            for (i, t), p in probabilities.items()
        ]
        if rows:
            session.execute(insert(cast(Table, Prediction.__table__)), rows)
        return run.id


@dataclass
class Setup:
    project: Project
    images: list[int]
    tasks: list[int]
    probs: Cells
    th: dict[int, float]
    """The thresholds in effect (0.5 for task c, which has none recorded)."""
    run: int


@pytest.fixture
def setup(project: Project) -> Setup:
    """40 images × tasks a, b, c; probabilities on a 0.001 grid (ties happen); about half
    the cells labelled; thresholds a 0.5, b 0.3, c none recorded (→ 0.5)."""
    add_task(project, "c")
    tasks = [get_task(project, n).id for n in ("a", "b", "c")]
    images = add_fake_images(project, 40)
    rng = np.random.default_rng(7)
    probs: Cells = {
        (i, t): round(float(rng.integers(0, 1001)) / 1000, 3) for i in images for t in tasks
    }
    labels = [(i, t, int(rng.integers(0, 2))) for (i, t) in probs if rng.random() < 0.5]
    set_cells(project, labels)
    run = insert_run(project, probs, {tasks[0]: 0.5, tasks[1]: 0.3, tasks[2]: None})
    return Setup(project, images, tasks, probs, {tasks[0]: 0.5, tasks[1]: 0.3, tasks[2]: 0.5}, run)


def labelled(project: Project) -> dict[tuple[int, int], int]:
    from core.labels import image_rows, list_images

    rows = image_rows(project, list_images(project))
    return {(i, t): v for i, row in rows.items() for t, v in row.items() if v is not None}


def expected_queue(
    probs: Cells, known: Mapping[tuple[int, int], int], th: Mapping[int, float]
) -> list[tuple[int, int]]:
    unknown = [(i, t) for (i, t) in probs if (i, t) not in known and t in th]
    return sorted(unknown, key=lambda c: (abs(probs[c] - th[c[1]]), c[0], c[1]))


# -- thresholds and runs ----------------------------------------------------------------


def test_thresholds_come_from_the_best_epoch_with_a_fallback(setup: Setup) -> None:
    tasks = setup.tasks
    assert pred.thresholds(setup.project, setup.run) == {
        tasks[0]: 0.5,
        tasks[1]: 0.3,
        tasks[2]: 0.5,
    }


def test_a_run_without_metrics_uses_one_half(project: Project, images: list[int]) -> None:
    a = get_task(project, "a").id
    run = insert_run(project, {(images[0], a): 0.7})
    assert pred.thresholds(project, run) == {a: 0.5}
    assert pred.image_predictions(project, run, images[0]) == {a: (0.7, 0.5)}
    assert pred.image_predictions(project, run, images[1]) == {}


def test_an_incomplete_or_missing_run_is_refused(project: Project, images: list[int]) -> None:
    a = get_task(project, "a").id
    run = insert_run(project, {(images[0], a): 0.7}, complete=False, status="failed")
    for call in (
        lambda: pred.label_next(project, run),
        lambda: pred.label_next_images(project, run),
        lambda: pred.disagreements(project, run),
        lambda: pred.predicted_present(project, run, a),
        lambda: pred.image_predictions(project, run, images[0]),
        lambda: pred.thresholds(project, run),
        lambda: pred.accept_image(project, run, images[0]),
        lambda: pred.task_acceptance(project, run, a),
    ):
        with pytest.raises(UserError, match="incomplete"):
            call()
    with pytest.raises(NotFoundError):
        pred.label_next(project, run + 1)


# -- label next --------------------------------------------------------------------------


def test_label_next_is_the_unknown_cells_by_distance_to_the_threshold(setup: Setup) -> None:
    project, probs, th = setup.project, setup.probs, dict(setup.th)
    run = setup.run
    known = labelled(project)
    expected = expected_queue(probs, known, th)
    assert len(expected) > 30
    queue = pred.label_next(project, run, limit=len(probs), random_share=0)
    assert [(c.image_id, c.task_id) for c in queue] == expected
    for c in queue:
        assert c.probability == probs[(c.image_id, c.task_id)]
        assert c.threshold == th[c.task_id]
        assert c.margin == pytest.approx(abs(c.probability - c.threshold))
        assert not c.random
    short = pred.label_next(project, run, limit=7, random_share=0)
    assert [(c.image_id, c.task_id) for c in short] == expected[:7]


def test_label_next_leaves_out_archived_tasks_and_follows_new_labels(setup: Setup) -> None:
    project, tasks, probs = setup.project, setup.tasks, setup.probs
    th, run = dict(setup.th), setup.run
    archive_task(project, tasks[1])
    del th[tasks[1]]
    first = pred.label_next(project, run, limit=3, random_share=0)[0]
    set_cells(project, [(first.image_id, first.task_id, 1)])
    expected = expected_queue(probs, labelled(project), th)
    queue = pred.label_next(project, run, limit=1000, random_share=0)
    assert [(c.image_id, c.task_id) for c in queue] == expected
    assert all(c.task_id != tasks[1] for c in queue)


def test_random_share_takes_every_tenth_place_deterministically(setup: Setup) -> None:
    project, probs, th = setup.project, setup.probs, dict(setup.th)
    run = setup.run
    known = labelled(project)
    expected = expected_queue(probs, known, th)
    queue = pred.label_next(project, run, limit=30, random_share=0.1, seed=5)
    assert queue == pred.label_next(project, run, limit=30, random_share=0.1, seed=5)
    assert [n for n, c in enumerate(queue) if c.random] == [9, 19, 29]
    keys = [(c.image_id, c.task_id) for c in queue]
    assert len(set(keys)) == 30
    # The uncertain places hold the most uncertain cells, in order; random ones come
    # from the other unknown cells.
    assert [k for k, c in zip(keys, queue, strict=True) if not c.random] == expected[:27]
    for c in queue:
        if c.random:
            assert (c.image_id, c.task_id) in expected[30:]
    others = {
        tuple((c.image_id, c.task_id) for c in pred.label_next(project, run, 30, 0.1, seed=s))
        for s in range(6)
    }
    assert len(others) > 1  # the seed matters
    everything = pred.label_next(project, run, limit=10, random_share=1.0, seed=1)
    assert all(c.random for c in everything) and len(everything) == 10
    assert {(c.image_id, c.task_id) for c in everything} <= set(expected)


def test_random_picks_give_way_when_no_unknown_cell_is_left(
    project: Project, images: list[int]
) -> None:
    a = get_task(project, "a").id
    run = insert_run(project, {(i, a): 0.1 * n for n, i in enumerate(images[:4])}, {a: 0.2})
    queue = pred.label_next(project, run, limit=10, random_share=0.5)
    assert sorted((c.image_id, c.task_id) for c in queue) == [(i, a) for i in images[:4]]
    assert len(queue) == 4


def test_label_next_images_orders_images_by_their_most_uncertain_cell(setup: Setup) -> None:
    project, probs, th = setup.project, setup.probs, dict(setup.th)
    run = setup.run
    known = labelled(project)
    expected_cells = expected_queue(probs, known, th)
    expected_images = list(dict.fromkeys(i for i, _ in expected_cells))
    queue = pred.label_next_images(project, run, limit=12, random_share=0)
    assert [s.image_id for s in queue] == expected_images[:12]
    for s in queue:
        mine = [c for c in expected_cells if c[0] == s.image_id]
        assert [(c.image_id, c.task_id) for c in s.cells] == mine
        assert s.margin == s.cells[0].margin
    mixed = pred.label_next_images(project, run, limit=12, random_share=0.25, seed=2)
    assert mixed == pred.label_next_images(project, run, limit=12, random_share=0.25, seed=2)
    assert [n for n, s in enumerate(mixed) if s.random] == [3, 7, 11]
    assert len({s.image_id for s in mixed}) == 12
    assert [s.image_id for s in mixed if not s.random] == expected_images[:9]


# -- disagreements -------------------------------------------------------------------------


def test_disagreements_are_confident_contradictions_most_confident_first(setup: Setup) -> None:
    project, tasks, probs = setup.project, setup.tasks, setup.probs
    th, run = dict(setup.th), setup.run
    known = labelled(project)

    def expected(task: int | None, c: float) -> list[tuple[int, int, int, float]]:
        rows = []
        for (i, t), v in known.items():
            if task is not None and t != task:
                continue
            p = probs[(i, t)]
            predicted = 1 if p >= th[t] else 0
            conf = p if v == 0 else 1 - p
            if predicted != v and conf >= c:
                rows.append((i, t, v, conf))
        return sorted(rows, key=lambda r: (-r[3], r[0], r[1]))

    found = pred.disagreements(project, run, limit=1000)
    want = expected(None, 0.5)
    assert len(want) > 10
    assert [(d.image_id, d.task_id, d.label) for d in found] == [r[:3] for r in want]
    for d in found:
        assert d.confidence == pytest.approx(1 - d.probability if d.label else d.probability)
    top = pred.disagreements(project, run, task_id=tasks[1], limit=5, min_confidence=0.8)
    assert [(d.image_id, d.task_id) for d in top] == [r[:2] for r in expected(tasks[1], 0.8)][:5]
    # Task b's threshold is 0.3: labelled absent with p = 0.4 disagrees, but the model is
    # not confident (0.4 < 0.5), so only a lower minimum lists it.
    low = pred.disagreements(project, run, task_id=tasks[1], limit=1000, min_confidence=0.0)
    assert len(low) == len(expected(tasks[1], 0.0)) > len(expected(tasks[1], 0.5))


# -- what the model finds ------------------------------------------------------------------


def test_predicted_present_and_image_predictions(setup: Setup) -> None:
    project, images, tasks = setup.project, setup.images, setup.tasks
    probs, th, run = setup.probs, dict(setup.th), setup.run
    b = tasks[1]
    want = sorted(
        (i for (i, t), p in probs.items() if t == b and p >= 0.3),
        key=lambda i: (-probs[(i, b)], i),
    )
    assert pred.predicted_present(project, run, b) == want
    assert pred.predicted_present(project, run, b, limit=3) == want[:3]
    row = pred.image_predictions(project, run, images[4])
    assert row == {t: (probs[(images[4], t)], th[t]) for t in tasks}


# -- accepting -----------------------------------------------------------------------------


def test_accept_one_cell_or_an_image(setup: Setup) -> None:
    project, images, tasks = setup.project, setup.images, setup.tasks
    probs, th, run = setup.probs, dict(setup.th), setup.run
    known = labelled(project)
    image = next(i for i in images if any((i, t) not in known for t in tasks))
    cells = pred.accept_image(project, run, image)
    want = [(image, t, int(probs[(image, t)] >= th[t])) for t in tasks if (image, t) not in known]
    assert cells == want
    unknown_task = want[0][1]
    assert pred.accept_cell(project, run, image, unknown_task) == [want[0]]
    known_cell = next((i, t) for (i, t) in known)
    assert pred.accept_cell(project, run, *known_cell) == []
    both = pred.accept_images(project, run, [images[3], images[1]])
    assert both == pred.accept_image(project, run, images[3]) + pred.accept_image(
        project, run, images[1]
    )
    assert {v for _, _, v in both} <= {0, 1}


def test_bulk_accept_by_confidence(setup: Setup) -> None:
    project, tasks, probs = setup.project, setup.tasks, setup.probs
    run = setup.run
    known = labelled(project)
    b = tasks[1]  # threshold 0.3
    unknown = {i: p for (i, t), p in probs.items() if t == b and (i, t) not in known}
    plan = pred.task_acceptance(project, run, b)
    assert plan.threshold == 0.3
    assert sorted(plan.image_ids.tolist()) == sorted(unknown)
    for c in (0.5, 0.6, 0.75, 0.9, 1.0):
        present = sorted(
            (i for i, p in unknown.items() if p >= max(0.3, c)), key=lambda i: (-unknown[i], -i)
        )
        absent = [i for i, p in unknown.items() if p < 0.3 and p <= 1 - c + 1e-9]
        counts = plan.counts(c)
        assert (counts.present, counts.absent) == (len(present), len(absent))
        cells = pred.accept_task(project, run, b, c)
        assert [i for i, _, v in cells if v == 1] == present
        assert sorted(i for i, _, v in cells if v == 0) == sorted(absent)
        assert {t for _, t, _ in cells} <= {b}
        for i, _, v in cells:
            p = unknown[i]
            assert pred.confidence(p, 0.3) >= c and v == pred.predicted_value(p, 0.3)
    with pytest.raises(UserError):
        plan.counts(1.5)


def test_a_queue_longer_than_a_page_matches_brute_force(project: Project) -> None:
    """3,000 cells: the scans read several growing pages each, merged in order."""
    a, b = get_task(project, "a").id, get_task(project, "b").id
    images = add_fake_images(project, 1500)
    rng = np.random.default_rng(1)
    probs = {(i, t): float(rng.random()) for i in images for t in (a, b)}
    set_cells(project, [(i, a, 1) for i in images[::3]])
    run = insert_run(project, probs, {a: 0.4, b: 0.6})
    known = labelled(project)
    expected = expected_queue(probs, known, {a: 0.4, b: 0.6})
    queue = pred.label_next(project, run, limit=500, random_share=0)
    assert [(c.image_id, c.task_id) for c in queue] == expected[:500]
