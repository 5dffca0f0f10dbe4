"""Import and export label files (wide CSV, Open Images, CheXpert, JSON) from the window.

An import is all or nothing (:func:`core.formats.import_labels`): a file with
any error changes nothing, and the dialog lists the problems with their
lines. A successful import is not on the undo stack — Edit → Undo does not
undo it — but the label history keeps every change it made. Both run in a
background job so that a large file does not freeze the window.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from app.workers import run_in_thread
from core.errors import LabelFileError
from core.formats import (
    FORMATS,
    LabelExportSummary,
    LabelImportSummary,
    export_labels,
    import_labels,
)
from core.labels import counts_per_task

FORMAT_NAMES: dict[str, str] = {
    "csv": "Wide CSV (image, one column per task)",
    "openimages": "Open Images (ImageID, LabelName, Confidence)",
    "chexpert": "CheXpert CSV (Path, findings; -1 uncertain)",
    "json": "mtlabel JSON (lossless)",
}
FORMAT_TIPS: dict[str, str] = {
    "csv": "One row per image: the image, then one column per task with 1, 0, ? or empty.",
    "openimages": "One row per known label; a label not listed is unknown.",
    "chexpert": "A Path column, then findings: 1.0, 0.0, -1.0 (uncertain) or empty.",
    "json": "mtlabel's own format: keeps annotators, times and archived tasks.",
}
FORMAT_FILTERS: dict[str, str] = {
    "csv": "Wide CSV (*.csv)",
    "openimages": "Open Images CSV (*.csv)",
    "chexpert": "CheXpert CSV (*.csv)",
    "json": "mtlabel JSON (*.json)",
}
FORMAT_SUFFIX = {"csv": ".csv", "openimages": ".csv", "chexpert": ".csv", "json": ".json"}
UNCERTAIN_CHOICES = (
    ("unknown", "unknown — leave the cell unlabelled (U-Ignore)"),
    ("present", "present (U-Ones)"),
    ("absent", "absent (U-Zeros)"),
)
MAX_PROBLEMS_SHOWN = 50
IMPORT_FOLDER_SETTING = "labels/import_folder"
EXPORT_FOLDER_SETTING = "labels/export_folder"
EXPORT_FORMAT_SETTING = "labels/export_format"
UNDO_NOTE = "Edit → Undo does not undo a file import; the history keeps every change."
SHOW_BUSY_AFTER_MS = 250

assert set(FORMAT_NAMES) == set(FORMATS), "a label format without a name in the window"


def guess_format(path: str | os.PathLike[str]) -> str:
    """The likely format of a label file: by its ending, and for CSV by its header."""
    name = os.fspath(path)
    if name.lower().endswith(".json"):
        return "json"
    try:
        with open(name, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline(4096)
    except OSError:
        return "csv"
    columns = [c.strip().strip('"').lower() for c in header.replace(";", ",").split(",")]
    if {"imageid", "labelname"} <= set(columns):
        return "openimages"
    if columns and columns[0] == "path":
        return "chexpert"
    return "csv"


def _gui_wording(problem: str) -> str:
    """Core's messages name command-line options; say what to tick instead."""
    return problem.replace(
        "use --create-tasks to add it", "tick “Add tasks that are in the file…” to add it"
    )


# -- running in the background with a busy indicator ------------------------------------


def _run_busy(
    parent: QWidget | None, title: str, text: str, fn: Callable[..., Any], *args: Any, **kw: Any
) -> tuple[Any, BaseException | None, str | None]:
    """Run ``fn`` in a job, with a busy dialog if it takes a moment; wait (events keep
    flowing) and return (result, exception, message)."""
    # Not a QProgressDialog: its own timer shows it 4 s after it is made unless its value
    # reaches the maximum, which a busy (0..0) one never does — it popped up over the
    # result message after every import.
    dialog = BusyDialog(title, text, parent)
    job = run_in_thread(fn, *args, name=title, **kw)
    timer = QTimer(dialog)
    timer.setSingleShot(True)
    timer.timeout.connect(lambda: None if job.is_finished() else dialog.show())
    timer.start(SHOW_BUSY_AFTER_MS)
    job.wait_in_event_loop()
    timer.stop()
    dialog.hide()
    dialog.deleteLater()
    return job.result, job.exception, job.error


