"""Image browser at scale: open a 100,000-image project to the first paint, then scroll.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_open.py [--images 100000] [--tasks 20]
        [--frames 300] [--step 240] [--keep DIR]

Builds (once; ``--keep DIR`` reuses it) a project of fake image rows, about
half of the cells labelled, whose files are symbolic links to a handful of
real 640×480 JPEGs — so every row has a real, distinct path to decode. Then,
in one process with Qt already loaded:

* **open to first paint**: ``Project.open`` + ``ProjectSession`` + ``ImageBrowser``
  (which reads only the ids) + ``show()`` until the grid's viewport receives
  its first paint event; also until every visible thumbnail has arrived;
* **scrolling**: the vertical scroll bar moved by ``--step`` pixels per frame
  at 60 frames a second; a frame's time is from ``setValue`` to the repaint
  having been processed (including the thumbnails delivered meanwhile):
  p50 / p95 / max, and how many frames showed every visible thumbnail.

Targets (issue 4): first paint < 1.5 s; scrolling frame p95 < 33 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PIL import Image as PILImage
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication
from sqlalchemy import Table, insert

from app.models.image_list import ImageRole
from app.session import ProjectSession
from app.widgets.browser import ImageBrowser, visible_row_range
from core.db.models import Image, Label
from core.project import Project

FRAME_S = 1 / 60


def make_jpegs(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        y, x = np.mgrid[0:480, 0:640]
        base = np.stack([(x * (i + 1)) % 256, (y * 2 + i * 40) % 256, (x + y) % 256], axis=-1)
        noise = rng.integers(0, 40, size=base.shape)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        path = folder / f"real_{i}.jpg"
        PILImage.fromarray(pixels).save(path, "JPEG", quality=85)
        paths.append(path)
    return paths


def build_project(folder: Path, n_images: int, n_tasks: int) -> None:
    real = make_jpegs(folder / "real", 8)
    links = folder / "images"
    links.mkdir()
    for i in range(n_images):
        os.symlink(real[i % len(real)], links / f"img_{i:06d}.jpg")
    rng = random.Random(0)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with Project.create(folder / "project", tasks=[f"task{t:02d}" for t in range(n_tasks)]) as p:
        images = cast(Table, Image.__table__)
        labels = cast(Table, Label.__table__)
        root = links.as_posix()
        with p.transaction() as s:
            s.execute(
                insert(images),
                [
                    {
                        "id": i + 1,
                        "path": f"{root}/img_{i:06d}.jpg",
                        "root": root,
                        "rel_path": f"img_{i:06d}.jpg",
                        "name": f"img_{i:06d}.jpg",
                        "content_hash": hashlib.sha256(str(i).encode()).hexdigest(),
                        "file_size": 1,
                        "file_mtime_ns": 0,
                        "width": 640,
                        "height": 480,
                        "status": "ok",
                        "imported_at": start + timedelta(seconds=i),
                    }
                    for i in range(n_images)
                ],
            )
            task_ids = list(range(1, n_tasks + 1))
            s.execute(
                insert(labels),
                [
                    {
                        "image_id": i + 1,
                        "task_id": t,
                        "value": rng.randint(0, 1),
                        "annotator": "bench",
                        "source": "import",
                        "updated_at": start,
                    }
                    for i in range(n_images)
                    for t in task_ids
                    if rng.random() < 0.5
                ],
            )


class FirstPaint(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.at is None:
            self.at = time.perf_counter()
        return False


def process_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition() and time.perf_counter() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


def visible_rows(browser: ImageBrowser) -> list[int]:
    first, last = visible_row_range(browser.view)
    return [] if first < 0 else list(range(first, last + 1))


def all_visible_loaded(browser: ImageBrowser) -> bool:
    model, loader = browser.list_model, browser.thumbnails
    return all(loader.pixmap(model.image_id_at(r)) is not None for r in visible_rows(browser))


def scroll(browser: ImageBrowser, step: int, n_frames: int) -> None:
    """Scroll ``n_frames`` frames of ``step`` pixels at 60 fps and print the frame times."""
    bar = browser.view.verticalScrollBar()
    model, loader = browser.list_model, browser.thumbnails
    frames: list[float] = []
    shown: list[float] = []
    first_row = (visible_rows(browser) or [0])[0]
    next_frame = time.perf_counter()
    for _ in range(n_frames):
        start = time.perf_counter()
        bar.setValue(bar.value() + step)
        QCoreApplication.processEvents()
        frames.append(time.perf_counter() - start)
        rows = visible_rows(browser)
        loaded = sum(loader.pixmap(model.image_id_at(r)) is not None for r in rows)
        shown.append(loaded / max(1, len(rows)))
        next_frame += FRAME_S
        # Idle until the next frame in a real event loop (as the application does between
        # two wheel events): it waits without the GIL and delivers thumbnails meanwhile.
        wait_ms = round((next_frame - time.perf_counter()) * 1e3)
        if wait_ms > 0:
            idle = QEventLoop()
            timer = QTimer(singleShot=True, interval=wait_ms)
            timer.setTimerType(Qt.TimerType.PreciseTimer)
            timer.timeout.connect(idle.quit)
            timer.start()
            idle.exec()
        if time.perf_counter() > next_frame + FRAME_S:
            next_frame = time.perf_counter()
    ms = [f * 1e3 for f in frames]
    passed = (visible_rows(browser) or [0])[0] - first_row
    print(
        f"scrolling {n_frames} frames of {step} px at 60 fps "
        f"({step * 60:,} px/s, {passed:,} cells passed):"
    )
    print(
        f"  frame time p50 {statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms,"
        f" max {max(ms):.1f} ms   (target p95 < 33 ms)"
    )
    print(
        f"  visible thumbnails shown at the frame: {statistics.mean(shown):.0%} on average; "
        f"complete in {sum(s == 1 for s in shown)}/{n_frames} frames"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument(
        "--step", type=int, nargs="+", default=[40, 240], help="pixels scrolled per frame"
    )
    parser.add_argument("--keep", type=Path, help="build the project here once and reuse it")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        if not (folder / "project").exists():
            t = time.perf_counter()
            build_project(folder, args.images, args.tasks)
            print(
                f"built {args.images:,} images x {args.tasks} tasks in "
                f"{time.perf_counter() - t:.1f} s (not timed below)"
            )

        # -- open to first paint ---------------------------------------------------------
        t0 = time.perf_counter()
        project = Project.open(folder / "project")
        t_open = time.perf_counter()
        session = ProjectSession(project)
        browser = ImageBrowser(session)
        t_browser = time.perf_counter()
        browser.resize(1280, 800)
        watcher = FirstPaint()
        browser.view.viewport().installEventFilter(watcher)
        browser.show()
        process_until(lambda: watcher.at is not None)
        assert watcher.at is not None
        process_until(lambda: all_visible_loaded(browser))
        t_thumbs = time.perf_counter()
        rows = browser.list_model.rowCount()
        print(f"open to first paint ({rows:,} images, {args.tasks} tasks, 1280x800):")
        print(f"  Project.open          {(t_open - t0) * 1e3:7.1f} ms")
        print(f"  ImageBrowser (ids)    {(t_browser - t_open) * 1e3:7.1f} ms")
        print(f"  show -> first paint   {(watcher.at - t_browser) * 1e3:7.1f} ms")
        print(f"  total to first paint  {(watcher.at - t0) * 1e3:7.1f} ms   (target < 1500 ms)")
        print(
            f"  visible thumbnails in {(t_thumbs - t0) * 1e3:7.1f} ms "
            f"({len(visible_rows(browser))} visible)"
        )
        state = browser.list_model.index(0).data(ImageRole.LabelState)
        print(f"  first row's labelling state: {state}")

        # -- scrolling ---------------------------------------------------------------------
        bar = browser.view.verticalScrollBar()
        process_until(lambda: bar.maximum() > max(args.step) * args.frames)
        for step in args.step:
            scroll(browser, step, args.frames)
        browser.thumbnails.shutdown()
        browser.close()
        project.close()


if __name__ == "__main__":
    main()
