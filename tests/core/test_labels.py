"""The label store: tri-state cells, bulk edits, history, counts and filters."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from core.db.models import Label, LabelEvent
from core.errors import NotFoundError, UserError
from core.labels import (
    counts_per_task,
    fill_unknown,
    history,
    image_row,
    list_images,
    set_cells,
    set_cells_if,
    set_image_row,
    set_label,
    set_task_for_images,
)
from core.project import Project
from core.tasks import archive_task, get_task
from tests.helpers import add_fake_images


@pytest.fixture
def ab(project: Project) -> tuple[int, int]:
    return get_task(project, "a").id, get_task(project, "b").id


def test_cell_goes_present_absent_unknown_and_history_keeps_every_step(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    a, _ = ab
    img = images[0]
    assert image_row(project, img)[a] is None
    set_label(project, img, a, 1)
    assert image_row(project, img)[a] == 1
    set_label(project, img, a, 0)
    assert image_row(project, img)[a] == 0
    change = set_label(project, img, a, None)
    assert change is not None and (change.old, change.new) == (0, None)
    assert image_row(project, img)[a] is None
    events = history(project, image_id=img)
    assert [(e.old, e.new) for e in reversed(events)] == [(None, 1), (1, 0), (0, None)]
    assert {e.annotator for e in events} == {"tester"}


def test_setting_the_same_value_changes_nothing(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    a, _ = ab
    set_label(project, images[0], a, 1)
    assert set_label(project, images[0], a, 1) is None
    assert len(history(project)) == 1


def test_a_label_is_committed_when_the_call_returns(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    """Another connection (another process, in life) sees it at once."""
    a, _ = ab
    set_label(project, images[2], a, 1)
    other = Project.open(project.root)
    try:
        assert image_row(other, images[2])[a] == 1
    finally:
        other.close()


def test_conditional_writes_leave_cells_changed_since(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    """Undo's write: only where the cell still holds what the undone edit left there."""
    a, b = ab
    set_cells(project, [(images[0], a, 1), (images[1], a, 1)])
    set_label(project, images[1], a, 0, source="import")  # changed since, by an import
    changes, kept = set_cells_if(
        project,
        [(images[0], a, 1, None), (images[1], a, 1, None), (images[2], b, None, None)],
    )
    assert [(c.image_id, c.old, c.new) for c in changes] == [(images[0], 1, None)]
    assert kept == [(images[1], a)]
    assert image_row(project, images[1])[a] == 0  # the import's label stays


@pytest.mark.parametrize("bad", [2, -1, True, "1", 0.5])
def test_bad_values_are_refused(
    project: Project, images: list[int], ab: tuple[int, int], bad: object
) -> None:
    with pytest.raises(UserError):
        set_label(project, images[0], ab[0], bad)  # type: ignore[arg-type]
    assert image_row(project, images[0])[ab[0]] is None


def test_bulk_edit_is_all_or_nothing(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    a, _ = ab
    with pytest.raises(NotFoundError):
        set_task_for_images(project, [images[0], images[1], 999_999], a, 1)
    assert all(image_row(project, i)[a] is None for i in images)
    changes = set_task_for_images(project, images[:3], a, 1)
    assert len(changes) == 3
    assert [image_row(project, i)[a] for i in images] == [1, 1, 1, None, None]
    batches = {e.batch for e in history(project)}
    assert len(batches) == 1 and None not in batches, "a bulk edit is one recorded batch"


def test_one_image_all_tasks_and_fill_unknown(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    a, b = ab
    set_image_row(project, images[0], {a: 1, b: 0})
    assert image_row(project, images[0]) == {a: 1, b: 0}
    set_label(project, images[1], a, 1)
    changes = fill_unknown(project, images[1])
    assert [(c.task_id, c.new) for c in changes] == [(b, 0)]
    assert image_row(project, images[1]) == {a: 1, b: 0}


def test_undo_by_setting_old_values_restores_exactly(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    a, b = ab
    set_label(project, images[0], a, 0)
    before = {i: image_row(project, i) for i in images}
    changes = set_cells(project, [(i, t, 1) for i in images for t in (a, b)])
    set_cells(project, [(c.image_id, c.task_id, c.old) for c in changes])
    assert {i: image_row(project, i) for i in images} == before


def test_counts_per_task(project: Project, images: list[int], ab: tuple[int, int]) -> None:
    a, b = ab
    set_task_for_images(project, images[:2], a, 1)
    set_label(project, images[2], a, 0)
    set_label(project, images[0], b, 0)
    counts = {c.name: (c.present, c.absent, c.unknown) for c in counts_per_task(project)}
    assert counts == {"a": (2, 1, 2), "b": (0, 1, 4)}
    archive_task(project, "b")
    assert [c.name for c in counts_per_task(project)] == ["a"]


def test_filters(project: Project, images: list[int], ab: tuple[int, int]) -> None:
    a, b = ab
    set_image_row(project, images[0], {a: 1, b: 1})
    set_image_row(project, images[1], {a: 0, b: 1})
    set_label(project, images[2], a, 1)
    assert list_images(project, task_id=a, state="present") == [images[0], images[2]]
    assert list_images(project, task_id=a, state="absent") == [images[1]]
    assert list_images(project, task_id=a, state="unknown") == images[3:]
    assert list_images(project, fully_labelled=True) == images[:2]
    assert list_images(project, has_unknown=True) == images[2:]
    assert list_images(project, limit=2, offset=1) == images[1:3]
    archive_task(project, "b")
    assert list_images(project, fully_labelled=True) == images[:3]
    with pytest.raises(UserError):
        list_images(project, task_id=a, state="maybe")


def test_labels_survive_a_failing_transaction(
    project: Project, images: list[int], ab: tuple[int, int]
) -> None:
    a, _ = ab
    set_label(project, images[0], a, 1)
    with pytest.raises(RuntimeError), project.transaction() as session:
        session.execute(delete(Label))
        raise RuntimeError("crash in the middle")
    assert image_row(project, images[0])[a] == 1


def test_large_bulk_edit_in_one_transaction(project: Project, ab: tuple[int, int]) -> None:
    ids = add_fake_images(project, 1200, root="/big")
    changes = set_task_for_images(project, ids, ab[0], 0)
    assert len(changes) == 1200
    with project.transaction() as s:
        assert s.scalar(select(func.count()).select_from(LabelEvent)) == 1200
    assert counts_per_task(project)[0].absent == 1200


def test_reads_do_not_wait_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    """The window reads counts and rows while the trainer writes predictions."""
    with Project.create(tmp_path / "p", tasks=["a"]) as writer:
        ids = add_fake_images(writer, 3)
        task = get_task(writer, "a").id
        set_label(writer, ids[0], task, 1)
        reader = Project.open(tmp_path / "p")
        try:
            with writer.transaction() as session:  # holds the write lock until the block ends
                session.execute(delete(Label))
                started = time.monotonic()
                counts = counts_per_task(reader)
                row = image_row(reader, ids[0])
                waited = time.monotonic() - started
            assert waited < 2, "a read waited for the writer's lock"
            assert counts[0].present == 1 and row[task] == 1, "reads see the last committed state"
        finally:
            reader.close()
