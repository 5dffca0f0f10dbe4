"""Training curves (QtCharts): loss per epoch, and validation AP per task per epoch.

Both charts fill live from the trainer's ``epoch`` events (``add_epoch``) and
show a finished run from the database (``LossChart.set_epochs`` with
``core.runs.run_epochs``; ``ApChart.set_task_history``, e.g. from
:func:`ap_history` over every epoch's ``TaskMetricRow``). Colours follow the
widget's palette, so the charts read in light and dark themes alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCharts import QChart, QChartView, QLegend, QLineSeries, QValueAxis
from PySide6.QtCore import QEvent, QMargins, QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QCursor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QGraphicsView, QToolTip, QWidget

from core.runs import EpochInfo, TaskMetricRow

SERIES_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
"""Tableau 10: distinct on light and dark backgrounds."""
MAX_LEGEND_ENTRIES = 12
"""More tasks than this: the legend is hidden (hovering a line names it)."""


def ap_history(rows: Iterable[TaskMetricRow]) -> dict[str, list[tuple[int, float | None]]]:
    """Task name → [(epoch, AP)], in epoch order, from rows of several epochs."""
    history: dict[str, list[tuple[int, float | None]]] = {}
    for row in sorted(rows, key=lambda r: r.epoch):
        history.setdefault(row.name, []).append((row.epoch, row.ap))
    return history


def _epoch_axis() -> QValueAxis:
    axis = QValueAxis()
    axis.setTitleText("epoch")
    axis.setLabelFormat("%d")
    axis.setTickType(QValueAxis.TickType.TicksDynamic)
    axis.setTickAnchor(1)
    axis.setTickInterval(1)
    axis.setMinorTickCount(0)
    axis.setRange(1, 2)
    return axis


def _set_epoch_range(axis: QValueAxis, last: int) -> None:
    """Epochs 1 to ``last``, padded so the first and last points are not cut in half."""
    last = max(2, last)
    pad = 0.03 * (last - 1)
    axis.setRange(1 - pad, last + pad)
    axis.setTickInterval(max(1, math.ceil((last - 1) / 10)))


class _TrainingChart(QChartView):
    """A line chart with an epoch axis, themed from the palette."""

    def __init__(self, title: str, y_title: str, parent: QWidget | None = None) -> None:
        chart = QChart()
        chart.setTitle(title)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.setBackgroundRoundness(0)
        chart.layout().setContentsMargins(0, 0, 0, 0)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.legend().setMarkerShape(QLegend.MarkerShape.MarkerShapeFromSeries)
        super().__init__(chart, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        # Repaint the whole chart on every change: with partial updates, a point marker
        # moved by a rescaled axis left a sliver of itself behind (live training).
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setMinimumSize(240, 180)
        self.x_axis = _epoch_axis()
        self.y_axis = QValueAxis()
        self.y_axis.setTitleText(y_title)
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        self._planned_epochs = 0
        self._last_epoch = 0
        self._apply_palette()

    def _add_series(self, name: str, colour: str, dashed: bool = False) -> QLineSeries:
        series = QLineSeries()
        series.setName(name)
        pen = QPen(QColor(colour))
        pen.setWidthF(2.0)
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        series.setPen(pen)
        series.setPointsVisible(True)
        series.setMarkerSize(6)
        self.chart().addSeries(series)
        series.attachAxis(self.x_axis)
        series.attachAxis(self.y_axis)
        series.hovered.connect(
            lambda point, state, s=series: self._show_point(s, point, bool(state))
        )
        self._apply_palette()
        return series

    def _show_point(self, series: QLineSeries, point: QPointF, state: bool) -> None:
        if state:
            QToolTip.showText(
                QCursor.pos(), f"{series.name()}: {point.y():.3f} at epoch {round(point.x())}"
            )
        else:
            QToolTip.hideText()

    def line_series(self) -> list[QLineSeries]:
        return [s for s in self.chart().series() if isinstance(s, QLineSeries)]

    def point_count(self) -> int:
        """Points drawn over all lines (for tests and "is there anything to show")."""
        return sum(s.count() for s in self.line_series())

    def _note_epoch(self, epoch: int, planned: int | None = None) -> None:
        if planned:
            self._planned_epochs = max(self._planned_epochs, planned)
        self._last_epoch = max(self._last_epoch, epoch)
        _set_epoch_range(self.x_axis, max(self._planned_epochs, self._last_epoch))

    def _reset_epochs(self) -> None:
        self._planned_epochs = 0
        self._last_epoch = 0
        _set_epoch_range(self.x_axis, 2)

    # -- palette ---------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._apply_palette()

    def _apply_palette(self) -> None:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        grid = QColor(text)
        grid.setAlpha(40)
        chart = self.chart()
        chart.setBackgroundBrush(QBrush(base))
        chart.setBackgroundPen(QPen(Qt.PenStyle.NoPen))
        self.setBackgroundBrush(QBrush(base))
        title_font = QFont(self.font())
        title_font.setBold(True)
        chart.setTitleFont(title_font)
        chart.setTitleBrush(QBrush(text))
        chart.legend().setLabelColor(text)
        chart.legend().setFont(self.font())
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.9))
        for axis in (self.x_axis, self.y_axis):
            axis.setLabelsBrush(QBrush(text))
            axis.setLabelsFont(small)
            axis.setTitleBrush(QBrush(muted))
            axis.setTitleFont(small)
            axis.setLinePenColor(muted)
            axis.setGridLineColor(grid)


class LossChart(_TrainingChart):
    """Training and validation loss per epoch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Loss", "loss", parent)
        self.train_series = self._add_series("training", SERIES_COLOURS[0])
        self.val_series = self._add_series("validation", SERIES_COLOURS[1], dashed=True)
        self.clear()

    def clear(self) -> None:
        self.train_series.clear()
        self.val_series.clear()
        self._reset_epochs()
        self.y_axis.setRange(0, 1)

    def add_epoch(self, event: Mapping[str, Any]) -> None:
        """One ``epoch`` event of the trainer (epoch, epochs, train_loss, val_loss)."""
        epoch = int(event["epoch"])
        self._append(epoch, event.get("train_loss"), event.get("val_loss"))
        self._note_epoch(epoch, event.get("epochs"))
        self._fit_y()

    def set_epochs(self, epochs: Sequence[EpochInfo]) -> None:
        """A finished (or running) run's epochs from ``core.runs.run_epochs``."""
        self.clear()
        for e in epochs:
            self._append(e.epoch, e.train_loss, e.val_loss)
        self._note_epoch(max((e.epoch for e in epochs), default=0))
        self._fit_y()

    def _append(self, epoch: int, train: float | None, val: float | None) -> None:
        if train is not None and math.isfinite(train):
            self.train_series.append(epoch, train)
        if val is not None and math.isfinite(val):
            self.val_series.append(epoch, val)

    def _fit_y(self) -> None:
        values = [p.y() for s in self.line_series() for p in s.points()]
        if not values:
            self.y_axis.setRange(0, 1)
            return
        lo, hi = min(values), max(values)
        pad = max((hi - lo) * 0.15, abs(hi) * 0.02, 1e-3)
        self.y_axis.setRange(max(0.0, lo - pad), hi + pad)
        self.y_axis.applyNiceNumbers()


