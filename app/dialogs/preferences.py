"""Preferences: the annotator name recorded with every label this window writes.

Stored in QSettings under ``annotator``; when nothing is stored the default is
:func:`core.project.default_annotator` ($MTLABEL_ANNOTATOR, else the OS user).
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from core.project import default_annotator

ANNOTATOR_SETTING = "annotator"
MAX_ANNOTATOR_LENGTH = 100


def load_annotator() -> str:
    """The annotator name to record with labels: the stored one, else the default."""
    stored = QSettings().value(ANNOTATOR_SETTING, "")
    name = str(stored).strip() if stored else ""
    return name if annotator_problem(name) is None else default_annotator()


def save_annotator(name: str) -> None:
    QSettings().setValue(ANNOTATOR_SETTING, name.strip())


def annotator_problem(name: str) -> str | None:
    """Why ``name`` cannot be recorded as the annotator, or None."""
    cleaned = name.strip()
    if not cleaned:
        return "the name is empty"
    if len(cleaned) > MAX_ANNOTATOR_LENGTH:
        return f"the name is longer than {MAX_ANNOTATOR_LENGTH} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        return "the name contains control characters"
    return None


class PreferencesDialog(QDialog):
    """Edit the annotator name; OK stores it and applies it to the open project at once."""

    def __init__(
        self, session: ProjectSession | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(420)
        self.annotator_edit = QLineEdit(load_annotator(), self)
        self.annotator_edit.setObjectName("annotatorEdit")
        self.annotator_edit.setPlaceholderText(default_annotator())
        self.annotator_edit.setMaxLength(MAX_ANNOTATOR_LENGTH + 20)
        hint = QLabel(
            "Recorded with every label you set, so that a team can see who labelled what.", self
        )
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("messageLabel")
        form = QFormLayout()
        form.addRow("Annotator name:", self.annotator_edit)
        form.addRow("", hint)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.annotator_edit.textChanged.connect(self._validate)
        self._validate()

    def _validate(self, *_args: object) -> bool:
        problem = annotator_problem(self.annotator_edit.text())
        self.message_label.setText(problem.capitalize() + "." if problem else "")
        self.ok_button.setEnabled(problem is None)
        return problem is None

    def annotator(self) -> str:
        return self.annotator_edit.text().strip()

    def apply(self) -> None:
        """Store the name and use it for the labels the open project records from now on."""
        if not self._validate():
            return
        save_annotator(self.annotator())
        if self.session is not None:
            self.session.project.annotator = self.annotator()

    def accept(self) -> None:
        if self._validate():
            self.apply()
            super().accept()

    @staticmethod
    def edit(session: ProjectSession | None, parent: QWidget | None = None) -> bool:
        """Show the dialog; True when the user changed and applied the preferences."""
        dialog = PreferencesDialog(session, parent)
        try:
            return dialog.exec() == QDialog.DialogCode.Accepted
        finally:
            dialog.deleteLater()
