"""Label checks: out-of-fold probabilities of known cells, used by "likely label errors"."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from core import predictions, runs
from core.db.models import LabelCheck
from core.labels import image_row, set_cells
from core.project import Project
from core.training.loop import train
from core.training.snapshot import take_snapshot
from tests.core.training.conftest import tiny_config
from tests.core.training.test_transfer import INSTANT


def checks(project: Project, run_id: int) -> dict[tuple[int, int], float]:
    with project.reading() as session:
        rows = session.execute(
            select(LabelCheck.image_id, LabelCheck.task_id, LabelCheck.probability).where(
                LabelCheck.run_id == run_id
            )
        )
        return {(int(i), int(t)): float(p) for i, t, p in rows}


def test_an_instant_run_checks_every_known_cell_out_of_fold(demo_project: Project) -> None:
    events: list[dict[str, Any]] = []
    run_id = train(demo_project, tiny_config(**INSTANT), events.append)
    assert runs.get_run(demo_project, run_id).status == "done"
    found = checks(demo_project, run_id)
    snap = take_snapshot(demo_project, 0.3)
    known = {
        (item.image_id, snap.task_ids[j])
        for r, item in enumerate(snap.items)
        for j in np.flatnonzero(snap.known[r])
    }
    assert set(found) == known, "one check per known cell, no other"
    image_ids, task_ids, probs = runs.read_predictions(demo_project, run_id)
    stored = {
        (i, t): float(probs[a, b]) for a, i in enumerate(image_ids) for b, t in enumerate(task_ids)
    }
    val = {snap.items[r].image_id for r in np.flatnonzero(snap.validation)}
    for cell, p in found.items():
        if cell[0] in val:  # out of sample already: the kept model's own
            assert p == pytest.approx(stored[cell], abs=1e-5)
    trained = [c for c in found if c[0] not in val]
    differ = sum(abs(found[c] - stored[c]) > 1e-4 for c in trained)
    assert differ > 0.9 * len(trained), "training cells are judged by heads that held them out"
    messages = [e["message"] for e in events if e["event"] == "info"]
    assert any(m.startswith("label checks: 5-fold cross-fitting") for m in messages)


def test_likely_label_errors_rank_by_the_checks_and_fall_back_for_new_labels(
    demo_project: Project,
) -> None:
    run_id = train(demo_project, tiny_config(**INSTANT, epochs=1), lambda e: None)
    found = checks(demo_project, run_id)
    (image_id, task_id), _ = next(iter(found.items()))
    # a check that contradicts the cell's label as strongly as possible tops the list
    value = image_row(demo_project, image_id)[task_id]
    strongest = 0.0001 if value == 1 else 0.9999
    runs.write_label_checks(
        demo_project,
        run_id,
        np.array([i for i, _ in found]),
        np.array([t for _, t in found]),
        np.array([strongest if c == (image_id, task_id) else 0.5 for c in found]),
    )
    top = predictions.disagreements(demo_project, run_id, limit=1)
    assert [(d.image_id, d.task_id) for d in top] == [(image_id, task_id)]
    assert top[0].confidence == pytest.approx(1 - 0.0001)
    # every other check sits at 0.5: a cell labelled only after the run is judged by the
    # run's prediction instead (it has no check)
    snap = take_snapshot(demo_project, 0.3)
    unknown = [(snap.items[r].image_id, snap.task_ids[j]) for r, j in np.argwhere(~snap.known)]
    image_ids, task_ids, probs = runs.read_predictions(demo_project, run_id)
    p_of = {(i, t): probs[a, b] for a, i in enumerate(image_ids) for b, t in enumerate(task_ids)}
    cell = max(unknown, key=lambda c: p_of[c])  # the model's most confident present
    assert p_of[cell] >= 0.5
    set_cells(demo_project, [(cell[0], cell[1], 0)])  # labelled absent: contradicted
    listed = {(d.image_id, d.task_id) for d in predictions.disagreements(demo_project, run_id)}
    assert cell in listed and (image_id, task_id) in listed
