"""A small demo project to train on, made once per test session and copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo import create_demo
from core.project import Project
from core.training.config import TrainConfig

DEMO_IMAGES = 80


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "template"
    create_demo(path, images=DEMO_IMAGES, unknown_fraction=0.4, seed=3)
    return path


@pytest.fixture
def demo_project(demo_template: Path, tmp_path: Path) -> Iterator[Project]:
    """A fresh copy of the demo project's database; its rows still name the template's images."""
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target, ignore=shutil.ignore_patterns("demo", "cache"))
    with Project.open(target) as project:
        yield project


def tiny_config(**overrides: object) -> TrainConfig:
    """Fast enough for a test: small images, a narrow network, two epochs."""
    values: dict[str, object] = {
        "epochs": 2,
        "batch_size": 16,
        "image_size": 32,
        "width": 8,
        "device": "cpu",
        "val_fraction": 0.3,
    }
    values.update(overrides)
    return TrainConfig(**values).validate()  # type: ignore[arg-type]
