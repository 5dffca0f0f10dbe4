"""The window shows every image upright, as import and training see it: the EXIF
orientation of PNG and WebP too, which Qt's own readers leave out."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from app.thumbnails import decode_thumbnail
from app.widgets.image_view import decode_image
from core.images.decode import load_rgb
from tests.core.images import corpus


def _near(colour: QColor, rgb: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(
        abs(a - b) <= tolerance
        for a, b in zip((colour.red(), colour.green(), colour.blue()), rgb, strict=True)
    )


def _marker_corner(image: QImage) -> tuple[str, str]:
    """Which corner holds the red marker block."""
    w, h, m = image.width(), image.height(), 2
    for vertical, row in (("top", m), ("bottom", h - 1 - m)):
        for horizontal, col in (("left", m), ("right", w - 1 - m)):
            if _near(image.pixelColor(col, row), corpus.MARKER):
                return vertical, horizontal
    raise AssertionError("no corner holds the marker")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_thumbnails_and_the_large_view_are_upright_as_training_sees_them(
    tmp_path: Path, fmt: str, orientation: int
) -> None:
    path = corpus.save(tmp_path, f"o{orientation}.{fmt.lower()}", corpus.oriented(fmt, orientation))
    upright = load_rgb(path)  # what import and training use
    expected_size = upright.size
    thumbnail, reason = decode_thumbnail(str(path), 200)
    shown = decode_image(1, str(path), 500).image
    assert not reason and shown is not None
    for image in (thumbnail, shown):
        assert (image.width(), image.height()) == expected_size, (fmt, orientation)
        assert _marker_corner(image) == corpus.ORIENTATION_CORNER[orientation], (fmt, orientation)
