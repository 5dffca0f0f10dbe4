"""Training end to end on a small demo project: records, predictions, failures, cancel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from core import runs
from core.errors import UserError
from core.labels import counts_per_task, set_cells
from core.project import Project
from core.tasks import add_task, list_tasks
from core.training.loop import train
from core.training.predict import predict_run
from core.training.snapshot import is_validation, take_snapshot
from tests.core.training.conftest import tiny_config

Events = list[dict[str, Any]]


def run(project: Project, **overrides: object) -> tuple[runs.RunInfo, Events]:
    events: Events = []
    run_id = train(project, tiny_config(**overrides), events.append)
    return runs.get_run(project, run_id), events


def test_a_run_records_metrics_checkpoint_and_a_prediction_for_every_cell(
    demo_project: Project,
) -> None:
    info, events = run(demo_project)
    assert info.status == "done", info.error
    assert info.epochs_done == 2 and info.best_epoch in (1, 2)
    assert (demo_project.root / str(info.checkpoint)).is_file()
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert kinds.count("epoch") == 2 and "progress" in kinds
    metrics = runs.run_task_metrics(demo_project, info.id)
    assert [m.name for m in metrics] == [t.name for t in list_tasks(demo_project)]
    for m in metrics:
        assert (m.ap is not None) or m.na_reason, "a missing AP comes with its reason"
    _image_ids, _task_ids, probs = runs.read_predictions(demo_project, info.id)
    assert info.predictions_complete
    n_images = len(take_snapshot(demo_project, 0.3).items)
    assert probs.shape == (n_images, 4) and not np.isnan(probs).any()
    assert ((probs >= 0) & (probs <= 1)).all()
    assert info.snapshot is not None and info.snapshot["images"] == n_images


def test_the_split_is_stable_and_close_to_the_fraction() -> None:
    hashes = [f"{i:064x}" for i in range(4000)]
    first = [is_validation(h, 0.2) for h in hashes]
    assert first == [is_validation(h, 0.2) for h in hashes]
    assert 0.17 < sum(first) / len(first) < 0.23


def test_labels_changed_during_a_run_belong_to_the_next_run(demo_project: Project) -> None:
    before = sum(c.known for c in counts_per_task(demo_project))

    def edit_on_first_epoch(event: dict[str, Any]) -> None:
        if event["event"] == "epoch" and event["epoch"] == 1:
            snap = take_snapshot(demo_project, 0.3)
            unknown = np.argwhere(snap.targets == -1)[:5]
            set_cells(
                demo_project, [(snap.items[r].image_id, snap.task_ids[c], 1) for r, c in unknown]
            )

    run_id = train(demo_project, tiny_config(), edit_on_first_epoch)
    info = runs.get_run(demo_project, run_id)
    assert info.snapshot is not None
    counted = sum(
        row["train_present"] + row["train_absent"] + row["val_present"] + row["val_absent"]
        for row in info.snapshot["counts"].values()
    )
    assert counted == before


def test_no_trainable_labels_fails_with_a_reason(tmp_path: Any) -> None:
    from core.demo import create_demo

    create_demo(tmp_path / "empty", images=10, unknown_fraction=1.0, seed=1)
    with Project.open(tmp_path / "empty") as project:
        info, events = run(project)
    assert info.status == "failed"
    assert info.error is not None and "no trainable labels" in info.error
    assert events[-1]["event"] == "failed"


def test_nan_loss_fails_the_run_with_a_reason(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.training import model as model_module

    original = model_module.MultiTaskNet.forward

    def broken(self: Any, x: torch.Tensor) -> torch.Tensor:
        return original(self, x) * float("nan")

    monkeypatch.setattr(model_module.MultiTaskNet, "forward", broken)
    info, _ = run(demo_project)
    assert info.status == "failed"
    assert info.error is not None and "nan" in info.error.lower() and "--lr" in info.error
    assert not info.predictions_complete


def test_cancel_stops_the_run_and_marks_it_cancelled(demo_project: Project) -> None:
    calls = {"n": 0}

    def cancel_after_a_few_steps() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    events: Events = []
    run_id = train(demo_project, tiny_config(epochs=5), events.append, cancel_after_a_few_steps)
    info = runs.get_run(demo_project, run_id)
    assert info.status == "cancelled"
    assert events[-1]["event"] == "cancelled"
    assert not info.predictions_complete


def test_a_cancelled_runs_best_epoch_can_predict_but_a_killed_runs_cannot(
    demo_project: Project,
) -> None:
    """Cancel is the user's choice: the best epoch that ended is kept and usable (predict,
    export, --init-from). A run that died keeps its file but is never used."""
    calls = {"n": 0}

    def cancel_in_the_second_epoch() -> bool:
        calls["n"] += 1
        return bool(runs.run_epochs(demo_project, run_id_of(demo_project))) and calls["n"] > 1

    run_id = train(demo_project, tiny_config(epochs=3), lambda _e: None, cancel_in_the_second_epoch)
    info = runs.get_run(demo_project, run_id)
    assert info.status == "cancelled" and info.checkpoint is not None
    predict_run(demo_project, run_id, lambda _e: None, lambda: False)
    assert runs.get_run(demo_project, run_id).predictions_complete

    runs.finish_run(demo_project, run_id, "failed", "the trainer died")
    with pytest.raises(UserError, match=f"run {run_id} did not finish"):
        predict_run(demo_project, run_id, lambda _e: None, lambda: False)


def run_id_of(project: Project) -> int:
    return max(r.id for r in runs.list_runs(project))


def test_separate_networks_and_partial_loss_train(demo_project: Project) -> None:
    info, _ = run(demo_project, arch="separate", loss="partial", epochs=1)
    assert info.status == "done", info.error
    assert info.config["arch"] == "separate"


def test_init_from_reuses_backbone_and_heads_of_tasks_that_still_exist(
    demo_project: Project,
) -> None:
    first, _ = run(demo_project, epochs=1)
    add_task(demo_project, "bus")
    second, events = run(demo_project, epochs=1, init_from=first.id)
    assert second.status == "done", second.error
    info = [e["message"] for e in events if e["event"] == "info"]
    assert any("4 of 5 task heads reused" in m for m in info)


def test_dead_trainer_is_recognised_on_next_open(demo_project: Project) -> None:
    run_id = runs.create_run(demo_project, tiny_config().to_dict())
    runs.update_run(demo_project, run_id, pid=2**22 + 12345)  # no such process
    reopened = Project.open(demo_project.root)
    try:
        info = runs.get_run(reopened, run_id)
        assert info.status == "failed"
        assert info.error is not None and "stopped without finishing" in info.error
    finally:
        reopened.close()


def test_predict_again_after_new_images_covers_them(demo_project: Project, tmp_path: Any) -> None:
    import random

    from core.demo import draw_scene
    from core.images.importer import import_images
    from core.training.predict import predict_run

    info, _ = run(demo_project, epochs=1)
    folder = tmp_path / "new"
    folder.mkdir()
    rng = random.Random(7)
    for i in range(3):
        image, _truth = draw_scene(rng)
        image.save(folder / f"new_{i}.jpg")
    added = import_images(demo_project, [folder]).added
    assert len(added) == 3
    n = predict_run(demo_project, info.id, lambda e: None, lambda: False, "cpu")
    image_ids, _, probs = runs.read_predictions(demo_project, info.id)
    assert n == len(image_ids) == len(take_snapshot(demo_project, 0.3).items)
    assert runs.get_run(demo_project, info.id).predictions_complete
    assert not np.isnan(probs).any()


def test_a_single_labelled_training_image_trains(tmp_path: Any) -> None:
    """The hidden layer's batch norm needs two images; a project with one labelled
    training image still trains (the lone image is repeated in its batch)."""
    from core.demo import create_demo

    create_demo(tmp_path / "one", images=12, unknown_fraction=1.0, seed=2)
    with Project.open(tmp_path / "one") as project:
        snap = take_snapshot(project, 0.3)
        row = int(np.flatnonzero(~snap.is_val)[0])
        set_cells(project, [(snap.items[row].image_id, snap.task_ids[0], 1)])
        info, _events = run(project)
    assert info.status == "done", info.error


@pytest.mark.parametrize("patience, epochs_run", [(2, 3), (0, 5)])
def test_early_stopping_ends_the_run_and_keeps_the_best_epoch(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch, patience: int, epochs_run: int
) -> None:
    """Validation that peaks at epoch 1: with --patience 2 the run stops after epoch 3,
    says why and keeps epoch 1; with 0 it trains every epoch."""
    import core.training.records as records

    headlines = iter([0.9, 0.5, 0.6, 0.7, 0.8])
    monkeypatch.setattr(records, "headline_ap", lambda _metrics: next(headlines))
    info, events = run(demo_project, epochs=5, patience=patience)
    assert info.status == "done", info.error
    assert info.epochs_done == epochs_run and info.best_epoch == 1
    stopped = [e["message"] for e in events if "stopped early" in e.get("message", "")]
    assert len(stopped) == (1 if patience else 0)
    if patience:
        assert "after epoch 3 of 5" in stopped[0] and "keeping epoch 1" in stopped[0]


def test_a_task_with_a_tiny_validation_is_warned_about(demo_project: Project) -> None:
    snap = take_snapshot(demo_project, 0.3)
    info, events = run(demo_project)
    assert info.status == "done", info.error
    small = [
        name for name, c in snap.counts.items() if 0 < min(c["val_present"], c["val_absent"]) < 10
    ]
    warnings = [e["message"] for e in events if "validation too small" in e.get("message", "")]
    assert small, "the demo fixture's validation is meant to be small"
    assert len(warnings) == 1 and all(name in warnings[0] for name in small)


def test_starting_from_a_run_of_the_other_compact_design_says_which_to_use(
    demo_project: Project,
) -> None:
    old, _ = run(demo_project, design="residual")
    refused, _ = run(demo_project, init_from=old.id)
    assert refused.status == "failed"
    assert refused.error is not None and "--design residual" in refused.error
    resumed, _ = run(demo_project, init_from=old.id, design="residual")
    assert resumed.status == "done", resumed.error