class ApChart(_TrainingChart):
    """Validation AP per task per epoch (0 to 1); a task without AP has no points."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Validation AP per task", "AP", parent)
        # Below, not beside: beside a narrow chart the task names were cut ("pedes…").
        self.chart().legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self._series: dict[str, QLineSeries] = {}
        self.clear()

    def clear(self) -> None:
        for series in self._series.values():
            self.chart().removeSeries(series)
            series.deleteLater()
        self._series.clear()
        self._reset_epochs()
        self.y_axis.setRange(0, 1)
        self.y_axis.setTickCount(6)
        self.y_axis.setLabelFormat("%.1f")

    def series_for(self, name: str) -> QLineSeries:
        """The task's line, made on first use."""
        series = self._series.get(name)
        if series is None:
            colour = SERIES_COLOURS[len(self._series) % len(SERIES_COLOURS)]
            series = self._add_series(name, colour)
            self._series[name] = series
            self.chart().legend().setVisible(len(self._series) <= MAX_LEGEND_ENTRIES)
        return series

    def task_names(self) -> list[str]:
        return list(self._series)

    def na_tasks(self) -> list[str]:
        """Tasks without any AP point (n/a in every epoch so far)."""
        return [name for name, series in self._series.items() if series.count() == 0]

    def _label_empty_series(self) -> None:
        """A task with no AP yet has a muted legend entry."""
        text = self.palette().color(QPalette.ColorRole.Text)
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText)
        legend = self.chart().legend()
        for series in self._series.values():
            for marker in legend.markers(series):
                marker.setLabelBrush(QBrush(text if series.count() else muted))

    def _apply_palette(self) -> None:
        super()._apply_palette()
        if hasattr(self, "_series"):
            self._label_empty_series()

    def add_epoch(self, event: Mapping[str, Any]) -> None:
        """One ``epoch`` event: its ``tasks`` list gives each task's ``name`` and ``ap``."""
        epoch = int(event["epoch"])
        for task in event.get("tasks") or ():
            series = self.series_for(str(task["name"]))
            ap = task.get("ap")
            if ap is not None and math.isfinite(ap):
                series.append(epoch, ap)
        self._note_epoch(epoch, event.get("epochs"))
        self._label_empty_series()

    def set_task_history(self, history: Mapping[str, Sequence[tuple[int, float | None]]]) -> None:
        """Task name → [(epoch, AP or None)] for a whole run."""
        self.clear()
        last = 0
        for name, points in history.items():
            series = self.series_for(name)
            for epoch, ap in points:
                last = max(last, epoch)
                if ap is not None and math.isfinite(ap):
                    series.append(epoch, ap)
        self._note_epoch(last)
        self._label_empty_series()
