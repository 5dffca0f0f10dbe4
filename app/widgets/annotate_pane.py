"""The annotate pane: a header line, the current image large, and its label panel."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from app.session import ProjectSession
from app.widgets.image_info import ImageInfo, image_infos
from app.widgets.image_view import ImageView
from app.widgets.label_panel import LabelPanel

PANEL_WIDTH = 320
_WARNING_COLOUR = "#d9822b"
EMPTY_PROJECT_HINT = (
    "This project has no images yet.\n"
    "Import a folder or files: File → Import Images… (Ctrl+I),\n"
    "or drop them on the window."
)


def position_text(number: int, total: int) -> str:
    """ "412 / 5,000" (``number`` is 1-based, as shown)."""
    return f"{number:,} / {total:,}" if total > 0 else ""


def status_text(info: ImageInfo) -> str:
    """A note for an image whose file cannot be shown, "" for a usable one."""
    if info.status == "missing":
        return "File not found — labels are kept"
    if info.status == "unreadable":
        why = f": {info.status_note}" if info.status_note else ""
        return f"File cannot be read{why} — labels are kept"
    return ""


class AnnotatePane(QWidget):
    """Header (name, size, position, file status), ``view`` and ``panel`` side by side."""

    def __init__(self, session: ProjectSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("annotatePane")
        self._session = session
        self._current: int | None = None
        self._position: tuple[int, int] = (0, 0)
        self._selection: list[int] = []
        self._empty_project = False

        self.name_label = QLabel()
        self.name_label.setObjectName("imageName")
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = QFont(self.name_label.font())
        bold.setBold(True)
        self.name_label.setFont(bold)
        self.size_label = QLabel()
        self.size_label.setObjectName("imageSize")
        self.size_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.status_label = QLabel()
        self.status_label.setObjectName("imageStatus")
        self.status_label.setStyleSheet(f"color: {_WARNING_COLOUR}; font-weight: 600;")
        self.status_label.hide()
        self.position_label = QLabel()
        self.position_label.setObjectName("imagePosition")
        self.position_label.setAccessibleName("Position")
        header = QHBoxLayout()
        header.setContentsMargins(10, 6, 10, 6)
        header.setSpacing(12)
        header.addWidget(self.name_label, 0)
        header.addWidget(self.size_label, 0)
        header.addWidget(self.status_label, 0)
        header.addStretch(1)
        header.addWidget(self.position_label, 0)

        self.view = ImageView()
        self.panel = LabelPanel(session)
        self.panel.setMinimumWidth(240)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("annotateSplitter")
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setCollapsible(0, False)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([900, PANEL_WIDTH])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)

        session.images_changed.connect(self._on_images_changed)
        self.show_image(None, (0, 0))

    # -- public API ------------------------------------------------------------------

    def show_image(self, image_id: int | None, position: tuple[int, int] = (0, 0)) -> None:
        """Show an image (None: none). ``position`` is (number, total), number 1-based.

        A multi-selection that does not contain the image ends (the panel goes
        back to the single image).
        """
        self._current = image_id
        self._position = position
        if image_id is None or image_id not in self._selection:
            self._selection = [] if image_id is None else [image_id]
        self._update()

    def set_position(self, position: tuple[int, int], project_images: int = -1) -> None:
        """The current image's place in the list changed (a filter, a sort, a refresh);
        ``project_images`` (when known) is how many images the project holds: with none
        the pane says how to import some."""
        self._position = position
        if project_images >= 0 and (project_images == 0) != self._empty_project:
            self._empty_project = project_images == 0
            if self._current is None:
                self.view.clear(self._nothing_shown())
        if self._current is not None:
            self.position_label.setText(position_text(*position))

    def _nothing_shown(self) -> str:
        if self._empty_project:
            return EMPTY_PROJECT_HINT
        return "No image selected"

    def show_selection(self, image_ids: Sequence[int]) -> None:
        """Several images: the panel acts on all of them; the view keeps the current image."""
        self._selection = list(dict.fromkeys(int(i) for i in image_ids))
        self._update_panel()

    def prefetch(self, image_ids: Sequence[int]) -> None:
        """Decode these images ahead (nearest first) so that moving to them is instant."""
        infos = image_infos(self._session, image_ids)
        self.view.prefetch([(i, infos[i].path) for i in image_ids if i in infos])

    def current_image_id(self) -> int | None:
        return self._current

    def set_run(self, run_id: int | None) -> None:
        """Show this run's predictions in the label panel (None: none)."""
        self.panel.set_run(run_id)
        # The bars and Accept buttons widen the rows: give the panel room for them
        # rather than letting the splitter clip the segmented controls.
        needed = max(PANEL_WIDTH, self.panel.minimumSizeHint().width())
        self.panel.setMinimumWidth(needed)
        sizes = self.splitter.sizes()
        if len(sizes) == 2 and sizes[1] < needed:
            total = sum(sizes)
            self.splitter.setSizes([max(0, total - needed), needed])

    def run_id(self) -> int | None:
        return self.panel.run_id()

    # -- internals -------------------------------------------------------------------

    def _targets(self) -> list[int]:
        if len(self._selection) > 1:
            return list(self._selection)
        return [] if self._current is None else [self._current]

    def _update_panel(self) -> None:
        self.panel.set_images(self._targets())

    def _update(self) -> None:
        info = None
        if self._current is not None:
            info = image_infos(self._session, [self._current]).get(self._current)
            if info is None:
                self._session.error.emit(f"Image {self._current} is no longer in the project")
                self._selection = [i for i in self._selection if i != self._current]
                self._current = None
        if info is None:
            self.name_label.setText("No image")
            self.name_label.setToolTip("")
            self.size_label.setText("")
            self.status_label.hide()
            self.position_label.setText("")
        else:
            self.name_label.setText(info.rel_path)
            self.name_label.setToolTip(info.path)
            self.size_label.setText(f"{info.width:,} × {info.height:,} px")
            note = status_text(info)
            self.status_label.setText(f"⚠ {note}")
            self.status_label.setVisible(bool(note))
            self.position_label.setText(position_text(*self._position))
        # The panel first: when the view says image_shown, the whole pane is up to date.
        self._update_panel()
        if info is None:
            self.view.clear(self._nothing_shown())
        else:
            self.view.show_image(info.id, info.path, info.status, info.rel_path)

    def _on_images_changed(self) -> None:
        # Statuses, paths or the set of images may have changed: re-read the current one.
        if self._current is not None:
            self._update()
