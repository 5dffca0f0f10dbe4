"""The main window: assembles the panels, menus, toolbar and status bar — nothing more."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QStyle,
    QTabWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from app import settings
from app.icons import redo_icon, undo_icon
from app.session import ProjectSession
from app.shortcuts import DigitKeys
from app.training.trainer_process import DeviceProbe
from app.training.training_view import TrainingView
from app.widgets.help_overlay import HelpOverlay
from app.widgets.project_view import ProjectView
from app.widgets.still_button import StillActionButton
from app.widgets.welcome import WelcomePage
from core.errors import UserError
from core.project import PROJECT_FILE, Project


def is_project_folder(path: str) -> bool:
    return (Path(path) / PROJECT_FILE).is_file()


class MainWindow(QMainWindow):
    project_opened = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("mtlabel")
        self.setAcceptDrops(True)
        self.resize(1440, 880)
        self.session: ProjectSession | None = None
        self.view: ProjectView | None = None
        self.training: TrainingView | None = None
        self.tabs: QTabWidget | None = None
        self.predictions_run: int | None = None
        self.help: HelpOverlay | None = None
        self.stack = QStackedWidget()
        self.welcome = WelcomePage()
        self.welcome.new_requested.connect(self.new_project)
        self.welcome.open_requested.connect(self.choose_project)
        self.welcome.recent_chosen.connect(self.open_project)
        self.stack.addWidget(self.welcome)
        self.setCentralWidget(self.stack)
        self.status_project = QLabel()
        self.status_counts = QLabel()
        self.status_training = QLabel()
        self.status_device = QLabel("looking for a GPU…")
        self.statusBar().addWidget(self.status_project, 1)
        self.statusBar().addPermanentWidget(self.status_training)
        self.statusBar().addPermanentWidget(self.status_counts)
        self.statusBar().addPermanentWidget(self.status_device)
        self.device_probe = DeviceProbe(self)
        self.device_probe.found.connect(lambda info: self.status_device.setText(info["summary"]))
        self.device_probe.start()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._digits = DigitKeys(self._cycle, self._set_value, self._labelling, self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._digits)
        geometry = settings.settings().value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self._update_enabled()

    # -- actions -------------------------------------------------------------------

    def _icon(self, pixmap: QStyle.StandardPixmap) -> QIcon:
        return self.style().standardIcon(pixmap)

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: str | list[str] | None = None,
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(self._icon(icon))
        if shortcut:
            keys = [shortcut] if isinstance(shortcut, str) else shortcut
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.act_new = self._action(
            "&New Project…", self.new_project, "Ctrl+N", sp.SP_FileDialogNewFolder
        )
        self.act_open = self._action(
            "&Open Project…", self.choose_project, "Ctrl+O", sp.SP_DialogOpenButton
        )
        self.act_close = self._action("&Close Project", self.close_project, "Ctrl+W")
        self.act_import = self._action(
            "&Import Image Folder…", self.import_images, "Ctrl+I", sp.SP_FileDialogContentsView
        )
        self.act_import.setIconText("Import Images")
        self.act_import_files = self._action(
            "Import Image &Files…", self.import_image_files, "Ctrl+Shift+I"
        )
        self.act_import_labels = self._action("Import &Labels…", self.import_labels)
        self.act_export_labels = self._action("&Export Labels…", self.export_labels)
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit.name)
        self.act_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.act_prefs = self._action("&Preferences…", self.preferences)
        self.act_refresh = self._action("&Refresh", self.refresh, "F5", sp.SP_BrowserReload)
        self.act_next = self._action(
            "&Next Image", lambda: self._step(1), ["Right", "J", "Space"], sp.SP_ArrowForward
        )
        self.act_prev = self._action(
            "&Previous Image", lambda: self._step(-1), ["Left", "K"], sp.SP_ArrowBack
        )
        self.act_next_unknown = self._action("Next Image With &Unknown", self._next_unknown, "U")
        self.act_all_absent = self._action("All Unknown → &Absent", self._all_absent, "A")
        self.act_copy_prev = self._action("&Copy Labels From Previous", self._copy_previous, "C")
        self.act_accept_image = self._action(
            "Accept &Predictions of This Image", self._accept_image, "P"
        )
        self.act_fit = self._action("&Fit Image", self._fit, ["F", "Ctrl+0"])
        self.act_help = self._action(
            "&Keyboard Shortcuts", self.toggle_help, ["F1", "?"], sp.SP_DialogHelpButton
        )
        self.act_about = self._action("&About mtlabel", self.about)
        self.act_train_tab = self._action("Show &Training", self._show_training, "Ctrl+T")
        self.act_accept = self._action("&Accept Predictions…", self._accept_predictions)
        self.act_label_next = self._action("&Label Next (Most Useful First)", self._label_next, "N")
        self.act_export_model = self._action("&Export Model…", self._export_model)
        self.act_undo = QAction("&Undo", self)
        self.act_redo = QAction("&Redo", self)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        for a in (self.act_new, self.act_open):
            file.addAction(a)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addMenu(self.recent_menu)
        file.addSeparator()
        for a in (
            self.act_import,
            self.act_import_files,
            self.act_import_labels,
            self.act_export_labels,
        ):
            file.addAction(a)
        file.addSeparator()
        file.addAction(self.act_close)
        file.addAction(self.act_quit)
        self.edit_menu = bar.addMenu("&Edit")
        self.edit_menu.addAction(self.act_undo)
        self.edit_menu.addAction(self.act_redo)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.act_prefs)
        label = bar.addMenu("&Label")
        for a in (self.act_all_absent, self.act_copy_prev, self.act_accept_image):
            label.addAction(a)
        label.addSeparator()
        for a in (self.act_next, self.act_prev, self.act_next_unknown, self.act_label_next):
            label.addAction(a)
        self.train_menu = bar.addMenu("&Train")
        view = bar.addMenu("&View")
        view.addAction(self.act_fit)
        view.addAction(self.act_refresh)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_help)
        help_menu.addAction(self.act_about)

    def _build_toolbar(self) -> None:
        tools = QToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setIconSize(QSize(20, 20))
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.act_new, self.act_open, self.act_import):
            tools.addAction(a)
        import_button = tools.widgetForAction(self.act_import)
        if isinstance(import_button, QToolButton):  # its arrow offers files as well
            menu = QMenu(import_button)
            menu.addAction(self.act_import)
            menu.addAction(self.act_import_files)
            import_button.setMenu(menu)
            import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        tools.addSeparator()
        # Fixed words: the menu's "Undo Set car = present on 12 images" would widen the
        # button at every key press and make the toolbar reflow.
        self.toolbar_undo = StillActionButton("Undo", tools)
        self.toolbar_redo = StillActionButton("Redo", tools)
        tools.addWidget(self.toolbar_undo)
        tools.addWidget(self.toolbar_redo)
        tools.addSeparator()
        for a in (self.act_prev, self.act_next, self.act_refresh, self.act_help):
            tools.addAction(a)
        self.toolbar = tools
        self.addToolBar(tools)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in settings.recent_projects():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(partial(self.open_project, path))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _update_enabled(self) -> None:
        has = self.session is not None
        for a in (
            self.act_train_tab,
            self.act_accept,
            self.act_label_next,
            self.act_export_model,
            self.act_close,
            self.act_import,
            self.act_import_files,
            self.act_import_labels,
            self.act_export_labels,
            self.act_refresh,
            self.act_next,
            self.act_prev,
            self.act_next_unknown,
            self.act_all_absent,
            self.act_copy_prev,
            self.act_accept_image,
            self.act_fit,
            self.act_prefs,
        ):
            a.setEnabled(has)

    # -- projects --------------------------------------------------------------------

    def new_project(self) -> None:
        from app.dialogs.new_project import NewProjectDialog

        project = NewProjectDialog.create_project(self)
        if project is not None:
            self._show_project(project)

    def choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open mtlabel project")
        if folder:
            self.open_project(folder)

    def open_project(self, path: str) -> bool:
        from app.dialogs.preferences import load_annotator

        try:
            project = Project.open(path, annotator=load_annotator())
        except UserError as exc:
            QMessageBox.warning(self, "Cannot open project", str(exc))
            if not Path(path).exists():
                settings.forget_project(path)
            return False
        self._show_project(project)
        return True

    def _show_project(self, project: Project) -> None:
        self.close_project()
        session = ProjectSession(project, self)
        session.error.connect(lambda msg: QMessageBox.warning(self, "mtlabel", msg))
        session.notice.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.session = session
        view = ProjectView(session)
        self.view = view
        training = TrainingView(session)
        self.training = training
        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        tabs.addTab(view, "Annotate")
        tabs.addTab(training, "Train && runs")
        self.tabs = tabs
        self.stack.addWidget(tabs)
        self.stack.setCurrentWidget(tabs)
        training.predictions_run_changed.connect(self._show_predictions_of)
        training.train.running_changed.connect(self._training_running)
        # The Annotate tab sees a running training too: the Train panel's progress line
        # (read after the panel has handled the event: it is connected first).
        trainer = training.train.trainer
        for phase in (trainer.caching, trainer.features, trainer.predicting, trainer.progress):
            phase.connect(lambda *_: self._show_training_progress())
        self._fill_train_menu(training)
        from core.runs import latest_finished_run

        latest = latest_finished_run(project)
        if latest is not None:
            self._show_predictions_of(latest.id)
        state = settings.settings().value("window/splitter")
        if isinstance(state, QByteArray):
            view.restoreState(state)
        for old in (self.act_undo, self.act_redo):  # the last project's: their stack is gone
            self.removeAction(old)
            old.deleteLater()
        self.act_undo = session.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_redo = session.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        text = self.palette().color(QPalette.ColorRole.WindowText)
        self.act_undo.setIcon(undo_icon(text))
        self.act_redo.setIcon(redo_icon(text))
        self._replace_edit_actions()
        view.browser.counts_changed.connect(self.status_counts.setText)
        self.setWindowTitle(f"{project.root.name} — mtlabel")
        settings.remember_project(str(project.root))
        self._update_enabled()
        self._update_status()
        self.project_opened.emit(str(project.root))
        if view.browser.current_image() is None:
            view.browser.step(1)  # the first image: number keys label it at once
        view.browser.setFocus()

    def _replace_edit_actions(self) -> None:
        """Put the new project's undo/redo actions in the Edit menu and the toolbar."""
        self.edit_menu.clear()
        self.edit_menu.addAction(self.act_undo)
        self.edit_menu.addAction(self.act_redo)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.act_prefs)
        for a in (self.act_undo, self.act_redo):
            self.addAction(a)  # their shortcuts work wherever the focus is
        self.toolbar_undo.set_action(self.act_undo)
        self.toolbar_redo.set_action(self.act_redo)

    def close_project(self) -> None:
        if self.session is None:
            return
        self._save_layout()
        self.toolbar_undo.set_action(None)
        self.toolbar_redo.set_action(None)
        if self.training is not None:
            self.training.shutdown()
        if self.tabs is not None:
            self.stack.removeWidget(self.tabs)
            self.tabs.deleteLater()
        self.session.project.close()
        self.session.deleteLater()
        self.session = None
        self.view = None
        self.training = None
        self.tabs = None
        self.predictions_run = None
        self.train_menu.clear()
        self.status_training.setText("")
        self.setWindowTitle("mtlabel")
        self.stack.setCurrentWidget(self.welcome)
        self.welcome.refresh()
        self._update_enabled()
        self._update_status()

    def refresh(self) -> None:
        if self.session is not None:
            self.session.refresh()

    # -- files ------------------------------------------------------------------------

    def import_images(self, sources: list[str] | None = None) -> None:
        from app.dialogs.import_images import import_images_with_progress

        if self.session is None:
            return
        if not sources:
            folder = QFileDialog.getExistingDirectory(self, "Import a folder of images")
            if not folder:
                return
            sources = [folder]
        import_images_with_progress(self, self.session, sources)

    def import_image_files(self) -> None:
        from app.dialogs.import_images import IMAGE_FILE_FILTER

        if self.session is None:
            return
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import image files", "", f"{IMAGE_FILE_FILTER};;All files (*)"
        )
        if files:
            self.import_images(files)

    def import_labels(self) -> None:
        from app.dialogs.label_files import import_label_file

        if self.session is not None:
            import_label_file(self, self.session)

    def export_labels(self) -> None:
        from app.dialogs.label_files import export_label_file

        if self.session is not None:
            export_label_file(self, self.session)

    def preferences(self) -> None:
        from app.dialogs.preferences import PreferencesDialog

        if self.session is not None:
            PreferencesDialog(self.session, self).exec()
            self._update_status()

    # -- labelling keys -----------------------------------------------------------------

    def _labelling(self) -> bool:
        return (
            self.view is not None
            and self.isActiveWindow()
            and self.tabs is not None
            and self.tabs.currentWidget() is self.view
        )

    def _project_view(self) -> ProjectView | None:
        return self.view

    def _cycle(self, index: int) -> None:
        view = self._project_view()
        if view is not None:
            view.annotate.panel.cycle_task(index)

    def _set_value(self, index: int, value: int | None) -> None:
        view = self._project_view()
        if view is not None:
            view.annotate.panel.set_task(index, value)

    def _step(self, delta: int) -> None:
        view = self._project_view()
        if view is not None:
            view.browser.step(delta)

    def _next_unknown(self) -> None:
        view = self._project_view()
        if view is not None and not view.browser.next_unknown():
            self.statusBar().showMessage("Every image in this list is fully labelled.", 4000)

    def _all_absent(self) -> None:
        view = self._project_view()
        if view is not None:
            view.annotate.panel.all_unknown_to_absent()

    def _copy_previous(self) -> None:
        view = self._project_view()
        if view is not None:
            view.copy_from_previous()

    def _accept_image(self) -> None:
        view = self._project_view()
        if view is None:
            return
        if self._need_predictions() is not None:
            view.annotate.panel.accept_all_unknown()

    def _fit(self) -> None:
        view = self._project_view()
        if view is not None:
            view.annotate.view.fit()

    # -- training and predictions ------------------------------------------------------

    def _fill_train_menu(self, training: TrainingView) -> None:
        menu = self.train_menu
        menu.clear()
        menu.addAction(self.act_train_tab)
        menu.addAction(training.train.train_action)
        menu.addAction(training.train.cancel_action)
        menu.addAction(training.runs.separate_action)
        menu.addAction(training.runs.compare_action)
        menu.addSeparator()
        menu.addAction(self.act_label_next)
        menu.addAction(self.act_accept)
        menu.addAction(self.act_export_model)

    def _show_training(self) -> None:
        if self.tabs is not None and self.training is not None:
            self.tabs.setCurrentWidget(self.training)

    def _show_predictions_of(self, run_id: int) -> None:
        """Show a run's predictions beside the labels, if that run has a complete set."""
        from core.runs import get_run

        if self.session is None or self.view is None:
            return
        if not get_run(self.session.project, run_id).predictions_complete:
            return
        self.predictions_run = run_id
        self.view.annotate.set_run(run_id)
        self.view.browser.set_run(run_id)
        self.statusBar().showMessage(f"Showing the predictions of run {run_id}", 5000)

    def _show_training_progress(self) -> None:
        if self.training is not None:
            run = self.training.train.trainer.run_id
            who = f"Run {run}" if run is not None else "Training"
            self.status_training.setText(f"{who}: {self.training.train.progress_text()}")

    def _training_running(self, running: bool) -> None:
        if not running:
            self.status_training.setText("")

    def _need_predictions(self) -> int | None:
        if self.predictions_run is None:
            QMessageBox.information(
                self,
                "mtlabel",
                "Train a run first (Train → Train); its predictions then appear beside the labels.",
            )
        return self.predictions_run

    def _accept_predictions(self) -> None:
        from app.dialogs.accept_predictions import AcceptPredictionsDialog

        run = self._need_predictions()
        if run is not None and self.session is not None:
            AcceptPredictionsDialog(self.session, run, parent=self).exec()

    def _label_next(self) -> None:
        if self._need_predictions() is not None and self.view is not None:
            if self.tabs is not None:
                self.tabs.setCurrentWidget(self.view)
            browser = self.view.browser
            browser.show_prediction_order("label_next")
            queue = browser.image_ids()
            if queue:  # go to the most useful image to label now
                browser.select_image(queue[0])

    def _export_model(self) -> None:
        from app.dialogs.export_model import export_model_dialog

        if self.session is None or self.training is None:
            return
        run = self.training.runs.shown_run() or self.predictions_run
        if run is None:
            QMessageBox.information(self, "mtlabel", "Select a finished run in Train & runs.")
            return
        export_model_dialog(self, self.session, run)

    def toggle_help(self) -> None:
        if self.help is None:
            self.help = HelpOverlay(self.stack)
        self.help.toggle()

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About mtlabel",
            "<b>mtlabel</b><br>Multi-task image classification with partial labels.",
        )

    # -- status, drops, closing -----------------------------------------------------------

    def _update_status(self, *_: object) -> None:
        if self.session is None:
            self.status_project.setText("No project open")
            self.status_counts.setText("")
            return
        project = self.session.project
        self.status_project.setText(f"{project.root}   ·   annotator: {project.annotator}")
        view = self._project_view()
        if view is not None:  # the browser's own count line: one source for the counts
            self.status_counts.setText(view.browser.count_label.text())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        if len(paths) == 1 and is_project_folder(paths[0]):
            self.open_project(paths[0])
        elif self.session is not None:
            self.import_images(paths)
        else:
            QMessageBox.information(
                self,
                "mtlabel",
                "Open or create a project first; then drop image folders or files to import them.",
            )
        event.acceptProposedAction()

    def _save_layout(self) -> None:
        s = settings.settings()
        s.setValue("window/geometry", self.saveGeometry())
        if self.view is not None:
            s.setValue("window/splitter", self.view.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.device_probe.shutdown()
        self._save_layout()
        self.close_project()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._digits)
        event.accept()
