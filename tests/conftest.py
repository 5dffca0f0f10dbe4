"""Shared fixtures: a fresh project on each database backend under test.

SQLite always; PostgreSQL too when ``MTLABEL_TEST_POSTGRES_URL`` names a server
where the tests may create databases (CI sets it: see ``.ci/run``). Every test
that takes ``project`` then runs on both, which keeps ``core`` free of
SQLite-only behaviour.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MTLABEL_ANNOTATOR", "tester")

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.project import Project
from tests.helpers import add_fake_images

POSTGRES_ADMIN_URL = os.environ.get("MTLABEL_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_ADMIN_URL else [])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the default SQLite file in the project folder, else a fresh PG database."""
    if request.param == "sqlite":
        yield None
        return
    assert POSTGRES_ADMIN_URL
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mtlabel_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def project(tmp_path: Path, database_url: str | None) -> Iterator[Project]:
    """A new project with tasks a and b and no images."""
    with Project.create(tmp_path / "proj", tasks=["a", "b"], database_url=database_url) as p:
        yield p


@pytest.fixture
def images(project: Project) -> list[int]:
    """Ids of five fake images in ``project``."""
    return add_fake_images(project, 5)
