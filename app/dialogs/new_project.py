"""New project: where it goes and which tasks it starts with, checked as the user types.

OK stays disabled until the folder and every task name are valid; the
messages under the fields say what is wrong and on which line. Creating
leaves nothing half-made: if :meth:`Project.create` fails, what it created is
removed again.
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.preferences import load_annotator
from core.errors import UserError
from core.project import CACHE_DIR, DB_FILE, PROJECT_FILE, RUNS_DIR, Project
from core.tasks import validate_task_name

FOLDER_SETTING = "new_project/folder"
"""QSettings key: the folder the last project was created in."""

_BAD_NAME_CHARS = set('/\\:*?"<>|')


def parse_task_lines(text: str) -> tuple[list[str], list[str]]:
    """Task names from one-per-line text (blank lines ignored) and the problems found,
    each naming its line."""
    names: list[str] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            name = validate_task_name(line)
        except UserError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        first = seen.get(name.lower())
        if first is not None:
            problems.append(f"line {number}: task {name!r} is already given on line {first}")
            continue
        seen[name.lower()] = number
        names.append(name)
    return names, problems


def folder_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be the new project's folder name, or None."""
    if not name.strip():
        return "give the project a name (its folder)"
    if name != name.strip():
        return "the name starts or ends with a space"
    if name in (".", ".."):
        return f"{name!r} is not a folder name"
    if any(c in _BAD_NAME_CHARS or ord(c) < 32 for c in name):
        return 'the name may not contain / \\ : * ? " < > | or control characters'
    if len(name.encode("utf-8")) > 255:
        return "the name is too long for a folder"
    return None


