"""Fixtures for label-file tests: projects with fake image rows (no files behind them)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db.models import Image, Label, LabelEvent, Task
from core.labels import set_cells
from core.project import Project
from core.tasks import PALETTE, add_tasks, archive_task
from tests.helpers import label_rows

# (absolute path, root) of the standard images.
STANDARD_IMAGES: tuple[tuple[str, str], ...] = (
    ("/data/street/a.jpg", "/data/street"),
    ("/data/street/sub/b.jpg", "/data/street"),
    ("/data/street/café 1.jpg", "/data/street"),
    ("/data/other/c.png", "/data/other"),
    ("/data/x/dup.jpg", "/data/x"),
    ("/data/y/dup.jpg", "/data/y"),
)
STANDARD_TASKS = ("car", "bus", "person")
Write = Callable[[str, str | bytes], Path]
A = "/data/street/a.jpg"
B = "/data/street/sub/b.jpg"
CAFE = "/data/street/café 1.jpg"
C = "/data/other/c.png"
DUP_X = "/data/x/dup.jpg"
DUP_Y = "/data/y/dup.jpg"


def palette_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def add_images(project: Project, specs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Insert image rows for (absolute path, root) pairs; return path → id."""
    with project.transaction() as session:
        rows = []
        for path, root in specs:
            rel = str(PurePosixPath(path).relative_to(root))
            rows.append(
                Image(
                    path=path,
                    root=root,
                    rel_path=rel,
                    name=PurePosixPath(path).name,
                    content_hash=hashlib.sha256(path.encode()).hexdigest(),
                    file_size=1000,
                    file_mtime_ns=0,
                    width=64,
                    height=48,
                )
            )
        session.add_all(rows)
        session.flush()
        return {r.path: r.id for r in rows}


def cells(project: Project) -> dict[tuple[str, str], int]:
    """Every known cell as (image path, task name) → value."""
    with project.transaction() as session:
        rows = session.execute(
            select(Image.path, Task.name, Label.value)
            .join(Image, Image.id == Label.image_id)
            .join(Task, Task.id == Label.task_id)
        )
        return {(path, name): value for path, name, value in rows}


def db_state(project: Project) -> tuple[Any, ...]:
    """Everything an import may change: label rows, history size, tasks."""
    labels = label_rows(project)
    with project.transaction() as session:
        events = session.scalar(select(func.count()).select_from(LabelEvent))
        tasks = sorted(
            tuple(r)
            for r in session.execute(
                select(Task.id, Task.name, Task.position, Task.colour, Task.archived)
            )
        )
        return labels, events, tasks


def task_id(project: Project, name: str) -> int:
    with project.transaction() as session:
        found = session.scalar(select(Task.id).where(Task.name == name))
        assert found is not None
        return found


def set_by_name(project: Project, values: dict[tuple[str, str], int | None], **kw: Any) -> None:
    """Set cells by (image path, task name)."""
    with project.transaction() as session:
        images = {p: i for p, i in session.execute(select(Image.path, Image.id))}
        tasks = {n: i for n, i in session.execute(select(Task.name, Task.id))}
    set_cells(project, [(images[p], tasks[t], v) for (p, t), v in values.items()], **kw)


@pytest.fixture
def new_project(
    tmp_path: Path, new_database_url: Callable[[], str | None]
) -> Iterator[Callable[..., Project]]:
    """Factory: a project with the standard images (or others) and the given tasks."""
    opened: list[Project] = []

    def make(
        tasks: Sequence[str] = STANDARD_TASKS,
        images: Sequence[tuple[str, str]] = STANDARD_IMAGES,
        annotator: str = "tester",
    ) -> Project:
        project = Project.create(
            tmp_path / f"proj{len(opened)}", annotator=annotator, database_url=new_database_url()
        )
        opened.append(project)
        if tasks:
            add_tasks(project, tasks)
        add_images(project, images)
        return project

    yield make
    for project in opened:
        project.close()


@pytest.fixture
def proj(new_project: Callable[..., Project]) -> Project:
    """Standard images; tasks car, bus, person; no labels."""
    return new_project()


@pytest.fixture
def labelled(proj: Project) -> Project:
    """``proj`` with a few labels, and an archived task 'old' with one label."""
    add_tasks(proj, ["old"])
    set_by_name(
        proj,
        {
            ("/data/street/a.jpg", "car"): 1,
            ("/data/street/a.jpg", "bus"): 0,
            ("/data/street/sub/b.jpg", "person"): 1,
            ("/data/street/café 1.jpg", "car"): 0,
            ("/data/x/dup.jpg", "bus"): 1,
            ("/data/y/dup.jpg", "bus"): 0,
            ("/data/other/c.png", "old"): 1,
        },
    )
    archive_task(proj, "old")
    return proj


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a label file (text as UTF-8, or raw bytes) under tmp_path; return its path."""

    def do(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes(content)
        return path

    return do
