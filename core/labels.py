"""The label store: tri-state cells (present 1 / absent 0 / unknown None).

Every change is one short transaction, committed before the call returns, and
is also appended to the history table with its old and new value.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import Table, and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from core.db.models import LABEL_SOURCES, Image, Label, LabelEvent, Task, utcnow
from core.errors import NotFoundError, UserError
from core.project import Project

PRESENT = 1
ABSENT = 0
UNKNOWN = None
CellValue = int | None
State = Literal["present", "absent", "unknown"]
STATE_VALUES: dict[str, CellValue] = {"present": PRESENT, "absent": ABSENT, "unknown": UNKNOWN}
_CHUNK = 500


@dataclass(frozen=True)
class CellChange:
    """One cell that changed: undo sets ``old`` back."""

    image_id: int
    task_id: int
    old: CellValue
    new: CellValue


@dataclass(frozen=True)
class TaskCounts:
    task_id: int
    name: str
    present: int
    absent: int
    unknown: int

    @property
    def known(self) -> int:
        return self.present + self.absent


def check_value(value: object) -> CellValue:
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and value in (0, 1)
    ):
        return value
    raise UserError(f"a label is 1 (present), 0 (absent) or None (unknown), not {value!r}")


def state_value(state: str) -> CellValue:
    try:
        return STATE_VALUES[state]
    except KeyError:
        raise UserError(f"unknown state {state!r}: use present, absent or unknown") from None


# -- writing -----------------------------------------------------------------------


def set_cells(
    project: Project,
    cells: Iterable[tuple[int, int, CellValue]],
    *,
    source: str = "human",
    annotator: str | None = None,
) -> list[CellChange]:
    """Set many cells in one transaction; return the cells that actually changed."""
    with project.transaction() as session:
        return set_cells_in_session(
            session, cells, annotator=annotator or project.annotator, source=source
        )


def set_cells_if(
    project: Project,
    cells: Iterable[tuple[int, int, CellValue, CellValue]],
    *,
    source: str = "human",
    annotator: str | None = None,
) -> tuple[list[CellChange], list[tuple[int, int]]]:
    """Set each ``(image, task, expected, new)`` cell to ``new`` only where it still holds
    ``expected`` (undo and redo: never overwrite a later change — an import, another
    annotator). One transaction. Returns the changes made and the cells left as they
    were because they held something else."""
    wanted = [(int(i), int(t), check_value(e), check_value(n)) for i, t, e, n in cells]
    with project.transaction() as session:
        current = _current_values(session, [(i, t) for i, t, _, _ in wanted])
        ok = [(i, t, n) for i, t, e, n in wanted if current.get((i, t)) == e]
        conflicts = [(i, t) for i, t, e, n in wanted if current.get((i, t)) not in (e, n)]
        changes = set_cells_in_session(
            session, ok, annotator=annotator or project.annotator, source=source
        )
    return changes, conflicts


def set_cells_in_session(
    session: Session,
    cells: Iterable[tuple[int, int, CellValue]],
    *,
    annotator: str,
    source: str,
    at: datetime | None = None,
    annotators: Mapping[tuple[int, int], tuple[str, datetime]] | None = None,
) -> list[CellChange]:
    """Apply cell values inside the caller's transaction (for imports that must be atomic).

    ``annotators`` optionally gives a per-cell (annotator, time), as a JSON
    import restores them.
    """
    if source not in LABEL_SOURCES:
        raise ValueError(f"label source must be one of {LABEL_SOURCES}, not {source!r}")
    wanted: dict[tuple[int, int], CellValue] = {}
    for image_id, task_id, value in cells:
        wanted[(int(image_id), int(task_id))] = check_value(value)
    if not wanted:
        return []
    _check_ids_exist(session, {i for i, _ in wanted}, {t for _, t in wanted})
    current = _current_values(session, wanted.keys())
    now = at or utcnow()
    batch = uuid.uuid4().hex if len(wanted) > 1 else None
    changes = [
        CellChange(i, t, current.get((i, t)), v)
        for (i, t), v in wanted.items()
        if current.get((i, t)) != v
    ]
    if not changes:
        return []

    def who(c: CellChange) -> tuple[str, datetime]:
        if annotators is not None and (c.image_id, c.task_id) in annotators:
            return annotators[(c.image_id, c.task_id)]
        return annotator, now

    inserts = [c for c in changes if c.old is None]
    updates = [c for c in changes if c.old is not None and c.new is not None]
    deletes = [c for c in changes if c.new is None]
    label = cast(Table, Label.__table__)
    if inserts:
        session.execute(
            insert(label),
            [
                {
                    "image_id": c.image_id,
                    "task_id": c.task_id,
                    "value": c.new,
                    "annotator": who(c)[0],
                    "source": source,
                    "updated_at": who(c)[1],
                }
                for c in inserts
            ],
        )
    if updates:
        session.execute(
            update(label)
            .where(and_(label.c.image_id == bindparam("i"), label.c.task_id == bindparam("t")))
            .values(
                value=bindparam("v"),
                annotator=bindparam("a"),
                source=source,
                updated_at=bindparam("at"),
            ),
            [
                {"i": c.image_id, "t": c.task_id, "v": c.new, "a": who(c)[0], "at": who(c)[1]}
                for c in updates
            ],
        )
    if deletes:
        session.execute(
            delete(label).where(
                and_(label.c.image_id == bindparam("i"), label.c.task_id == bindparam("t"))
            ),
            [{"i": c.image_id, "t": c.task_id} for c in deletes],
        )
    session.execute(
        insert(cast(Table, LabelEvent.__table__)),
        [
            {
                "image_id": c.image_id,
                "task_id": c.task_id,
                "old_value": c.old,
                "new_value": c.new,
                "annotator": who(c)[0],
                "source": source,
                "at": who(c)[1],
                "batch": batch,
            }
            for c in changes
        ],
    )
    return changes


def _check_ids_exist(session: Session, image_ids: set[int], task_ids: set[int]) -> None:
    found_tasks = set(session.scalars(select(Task.id).where(Task.id.in_(task_ids))))
    if missing := task_ids - found_tasks:
        raise NotFoundError(f"no task with id {sorted(missing)[0]} in this project")
    ids = sorted(image_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found = set(session.scalars(select(Image.id).where(Image.id.in_(chunk))))
        if missing := set(chunk) - found:
            raise NotFoundError(f"no image with id {sorted(missing)[0]} in this project")


def _current_values(
    session: Session, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    by_task: dict[int, list[int]] = defaultdict(list)
    for image_id, task_id in keys:
        by_task[task_id].append(image_id)
    current: dict[tuple[int, int], int] = {}
    for task_id, image_ids in by_task.items():
        for start in range(0, len(image_ids), _CHUNK):
            chunk = image_ids[start : start + _CHUNK]
            rows = session.execute(
                select(Label.image_id, Label.value).where(
                    Label.task_id == task_id, Label.image_id.in_(chunk)
                )
            )
            for image_id, value in rows:
                current[(image_id, task_id)] = value
    return current


def set_label(
    project: Project, image_id: int, task_id: int, value: CellValue, *, source: str = "human"
) -> CellChange | None:
    """Set one cell; committed before this returns. None if it already had that value."""
    changes = set_cells(project, [(image_id, task_id, value)], source=source)
    return changes[0] if changes else None


def set_task_for_images(
    project: Project, image_ids: Iterable[int], task_id: int, value: CellValue
) -> list[CellChange]:
    """Bulk edit: one task set on several images, in one transaction."""
    return set_cells(project, [(i, task_id, value) for i in image_ids])


def set_image_row(
    project: Project, image_id: int, values: Mapping[int, CellValue]
) -> list[CellChange]:
    """Set several tasks of one image (task id → value) in one transaction."""
    return set_cells(project, [(image_id, t, v) for t, v in values.items()])


def fill_unknown(project: Project, image_id: int, value: CellValue = ABSENT) -> list[CellChange]:
    """Set every unknown cell of an image's active tasks to ``value``."""
    row = image_row(project, image_id)
    return set_cells(project, [(image_id, t, value) for t, v in row.items() if v is None])


