"""Screenshots of training from the window, on a virtual X screen (see docs/screenshots.py).

    DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/training_screenshots.py OUT_DIR

Trains real (small, fast) runs on a demo project through the window's Train
button, and captures: training in progress, the metrics of the finished run,
the shared-vs-separate comparison, and the prediction inspector.
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


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots").absolute()
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
        panel.set_settings(SETTINGS)
        panel.start_training()
        wait_for(panel.trainer.epoch_finished, 300_000)
        wait_for(panel.trainer.epoch_finished, 300_000)
        shoot(out, "training-in-progress")
        wait_for(panel.run_finished, 600_000)
        shoot(out, "run-metrics")
        runs = window.training.runs
        runs.compare_with_separate(dict(SETTINGS))
        wait_for(runs.separate_bar.finished, 1_200_000)
        settle(1500)
        shoot(out, "shared-vs-separate")
        assert window.tabs is not None
        window.tabs.setCurrentWidget(window.view)
        window.act_label_next.trigger()
        settle(1500)
        shoot(out, "prediction-inspector")
        window.close()
    app.quit()


if __name__ == "__main__":
    main()