class BusyDialog(QDialog):
    """ "Reading labels.csv…" with a moving bar and no buttons: an all-or-nothing import
    cannot stop half-way. Shown only by its owner, never by a timer of its own."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("busyDialog")
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(380)
        bar = QProgressBar(self)
        bar.setRange(0, 0)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(text, self))
        layout.addWidget(bar)

    def reject(self) -> None:  # Escape: the job cannot be stopped; the dialog stays
        pass


# -- import -------------------------------------------------------------------------------


class LabelImportOptionsDialog(QDialog):
    """How to read a label file: its format and what to do with new tasks, uncertain and
    unknown cells."""

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.setWindowTitle("Import labels")
        self.setMinimumWidth(600)
        file_label = QLabel(html.escape(os.path.basename(path)), self)
        file_label.setToolTip(path)
        file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.format_combo = QComboBox(self)
        self.format_combo.setObjectName("formatCombo")
        for i, fmt in enumerate(FORMATS):
            self.format_combo.addItem(FORMAT_NAMES[fmt], fmt)
            self.format_combo.setItemData(i, FORMAT_TIPS[fmt], Qt.ItemDataRole.ToolTipRole)
        self.format_combo.setCurrentIndex(FORMATS.index(guess_format(path)))

        self.create_tasks_check = QCheckBox(
            "Add tasks that are in the file but not in the project", self
        )
        self.create_tasks_check.setToolTip(
            "Off: a column (or label name) that is not a task of the project is an error.\n"
            "On: such tasks are added to the project."
        )
        self.create_tasks_check.setObjectName("createTasks")
        self.uncertain_combo = QComboBox(self)
        self.uncertain_combo.setObjectName("uncertainCombo")
        for value, text in UNCERTAIN_CHOICES:
            self.uncertain_combo.addItem(text, value)
        self.clear_check = QCheckBox("Unknown in the file clears known labels", self)
        self.clear_check.setObjectName("clearKnown")
        self.clear_check.setToolTip(
            "Off: an empty or ? cell in the file leaves the project's label as it is.\n"
            "On: it sets the label back to unknown."
        )
        note = QLabel(
            "The file is checked first: if any line has an error, nothing is imported. "
            + UNDO_NOTE,
            self,
        )
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        form = QFormLayout()
        form.addRow("File:", file_label)
        form.addRow("Format:", self.format_combo)
        form.addRow("", self.create_tasks_check)
        self.uncertain_label = QLabel("CheXpert uncertain (-1):", self)
        form.addRow(self.uncertain_label, self.uncertain_combo)
        form.addRow("", self.clear_check)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self._format_changed()

    def _format_changed(self, *_args: object) -> None:
        chexpert = self.format() == "chexpert"
        self.uncertain_combo.setEnabled(chexpert)
        self.uncertain_label.setEnabled(chexpert)

    def format(self) -> str:
        return str(self.format_combo.currentData())

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`core.formats.import_labels`."""
        return {
            "create_tasks": self.create_tasks_check.isChecked(),
            "uncertain": str(self.uncertain_combo.currentData()),
            "overwrite_with_unknown": self.clear_check.isChecked(),
        }


class LabelFileErrorDialog(QDialog):
    """The problems of a label file (the first 50, each with its line); nothing was imported."""

    def __init__(self, error: LabelFileError, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error = error
        self.setWindowTitle("Labels not imported")
        self.setMinimumSize(620, 340)
        count = len(error.problems)
        headline = QLabel(
            f"<b>Nothing was imported.</b> {html.escape(os.path.basename(error.path))} has "
            f"{count:,} problem{'s' if count != 1 else ''}; fix "
            f"{'them' if count != 1 else 'it'} and import the file again.",
            self,
        )
        headline.setWordWrap(True)
        self.problems_view = QPlainTextEdit(self)
        self.problems_view.setObjectName("problems")
        self.problems_view.setReadOnly(True)
        self.problems_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.problems_view.setPlainText(self.problems_text())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy all", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(
            lambda: QGuiApplication.clipboard().setText("\n".join(self.problems()))
        )
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(headline)
        layout.addWidget(self.problems_view, 1)
        layout.addWidget(buttons)

    def problems(self) -> list[str]:
        return [_gui_wording(p) for p in self.error.problems]

    def problems_text(self) -> str:
        problems = self.problems()
        shown = problems[:MAX_PROBLEMS_SHOWN]
        text = "\n".join(shown)
        if len(problems) > len(shown):
            text += f"\n… and {len(problems) - len(shown):,} more (Copy all copies them all)"
        return text


