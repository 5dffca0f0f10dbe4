"""Project statistics: image statuses, per-task label counts, balance warnings."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import func, select

from core.db.models import IMAGE_STATUSES, Image
from core.labels import TaskCounts, counts_per_task
from core.project import Project

# A task with fewer known cells than this share of the median task is "starved":
# multi-task learning pays best when tasks have similar amounts of data.
STARVED_SHARE = 0.25


@dataclass
class ProjectStats:
    project: str
    images: int
    image_status: dict[str, int]
    tasks: list[TaskCounts]
    warnings: list[str] = field(default_factory=list)


def balance_warnings(counts: list[TaskCounts]) -> list[str]:
    """Plain-language warnings about tasks that will train badly."""
    warnings: list[str] = []
    known = [c.known for c in counts]
    median = statistics.median(known) if known else 0
    for c in counts:
        if median > 0 and c.known < STARVED_SHARE * median:
            warnings.append(
                f"task '{c.name}' has {c.known} known cells, far fewer than the other tasks "
                f"(median {median:g}): label more of it, or it will gain little from sharing"
            )
        if c.known > 0 and c.present == 0:
            warnings.append(f"task '{c.name}' has no image labelled present")
        elif c.known > 0 and c.absent == 0:
            warnings.append(f"task '{c.name}' has no image labelled absent")
    return warnings


def project_stats(project: Project) -> ProjectStats:
    with project.reading() as session:
        rows = session.execute(select(Image.status, func.count()).group_by(Image.status))
        by_status = {status: count for status, count in rows}
    status = {s: int(by_status.get(s, 0)) for s in IMAGE_STATUSES}
    counts = counts_per_task(project)
    return ProjectStats(
        project=str(project.root),
        images=sum(status.values()),
        image_status=status,
        tasks=counts,
        warnings=balance_warnings(counts),
    )
