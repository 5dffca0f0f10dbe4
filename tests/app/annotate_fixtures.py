"""Fixtures for the annotate pane tests: a project of real small images, its session, a pane.

Test modules take them with ``from tests.app.annotate_fixtures import *``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot

from app.session import ProjectSession
from app.widgets.annotate_pane import AnnotatePane
from core.images.importer import import_images
from core.labels import list_images
from core.project import Project

__all__ = [
    "ANNOTATE_TASKS",
    "annotate_ids",
    "annotate_pane",
    "annotate_project",
    "annotate_session",
    "click",
    "write_images",
]

ANNOTATE_TASKS = ["car", "person", "tree"]
IMAGE_COUNT = 6


def click(qtbot: QtBot, button: QAbstractButton) -> None:
    """A real left click on ``button`` (pytest-qt's mouseClick is untyped)."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]


def write_images(folder: Path, count: int, size: tuple[int, int] = (64, 48)) -> list[Path]:
    """``count`` JPEG files of distinct content (img_0.jpg, img_1.jpg, …)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = PILImage.new("RGB", size, (40 * i % 256, 90, 255 - 30 * i % 256))
        image.putpixel((i % size[0], 0), (255, 255, 255))
        path = folder / f"img_{i}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


@pytest.fixture
def annotate_project(tmp_path: Path) -> Iterator[Project]:
    """A project with tasks car, person, tree and six real 64×48 JPEGs, nothing labelled."""
    write_images(tmp_path / "images", IMAGE_COUNT)
    with Project.create(tmp_path / "proj", tasks=ANNOTATE_TASKS) as project:
        summary = import_images(project, [tmp_path / "images"])
        assert len(summary.added) == IMAGE_COUNT, summary
        yield project


@pytest.fixture
def annotate_ids(annotate_project: Project) -> list[int]:
    """The image ids in name order (img_0.jpg first)."""
    return list_images(annotate_project, order="name")


@pytest.fixture
def annotate_session(annotate_project: Project) -> ProjectSession:
    return ProjectSession(annotate_project)


@pytest.fixture
def annotate_pane(qtbot: QtBot, annotate_session: ProjectSession) -> Iterator[AnnotatePane]:
    """A shown AnnotatePane on the session (no image yet)."""
    pane = AnnotatePane(annotate_session)
    qtbot.addWidget(pane)
    pane.resize(1000, 650)
    pane.show()
    qtbot.waitExposed(pane)
    yield pane
    pane.view.shutdown()
