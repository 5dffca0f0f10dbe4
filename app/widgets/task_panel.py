"""The Tasks panel: the tasks in order with live label counts, editing, and balance warnings.

Counts come from one query (:func:`core.labels.counts_per_task`), run at most
once per burst of label changes (a 50 ms single-shot timer), and the balance
warnings are computed from the same counts. Every edit goes through
:mod:`core.tasks` and then ``session.tasks_changed``, which makes every widget
(this one included) re-read; a user error (a duplicate name…) is shown and
changes nothing.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QIconEngine,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from core import tasks as core_tasks
from core.errors import UserError
from core.labels import TaskCounts, counts_per_task
from core.stats import balance_warnings
from core.tasks import TaskInfo

COUNTS_DELAY_MS = 50
"""Label changes within this time share one counts query."""
MAX_WARNINGS_SHOWN = 4

TaskIdRole = Qt.ItemDataRole.UserRole + 1
"""int: the task's id."""
ColourRole = Qt.ItemDataRole.UserRole + 2
"""str: "#rrggbb" (the task's colour, or a palette colour when it has none)."""
CountsRole = Qt.ItemDataRole.UserRole + 3
"""TaskCounts | None: None for an archived task (counts cover active tasks only)."""
ArchivedRole = Qt.ItemDataRole.UserRole + 4
"""bool."""

_FALLBACK_COLOUR = "#888888"


def _fmt(n: int) -> str:
    return f"{n:,}"


@dataclass(frozen=True)
class TaskRow:
    """One row of the panel: a task and, when it is active, its counts."""

    task: TaskInfo
    counts: TaskCounts | None

    @property
    def colour(self) -> str:
        return self.task.colour or _FALLBACK_COLOUR

    def counts_text(self) -> str:
        """ "412 / 300 / 288" (present / absent / unknown), or "archived"."""
        return _row_counts_text(self.counts, self.task.archived)

    def tooltip(self) -> str:
        name = self.task.name
        if self.task.archived or self.counts is None:
            return f"{name} (archived: hidden from labelling and training; its labels are kept)"
        c = self.counts
        total = c.known + c.unknown
        share = f" ({100 * c.known / total:.0f} % known)" if total else ""
        return (
            f"{name}: {_fmt(c.present)} present, {_fmt(c.absent)} absent, "
            f"{_fmt(c.unknown)} unknown{share}"
        )


