"""Opening, creating and migrating projects; refusing what must be refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from core.db.schema import alembic_config_for_scripts, current_revision, head_revision
from core.errors import ProjectError, SchemaTooNewError
from core.project import DB_FILE, PROJECT_FILE, Project
from core.tasks import list_tasks
from tests.helpers import old_project


def test_create_makes_folder_layout_and_tasks(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", tasks=["car", "stop sign"]) as p:
        assert [t.name for t in list_tasks(p)] == ["car", "stop sign"]
        assert p.cache_dir.is_dir() and p.runs_dir.is_dir()
    assert (tmp_path / "p" / DB_FILE).is_file()
    assert json.loads((tmp_path / "p" / PROJECT_FILE).read_text())["mtlabel_project"] == 1


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p") as project, project.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000


def test_create_refuses_existing_project(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").close()
    with pytest.raises(ProjectError, match="already holds"):
        Project.create(tmp_path / "p")


def test_open_missing_or_foreign_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a folder"):
        Project.open(tmp_path / "nowhere")
    with pytest.raises(ProjectError, match="not an mtlabel project"):
        Project.open(tmp_path)
    (tmp_path / PROJECT_FILE).write_text("{ not json")
    with pytest.raises(ProjectError, match="cannot be read"):
        Project.open(tmp_path)


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    Project.create(tmp_path / "p", tasks=["a"]).close()
    db = tmp_path / "p" / DB_FILE
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before = db.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer version of mtlabel"):
        Project.open(tmp_path / "p")
    assert db.read_bytes() == before


def test_newer_project_file_format_is_refused(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").close()
    (tmp_path / "p" / PROJECT_FILE).write_text(json.dumps({"mtlabel_project": 99}))
    with pytest.raises(ProjectError, match="newer version"):
        Project.open(tmp_path / "p")


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    with sqlite3.connect(folder / DB_FILE) as conn:
        conn.execute("CREATE TABLE something (x)")
    with pytest.raises(ProjectError, match="not an mtlabel project"):
        Project.open(folder)


def test_garbage_database_file_is_a_clear_error(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").close()
    (tmp_path / "p" / DB_FILE).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "p" / (DB_FILE + suffix)).unlink(missing_ok=True)
    with pytest.raises(ProjectError, match="cannot open the database"):
        Project.open(tmp_path / "p")


def test_database_url_in_project_file_is_used(tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared.db"
    with Project.create(tmp_path / "p", tasks=["a"], database_url=f"sqlite:///{elsewhere}"):
        pass
    assert elsewhere.exists()
    assert not (tmp_path / "p" / DB_FILE).exists()
    with Project.open(tmp_path / "p") as p:
        assert [t.name for t in list_tasks(p)] == ["a"]


def test_unversioned_empty_database_is_migrated_on_open(tmp_path: Path) -> None:
    """An empty database (older than any schema) is brought to the head revision."""
    Project.create(tmp_path / "p", tasks=["a"]).close()
    db = tmp_path / "p" / DB_FILE
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    sqlite3.connect(db).close()
    with Project.open(tmp_path / "p") as p:
        assert current_revision(p.engine) == head_revision()
        assert list_tasks(p) == []


def test_project_from_first_schema_is_migrated_with_labels_intact(tmp_path: Path) -> None:
    """A project written by the first release opens in this one; a backup is kept."""
    from core.db.engine import make_engine

    folder = tmp_path / "old"
    old_project(folder, "0001")
    assert current_revision(make_engine(f"sqlite:///{folder / DB_FILE}")) == "0001"
    with Project.open(folder) as p:
        assert current_revision(p.engine) == head_revision()
        from core.labels import image_row

        assert image_row(p, 1) == {1: 1, 2: None}  # car present, tree unknown
    assert (folder / f"{DB_FILE}.schema-0001.bak").exists()


def test_migration_chain_is_linear_and_matches_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.db.models import Base

    scripts = ScriptDirectory.from_config(alembic_config_for_scripts())
    assert len(scripts.get_heads()) == 1, "migrations have branched"
    with Project.create(tmp_path / "p") as p, p.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")))
        assert ("label_event",) in tables
