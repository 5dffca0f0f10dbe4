"""The image browser: a filterable, sortable thumbnail grid for 100,000 images.

A filter bar (what to show, in which order, how many) over a ``QListView`` in
icon mode. The view asks the :class:`ImageListModel` only for the rows it
paints; thumbnails come from a :class:`ThumbnailLoader` decoding in the
background. Each cell shows the thumbnail, the file name and a badge for its
labelling state: a green check (every task known), an amber dot (some tasks
unknown) or a grey ring (nothing known yet); a red mark flags a file that is
missing or unreadable.

With a run set (``set_run``), the "Show" menu also offers the run's orders:
"Label next (ranked by the run)", "Likely label errors (ranked by the run)" and "Predicted present:
<task>"; the sort menu is then disabled (those bring their own order).

The main window talks to it through ``current_image_changed``,
``selection_changed`` and a handful of methods; it never reaches inside.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
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
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models.image_list import (
    ALL_KNOWN,
    NONE_KNOWN,
    PREDICTION_FILTER_KINDS,
    SOME_KNOWN,
    TASK_FILTER_KINDS,
    ImageFilter,
    ImageListModel,
    ImageRole,
    filter_label,
)
from app.session import ProjectSession
from app.thumbnails import ThumbnailLoader
from core.tasks import TaskInfo

_Index = QModelIndex | QPersistentModelIndex

PADDING = 6
"""Space around the thumbnail inside a cell, logical pixels."""
BADGE = 18
"""Diameter of the labelling-state badge."""

BADGE_COLOURS = {
    ALL_KNOWN: QColor("#2e9d4a"),
    SOME_KNOWN: QColor("#f0a30a"),
    NONE_KNOWN: QColor("#8a8f98"),
}
MISSING_COLOUR = QColor("#d64541")

SORTS = (("name", "Name"), ("imported", "Import time"))
PREDICTED_DOT = 9
"""Side of a thumbnail's prediction dot (a task the shown run predicts present)."""
RUN_ORDER = "run"
"""The Sort box's entry while a run's own list (and order) is shown."""
SEARCH_DELAY_MS = 250
"""The name search applies this long after the last key typed."""


