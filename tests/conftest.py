"""Shared fixtures: a fresh project on each database backend under test.

SQLite always; PostgreSQL too when ``MTLABEL_TEST_POSTGRES_URL`` names a server
where the tests may create databases (CI sets it: see ``.ci/run``). Every test
that takes ``project`` then runs on both, which keeps ``core`` free of
SQLite-only behaviour.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MTLABEL_ANNOTATOR", "tester")

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.demo import create_demo
from core.project import Project
from tests.helpers import add_fake_images

POSTGRES_ADMIN_URL = os.environ.get("MTLABEL_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_ADMIN_URL else [])


@pytest.fixture(params=BACKENDS)
def new_database_url(request: pytest.FixtureRequest) -> Iterator[Callable[[], str | None]]:
    """Factory of database URLs for new projects: None means the default SQLite file in
    the project folder; on PostgreSQL each call creates a fresh database, dropped after."""
    if request.param == "sqlite":
        yield lambda: None
        return
    assert POSTGRES_ADMIN_URL
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"mtlabel_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        url = make_url(POSTGRES_ADMIN_URL).set(database=name)
        return url.render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(new_database_url: Callable[[], str | None]) -> str | None:
    return new_database_url()


@pytest.fixture
def project(tmp_path: Path, database_url: str | None) -> Iterator[Project]:
    """A new project with tasks a and b and no images."""
    with Project.create(tmp_path / "proj", tasks=["a", "b"], database_url=database_url) as p:
        yield p


@pytest.fixture
def images(project: Project) -> list[int]:
    """Ids of five fake images in ``project``."""
    return add_fake_images(project, 5)


DEMO_IMAGES = 80


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo project (80 generated scenes, 40 % unknown), made once per session."""
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
