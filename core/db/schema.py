"""Schema version check and Alembic migrations, applied when a project opens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from core.errors import ProjectError, SchemaTooNewError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config_for_scripts()).get_current_head()
    assert head is not None
    return head


def alembic_config_for_scripts() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_known_revision(current: str, where: str) -> None:
    """SchemaTooNewError unless this program knows schema revision ``current``."""
    scripts = ScriptDirectory.from_config(alembic_config_for_scripts())
    if current not in {rev.revision for rev in scripts.walk_revisions()}:
        raise SchemaTooNewError(
            f"{where} was written by a newer version of mtlabel (schema {current}); "
            f"this version understands schema up to {head_revision()}. Upgrade mtlabel to "
            "open it; the project was not changed."
        )


def ensure_schema(
    engine: Engine, where: str, before_upgrade: Callable[[str], None] | None = None
) -> bool:
    """Bring the schema to this program's head; return True if it migrated.

    A database whose revision this program does not know was written by a
    newer mtlabel: refuse it and leave it untouched.
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return False
    if current is not None:
        check_known_revision(current, where)
    elif inspect(engine).get_table_names():
        raise ProjectError(
            f"{where} holds a database that is not an mtlabel project (it has tables but "
            "no mtlabel schema version); it was not changed."
        )
    if current is not None and before_upgrade is not None:
        before_upgrade(current)
    command.upgrade(alembic_config(engine), "head")
    return True
