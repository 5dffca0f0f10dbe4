"""Projects of other schema versions through the command line.

An older project opens, is migrated (a backup kept) and keeps its labels; one from a
newer mtlabel — a newer schema revision, also in a rollback-journal database, or a
newer project file format — is refused by every command with one clear line, and
its folder stays byte for byte as it was. SQLite only: the files are the point.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from core.db.schema import alembic_config_for_scripts, current_revision, head_revision
from core.project import DB_FILE, PROJECT_FILE, Project
from tests.faults.helpers import TINY_TRAIN, files_of, run_cli
from tests.helpers import old_project


def older_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config_for_scripts())
    return [r.revision for r in scripts.walk_revisions() if r.revision != head_revision()]


@pytest.mark.parametrize("revision", older_revisions())
def test_sqlite_an_older_project_is_migrated_by_any_command_and_keeps_its_labels(
    tmp_path: Path, revision: str
) -> None:
    folder = tmp_path / "old"
    old_project(folder, revision)

    stats = run_cli("stats", folder, "--json")
    assert stats.code == 0, stats.err
    counts = {t["name"]: (t["present"], t["absent"]) for t in stats.json()["tasks"]}
    assert counts == {"car": (1, 0), "tree": (0, 0)}
    assert (folder / f"{DB_FILE}.schema-{revision}.bak").is_file()
    with Project.open(folder) as project:
        assert current_revision(project.engine) == head_revision()
    exported = run_cli("labels", "export", folder, "-o", tmp_path / "l.json", "--format", "json")
    assert exported.code == 0, exported.err
    document = json.loads((tmp_path / "l.json").read_text())
    assert [(lab["value"], lab["annotator"]) for lab in document["labels"]] == [
        (1, "old annotator")
    ]
    assert run_cli("labels", "set", folder, "x.jpg", "tree", "absent").code == 0


def newer_schema(folder: Path, journal: str) -> None:
    Project.create(folder, tasks=["car"]).close()
    with closing(sqlite3.connect(folder / DB_FILE)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        conn.commit()
        conn.execute(f"PRAGMA journal_mode = {journal}")


def newer_format(folder: Path, journal: str) -> None:
    Project.create(folder, tasks=["car"]).close()
    (folder / PROJECT_FILE).write_text(json.dumps({"mtlabel_project": 2}))


@pytest.mark.parametrize(
    ("make", "journal"),
    [(newer_schema, "wal"), (newer_schema, "delete"), (newer_format, "wal")],
    ids=["schema", "schema-rollback-journal", "project-format"],
)
def test_sqlite_a_newer_project_is_refused_by_every_command_and_left_untouched(
    tmp_path: Path, make: object, journal: str
) -> None:
    folder = tmp_path / "newer"
    make(folder, journal)  # type: ignore[operator]
    (tmp_path / "images").mkdir()
    before = files_of(folder)
    commands = [
        ["stats", folder],
        ["runs", folder],
        ["tasks", "add", folder, "tree"],
        ["labels", "export", folder, "-o", tmp_path / "l.csv", "--format", "csv"],
        ["import", folder, tmp_path / "images"],
        ["train", folder, *TINY_TRAIN, "--epochs", "1"],
    ]
    for argv in commands:
        message = run_cli(*argv).one_line_error()
        assert "newer version of mtlabel" in message and "upgrade mtlabel" in message.lower()
        assert files_of(folder) == before, f"{argv[0]} changed the project"
    assert not (tmp_path / "l.csv").exists()
