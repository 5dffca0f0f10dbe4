"""Test helpers shared by several test modules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from core.db.models import Image, Label
from core.project import DB_FILE, PROJECT_FILE, Project

TINY_TRAIN = [
    *("--backbone", "compact", "--image-size", "32", "--width", "8", "--batch-size", "16"),
    *("--device", "cpu", "--threads", "1"),
]
"""``mtlabel train`` flags for a run of a few seconds: the compact network at 32 px on one
CPU thread (two threads on a loaded two-core machine can stall every step for seconds)."""


def add_fake_images(project: Project, count: int, root: str = "/data") -> list[int]:
    """Image rows without files behind them, for label-store tests."""
    with project.transaction() as session:
        rows = [
            Image(
                path=f"{root}/img_{i:05d}.jpg",
                root=root,
                rel_path=f"img_{i:05d}.jpg",
                name=f"img_{i:05d}.jpg",
                content_hash=f"{root}-{i}".encode().hex().ljust(64, "0")[:64],
                file_size=1000,
                file_mtime_ns=0,
                width=64,
                height=48,
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def label_rows(project: Project) -> list[tuple[Any, ...]]:
    """The whole label table: (image, task, value, annotator, source, time) per known cell."""
    with project.reading() as session:
        rows = session.execute(
            select(
                Label.image_id,
                Label.task_id,
                Label.value,
                Label.annotator,
                Label.source,
                Label.updated_at,
            ).order_by(Label.image_id, Label.task_id)
        )
        return [tuple(r) for r in rows]


def old_project(folder: Path, revision: str) -> None:
    """A SQLite project at schema ``revision``, as that release wrote it: tasks car and
    tree, image x.jpg (id 1), and car = present by 'old annotator'."""
    from alembic import command

    from core.db.engine import make_engine
    from core.db.schema import alembic_config

    folder.mkdir()
    (folder / PROJECT_FILE).write_text(json.dumps({"mtlabel_project": 1}))
    engine = make_engine(f"sqlite:///{folder / DB_FILE}")
    command.upgrade(alembic_config(engine), revision)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO task (id, name, position, archived, created_at) VALUES "
                "(1, 'car', 0, 0, '2025-01-01 00:00:00'), (2, 'tree', 1, 0, '2025-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO image (id, path, root, rel_path, name, content_hash, file_size, "
                "file_mtime_ns, width, height, status, imported_at) VALUES (1, '/d/x.jpg', '/d', "
                "'x.jpg', 'x.jpg', 'ab', 1, 0, 4, 3, 'ok', '2025-01-01 00:00:00')"
            )
        )
        conn.execute(
            text("INSERT INTO label VALUES (1, 1, 1, 'old annotator', 'human', '2025-01-01')")
        )
    engine.dispose()
