"""The labels a run trains on: read once, in one transaction, at the run's start.

Labels edited while the run trains belong to the next run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from core.db.models import Image, Label, Task
from core.project import Project
from core.training.image_cache import CacheItem

UNKNOWN = -1


def is_validation(content_hash: str, val_fraction: float) -> bool:
    """Stable per-image split: the same image lands on the same side in every run."""
    digest = hashlib.sha256(f"mtlabel-split:{content_hash}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < val_fraction


@dataclass
class LabelSnapshot:
    task_ids: list[int]
    task_names: list[str]
    items: list[CacheItem]
    """Every image with status ok, in id order."""
    targets: np.ndarray
    """(n_images, n_tasks) int8: 1 present, 0 absent, -1 unknown."""
    is_val: np.ndarray
    """(n_images,) bool: the image belongs to the validation split."""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def known(self) -> np.ndarray:
        return np.asarray(self.targets != UNKNOWN)

    @property
    def trainable(self) -> np.ndarray:
        """Training images with at least one known cell."""
        return np.asarray(~self.is_val & self.known.any(axis=1))

    @property
    def validation(self) -> np.ndarray:
        return np.asarray(self.is_val & self.known.any(axis=1))

    def split_counts(self) -> dict[str, dict[str, int]]:
        """Per task: present / absent / unknown in the train and validation splits."""
        out: dict[str, dict[str, int]] = {}
        for j, name in enumerate(self.task_names):
            column = self.targets[:, j]
            row: dict[str, int] = {}
            for split, mask in (("train", ~self.is_val), ("val", self.is_val)):
                values = column[mask]
                row[f"{split}_present"] = int((values == 1).sum())
                row[f"{split}_absent"] = int((values == 0).sum())
                row[f"{split}_unknown"] = int((values == UNKNOWN).sum())
            out[name] = row
        return out


def take_snapshot(project: Project, val_fraction: float) -> LabelSnapshot:
    """Active tasks × images with status ok, read in one transaction."""
    with project.reading() as session:
        tasks = list(
            session.execute(
                select(Task.id, Task.name)
                .where(Task.archived.is_(False))
                .order_by(Task.position, Task.id)
            )
        )
        rows = list(
            session.execute(
                select(
                    Image.id, Image.path, Image.content_hash, Image.file_size, Image.file_mtime_ns
                )
                .where(Image.status == "ok")
                .order_by(Image.id)
            )
        )
        task_ids = [t for t, _ in tasks]
        labels = list(
            session.execute(
                select(Label.image_id, Label.task_id, Label.value).where(
                    Label.task_id.in_(task_ids)
                )
            )
        )
    items = [CacheItem(i, p, h, s, m) for i, p, h, s, m in rows]
    row_of = {item.image_id: r for r, item in enumerate(items)}
    col_of = {t: c for c, t in enumerate(task_ids)}
    targets = np.full((len(items), len(task_ids)), UNKNOWN, dtype=np.int8)
    for image_id, task_id, value in labels:
        r = row_of.get(image_id)
        if r is not None:
            targets[r, col_of[task_id]] = value
    is_val = np.array([is_validation(it.content_hash, val_fraction) for it in items], dtype=bool)
    snap = LabelSnapshot(task_ids, [n for _, n in tasks], items, targets, is_val)
    snap.counts = snap.split_counts()
    return snap


def left_out_warnings(
    snap: LabelSnapshot, failed: list[tuple[int, str]]
) -> list[dict[str, object]]:
    """``warning`` events for images a run cannot read, naming their files."""
    paths = {item.image_id: item.path for item in snap.items}
    return [
        {
            "event": "warning",
            "image": image_id,
            "message": f"{paths.get(image_id, f'image {image_id}')} left out: {reason}",
        }
        for image_id, reason in failed
    ]
