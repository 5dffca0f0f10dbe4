"""Project statistics and the balance warnings a user sees."""

from __future__ import annotations

from core.labels import TaskCounts, set_task_for_images
from core.project import Project
from core.stats import balance_warnings, project_stats
from core.tasks import add_task, get_task
from tests.helpers import add_fake_images


def test_stats_counts_images_and_cells(project: Project) -> None:
    ids = add_fake_images(project, 10)
    set_task_for_images(project, ids[:4], get_task(project, "a").id, 1)
    stats = project_stats(project)
    assert stats.images == 10 and stats.image_status["ok"] == 10
    assert (stats.tasks[0].present, stats.tasks[0].unknown) == (4, 6)


def test_starved_and_one_sided_tasks_are_warned_about(project: Project) -> None:
    ids = add_fake_images(project, 100)
    add_task(project, "c")
    a, b, c = (get_task(project, n).id for n in "abc")
    set_task_for_images(project, ids[:40], a, 1)
    set_task_for_images(project, ids[40:80], a, 0)
    set_task_for_images(project, ids[:30], b, 1)
    set_task_for_images(project, ids[30:70], b, 0)
    set_task_for_images(project, ids[:3], c, 1)
    warnings = project_stats(project).warnings
    assert any("'c' has 3 known cells" in w for w in warnings)
    assert any("'c' has no image labelled absent" in w for w in warnings)
    assert not any("'a'" in w or "'b'" in w for w in warnings)


def test_balanced_tasks_get_no_warning() -> None:
    counts = [TaskCounts(i, f"t{i}", 50, 50, 0) for i in range(4)]
    assert balance_warnings(counts) == []