class TaskListModel(QAbstractListModel):
    """The tasks in display order: one row per task, data by the roles above."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TaskRow] = []

    # -- Qt --------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or index.parent().isValid() or index.column() != 0:
            return None
        if not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.task.name
        if role == Qt.ItemDataRole.DecorationRole:
            return QColor(row.colour)
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return row.tooltip()
        if role == Qt.ItemDataRole.FontRole and row.task.archived:
            font = QFont()
            font.setItalic(True)
            return font
        if role == TaskIdRole:
            return row.task.id
        if role == ColourRole:
            return row.colour
        if role == CountsRole:
            return row.counts
        if role == ArchivedRole:
            return row.task.archived
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update(
            {
                TaskIdRole: QByteArray(b"taskId"),
                ColourRole: QByteArray(b"colour"),
                CountsRole: QByteArray(b"counts"),
                ArchivedRole: QByteArray(b"archived"),
            }
        )
        return names

    # -- ours ------------------------------------------------------------------------

    def rows(self) -> list[TaskRow]:
        return list(self._rows)

    def task_id(self, row: int) -> int:
        return self._rows[row].task.id

    def row_of(self, task_id: int) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.task.id == task_id), None)

    def set_rows(self, rows: Sequence[TaskRow]) -> None:
        """Show ``rows``: same tasks in the same order update in place (selection kept),
        anything else resets the model."""
        rows = list(rows)
        if [r.task.id for r in rows] == [r.task.id for r in self._rows]:
            changed = [i for i, (a, b) in enumerate(zip(rows, self._rows, strict=True)) if a != b]
            self._rows = rows
            if changed:
                self.dataChanged.emit(self.index(min(changed)), self.index(max(changed)))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()


class TaskDelegate(QStyledItemDelegate):
    """Paints a row: colour swatch, name, "present / absent / unknown" counts, and a bar."""

    PAD_X = 8
    PAD_Y = 5
    SWATCH = 12
    BAR_HEIGHT = 5

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        fm = option.fontMetrics
        height = 2 * self.PAD_Y + fm.height() + 4 + self.BAR_HEIGHT
        return QSize(fm.horizontalAdvance("x") * 24, height)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = QIcon()
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        rect: QRect = opt.rect
        palette: QPalette = opt.palette
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        archived = bool(index.data(ArchivedRole))
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_colour = palette.color(text_role)
        muted = QColor(text_colour)
        muted.setAlphaF(0.62)
        colour = QColor(str(index.data(ColourRole)))
        counts: TaskCounts | None = index.data(CountsRole)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(opt.font)
        font.setItalic(archived)
        fm = QFontMetrics(font)
        line_top = rect.top() + self.PAD_Y
        line_height = fm.height()

        # swatch
        swatch = QRectF(
            rect.left() + self.PAD_X,
            line_top + (line_height - self.SWATCH) / 2,
            self.SWATCH,
            self.SWATCH,
        )
        swatch_colour = QColor(colour)
        if archived:
            swatch_colour.setAlphaF(0.35)
        painter.setPen(QPen(_swatch_edge(palette), 1))
        painter.setBrush(swatch_colour)
        painter.drawRoundedRect(swatch, 3, 3)

        # counts, right-aligned in a smaller font with tabular figures
        small = QFont(font)
        small.setItalic(archived)
        small.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
        small.setFeature(QFont.Tag("tnum"), 1)
        small_fm = QFontMetrics(small)
        counts_text = _row_counts_text(counts, archived)
        text_left = int(swatch.right()) + 8
        right = rect.right() - self.PAD_X
        counts_width = small_fm.horizontalAdvance(counts_text)
        painter.setFont(small)
        painter.setPen(muted)
        counts_rect = QRect(right - counts_width, line_top, counts_width, line_height)
        painter.drawText(
            counts_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, counts_text
        )

        # name, elided to what is left
        name = str(index.data(Qt.ItemDataRole.DisplayRole))
        name_width = max(0, counts_rect.left() - 10 - text_left)
        painter.setFont(font)
        painter.setPen(muted if archived else text_colour)
        painter.drawText(
            QRect(text_left, line_top, name_width, line_height),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            fm.elidedText(name, Qt.TextElideMode.ElideRight, name_width),
        )

        # the bar: present (task colour), absent (muted text colour), unknown (track)
        bar = QRectF(text_left, line_top + line_height + 4, right - text_left, self.BAR_HEIGHT)
        if counts is not None and bar.width() > 4:
            _paint_bar(painter, bar, counts, colour, text_colour)
        painter.restore()


def _row_counts_text(counts: TaskCounts | None, archived: bool) -> str:
    if archived or counts is None:
        return "archived"
    return f"{_fmt(counts.present)} / {_fmt(counts.absent)} / {_fmt(counts.unknown)}"


def _swatch_edge(palette: QPalette) -> QColor:
    edge = QColor(palette.color(QPalette.ColorRole.Text))
    edge.setAlphaF(0.25)
    return edge


def _paint_bar(
    painter: QPainter, bar: QRectF, counts: TaskCounts, colour: QColor, text_colour: QColor
) -> None:
    total = counts.present + counts.absent + counts.unknown
    track = QColor(text_colour)
    track.setAlphaF(0.12)
    path = QPainterPath()
    path.addRoundedRect(bar, bar.height() / 2, bar.height() / 2)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(track)
    painter.drawPath(path)
    if total <= 0:
        return
    painter.save()
    painter.setClipPath(path)
    present_w = bar.width() * counts.present / total
    absent_w = bar.width() * counts.absent / total
    painter.setBrush(colour)
    painter.drawRect(QRectF(bar.left(), bar.top(), present_w, bar.height()))
    absent = QColor(text_colour)
    absent.setAlphaF(0.45)
    painter.setBrush(absent)
    painter.drawRect(QRectF(bar.left() + present_w, bar.top(), absent_w, bar.height()))
    painter.restore()


class _TaskListView(QListView):
    """A list view that says what to do when it is empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = ""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if self.placeholder and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            colour = QColor(self.palette().color(QPalette.ColorRole.Text))
            colour.setAlphaF(0.55)
            painter.setPen(colour)
            painter.drawText(
                self.viewport().rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignHCenter
                | Qt.AlignmentFlag.AlignTop
                | Qt.TextFlag.TextWordWrap,
                self.placeholder,
            )
            painter.end()


