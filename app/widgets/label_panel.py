"""One row per task, each a three-way segmented control: Present / Absent / ?.

The panel never trusts its own clicks for what it shows: a click goes to the
session (which commits it and pushes one undoable command), and the rows are
redrawn from the database when the session announces ``labels_changed`` — so
undo, redo, bulk edits and other windows all show up the same way.

With a run set (``set_run``), each row of a single image also shows the run's
prediction: a thin bar (0–100 %, a tick at the task's threshold) coloured by
agreement with the label — green agrees, red disagrees, blue for an unknown
cell — and, on unknown rows, an "Accept" button that sets the predicted value
as one undoable command recorded with source "prediction".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import QEvent, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.keys import LABEL_KEYS, MAX_TASK_KEYS
from app.session import LabelsChanged, ProjectSession
from app.widgets.image_info import image_info, image_infos
from core import labels as core_labels
from core import predictions as core_predictions
from core.errors import NotFoundError, UserError
from core.labels import ABSENT, PRESENT, UNKNOWN, CellValue
from core.tasks import TaskInfo
from core.thresholds import NEAR_THRESHOLD

# (value, button text, state name used in accessible names and object names)
SEGMENTS: tuple[tuple[CellValue, str, str], ...] = (
    (PRESENT, "Present", "present"),
    (ABSENT, "Absent", "absent"),
    (UNKNOWN, "?", "unknown"),
)
CYCLE: dict[CellValue, CellValue] = {UNKNOWN: PRESENT, PRESENT: ABSENT, ABSENT: UNKNOWN}
"""What a task key does to a cell: ? → present → absent → ?."""
_BUTTON_IDS = {PRESENT: 1, ABSENT: 0, UNKNOWN: 2}
_DEFAULT_COLOUR = "#4e79a7"
UNSURE_MARK = "⚠"
"""Before "Accept → …" when the probability is within NEAR_THRESHOLD of the threshold."""

AGREES, DISAGREES, UNKNOWN_CELL = "agrees", "disagrees", "unknown"
BAR_COLOURS = {AGREES: "#2e9d4a", DISAGREES: "#d64541", UNKNOWN_CELL: "#3d7fd9"}
"""Prediction bar fill: the model agrees with the label, contradicts it, or the cell is
unknown."""


def task_key(index: int) -> str:
    """The key shown for the task at display ``index`` (0-based): "1" … "9", then none."""
    return str(index + 1) if 0 <= index < MAX_TASK_KEYS else ""


def counts_text(values: Sequence[CellValue]) -> str:
    """ "5 present · 3 absent · 4 ?" (parts that are zero are left out)."""
    parts = []
    for value, _, name in SEGMENTS:
        n = sum(1 for v in values if v == value)
        if n:
            parts.append(f"{n:,} {'?' if value is None else name}")
    return " · ".join(parts)


def _text_on(colour: QColor) -> str:
    """Black or white, whichever reads better on ``colour``."""
    luminance = 0.2126 * colour.redF() + 0.7152 * colour.greenF() + 0.0722 * colour.blueF()
    return "#111111" if luminance > 0.55 else "#ffffff"


class _ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" instead of growing the panel."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = text
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(30)
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(30, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.width())
        metrics = self.fontMetrics()
        shown = metrics.elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        if shown != self.text():
            self.setText(shown)


def agreement(probability: float, threshold: float, value: CellValue) -> str:
    """``AGREES``, ``DISAGREES`` or ``UNKNOWN_CELL``: the prediction (``p >= t`` is present)
    against the cell's label."""
    if value is None:
        return UNKNOWN_CELL
    predicted = core_predictions.predicted_value(probability, threshold)
    return AGREES if predicted == value else DISAGREES


def prediction_tooltip(probability: float, threshold: float) -> str:
    """ "p = 0.83 (threshold 0.41)"."""
    return f"p = {probability:.2f} (threshold {threshold:.2f})"


