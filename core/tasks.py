"""Tasks: the binary questions. Renaming or archiving a task never touches its labels."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Task
from core.errors import NotFoundError, UserError
from core.project import Project

MAX_NAME_LENGTH = 200
# Distinct, readable on light and dark backgrounds (Tableau 10).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class TaskInfo:
    id: int
    name: str
    position: int
    colour: str | None
    archived: bool


def _info(task: Task) -> TaskInfo:
    return TaskInfo(task.id, task.name, task.position, task.colour, task.archived)


def validate_task_name(name: str) -> str:
    """Return the cleaned name, or raise a UserError that says what is wrong."""
    if not isinstance(name, str):
        raise UserError(f"task name must be text, not {type(name).__name__}")
    cleaned = name.strip()
    if not cleaned:
        raise UserError("task name is empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise UserError(f"task name is longer than {MAX_NAME_LENGTH} characters: {cleaned[:40]}…")
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise UserError(f"task name {cleaned!r} contains control characters")
    return cleaned


def validate_colour(colour: str | None) -> str | None:
    if colour is None or colour == "":
        return None
    if not _COLOUR.match(colour):
        raise UserError(f"colour {colour!r} is not of the form #rrggbb")
    return colour.lower()


def _clashing(session: Session, name: str, except_id: int | None = None) -> Task | None:
    query = select(Task).where(func.lower(Task.name) == name.lower())
    if except_id is not None:
        query = query.where(Task.id != except_id)
    return session.scalars(query).first()


def _clean_new_names(names: Iterable[str]) -> list[str]:
    cleaned = [validate_task_name(n) for n in names]
    seen: set[str] = set()
    for name in cleaned:
        if name.lower() in seen:
            raise UserError(f"task {name!r} is given twice")
        seen.add(name.lower())
    return cleaned


def add_tasks(project: Project, names: Iterable[str]) -> list[TaskInfo]:
    """Add tasks at the end of the order, in one transaction; all or none."""
    cleaned = _clean_new_names(names)
    with project.transaction() as session:
        return add_tasks_in_session(session, cleaned)


def add_tasks_in_session(session: Session, names: Iterable[str]) -> list[TaskInfo]:
    """Add tasks at the end of the order inside the caller's transaction (e.g. a label import).

    Raises UserError, before adding anything, for an invalid, repeated or existing name.
    """
    cleaned = _clean_new_names(names)
    for name in cleaned:
        clash = _clashing(session, name)
        if clash is not None:
            raise UserError(f"a task named {clash.name!r} already exists")
    position = session.scalar(select(func.coalesce(func.max(Task.position), -1))) or 0
    count = session.scalar(select(func.count()).select_from(Task)) or 0
    created = []
    for offset, name in enumerate(cleaned):
        task = Task(
            name=name,
            position=position + 1 + offset,
            colour=PALETTE[(count + offset) % len(PALETTE)],
            archived=False,
        )
        session.add(task)
        created.append(task)
    session.flush()
    return [_info(t) for t in created]


def add_task(project: Project, name: str, colour: str | None = None) -> TaskInfo:
    (info,) = add_tasks(project, [name])
    if colour is not None:
        return set_task_colour(project, info.name, colour)
    return info


def list_tasks(project: Project, include_archived: bool = False) -> list[TaskInfo]:
    """Tasks in display order; archived ones only when asked."""
    with project.reading() as session:
        return tasks_in_session(session, include_archived)


def tasks_in_session(session: Session, include_archived: bool = False) -> list[TaskInfo]:
    query = select(Task).order_by(Task.position, Task.id)
    if not include_archived:
        query = query.where(Task.archived.is_(False))
    return [_info(t) for t in session.scalars(query)]


def _find(session: Session, ref: str | int) -> Task:
    if isinstance(ref, int):
        task = session.get(Task, ref)
    else:
        task = session.scalars(select(Task).where(Task.name == ref)).first()
        if task is None:
            task = _clashing(session, ref.strip())
    if task is None:
        raise NotFoundError(f"no task {ref!r} in this project")
    return task


def get_task(project: Project, ref: str | int) -> TaskInfo:
    with project.reading() as session:
        return _info(_find(session, ref))


def rename_task(project: Project, ref: str | int, new_name: str) -> TaskInfo:
    cleaned = validate_task_name(new_name)
    with project.transaction() as session:
        task = _find(session, ref)
        clash = _clashing(session, cleaned, except_id=task.id)
        if clash is not None:
            raise UserError(f"a task named {clash.name!r} already exists")
        task.name = cleaned
        return _info(task)


def archive_task(project: Project, ref: str | int, archived: bool = True) -> TaskInfo:
    """Hide a task from labelling, counts and training; its labels are kept."""
    with project.transaction() as session:
        task = _find(session, ref)
        task.archived = archived
        return _info(task)


def set_task_colour(project: Project, ref: str | int, colour: str | None) -> TaskInfo:
    value = validate_colour(colour)
    with project.transaction() as session:
        task = _find(session, ref)
        task.colour = value
        return _info(task)


def move_task(project: Project, ref: str | int, new_index: int) -> list[TaskInfo]:
    """Move a task to ``new_index`` in the order of all tasks; return the new order."""
    with project.transaction() as session:
        task = _find(session, ref)
        ordered = list(session.scalars(select(Task).order_by(Task.position, Task.id)))
        ordered.remove(task)
        index = max(0, min(new_index, len(ordered)))
        ordered.insert(index, task)
        for position, t in enumerate(ordered):
            t.position = position
        session.flush()
        return [_info(t) for t in ordered if not t.archived]