class BalanceWarnings(QFrame):
    """An amber box listing balance warnings; hidden when there are none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("balanceWarnings")
        self._warnings: list[str] = []
        self._dark: bool | None = None
        self._icon = QLabel(self)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._text = QLabel(self)
        self._text.setObjectName("balanceWarningsText")
        self._text.setWordWrap(True)
        self._text.setTextFormat(Qt.TextFormat.RichText)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(8)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._text, 1)
        self._restyle()
        self.setVisible(False)

    def warnings(self) -> list[str]:
        return list(self._warnings)

    def text(self) -> str:
        """The warnings as shown, one per line, in plain text."""
        return "\n".join(self._lines())

    def set_warnings(self, warnings: Sequence[str]) -> None:
        self._warnings = list(warnings)
        self._text.setText("<br>".join(html.escape(line) for line in self._lines()))
        self.setToolTip("\n".join(f"• {w}" for w in self._warnings))
        self.setVisible(bool(self._warnings))

    def _lines(self) -> list[str]:
        shown = self._warnings[:MAX_WARNINGS_SHOWN]
        bullet = "• " if len(self._warnings) > 1 else ""
        lines = [bullet + w for w in shown]
        if len(self._warnings) > len(shown):
            lines.append(f"… and {len(self._warnings) - len(shown)} more (hover for all)")
        return lines

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()

    def _restyle(self) -> None:
        """Amber for the light or the dark palette; only when that changed (setting a
        style sheet sends change events of its own)."""
        dark = QApplication.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5
        if dark == self._dark:
            return
        self._dark = dark
        if dark:
            background, border, text = "#3a2f0b", "#a67c00", "#ffd869"
        else:
            background, border, text = "#fff5d6", "#e0a800", "#5c4300"
        self.setStyleSheet(
            f"QFrame#balanceWarnings {{ background: {background}; border: 1px solid {border};"
            f" border-radius: 6px; }}"
            f" QLabel#balanceWarningsText {{ color: {text}; background: transparent; }}"
        )
        size = max(16, self.fontMetrics().height())
        self._icon.setPixmap(warning_pixmap(size, QColor(border), self.devicePixelRatioF()))
        self._icon.setFixedSize(size, size)


def warning_pixmap(size: int, colour: QColor, dpr: float = 1.0) -> QPixmap:
    """An amber warning triangle with an exclamation mark."""
    pixmap = QPixmap(int(size * dpr), int(size * dpr))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    triangle = QPolygonF([QPointF(s / 2, 1), QPointF(s - 1, s - 1.5), QPointF(1, s - 1.5)])
    painter.setPen(
        QPen(colour, 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    )
    painter.setBrush(colour)
    painter.drawPolygon(triangle)
    mark = QPen(QColor("#ffffff"), max(1.5, s / 9), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(mark)
    painter.drawLine(QPointF(s / 2, s * 0.38), QPointF(s / 2, s * 0.62))
    painter.drawPoint(QPointF(s / 2, s * 0.78))
    painter.end()
    return pixmap


# -- icons ------------------------------------------------------------------------------

_Draw = Callable[[QPainter, QColor], None]


class _VectorIconEngine(QIconEngine):
    """A crisp icon at any size and device pixel ratio, drawn in the palette's button text
    colour (so it reads in light and dark themes)."""

    def __init__(self, draw: _Draw) -> None:
        super().__init__()
        self._draw = draw

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        group = (
            QPalette.ColorGroup.Disabled
            if mode == QIcon.Mode.Disabled
            else QPalette.ColorGroup.Active
        )
        colour = QApplication.palette().color(group, QPalette.ColorRole.ButtonText)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(rect.topLeft())
        painter.scale(rect.width() / 24.0, rect.height() / 24.0)
        self._draw(painter, colour)
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        pixmap = QPixmap(size * scale)
        pixmap.setDevicePixelRatio(scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pixmap

    def clone(self) -> QIconEngine:
        return _VectorIconEngine(self._draw)


def _pen(colour: QColor, width: float = 2.0) -> QPen:
    return QPen(
        colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin
    )


def _draw_add(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c))
    p.drawLine(QPointF(12, 5), QPointF(12, 19))
    p.drawLine(QPointF(5, 12), QPointF(19, 12))


def _draw_rename(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.8))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPolygon(
        QPolygonF(
            [QPointF(4, 20), QPointF(5, 15.5), QPointF(15.5, 5), QPointF(19, 8.5), QPointF(8.5, 19)]
        )
    )
    p.drawLine(QPointF(13, 7.5), QPointF(16.5, 11))


def _draw_up(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c))
    p.drawLine(QPointF(12, 19), QPointF(12, 5))
    p.drawPolyline(QPolygonF([QPointF(6.5, 10.5), QPointF(12, 5), QPointF(17.5, 10.5)]))


def _draw_down(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c))
    p.drawLine(QPointF(12, 5), QPointF(12, 19))
    p.drawPolyline(QPolygonF([QPointF(6.5, 13.5), QPointF(12, 19), QPointF(17.5, 13.5)]))


def _draw_box(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.8))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(QRectF(3.5, 4.5, 17, 4.5), 1, 1)
    p.drawPolyline(QPolygonF([QPointF(5, 9), QPointF(5, 19.5), QPointF(19, 19.5), QPointF(19, 9)]))


def _draw_archive(p: QPainter, c: QColor) -> None:
    _draw_box(p, c)
    p.drawLine(QPointF(10, 13), QPointF(14, 13))


def _draw_unarchive(p: QPainter, c: QColor) -> None:
    _draw_box(p, c)
    p.drawLine(QPointF(12, 17.5), QPointF(12, 11.5))
    p.drawPolyline(QPolygonF([QPointF(9.5, 14), QPointF(12, 11.5), QPointF(14.5, 14)]))


def _draw_colour(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.6))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawEllipse(QPointF(12, 12), 8.5, 8.5)
    p.setPen(Qt.PenStyle.NoPen)
    for colour, (x, y) in zip(
        ("#e15759", "#59a14f", "#4e79a7"), ((12, 7.8), (8.4, 14.2), (15.6, 14.2)), strict=True
    ):
        p.setBrush(QColor(colour))
        p.drawEllipse(QPointF(x, y), 2.6, 2.6)


def _draw_eye(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.8))
    p.setBrush(Qt.BrushStyle.NoBrush)
    path = QPainterPath(QPointF(3, 12))
    path.quadTo(QPointF(12, 3), QPointF(21, 12))
    path.quadTo(QPointF(12, 21), QPointF(3, 12))
    p.drawPath(path)
    p.setBrush(c)
    p.drawEllipse(QPointF(12, 12), 2.6, 2.6)


def vector_icon(draw: _Draw) -> QIcon:
    return QIcon(_VectorIconEngine(draw))


# -- the panel --------------------------------------------------------------------------


class TaskPanel(QWidget):
    """The project's tasks: order, colours, live counts, editing, and balance warnings.

    ``task_activated(task_id)`` is emitted on a double-click on a task.
    """

    task_activated = Signal(int)

    def __init__(
        self, session: ProjectSession | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._session: ProjectSession | None = None
        self.model = TaskListModel(self)
        self.view = _TaskListView(self)
        self.view.setObjectName("taskList")
        self.view.setModel(self.model)
        self.view.setItemDelegate(TaskDelegate(self.view))
        self.view.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.view.setUniformItemSizes(True)
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        # doubleClicked, not activated: that one also fires on a single click where the
        # platform activates items so (KDE), and twice on a double-click elsewhere.
        self.view.doubleClicked.connect(self._activated)

        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(COUNTS_DELAY_MS)
        self._counts_timer.timeout.connect(self.refresh_counts)

        self.toolbar = QToolBar("Tasks", self)
        self.toolbar.setObjectName("taskToolbar")
        self.toolbar.setIconSize(QSize(18, 18))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.add_action = self._action("Add task…", _draw_add, self.add_task, "Ctrl+Shift+N")
        self.rename_action = self._action("Rename task…", _draw_rename, self.rename_task, "F2")
        self.move_up_action = self._action("Move up", _draw_up, self.move_up, "Alt+Up")
        self.move_down_action = self._action("Move down", _draw_down, self.move_down, "Alt+Down")
        self.colour_action = self._action("Colour…", _draw_colour, self.choose_colour)
        self.archive_action = self._action(
            "Archive task (hide it from labelling and training; its labels are kept)",
            _draw_archive,
            self.archive_task,
        )
        self.unarchive_action = self._action("Unarchive task", _draw_unarchive, self.unarchive_task)
        self.show_archived_action = self._action("Show archived tasks", _draw_eye, None)
        self.show_archived_action.setCheckable(True)
        self.show_archived_action.toggled.connect(self._show_archived_toggled)
        for action in (self.add_action, self.rename_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        for action in (self.move_up_action, self.move_down_action, self.colour_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        for action in (self.archive_action, self.unarchive_action, self.show_archived_action):
            self.toolbar.addAction(action)
        for action in self.toolbar.actions():  # keys reach them as shortcuts; Tab goes to the list
            button = self.toolbar.widgetForAction(action)
            if button is not None:
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.legend = QLabel("present / absent / unknown", self)
        self.legend.setObjectName("taskCountsLegend")
        self.legend.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # right edge in line with the counts (the delegate's padding plus the view's frame)
        self.legend.setContentsMargins(0, 0, TaskDelegate.PAD_X + 1, 0)
        legend_font = self.legend.font()
        legend_font.setPointSizeF(max(6.0, legend_font.pointSizeF() * 0.85))
        self.legend.setFont(legend_font)
        self.legend.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.legend.setToolTip(
            "Labelled cells per task: present / absent / unknown. The bar shows the same: "
            "present in the task's colour, absent in grey, unknown empty."
        )

        self.warnings = BalanceWarnings(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.warnings)
        self.setFocusProxy(self.view)

        self.view.selectionModel().currentChanged.connect(self._update_actions)
        self.view.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self.set_session(session)

    def _action(
        self,
        text: str,
        draw: _Draw,
        slot: Callable[[], object] | None,
        shortcut: str | None = None,
    ) -> QAction:
        action = QAction(vector_icon(draw), text, self)
        action.setToolTip(text + (f" ({shortcut})" if shortcut else ""))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    # -- session ------------------------------------------------------------------------

    @property
    def session(self) -> ProjectSession | None:
        return self._session

    def set_session(self, session: ProjectSession | None) -> None:
        """Show another project's tasks (None: no project open)."""
        if self._session is not None:
            self._session.labels_changed.disconnect(self._labels_changed)
            self._session.tasks_changed.disconnect(self.refresh)
            self._session.images_changed.disconnect(self.refresh_counts)
        self._session = session
        if session is not None:
            session.labels_changed.connect(self._labels_changed)
            session.tasks_changed.connect(self.refresh)
            session.images_changed.connect(self.refresh_counts)
            self.view.placeholder = "No tasks yet.\nAdd one with the + button."
        else:
            self.view.placeholder = "No project open."
        self.refresh()

    # -- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the tasks and their counts now (keeps the selected task selected)."""
        self._counts_timer.stop()
        if self._session is None:
            self.model.set_rows([])
            self.warnings.set_warnings([])
            self._update_actions()
            return
        selected = self.selected_task_id()
        try:
            project = self._session.project
            tasks = core_tasks.list_tasks(project, include_archived=self.show_archived)
            counts = counts_per_task(project)
        except Exception as exc:
            self._session.error.emit(f"The tasks could not be read: {exc}")
            return
        self._show(tasks, counts)
        if selected is not None:
            self.select_task(selected)
        self._update_actions()

    def refresh_counts(self) -> None:
        """Re-read the counts (one query) and the balance warnings now."""
        self._counts_timer.stop()
        if self._session is None:
            return
        try:
            counts = counts_per_task(self._session.project)
        except Exception as exc:
            self._session.error.emit(f"The label counts could not be read: {exc}")
            return
        self._show([r.task for r in self.model.rows()], counts)

    def _show(self, tasks: Sequence[TaskInfo], counts: Sequence[TaskCounts]) -> None:
        by_id = {c.task_id: c for c in counts}
        self.model.set_rows([TaskRow(t, None if t.archived else by_id.get(t.id)) for t in tasks])
        self.warnings.set_warnings(balance_warnings(list(counts)))

    def _labels_changed(self, _change: object = None) -> None:
        if not self._counts_timer.isActive():  # a burst of clicks: one query at the end
            self._counts_timer.start()

    @property
    def show_archived(self) -> bool:
        return self.show_archived_action.isChecked()

    def _show_archived_toggled(self, _checked: bool) -> None:
        self.refresh()

    # -- selection ------------------------------------------------------------------------

    def selected_task_id(self) -> int | None:
        index = self.view.currentIndex()
        if not index.isValid() or not self.view.selectionModel().isSelected(index):
            return None
        return int(index.data(TaskIdRole))

    def selected_row(self) -> TaskRow | None:
        index = self.view.currentIndex()
        if not index.isValid() or not self.view.selectionModel().isSelected(index):
            return None
        return self.model.rows()[index.row()]

    def select_task(self, task_id: int) -> bool:
        row = self.model.row_of(task_id)
        if row is None:
            return False
        index = self.model.index(row)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.view.scrollTo(index)
        return True

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.task_activated.emit(int(index.data(TaskIdRole)))

    def _update_actions(self, *_args: object) -> None:
        has_session = self._session is not None
        row = self.selected_row()
        rows = self.model.rows()
        position = rows.index(row) if row is not None else -1
        self.add_action.setEnabled(has_session)
        self.show_archived_action.setEnabled(has_session)
        for action in (self.rename_action, self.colour_action):
            action.setEnabled(row is not None)
        self.move_up_action.setEnabled(row is not None and position > 0)
        self.move_down_action.setEnabled(row is not None and 0 <= position < len(rows) - 1)
        self.archive_action.setEnabled(row is not None and not row.task.archived)
        self.unarchive_action.setEnabled(row is not None and row.task.archived)
        self.unarchive_action.setVisible(self.show_archived)

    # -- editing ------------------------------------------------------------------------

    def _edit(self, title: str, change: Callable[[], object]) -> bool:
        """Run one change through core; announce it, or show why it was refused."""
        if self._session is None:
            return False
        try:
            change()
        except UserError as exc:
            QMessageBox.warning(self, title, str(exc))
            return False
        except Exception as exc:
            QMessageBox.critical(self, title, f"The change could not be saved: {exc}")
            return False
        self._session.tasks_changed.emit()
        return True

    def add_task(self) -> int | None:
        """Ask for a name and add the task at the end; returns its id."""
        if self._session is None:
            return None
        name, ok = QInputDialog.getText(self, "Add task", "Name of the new task:")
        if not ok or not name.strip():
            return None
        session = self._session
        added: list[TaskInfo] = []
        if self._edit("Add task", lambda: added.append(core_tasks.add_task(session.project, name))):
            self.select_task(added[0].id)
            return added[0].id
        return None

    def rename_task(self) -> bool:
        row = self.selected_row()
        if row is None or self._session is None:
            return False
        name, ok = QInputDialog.getText(
            self,
            "Rename task",
            f"New name for “{row.task.name}”:",
            QLineEdit.EchoMode.Normal,
            row.task.name,
        )
        if not ok or name.strip() == row.task.name:
            return False
        project = self._session.project
        return self._edit("Rename task", lambda: core_tasks.rename_task(project, row.task.id, name))

    def move_up(self) -> bool:
        return self._move(-1)

    def move_down(self) -> bool:
        return self._move(+1)

    def _move(self, step: int) -> bool:
        """Swap the task with its visible neighbour (archived tasks in between stay put)."""
        row = self.selected_row()
        if row is None or self._session is None:
            return False
        rows = self.model.rows()
        here = rows.index(row)
        if not 0 <= here + step < len(rows):
            return False
        neighbour = rows[here + step].task.id
        project = self._session.project

        def move() -> None:
            order = [t.id for t in core_tasks.list_tasks(project, include_archived=True)]
            target = order.index(neighbour)
            # move_task removes the task first: moving down, the neighbour's
            # index drops by one, so inserting at its old index lands after it.
            core_tasks.move_task(project, row.task.id, target)

        return self._edit("Move task", move)

    def archive_task(self) -> bool:
        return self._set_archived(True)

    def unarchive_task(self) -> bool:
        return self._set_archived(False)

    def _set_archived(self, archived: bool) -> bool:
        row = self.selected_row()
        if row is None or self._session is None or row.task.archived == archived:
            return False
        project = self._session.project
        title = "Archive task" if archived else "Unarchive task"
        return self._edit(title, lambda: core_tasks.archive_task(project, row.task.id, archived))

    def choose_colour(self) -> bool:
        row = self.selected_row()
        if row is None or self._session is None:
            return False
        colour = QColorDialog.getColor(QColor(row.colour), self, f"Colour of “{row.task.name}”")
        if not colour.isValid():
            return False
        project = self._session.project
        hex_colour = colour.name(QColor.NameFormat.HexRgb)
        return self._edit(
            "Task colour", lambda: core_tasks.set_task_colour(project, row.task.id, hex_colour)
        )