class NewProjectDialog(QDialog):
    """Ask for a parent folder, a project (folder) name and the tasks, one per line."""

    def __init__(self, parent: QWidget | None = None, folder: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(520)

        self.folder_edit = QLineEdit(self)
        self.folder_edit.setObjectName("folderEdit")
        self.folder_edit.setPlaceholderText("the folder that will hold the project's folder")
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self.browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setPlaceholderText("e.g. street-scenes")

        self.target_label = QLabel(self)
        self.target_label.setObjectName("targetLabel")
        self.target_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.target_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.tasks_edit = QPlainTextEdit(self)
        self.tasks_edit.setObjectName("tasksEdit")
        self.tasks_edit.setPlaceholderText("pedestrian\ncar\nstop sign\ntraffic light")
        self.tasks_edit.setTabChangesFocus(True)
        self.tasks_edit.setMinimumHeight(self.fontMetrics().lineSpacing() * 7)
        tasks_hint = QLabel(
            "One task per line: a yes/no question asked of every image "
            "(each cell is present, absent or unknown). You can add, rename and "
            "reorder tasks later.",
            self,
        )
        tasks_hint.setWordWrap(True)
        tasks_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.message_label = QLabel(self)
        self.message_label.setObjectName("messageLabel")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.RichText)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Create in:", folder_row)
        form.addRow("Project name:", self.name_edit)
        form.addRow("", self.target_label)
        form.addRow("Tasks:", self.tasks_edit)
        form.addRow("", tasks_hint)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)

        self.folder_edit.textChanged.connect(self.validate)
        self.name_edit.textChanged.connect(self.validate)
        self.tasks_edit.textChanged.connect(self.validate)
        start = folder or str(QSettings().value(FOLDER_SETTING, "") or "") or str(Path.home())
        self.folder_edit.setText(start)
        self.name_edit.setFocus()
        self.validate()

    # -- values ------------------------------------------------------------------------

    def target_path(self) -> Path | None:
        folder = self.folder_edit.text().strip()
        name = self.name_edit.text()
        if not folder or folder_name_problem(name) is not None:
            return None
        return Path(folder).expanduser().absolute() / name

    def task_names(self) -> list[str]:
        return parse_task_lines(self.tasks_edit.toPlainText())[0]

    def problems(self) -> list[str]:
        """Everything that keeps OK disabled, in the order of the fields."""
        problems: list[str] = []
        folder = self.folder_edit.text().strip()
        if not folder:
            problems.append("choose the folder to create the project in")
        else:
            parent = Path(folder).expanduser()
            if not parent.is_dir():
                problems.append(f"the folder {folder} does not exist")
            elif not os.access(parent, os.W_OK | os.X_OK):
                problems.append(f"the folder {folder} cannot be written to")
        name_problem = folder_name_problem(self.name_edit.text())
        if name_problem is not None:
            problems.append(name_problem)
        target = self.target_path()
        if target is not None and not problems:
            if (target / PROJECT_FILE).exists() or (target / DB_FILE).exists():
                problems.append(f"{target} already holds an mtlabel project")
            elif target.exists() and not target.is_dir():
                problems.append(f"{target} exists and is not a folder")
        problems += parse_task_lines(self.tasks_edit.toPlainText())[1]
        return problems

    def validate(self) -> bool:
        problems = self.problems()
        target = self.target_path()
        if target is None:
            self.target_label.setText("")
        elif target.is_dir():
            self.target_label.setText(f"The project will be added to the existing folder {target}")
        else:
            self.target_label.setText(f"The project will be created as {target}")
        if problems:
            colour = self.palette().color(QPalette.ColorRole.Text)
            error = "#e5534b" if colour.lightnessF() > 0.5 else "#b3261e"
            self.message_label.setText(
                f'<span style="color:{error}">'
                + "<br>".join(html.escape(p) for p in problems)
                + "</span>"
            )
        elif not self.task_names():
            self.message_label.setText("No tasks yet: you can add them later in the Tasks panel.")
        else:
            count = len(self.task_names())
            self.message_label.setText(f"{count} task{'s' if count != 1 else ''}.")
        self.ok_button.setEnabled(not problems)
        return not problems

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Create the project in", self.folder_edit.text() or str(Path.home())
        )
        if folder:
            self.folder_edit.setText(folder)

    def accept(self) -> None:
        if self.validate():
            super().accept()

    # -- creating ------------------------------------------------------------------------

    def make_project(self) -> Project | None:
        """Create the project the dialog describes; on failure, say why and undo it all."""
        target = self.target_path()
        if target is None or not self.validate():
            return None
        project = create_project_cleanly(self, target, self.task_names())
        if project is not None:
            QSettings().setValue(FOLDER_SETTING, str(target.parent))
        return project

    @staticmethod
    def create_project(parent: QWidget | None = None, folder: str | None = None) -> Project | None:
        """Show the dialog; create and return the project, or None if cancelled or failed."""
        dialog = NewProjectDialog(parent, folder)
        try:
            while dialog.exec() == QDialog.DialogCode.Accepted:
                project = dialog.make_project()
                if project is not None:
                    return project
                # failed (and said why): let the user fix the input and try again
            return None
        finally:
            dialog.deleteLater()


def create_project_cleanly(
    parent: QWidget | None, target: Path, tasks: list[str]
) -> Project | None:
    """``Project.create`` that removes what it made if it fails, and shows the error."""
    existed = target.exists()
    before = set(os.listdir(target)) if existed and target.is_dir() else set()
    try:
        # labels set in the new project record the annotator from the preferences
        return Project.create(target, tasks, annotator=load_annotator())
    except Exception as exc:
        _remove_made(target, existed, before)
        message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        QMessageBox.warning(parent, "New project", f"The project could not be created:\n{message}")
        return None


def _remove_made(target: Path, existed: bool, before: set[str]) -> None:
    """Remove what a failed ``Project.create`` left: the folder if it was new, else the
    project's own entries that were not there before."""
    if not existed:
        shutil.rmtree(target, ignore_errors=True)
        return
    ours = {PROJECT_FILE, DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", CACHE_DIR, RUNS_DIR}
    for name in ours - before:
        path = target / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
