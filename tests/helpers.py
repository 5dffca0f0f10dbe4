"""Test helpers shared by several test modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.db.models import Image, Label
from core.project import Project

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
