"""Engine creation: SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url

BUSY_TIMEOUT_MS = 10_000


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    # WAL: readers (the trainer) never block the writer (the window).
    cursor.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode survives a crash or kill of the process; only a power
    # cut can drop the last commits, and the database is never corrupted.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def make_engine(url: str | URL, for_reading: bool = False) -> Engine:
    """An engine for ``url``; SQLite connections are configured on connect.

    On SQLite a writing engine takes the write lock at BEGIN (``BEGIN IMMEDIATE``),
    so that a read-then-write transaction waits for the lock instead of failing
    with "database is locked" half-way. A reading engine begins deferred: in WAL
    mode its transactions read a snapshot and never wait for, or block, a writer.
    """
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _configure_sqlite)
        begin = "BEGIN" if for_reading else "BEGIN IMMEDIATE"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        _disable_pysqlite_autobegin(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _disable_pysqlite_autobegin(engine: Engine) -> None:
    """Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite recipe)."""

    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
