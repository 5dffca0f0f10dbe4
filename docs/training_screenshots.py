"""Screenshots of training from the window, on a virtual X screen (see docs/screenshots.py).

    DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/training_screenshots.py OUT_DIR [--quick] [--auto]

Trains real (small, fast) runs on a demo project through the window's Train
button, and captures: training in progress, the metrics of the finished run,
its threshold dialog, the shared-vs-separate comparison (not with ``--quick``),
the prediction inspector and the bulk "Accept predictions" dialog. ``--auto``
trains with the default backbone and mode (auto: its candidates are listed).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer

from app.main import make_application
from app.main_window import MainWindow
from core.demo import create_demo
from docs.screenshots import settle, shoot

SETTINGS = {
    "epochs": 6,
    "image_size": 48,
    "width": 16,
    "batch_size": 32,
    "device": "cpu",
    "backbone": "compact",
    "mode": "scratch",
}


def wait_for(signal: object, timeout_ms: int) -> list[object]:
    loop = QEventLoop()
    got: list[object] = []

    def done(*args: object) -> None:
        got.extend(args)
        loop.quit()

    signal.connect(done)  # type: ignore[attr-defined]
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return got


def shoot_threshold_dialog(window: MainWindow, out: Path) -> None:
    """The first task's threshold dialog of the finished run, moved to 0.7."""
    from app.dialogs.threshold import ThresholdDialog

    assert window.training is not None and window.session is not None
    table = window.training.train.metrics_table
    run_id = table.editable_run()
    assert run_id is not None, "the finished run's table should be editable"
    dialog = ThresholdDialog(window.session.project, run_id, table.rows()[0], window)
    dialog.set_threshold(0.7)
    dialog.show()
    settle(800)
    shoot(out, "threshold-dialog")
    dialog.reject()


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = Path(args[0] if args else "resources/screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    app = make_application(["mtlabel"])
    with tempfile.TemporaryDirectory() as tmp:
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        project = Path(tmp) / "street-demo"
        create_demo(project, images=600, unknown_fraction=0.5, seed=1)
        window = MainWindow()
        window.setGeometry(0, 0, 1440, 900)
        window.show()
        window.open_project(str(project))
        assert window.training is not None and window.view is not None
        window.act_train_tab.trigger()
        panel = window.training.train
        settings = dict(SETTINGS)
        if "--auto" in sys.argv:  # the default: pretrained head and compact, one kept
            settings.update(backbone="auto", mode="auto", image_size=0)
        panel.set_settings(settings)
        panel.start_training()
        wait_for(panel.trainer.epoch_finished, 300_000)
        wait_for(panel.trainer.epoch_finished, 300_000)
        shoot(out, "training-in-progress")
        wait_for(panel.run_finished, 600_000)
        shoot(out, "run-metrics")
        shoot_threshold_dialog(window, out)
        runs = window.training.runs
        if "--quick" not in sys.argv:
            runs.compare_with_separate(dict(SETTINGS))
            wait_for(runs.separate_bar.finished, 1_200_000)
            settle(1500)
            shoot(out, "shared-vs-separate")
        assert window.tabs is not None
        window.tabs.setCurrentWidget(window.view)
        window.act_label_next.trigger()
        settle(1500)
        shoot(out, "prediction-inspector")
        from app.dialogs.accept_predictions import AcceptPredictionsDialog

        assert window.session is not None and window.predictions_run is not None
        accept = AcceptPredictionsDialog(window.session, window.predictions_run, parent=window)
        accept.set_task(window.session.tasks()[1].id)  # car: many confident cells
        accept.show()
        settle(800)
        shoot(out, "accept-predictions")
        window.close()
    app.quit()


if __name__ == "__main__":
    main()
