"""The labelling workspace: tasks | thumbnails | image and labels, wired together."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from app.session import ProjectSession
from app.widgets.annotate_pane import AnnotatePane
from app.widgets.browser import ImageBrowser
from app.widgets.task_panel import TaskPanel

PREFETCH_AHEAD = 2


class ProjectView(QSplitter):
    """Three panes; the browser's current image drives the annotate pane."""

    def __init__(self, session: ProjectSession, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.session = session
        self.tasks = TaskPanel(session)
        self.browser = ImageBrowser(session)
        self.annotate = AnnotatePane(session)
        for pane in (self.tasks, self.browser, self.annotate):
            self.addWidget(pane)
        self.setStretchFactor(0, 0)
        self.setStretchFactor(1, 1)
        self.setStretchFactor(2, 3)
        self.setSizes([230, 430, 900])
        self.setChildrenCollapsible(False)
        self.browser.current_image_changed.connect(self._current_changed)
        self.browser.selection_changed.connect(self._selection_changed)
        self.browser.counts_changed.connect(
            lambda _text: self.annotate.set_position(
                self.browser.position(), self.browser.list_model.total_images()
            )
        )
        self.annotate.set_position((0, 0), self.browser.list_model.total_images())
        self.previous_image: int | None = None
        self._current: int | None = None

    def _current_changed(self, image_id: int) -> None:
        if image_id == self._current:
            return
        self.previous_image = self._current
        self._current = image_id if image_id >= 0 else None
        self.annotate.show_image(self._current, self.browser.position())
        index, _total = self.browser.position()
        ahead = self.browser.image_ids()[index : index + PREFETCH_AHEAD]
        if ahead:
            self.annotate.prefetch(ahead)

    def _selection_changed(self, image_ids: list[int]) -> None:
        if len(image_ids) > 1:
            self.annotate.show_selection(image_ids)
        elif self._current is not None:
            self.annotate.show_image(self._current, self.browser.position())

    # -- keyboard actions (bound by the main window) --------------------------------

    def targets(self) -> list[int]:
        """The images a label key acts on: the selection, or the current image."""
        selected = self.browser.selected_images()
        if len(selected) > 1:
            return selected
        return [self._current] if self._current is not None else []

    def copy_from_previous(self) -> None:
        order = self.browser.image_ids()
        current = self._current
        if current is None or current not in order:
            return
        index = order.index(current)
        if index > 0:
            self.annotate.panel.copy_from(order[index - 1])