def draw_mark(kind: str, dpr: float) -> QPixmap:
    """A badge, drawn once per kind and pixel ratio: ``ALL_KNOWN`` (green check),
    ``SOME_KNOWN`` (amber dot), ``NONE_KNOWN`` (grey ring) or ``"problem"`` (red "!")."""
    d = BADGE
    side = d + 4
    pixmap = QPixmap(QSize(round(side * dpr), round(side * dpr)))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    circle = QRectF(2, 2, d, d)
    white = QPen(QColor(255, 255, 255, 235), 2)  # a rim that reads on any thumbnail
    stroke = QPen(QColor("white"), 2.2)
    stroke.setCapStyle(Qt.PenCapStyle.RoundCap)
    stroke.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(white)
    if kind == NONE_KNOWN:
        painter.setBrush(QColor(40, 44, 52, 170))
        painter.drawEllipse(circle)
        painter.setPen(QPen(QColor("#c9ced6"), 2.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(circle.center(), d * 0.22, d * 0.22)
    elif kind == ALL_KNOWN:
        painter.setBrush(BADGE_COLOURS[ALL_KNOWN])
        painter.drawEllipse(circle)
        path = QPainterPath()
        path.moveTo(circle.x() + d * 0.27, circle.y() + d * 0.52)
        path.lineTo(circle.x() + d * 0.44, circle.y() + d * 0.69)
        path.lineTo(circle.x() + d * 0.74, circle.y() + d * 0.34)
        painter.setPen(stroke)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
    elif kind == SOME_KNOWN:
        painter.setBrush(BADGE_COLOURS[SOME_KNOWN])
        painter.drawEllipse(circle)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("white"))
        painter.drawEllipse(circle.center(), d * 0.16, d * 0.16)
    else:
        painter.setBrush(MISSING_COLOUR)
        painter.drawEllipse(circle)
        painter.setPen(stroke)
        x = circle.center().x()
        painter.drawLine(QPointF(x, circle.top() + d * 0.24), QPointF(x, circle.top() + d * 0.56))
        painter.drawPoint(QPointF(x, circle.top() + d * 0.77))
    painter.end()
    return pixmap


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints one cell: thumbnail, elided file name, labelling-state badge, file-problem mark.

    Everything but the text is a pixmap blit (the badges are drawn once), so a
    cell costs a fraction of a millisecond.
    """

    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.size = thumbnails.size
        self._marks: dict[tuple[str, float], QPixmap] = {}

    def cell_size(self, font: QFont) -> QSize:
        text_height = QFontMetrics(font).height()
        return QSize(self.size + 2 * PADDING, self.size + 3 * PADDING + text_height)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return self.cell_size(option.font)

    def mark(self, kind: str, dpr: float) -> QPixmap:
        pixmap = self._marks.get((kind, dpr))
        if pixmap is None:
            pixmap = self._marks[(kind, dpr)] = draw_mark(kind, dpr)
        return pixmap

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        try:
            self._paint_cell(painter, option, index)
        finally:
            painter.restore()

    def _paint_cell(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        state: QStyle.StateFlag = option.state
        widget: QWidget | None = option.widget
        font: QFont = option.font
        device = painter.device()
        dpr = device.devicePixelRatioF() if device is not None else 1.0
        if dpr != self.thumbnails.device_pixel_ratio():  # moved to another screen
            self.thumbnails.set_device_pixel_ratio(dpr)
        style = widget.style() if widget is not None else QApplication.style()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)

        # Selection and hover background, as the platform style draws it.
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)

        box = QRectF(rect.x() + PADDING, rect.y() + PADDING, self.size, self.size)
        pixmap = index.data(ImageRole.Thumbnail)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            shown = pixmap.deviceIndependentSize()
            # Never enlarge past one image pixel per logical pixel (a small image at HiDPI
            # still fills its box as it would at 1x).
            limit = max(1.0, pixmap.devicePixelRatio())
            scale = min(limit, box.width() / shown.width(), box.height() / shown.height())
            w, h = round(shown.width() * scale), round(shown.height() * scale)
            # Centred across, standing on the bottom: the name stays close to every image.
            image_rect = QRectF(round(box.x() + (box.width() - w) / 2), box.bottom() - h, w, h)
            painter.drawPixmap(image_rect, pixmap, QRectF(pixmap.rect()))
        else:  # not decoded yet: a quiet 4:3 tile
            h = round(box.height() * 3 / 4)
            image_rect = QRectF(box.x(), box.bottom() - h, box.width(), h)
            tile = QColor(palette.color(QPalette.ColorRole.Mid))
            tile.setAlpha(60)
            painter.fillRect(image_rect, tile)

        if state & QStyle.StateFlag.State_HasFocus:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(image_rect.adjusted(-2, -2, 2, 2), 3, 3)

        label_state = index.data(ImageRole.LabelState)
        if isinstance(label_state, str):
            badge = QPointF(image_rect.right() - BADGE - 3, image_rect.top() + 1)
            painter.drawPixmap(badge, self.mark(label_state, dpr))
        if index.data(ImageRole.Problem) is not None:
            painter.drawPixmap(image_rect.topLeft() + QPointF(1, 1), self.mark("problem", dpr))
        predicted = index.data(ImageRole.Predicted)
        if predicted:  # one dot per task the run predicts present, in the task's colour
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(255, 255, 255, 220), 1.5))
            x, y = image_rect.left() + 4, image_rect.bottom() - PREDICTED_DOT - 4
            for _task, colour in predicted[: int((image_rect.width() - 8) // (PREDICTED_DOT + 3))]:
                painter.setBrush(QColor(colour))
                painter.drawEllipse(QRectF(x, y, PREDICTED_DOT, PREDICTED_DOT))
                x += PREDICTED_DOT + 3

        # The file name, elided in the middle so that the ending shows.
        name = str(index.data(ImageRole.Name) or "").rsplit("/", 1)[-1]
        metrics = QFontMetrics(font)
        text_rect = QRect(
            rect.x() + PADDING // 2,
            int(box.bottom()) + PADDING,
            rect.width() - PADDING,
            metrics.height(),
        )
        selected = bool(state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        painter.setFont(font)
        elided = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, elided
        )


class ThumbnailView(QListView):
    """The grid. Typing does not search by name here: letters are labelling keys."""

    def keyboardSearch(self, search: str) -> None:
        pass


class ImageBrowser(QWidget):
    """Filter bar and thumbnail grid over the project's images."""

    current_image_changed = Signal(int)
    """The current image's id, or -1 when there is none."""
    selection_changed = Signal(list)
    """Ids of the selected images, in the list's order."""
    counts_changed = Signal(str)
    """The count line ("197 of 400 images"), whenever it or the current position changes:
    the one source of the counts the status bar and the image header show."""

    def __init__(
        self,
        session: ProjectSession,
        parent: QWidget | None = None,
        thumbnails: ThumbnailLoader | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.thumbnails = thumbnails if thumbnails is not None else ThumbnailLoader(parent=self)
        self.list_model = ImageListModel(session, self.thumbnails, self)
        self._current_id: int | None = None
        self._selected: list[int] = []
        self._remembered: tuple[int | None, list[int]] = (None, [])
        self._scroll_value = 0

        self.filter_combo = QComboBox()
        self.filter_combo.setObjectName("browserFilter")
        self.filter_combo.setToolTip("Which images to show")
        self.filter_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.filter_combo.setMaxVisibleItems(24)
        self.sort_combo = QComboBox()
        self.sort_combo.setObjectName("browserSort")
        self.sort_combo.setToolTip("Order of the images")
        for order, text in SORTS:
            self.sort_combo.addItem(text, order)
        self.refresh_button = QToolButton()
        self.refresh_button.setObjectName("browserRefresh")
        self.refresh_button.setText("Refresh")
        self.refresh_button.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload)
        )
        self.refresh_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.refresh_button.setAutoRaise(True)
        self.refresh_button.setToolTip(
            "Labels changed since this filter was applied; the list is kept as it was so "
            "that nothing moves under the cursor. Click to apply the filter again."
        )
        self.refresh_button.setVisible(False)
        self.and_combo = QComboBox()
        self.and_combo.setObjectName("browserAnd")
        self.and_combo.setToolTip(
            "A second condition the images must meet too, e.g. Show “car: present” "
            "and “tree: unknown”"
        )
        self.and_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.and_combo.setMinimumContentsLength(14)
        self.and_combo.setMaxVisibleItems(24)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("browserSearch")
        self.search_edit.setPlaceholderText("File name contains…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip("Show only images whose file name contains this text")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_narrowing)
        self.count_label = QLabel()
        self.count_label.setObjectName("browserCount")
        self.count_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 4)
        bar.setSpacing(6)
        show_label = QLabel("Show")
        show_label.setBuddy(self.filter_combo)
        sort_label = QLabel("Sort")
        sort_label.setBuddy(self.sort_combo)
        bar.addWidget(show_label)
        bar.addWidget(self.filter_combo)
        bar.addSpacing(8)
        bar.addWidget(sort_label)
        bar.addWidget(self.sort_combo)
        bar.addWidget(self.refresh_button)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        narrow = QHBoxLayout()
        narrow.setContentsMargins(6, 0, 6, 4)
        narrow.setSpacing(6)
        and_label = QLabel("and")
        and_label.setBuddy(self.and_combo)
        narrow.addWidget(and_label)
        narrow.addWidget(self.and_combo)
        narrow.addWidget(self.search_edit, 1)

        self.delegate = ThumbnailDelegate(self.thumbnails, self)
        self.view = ThumbnailView()
        self.view.setObjectName("browserView")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(True)
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(2000)
        self.view.setSpacing(4)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.view.setSelectionRectVisible(True)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.verticalScrollBar().setSingleStep(24)
        self.view.setDragEnabled(False)
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(self.list_model)
        self.view.setAccessibleName("Images")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addLayout(narrow)
        layout.addWidget(self.view, 1)

        self.setFocusProxy(self.view)
        # A click on the filter bar leaves the keyboard with the grid (whose keys label and
        # move); Tab still reaches the bar.
        for control in (self.filter_combo, self.sort_combo, self.refresh_button, self.and_combo):
            control.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        # The count and the Show menu change their text; the pane's width must not follow.
        self.count_label.setMinimumWidth(
            self.count_label.fontMetrics().horizontalAdvance("888,888 of 888,888 images")
        )
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.filter_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.filter_combo.setMinimumContentsLength(18)
        self._fill_filter_combo()
        selection = self.view.selectionModel()
        selection.currentChanged.connect(self._on_current_changed)
        selection.selectionChanged.connect(self._on_selection_changed)
        self.list_model.modelAboutToBeReset.connect(self._remember)
        self.list_model.modelReset.connect(self._restore)
        self.list_model.filter_stale_changed.connect(self.refresh_button.setVisible)
        self.filter_combo.currentIndexChanged.connect(self._apply_filter)
        self.sort_combo.currentIndexChanged.connect(self._apply_sort)
        self.refresh_button.clicked.connect(self._refresh)
        self.and_combo.currentIndexChanged.connect(self._apply_narrowing)
        self.search_edit.textChanged.connect(lambda _text: self._search_timer.start())
        self.search_edit.returnPressed.connect(self._apply_narrowing)
        self.view.verticalScrollBar().valueChanged.connect(self._scrolled)
        # After the model's own handler (connected first), which may have dropped a filter.
        session.tasks_changed.connect(self._fill_filter_combo)
        self._update_count()

    # -- the public interface -----------------------------------------------------------

    def current_image(self) -> int | None:
        return self._current_id

    def selected_images(self) -> list[int]:
        return list(self._selected)

    def select_image(self, image_id: int) -> None:
        """Make ``image_id`` current and the only selection; shows all images if the
        filter hides it. Unknown ids are ignored."""
        row = self.list_model.row_of(image_id)
        current = self.list_model.current_filter()
        if row is None and (current.kind != "all" or current.narrowed):
            self._clear_narrowing_controls()
            self.list_model.set_narrowing()
            self._set_filter(ImageFilter())
            row = self.list_model.row_of(image_id)
        if row is not None:
            self._go_to_row(row)

    def step(self, delta: int) -> None:
        """Move the current image by ``delta`` in the list's order (stopping at the ends),
        selecting only it."""
        n = self.list_model.rowCount()
        if n == 0 or delta == 0:
            return
        row = self._current_row()
        if row is None:  # nothing current yet: start from the end we move away from
            self._go_to_row(0 if delta > 0 else n - 1)
        else:
            self._go_to_row(max(0, min(n - 1, row + delta)))

    def next_unknown(self) -> bool:
        """Move to the next image after the current one (wrapping around) with an unknown
        active-task cell; False, and no move, if there is none."""
        current = self._current_row()
        row = self.list_model.next_row_with_unknown(-1 if current is None else current)
        if row is None:
            return False
        self._go_to_row(row)
        return True

    def image_ids(self) -> list[int]:
        """The listed images' ids in the current order (a copy)."""
        return self.list_model.image_ids()

    def position(self) -> tuple[int, int]:
        """(1-based row of the current image or 0, number of images listed)."""
        row = self._current_row()
        return (0 if row is None else row + 1, self.list_model.rowCount())

    def set_run(self, run_id: int | None) -> None:
        """Offer this run's orders in the "Show" menu (None: withdraw them; a list in one
        of them goes back to all images)."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.list_model.set_run(run_id)
        finally:
            QApplication.restoreOverrideCursor()
        self._fill_filter_combo()

    def run_id(self) -> int | None:
        return self.list_model.run_id()

    def show_prediction_order(self, kind: str, task_id: int | None = None) -> None:
        """Apply one of the run's orders (``PREDICTION_FILTER_KINDS``), as the menu does."""
        self._set_filter(ImageFilter(kind, task_id))

    # -- filter bar ----------------------------------------------------------------------

    def _fill_filter_combo(self) -> None:
        combo = self.filter_combo
        wanted = self.list_model.current_filter()
        combo.blockSignals(True)
        try:
            combo.clear()
            for kind in ("all", "has_unknown", "fully_labelled"):
                combo.addItem(filter_label(kind), (kind, None))
            tasks = self.session.tasks()
            if tasks:
                combo.insertSeparator(combo.count())
            for task in tasks:
                for kind in TASK_FILTER_KINDS:
                    combo.addItem(filter_label(kind, task.name), (kind, task.id))
            if self.list_model.run_id() is not None:
                combo.insertSeparator(combo.count())
                for kind in ("label_next", "label_errors"):
                    combo.addItem(filter_label(kind), (kind, None))
                for task in tasks:
                    kind = "predicted_present"
                    combo.addItem(filter_label(kind, task.name), (kind, task.id))
            combo.setCurrentIndex(max(0, self._filter_index(wanted)))
        finally:
            combo.blockSignals(False)
        self._fill_and_combo(tasks)
        self._update_sort_enabled()

    def _fill_and_combo(self, tasks: list[TaskInfo]) -> None:
        combo = self.and_combo
        wanted = self.list_model.current_filter().also
        combo.blockSignals(True)
        try:
            combo.clear()
            combo.addItem("(nothing more)", None)
            for task in tasks:
                for kind in TASK_FILTER_KINDS:
                    combo.addItem(filter_label(kind, task.name), (kind, task.id))
            index = combo.findData(wanted[0]) if wanted else 0
            combo.setCurrentIndex(max(0, index))
        finally:
            combo.blockSignals(False)

    def _apply_narrowing(self, *_: object) -> None:
        self._search_timer.stop()
        condition = self.and_combo.currentData()
        also = [tuple(condition)] if condition is not None else []
        name = self.search_edit.text()
        current = self.list_model.current_filter()
        if tuple(tuple(c) for c in also) == current.also and name.strip() == current.name:
            return
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.list_model.set_narrowing([(str(k), int(t)) for k, t in also], name)
        finally:
            QApplication.restoreOverrideCursor()

    def _clear_narrowing_controls(self) -> None:
        for control in (self.and_combo, self.search_edit):
            control.blockSignals(True)
        self.and_combo.setCurrentIndex(0)
        self.search_edit.clear()
        self._search_timer.stop()
        for control in (self.and_combo, self.search_edit):
            control.blockSignals(False)

    def _update_sort_enabled(self) -> None:
        """A run's list (Label next, Likely label errors, Predicted present) brings its own
        order, most useful first: the Sort box says so instead of showing a name order
        that does not apply."""
        by_prediction = self.list_model.current_filter().kind in PREDICTION_FILTER_KINDS
        combo = self.sort_combo
        ranked = combo.findData(RUN_ORDER)
        combo.blockSignals(True)
        try:
            if by_prediction and ranked < 0:
                combo.addItem("Run's ranking", RUN_ORDER)
                combo.setCurrentIndex(combo.count() - 1)
            elif not by_prediction and ranked >= 0:
                combo.removeItem(ranked)
                combo.setCurrentIndex(max(0, combo.findData(self.list_model.sort_order())))
        finally:
            combo.blockSignals(False)
        combo.setEnabled(not by_prediction)
        combo.setToolTip(
            "This list is in the order of the run's predictions, most useful first"
            if by_prediction
            else "Order of the images"
        )

    def _apply_filter(self, index: int) -> None:
        data = self.filter_combo.itemData(index)
        if data is not None:
            kind, task_id = data
            self._set_filter(ImageFilter(kind, task_id))

    def _set_filter(self, image_filter: ImageFilter) -> None:
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.list_model.set_filter(image_filter.kind, image_filter.task_id)
        finally:
            QApplication.restoreOverrideCursor()
        index = self._filter_index(self.list_model.current_filter())
        if index >= 0 and index != self.filter_combo.currentIndex():
            self.filter_combo.blockSignals(True)
            self.filter_combo.setCurrentIndex(index)
            self.filter_combo.blockSignals(False)
        self._update_sort_enabled()

    def _filter_index(self, image_filter: ImageFilter) -> int:
        wanted = (image_filter.kind, image_filter.task_id)
        for index in range(self.filter_combo.count()):
            if self.filter_combo.itemData(index) == wanted:
                return index
        return -1

    def _apply_sort(self, index: int) -> None:
        order = self.sort_combo.itemData(index)
        if order:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self.list_model.set_sort(order)
            finally:
                QApplication.restoreOverrideCursor()

    def _refresh(self) -> None:
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.list_model.refresh()
        finally:
            QApplication.restoreOverrideCursor()

    def _update_count(self) -> None:
        shown = self.list_model.rowCount()
        total = self.list_model.total_images()
        noun = "image" if total == 1 else "images"
        text = f"{shown:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}"
        if len(self._selected) > 1:
            text += f"  ·  {len(self._selected):,} selected"
        self.count_label.setText(text)
        self.counts_changed.emit(text)

    # -- current and selection -----------------------------------------------------------

    def _current_row(self) -> int | None:
        if self._current_id is None:
            return None
        return self.list_model.row_of(self._current_id)

    def _go_to_row(self, row: int) -> None:
        index = self.list_model.index(row)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.view.scrollTo(index)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        image_id = current.data(ImageRole.ImageId) if current.isValid() else None
        if image_id != self._current_id:
            self._current_id = image_id
            self.current_image_changed.emit(-1 if image_id is None else image_id)
            self._update_count()

    def _on_selection_changed(self, *_: QItemSelection) -> None:
        selected = self._selected_ids()
        if selected != self._selected:
            self._selected = selected
            self._update_count()
            self.selection_changed.emit(list(selected))

    def _selected_ids(self) -> list[int]:
        ids = self.list_model.image_ids()
        rows: list[int] = []
        selection = self.view.selectionModel().selection()
        for i in range(selection.count()):
            selection_range = selection.at(i)
            rows.extend(range(selection_range.top(), selection_range.bottom() + 1))
        rows.sort()
        return [ids[r] for r in rows if 0 <= r < len(ids)]

    def _remember(self) -> None:
        self._remembered = (self._current_id, list(self._selected))

    def _restore(self) -> None:
        """After the list was re-read: keep the current image and the selection where they
        are still listed; if the current image is gone, the first image becomes current."""
        current_id, selected_ids = self._remembered
        model = self.list_model
        selection_model = self.view.selectionModel()
        rows = sorted(r for i in selected_ids if (r := model.row_of(i)) is not None)
        selection = QItemSelection()
        for first, last in _runs(rows):
            selection.select(model.index(first), model.index(last))
        current_row = None if current_id is None else model.row_of(current_id)
        if current_row is None and current_id is not None and model.rowCount() > 0:
            current_row = 0
            selection = QItemSelection(model.index(0), model.index(0))
        if not selection.isEmpty():
            selection_model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if current_row is not None:
            selection_model.setCurrentIndex(
                model.index(current_row), QItemSelectionModel.SelectionFlag.NoUpdate
            )
            self.view.scrollTo(model.index(current_row))
        # A reset emits nothing by itself: say what changed.
        self._on_current_changed(selection_model.currentIndex(), QModelIndex())
        self._on_selection_changed()
        self._update_count()

    # -- thumbnails ------------------------------------------------------------------

    def _scrolled(self, value: int) -> None:
        """Drop requests for rows scrolled away; ask for one screen ahead in the direction
        of travel. The repaint that follows asks for the visible rows, which come first
        (the loader serves the newest requests first)."""
        self.thumbnails.clear_pending()
        forward = value >= self._scroll_value
        self._scroll_value = value
        first, last = self._visible_rows()
        if first < 0:
            return
        screen = last - first + 1
        if forward:
            ahead = range(min(self.list_model.rowCount(), last + 1 + screen) - 1, last, -1)
        else:
            ahead = range(max(0, first - screen), first)
        for row in ahead:  # farthest first: the nearest are asked last, so served first
            self.list_model.index(row).data(ImageRole.Thumbnail)

    def _visible_rows(self) -> tuple[int, int]:
        """First and last row in the viewport, or (-1, -1)."""
        return visible_row_range(self.view)

    def showEvent(self, event: QShowEvent) -> None:
        self.thumbnails.set_device_pixel_ratio(self.devicePixelRatioF())
        super().showEvent(event)


def visible_row_range(view: QListView) -> tuple[int, int]:
    """First and last row of ``view`` that show in its viewport, or (-1, -1).

    Probes points down from the top-left and up from the bottom-left corner
    (the first may fall between cells) until one hits a cell.
    """
    area = view.viewport().rect()
    first = last = QModelIndex()
    for dy in range(0, area.height(), 4):
        first = view.indexAt(QPoint(area.left() + PADDING * 2, area.top() + dy))
        if first.isValid():
            break
    if not first.isValid():
        return -1, -1
    for dy in range(0, area.height(), 4):
        last = view.indexAt(QPoint(area.left() + PADDING * 2, area.bottom() - dy))
        if last.isValid():
            break
    if not last.isValid():
        return first.row(), first.row()
    # The bottom-left cell found: the rest of its line is visible too.
    row, top, rows = last.row(), view.visualRect(last).top(), view.model().rowCount()
    while row + 1 < rows and view.visualRect(view.model().index(row + 1, 0)).top() == top:
        row += 1
    return first.row(), max(first.row(), row)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
