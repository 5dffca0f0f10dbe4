"""Import images with a progress dialog, then a summary of what was added and skipped.

The import (:func:`core.images.importer.import_images`) runs in a background
job on the session's project — the engine is thread-safe (each transaction
takes its own pooled connection; SQLite connections are opened with
``check_same_thread=False``, and WAL plus the busy timeout let the window
keep writing labels meanwhile). The window keeps painting; Cancel stops the
import between files and keeps what was recorded so far.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from app.workers import Job, run_in_thread
from core.images import importer
from core.images.importer import IMAGE_EXTENSIONS, ImportProgress, ImportSummary

SHOW_PROGRESS_AFTER_MS = 250
"""A quick import finishes without a progress dialog flashing up."""
MAX_DETAIL_ROWS = 5_000
"""Rows in the summary's table; the rest are counted (and copied with Copy list)."""


IMAGE_FILE_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)) + ")"


def _n(value: int) -> str:
    return f"{value:,}"


def summary_line(summary: ImportSummary) -> str:
    """ "Added 1,204 · Duplicates 3 · Skipped 2 · Already imported 0" (plus the rarer
    outcomes when they happened)."""
    parts = [
        f"Added {_n(len(summary.added))}",
        f"Duplicates {_n(len(summary.duplicates))}",
        f"Skipped {_n(len(summary.skipped))}",
        f"Already imported {_n(summary.unchanged)}",
    ]
    for label, count in (
        ("Moved", len(summary.moved)),
        ("Changed", len(summary.changed)),
        ("Usable again", len(summary.back)),
        ("Now missing", len(summary.marked_missing)),
    ):
        if count:
            parts.append(f"{label} {_n(count)}")
    line = " · ".join(parts)
    if summary.ignored:
        text = summary.ignored_text()
        line += " · " + text[0].upper() + text[1:]
    return line


def detail_rows(summary: ImportSummary) -> list[tuple[str, str, str]]:
    """(file, outcome, details) for every file worth a look: skipped first."""
    rows = [(path, "skipped", reason) for path, reason in summary.skipped]
    rows += [(path, "duplicate", f"same content as {other}") for path, other in summary.duplicates]
    rows += [(new, "moved", f"found again; was {old} (labels kept)") for old, new in summary.moved]
    rows += [(path, "changed", "content changed; labels kept") for path in summary.changed]
    rows += [
        (path, "now missing", "the file is gone; labels kept") for path in summary.marked_missing
    ]
    return rows


class ImportProgressDialog(QProgressDialog):
    """A progress dialog whose Cancel (button, Esc or closing) asks the job to stop and
    stays up, saying so, until the job has stopped."""

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__("Looking for images…", "Cancel", 0, 0, parent)
        self.setWindowTitle("Import images")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setMinimumDuration(60 * 60 * 1000)  # shown by the import, not by Qt's guess
        self.setMinimumWidth(460)
        self.canceled.disconnect(self.cancel)  # keep showing while the job winds down
        self.cancel_requested = False
        self.canceled.connect(self._note_cancel)

    def _note_cancel(self) -> None:
        if not self.cancel_requested:
            self.cancel_requested = True
            self.setLabelText("Cancelling… the images recorded so far are kept.")
            button = self.findChild(QPushButton)
            if button is not None:
                button.setEnabled(False)

    def reject(self) -> None:  # Esc
        self.canceled.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        event.ignore()
        self.canceled.emit()


