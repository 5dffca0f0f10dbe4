"""Shared fixtures: a fresh project, and a project with fake image rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MTLABEL_ANNOTATOR", "tester")

from core.project import Project
from tests.helpers import add_fake_images


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A new project with tasks a and b and no images."""
    with Project.create(tmp_path / "proj", tasks=["a", "b"]) as p:
        yield p


@pytest.fixture
def images(project: Project) -> list[int]:
    """Ids of five fake images in ``project``."""
    return add_fake_images(project, 5)
