"""Fixtures of the fault-injection tests: a demo project of a few hundred tiny images.

The demo is drawn once per session; each test gets a copy of its folder (database,
settings, image files) without the decoded-image cache, so the first run decodes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.demo import create_demo

FAULT_IMAGES = 240


@pytest.fixture(scope="session")
def fault_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 generated 64×48 street scenes with four tasks, 40 % of the cells unknown."""
    path = tmp_path_factory.mktemp("faults") / "template"
    create_demo(path, images=FAULT_IMAGES, unknown_fraction=0.4, seed=11, size=(64, 48))
    return path


@pytest.fixture
def fault_project(fault_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo project folder (its rows name the template's image files)."""
    target = tmp_path / "project"
    shutil.copytree(fault_template, target, ignore=shutil.ignore_patterns("demo", "cache"))
    return target


@pytest.fixture
def own_images_project(tmp_path: Path) -> Path:
    """A demo project with its own image files (60 scenes), for tests that change them."""
    path = tmp_path / "own"
    create_demo(path, images=60, unknown_fraction=0.3, seed=5, size=(64, 48))
    return path