class PredictionBar(QWidget):
    """A thin bar: the probability as a fill from the left (0–100 %), a tick at the
    threshold, the fill coloured by agreement with the label."""

    BAR_HEIGHT = 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionBar")
        self.setFixedHeight(self.BAR_HEIGHT + 6)
        self.setMinimumWidth(40)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._p = 0.0
        self._t = 0.5
        self._state = UNKNOWN_CELL

    def set_prediction(self, probability: float, threshold: float, state: str) -> None:
        self._p = min(1.0, max(0.0, float(probability)))
        self._t = min(1.0, max(0.0, float(threshold)))
        self._state = state
        self.update()

    def probability(self) -> float:
        return self._p

    def threshold(self) -> float:
        return self._t

    def state(self) -> str:
        """``AGREES``, ``DISAGREES`` or ``UNKNOWN_CELL``."""
        return self._state

    def colour(self) -> QColor:
        return QColor(BAR_COLOURS[self._state])

    def sizeHint(self) -> QSize:
        return QSize(120, self.BAR_HEIGHT + 6)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        inset = 2.0  # room for the tick's cap at 0 and 100 %
        track = QRectF(inset, (h - self.BAR_HEIGHT) / 2, w - 2 * inset, self.BAR_HEIGHT)
        radius = self.BAR_HEIGHT / 2
        groove = QColor(self.palette().color(QPalette.ColorRole.Mid))
        groove.setAlpha(90)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(groove)
        painter.drawRoundedRect(track, radius, radius)
        if self._p > 0:
            fill = QRectF(
                track.x(), track.y(), max(track.height(), track.width() * self._p), track.height()
            )
            painter.setBrush(self.colour())
            painter.drawRoundedRect(fill, radius, radius)
        x = track.x() + track.width() * self._t
        pen = QPen(self.palette().color(QPalette.ColorRole.WindowText), 2)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setPen(pen)
        painter.drawLine(QRectF(x, 0, 0, h).topLeft(), QRectF(x, 0, 0, h).bottomLeft())
        painter.end()


