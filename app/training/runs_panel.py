"""The runs list: every training run of the project, and the detail of the selected one.

Top, a table of runs (newest first; sortable): id, start time, settings, status
(a failed run's reason as its tooltip), mean AP and duration, read from
:func:`core.runs.list_runs`. Below, whatever the selection asks for:

* one run: its per-task metrics at its best epoch (any other epoch on request),
  its loss and AP curves, and a failed run's reason in plain view;
* two runs (Ctrl+click): a :class:`RunComparison` of the pair;
* "Compare with separate networks": a :class:`CompareSeparateBar` trains a
  shared network and separate per-task networks one after the other on the same
  settings, then shows their comparison here.

Everything is read from the project on demand (``refresh``) and when the window
says that a run finished (``run_finished``); ``run_selected`` tells the window
which run's predictions to show.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from app.training.charts import ApChart, LossChart, ap_history
from app.training.compare_separate import CompareSeparateBar
from app.training.metrics_table import MetricsTable
from app.training.run_compare import (
    RunComparison,
    fit_table_height,
    fmt,
    settings_summary,
    settings_tooltip,
)
from core import runs as core_runs
from core.project import Project
from core.runs import EpochInfo, RunInfo, TaskMetricRow

_Index = QModelIndex | QPersistentModelIndex
MAX_TABLE_ROWS = 12
"""The metrics table grows to this many tasks, then scrolls; the charts get the rest."""
POLL_MS = 5000
"""While a listed run is running, the list re-reads itself this often (epochs done,
a trainer started from a shell, one that died)."""

STATUS_COLOURS = {
    "done": QColor(46, 157, 74),
    "failed": QColor(214, 69, 65),
    "cancelled": QColor(138, 143, 152),
    "running": QColor(33, 118, 199),
    "queued": QColor(33, 118, 199),
}


def task_ap_history(
    project: Project, run_id: int, epochs: list[EpochInfo] | None = None
) -> dict[str, list[tuple[int, float | None]]]:
    """Validation AP per task over a run's epochs: task name → [(epoch, AP or None)].

    One query per epoch (runs have tens of epochs, not thousands)."""
    if epochs is None:
        epochs = core_runs.run_epochs(project, run_id)
    rows: list[TaskMetricRow] = []
    for epoch in epochs:
        rows += core_runs.run_task_metrics(project, run_id, epoch.epoch)
    return ap_history(rows)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def status_text(run: RunInfo) -> str:
    if run.status in ("running", "queued") and run.epochs_done:
        epochs = run.config.get("epochs")
        return f"{run.status} ({run.epochs_done}/{epochs})" if epochs else run.status
    kept = core_runs.auto_kept(run)
    if kept is not None and run.status == "done":
        return "done · auto kept" if kept else "done · auto: not kept"
    return run.status


SEPARATE_TIP = (
    "Train a shared network and separate per-task networks on the same labels and "
    "settings (the selected run's), one after the other, and compare them per task"
)


# -- the list -------------------------------------------------------------------------


class RunRole(IntEnum):
    RunId = int(Qt.ItemDataRole.UserRole)
    Sort = RunId + 1
    """A value that sorts the column naturally (numbers as numbers, n/a last)."""


class Column(IntEnum):
    Id = 0
    Started = 1
    Settings = 2
    Status = 3
    MeanAp = 4
    Duration = 5


HEADERS = {
    Column.Id: "Run",
    Column.Started: "Started",
    Column.Settings: "Settings",
    Column.Status: "Status",
    Column.MeanAp: "Mean AP",
    Column.Duration: "Duration",
}


class RunsModel(QAbstractTableModel):
    """The project's runs, one per row, newest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunInfo] = []

    def set_runs(self, runs: list[RunInfo]) -> None:
        self.beginResetModel()
        self._runs = list(runs)
        self.endResetModel()

    def runs(self) -> list[RunInfo]:
        return list(self._runs)

    def run_at(self, row: int) -> RunInfo:
        return self._runs[row]

    def row_of(self, run_id: int) -> int | None:
        return next((n for n, r in enumerate(self._runs) if r.id == run_id), None)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's idiom
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's idiom
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole and section == Column.MeanAp:
            return "Mean validation AP over the tasks that have one, at the run's best epoch"
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names[RunRole.RunId] = QByteArray(b"runId")
        names[RunRole.Sort] = QByteArray(b"sortValue")
        return names

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        row, column = index.row(), index.column()
        if not (0 <= row < len(self._runs) and 0 <= column < len(Column)):
            return None
        run = self._runs[row]
        col = Column(column)
        if role == RunRole.RunId:
            return run.id
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(run, col)
        if role == RunRole.Sort:
            return self._sort_value(run, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, col)
        if role == Qt.ItemDataRole.ForegroundRole and col == Column.Status:
            return STATUS_COLOURS.get(run.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (
            Column.Id,
            Column.MeanAp,
            Column.Duration,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(run: RunInfo, column: Column) -> str:
        if column == Column.Id:
            return str(run.id)
        if column == Column.Started:
            when = run.started_at or run.created_at
            return when.astimezone().strftime("%Y-%m-%d %H:%M")
        if column == Column.Settings:
            return settings_summary(run.config)
        if column == Column.Status:
            return status_text(run)
        if column == Column.MeanAp:
            return fmt(run.best_mean_ap)
        return fmt_duration(run.seconds)

    @staticmethod
    def _sort_value(run: RunInfo, column: Column) -> Any:
        if column == Column.Id:
            return run.id
        if column == Column.Started:
            return (run.started_at or run.created_at).timestamp()
        if column == Column.MeanAp:
            return -1.0 if run.best_mean_ap is None else run.best_mean_ap
        if column == Column.Duration:
            return -1.0 if run.seconds is None else run.seconds
        return RunsModel._text(run, column)

    @staticmethod
    def _tooltip(run: RunInfo, column: Column) -> str | None:
        if column == Column.Status:
            if run.error:
                return f"{run.status}: {run.error}"
            if run.device:
                return f"{run.status} on {run.device}"
            return run.status
        if column == Column.Settings:
            return settings_tooltip(run.config)
        if column == Column.MeanAp:
            if run.best_mean_ap is None:
                if run.epochs_done:
                    return "No task had both classes in validation: no AP to average"
                return "No epoch finished"
            return f"Best epoch {run.best_epoch} of {run.epochs_done}"
        if column == Column.Started:
            when = (run.started_at or run.created_at).astimezone()
            return when.strftime("%Y-%m-%d %H:%M:%S %Z")
        return None


# -- the panel ------------------------------------------------------------------------


class RunsPanel(QWidget):
    """The runs list over the selected run's metrics and curves (or a comparison)."""

    run_selected = Signal(int)
    """Another single run was selected: the window shows its predictions. (Not repeated
    when a refresh keeps the same run selected, nor for multi-selections.)"""
    runs_changed = Signal()
    """The list was re-read (a run may have appeared or finished)."""
    comparison_running_changed = Signal(bool)
    """The shared-vs-separate job started (True) or ended (False)."""

    PAGE_EMPTY, PAGE_RUN, PAGE_COMPARE = 0, 1, 2

    def __init__(self, session: ProjectSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._settings_provider: Callable[[], dict[str, Any]] | None = None
        self._training_elsewhere = False  # the Train panel's trainer is running
        self._shown_run: int | None = None
        self._announced_run: int | None = None
        self._loading = False

        self.model = RunsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(RunRole.Sort)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(Column.Id, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(Column.Settings, QHeaderView.ResizeMode.Stretch)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)

        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.setToolTip("Read the runs again from the project")
        self.refresh_action.triggered.connect(self.refresh)
        self.compare_action = QAction("Compare", self)
        self.compare_action.setToolTip("Select two runs (Ctrl+click) to compare them per task")
        self.compare_action.triggered.connect(self.compare_selected)
        self.separate_action = QAction("Compare with separate networks…", self)
        self.separate_action.setToolTip(SEPARATE_TIP)
        self.separate_action.triggered.connect(lambda: self.compare_with_separate())
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.refresh_action, self.compare_action, self.separate_action):
            self.toolbar.addAction(action)
        self.count_label = QLabel()
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.toolbar.addWidget(self.count_label)

        self.separate_bar = CompareSeparateBar(self)
        self.separate_bar.finished.connect(self._separate_finished)
        self.separate_bar.run_started.connect(lambda _run: self.refresh())
        self.separate_bar.hide()

        # detail of one run
        self.run_title = QLabel()
        self.run_title.setTextFormat(Qt.TextFormat.RichText)
        self.run_title.setWordWrap(True)
        self.run_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_error = QLabel()
        self.run_error.setWordWrap(True)
        self.run_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_error.setStyleSheet(
            "QLabel { background: rgba(214, 69, 65, 40); border: 1px solid rgba(214, 69, 65, 160);"
            " border-radius: 3px; padding: 4px; }"
        )
        self.epoch_box = QComboBox()
        self.epoch_box.setToolTip("Which epoch's metrics the table shows")
        self.epoch_box.currentIndexChanged.connect(self._epoch_chosen)
        title_row = QHBoxLayout()
        title_row.addWidget(self.run_title, 1)
        title_row.addWidget(QLabel("Metrics of"))
        title_row.addWidget(self.epoch_box)
        self.metrics = MetricsTable()
        self.metrics_note = QLabel()
        self.metrics_note.setWordWrap(True)
        self.loss_chart = LossChart()
        self.ap_chart = ApChart()
        self.charts = QSplitter(Qt.Orientation.Horizontal)
        self.charts.addWidget(self.loss_chart)
        self.charts.addWidget(self.ap_chart)
        self.charts.setChildrenCollapsible(False)
        self.charts.setMinimumHeight(220)
        run_page = QWidget()
        run_layout = QVBoxLayout(run_page)
        run_layout.setContentsMargins(0, 0, 0, 0)
        run_layout.addLayout(title_row)
        run_layout.addWidget(self.run_error)
        run_layout.addWidget(self.metrics)
        run_layout.addWidget(self.metrics_note)
        run_layout.addWidget(self.charts, 1)

        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.comparison = RunComparison(session)
        self.comparison.closed.connect(self._comparison_closed)
        self.detail = QStackedWidget()
        self.detail.addWidget(self.placeholder)
        self.detail.addWidget(run_page)
        self.detail.addWidget(self.comparison)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.toolbar)
        top_layout.addWidget(self.view, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([240, 560])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.separate_bar)
        layout.addWidget(self.splitter, 1)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.refresh)
        runs_changed = getattr(session, "runs_changed", None)
        if runs_changed is not None:  # a session that announces runs: follow it
            runs_changed.connect(self.refresh)
        self.refresh()

    # -- public ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the runs again, keeping the selection (and what the detail shows)."""
        selected = self.selected_run_ids()
        try:
            core_runs.reap_dead_runs(self.session.project)
            runs = core_runs.list_runs(self.session.project)
        except Exception as exc:  # an unreadable database: say so, keep what is shown
            self.session.error.emit(f"The runs could not be read: {exc}")
            return
        self._loading = True
        try:
            self.model.set_runs(runs)
            kept = [i for i in selected if self.model.row_of(i) is not None]
            self._select_ids(kept, scroll=False)
        finally:
            self._loading = False
        n = len(runs)
        self.count_label.setText(f"{n} run" + ("s" if n != 1 else ""))
        if any(r.status in ("running", "queued") for r in runs):
            if not self.poll_timer.isActive():
                self.poll_timer.start()
        else:
            self.poll_timer.stop()
        self._show_selection(reload=True)
        self.runs_changed.emit()

    def run_finished(self, run_id: int | None = None) -> None:
        """The window's slot for "a training run ended": re-read, and select that run."""
        self.refresh()
        if run_id is not None and self.model.row_of(run_id) is not None:
            self.select_runs([run_id])

    def selected_run_ids(self) -> list[int]:
        """Selected runs, in the order the list shows them."""
        shown = sorted(self.view.selectionModel().selectedRows(), key=lambda i: i.row())
        return [self.model.run_at(self.proxy.mapToSource(i).row()).id for i in shown]

    def select_runs(self, run_ids: list[int]) -> None:
        """Select these runs (one: its detail; two: their comparison)."""
        self._select_ids(run_ids)

    def shown_run(self) -> int | None:
        """The run whose detail is shown, if one is."""
        return self._shown_run if self.detail.currentIndex() == self.PAGE_RUN else None

    def compare(self, run_a: int, run_b: int, *, keep_order: bool = False) -> None:
        """Show the comparison of two runs in the detail area."""
        self.comparison.compare(run_a, run_b, keep_order=keep_order)
        self.detail.setCurrentIndex(self.PAGE_COMPARE)

    def compare_selected(self) -> None:
        ids = self.selected_run_ids()
        if len(ids) == 2:
            self.compare(ids[0], ids[1])

    def set_settings_provider(self, provider: Callable[[], dict[str, Any]] | None) -> None:
        """Where "Compare with separate networks" takes its settings when no run is selected
        (the train panel's current choice); None: only from a selected run."""
        self._settings_provider = provider
        self._update_actions()

    def compare_with_separate(self, settings: dict[str, Any] | None = None) -> bool:
        """Train shared then separate networks with ``settings`` (default: the selected run's
        settings, else the provider's) and compare them when both are done. False when
        there are no settings to use or a comparison is already running."""
        if settings is None:
            ids = self.selected_run_ids()
            if len(ids) == 1:
                row = self.model.row_of(ids[0])
                settings = None if row is None else dict(self.model.run_at(row).config)
            elif self._settings_provider is not None:
                settings = self._settings_provider()
        if settings is None or self.separate_bar.is_running() or self._training_elsewhere:
            return False
        started = self.separate_bar.start(str(self.session.project.root), settings)
        self._update_actions()
        if started:
            self.comparison_running_changed.emit(True)
        return started

    def set_training_elsewhere(self, training: bool) -> None:
        """The Train panel's trainer is (not) running: no comparison starts meanwhile."""
        self._training_elsewhere = training
        self._update_actions()

    def cancel_comparison_job(self) -> None:
        self.separate_bar.cancel()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop a running comparison's trainer and wait for it (closing the window): the
        run in progress is marked cancelled."""
        self.separate_bar.shutdown(timeout_s)

    # -- selection and detail ---------------------------------------------------------

    def _select_ids(self, run_ids: list[int], *, scroll: bool = True) -> None:
        selection = QItemSelection()
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            if row is None:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            last = self.proxy.mapFromSource(self.model.index(row, len(Column) - 1))
            selection.select(index, last)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.view.selectionModel().select(selection, flags)
        if run_ids and (row := self.model.row_of(run_ids[0])) is not None:
            current = self.proxy.mapFromSource(self.model.index(row, 0))
            self.view.selectionModel().setCurrentIndex(
                current, QItemSelectionModel.SelectionFlag.NoUpdate
            )
            if scroll:
                self.view.scrollTo(current)

    def _selection_changed(self, *_args: Any) -> None:
        if not self._loading:
            self._show_selection(reload=False)

    def _show_selection(self, *, reload: bool) -> None:
        self._update_actions()
        ids = self.selected_run_ids()
        if len(ids) == 1:
            run_id = ids[0]
            if reload or run_id != self._shown_run or self.detail.currentIndex() != self.PAGE_RUN:
                self._show_run(run_id)
            if run_id != self._announced_run:
                self._announced_run = run_id
                self.run_selected.emit(run_id)
        elif len(ids) == 2:
            shown = self.comparison.comparison
            pair = {ids[0], ids[1]}
            if (
                reload
                or shown is None
                or {shown.run_a.id, shown.run_b.id} != pair
                or self.detail.currentIndex() != self.PAGE_COMPARE
            ):
                keep = shown is not None and {shown.run_a.id, shown.run_b.id} == pair
                if keep and shown is not None:
                    self.compare(shown.run_a.id, shown.run_b.id, keep_order=True)
                else:
                    self.compare(ids[0], ids[1])
        else:
            self._shown_run = None
            if not self.model.runs():
                self.placeholder.setText(
                    "No training runs yet. Train one with the Train button (or "
                    "'mtlabel train' on the command line)."
                )
            elif ids:
                self.placeholder.setText(
                    f"{len(ids)} runs selected: select one to see its metrics, two to compare them."
                )
            else:
                self.placeholder.setText(
                    "Select a run to see its per-task metrics and curves; select two "
                    "(Ctrl+click) to compare them."
                )
            self.detail.setCurrentIndex(self.PAGE_EMPTY)

    def _update_actions(self) -> None:
        ids = self.selected_run_ids()
        self.compare_action.setEnabled(len(ids) == 2)
        busy = self.separate_bar.is_running() or self._training_elsewhere
        self.separate_action.setEnabled(
            not busy and (len(ids) == 1 or (not ids and self._settings_provider is not None))
        )
        self.separate_action.setToolTip(
            "A run is training: compare when it has finished"
            if self._training_elsewhere
            else SEPARATE_TIP
        )

    def _show_run(self, run_id: int) -> None:
        project = self.session.project
        try:
            run = core_runs.get_run(project, run_id)
            epochs = core_runs.run_epochs(project, run_id)
            history = task_ap_history(project, run_id, epochs)
        except Exception as exc:
            self.session.error.emit(f"Run {run_id} could not be read: {exc}")
            return
        chosen = self.epoch_box.currentData() if run_id == self._shown_run else None
        self._shown_run = run_id
        self.run_title.setText(self._title_html(run))
        if run.error and run.status != "done":
            verb = {"failed": "Failed", "cancelled": "Cancelled"}.get(run.status, run.status)
            self.run_error.setText(f"{verb}: {run.error}")
            self.run_error.show()
        else:
            self.run_error.hide()
        self.epoch_box.blockSignals(True)
        self.epoch_box.clear()
        best = run.best_epoch or (epochs[-1].epoch if epochs else None)
        for epoch in reversed(epochs):
            ap = "" if epoch.mean_ap is None else f" — mean AP {epoch.mean_ap:.3f}"
            tag = " (best)" if epoch.epoch == run.best_epoch else ""
            self.epoch_box.addItem(f"epoch {epoch.epoch}{tag}{ap}", epoch.epoch)
        shown_epoch = best
        if chosen is not None and self.epoch_box.findData(chosen) >= 0:
            shown_epoch = int(chosen)  # a refresh keeps the epoch the user chose
        if shown_epoch is not None:
            self.epoch_box.setCurrentIndex(max(0, self.epoch_box.findData(shown_epoch)))
        self.epoch_box.setEnabled(bool(epochs))
        self.epoch_box.blockSignals(False)
        self._show_metrics(run, shown_epoch)
        self.loss_chart.set_epochs(epochs)
        self.ap_chart.set_task_history(history)
        self.charts.setVisible(bool(epochs))
        self.detail.setCurrentIndex(self.PAGE_RUN)

    def _show_metrics(self, run: RunInfo, epoch: int | None) -> None:
        rows = (
            [] if epoch is None else core_runs.run_task_metrics(self.session.project, run.id, epoch)
        )
        self.metrics.set_rows(rows)
        best = run.best_epoch or run.epochs_done
        editable = bool(rows) and run.predictions_complete and epoch == best
        self.metrics.set_editable_run(self.session.project if editable else None, run.id)
        fit_table_height(self.metrics, MAX_TABLE_ROWS)
        if not rows:
            why = {
                "failed": "the run failed before its first epoch ended",
                "cancelled": "the run was cancelled before its first epoch ended",
                "running": "no epoch has finished yet",
                "queued": "the run has not started",
            }.get(run.status, "the run recorded none")
            self.metrics_note.setText(f"No per-task metrics: {why}.")
            self.metrics_note.show()
        else:
            na = [r.name for r in rows if r.ap is None]
            if na:
                self.metrics_note.setText(
                    "n/a: no AP for " + ", ".join(na) + " (hover a cell for the reason). "
                    "The mean AP leaves such tasks out."
                )
                self.metrics_note.show()
            else:
                self.metrics_note.hide()

    def _epoch_chosen(self, index: int) -> None:
        if self._shown_run is None or index < 0:
            return
        try:
            run = core_runs.get_run(self.session.project, self._shown_run)
        except Exception as exc:
            self.session.error.emit(f"Run {self._shown_run} could not be read: {exc}")
            return
        self._show_metrics(run, int(self.epoch_box.itemData(index)))

    @staticmethod
    def _title_html(run: RunInfo) -> str:
        colour = STATUS_COLOURS.get(run.status, QColor(128, 128, 128)).name()
        parts = [
            f"<b>Run {run.id}</b>",
            f"<span style='color:{colour}'><b>{html.escape(status_text(run))}</b></span>",
        ]
        if run.best_epoch is not None:
            parts.append(f"best epoch {run.best_epoch} of {run.epochs_done}")
        else:
            parts.append(f"{run.epochs_done} epoch" + ("s" if run.epochs_done != 1 else ""))
        parts.append(f"mean AP {fmt(run.best_mean_ap)}")
        if run.device:
            parts.append(html.escape(run.device))
        if run.seconds is not None:
            parts.append(fmt_duration(run.seconds))
        when = (run.started_at or run.created_at).astimezone().strftime("%Y-%m-%d %H:%M")
        parts.append(when)
        settings = html.escape(settings_summary(run.config))
        if run.snapshot:
            images = run.snapshot.get("images")
            train, val = run.snapshot.get("train_images"), run.snapshot.get("val_images")
            if images is not None:
                settings += f" · {images} images"
                if train is not None and val is not None:
                    settings += f" ({train} train, {val} validation)"
        return " · ".join(parts) + f"<br><small>{settings}</small>"

    def _comparison_closed(self) -> None:
        shown = self.comparison.comparison
        if shown is not None and self.model.row_of(shown.run_b.id) is not None:
            self.select_runs([shown.run_b.id])
        else:
            self._select_ids([])
            self._show_selection(reload=False)

    def _separate_finished(self, shared: object, separate: object, message: str) -> None:
        self.refresh()
        self._update_actions()
        self.comparison_running_changed.emit(False)
        if isinstance(shared, int) and isinstance(separate, int):
            self._loading = True
            try:
                self._select_ids([shared, separate])
            finally:
                self._loading = False
            self.compare(separate, shared, keep_order=True)
            self._update_actions()
