"""What every import shares: options, the summary, task resolution, validation and applying.

An import runs in two steps. First the file is read and checked against a
snapshot of the project's images and tasks (:class:`ImportBuilder` collects
cells and problems; nothing is written). Then, only if there was no problem,
every cell is applied in one transaction, with label source ``import``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Label, Task, utcnow
from core.errors import LabelFileError, UserError
from core.formats.matching import ImageIndex, Match
from core.labels import CellValue, set_cells_in_session
from core.project import Project
from core.tasks import TaskInfo, add_tasks_in_session, tasks_in_session, validate_task_name

UNCERTAIN_POLICIES = ("unknown", "present", "absent")
_CHUNK = 500
_MAX_CANDIDATES = 5


@dataclass
class LabelImportSummary:
    """What an import did; ``dataclasses.asdict`` gives a JSON-ready dict."""

    path: str
    format: str
    rows_read: int = 0
    """Data rows read (label entries for JSON), the header excluded."""
    rows_skipped: int = 0
    """Rows (or JSON label entries) skipped because their image is not in the project."""
    images_matched: int = 0
    """Distinct project images the file gave at least one row for."""
    cells_set: int = 0
    """Cells whose value changed (including ``cells_cleared``)."""
    cells_cleared: int = 0
    """Known cells set back to unknown (only with ``overwrite_with_unknown``)."""
    cells_unchanged: int = 0
    """Cells the file gave a value that they already had."""
    cells_unknown: int = 0
    """Cells unknown in the file (empty, ``?``, uncertain under U-Ignore) left as they were."""
    uncertain: int = 0
    """CheXpert cells marked uncertain (-1), mapped by ``uncertain_policy``."""
    uncertain_policy: str = "unknown"
    tasks_created: list[str] = field(default_factory=list)
    unknown_images: list[tuple[int, str]] = field(default_factory=list)
    """(line, name as written) for each image name not in the project, at its first line."""
    ignored_columns: list[str] = field(default_factory=list)
    """Columns that are not tasks (CheXpert metadata, extra Open Images columns)."""
    overwrite_with_unknown: bool = False

    @property
    def rows(self) -> int:
        """Alias of ``rows_read``."""
        return self.rows_read


@dataclass
class LabelExportSummary:
    """What an export wrote; ``dataclasses.asdict`` gives a JSON-ready dict."""

    path: str
    format: str
    images: int = 0
    """Images described in the file (rows of a wide file; images with a label in Open Images)."""
    tasks: int = 0
    cells: int = 0
    """Known cells (present or absent) written."""


@dataclass(frozen=True)
class ImportOptions:
    create_tasks: bool = False
    uncertain: str = "unknown"
    overwrite_with_unknown: bool = False
    strict_images: bool = False


@dataclass
class NewTask:
    """A task the file names that the project lacks."""

    key: int
    name: str
    line: int
    position: float | None = None
    colour: str | None = None
    colour_given: bool = False
    """True where the file gives the colour (possibly none); else a palette colour is used."""
    archived: bool = False
    find_line: Callable[[], int] | None = None
    """Finds ``line`` when it is needed and costly (JSON)."""

    def first_line(self) -> int:
        return self.line or (self.find_line() if self.find_line is not None else 0)


@dataclass(frozen=True)
class Cell:
    value: CellValue
    line: int
    annotator: str | None = None
    """Who set it, where the file says (JSON); else the importing annotator."""
    time: datetime | None = None
    """When it was set, where the file says (JSON); else the time of the import."""


def show_value(value: CellValue) -> str:
    return "unknown" if value is None else str(value)


def at_line(line: int, text: str) -> str:
    return f"line {line}: {text}" if line > 0 else text


class TaskResolver:
    """Maps task names in a file to project tasks (archived ones too), or to new tasks.

    A name matches a task of exactly that name, else the one task whose name
    differs only in case (the project refuses names that differ only in case).
    Existing tasks are keyed by their id, new ones by negative numbers.
    """

    def __init__(self, tasks: list[TaskInfo]) -> None:
        self.tasks = {t.id: t for t in tasks}
        self._exact = {t.name: t for t in tasks}
        self._folded: dict[str, list[TaskInfo]] = defaultdict(list)
        for t in tasks:
            self._folded[t.name.lower()].append(t)
        self.new: dict[str, NewTask] = {}
        self._new_by_key: dict[int, NewTask] = {}

    def existing(self, name: str) -> TaskInfo | None:
        cleaned = name.strip()
        task = self._exact.get(name) or self._exact.get(cleaned)
        if task is not None:
            return task
        folded = self._folded.get(cleaned.lower(), [])
        return folded[0] if len(folded) == 1 else None

    def resolve(self, name: str, line: int) -> int:
        task = self.existing(name)
        if task is not None:
            return task.id
        cleaned = name.strip()
        new = self.new.get(cleaned.lower())
        if new is None:
            new = NewTask(-(len(self.new) + 1), cleaned, line)
            self.new[cleaned.lower()] = new
            self._new_by_key[new.key] = new
        return new.key

    def new_task(self, key: int) -> NewTask | None:
        """The new task of that key; None for an existing task."""
        return self._new_by_key.get(key)

    def name(self, key: int) -> str:
        if key in self.tasks:
            return self.tasks[key].name
        return self._new_by_key[key].name


class ImportBuilder:
    """Collects a file's cells and problems against a snapshot of the project."""

    def __init__(
        self,
        path: str,
        fmt: str,
        index: ImageIndex,
        resolver: TaskResolver,
        options: ImportOptions,
        *,
        missing_means_unknown: bool = False,
    ) -> None:
        self.path = path
        self.index = index
        self.tasks = resolver
        self.options = options
        self.missing_means_unknown = missing_means_unknown
        """True where a cell the file does not list is unknown (Open Images, JSON)."""
        self.problems: list[tuple[int, str]] = []
        self.cells: dict[tuple[int, int], Cell] = {}
        self.images_seen: set[int] = set()
        self.tasks_seen: set[int] = set()
        self._unknown_seen: set[str] = set()
        self.summary = LabelImportSummary(
            path=path,
            format=fmt,
            uncertain_policy=options.uncertain,
            overwrite_with_unknown=options.overwrite_with_unknown,
        )

    def problem(self, line: int, text: str) -> None:
        self.problems.append((line, text))

    def image(
        self, name: str, line: int, match: Match | None = None, *, row: bool = True
    ) -> int | None:
        """The project image a row names; a problem or an unknown image otherwise.

        ``row`` False: the name does not stand for a data row (JSON image entries), so an
        unknown image is not counted in ``rows_skipped``.
        """
        if not name.strip():
            self.problem(line, "no image name")
            return None
        if match is None:
            match = self.index.find(name)
        if match.image_id is not None:
            self.images_seen.add(match.image_id)
            return match.image_id
        if match.ambiguous:
            shown = ", ".join(match.candidates[:_MAX_CANDIDATES])
            if len(match.candidates) > _MAX_CANDIDATES:
                shown += f" and {len(match.candidates) - _MAX_CANDIDATES} more"
            self.problem(
                line,
                f"image name {name!r} is ambiguous: it matches {len(match.candidates)} images "
                f"({shown}); write the path relative to the imported folder, or the absolute "
                "path",
            )
            return None
        if self.options.strict_images:
            self.problem(line, f"image {name!r} is not in this project")
        else:
            if name not in self._unknown_seen:
                self._unknown_seen.add(name)
                self.summary.unknown_images.append((line, name))
            if row:
                self.summary.rows_skipped += 1
        return None

    def cell(
        self,
        image_id: int,
        task_key: int,
        value: CellValue,
        line: int,
        annotator: str | None = None,
        time: datetime | None = None,
    ) -> Cell | None:
        """Record a cell; return the earlier cell if it had a different value (a conflict)."""
        self.tasks_seen.add(task_key)
        key = (image_id, task_key)
        earlier = self.cells.get(key)
        if earlier is not None:
            return earlier if earlier.value != value else None
        self.cells[key] = Cell(value, line, annotator, time)
        return None

    # -- finishing -------------------------------------------------------------------------

    def check_tasks(self) -> None:
        """Unknown tasks are problems, unless they are to be created and their names are valid."""
        for new in self.tasks.new.values():
            if not self.options.create_tasks:
                self.problem(
                    new.first_line(),
                    f"unknown task {new.name!r}; use --create-tasks to add it",
                )
                continue
            try:
                validate_task_name(new.name)
            except UserError as exc:
                self.problem(new.first_line(), f"cannot create task {new.name!r}: {exc}")

    def raise_problems(self) -> None:
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: p[0])
            raise LabelFileError(self.path, [at_line(line, text) for line, text in ordered])

    def apply(self, project: Project) -> LabelImportSummary:
        """Check tasks, raise if there is any problem, else write everything in one transaction."""
        self.check_tasks()
        self.raise_problems()
        summary = self.summary
        summary.images_matched = len(self.images_seen)
        now = utcnow()
        with project.transaction() as session:
            ids = self._create_tasks(session)
            wanted: list[tuple[int, int, CellValue]] = []
            who: dict[tuple[int, int], tuple[str, datetime]] = {}
            for (image_id, task_key), cell in self.cells.items():
                task_id = ids.get(task_key, task_key)
                if cell.value is None and not self.options.overwrite_with_unknown:
                    summary.cells_unknown += 1
                    continue
                wanted.append((image_id, task_id, cell.value))
                if cell.annotator is not None or cell.time is not None:
                    who[(image_id, task_id)] = (
                        cell.annotator or project.annotator,
                        cell.time or now,
                    )
            if self.options.overwrite_with_unknown and self.missing_means_unknown:
                wanted.extend(self._unlisted_known_cells(session))
            changes = set_cells_in_session(
                session,
                wanted,
                annotator=project.annotator,
                source="import",
                at=now,
                annotators=who or None,
            )
        summary.cells_set = len(changes)
        summary.cells_cleared = sum(1 for c in changes if c.new is None)
        summary.cells_unchanged = len(wanted) - len(changes)
        return summary

    def _create_tasks(self, session: Session) -> dict[int, int]:
        new = sorted(
            self.tasks.new.values(),
            key=lambda t: (t.position is None, t.position or 0, -t.key),
        )
        if not new:
            return {}
        created = add_tasks_in_session(session, [t.name for t in new])
        ids: dict[int, int] = {}
        for spec, info in zip(new, created, strict=True):
            ids[spec.key] = info.id
            if spec.colour_given or spec.archived:
                task = session.get(Task, info.id)
                assert task is not None
                if spec.colour_given:
                    task.colour = spec.colour
                task.archived = spec.archived
        session.flush()
        self.summary.tasks_created = [info.name for info in created]
        return ids

    def _unlisted_known_cells(self, session: Session) -> list[tuple[int, int, CellValue]]:
        """Known cells of the file's images and (existing) tasks that the file does not list."""
        task_ids = {k for k in self.tasks_seen if k > 0}
        image_ids = sorted(self.images_seen)
        if not task_ids or not image_ids:
            return []
        cleared: list[tuple[int, int, CellValue]] = []
        for start in range(0, len(image_ids), _CHUNK):
            chunk = image_ids[start : start + _CHUNK]
            rows = session.execute(
                select(Label.image_id, Label.task_id).where(Label.image_id.in_(chunk))
            )
            for image_id, task_id in rows:
                if task_id in task_ids and (image_id, task_id) not in self.cells:
                    cleared.append((image_id, task_id, None))
        return cleared


def task_column(
    builder: ImportBuilder, header: list[str], column: int, line: int, first: dict[int, int]
) -> int | None:
    """The task key of a header column, or None (with a problem noted) when the column is
    unnamed or names a task an earlier column already named. ``first`` maps task key →
    the first column naming it, and is filled in here."""
    name = header[column]
    if not name:
        builder.problem(line, f"column {column + 1} has no task name")
        return None
    key = builder.tasks.resolve(name, line)
    if key in first:
        earlier = first[key]
        builder.problem(
            line,
            f"columns {earlier + 1} ({header[earlier]!r}) and {column + 1} ({name!r}) "
            "name the same task",
        )
        return None
    first[key] = column
    return key


def load_snapshot(project: Project) -> tuple[ImageIndex, TaskResolver]:
    """The project's images and tasks (archived included), read in one short transaction."""
    with project.reading() as session:
        return ImageIndex.load(session), TaskResolver(tasks_in_session(session, True))
