"""Two runs side by side, per task: is the one better than the other, and where?

The pair is read from the project (``core.runs``: each run's best epoch) and
turned into a :class:`Comparison` by plain functions, so the arithmetic and the
wording are testable without a window. ``Δ`` is always B − A. When one run is a
shared network and the other separate per-task networks, A is the separate one
and B the shared one, so a positive Δ means sharing helped; otherwise A is the
older run and B the newer.

Only tasks with an AP in both runs are compared; the mean AP shown for the pair
is the mean over exactly those tasks, so that a task that is n/a in one run
cannot move one mean and not the other. Differences that make the comparison
unfair — other labels, other settings, tiny validation sets — are listed under
the verdict rather than hidden.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from core.project import Project
from core.runs import RunInfo, TaskMetricRow, backbone_label, get_run, run_task_metrics

TIE = 0.0005
"""|Δ AP| below this (what shows as ±0.000) counts as a tie."""
FEW_VALIDATION_CELLS = 30
"""Below this many known validation cells for a task, AP differences are mostly chance."""
MAX_TABLE_ROWS = 20
"""The comparison table grows to this many rows, then scrolls."""
BETTER_COLOUR = QColor(46, 157, 74)
WORSE_COLOUR = QColor(214, 69, 65)
_IGNORED_SETTINGS = frozenset({"device", "threads", "max_steps", "auto"})
"""Settings that change speed, not what is learnt (or are smoke-test knobs, or an auto
run's record of its candidates)."""

_Index = QModelIndex | QPersistentModelIndex


# -- formatting shared with the runs list ------------------------------------------


def settings_summary(config: dict[str, Any], *, with_arch: bool = True) -> str:
    """A run's settings in one short line: "shared w24 64px masked 12 ep"."""
    backbone = str(config.get("backbone") or "compact")
    mode = config.get("mode")
    if backbone == "compact":
        width = config.get("width")
        net = "compact" if width is None else f"w{width}"
    else:
        label = backbone_label(backbone)
        net = label if mode in (None, "", "auto") else f"{label} {mode}"
    size = config.get("image_size")
    parts = [str(config.get("arch", "shared"))] if with_arch else []
    parts += [net, f"{size}px" if size else "auto px", str(config.get("loss", "masked"))]
    if config.get("epochs") is not None:
        parts.append(f"{config['epochs']} ep")
    if config.get("init_from") is not None:
        parts.append(f"from run {config['init_from']}")
    return " ".join(parts)


def settings_tooltip(config: dict[str, Any]) -> str:
    """Every setting of a run, one per line."""
    return "\n".join(f"{key}: {value}" for key, value in config.items())


def fit_table_height(view: QTableView, max_rows: int) -> None:
    """Make a table as tall as its rows (scrollbars included), at most ``max_rows`` rows
    tall; it may shrink when space is short. Call again after the rows change."""
    view.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
    policy = view.sizePolicy()
    policy.setVerticalPolicy(QSizePolicy.Policy.Maximum)
    view.setSizePolicy(policy)
    header = view.verticalHeader()
    model = view.model()
    rows = 0 if model is None else model.rowCount()
    row_height = header.sectionSize(0) if rows else header.defaultSectionSize()
    cap = view.horizontalHeader().sizeHint().height() + 2 * view.frameWidth()
    cap += max_rows * row_height + view.horizontalScrollBar().sizeHint().height()
    view.setMaximumHeight(cap)
    view.updateGeometry()


def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_delta(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) < TIE:
        return "±0.000"
    return f"{value:+.3f}".replace("-", "−")


# -- the comparison, without Qt ----------------------------------------------------


@dataclass(frozen=True)
class TaskComparison:
    """One task in both runs; ``a`` or ``b`` is None when the run does not have the task."""

    task_id: int
    name: str
    a: TaskMetricRow | None
    b: TaskMetricRow | None

    @property
    def delta(self) -> float | None:
        """AP of B − AP of A, or None when either has no AP."""
        if self.a is None or self.b is None or self.a.ap is None or self.b.ap is None:
            return None
        return self.b.ap - self.a.ap

    @property
    def outcome(self) -> str:
        """ "better" (B is), "worse", "tied" or "n/a"."""
        delta = self.delta
        if delta is None:
            return "n/a"
        if abs(delta) < TIE:
            return "tied"
        return "better" if delta > 0 else "worse"

    def why_na(self, name_a: str, name_b: str) -> str | None:
        """Why there is no Δ for this task, naming the run(s) responsible."""
        if self.delta is not None:
            return None
        reasons = []
        for name, row in ((name_a, self.a), (name_b, self.b)):
            if row is None:
                reasons.append(f"{name} did not have this task")
            elif row.ap is None:
                reasons.append(f"{name}: {row.na_reason or 'no AP'}")
        return "; ".join(reasons)

    @property
    def labels_differ(self) -> bool:
        if self.a is None or self.b is None:
            return False
        return _counts(self.a) != _counts(self.b)


def _counts(row: TaskMetricRow) -> tuple[int, ...]:
    return (
        row.train_present,
        row.train_absent,
        row.train_unknown,
        row.val_present,
        row.val_absent,
        row.val_unknown,
    )


@dataclass(frozen=True)
class Comparison:
    run_a: RunInfo
    run_b: RunInfo
    name_a: str
    """How the text calls run A: "separate networks (run 4)", "run 4"."""
    name_b: str
    short_a: str
    """For column headers: "separate", "shared", "run 4"."""
    short_b: str
    tasks: list[TaskComparison]
    notes: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> list[TaskComparison]:
        return [t for t in self.tasks if t.delta is not None]

    @property
    def mean_ap_a(self) -> float | None:
        """Mean AP of A over the tasks with an AP in both runs."""
        return _mean([t.a.ap for t in self.comparable if t.a is not None])

    @property
    def mean_ap_b(self) -> float | None:
        return _mean([t.b.ap for t in self.comparable if t.b is not None])

    @property
    def mean_delta(self) -> float | None:
        return _mean([t.delta for t in self.comparable])

    def count(self, outcome: str) -> int:
        return sum(1 for t in self.tasks if t.outcome == outcome)

    @property
    def verdict(self) -> str:
        """One line: "The shared network is better on 3 of 4 tasks (mean AP +0.042)"."""
        comparable = len(self.comparable)
        if comparable == 0:
            if not self.tasks:
                return "Neither run has per-task metrics, so there is nothing to compare."
            for name, run, rows in (
                (self.name_a, self.run_a, [t.a for t in self.tasks]),
                (self.name_b, self.run_b, [t.b for t in self.tasks]),
            ):
                if all(r is None for r in rows):
                    return (
                        f"{_capitalise(name)} has no per-task metrics ({run.status}), so there "
                        "is nothing to compare."
                    )
            return "No task has an AP in both runs, so there is nothing to compare."
        subject = _capitalise(self.name_b)
        verb = "are" if self.name_b.startswith("separate") else "is"
        better, worse, tied = self.count("better"), self.count("worse"), self.count("tied")
        na = len(self.tasks) - comparable
        scope = (
            f"{comparable} task" + ("s" if comparable != 1 else "")
            if na == 0
            else f"{comparable} task" + ("s" if comparable != 1 else "") + " with an AP in both"
        )
        text = f"{subject} {verb} better on {better} of {scope}"
        extra = []
        if worse:
            extra.append(f"worse on {worse}")
        if tied:
            extra.append(f"tied on {tied}")
        if extra:
            text += ", " + ", ".join(extra)
        text += f" (mean AP {fmt_delta(self.mean_delta)}"
        if na:
            text += f" over those {comparable}; {na} n/a"
        return text + ")."


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return None if not known else sum(known) / len(known)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def order_pair(a: RunInfo, b: RunInfo) -> tuple[RunInfo, RunInfo]:
    """(A, B): separate networks first when the architectures differ, else older first."""
    arch_a, arch_b = a.config.get("arch"), b.config.get("arch")
    if arch_a != arch_b and "separate" in (arch_a, arch_b):
        return (a, b) if arch_a == "separate" else (b, a)
    return (a, b) if a.id <= b.id else (b, a)


def _names(a: RunInfo, b: RunInfo) -> tuple[str, str, str, str]:
    arch_a, arch_b = a.config.get("arch"), b.config.get("arch")
    if arch_a != arch_b and {arch_a, arch_b} == {"shared", "separate"}:

        def name(run: RunInfo) -> str:
            if run.config.get("arch") == "shared":
                return f"the shared network (run {run.id})"
            return f"separate networks (run {run.id})"

        return name(a), name(b), str(arch_a), str(arch_b)
    return f"run {a.id}", f"run {b.id}", f"run {a.id}", f"run {b.id}"


def compare_rows(
    run_a: RunInfo,
    run_b: RunInfo,
    rows_a: Sequence[TaskMetricRow],
    rows_b: Sequence[TaskMetricRow],
) -> Comparison:
    """Match the two runs' per-task rows by task and collect what makes them unfair."""
    name_a, name_b, short_a, short_b = _names(run_a, run_b)
    by_a = {r.task_id: r for r in rows_a}
    by_b = {r.task_id: r for r in rows_b}
    order = [r.task_id for r in rows_a] + [r.task_id for r in rows_b if r.task_id not in by_a]
    tasks = [
        TaskComparison(
            task_id,
            (by_a.get(task_id) or by_b[task_id]).name,
            by_a.get(task_id),
            by_b.get(task_id),
        )
        for task_id in order
    ]
    notes = []
    for run in (run_a, run_b):
        if run.status != "done":
            reason = f": {run.error}" if run.error else ""
            notes.append(f"Run {run.id} is {run.status}{reason}; its figures are not final.")
    differ = [t.name for t in tasks if t.labels_differ]
    if differ:
        notes.append(
            "The runs trained on different labels (the counts of "
            + ", ".join(differ)
            + " differ): labels changed between their starts, so this is not a like-for-like "
            "comparison."
        )
    only = [t.name for t in tasks if t.a is None or t.b is None]
    if only:
        notes.append("Only in one run: " + ", ".join(only) + ".")
    pair = short_a != f"run {run_a.id}"  # shared against separate
    changed = _setting_differences(run_a.config, run_b.config, {"arch"} if pair else set())
    if changed:
        besides = " besides the architecture" if pair else ""
        notes.append(f"Settings differ{besides}: " + "; ".join(changed) + ".")
    small = [
        (t.name, min(_val_known(t.a), _val_known(t.b)))
        for t in tasks
        if t.delta is not None and min(_val_known(t.a), _val_known(t.b)) < FEW_VALIDATION_CELLS
    ]
    if small:
        name, least = min(small, key=lambda s: s[1])
        notes.append(
            f"Few known validation cells (as few as {least}, for {name}): differences of a few "
            "hundredths in AP can be chance."
        )
    delta = _mean([t.delta for t in tasks])
    if short_b == "shared" and delta is not None and delta < -TIE:
        notes.append(
            "When a shared network loses to separate ones, the tasks are often competing for "
            "capacity: try a larger network width."
        )
    return Comparison(run_a, run_b, name_a, name_b, short_a, short_b, tasks, notes)


def _val_known(row: TaskMetricRow | None) -> int:
    return 0 if row is None else row.val_present + row.val_absent


def _setting_differences(a: dict[str, Any], b: dict[str, Any], expected: set[str]) -> list[str]:
    keys = [k for k in a if k in b] + [k for k in b if k not in a]
    return [
        f"{key} {a.get(key)} vs {b.get(key)}"
        for key in keys
        if key not in _IGNORED_SETTINGS and key not in expected and a.get(key) != b.get(key)
    ]


def compare_runs(
    project: Project, run_a: int, run_b: int, *, keep_order: bool = False
) -> Comparison:
    """Read both runs (their best epochs) and compare them; ``keep_order`` skips
    :func:`order_pair`, so that A is ``run_a``."""
    a, b = get_run(project, run_a), get_run(project, run_b)
    if not keep_order:
        a, b = order_pair(a, b)
    return compare_rows(a, b, run_task_metrics(project, a.id), run_task_metrics(project, b.id))


# -- the table ------------------------------------------------------------------------

COLUMNS = (
    "Task",
    "AP A",
    "AP B",
    "Δ AP",
    "ROC-AUC A",
    "ROC-AUC B",
    "F1 A",
    "F1 B",
    "Val + / − / ?",
)
COL_AP_A, COL_AP_B, COL_DELTA = 1, 2, 3


class ComparisonModel(QAbstractTableModel):
    """One row per task, then a "Mean AP" row over the tasks comparable in both runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._comparison: Comparison | None = None

    @property
    def comparison(self) -> Comparison | None:
        return self._comparison

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.beginResetModel()
        self._comparison = comparison
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's idiom
        if parent.isValid() or self._comparison is None:
            return 0
        return len(self._comparison.tasks) + 1

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's idiom
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        c = self._comparison
        if role == Qt.ItemDataRole.DisplayRole:
            title = COLUMNS[section]
            if c is not None and title.endswith((" A", " B")):
                title = title[:-1] + (c.short_a if title.endswith("A") else c.short_b)
            return title
        if role == Qt.ItemDataRole.ToolTipRole and c is not None:
            if section == COL_DELTA:
                return f"AP of {c.name_b} − AP of {c.name_a}: positive means {c.name_b} is better"
            if section == len(COLUMNS) - 1:
                return "Validation cells present / absent / unknown (A → B where they differ)"
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        c = self._comparison
        if c is None or not index.isValid() or index.parent().isValid():
            return None
        row, column = index.row(), index.column()
        if not (0 <= row <= len(c.tasks) and 0 <= column < len(COLUMNS)):
            return None
        if row == len(c.tasks):
            return self._mean_row(c, column, role)
        task = c.tasks[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(task, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(c, task, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and column == COL_DELTA:
            return _delta_colour(task.delta)
        if role == Qt.ItemDataRole.ForegroundRole and self._text(task, column) in ("n/a", "—"):
            return QColor(128, 128, 128)
        if role == Qt.ItemDataRole.UserRole:
            return task.task_id
        return None

    @staticmethod
    def _text(task: TaskComparison, column: int) -> str:
        a, b = task.a, task.b
        if column == 0:
            return task.name
        if column == COL_DELTA:
            return fmt_delta(task.delta)
        if column == len(COLUMNS) - 1:
            counts_a = _val_counts(a)
            counts_b = _val_counts(b)
            return counts_a if counts_a == counts_b else f"{counts_a} → {counts_b}"
        row = a if column in (1, 4, 6) else b
        if row is None:
            return "—"
        value = {1: row.ap, 2: row.ap, 4: row.auc, 5: row.auc, 6: row.f1, 7: row.f1}[column]
        return fmt(value)

    @staticmethod
    def _tooltip(c: Comparison, task: TaskComparison, column: int) -> str | None:
        if column == COL_DELTA:
            return task.why_na(c.name_a, c.name_b)
        if column in (1, 2, 4, 5, 6, 7):
            row, name = (task.a, c.name_a) if column in (1, 4, 6) else (task.b, c.name_b)
            if row is None:
                return f"{name} did not have this task"
            value = {1: row.ap, 2: row.ap, 4: row.auc, 5: row.auc, 6: row.f1, 7: row.f1}[column]
            if value is None:
                return f"{name}: {row.na_reason or 'not available'}"
            return f"{name}, epoch {row.epoch}"
        if column == len(COLUMNS) - 1 and task.labels_differ:
            return "The two runs trained on different labels for this task"
        return None

    @staticmethod
    def _mean_row(c: Comparison, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and column == COL_DELTA:
            return _delta_colour(c.mean_delta)
        if role == Qt.ItemDataRole.ToolTipRole:
            n = len(c.comparable)
            return f"Mean over the {n} task{'s' if n != 1 else ''} with an AP in both runs"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column == 0:
            return "Mean AP"
        if column == COL_AP_A:
            return fmt(c.mean_ap_a)
        if column == COL_AP_B:
            return fmt(c.mean_ap_b)
        if column == COL_DELTA:
            return fmt_delta(c.mean_delta)
        return ""


def _val_counts(row: TaskMetricRow | None) -> str:
    if row is None:
        return "—"
    return f"{row.val_present} / {row.val_absent} / {row.val_unknown}"


def _delta_colour(delta: float | None) -> QColor | None:
    """Green when B is better, red when worse; stronger for larger differences."""
    if delta is None or abs(delta) < TIE:
        return None
    colour = QColor(BETTER_COLOUR if delta > 0 else WORSE_COLOUR)
    colour.setAlpha(int(70 + 130 * min(1.0, abs(delta) / 0.1)))
    return colour


# -- the widget -----------------------------------------------------------------------


class RunComparison(QWidget):
    """Per-task AP, ROC-AUC, F1 and validation counts of two runs, with Δ and a verdict."""

    closed = Signal()
    """The user asked to leave the comparison (the Close button)."""

    def __init__(self, session: ProjectSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.swap_button = QPushButton("Swap A and B")
        self.swap_button.setToolTip("Δ is B − A; swap to read it the other way round")
        self.swap_button.clicked.connect(self.swap)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.closed)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.swap_button)
        top.addWidget(self.close_button)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        font = self.verdict.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.verdict.setFont(font)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.model = ComparisonModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table)
        layout.addWidget(self.notes)
        layout.addStretch(1)
        self.clear()

    @property
    def comparison(self) -> Comparison | None:
        return self.model.comparison

    def clear(self) -> None:
        self.model.set_comparison(None)
        fit_table_height(self.table, MAX_TABLE_ROWS)
        self.title.setText("Select two runs to compare them.")
        self.verdict.clear()
        self.notes.clear()
        self.swap_button.setEnabled(False)

    def compare(self, run_a: int, run_b: int, *, keep_order: bool = False) -> Comparison | None:
        """Show runs ``run_a`` and ``run_b`` (ordered by :func:`order_pair` unless
        ``keep_order``); a run that cannot be read is reported through the session."""
        try:
            comparison = compare_runs(self.session.project, run_a, run_b, keep_order=keep_order)
        except Exception as exc:  # a missing run or an unreadable database: say so
            self.session.error.emit(f"Runs {run_a} and {run_b} could not be compared: {exc}")
            self.clear()
            return None
        self.set_comparison(comparison)
        return comparison

    def swap(self) -> None:
        c = self.comparison
        if c is not None:
            self.compare(c.run_b.id, c.run_a.id, keep_order=True)

    def set_comparison(self, comparison: Comparison) -> None:
        self.model.set_comparison(comparison)
        a, b = comparison.run_a, comparison.run_b
        self.title.setText(
            f"<b>A</b> = {html.escape(_capitalise(comparison.name_a))}: "
            f"{html.escape(settings_summary(a.config))}<br>"
            f"<b>B</b> = {html.escape(_capitalise(comparison.name_b))}: "
            f"{html.escape(settings_summary(b.config))}<br>"
            "<small>Each run at its best epoch; Δ = B − A.</small>"
        )
        self.verdict.setText(comparison.verdict)
        self.notes.setText(
            "".join(f"<p style='margin:2px 0'>• {html.escape(n)}</p>" for n in comparison.notes)
        )
        self.notes.setVisible(bool(comparison.notes))
        self.swap_button.setEnabled(True)
        fit_table_height(self.table, MAX_TABLE_ROWS)
