"""Image lookup by path, rel_path, trailing components, stem and content hash."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

import pytest
from sqlalchemy import select

from core.db.models import Image
from core.errors import NotFoundError, UserError
from core.formats.matching import ImageIndex, ImageRecord, find_image, normalise
from core.project import Project
from tests.core.formats.conftest import CAFE, DUP_X, A, B


def record(image_id: int, path: str, root: str) -> ImageRecord:
    rel = str(PurePosixPath(path).relative_to(root))
    return ImageRecord(
        image_id, path, root, rel, PurePosixPath(path).name, f"hash{image_id}", 10, 10
    )


INDEX = ImageIndex.from_records(
    [
        record(1, "/data/street/a.jpg", "/data/street"),
        record(2, "/data/street/sub/b.jpg", "/data/street"),
        record(3, "/data/x/dup.jpg", "/data/x"),
        record(4, "/data/y/dup.jpg", "/data/y"),
        record(5, "/data/y/sub/b.png", "/data/y"),
        record(6, "/data/z/a.jpg", "/data/z/"),
        record(7, "/data/z/deep/a.jpg", "/data/z"),
        record(8, "/data/z/weird\\name.jpg", "/data/z"),
        record(9, "/data/z/ spaced .jpg", "/data/z"),
    ]
)


def test_normalise() -> None:
    assert normalise(".\\sub\\b.jpg") == "sub/b.jpg"
    assert normalise("././a.jpg") == "a.jpg"
    assert normalise("sub//b.jpg") == "sub/b.jpg"
    assert normalise("\\\\server\\share\\a.jpg") == "//server/share/a.jpg"  # UNC kept


def test_absolute_path_wins() -> None:
    assert INDEX.find("/data/x/dup.jpg").image_id == 3
    assert INDEX.find("/data/x/dup.jpg").rule == "path"


def test_rel_path_shared_by_two_images_is_ambiguous() -> None:
    match = INDEX.find("dup.jpg")
    assert match.image_id is None
    assert match.candidates == ("/data/x/dup.jpg", "/data/y/dup.jpg")


def test_rel_path_beats_a_longer_suffix_match() -> None:
    # "a.jpg" is the rel_path of two images (ids 1 and 6) -> ambiguous, although
    # image 7 also ends with a.jpg: the rel_path rule decides first.
    assert INDEX.find("a.jpg").candidates == ("/data/street/a.jpg", "/data/z/a.jpg")
    assert INDEX.find("deep/a.jpg").image_id == 7
    assert INDEX.find("street/a.jpg").image_id == 1


def test_suffix_match() -> None:
    assert INDEX.find("b.png").image_id == 5
    assert INDEX.find("y/sub/b.png").image_id == 5
    assert INDEX.find("sub/b.jpg").image_id == 2
    assert INDEX.find("other/b.png").found is False
    assert INDEX.find("/elsewhere/b.png").found is False


def test_literal_backslash_and_spaces() -> None:
    assert INDEX.find("weird\\name.jpg").image_id == 8
    assert INDEX.find(" spaced .jpg").image_id == 9


def test_nfd_matches_nfc() -> None:
    index = ImageIndex.from_records([record(1, "/d/café.jpg", "/d")])
    assert index.find(unicodedata.normalize("NFD", "café.jpg")).image_id == 1
    assert index.find(unicodedata.normalize("NFD", "/d/café.jpg")).image_id == 1


def test_stem_and_hash() -> None:
    assert INDEX.find_by_stem("b").candidates == ("/data/street/sub/b.jpg", "/data/y/sub/b.png")
    assert INDEX.find_by_stem("a").ambiguous
    assert INDEX.find_by_hash("hash4") == 4
    assert INDEX.find_by_hash("nope") is None


def test_export_names() -> None:
    names = INDEX.export_names()
    assert names[2] == "sub/b.jpg"
    assert names[3] == "/data/x/dup.jpg"
    assert names[1] == "/data/street/a.jpg"
    assert names[7] == "deep/a.jpg"
    stems = INDEX.stem_names()
    assert stems[8] == "weird\\name"
    assert stems[2] == "sub/b.jpg"


def test_find_image_in_a_project(proj: Project) -> None:
    with proj.transaction() as session:
        ids = {p: i for p, i in session.execute(select(Image.path, Image.id))}
    assert find_image(proj, "a.jpg") == ids[A]
    assert find_image(proj, "b.jpg") == ids[B]
    assert find_image(proj, ".\\sub\\b.jpg") == ids[B]
    assert find_image(proj, DUP_X) == ids[DUP_X]
    assert find_image(proj, unicodedata.normalize("NFD", "café 1.jpg")) == ids[CAFE]
    with pytest.raises(UserError, match="ambiguous: it matches 2 images"):
        find_image(proj, "dup.jpg")
    with pytest.raises(NotFoundError, match=r"no image 'zzz\.jpg'"):
        find_image(proj, "zzz.jpg")
