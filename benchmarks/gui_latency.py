"""Annotate pane latency, offscreen: a label key, and moving to the next image.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py [--presses 300] [--switches 120]

(1) Key to commit and repaint: a window hosts an ``AnnotatePane``; "1" is bound
    with a ``QShortcut`` to ``panel.cycle_task(0)``, as the main window binds it.
    Each press is a real key event (``QTest.keyClick``); the clock stops when the
    segment button of the new state has been repainted (a Paint event seen by an
    event filter) — by then the label is committed in the database, which is
    checked after each press. The commit alone (key to ``labels_changed``) is
    reported too. Target: median < 15 ms.
(2) Next image: 1024×768 JPEGs. With prefetch the next two images are decoded
    while the annotator looks at the current one; the clock runs from
    ``pane.show_image`` to ``image_shown`` (pixels painted). Without prefetch the
    cache is emptied first, so each switch decodes. Target: median < 30 ms with
    prefetch; the ratio shows what prefetch buys.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image, ImageDraw
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMainWindow, QPushButton

from app.session import ProjectSession
from app.widgets.annotate_pane import AnnotatePane
from app.widgets.image_view import ImageView
from app.widgets.label_panel import CYCLE
from core.images.importer import import_images
from core.labels import image_row, list_images
from core.project import Project

TIMEOUT_S = 10.0


class PaintWatch(QObject):
    """Records when each watched widget was last painted."""

    def __init__(self) -> None:
        super().__init__()
        self.painted: dict[QObject, float] = {}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted[watched] = time.perf_counter()
        return False


def spin_until(done: Callable[[], bool]) -> None:
    deadline = time.perf_counter() + TIMEOUT_S
    while not done():
        QCoreApplication.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not get there in time")


def repainted_checked(watch: PaintWatch, button: QPushButton, since: float) -> bool:
    return button.isChecked() and watch.painted.get(button, 0.0) > since


def all_cached(view: ImageView, image_ids: list[int]) -> bool:
    return set(image_ids) <= set(view.cached_ids())


def summary(name: str, seconds: list[float]) -> float:
    ms = sorted(s * 1000 for s in seconds)
    median = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"  {name:<38} median {median:7.2f} ms   p99 {p99:7.2f} ms   (n={len(ms)})")
    return median


def make_window(session: ProjectSession) -> tuple[QMainWindow, AnnotatePane]:
    window = QMainWindow()
    pane = AnnotatePane(session)
    window.setCentralWidget(pane)
    window.resize(1280, 800)
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowExposed(window)
    QTest.qWaitForWindowActive(window)
    return window, pane


def show_and_wait(pane: AnnotatePane, image_id: int, position: tuple[int, int]) -> float:
    shown: list[float] = []

    def record(shown_id: int) -> None:
        if shown_id == image_id:
            shown.append(time.perf_counter())

    pane.view.image_shown.connect(record)
    start = time.perf_counter()
    pane.show_image(image_id, position)
    spin_until(lambda: bool(shown))
    pane.view.image_shown.disconnect(record)
    return shown[0] - start


def bench_key(folder: Path, presses: int) -> float:
    print(f"(1) key '1' → label committed and row repainted, {presses} presses")
    images = folder / "key_images"
    images.mkdir()
    for i in range(4):
        Image.new("RGB", (320, 240), (60 * i, 100, 200)).save(images / f"k{i}.jpg")
    with Project.create(folder / "key_project", tasks=["car", "person", "tree", "sign"]) as p:
        import_images(p, [images])
        image_id = list_images(p)[0]
        session = ProjectSession(p)
        window, pane = make_window(session)
        QShortcut(QKeySequence("1"), window, lambda: pane.panel.cycle_task(0))
        show_and_wait(pane, image_id, (1, 4))
        row = pane.panel.rows()[0]
        watch = PaintWatch()
        for button in row.buttons.values():
            button.installEventFilter(watch)
        committed: list[float] = []
        session.labels_changed.connect(lambda _change: committed.append(time.perf_counter()))
        QCoreApplication.processEvents()

        to_commit: list[float] = []
        to_paint: list[float] = []
        value = image_row(p, image_id)[row.task.id]
        for _ in range(presses):
            expected = CYCLE[value]
            button = row.buttons[expected]
            committed.clear()
            start = time.perf_counter()
            QTest.keyClick(window, Qt.Key.Key_1)
            spin_until(partial(repainted_checked, watch, button, start))
            to_paint.append(watch.painted[button] - start)
            to_commit.append(committed[0] - start)
            value = image_row(p, image_id)[row.task.id]
            if value != expected:
                raise AssertionError(f"database holds {value}, expected {expected}")
        median = summary("key → committed (labels_changed)", to_commit)
        median = summary("key → committed and row repainted", to_paint)
        print(f"  target median < 15 ms: {'met' if median < 15 else 'NOT met'}")
        print(f"  undo stack: {session.undo_stack.count()} commands, one per press")
        window.close()
        pane.view.shutdown()
    return median


def write_jpegs(folder: Path, count: int, size: tuple[int, int]) -> None:
    """Photo-like 1024×768 JPEGs: gradients, shapes and noise, ~100-200 kB each."""
    folder.mkdir()
    width, height = size
    noise = Image.effect_noise(size, 24)
    for i in range(count):
        red = Image.linear_gradient("L").resize(size)
        green = Image.radial_gradient("L").resize(size)
        image = Image.merge("RGB", (red, green, noise)).rotate(i * 7)
        draw = ImageDraw.Draw(image)
        for k in range(12):
            x, y = (i * 97 + k * 181) % width, (i * 53 + k * 137) % height
            draw.ellipse((x, y, x + 120, y + 80), fill=((i * 40 + k * 20) % 256, 80, 160))
        image.save(folder / f"photo_{i:03d}.jpg", quality=88)


def bench_switch(folder: Path, switches: int) -> None:
    size = (1024, 768)
    count = 60
    print(f"(2) next image, {size[0]}×{size[1]} JPEG, {switches} switches each way")
    write_jpegs(folder / "photos", count, size)
    with Project.create(folder / "switch_project", tasks=["car", "person", "tree"]) as p:
        import_images(p, [folder / "photos"])
        ids = list_images(p, order="name")
        session = ProjectSession(p)
        window, pane = make_window(session)
        view = pane.view
        show_and_wait(pane, ids[0], (1, count))

        with_prefetch: list[float] = []
        for step in range(switches):
            current, following = step % count, (step + 1) % count
            ahead = [ids[(current + k) % count] for k in (1, 2)]
            pane.prefetch(ahead)
            # The annotator looks at the image meanwhile: let the prefetch land.
            spin_until(partial(all_cached, view, ahead))
            with_prefetch.append(show_and_wait(pane, ids[following], (following + 1, count)))

        without: list[float] = []
        for step in range(switches):
            following = (step + 1) % count
            view.clear_cache()
            without.append(show_and_wait(pane, ids[following], (following + 1, count)))

        decoded = view.displayed_size()
        print(f"  decoded at {decoded.width()}×{decoded.height()} (no downscaling at this size)")
        fast = summary("with prefetch (show → image_shown)", with_prefetch)
        slow = summary("without prefetch (decode each time)", without)
        print(f"  target median < 30 ms with prefetch: {'met' if fast < 30 else 'NOT met'}")
        print(f"  prefetch is {slow / fast:.1f}× faster (median)")
        window.close()
        view.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--switches", type=int, default=120)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    print(f"Qt platform: {QApplication.platformName()}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_key(Path(tmp), args.presses)
        bench_switch(Path(tmp), args.switches)
    del app


if __name__ == "__main__":
    main()
