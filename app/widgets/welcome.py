"""The empty state: what to do when no project is open."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from app import settings


class WelcomePage(QWidget):
    """New / open / recent projects, and a hint that folders can be dropped here."""

    new_requested = Signal()
    open_requested = Signal()
    recent_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h1>mtlabel</h1>")
        subtitle = QLabel(
            "Label several tasks per image — present, absent or unknown — train one shared "
            "network on exactly those labels, and see where the next labels help most."
        )
        subtitle.setWordWrap(True)
        new_button = QPushButton("New project…")
        open_button = QPushButton("Open project…")
        new_button.clicked.connect(self.new_requested)
        open_button.clicked.connect(self.open_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(new_button)
        buttons.addWidget(open_button)
        buttons.addStretch(1)
        self.recent = QListWidget()
        self.recent.setObjectName("recentProjects")
        self.recent.itemActivated.connect(lambda item: self.recent_chosen.emit(item.text()))
        hint = QLabel("Drop a project folder here to open it.")
        hint.setEnabled(False)

        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addSpacing(18)
        column.addWidget(QLabel("<b>Recent projects</b>"))
        column.addWidget(self.recent, 1)
        column.addWidget(hint)
        frame = QWidget()
        frame.setLayout(column)
        frame.setMaximumWidth(640)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(frame, 3)
        outer.addStretch(1)
        outer.setAlignment(frame, Qt.AlignmentFlag.AlignVCenter)
        self.refresh()

    def refresh(self) -> None:
        self.recent.clear()
        self.recent.addItems(settings.recent_projects())
