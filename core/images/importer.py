"""Import image files into a project (INTERFACE STUB — being implemented)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.project import Project


@dataclass(frozen=True)
class ImportProgress:
    done: int
    total: int
    current: str


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    """Absolute paths of newly recorded images."""
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(path, path of the image already recorded with the same content)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) for files that are not usable images."""
    unchanged: int = 0
    """Files already in the project, unchanged."""
    moved: list[tuple[str, str]] = field(default_factory=list)
    """(old path, new path): a missing image found again elsewhere; labels kept."""
    changed: list[str] = field(default_factory=list)
    """Recorded paths whose content changed; the row was updated, labels kept."""
    marked_missing: list[str] = field(default_factory=list)
    """Recorded images under an imported folder whose file is gone."""
    cancelled: bool = False


def import_images(
    project: Project,
    sources: Sequence[str | os.PathLike[str]],
    progress: Callable[[ImportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> ImportSummary:
    raise NotImplementedError
