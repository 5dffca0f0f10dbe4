"""Per-task validation metrics of one epoch as a table: counts, AP, ROC-AUC, P/R/F1, ECE.

Rows are :class:`core.runs.TaskMetricRow` values, or the dicts of the
trainer's ``epoch`` event (same keys), so the live table and a finished run's
table are the same widget. A metric that could not be computed shows a muted
"n/a" whose tooltip says why; the last column spells the reason out
("n/a — no present cells in validation (0 present, 5 absent)").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from core import runs
from core.project import Project
from core.runs import TaskMetricRow
from core.training.metrics import unreliable_reason

_Index = QModelIndex | QPersistentModelIndex
_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(TaskMetricRow))


def metric_row(value: TaskMetricRow | Mapping[str, Any]) -> TaskMetricRow:
    """A ``TaskMetricRow`` from itself or from a dict with its fields (extra keys ignored)."""
    if isinstance(value, TaskMetricRow):
        return value
    fields: dict[str, Any] = {name: value.get(name) for name in _ROW_FIELDS}
    return TaskMetricRow(**fields)


def prevalence(row: TaskMetricRow) -> float | None:
    """Share of present among the known validation cells: the AP of a random guess."""
    known = (row.val_present or 0) + (row.val_absent or 0)
    return None if known == 0 else (row.val_present or 0) / known


def _counts(present: int | None, absent: int | None, unknown: int | None) -> str:
    return " / ".join("–" if n is None else f"{n:,}" for n in (present, absent, unknown))


def reason_for(row: TaskMetricRow, key: str) -> str:
    """Why this row's metric ``key`` is n/a, from the row's ``na_reason``."""
    parts = [p.strip() for p in (row.na_reason or "").split(";") if p.strip()]
    if key == "precision":
        mine = [p.removeprefix("precision n/a: ") for p in parts if p.startswith("precision")]
    else:
        mine = [p for p in parts if not p.startswith("precision")]
    return "; ".join(mine or parts) or "not computed for this task"


@dataclass(frozen=True)
class Column:
    title: str
    tooltip: str
    key: str
    """The metric's field name for metric columns; "" for the others."""
    text: Callable[[TaskMetricRow], str]
    value: Callable[[TaskMetricRow], Any]
    """The raw value (UserRole), for sorting; None where n/a."""
    numeric: bool = True
    na_text: bool = False
    """The column holds the n/a reason itself (muted whenever it says anything)."""
    optional: bool = False
    """An empty cell is not "n/a" (e.g. ECE, recorded for a calibrated best epoch only)."""

    def is_na(self, row: TaskMetricRow) -> bool:
        if self.optional:
            return False
        if self.na_text:
            return bool(row.na_reason)
        return self.numeric and self.value(row) is None


def _metric(key: str, title: str, tooltip: str, digits: int = 3) -> Column:
    def text(row: TaskMetricRow) -> str:
        value = getattr(row, key)
        return "n/a" if value is None else f"{value:.{digits}f}"

    return Column(title, tooltip, key, text, lambda row: getattr(row, key))


def _prevalence_text(row: TaskMetricRow) -> str:
    p = prevalence(row)
    return "n/a" if p is None else f"{p:.3f}"


def _unreliable(row: TaskMetricRow) -> str | None:
    if row.ap is None or row.val_present is None or row.val_absent is None:
        return None
    return unreliable_reason(row.val_present, row.val_absent)


def _note(row: TaskMetricRow) -> str:
    """ "n/a — no present cells in validation (0 present, 6 absent); precision: …", or
    "AP unreliable: 3 present cells in validation …" for a task with an AP on too few."""
    parts = []
    if row.na_reason:
        parts.append("n/a — " + row.na_reason.replace("precision n/a: ", "precision: "))
    unreliable = _unreliable(row)
    if unreliable:
        parts.append(unreliable)
    return "; ".join(parts)


def _threshold_text(row: TaskMetricRow) -> str:
    t = row.decision_threshold
    if t is None:
        return "n/a"
    return f"{t:.2f} (yours)" if row.user_threshold is not None else f"{t:.2f}"


def _ece_text(row: TaskMetricRow) -> str:
    """ "0.031 (was 0.118)"; empty for epochs and runs without calibration."""
    if row.ece is None:
        return ""
    return f"{row.ece:.3f}" + (f" (was {row.ece_raw:.3f})" if row.ece_raw is not None else "")


