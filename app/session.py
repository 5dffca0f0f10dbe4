"""The open project as the window sees it: one object every widget talks to.

Widgets never poke each other. They change data through the session (every
label change is a ``QUndoCommand`` on its ``QUndoStack``) and refresh
themselves from its signals, which say what changed (Anki's
``operation_did_execute`` idea).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.workers import error_message
from core import labels as core_labels
from core import tasks as core_tasks
from core.labels import CellChange, CellValue
from core.project import Project
from core.tasks import TaskInfo

STATE_NAMES = {1: "present", 0: "absent", None: "unknown"}


@dataclass(frozen=True)
class LabelsChanged:
    """Which cells changed: widgets showing any of these images or tasks refresh."""

    image_ids: frozenset[int]
    task_ids: frozenset[int]


class ProjectSession(QObject):
    """An open project, its undo stack, and signals saying what changed."""

    labels_changed = Signal(object)  # LabelsChanged
    tasks_changed = Signal()
    images_changed = Signal()
    error = Signal(str)  # a user-facing message: something could not be done
    notice = Signal(str)  # a user-facing note for the status bar: done, with a caveat

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.undo_stack = QUndoStack(self)
        self._tasks: list[TaskInfo] | None = None
        self.tasks_changed.connect(self._forget_tasks)

    # -- tasks ---------------------------------------------------------------------

    def tasks(self) -> list[TaskInfo]:
        """Active tasks in display order (cached until ``tasks_changed``)."""
        if self._tasks is None:
            self._tasks = core_tasks.list_tasks(self.project)
        return self._tasks

    def task(self, task_id: int) -> TaskInfo | None:
        return next((t for t in self.tasks() if t.id == task_id), None)

    def _forget_tasks(self) -> None:
        self._tasks = None

    # -- labels ----------------------------------------------------------------------

    def set_cells(
        self,
        cells: Sequence[tuple[int, int, CellValue]],
        text: str | None = None,
        source: str = "human",
    ) -> list[CellChange]:
        """Apply and commit the cells now, then push one undoable command for them.

        Returns the cells that changed (none: nothing is pushed). A failure is
        reported through ``error`` and changes nothing.
        """
        if not cells:
            return []
        try:
            changes = core_labels.set_cells(self.project, cells, source=source)
        except Exception as exc:  # shown to the user; nothing was changed
            self.error.emit(f"The labels could not be saved: {error_message(exc)}")
            return []
        if changes:
            command = SetCellsCommand(self, changes, text or self.describe(cells), source)
            self.undo_stack.push(command)
            self._announce(changes)
        return changes

    def set_cell(self, image_id: int, task_id: int, value: CellValue) -> list[CellChange]:
        return self.set_cells([(image_id, task_id, value)])

    def set_task_for_images(
        self, image_ids: Iterable[int], task_id: int, value: CellValue
    ) -> list[CellChange]:
        return self.set_cells([(i, task_id, value) for i in image_ids])

    def row(self, image_id: int) -> dict[int, CellValue]:
        """An image's cells for the active tasks, task id → value."""
        return core_labels.image_row(self.project, image_id)

    def describe(self, cells: Sequence[tuple[int, int, CellValue]]) -> str:
        """Undo text: "Set car = present on 12 images", "Set 3 labels on 1 image"."""
        image_ids = {i for i, _, _ in cells}
        task_ids = {t for _, t, _ in cells}
        values = {v for _, _, v in cells}
        where = f"{len(image_ids)} image" + ("s" if len(image_ids) != 1 else "")
        if len(task_ids) == 1 and len(values) == 1:
            task = self.task(next(iter(task_ids)))
            name = task.name if task else "task"
            return f"Set {name} = {STATE_NAMES[next(iter(values))]} on {where}"
        return f"Set {len(cells)} labels on {where}"

    def _announce(self, changes: Iterable[CellChange]) -> None:
        changes = list(changes)
        self.labels_changed.emit(
            LabelsChanged(
                frozenset(c.image_id for c in changes), frozenset(c.task_id for c in changes)
            )
        )

    def refresh(self) -> None:
        """Re-read everything (another window or process may have changed the project)."""
        self.tasks_changed.emit()
        self.images_changed.emit()


class SetCellsCommand(QUndoCommand):
    """One label edit, single or bulk: undo writes back exactly the previous values."""

    def __init__(
        self, session: ProjectSession, changes: list[CellChange], text: str, source: str
    ) -> None:
        super().__init__(text)
        self.session = session
        self.changes = changes
        self.source = source
        self._applied = True  # the session applied it before pushing

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self._write("Redo", [(c.image_id, c.task_id, c.old, c.new) for c in self.changes])

    def undo(self) -> None:
        # Undoing is the annotator's own act, whatever made the change being undone.
        cells = [(c.image_id, c.task_id, c.new, c.old) for c in self.changes]
        self._write("Undo", cells, "human")

    def _write(
        self,
        what: str,
        cells: list[tuple[int, int, CellValue, CellValue]],
        source: str | None = None,
    ) -> None:
        """Write back only the cells that still hold what this command left there: a
        label changed since (a file import, another annotator) is never overwritten."""
        try:
            _changes, kept = core_labels.set_cells_if(
                self.session.project, cells, source=source or self.source
            )
        except Exception as exc:  # reported; the stack stays usable
            self.session.error.emit(f"Undo/redo could not be saved: {error_message(exc)}")
            return
        if kept:
            n = len(kept)
            self.session.notice.emit(
                f"{what} left {n:,} label{'s' if n != 1 else ''} as "
                f"{'they are' if n != 1 else 'it is'}: changed since (an import or "
                "another annotator)"
            )
        self.session._announce(self.changes)  # re-read them all: kept ones too