class ImageImport(QObject):
    """One import in the background with its progress dialog; ``finished(summary)`` with
    the :class:`ImportSummary` (``cancelled`` set if stopped), or None if it failed."""

    finished = Signal(object)

    def __init__(
        self, parent: QWidget | None, session: ProjectSession, sources: Sequence[str]
    ) -> None:
        super().__init__(parent)
        self._parent_widget = parent
        self.session = session
        self.sources = [os.fspath(s) for s in sources]
        self.job: Job | None = None
        self.summary: ImportSummary | None = None
        self.error: str | None = None
        self.done = False
        self.dialog = ImportProgressDialog(parent)
        self.dialog.canceled.connect(self.cancel)
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.setInterval(SHOW_PROGRESS_AFTER_MS)
        self._show_timer.timeout.connect(self._show_dialog)

    def start(self) -> Job:
        self.job = run_in_thread(
            importer.import_images,
            self.session.project,
            self.sources,
            on_progress=self._progress,
            on_done=self._succeeded,
            on_error=self._failed,
            name="import images",
        )
        self._show_timer.start()
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _show_dialog(self) -> None:
        if not self.done:
            self.dialog.show()

    def _progress(self, progress: object) -> None:
        if not isinstance(progress, ImportProgress) or self.dialog.cancel_requested:
            return
        total = max(progress.total, progress.done)
        if total and self.dialog.maximum() != total:
            self.dialog.setRange(0, total)
        self.dialog.setValue(min(progress.done, total))
        name = os.path.basename(progress.current)
        self.dialog.setLabelText(
            f"Importing {_n(progress.done)} of {_n(total)} files…\n"
            + self.dialog.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, 420)
        )

    def _succeeded(self, summary: object) -> None:
        assert isinstance(summary, ImportSummary)
        self.summary = summary
        self._finish()

    def _failed(self, message: str) -> None:
        self.error = message
        self._finish()
        QMessageBox.warning(
            self._parent_widget,
            "Import images",
            f"The import stopped: {message}\n\nImages recorded before the problem are kept.",
        )

    def _finish(self) -> None:
        self.done = True
        self._show_timer.stop()
        self.dialog.hide()
        self.dialog.deleteLater()
        # Even a failed or cancelled import may have recorded complete batches.
        self.session.images_changed.emit()
        self.finished.emit(self.summary)


class ImportSummaryDialog(QDialog):
    """What an import did: one line of counts, and a table of files worth a look."""

    def __init__(self, summary: ImportSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = summary
        self.setWindowTitle("Import cancelled" if summary.cancelled else "Import finished")
        self.headline = QLabel(summary_line(summary), self)
        self.headline.setObjectName("headline")
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        if summary.cancelled:
            note = QLabel(
                "Cancelled: the images recorded so far are kept. Import the same folder "
                "again to finish; what is already there is recognised and not added twice.",
                self,
            )
            note.setWordWrap(True)
            layout.addWidget(note)

        self.rows = detail_rows(summary)
        self.details_button = QPushButton(self)
        self.details_button.setCheckable(True)
        self.details_button.setEnabled(bool(self.rows))
        self.details_button.toggled.connect(self._show_details)
        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("details")
        self.table.setHorizontalHeaderLabels(["File", "Outcome", "Why"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.table.setVisible(False)
        self.more_label = QLabel(self)
        self.more_label.setVisible(False)
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.more_label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = buttons.addButton("Copy list", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setEnabled(bool(self.rows))
        self.copy_button.clicked.connect(self.copy_list)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self._filled = False
        self._show_details(False)

    def _fill(self) -> None:
        shown = self.rows[:MAX_DETAIL_ROWS]
        self.table.setRowCount(len(shown))
        for r, (path, outcome, why) in enumerate(shown):
            name = QTableWidgetItem(os.path.basename(path) or path)
            name.setToolTip(path)
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, QTableWidgetItem(outcome))
            reason = QTableWidgetItem(why)
            reason.setToolTip(why)
            self.table.setItem(r, 2, reason)
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), 320))
        hidden = len(self.rows) - len(shown)
        self.more_label.setText(f"… and {_n(hidden)} more (Copy list copies them all)")
        self._filled = True

    def _show_details(self, shown: bool) -> None:
        if shown and not self._filled:
            self._fill()
        self.table.setVisible(shown)
        self.more_label.setVisible(shown and len(self.rows) > MAX_DETAIL_ROWS)
        count = _n(len(self.rows))
        self.details_button.setText(
            f"Hide details ({count})" if shown else f"Show details ({count} files)"
        )
        if shown:
            self.resize(max(self.width(), 760), max(self.height(), 420))
        else:
            self.adjustSize()

    def copy_list(self) -> None:
        """All files worth a look as tab-separated lines (path, outcome, why)."""
        text = "\n".join("\t".join(row) for row in self.rows)
        QGuiApplication.clipboard().setText(text)


def import_images_with_progress(
    parent: QWidget | None, session: ProjectSession, sources: Sequence[str]
) -> ImportSummary | None:
    """Import ``sources`` (folders and files) with a progress dialog, then show the summary.

    Returns the summary (``cancelled`` set if the user stopped it), or None when the
    import failed (the user was told why). Waits in a nested event loop, like a modal
    dialog: the window keeps painting meanwhile. ``session.images_changed`` is emitted.
    """
    run = ImageImport(parent, session, sources)
    run.start()
    assert run.job is not None
    run.job.wait_in_event_loop()
    summary = run.summary
    run.deleteLater()
    if summary is None:
        return None
    dialog = ImportSummaryDialog(summary, parent)
    dialog.exec()
    dialog.deleteLater()
    return summary