COLUMNS: tuple[Column, ...] = (
    Column(
        "Task",
        "The task (one yes/no question per image)",
        "",
        lambda r: r.name,
        lambda r: r.name,
        numeric=False,
    ),
    Column(
        "Train +/−/?",
        "Training cells of this task in the run's label snapshot: present / absent / unknown",
        "",
        lambda r: _counts(r.train_present, r.train_absent, r.train_unknown),
        lambda r: r.train_present,
    ),
    Column(
        "Val +/−/?",
        "Validation cells: present / absent / unknown (unknown cells are not scored)",
        "",
        lambda r: _counts(r.val_present, r.val_absent, r.val_unknown),
        lambda r: r.val_present,
    ),
    Column(
        "Prevalence",
        "Share of present among the known validation cells — the AP a random guess gets",
        "",
        _prevalence_text,
        prevalence,
    ),
    _metric("ap", "AP", "Average precision on the known validation cells (1 is perfect)"),
    _metric("auc", "ROC-AUC", "Area under the ROC curve (0.5 is chance)"),
    _metric("precision", "Precision", "Of the cells predicted present, the share truly present"),
    _metric("recall", "Recall", "Of the present cells, the share predicted present"),
    _metric("f1", "F1", "Harmonic mean of precision and recall at the threshold"),
    Column(
        "Threshold",
        "Probability at or above which a cell counts as present: 0.5 on calibrated "
        "probabilities (runs from before calibration: the maximum-F1 point), unless you "
        "moved it — double-click a finished run's row",
        "threshold",
        _threshold_text,
        lambda r: r.decision_threshold,
    ),
    Column(
        "ECE",
        "Expected calibration error on the validation cells, of the stored (calibrated) "
        'probabilities and, in brackets, of the network\'s own: how far "70 %" is from '
        "being right 70 % of the time (0 is perfect)",
        "",
        _ece_text,
        lambda r: r.ece,
        optional=True,
    ),
    Column(
        "Notes",
        "Why a metric of this task could not be computed, or why its AP is not to be "
        "trusted (fewer than 10 validation cells of a class: not in the mean AP)",
        "",
        _note,
        _note,
        numeric=False,
        na_text=True,
    ),
)
NOTE_COLUMN = len(COLUMNS) - 1
METRIC_KEYS = frozenset(c.key for c in COLUMNS if c.key)


class MetricsModel(QAbstractTableModel):
    """One row per task; ``Qt.UserRole`` gives raw values (None for n/a)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TaskMetricRow] = []

    def set_rows(self, rows: Sequence[TaskMetricRow | Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = [metric_row(r) for r in rows]
        self.endResetModel()

    def rows(self) -> list[TaskMetricRow]:
        return list(self._rows)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def is_na(self, index: _Index) -> bool:
        """Whether the cell is a metric that could not be computed (or the reason why)."""
        return COLUMNS[index.column()].is_na(self._rows[index.row()])

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        column = COLUMNS[index.column()]
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.UserRole:
            return column.value(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            if self.is_na(index):
                if index.column() == NOTE_COLUMN:
                    return row.na_reason
                return f"{column.title} n/a: {reason_for(row, column.key or 'ap')}"
            if index.column() == 0:
                return f"{row.name} (epoch {row.epoch})"
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = (
                Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            )
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and self.is_na(index):
            return QPalette().brush(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText)
        if role == Qt.ItemDataRole.FontRole and self.is_na(index):
            font = QFont()
            font.setItalic(True)
            return font
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tooltip
        return None


class MetricsTable(QTableView):
    """The per-task metrics of one epoch; ``set_rows`` replaces them.

    Given a finished run's best epoch (``set_editable_run``), double-clicking a row
    (or its context menu) opens the task's threshold dialog; a threshold changed
    there reloads the rows and emits ``threshold_changed(run_id)``.
    """

    threshold_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editable: tuple[Project, int] | None = None
        self.doubleClicked.connect(lambda index: self.edit_threshold(index.row()))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.metrics = MetricsModel(self)
        self.setModel(self.metrics)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self._size_columns()

    def set_rows(self, rows: Sequence[TaskMetricRow | Mapping[str, Any]]) -> None:
        self.metrics.set_rows(rows)
        self._size_columns()

    def clear(self) -> None:
        self.set_editable_run(None)
        self.set_rows([])

    def set_editable_run(self, project: Project | None, run_id: int | None = None) -> None:
        """The run whose best-epoch rows are shown, whose thresholds may be moved (None:
        the rows are read-only, e.g. an epoch still training or not the best one)."""
        self._editable = (project, run_id) if project is not None and run_id is not None else None

    def editable_run(self) -> int | None:
        return self._editable[1] if self._editable else None

    def edit_threshold(self, row: int) -> bool:
        """Open the threshold dialog of the task in ``row``; True when a threshold changed."""
        from app.dialogs.threshold import ThresholdDialog

        rows = self.metrics.rows()
        if self._editable is None or not 0 <= row < len(rows):
            return False
        project, run_id = self._editable
        dialog = ThresholdDialog(project, run_id, rows[row], self)
        if dialog.exec() != ThresholdDialog.DialogCode.Accepted:
            return False
        self.set_rows(runs.run_task_metrics(project, run_id, rows[row].epoch))
        self.threshold_changed.emit(run_id)
        return True

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if self._editable is None or not index.isValid():
            return
        menu = QMenu(self)
        name = self.metrics.rows()[index.row()].name
        menu.addAction(f"Set the threshold of {name}…", lambda: self.edit_threshold(index.row()))
        menu.exec(self.viewport().mapToGlobal(pos))

    def rows(self) -> list[TaskMetricRow]:
        return self.metrics.rows()

    def _size_columns(self) -> None:
        """Columns fitted to their content (the task name at most 220 px); the reason
        why a metric is n/a takes the rest of the width."""
        header = self.horizontalHeader()
        for section in range(len(COLUMNS) - 1):
            self.resizeColumnToContents(section)
            if section == 0:
                header.resizeSection(0, min(header.sectionSize(0), 220))