# -- reading -----------------------------------------------------------------------


def _active_task_ids(session: Session) -> list[int]:
    query = select(Task.id).where(Task.archived.is_(False)).order_by(Task.position, Task.id)
    return list(session.scalars(query))


def image_row(
    project: Project, image_id: int, include_archived: bool = False
) -> dict[int, CellValue]:
    """An image's cells, task id → value, in task order (unknown included)."""
    return image_rows(project, [image_id], include_archived)[image_id]


def image_rows(
    project: Project, image_ids: Sequence[int], include_archived: bool = False
) -> dict[int, dict[int, CellValue]]:
    """Cells of several images at once: image id → {task id → value}."""
    with project.reading() as session:
        query = select(Task.id).order_by(Task.position, Task.id)
        if not include_archived:
            query = query.where(Task.archived.is_(False))
        task_ids = list(session.scalars(query))
        rows: dict[int, dict[int, CellValue]] = {}
        ids = list(dict.fromkeys(image_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found = set(session.scalars(select(Image.id).where(Image.id.in_(chunk))))
            if missing := set(chunk) - found:
                raise NotFoundError(f"no image with id {sorted(missing)[0]} in this project")
            for image_id in chunk:
                rows[image_id] = dict.fromkeys(task_ids)
            for image_id, task_id, value in session.execute(
                select(Label.image_id, Label.task_id, Label.value).where(
                    Label.image_id.in_(chunk), Label.task_id.in_(task_ids)
                )
            ):
                rows[image_id][task_id] = value
        return rows


def counts_per_task(project: Project) -> list[TaskCounts]:
    """Present / absent / unknown per active task, over all images of the project."""
    with project.reading() as session:
        n_images = session.scalar(select(func.count()).select_from(Image)) or 0
        tasks = list(
            session.execute(
                select(Task.id, Task.name)
                .where(Task.archived.is_(False))
                .order_by(Task.position, Task.id)
            )
        )
        tally: dict[tuple[int, int], int] = {}
        for task_id, value, count in session.execute(
            select(Label.task_id, Label.value, func.count()).group_by(Label.task_id, Label.value)
        ):
            tally[(task_id, value)] = count
    result = []
    for task_id, name in tasks:
        present = tally.get((task_id, 1), 0)
        absent = tally.get((task_id, 0), 0)
        result.append(TaskCounts(task_id, name, present, absent, n_images - present - absent))
    return result


def list_images(
    project: Project,
    *,
    task_id: int | None = None,
    state: str | None = None,
    has_unknown: bool = False,
    fully_labelled: bool = False,
    status: str | None = None,
    order: Literal["name", "imported", "id"] = "id",
    limit: int | None = None,
    offset: int = 0,
) -> list[int]:
    """Image ids matching all the given filters, in the given order."""
    if (task_id is None) != (state is None):
        raise UserError("filtering by a task needs both the task and a state")
    if has_unknown and fully_labelled:
        raise UserError("an image cannot both have an unknown cell and be fully labelled")
    with project.reading() as session:
        query = select(Image.id)
        if task_id is not None and state is not None:
            value = state_value(state)
            if session.get(Task, task_id) is None:
                raise NotFoundError(f"no task with id {task_id} in this project")
            cell = select(Label.image_id).where(
                Label.image_id == Image.id, Label.task_id == task_id
            )
            if value is None:
                query = query.where(~exists(cell))
            else:
                query = query.where(exists(cell.where(Label.value == value)))
        if has_unknown or fully_labelled:
            active = _active_task_ids(session)
            known = (
                select(func.count())
                .select_from(Label)
                .where(Label.image_id == Image.id, Label.task_id.in_(active))
                .scalar_subquery()
            )
            query = query.where(known < len(active) if has_unknown else known == len(active))
        if status is not None:
            query = query.where(Image.status == status)
        ordering = {
            "name": (Image.rel_path, Image.id),
            "imported": (Image.imported_at, Image.id),
            "id": (Image.id,),
        }[order]
        query = query.order_by(*ordering).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))


@dataclass(frozen=True)
class LabelEventInfo:
    image_id: int
    task_id: int
    old: CellValue
    new: CellValue
    annotator: str
    source: str
    at: datetime
    batch: str | None


def history(
    project: Project,
    image_id: int | None = None,
    task_id: int | None = None,
    limit: int = 1000,
) -> list[LabelEventInfo]:
    """Label changes, newest first."""
    with project.reading() as session:
        query = select(LabelEvent).order_by(LabelEvent.id.desc()).limit(limit)
        if image_id is not None:
            query = query.where(LabelEvent.image_id == image_id)
        if task_id is not None:
            query = query.where(LabelEvent.task_id == task_id)
        return [
            LabelEventInfo(
                e.image_id,
                e.task_id,
                e.old_value,
                e.new_value,
                e.annotator,
                e.source,
                e.at,
                e.batch,
            )
            for e in session.scalars(query)
        ]
