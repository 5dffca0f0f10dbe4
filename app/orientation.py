"""EXIF orientation for every format the program accepts, not only the ones Qt rotates.

``QImageReader.setAutoTransform(True)`` applies the EXIF orientation of JPEG and
TIFF files but not of PNG (eXIf chunk) or WebP, which import and training do
honour (core.images.decode): without this, a rotated PNG would show on its side
in the window while the network is trained on it upright.
"""

from __future__ import annotations

from PySide6.QtGui import QImage, QImageReader, QTransform

from core.images.decode import exif_orientation

_QT_ROTATES = {b"jpeg", b"jpg", b"tiff", b"tif"}
"""Formats whose orientation QImageReader applies itself."""

_TRANSFORMS = {
    # EXIF orientation → what turns the stored pixels upright (Pillow's exif_transpose).
    2: QTransform(-1, 0, 0, 1, 0, 0),  # mirror left-right
    3: QTransform().rotate(180),
    4: QTransform(1, 0, 0, -1, 0, 0),  # mirror top-bottom
    5: QTransform(0, 1, 1, 0, 0, 0),  # transpose
    6: QTransform().rotate(90),  # clockwise, y pointing down
    7: QTransform(0, -1, -1, 0, 0, 0),  # transverse
    8: QTransform().rotate(270),
}


def read_oriented(reader: QImageReader, path: str) -> QImage:
    """``reader.read()`` (with ``setAutoTransform(True)`` already set), upright."""
    qt_rotates = bytes(reader.format().data()).lower() in _QT_ROTATES  # before reading
    image = reader.read()
    if image.isNull() or qt_rotates:
        return image
    transform = _TRANSFORMS.get(exif_orientation(path))
    return image if transform is None else image.transformed(transform)
