"""A project is a folder: ``mtlabel.json``, the SQLite database, ``cache/`` and ``runs/``.

The database URL may point elsewhere (e.g. a shared PostgreSQL server); it is
then recorded in ``mtlabel.json`` so that every annotator opening the folder
reaches the same database.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session

from core.db.engine import make_engine
from core.db.schema import check_known_revision, ensure_schema
from core.errors import ProjectError, database_words

PROJECT_FILE = "mtlabel.json"
DB_FILE = "mtlabel.db"
CACHE_DIR = "cache"
RUNS_DIR = "runs"
PROJECT_FORMAT = 1


def default_annotator() -> str:
    """The annotator recorded with labels: $MTLABEL_ANNOTATOR, else the OS user."""
    name = os.environ.get("MTLABEL_ANNOTATOR", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def write_file_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` holds either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Project:
    """An open project: its folder, its database engine and who is annotating."""

    def __init__(
        self, root: Path, engine: Engine, annotator: str, read_engine: Engine | None = None
    ) -> None:
        self.root = root
        self.engine = engine
        self.read_engine = read_engine or engine
        self.annotator = annotator

    # -- opening -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        tasks: Sequence[str] = (),
        database_url: str | None = None,
        annotator: str | None = None,
    ) -> Project:
        """Make a new project folder (which may exist but must not hold a project)."""
        folder = Path(root).expanduser().absolute()
        if (folder / PROJECT_FILE).exists() or (folder / DB_FILE).exists():
            raise ProjectError(f"{folder} already holds an mtlabel project")
        if folder.exists() and not folder.is_dir():
            raise ProjectError(f"{folder} exists and is not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / CACHE_DIR).mkdir(exist_ok=True)
            (folder / RUNS_DIR).mkdir(exist_ok=True)
            settings: dict[str, Any] = {"mtlabel_project": PROJECT_FORMAT}
            if database_url:
                settings["database_url"] = database_url
            write_file_atomically(folder / PROJECT_FILE, json.dumps(settings, indent=2) + "\n")
        except OSError as exc:
            raise ProjectError(f"cannot create a project in {folder}: {exc.strerror}") from exc
        project = cls.open(folder, annotator=annotator)
        if tasks:
            from core.tasks import add_tasks

            add_tasks(project, tasks)
        return project

    @classmethod
    def open(cls, root: str | os.PathLike[str], annotator: str | None = None) -> Project:
        """Open a project folder, migrating its schema if it is older than this program."""
        folder = Path(root).expanduser().absolute()
        settings = _read_settings(folder)
        configured = settings.get("database_url")
        if configured is not None and not isinstance(configured, str):
            raise ProjectError(f"{folder / PROJECT_FILE}: database_url must be a string")
        # The default database as a URL object, not "sqlite:///" + path: a folder name
        # holding "?", "#" or "%20" would be parsed as URL syntax (another file).
        url = URL.create("sqlite", database=str(folder / DB_FILE))
        if configured:
            try:
                url = make_url(configured)
            except ArgumentError as exc:
                raise ProjectError(f"{folder / PROJECT_FILE}: database_url: {exc}") from exc
        sqlite = url.get_backend_name() == "sqlite"
        if sqlite and not os.access(folder, os.W_OK):
            raise ProjectError(f"{folder} is read-only: mtlabel needs to write its database there")
        if sqlite and url.database:
            _refuse_newer_sqlite(Path(url.database), str(folder))
        engine = make_engine(url)
        try:
            ensure_schema(engine, str(folder), before_upgrade=_sqlite_backup(engine, folder))
        except (OperationalError, DatabaseError) as exc:
            engine.dispose()
            reason = database_words(exc.orig)
            raise ProjectError(f"cannot open the database of {folder}: {reason}") from exc
        except BaseException:
            engine.dispose()
            raise
        for sub in (CACHE_DIR, RUNS_DIR):
            (folder / sub).mkdir(exist_ok=True)
        read_engine = make_engine(url, for_reading=True) if sqlite else engine
        project = cls(folder, engine, annotator or default_annotator(), read_engine)
        from core.runs import reap_dead_runs

        reap_dead_runs(project)
        return project

    # -- use ---------------------------------------------------------------------

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE_DIR

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS_DIR

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work that writes: committed when the block ends, rolled back on
        error. On SQLite it holds the write lock from its start (see core/db/engine.py)."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: a consistent snapshot that never waits for a writer."""
        with Session(self.read_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _refuse_newer_sqlite(database: Path, where: str) -> None:
    """Refuse a SQLite database of a newer schema before an engine touches it: its
    connections switch the file to WAL mode, which would change a refused project."""
    if not database.is_file():
        return
    try:
        with contextlib.closing(sqlite3.connect(database)) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return  # no version table, or no database at all: ensure_schema says which
    if row is not None:
        check_known_revision(str(row[0]), where)


def _sqlite_backup(engine: Engine, folder: Path) -> Callable[[str], None] | None:
    """Before a migration, copy a SQLite database to ``mtlabel.db.schema-<rev>.bak``."""
    if engine.url.get_backend_name() != "sqlite" or not engine.url.database:
        return None
    database = engine.url.database

    def backup(revision: str) -> None:
        target = folder / f"{DB_FILE}.schema-{revision}.bak"
        with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)

    return backup


def _read_settings(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ProjectError(f"{folder} is not a folder (no mtlabel project there)")
    settings_path = folder / PROJECT_FILE
    if not settings_path.exists():
        if (folder / DB_FILE).exists():
            return {}
        raise ProjectError(
            f"{folder} is not an mtlabel project (no {PROJECT_FILE}); create one with "
            "'mtlabel init'"
        )
    try:
        data = json.loads(settings_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"{settings_path} cannot be read: {exc}") from exc
    if not isinstance(data, dict) or "mtlabel_project" not in data:
        raise ProjectError(f"{settings_path} is not an mtlabel project file")
    version = data["mtlabel_project"]
    if not isinstance(version, int) or version > PROJECT_FORMAT:
        raise ProjectError(
            f"{settings_path} was written by a newer version of mtlabel (project format "
            f"{version}); upgrade mtlabel to open it"
        )
    return data
