"""Fixtures for the image browser tests: small projects of real JPEGs, and a 100,000-row one."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from PIL import Image as PILImage
from pytestqt.qtbot import QtBot
from sqlalchemy import Table, insert

from app.session import ProjectSession
from app.widgets.browser import ImageBrowser
from core.db.models import Image
from core.images.importer import import_images
from core.project import Project

TASKS = ["car", "person", "sign"]
SMALL_IMAGES = 12
BIG_IMAGES = 100_000


def write_jpeg(path: Path, index: int, size: tuple[int, int] = (160, 120)) -> Path:
    """A small JPEG whose colour depends on ``index`` (so every file hashes differently)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = ((index * 53) % 256, (index * 97) % 256, (index * 31 + 80) % 256)
    PILImage.new("RGB", size, colour).save(path, "JPEG", quality=80)
    return path


@pytest.fixture
def image_project(tmp_path: Path) -> Iterator[Project]:
    """A project with tasks car, person, sign and 12 real JPEGs img_00 … img_11, no labels."""
    folder = tmp_path / "images"
    for i in range(SMALL_IMAGES):
        write_jpeg(folder / f"img_{i:02d}.jpg", i)
    with Project.create(tmp_path / "proj", tasks=TASKS) as project:
        summary = import_images(project, [folder])
        assert len(summary.added) == SMALL_IMAGES
        yield project


@pytest.fixture
def session(qtbot: QtBot, image_project: Project) -> ProjectSession:
    return ProjectSession(image_project)


@pytest.fixture
def browser(qtbot: QtBot, session: ProjectSession) -> Iterator[ImageBrowser]:
    """The browser, shown and laid out, on the 12-image project."""
    widget = ImageBrowser(session)
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    widget.show()
    qtbot.waitExposed(widget)
    wait_laid_out(qtbot, widget)
    yield widget
    assert widget.thumbnails.shutdown()


def wait_laid_out(qtbot: QtBot, widget: ImageBrowser) -> None:
    """Wait until the view has placed its first and last rows (its layout is batched)."""
    model, view = widget.list_model, widget.view
    if model.rowCount() == 0:
        return

    def placed(row: int) -> bool:
        index = model.index(row)
        rect = view.visualRect(index)
        return rect.isValid() and view.indexAt(rect.center()) == index

    qtbot.waitUntil(lambda: placed(0) and placed(min(model.rowCount() - 1, 7)))


@pytest.fixture(scope="module")
def big_project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 100,000-image, 20-task project of fake rows (no files behind them), made once."""
    folder = tmp_path_factory.mktemp("big") / "template"
    with Project.create(folder, tasks=[f"task{i:02d}" for i in range(20)]) as project:
        add_fake_image_rows(project, BIG_IMAGES, "/nonexistent/big")
    return folder


@pytest.fixture
def big_project(big_project_template: Path, tmp_path: Path) -> Iterator[Project]:
    target = tmp_path / "big"
    shutil.copytree(big_project_template, target)
    with Project.open(target) as project:
        yield project


def add_fake_image_rows(project: Project, count: int, root: str) -> None:
    """Insert ``count`` image rows in one executemany (files need not exist)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    images = cast(Table, Image.__table__)
    with project.transaction() as s:
        s.execute(
            insert(images),
            [
                {
                    "path": f"{root}/{i:06d}.jpg",
                    "root": root,
                    "rel_path": f"{i:06d}.jpg",
                    "name": f"{i:06d}.jpg",
                    "content_hash": hashlib.sha256(f"{root}/{i}".encode()).hexdigest(),
                    "file_size": 1,
                    "file_mtime_ns": 0,
                    "width": 640,
                    "height": 480,
                    "status": "ok",
                    "imported_at": start + timedelta(microseconds=i),
                }
                for i in range(count)
            ],
        )
