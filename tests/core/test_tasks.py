"""Tasks: add, rename, archive, reorder — labels survive all of it."""

from __future__ import annotations

import pytest

from core.errors import NotFoundError, UserError
from core.labels import image_row, set_label
from core.project import Project
from core.tasks import (
    add_task,
    add_tasks,
    archive_task,
    get_task,
    list_tasks,
    move_task,
    rename_task,
    set_task_colour,
)


def names(project: Project, include_archived: bool = False) -> list[str]:
    return [t.name for t in list_tasks(project, include_archived)]


def test_added_tasks_come_last_with_distinct_colours(project: Project) -> None:
    add_tasks(project, ["car", "stop sign"])
    assert names(project) == ["a", "b", "car", "stop sign"]
    colours = [t.colour for t in list_tasks(project)]
    assert len(set(colours)) == 4 and all(c and c.startswith("#") for c in colours)


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201, "tab\tname", "new\nline"])
def test_bad_names_are_refused(project: Project, bad: str) -> None:
    with pytest.raises(UserError):
        add_task(project, bad)
    assert names(project) == ["a", "b"]


def test_duplicate_names_refused_case_insensitively_and_nothing_added(project: Project) -> None:
    with pytest.raises(UserError, match="already exists"):
        add_tasks(project, ["c", "A"])
    with pytest.raises(UserError, match="twice"):
        add_tasks(project, ["c", "C"])
    assert names(project) == ["a", "b"]


def test_rename_keeps_labels_and_refuses_clash(project: Project, images: list[int]) -> None:
    a = get_task(project, "a")
    set_label(project, images[0], a.id, 1)
    rename_task(project, "a", "pedestrian")
    assert names(project) == ["pedestrian", "b"]
    assert image_row(project, images[0])[a.id] == 1
    with pytest.raises(UserError, match="already exists"):
        rename_task(project, "pedestrian", "B")
    with pytest.raises(NotFoundError):
        rename_task(project, "nope", "x")


def test_archive_hides_task_but_keeps_labels(project: Project, images: list[int]) -> None:
    b = get_task(project, "b")
    set_label(project, images[1], b.id, 0)
    archive_task(project, "b")
    assert names(project) == ["a"]
    assert names(project, include_archived=True) == ["a", "b"]
    assert b.id not in image_row(project, images[1])
    assert image_row(project, images[1], include_archived=True)[b.id] == 0
    archive_task(project, "b", archived=False)
    assert image_row(project, images[1])[b.id] == 0


def test_move_and_colour(project: Project) -> None:
    add_tasks(project, ["c", "d"])
    move_task(project, "d", 0)
    assert names(project) == ["d", "a", "b", "c"]
    move_task(project, "d", 99)
    assert names(project) == ["a", "b", "c", "d"]
    assert set_task_colour(project, "c", "#A0B0C0").colour == "#a0b0c0"
    with pytest.raises(UserError, match="#rrggbb"):
        set_task_colour(project, "c", "red")
