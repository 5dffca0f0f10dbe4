"""The real main window under stress: label keys, image and tab switches, and many short
training runs finishing meanwhile.

Run by ``test_window_stress.py`` (or by hand) as::

    python tests/faults/window_stress_child.py PROJECT SETTINGS_DIR PLAN.json \
        [--platform offscreen|xcb]

PLAN.json: ``{"seed": int, "runs": [kind, ...], "label_ms": int, "timeout_s": float}``.
Each kind is one start of training, one after the other, while a timer acts as a user
(every ``label_ms``): label keys on the Annotate tab (Ctrl+digit, Shift+digit, and
Ctrl+digit then the digit), J/K/U/N to move between images, the Train tab and back, runs
clicked in the runs list (one: its charts; two: their comparison), epochs chosen, the
pointer over the charts. Kinds:

* a :mod:`stand_in_trainer` kind (``done``, ``auto``, ``failed``, ``refused``, ``segv``,
  ``silent``, ``killed``, ``cancel``, ``stubborn``): Train with the stand-in; for
  ``cancel`` and ``stubborn`` the child presses Cancel once the run has started
  (``stubborn`` ignores SIGTERM: the panel kills it after its grace period, here 0.5 s);
* ``nostart``: Train with a program that does not exist;
* ``real``: Train with the real ``mtlabel train``, compact network, 32 px, 1 epoch;
* ``compare``: "Compare with separate networks" with the stand-in (two runs; every
  third separate run fails); ``compare-cancel``: the same, cancelled during its first run.

Stdout, one JSON object a line: ``{"label": [image, task, value]}`` after each label
press has returned (value 1, 0 or null: what the keys promise); ``{"run": n, "kind",
"status", "run_id"}`` after each start ended (status as the panel reports it; for a
comparison, "compared" or the job's message); at the end ``{"end": {...}}`` with counts,
then ``{"closed": true}`` once the window has closed and the event loop returned.
Problems that do not kill the window (a modal dialog that popped up, a timeout) go to
stderr with the word ``STRESS-PROBLEM``. ``faulthandler`` writes a native crash's Python
stack to stderr.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

faulthandler.enable(all_threads=True)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STAND_IN = HERE / "stand_in_trainer.py"
STAND_IN_KINDS = {"done", "auto", "failed", "refused", "segv", "silent", "killed", "cancel"}
STAND_IN_KINDS |= {"stubborn"}
EXPECTED_STATUS = {
    "done": "done",
    "auto": "done",
    "real": "done",
    "failed": "failed",
    "refused": "failed",
    "nostart": "failed",
    "segv": "crashed",
    "silent": "crashed",
    "killed": "crashed",
    "cancel": "cancelled",
    "stubborn": "cancelled",
}
"""What the Train panel must report for each kind (``run_finished``'s status)."""
REAL_SETTINGS = {
    "epochs": 1,
    "image_size": 32,
    "width": 8,
    "batch_size": 16,
    "device": "cpu",
    "backbone": "compact",
    "arch": "shared",
    "loss": "masked",
    "init_from": None,
}


def out(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def problem(text: str) -> None:
    sys.stderr.write(f"STRESS-PROBLEM {text}\n")
    sys.stderr.flush()


def stand_in(kind: str) -> list[str]:
    return [sys.executable, str(STAND_IN), kind]


class Stress:
    """The user (a timer) and the runs (one after the other), on one open window."""

    def __init__(self, window: Any, plan: dict[str, Any]) -> None:
        from PySide6.QtCore import QTimer

        from app.training.trainer_process import KILL_AFTER_S, default_program

        self.window = window
        self.plan = plan
        self.kinds: list[str] = list(plan["runs"])
        self.rng = random.Random(plan["seed"])
        self.real_program = default_program()
        self.kill_after = KILL_AFTER_S
        self.index = -1
        self.kind: str | None = None
        self.results: list[dict[str, Any]] = []
        self.presses = 0
        self.skipped_presses = 0
        self.actions: dict[str, int] = {}
        self.started_at = time.monotonic()
        self.finishing = False
        training = window.training
        self.panel = training.train
        self.runs = training.runs
        self.panel.run_started.connect(self._run_started)
        self.panel.run_finished.connect(self._run_finished)
        self.runs.separate_bar.finished.connect(self._comparison_finished)
        self.runs.separate_bar.job.run_started.connect(self._comparison_run_started)
        self.runs.separate_bar.job.trainer.program = stand_in("compare")
        self.user = QTimer(window)
        self.user.setInterval(int(plan.get("label_ms", 20)))
        self.user.timeout.connect(self.act)
        self.watchdog = QTimer(window)
        self.watchdog.setSingleShot(True)
        self.watchdog.timeout.connect(self._timed_out)
        self.probe_timer = QTimer(window)
        self.probe_timer.setInterval(1500)
        self.probe_timer.timeout.connect(self._probe_again)

    def start(self) -> None:
        self.user.start()
        self.probe_timer.start()
        self.watchdog.start(int(float(self.plan.get("timeout_s", 120)) * 1000))
        self._schedule_next()

    # -- runs --------------------------------------------------------------------------

    def _schedule_next(self) -> None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(self.rng.randint(20, 300), self._start_next)

    def _start_next(self) -> None:
        from PySide6.QtCore import QTimer

        self.index += 1
        if self.index >= len(self.kinds):
            self.kind = None
            QTimer.singleShot(400, self._finish)  # a little more labelling, then close
            return
        kind = self.kinds[self.index]
        self.kind = kind
        panel = self.panel
        if kind.startswith("compare"):
            settings = dict(panel.settings())
            settings.update(epochs=self.rng.randint(2, 3), backbone="compact", init_from=None)
            if not self.runs.compare_with_separate(settings):
                problem(f"run {self.index} ({kind}): the comparison did not start")
                self._record("not started", None)
            return
        if kind == "real":
            panel.trainer.program = list(self.real_program)
            panel.set_settings(REAL_SETTINGS)
        else:
            if kind == "nostart":
                panel.trainer.program = [str(HERE / "no-such-trainer-program")]
            elif kind in STAND_IN_KINDS:
                panel.trainer.program = stand_in(kind)
            else:
                raise SystemExit(f"unknown kind {kind!r}")
            panel.set_settings(
                {
                    "epochs": self.rng.randint(2, 4),
                    "arch": self.rng.choice(["shared", "separate"]),
                    "backbone": self.rng.choice(["compact", "auto", "efficientnet-lite0"]),
                    "image_size": self.rng.choice([0, 32, 64]),
                    "init_from": None,
                }
            )
        panel.trainer.kill_after_s = 0.5 if kind == "stubborn" else self.kill_after
        button = panel.train_button
        if button.isVisible() and button.isEnabled() and self.rng.random() < 0.7:
            from PySide6.QtCore import Qt
            from PySide6.QtTest import QTest

            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        else:
            panel.train_action.trigger()
        if not panel.is_running() and kind != "nostart":
            problem(f"run {self.index} ({kind}): Train did not start a trainer")
            self._record("not started", None)

    def _run_started(self, run_id: int) -> None:
        from PySide6.QtCore import QTimer

        if self.kind in ("cancel", "stubborn"):
            QTimer.singleShot(self.rng.randint(30, 400), self._cancel)

    def _cancel(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        button = self.panel.cancel_button
        if button.isVisible() and button.isEnabled():
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        else:
            self.panel.cancel_action.trigger()

    def _run_finished(self, run_id: int, status: str) -> None:
        if self.kind is None or self.kind.startswith("compare"):
            problem(f"the Train panel finished run {run_id} ({status}) during {self.kind}")
            return
        self._record(status, run_id)

    def _comparison_run_started(self, run_id: int) -> None:
        from PySide6.QtCore import QTimer

        if self.kind == "compare-cancel" and self.runs.separate_bar.job.stage == "shared":
            QTimer.singleShot(self.rng.randint(30, 300), self.runs.cancel_comparison_job)

    def _comparison_finished(self, shared: object, separate: object, message: str) -> None:
        both = isinstance(shared, int) and isinstance(separate, int)
        compared = both and self.runs.detail.currentIndex() == self.runs.PAGE_COMPARE
        status = "compared" if compared and "done" in message else message
        self._record(status, [shared, separate])

    def _record(self, status: str, run_id: object) -> None:
        result = {
            "run": self.index,
            "kind": self.kind,
            "status": status,
            "run_id": run_id,
            "t": round(time.monotonic() - self.started_at, 2),
        }
        self.results.append(result)
        out(result)
        self._schedule_next()

    def _probe_again(self) -> None:
        """Ask the GPU probe again now and then (its QProcess, deleted in its own slot)."""
        probe = self.window.device_probe
        if probe._process is None:
            probe.start()

    # -- the user ----------------------------------------------------------------------

    def act(self) -> None:
        from PySide6.QtWidgets import QApplication

        modal = QApplication.activeModalWidget()
        if modal is not None:
            text = getattr(modal, "text", lambda: "")()
            problem(f"a modal dialog opened: {type(modal).__name__}: {text!r}")
            modal.close()
            return
        window = self.window
        if window.tabs is None or window.view is None:
            return
        if window.tabs.currentWidget() is window.view:
            self._annotate_action()
        else:
            self._train_tab_action()

    def _count(self, name: str) -> None:
        self.actions[name] = self.actions.get(name, 0) + 1

    def _annotate_action(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        window, rng = self.window, self.rng
        browser = window.view.browser
        roll = rng.random()
        if roll < 0.72:
            self._label()
        elif roll < 0.84:
            self._count("step")
            QTest.keyClick(browser.view, rng.choice([Qt.Key.Key_J, Qt.Key.Key_J, Qt.Key.Key_K]))
        elif roll < 0.86:
            self._count("next-unknown")
            QTest.keyClick(browser.view, Qt.Key.Key_U)
        elif roll < 0.88:
            if window.predictions_run is not None:
                self._count("label-next")
                QTest.keyClick(browser.view, Qt.Key.Key_N)
        elif roll < 0.89:
            self._count("fit")
            QTest.keyClick(browser.view, Qt.Key.Key_F)
        elif roll < 0.92:
            self._count("to-train-tab")
            if rng.random() < 0.5:
                window.act_train_tab.trigger()
            else:
                QTest.keyClick(browser.view, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)

    def _label(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication, QWidget

        window, rng = self.window, self.rng
        browser = window.view.browser
        view: QWidget = browser.view  # the thumbnails: where the user's keys go
        image = browser.current_image()
        tasks = window.session.tasks()
        if image is None or not tasks:
            return
        if QApplication.focusWidget() is not view:
            view.setFocus()
        if not window._labelling() or QApplication.focusWidget() is not view:
            self.skipped_presses += 1
            return
        task = rng.randrange(min(len(tasks), 9))
        digit = getattr(Qt.Key, f"Key_{task + 1}")
        value = rng.choice([1, 0, None])
        ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
        if value == 0:
            QTest.keyClick(view, digit, shift)
        else:
            QTest.keyClick(view, digit, ctrl)  # unknown
            if value == 1:
                QTest.keyClick(view, digit)  # ? → present
        self.presses += 1
        out({"label": [image, tasks[task].id, value]})

    def _train_tab_action(self) -> None:
        from PySide6.QtCore import QPoint, Qt
        from PySide6.QtTest import QTest

        window, rng, runs = self.window, self.rng, self.runs
        roll = rng.random()
        rows = runs.proxy.rowCount()
        if roll < 0.35:
            self._count("back-to-annotate")
            window.tabs.setCurrentWidget(window.view)
            window.view.browser.view.setFocus()
        elif roll < 0.6 and rows:
            self._count("click-run")
            index = runs.proxy.index(rng.randrange(rows), 0)
            rect = runs.view.visualRect(index)
            if rect.isValid() and runs.view.viewport().rect().contains(rect.center()):
                QTest.mouseClick(runs.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            else:
                runs.select_runs([runs.model.run_at(runs.proxy.mapToSource(index).row()).id])
        elif roll < 0.7 and rows >= 2:
            self._count("compare-two")
            a, b = rng.sample(range(rows), 2)
            ids = [runs.model.run_at(runs.proxy.mapToSource(runs.proxy.index(r, 0)).row()).id
                   for r in (a, b)]  # fmt: skip
            runs.select_runs(ids)
        elif roll < 0.8 and runs.epoch_box.count() > 1 and runs.epoch_box.isEnabled():
            self._count("epoch")
            runs.epoch_box.setCurrentIndex(rng.randrange(runs.epoch_box.count()))
        elif roll < 0.95:
            self._count("hover-chart")
            chart = rng.choice(
                [runs.loss_chart, runs.ap_chart, self.panel.loss_chart, self.panel.ap_chart]
            )
            if chart.isVisible():
                size = chart.viewport().size()
                spot = QPoint(
                    rng.randrange(max(1, size.width())), rng.randrange(max(1, size.height()))
                )
                QTest.mouseMove(chart.viewport(), spot)

    # -- the end -----------------------------------------------------------------------

    def _timed_out(self) -> None:
        from PySide6.QtWidgets import QApplication

        problem(
            f"timed out at run {self.index} ({self.kind}) after "
            f"{time.monotonic() - self.started_at:.0f} s; results so far {self.results}"
        )
        self.user.stop()
        self.probe_timer.stop()
        self.window.close()
        QApplication.exit(3)

    def _finish(self) -> None:
        from PySide6.QtWidgets import QApplication

        self.user.stop()
        self.probe_timer.stop()
        self.watchdog.stop()
        out(
            {
                "end": {
                    "runs": len(self.results),
                    "presses": self.presses,
                    "skipped_presses": self.skipped_presses,
                    "actions": self.actions,
                    "seconds": round(time.monotonic() - self.started_at, 1),
                    "predictions_run": self.window.predictions_run,
                    "runs_listed": self.runs.model.rowCount(),
                }
            }
        )
        self.window.close()
        QApplication.exit(0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    parser.add_argument("settings_dir")
    parser.add_argument("plan")
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    args = parser.parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = args.platform
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the real runs: one thread each
    plan = json.loads(Path(args.plan).read_text())

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("mtlabel-stress-tests")
    QCoreApplication.setApplicationName("mtlabel-stress-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, args.settings_dir)
    app = QApplication([sys.argv[0]])
    app.setStyle("Fusion")

    from app.main_window import MainWindow
    from app.training import trainer_process

    real = trainer_process.default_program
    # The GPU probe asks the stand-in (no torch import: seconds of CPU each time).
    trainer_process.default_program = lambda: stand_in("done")
    window = MainWindow()
    trainer_process.default_program = real
    window.resize(1440, 880)
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowExposed(window)
    for _ in range(1000):
        if window.isActiveWindow():
            break
        QTest.qWait(10)
    else:
        problem("the window never became active: no label keys reach it")
        return 2
    if not window.open_project(args.project):
        return 2
    assert window.view is not None and window.training is not None
    for _ in range(1000):
        if window.view.browser.current_image() is not None:
            break
        QTest.qWait(10)
    stress = Stress(window, plan)
    stress.start()
    code = app.exec()
    out({"closed": True, "code": code})
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
