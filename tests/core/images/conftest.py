"""Fixtures for the image tests (``project`` comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.images import importer
from tests.core.images import corpus


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of six distinct small JPEGs, two of them in a sub-folder."""
    folder = tmp_path / "photos"
    for i in range(4):
        corpus.save(folder, f"p{i}.jpg", corpus.distinct_jpeg(i))
    for i in range(4, 6):
        corpus.save(folder / "sub", f"p{i}.jpg", corpus.distinct_jpeg(i))
    return folder


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> int:
    """Batches of 4 files, so that a few files span several transactions."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 4)
    return 4
