"""Window state kept between sessions (QSettings): recent projects, geometry, last choices."""

from __future__ import annotations

from PySide6.QtCore import QSettings

MAX_RECENT = 8


def settings() -> QSettings:
    return QSettings()


def recent_projects() -> list[str]:
    value = settings().value("recent_projects", [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def remember_project(path: str) -> None:
    recent = [p for p in recent_projects() if p != path]
    settings().setValue("recent_projects", [path, *recent][:MAX_RECENT])


def forget_project(path: str) -> None:
    settings().setValue("recent_projects", [p for p in recent_projects() if p != path])
