"""GUI event-loop latency while a training run is active, offscreen.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_training_latency.py \\
        [--images 400] [--epochs 4] [--image-size 64] [--width 24] [--idle-seconds 15]

A 10 ms single-shot timer re-arms itself on every tick and records how late
each tick fires (actual minus intended time): that is how long any click or
key press would wait for the event loop. It runs twice in the same process and
event loop, with a ``TrainPanel`` on screen both times:

(1) idle — no training, for ``--idle-seconds``;
(2) training — from Train to the run's end, a real ``mtlabel train`` process
    on a demo project (``core.demo.create_demo``) started by the panel's
    ``TrainerProcess``, its JSON lines parsed and drawn (progress bar, loss and
    AP charts, per-task table) in this event loop.

Prints p50 / p99 / max lateness for both. Target: p99 < 50 ms while training.
``OMP_NUM_THREADS`` (if set) reaches the trainer, so the effect of the
trainer's thread count can be compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, Qt, QTimer, SignalInstance
from PySide6.QtWidgets import QApplication

from app.session import ProjectSession
from app.training.train_panel import TrainPanel
from core.demo import create_demo
from core.project import Project

INTERVAL_MS = 10
TARGET_P99_MS = 50.0


class LatencyProbe:
    """A 10 ms timer measuring its own lateness, re-armed on every tick."""

    def __init__(self) -> None:
        self.lateness_ms: list[float] = []
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._due = 0.0
        self._running = False

    def start(self) -> None:
        self.lateness_ms.clear()
        self._running = True
        self._arm()

    def stop(self) -> None:
        self._running = False
        self._timer.stop()

    def _arm(self) -> None:
        self._due = time.perf_counter() + INTERVAL_MS / 1000
        self._timer.start(INTERVAL_MS)

    def _tick(self) -> None:
        self.lateness_ms.append(max(0.0, (time.perf_counter() - self._due) * 1000))
        if self._running:
            self._arm()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> float:
    p99 = percentile(values, 0.99)
    print(
        f"  {name:<10} p50 {statistics.median(values):6.2f} ms   p99 {p99:6.2f} ms   "
        f"max {max(values):7.2f} ms   ({len(values)} ticks)"
    )
    return p99


def run_event_loop(seconds: float | None = None, until: SignalInstance | None = None) -> None:
    """The real event loop (``QEventLoop.exec``) for some seconds, or until a signal."""
    loop = QEventLoop()
    if until is not None:
        until.connect(loop.quit)
    if seconds is not None:
        QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        QCoreApplication.setOrganizationName("mtlabel-benchmark")
        QCoreApplication.setApplicationName("mtlabel-benchmark")
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        folder = Path(tmp) / "demo"
        started = time.perf_counter()
        create_demo(folder, images=args.images, unknown_fraction=0.4, seed=1)
        print(f"demo project: {args.images} images in {time.perf_counter() - started:.1f} s")
        print(
            f"Qt platform: {QApplication.platformName()}, CPU cores: {os.cpu_count()}, "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}"
        )
        with Project.open(folder) as project:
            panel = TrainPanel(ProjectSession(project))
            panel.set_settings(
                {
                    "epochs": args.epochs,
                    "image_size": args.image_size,
                    "width": args.width,
                    "batch_size": args.batch_size,
                    "backbone": "compact",
                    "device": "cpu",
                }
            )
            panel.resize(1000, 700)
            panel.show()
            run_event_loop(0.5)
            probe = LatencyProbe()

            print(f"(1) idle, {args.idle_seconds:g} s, panel on screen")
            probe.start()
            run_event_loop(args.idle_seconds)
            probe.stop()
            idle = list(probe.lateness_ms)

            print(
                f"(2) training: {args.epochs} epochs, {args.image_size} px, width "
                f"{args.width}, batch {args.batch_size}, compact network on the CPU"
            )
            events: Counter[str] = Counter()
            panel.trainer.progress.connect(lambda _e: events.update(["progress"]))
            panel.trainer.epoch_finished.connect(lambda _e: events.update(["epoch"]))
            finished: list[tuple[int, str]] = []
            panel.run_finished.connect(lambda run, status: finished.append((run, status)))
            probe.start()
            t0 = time.perf_counter()
            QTimer.singleShot(0, panel.start_training)
            run_event_loop(until=panel.run_finished)
            seconds = time.perf_counter() - t0
            probe.stop()
            training = list(probe.lateness_ms)
            run_id, status = finished[0]
            print(
                f"  run {run_id} {status} in {seconds:.1f} s: {events['progress']} progress and "
                f"{events['epoch']} epoch events; {panel.progress_text()}"
            )
            if status != "done":
                print(f"  trainer said: {panel.error_box.message()}")

            print("timer lateness (10 ms single-shot timer, re-armed each tick):")
            report("idle", idle)
            p99 = report("training", training)
            verdict = "met" if p99 < TARGET_P99_MS else "NOT met"
            print(f"  target p99 < {TARGET_P99_MS:g} ms while training: {verdict}")
            panel.shutdown()
            panel.close()
    del app


if __name__ == "__main__":
    main()
