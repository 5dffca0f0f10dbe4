"""Plain facts about image rows (path, size, status) for widgets: no ORM objects leave here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from app.session import ProjectSession
from core.db.models import Image
from core.errors import NotFoundError

_CHUNK = 500


@dataclass(frozen=True)
class ImageInfo:
    id: int
    path: str
    """Absolute path, POSIX separators."""
    rel_path: str
    name: str
    width: int
    height: int
    status: str
    """"ok", "missing" or "unreadable", as last recorded."""
    status_note: str | None


_COLUMNS = (
    Image.id,
    Image.path,
    Image.rel_path,
    Image.name,
    Image.width,
    Image.height,
    Image.status,
    Image.status_note,
)


def image_infos(session: ProjectSession, image_ids: Iterable[int]) -> dict[int, ImageInfo]:
    """The rows of the given images that exist, image id → info (missing ids are left out)."""
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    found: dict[int, ImageInfo] = {}
    with session.project.reading() as db:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for row in db.execute(select(*_COLUMNS).where(Image.id.in_(chunk))):
                found[row[0]] = ImageInfo(*row)
    return found


def image_info(session: ProjectSession, image_id: int) -> ImageInfo:
    """One image's row; raises NotFoundError when the project has no such image."""
    info = image_infos(session, [image_id]).get(int(image_id))
    if info is None:
        raise NotFoundError(f"no image with id {image_id} in this project")
    return info
