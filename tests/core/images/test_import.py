"""Importing image files: what a user sees in the summary and in the project afterwards."""

from __future__ import annotations

import builtins
import hashlib
import os
import shutil
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from core.db.models import Image
from core.errors import ProjectError, UserError
from core.images import importer
from core.images.importer import (
    CheckSummary,
    ImportProgress,
    ImportSummary,
    check_images,
    import_images,
)
from core.labels import image_row, set_label
from core.project import Project
from core.tasks import get_task
from tests.core.images import corpus


def posix(path: Path | str) -> str:
    return Path(os.path.abspath(path)).as_posix()


def rows(project: Project) -> dict[str, Image]:
    with project.transaction() as session:
        return {row.path: row for row in session.scalars(select(Image))}


def count(project: Project) -> int:
    with project.transaction() as session:
        return session.scalar(select(func.count()).select_from(Image)) or 0


def reasons(summary: ImportSummary) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in summary.skipped}


# -- a first import ------------------------------------------------------------------


def test_import_records_every_usable_file_and_explains_the_rest(
    project: Project, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    good = corpus.every_format(folder) | corpus.odd_modes(folder / "odd")
    corpus.bad_files(folder / "bad")
    corpus.save(folder, "notes.txt", b"not a candidate")
    corpus.save(folder, ".hidden.jpg", corpus.distinct_jpeg(500))
    corpus.save(folder / ".thumbnails", "t.jpg", corpus.distinct_jpeg(501))

    summary = import_images(project, [folder])

    assert sorted(summary.added) == sorted(posix(p) for p in good.values())
    assert reasons(summary) == {
        "empty.jpg": "empty file",
        "text.jpg": "not an image file",
        "truncated.jpg": "truncated or corrupt JPEG data",
        "truncated.png": "truncated or corrupt PNG data",
        "random.png": "not an image file",
        "bomb.png": "image has 2500 MP, over the 100 MP limit",
        "big.png": "image has 110 MP (11000×10000 pixels), over the 100 MP limit",
        "unsupported.png": "unsupported format PPM (use JPEG, PNG, BMP, GIF, TIFF or WebP)",
    }
    assert summary.duplicates == [] and summary.unchanged == 0 and not summary.cancelled

    recorded = rows(project)
    assert set(recorded) == set(summary.added)
    grey16 = recorded[posix(good["grey16.png"])]
    data = good["grey16.png"].read_bytes()
    assert grey16.content_hash == hashlib.sha256(data).hexdigest()
    assert grey16.file_size == len(data)
    assert grey16.file_mtime_ns == good["grey16.png"].stat().st_mtime_ns
    assert (grey16.width, grey16.height) == (256, 8)
    assert grey16.root == posix(folder)
    assert grey16.rel_path == "odd/grey16.png"
    assert grey16.name == "grey16.png"
    assert grey16.status == "ok"
    assert (
        recorded[posix(good["animated.gif"])].width,
        recorded[posix(good["pages.tiff"])].width,
    ) == (
        16,
        20,
    )


def test_exif_orientation_swaps_the_recorded_size(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "oriented"
    for o in range(1, 9):
        corpus.save(folder, f"o{o}.jpg", corpus.oriented_jpeg(o, 60, 40))
    summary = import_images(project, [folder])
    assert len(summary.added) == 8
    for o in range(1, 9):
        row = rows(project)[posix(folder / f"o{o}.jpg")]
        assert (row.width, row.height) == ((40, 60) if o >= 5 else (60, 40)), o


def test_single_files_are_tried_whatever_their_extension(project: Project, tmp_path: Path) -> None:
    odd = corpus.save(tmp_path / "x", "scan.dat", corpus.distinct_jpeg(7))
    text = corpus.save(tmp_path / "x", "readme.jpg", b"hello")
    summary = import_images(project, [odd, str(text)])
    assert summary.added == [posix(odd)]
    assert reasons(summary) == {"readme.jpg": "not an image file"}
    row = rows(project)[posix(odd)]
    assert (row.root, row.rel_path, row.name) == (posix(odd.parent), "scan.dat", "scan.dat")


def test_extensions_match_in_any_case(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "case"
    for i, name in enumerate(["a.JPG", "b.Jpeg", "c.jpe", "d.PNG", "e.TIFF", "f.WebP", "g.bmp"]):
        corpus.save(folder, name, corpus.encode(corpus.distinct(100 + i), "PNG"))
    corpus.save(folder, "h.psd", corpus.distinct_jpeg(1))
    assert len(import_images(project, [folder]).added) == 7


def test_files_a_folder_walk_does_not_try_are_counted_by_their_ending(
    project: Project, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    corpus.save(folder, "a.png", corpus.encode(corpus.distinct(1), "PNG"))
    for name in ("logo.svg", "icon.SVG", "notes.txt", "README", "sub/clip.mp4"):
        corpus.save(folder, name, b"not tried")
    summary = import_images(project, [folder])
    assert len(summary.added) == 1
    assert summary.ignored == {".svg": 2, ".txt": 1, "(none)": 1, ".mp4": 1}
    assert summary.ignored_text() == (
        "ignored 5 files (not images): 2 .svg, 1 (none), 1 .mp4, 1 .txt"
    )
    # Everything seen is accounted for: added + skipped + ignored.
    assert len(summary.added) + len(summary.skipped) + sum(summary.ignored.values()) == 6


def test_a_missing_source_is_an_error_and_nothing_is_imported(
    project: Project, photos: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no such folder"
    with pytest.raises(UserError, match="no such folder"):
        import_images(project, [photos, missing])
    assert count(project) == 0


# -- duplicates, re-imports, moves and changes ---------------------------------------


def test_duplicates_are_imported_once_and_reported(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "dups"
    first = corpus.save(folder, "a.jpg", corpus.distinct_jpeg(1))
    copy = corpus.save(folder, "b.jpg", corpus.distinct_jpeg(1))
    other = corpus.save(tmp_path / "later", "c.jpg", corpus.distinct_jpeg(1))

    summary = import_images(project, [folder])
    assert summary.added == [posix(first)]
    assert summary.duplicates == [(posix(copy), posix(first))]

    summary = import_images(project, [other.parent])
    assert summary.added == []
    assert summary.duplicates == [(posix(other), posix(first))]
    assert count(project) == 1


def test_reimport_adds_only_what_is_new_without_reading_unchanged_files(
    project: Project, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(import_images(project, [photos]).added) == 6
    new = corpus.save(photos / "sub", "new.jpg", corpus.distinct_jpeg(60))

    def must_not_read(path: str) -> Any:
        if path != str(new):
            raise AssertionError(f"{path} was read again")
        return real_read(path)

    real_read = importer._read_file
    monkeypatch.setattr(importer, "_read_file", must_not_read)
    summary = import_images(project, [photos])
    assert summary.added == [posix(new)]
    assert summary.unchanged == 6
    assert not (summary.duplicates or summary.moved or summary.changed or summary.marked_missing)
    assert count(project) == 7


def test_a_moved_file_keeps_its_labels(project: Project, photos: Path) -> None:
    import_images(project, [photos])
    old = photos / "p1.jpg"
    image_id = rows(project)[posix(old)].id
    task = get_task(project, "a").id
    set_label(project, image_id, task, 1)

    new = photos / "sub" / "deeper" / "renamed.jpg"
    new.parent.mkdir()
    shutil.move(old, new)
    summary = import_images(project, [photos])

    assert summary.moved == [(posix(old), posix(new))]
    assert summary.added == [] and summary.duplicates == [] and summary.marked_missing == []
    row = rows(project)[posix(new)]
    assert row.id == image_id and row.status == "ok"
    assert (row.rel_path, row.name, row.root) == (
        "sub/deeper/renamed.jpg",
        "renamed.jpg",
        posix(photos),
    )
    assert image_row(project, image_id)[task] == 1
    assert posix(old) not in rows(project)


def test_a_file_moved_to_another_folder_is_found_there(
    project: Project, photos: Path, tmp_path: Path
) -> None:
    import_images(project, [photos])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(photos / "p2.jpg", elsewhere / "p2.jpg")
    summary = import_images(project, [elsewhere])
    assert summary.moved == [(posix(photos / "p2.jpg"), posix(elsewhere / "p2.jpg"))]
    assert rows(project)[posix(elsewhere / "p2.jpg")].root == posix(elsewhere)


def test_a_deleted_file_is_marked_missing_and_keeps_its_labels(
    project: Project, photos: Path, tmp_path: Path
) -> None:
    import_images(project, [photos])
    gone = photos / "sub" / "p4.jpg"
    image_id = rows(project)[posix(gone)].id
    task = get_task(project, "b").id
    set_label(project, image_id, task, 0)
    kept = tmp_path / "kept.jpg"
    shutil.move(gone, kept)

    summary = import_images(project, [photos])
    assert summary.marked_missing == [posix(gone)]
    assert summary.unchanged == 5
    assert rows(project)[posix(gone)].status == "missing"
    assert image_row(project, image_id)[task] == 0

    # Importing again changes nothing more; putting the file back makes it usable again.
    assert import_images(project, [photos]).marked_missing == []
    shutil.move(kept, gone)
    summary = import_images(project, [photos])
    assert summary.back == [posix(gone)]
    assert summary.added == [] and summary.moved == []
    assert rows(project)[posix(gone)].status == "ok"
    assert image_row(project, image_id)[task] == 0


def test_missing_marks_stay_inside_the_imported_folder(
    project: Project, photos: Path, tmp_path: Path
) -> None:
    lookalike = tmp_path / "photos_other"  # shares the prefix "photos" but is another folder
    corpus.save(lookalike, "x.jpg", corpus.distinct_jpeg(77))
    import_images(project, [photos, lookalike])
    (lookalike / "x.jpg").unlink()
    (photos / "p0.jpg").unlink()
    assert import_images(project, [photos]).marked_missing == [posix(photos / "p0.jpg")]
    assert rows(project)[posix(lookalike / "x.jpg")].status == "ok"


def test_a_changed_file_is_reported_and_keeps_its_labels(project: Project, photos: Path) -> None:
    import_images(project, [photos])
    path = photos / "p3.jpg"
    image_id = rows(project)[posix(path)].id
    task = get_task(project, "a").id
    set_label(project, image_id, task, 1)

    new_content = corpus.encode(corpus.distinct(333, 50, 20), "JPEG")
    path.write_bytes(new_content)
    corpus.set_mtime(path, path.stat().st_mtime_ns + 5_000_000_000)
    summary = import_images(project, [photos])

    assert summary.changed == [posix(path)]
    assert summary.added == [] and summary.unchanged == 5
    row = rows(project)[posix(path)]
    assert row.id == image_id
    assert row.content_hash == hashlib.sha256(new_content).hexdigest()
    assert (row.width, row.height, row.file_size) == (50, 20, len(new_content))
    assert image_row(project, image_id)[task] == 1


def test_a_touched_file_is_unchanged(project: Project, photos: Path) -> None:
    import_images(project, [photos])
    path = photos / "p0.jpg"
    corpus.set_mtime(path, path.stat().st_mtime_ns + 10_000_000_000)
    summary = import_images(project, [photos])
    assert summary.unchanged == 6 and summary.changed == []
    assert rows(project)[posix(path)].file_mtime_ns == path.stat().st_mtime_ns


def test_a_file_that_became_corrupt_is_marked_unreadable(project: Project, photos: Path) -> None:
    import_images(project, [photos])
    path = photos / "p2.jpg"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    corpus.set_mtime(path, path.stat().st_mtime_ns + 5_000_000_000)
    summary = import_images(project, [photos])
    assert reasons(summary) == {"p2.jpg": "truncated or corrupt JPEG data"}
    row = rows(project)[posix(path)]
    assert (row.status, row.status_note) == ("unreadable", "truncated or corrupt JPEG data")

    path.write_bytes(good)
    summary = import_images(project, [photos])
    assert summary.back == [posix(path)]
    assert rows(project)[posix(path)].status == "ok"


def test_a_file_overwritten_with_another_images_content(project: Project, photos: Path) -> None:
    import_images(project, [photos])
    target = photos / "p0.jpg"
    shutil.copyfile(photos / "p1.jpg", target)
    corpus.set_mtime(target, target.stat().st_mtime_ns + 5_000_000_000)
    summary = import_images(project, [photos])
    assert summary.duplicates == [(posix(target), posix(photos / "p1.jpg"))]
    assert rows(project)[posix(target)].status == "missing"  # its own content is gone


def test_an_edited_file_whose_original_was_kept_as_a_copy(project: Project, photos: Path) -> None:
    import_images(project, [photos])
    edited, copy = photos / "p0.jpg", photos / "p0-original.jpg"
    shutil.copy2(edited, copy)  # the original content, under a new name...
    edited.write_bytes(corpus.distinct_jpeg(4000))  # ...and the file edited in place
    corpus.set_mtime(edited, edited.stat().st_mtime_ns + 5_000_000_000)
    summary = import_images(project, [photos])
    assert summary.changed == [posix(edited)]
    assert summary.added == [posix(copy)]
    assert summary.duplicates == []


# -- bad situations ------------------------------------------------------------------


def test_huge_files_are_not_read(
    project: Project, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 4096)
    big = corpus.save(photos, "big.png", corpus.encode(corpus.distinct(1, 64, 64), "PNG"))
    summary = import_images(project, [photos])
    assert reasons(summary) == {
        big.name: f"the file is {big.stat().st_size / 1024:.3g} KiB, over the 4 KiB limit "
        "for an image file"
    }


def test_permission_denied_is_skipped(
    project: Project, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = photos / "p1.jpg"

    def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(importer, "open", fake_open, raising=False)
    summary = import_images(project, [photos])
    assert reasons(summary) == {"p1.jpg": "cannot read the file: permission denied"}
    assert len(summary.added) == 5


@pytest.mark.skipif(sys.platform == "win32", reason="needs symbolic links")
def test_symbolic_link_loops_do_not_hang(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "links"
    corpus.symlink_loops(folder)
    summary = import_images(project, [folder])
    assert summary.added == [posix(folder / "inner" / "real.jpg")]
    assert reasons(summary) == {
        "loop_a.jpg": "broken or looping symbolic link",
        "loop_b.jpg": "broken or looping symbolic link",
    }


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_a_file_name_that_is_not_utf8_is_skipped(project: Project, photos: Path) -> None:
    raw = os.fsencode(photos) + b"/caf\xe9.jpg"
    with open(raw, "wb") as f:
        f.write(corpus.distinct_jpeg(91))
    summary = import_images(project, [photos])
    assert len(summary.added) == 6
    assert [reason for _, reason in summary.skipped] == [
        "the file name is not valid UTF-8 (rename the file)"
    ]


def test_the_project_folder_is_skipped_when_nested(project: Project, tmp_path: Path) -> None:
    # ``project`` lives in tmp_path / "proj"
    corpus.save(project.cache_dir, "decoded.png", corpus.encode(corpus.distinct(1), "PNG"))
    corpus.save(project.root / "images", "mine.png", corpus.encode(corpus.distinct(2), "PNG"))
    corpus.save(tmp_path / "data", "x.png", corpus.encode(corpus.distinct(3), "PNG"))
    assert import_images(project, [tmp_path]).added == [posix(tmp_path / "data" / "x.png")]
    # Asked for explicitly, the project folder's own images are taken, its cache is not.
    assert import_images(project, [project.root]).added == [
        posix(project.root / "images" / "mine.png")
    ]


def test_a_failing_database_write_leaves_only_whole_batches(
    project: Project, tmp_path: Path, small_batches: int
) -> None:
    folder = tmp_path / "many"
    for i in range(10):
        corpus.save(folder, f"i{i:02d}.png", corpus.encode(corpus.distinct(i), "PNG"))
    inserts = 0

    def fail_on_second_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal inserts
        if statement.lstrip().upper().startswith("INSERT INTO IMAGE"):
            inserts += 1
            if inserts == 2:
                raise RuntimeError("disk on fire")

    event.listen(project.engine, "before_cursor_execute", fail_on_second_insert)
    try:
        with pytest.raises(RuntimeError, match="disk on fire"):
            import_images(project, [folder])
    finally:
        event.remove(project.engine, "before_cursor_execute", fail_on_second_insert)
    assert count(project) == small_batches  # the first batch, whole; nothing of the second

    summary = import_images(project, [folder])  # running it again finishes the job
    assert summary.unchanged == small_batches and len(summary.added) == 10 - small_batches
    assert count(project) == 10


def test_a_failing_update_undoes_the_inserts_of_its_batch(project: Project, photos: Path) -> None:
    import_images(project, [photos])
    shutil.move(photos / "p0.jpg", photos / "p0-moved.jpg")  # an update (move)...
    corpus.save(photos, "brand-new.jpg", corpus.distinct_jpeg(1234))  # ...and an insert

    def fail_on_update(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE IMAGE"):
            raise RuntimeError("write failed")

    event.listen(project.engine, "before_cursor_execute", fail_on_update)
    try:
        with pytest.raises(RuntimeError):
            import_images(project, [photos])
    finally:
        event.remove(project.engine, "before_cursor_execute", fail_on_update)
    recorded = rows(project)
    assert posix(photos / "brand-new.jpg") not in recorded
    assert recorded[posix(photos / "p0.jpg")].status == "ok"
    summary = import_images(project, [photos])
    assert summary.added == [posix(photos / "brand-new.jpg")]
    assert summary.moved == [(posix(photos / "p0.jpg"), posix(photos / "p0-moved.jpg"))]


def test_a_locked_database_is_reported_as_a_project_error(
    project: Project, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def locked(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(importer._Importer, "decide", locked)
    with pytest.raises(ProjectError, match=r"database is locked.*run the import again"):
        import_images(project, [photos])


# -- progress and cancelling ---------------------------------------------------------


def test_progress_counts_up_to_the_total(
    project: Project, photos: Path, small_batches: int
) -> None:
    corpus.save(photos, "bad.jpg", b"nope")
    extra = corpus.save(photos.parent, "single.png", corpus.encode(corpus.distinct(50), "PNG"))
    seen: list[ImportProgress] = []
    import_images(project, [photos, extra], progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 9))
    assert {p.total for p in seen} == {8}
    assert seen[-1].current == str(extra)
    assert {Path(p.current).name for p in seen} >= {"bad.jpg", "p0.jpg", "p5.jpg"}


def test_cancel_stops_early_and_keeps_what_was_done(
    project: Project, tmp_path: Path, small_batches: int
) -> None:
    folder = tmp_path / "many"
    corpus.many_tiny_images(folder, 20)
    cancel = threading.Event()

    def progress(p: ImportProgress) -> None:
        if p.done == 6:
            cancel.set()

    summary = import_images(project, [folder], progress=progress, cancel=cancel)
    assert summary.cancelled
    assert len(summary.added) == 6 == count(project)

    summary = import_images(project, [folder], cancel=threading.Event())
    assert not summary.cancelled
    assert (summary.unchanged, len(summary.added)) == (6, 14)


def test_cancel_before_starting_imports_nothing(project: Project, photos: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    summary = import_images(project, [photos], cancel=cancel)
    assert summary.cancelled and summary.added == [] and count(project) == 0


# -- check_images ----------------------------------------------------------------------


def test_check_images_updates_every_status(project: Project, photos: Path, tmp_path: Path) -> None:
    import_images(project, [photos])
    gone, changed, broken = photos / "p0.jpg", photos / "p1.jpg", photos / "sub" / "p4.jpg"
    kept = tmp_path / "kept.jpg"
    shutil.move(gone, kept)
    changed.write_bytes(corpus.encode(corpus.distinct(777, 10, 10), "JPEG"))
    corpus.set_mtime(changed, changed.stat().st_mtime_ns + 5_000_000_000)
    broken.write_bytes(b"garbage")

    summary = check_images(project)
    assert isinstance(summary, CheckSummary)
    assert summary.newly_missing == [posix(gone)]
    assert summary.changed == [posix(changed)]
    assert summary.newly_unreadable == [(posix(broken), "not an image file")]
    assert (summary.ok, summary.missing, summary.unreadable) == (4, 1, 1)
    recorded = rows(project)
    assert recorded[posix(gone)].status == "missing"
    assert recorded[posix(broken)].status == "unreadable"
    assert (recorded[posix(changed)].width, recorded[posix(changed)].status) == (10, "ok")

    again = check_images(project)
    assert not (again.newly_missing or again.changed or again.newly_unreadable or again.back)

    shutil.move(kept, gone)
    seen: list[ImportProgress] = []
    summary = check_images(project, progress=seen.append)
    assert summary.back == [posix(gone)]
    assert [p.done for p in seen] == list(range(1, 7)) and seen[-1].total == 6


# -- scale ---------------------------------------------------------------------------


def test_memory_stays_flat_as_the_file_count_grows(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", 50)
    # 40×40 random pixels: about 5 kB a file, so keeping the bytes (or the decoded
    # image) of every file would show.
    corpus.many_tiny_images(tmp_path / "few", 200, side=40)
    corpus.many_tiny_images(tmp_path / "many", 1000, start=1000, side=40)
    warm = corpus.save(tmp_path, "warm.png", corpus.encode(corpus.distinct(5000), "PNG"))
    import_images(project, [warm], progress=lambda p: None)

    def peak(folder: Path) -> int:
        tracemalloc.start()
        try:
            assert len(import_images(project, [folder], progress=lambda p: None).added) > 0
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    few, many = peak(tmp_path / "few"), peak(tmp_path / "many")
    # Five times the files: only the summary's list of added paths and the sorted
    # names of the folder being walked grow (about 250 bytes a file).
    assert many - few < 800 * 800, (few, many)