def import_summary_text(summary: LabelImportSummary) -> str:
    """What a label import did, in a few plain lines."""
    lines = [
        f"Read {summary.rows_read:,} rows; {summary.images_matched:,} images matched.",
        f"Labels changed: {summary.cells_set:,}"
        + (f" ({summary.cells_cleared:,} set back to unknown)" if summary.cells_cleared else "")
        + f"; already the same: {summary.cells_unchanged:,}"
        + f"; unknown in the file, left as they were: {summary.cells_unknown:,}.",
    ]
    if summary.uncertain:
        lines.append(
            f"Uncertain (-1) cells: {summary.uncertain:,}, read as {summary.uncertain_policy}."
        )
    if summary.tasks_created:
        lines.append("New tasks: " + ", ".join(summary.tasks_created) + ".")
    if summary.rows_skipped:
        first = summary.unknown_images[:3]
        examples = ", ".join(f"line {line} “{name}”" for line, name in first)
        lines.append(
            f"Skipped {summary.rows_skipped:,} rows for images not in the project"
            + (f" (e.g. {examples})" if examples else "")
            + "."
        )
    if summary.ignored_columns:
        lines.append("Columns ignored (not tasks): " + ", ".join(summary.ignored_columns) + ".")
    lines.append(UNDO_NOTE)
    return "\n".join(lines)


def import_label_file(
    parent: QWidget | None, session: ProjectSession, path: str | None = None
) -> LabelImportSummary | None:
    """Ask for a label file and how to read it, import it, and say what happened.

    Returns the summary, or None when cancelled or nothing was imported. On success
    ``session.tasks_changed`` and ``session.images_changed`` make every widget re-read.
    """
    settings = QSettings()
    if path is None:
        start = str(settings.value(IMPORT_FOLDER_SETTING, "") or "") or str(session.project.root)
        path, _ = QFileDialog.getOpenFileName(
            parent,
            "Import labels",
            start,
            "Label files (*.csv *.json *.txt *.tsv);;All files (*)",
        )
        if not path:
            return None
    settings.setValue(IMPORT_FOLDER_SETTING, os.path.dirname(path))
    options = LabelImportOptionsDialog(path, parent)
    try:
        if options.exec() != QDialog.DialogCode.Accepted:
            return None
        fmt, kwargs = options.format(), options.options()
    finally:
        options.deleteLater()

    result, exc, message = _run_busy(
        parent,
        "Import labels",
        f"Reading {os.path.basename(path)}…",
        import_labels,
        session.project,
        path,
        fmt,
        **kwargs,
    )
    if isinstance(exc, LabelFileError):
        errors = LabelFileErrorDialog(exc, parent)
        errors.exec()
        errors.deleteLater()
        return None
    if exc is not None:
        QMessageBox.warning(parent, "Import labels", f"Nothing was imported: {message}")
        return None
    assert isinstance(result, LabelImportSummary)
    # Committed by now (import_labels returns after its transaction); what the window
    # says next is read back from the database, not taken from what was sent.
    known = sum(c.known for c in counts_per_task(session.project))
    session.tasks_changed.emit()
    session.images_changed.emit()
    text = import_summary_text(result)
    text += f"\nSaved: the project now holds {known:,} known labels."
    QMessageBox.information(parent, "Labels imported", text)
    return result


# -- export -------------------------------------------------------------------------------


def export_label_file(
    parent: QWidget | None, session: ProjectSession, fmt: str | None = None
) -> LabelExportSummary | None:
    """Ask for a file and a format (the file type of the save dialog), write the labels.

    Returns the summary, or None when cancelled or failed (the user was told why).
    """
    settings = QSettings()
    chosen = fmt or str(settings.value(EXPORT_FORMAT_SETTING, "csv") or "csv")
    if chosen not in FORMATS:
        chosen = "csv"
    folder = str(settings.value(EXPORT_FOLDER_SETTING, "") or "") or str(session.project.root)
    suggestion = str(Path(folder) / f"{session.project.root.name}-labels{FORMAT_SUFFIX[chosen]}")
    filters = [FORMAT_FILTERS[f] for f in FORMATS]
    path, selected = QFileDialog.getSaveFileName(
        parent, "Export labels", suggestion, ";;".join(filters), FORMAT_FILTERS[chosen]
    )
    if not path:
        return None
    chosen = next((f for f in FORMATS if FORMAT_FILTERS[f] == selected), chosen)
    if not Path(path).suffix:
        path += FORMAT_SUFFIX[chosen]
    settings.setValue(EXPORT_FOLDER_SETTING, os.path.dirname(path))
    settings.setValue(EXPORT_FORMAT_SETTING, chosen)

    result, exc, message = _run_busy(
        parent,
        "Export labels",
        f"Writing {os.path.basename(path)}…",
        export_labels,
        session.project,
        path,
        chosen,
        # JSON is the lossless format: it carries archived tasks too (as the CLI does).
        include_archived=chosen == "json",
    )
    if exc is not None:
        QMessageBox.warning(parent, "Export labels", f"The labels were not exported: {message}")
        return None
    assert isinstance(result, LabelExportSummary)
    QMessageBox.information(
        parent,
        "Labels exported",
        f"Wrote {result.cells:,} labels of {result.images:,} images and {result.tasks:,} "
        f"tasks to\n{path}",
    )
    return result