class TaskRow(QFrame):
    """Key, colour swatch, name (and counts in bulk mode), and the segmented control."""

    def __init__(self, task: TaskInfo, index: int, dark: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.task = task
        self.index = index
        self.setObjectName(f"taskRow{task.id}")
        self.setAccessibleName(task.name)
        key = task_key(index)

        self.key_label = QLabel(key)
        self.key_label.setObjectName("taskKey")
        self.key_label.setFixedWidth(18)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key_label.setToolTip(
            f"Key {key} cycles {task.name}: ? → present → absent" if key else ""
        )

        colour = QColor(task.colour or _DEFAULT_COLOUR)
        self.swatch = QLabel()
        self.swatch.setObjectName("taskSwatch")
        self.swatch.setFixedSize(12, 12)
        self.swatch.setStyleSheet(
            f"background: {colour.name()}; border-radius: 3px; border: 1px solid "
            f"{colour.darker(130).name()};"
        )

        self.name_label = _ElidedLabel(task.name)
        self.name_label.setObjectName("taskName")
        self.counts_label = _ElidedLabel("")
        self.counts_label.setObjectName("taskCounts")
        small = QFont(self.counts_label.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        self.counts_label.setFont(small)
        self.counts_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.counts_label.hide()

        self.segments = QWidget()
        self.segments.setObjectName("segments")
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[CellValue, QPushButton] = {}
        seg_layout = QHBoxLayout(self.segments)
        seg_layout.setContentsMargins(0, 0, 0, 0)
        seg_layout.setSpacing(0)
        for value, text, name in SEGMENTS:
            button = QPushButton(text)
            button.setObjectName(f"segment_{name}")
            button.setProperty("segment", name)
            button.setProperty("partial", False)
            button.setCheckable(True)
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click keeps the window's focus
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setAccessibleName(f"{task.name}: {name}")
            tip = f"{task.name}: {name}"
            if key:
                tip += f" — key {key} cycles ? → present → absent"
            button.setToolTip(tip)
            # Wide enough for the bold text of the checked state, so nothing jumps or clips.
            bold = QFont(button.font())
            bold.setBold(True)
            width = QFontMetrics(bold).horizontalAdvance(text) + 14
            button.setMinimumWidth(max(30, width))
            self.group.addButton(button, _BUTTON_IDS[value])
            self.buttons[value] = button
            seg_layout.addWidget(button)
        self.segments.setStyleSheet(self._style(colour, dark))

        # The selected run's prediction (shown for a single image once a run is set).
        self.prediction = QWidget()
        self.prediction.setObjectName("prediction")
        self.prediction_bar = PredictionBar()
        self.prediction_text = QLabel()
        self.prediction_text.setObjectName("predictionText")
        self.prediction_text.setFont(small)
        self.prediction_text.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.prediction_text.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.prediction_text.setFixedWidth(QFontMetrics(small).horizontalAdvance("100 %") + 4)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("acceptPrediction")
        self.accept_button.setFont(small)
        # As wide as its longest text, so that every row's bar has the same length.
        widest = QFontMetrics(small).horizontalAdvance(f"{UNSURE_MARK} Accept → present")
        self.accept_button.setFixedWidth(widest + 20)
        self.accept_button.setAutoDefault(False)
        self.accept_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.accept_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.accept_button.setStyleSheet(
            "QPushButton { padding: 0px 8px; min-height: 16px; border: 1px solid palette(mid);"
            " border-radius: 4px; background: palette(button); }"
            " QPushButton:hover { background: palette(midlight); }"
        )
        # Hidden on known cells but keeping its room: every bar has the same length, so
        # the threshold ticks of the rows line up.
        keep_room = self.accept_button.sizePolicy()
        keep_room.setRetainSizeWhenHidden(True)
        self.accept_button.setSizePolicy(keep_room)
        line = QHBoxLayout(self.prediction)
        line.setContentsMargins(0, 2, 0, 0)
        line.setSpacing(6)
        line.addWidget(self.prediction_bar, 1)
        line.addWidget(self.prediction_text)
        line.addWidget(self.accept_button)
        self.prediction.hide()
        self._predicted: tuple[float, float] | None = None

        layout = QGridLayout(self)
        layout.setContentsMargins(4, 3, 4, 3)
        layout.setHorizontalSpacing(6)
        layout.setVerticalSpacing(0)
        layout.addWidget(self.key_label, 0, 0)
        layout.addWidget(self.swatch, 0, 1)
        layout.addWidget(self.name_label, 0, 2)
        layout.addWidget(self.segments, 0, 3)
        layout.addWidget(self.counts_label, 1, 2, 1, 2)  # bulk mode: counts under the row
        layout.addWidget(self.prediction, 2, 2, 1, 2)  # a run's prediction under the row
        layout.setColumnStretch(2, 1)

    def show_values(self, values: Sequence[CellValue]) -> None:
        """Show the cells of this task on the current images (several: a mixed state)."""
        distinct = set(values)
        checked = next(iter(distinct)) if len(distinct) == 1 else "none"
        self.group.setExclusive(False)  # an exclusive group cannot show "none checked"
        for value, button in self.buttons.items():
            button.setChecked(value == checked)
            partial_mark = len(distinct) > 1 and value in distinct
            if button.property("partial") != partial_mark:
                button.setProperty("partial", partial_mark)
                button.style().unpolish(button)
                button.style().polish(button)
        self.group.setExclusive(True)
        bulk = len(values) > 1
        text = counts_text(values) if bulk else ""
        self.counts_label.set_full_text(text)
        self.counts_label.setVisible(bulk)
        self.setAccessibleDescription(text)

    def show_prediction(self, prediction: tuple[float, float] | None, value: CellValue) -> None:
        """Show the run's (probability, threshold) for this cell against its ``value``;
        None hides the line. The Accept button shows on unknown cells only."""
        self._predicted = prediction
        if prediction is None:
            self.prediction.hide()
            self.prediction.setToolTip("")
            return
        p, t = prediction
        state = agreement(p, t, value)
        self.prediction_bar.set_prediction(p, t, state)
        self.prediction_text.setText(f"{round(p * 100)} %")
        what = {
            AGREES: "agrees with the label",
            DISAGREES: "contradicts the label",
            UNKNOWN_CELL: "the label is unknown",
        }[state]
        predicted = "present" if core_predictions.predicted_value(p, t) else "absent"
        tip = prediction_tooltip(p, t)
        self.prediction.setToolTip(f"{tip}\npredicts {predicted}: {what}")
        self.prediction_bar.setAccessibleName(f"{self.task.name}: prediction")
        self.prediction_bar.setAccessibleDescription(f"{tip}, predicts {predicted}, {what}")
        self.accept_button.setVisible(value is None)
        unsure = abs(p - t) < NEAR_THRESHOLD
        self.accept_button.setText(f"{UNSURE_MARK} " * unsure + f"Accept → {predicted}")
        warning = (
            f"\nUnsure: {p:.2f} is within {NEAR_THRESHOLD:.2f} of the threshold {t:.2f}, "
            "nearly a coin toss — look at the image before accepting."
            if unsure
            else ""
        )
        self.accept_button.setToolTip(
            f"Set {self.task.name} to {predicted}, as predicted ({tip}){warning}"
        )
        self.accept_button.setAccessibleName(
            f"Accept {self.task.name} = {predicted}" + (" (unsure)" if unsure else "")
        )
        self.prediction.show()

    def predicted(self) -> tuple[float, float] | None:
        """The (probability, threshold) shown, or None when no prediction is shown."""
        return self._predicted

    def checked_value(self) -> CellValue | str:
        """The checked segment's value, or "mixed" when none is checked."""
        for value, button in self.buttons.items():
            if button.isChecked():
                return value
        return "mixed"

    @staticmethod
    def _style(colour: QColor, dark: bool) -> str:
        present = colour.name()
        on_present = _text_on(colour)
        absent_bg, absent_fg = ("#c9ccd1", "#1b1d21") if dark else ("#4a4f57", "#ffffff")
        return f"""
QPushButton {{
    border: 1px solid palette(mid);
    background: palette(button);
    color: palette(button-text);
    padding: 3px 6px;
    min-height: 18px;
}}
QPushButton:hover {{ background: palette(midlight); }}
QPushButton:disabled {{ color: palette(mid); }}
QPushButton[segment="present"] {{
    border-top-left-radius: 5px; border-bottom-left-radius: 5px;
}}
QPushButton[segment="absent"] {{ border-left: none; }}
QPushButton[segment="unknown"] {{
    border-left: none; border-top-right-radius: 5px; border-bottom-right-radius: 5px;
}}
QPushButton[partial="true"] {{ border-bottom: 3px solid palette(highlight); padding-bottom: 1px; }}
QPushButton[segment="present"]:checked {{
    background: {present}; border-color: {colour.darker(125).name()};
    color: {on_present}; font-weight: 600;
}}
QPushButton[segment="absent"]:checked {{
    background: {absent_bg}; border-color: {absent_bg}; color: {absent_fg}; font-weight: 600;
}}
QPushButton[segment="unknown"]:checked {{
    background: transparent; border: 2px solid palette(text); padding: 2px 5px;
    font-weight: 600;
}}
QPushButton:checked:disabled {{ background: palette(window); color: palette(mid); }}
"""


class LabelPanel(QWidget):
    """The tri-state labels of the current image(s), one row per active task."""

    def __init__(self, session: ProjectSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labelPanel")
        self._session = session
        self._image_ids: list[int] = []
        self._rows: list[TaskRow] = []
        self._run_id: int | None = None

        self.title = QLabel()
        self.title.setObjectName("labelPanelTitle")
        title_font = QFont(self.title.font())
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.1)
        self.title.setFont(title_font)

        self._rows_box = QWidget()
        self._rows_layout = QVBoxLayout(self._rows_box)
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(1)
        self._rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("labelRows")
        scroll.setWidget(self._rows_box)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.viewport().setAutoFillBackground(False)
        self._rows_box.setAutoFillBackground(False)

        self.empty_note = QLabel("This project has no tasks yet: add one in the Tasks panel.")
        self.empty_note.setWordWrap(True)
        self.empty_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.empty_note.hide()

        self.fill_button = QPushButton("All ? → absent")
        self.fill_button.setObjectName("allUnknownToAbsent")
        self.fill_button.setToolTip("Set every unknown task of the current image(s) to absent (A)")
        self.fill_button.setAccessibleName("All unknown to absent")
        self.fill_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.fill_button.setAutoDefault(False)
        self.fill_button.clicked.connect(self.all_unknown_to_absent)

        self.accept_all_button = QPushButton("Accept predictions")
        self.accept_all_button.setObjectName("acceptAllPredictions")
        self.accept_all_button.setToolTip(
            "Set every unknown task of the current image(s) to the value the selected run "
            "predicts — the button says which values (P; one undoable step)"
        )
        self.accept_all_button.setAccessibleName("Accept all predictions for unknown tasks")
        self.accept_all_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.accept_all_button.setAutoDefault(False)
        self.accept_all_button.clicked.connect(self.accept_all_unknown)
        self.accept_all_button.hide()

        self.keys_help = QLabel(
            "<table cellspacing=0 cellpadding=1>"
            + "".join(
                f"<tr><td><b>{keys}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>"
                for keys, what in LABEL_KEYS
            )
            + "</table>"
        )
        self.keys_help.setObjectName("labelKeysHelp")
        self.keys_help.setWordWrap(True)
        self.keys_help.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        small = QFont(self.keys_help.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        self.keys_help.setFont(small)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.empty_note)
        layout.addWidget(scroll, 1)
        fill_row = QHBoxLayout()
        fill_row.addWidget(self.fill_button)
        fill_row.addWidget(self.accept_all_button)
        fill_row.addStretch(1)
        layout.addLayout(fill_row)
        layout.addWidget(self.keys_help)

        session.labels_changed.connect(self._on_labels_changed)
        session.tasks_changed.connect(self._rebuild)
        session.images_changed.connect(self._refresh)
        self._rebuild()
        self._ready = True

    # -- what is shown ---------------------------------------------------------------

    def set_images(self, image_ids: Sequence[int]) -> None:
        """Show (and act on) these images: one, several (bulk mode), or none."""
        self._image_ids = list(dict.fromkeys(int(i) for i in image_ids))
        self._refresh()

    def image_ids(self) -> list[int]:
        return list(self._image_ids)

    def rows(self) -> list[TaskRow]:
        """The task rows in display order."""
        return list(self._rows)

    def set_run(self, run_id: int | None) -> None:
        """Show this run's predictions next to the labels (None: none). A run whose
        predictions are incomplete is refused with a message (and none is shown)."""
        if run_id is not None:
            try:
                core_predictions.thresholds(self._session.project, run_id)
            except UserError as exc:
                self._session.error.emit(f"The predictions cannot be shown: {exc}")
                run_id = None
        self._run_id = run_id
        self.accept_all_button.setVisible(run_id is not None)
        self._refresh()

    def run_id(self) -> int | None:
        """The run whose predictions are shown, or None."""
        return self._run_id

    # -- actions (the window binds keys to these) ------------------------------------------

    def cycle_task(self, index: int) -> None:
        """Task at display ``index``: ? → present → absent → ?, on every current image.

        In bulk mode the first image's next value is set on all of them (one command).
        """
        task = self._task_at(index)
        if task is None or not self._image_ids:
            return
        try:
            first = self._session.row(self._image_ids[0]).get(task.id)
        except UserError as exc:
            self._session.error.emit(str(exc))
            return
        self._apply(task, CYCLE[first])

    def set_task(self, index: int, value: CellValue) -> None:
        """Set the task at display ``index`` to ``value`` on every current image (one command)."""
        task = self._task_at(index)
        if task is not None and self._image_ids:
            self._apply(task, value)

    def all_unknown_to_absent(self) -> None:
        """Every unknown cell of the current image(s) → absent, as one command."""
        rows = self._read_rows()
        if not rows:
            return
        cells = [(i, t, ABSENT) for i, row in rows.items() for t, v in row.items() if v is None]
        n = len({i for i, _, _ in cells})
        where = f"{n:,} image" + ("s" if n != 1 else "")
        if not self._session.set_cells(cells, text=f"Set unknown → absent on {where}"):
            self._refresh()  # nothing changed: show what the database holds

    def accept_prediction(self, index: int) -> None:
        """Set the unknown cell of the task at display ``index`` to its predicted value, on
        the current image (one command, source "prediction"); known cells are left alone."""
        task = self._task_at(index)
        if task is None or self._run_id is None or len(self._image_ids) != 1:
            return
        try:
            cells = core_predictions.accept_cell(
                self._session.project, self._run_id, self._image_ids[0], task.id
            )
        except UserError as exc:
            self._session.error.emit(f"The prediction could not be accepted: {exc}")
            return
        if not cells:
            self._refresh()
            return
        value = "present" if cells[0][2] else "absent"
        text = f"Accept prediction {task.name} = {value}"
        if not self._session.set_cells(cells, text=text, source="prediction"):
            self._refresh()

    def accept_all_unknown(self) -> None:
        """Every unknown cell of the current image(s) that the run predicts → its predicted
        value, as one command (source "prediction")."""
        if self._run_id is None or not self._image_ids:
            return
        try:
            cells = core_predictions.accept_images(
                self._session.project, self._run_id, self._image_ids
            )
        except UserError as exc:
            self._session.error.emit(f"The predictions could not be accepted: {exc}")
            return
        n_images = len({i for i, _, _ in cells})
        text = f"Accept {len(cells):,} prediction" + ("s" if len(cells) != 1 else "")
        if n_images > 1:
            text += f" on {n_images:,} images"
        if not self._session.set_cells(cells, text=text, source="prediction"):
            self._refresh()

    def copy_from(self, image_id: int) -> None:
        """Give every active task of the current image(s) ``image_id``'s value (one command)."""
        targets = [i for i in self._image_ids if i != image_id]
        if not targets:
            return
        try:
            source = self._session.row(image_id)
            name = image_info(self._session, image_id).name
        except UserError as exc:
            self._session.error.emit(str(exc))
            return
        cells = [(i, t, v) for i in targets for t, v in source.items()]
        if not self._session.set_cells(cells, text=f"Copy labels from {name}"):
            self._refresh()

    # -- internals -------------------------------------------------------------------------

    def _task_at(self, index: int) -> TaskInfo | None:
        if 0 <= index < len(self._rows):
            return self._rows[index].task
        return None

    def _apply(self, task: TaskInfo, value: CellValue) -> None:
        if len(self._image_ids) == 1:
            changes = self._session.set_cell(self._image_ids[0], task.id, value)
        else:
            changes = self._session.set_task_for_images(self._image_ids, task.id, value)
        if not changes:
            # Nothing changed (or saving failed): show what the database holds, not the click.
            self._refresh()

    def _on_segment(self, row: TaskRow, button: QAbstractButton) -> None:
        value = next(v for v, b in row.buttons.items() if b is button)
        if self._image_ids:
            self._apply(row.task, value)

    def _on_labels_changed(self, change: LabelsChanged) -> None:
        if self._image_ids and not change.image_ids.isdisjoint(self._image_ids):
            self._refresh()

    def _rebuild(self) -> None:
        for row in self._rows:
            self._rows_layout.removeWidget(row)
            row.deleteLater()
        self._rows = []
        window = self.palette().color(QPalette.ColorRole.Window)
        dark = window.lightness() < 128
        for index, task in enumerate(self._session.tasks()):
            row = TaskRow(task, index, dark)
            row.group.buttonClicked.connect(partial(self._on_segment, row))
            row.accept_button.clicked.connect(partial(self.accept_prediction, index))
            self._rows_layout.insertWidget(index, row)
            self._rows.append(row)
        self.empty_note.setVisible(not self._rows)
        self._refresh()

    def _read_rows(self) -> dict[int, dict[int, CellValue]]:
        if not self._image_ids:
            return {}
        try:
            return core_labels.image_rows(self._session.project, self._image_ids)
        except NotFoundError:
            # Some images were removed: keep the ones that are left.
            existing = image_infos(self._session, self._image_ids)
            self._image_ids = [i for i in self._image_ids if i in existing]
            return self._read_rows()
        except Exception as exc:
            self._session.error.emit(f"The labels could not be read: {exc}")
            return {}

    def _refresh(self) -> None:
        rows = self._read_rows()
        n = len(rows)
        if n == 0:
            self.title.setText("No image selected")
        elif n == 1:
            self.title.setText("Labels")
        else:
            self.title.setText(f"{n:,} images selected")
        predictions = self._read_predictions() if n == 1 else {}
        will_set = {1: 0, 0: 0}  # what "Accept" would set on this image's unknown cells
        for row in self._rows:
            values = [r.get(row.task.id) for r in rows.values()]
            row.show_values(values)
            row.setEnabled(n > 0)
            shown = predictions.get(row.task.id)
            row.show_prediction(shown, values[0] if shown is not None else None)
            if shown is not None and values[0] is None:
                will_set[1 if shown[0] >= shown[1] else 0] += 1
        self.fill_button.setEnabled(n > 0 and bool(self._rows))
        # Several images: the predictions are not shown, the button acts on them all.
        acceptable = bool(will_set[1] or will_set[0])
        self.accept_all_button.setEnabled(acceptable or (n > 1 and bool(self._rows)))
        if n > 1:
            self.accept_all_button.setText(f"Accept predictions ({n:,} images)")
        elif acceptable:
            parts = [f"{will_set[1]} present"] if will_set[1] else []
            parts += [f"{will_set[0]} absent"] if will_set[0] else []
            self.accept_all_button.setText("Accept → " + ", ".join(parts))
        else:
            self.accept_all_button.setText("Accept predictions")

    def _read_predictions(self) -> dict[int, tuple[float, float]]:
        """Task id → (probability, threshold) of the single current image under the run."""
        if self._run_id is None or len(self._image_ids) != 1:
            return {}
        try:
            return core_predictions.image_predictions(
                self._session.project, self._run_id, self._image_ids[0]
            )
        except UserError as exc:  # the run was deleted meanwhile, or its predictions redone
            self._session.error.emit(f"The predictions cannot be shown: {exc}")
            self._run_id = None
            self.accept_all_button.hide()
        except Exception as exc:
            self._session.error.emit(f"The predictions could not be read: {exc}")
        return {}

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        palette_events = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in palette_events and getattr(self, "_ready", False):
            self._rebuild()  # the segment colours depend on light / dark

    def sizeHint(self) -> QSize:
        return QSize(300, 480)
