"""Wide CSV import and export: values, matching, tasks, errors, unknown handling."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import LabelFileError
from core.formats import export_labels, import_labels
from core.labels import history
from core.project import Project
from core.tasks import list_tasks
from tests.core.formats.conftest import (
    CAFE,
    DUP_X,
    A,
    B,
    C,
    Write,
    cells,
    db_state,
    palette_colour,
    set_by_name,
)


def problems(exc: pytest.ExceptionInfo[LabelFileError]) -> list[str]:
    return exc.value.problems


# -- values ------------------------------------------------------------------------------


def test_import_values_and_summary(proj: Project, write: Write) -> None:
    path = write(
        "l.csv",
        "image,car,bus,person\na.jpg,1,0,\nsub/b.jpg,?,1.0, 0.0 \nc.png, , ,1\n",
    )
    summary = import_labels(proj, path, "csv")
    assert cells(proj) == {
        (A, "car"): 1,
        (A, "bus"): 0,
        (B, "bus"): 1,
        (B, "person"): 0,
        (C, "person"): 1,
    }
    assert summary.rows_read == 3
    assert summary.images_matched == 3
    assert summary.cells_set == 5
    assert summary.cells_unchanged == 0
    assert summary.cells_unknown == 4
    assert summary.unknown_images == []
    assert summary.tasks_created == []
    # JSON-ready
    assert json.loads(json.dumps(dataclasses.asdict(summary)))["cells_set"] == 5


def test_import_is_recorded_as_import_in_history(proj: Project, write: Write) -> None:
    import_labels(proj, write("l.csv", "image,car\na.jpg,1\nc.png,0\n"), "csv")
    events = history(proj)
    assert len(events) == 2
    assert {e.source for e in events} == {"import"}
    assert {e.annotator for e in events} == {"tester"}
    assert len({e.batch for e in events}) == 1


def test_reimport_counts_unchanged(proj: Project, write: Write) -> None:
    path = write("l.csv", "image,car,bus\na.jpg,1,0\nc.png,0,\n")
    import_labels(proj, path, "csv")
    again = import_labels(proj, path, "csv")
    assert again.cells_set == 0
    assert again.cells_unchanged == 3
    assert len(history(proj)) == 3


@pytest.mark.parametrize("value", ["yes", "-1", "2", "true", "1,5", "0.5", "x"])
def test_bad_value_is_an_error_naming_line_and_task(
    labelled: Project, write: Write, value: str
) -> None:
    before = db_state(labelled)
    text = f'image,car,bus\na.jpg,1,0\nc.png,"{value}",1\n'
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.csv", text), "csv")
    assert problems(exc) == [f"line 3: value {value!r} for task 'car' is not 1, 0, ? or empty"]
    assert "nothing was imported" in str(exc.value)
    assert db_state(labelled) == before


def test_all_problems_are_reported_in_line_order(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    text = "image,car,bus\na.jpg,1,yes\nc.png,1\nsub/b.jpg,0,0,1\nnothere.jpg,1,1\ndup.jpg,1,0\n"
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.csv", text), "csv", strict_images=True)
    found = problems(exc)
    assert [p.split(":")[0] for p in found] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert "value 'yes' for task 'bus'" in found[0]
    assert "2 fields, but the header has 3" in found[1]
    assert "4 fields, but the header has 3" in found[2]
    assert "'nothere.jpg' is not in this project" in found[3]
    assert "ambiguous" in found[4]
    assert db_state(labelled) == before


# -- image matching ------------------------------------------------------------------------


def test_images_match_by_rel_path_path_backslash_dot_and_unique_name(
    proj: Project, write: Write
) -> None:
    text = (
        "image,car\n"
        "./a.jpg,1\n"  # leading ./
        "sub\\b.jpg,1\n"  # backslashes
        "/data/other/c.png,0\n"  # absolute path
        "café 1.jpg,0\n"  # unicode and space
        "/data/x/dup.jpg,1\n"  # absolute path of an image whose rel_path is shared
    )
    summary = import_labels(proj, write("l.csv", text), "csv")
    assert summary.unknown_images == []
    assert cells(proj) == {(A, "car"): 1, (B, "car"): 1, (C, "car"): 0, (CAFE, "car"): 0,
                           (DUP_X, "car"): 1}  # fmt: skip


def test_bare_name_and_path_suffix_match_when_unique(proj: Project, write: Write) -> None:
    text = "image,car\nb.jpg,1\nstreet/sub/b.jpg,1\nother/c.png,0\n"
    import_labels(proj, write("l.csv", text), "csv")
    assert cells(proj) == {(B, "car"): 1, (C, "car"): 0}


def test_decomposed_unicode_matches_composed_name(proj: Project, write: Write) -> None:
    nfd = unicodedata.normalize("NFD", "café 1.jpg")
    assert nfd != "café 1.jpg"
    import_labels(proj, write("l.csv", f"image,car\n{nfd},1\n"), "csv")
    assert cells(proj) == {(CAFE, "car"): 1}


def test_ambiguous_bare_name_lists_candidates(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.csv", "image,car\na.jpg,1\ndup.jpg,1\n"), "csv")
    (problem,) = problems(exc)
    assert problem.startswith("line 3: image name 'dup.jpg' is ambiguous")
    assert "/data/x/dup.jpg" in problem and "/data/y/dup.jpg" in problem
    assert db_state(labelled) == before


def test_unknown_images_are_reported_and_skipped(proj: Project, write: Write) -> None:
    text = "image,car\nmissing.jpg,1\na.jpg,1\nother/none.png,0\nmissing.jpg,1\n"
    summary = import_labels(proj, write("l.csv", text), "csv")
    assert summary.unknown_images == [(2, "missing.jpg"), (4, "other/none.png")]
    assert summary.rows_skipped == 3
    assert summary.rows_read == 4
    assert cells(proj) == {(A, "car"): 1}


def test_unknown_images_with_strict_are_errors(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as exc:
        import_labels(
            labelled, write("l.csv", "image,car\na.jpg,1\nmissing.jpg,1\n"), "csv",
            strict_images=True,
        )  # fmt: skip
    assert problems(exc) == ["line 3: image 'missing.jpg' is not in this project"]
    assert db_state(labelled) == before


def test_empty_image_name_is_an_error(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", "image,car\n,1\n"), "csv")
    assert problems(exc) == ["line 2: no image name"]


# -- duplicates ---------------------------------------------------------------------------


def test_duplicate_rows_with_the_same_values_are_fine(proj: Project, write: Write) -> None:
    text = "image,car,bus\na.jpg,1,0\n/data/street/a.jpg,1,0\n"
    summary = import_labels(proj, write("l.csv", text), "csv")
    assert cells(proj) == {(A, "car"): 1, (A, "bus"): 0}
    assert summary.images_matched == 1


def test_conflicting_duplicate_rows_name_both_lines(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    text = "image,car,bus\na.jpg,1,0\nc.png,1,1\n./a.jpg,0,\n"
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.csv", text), "csv")
    assert problems(exc) == [
        "line 4: image './a.jpg' is also on line 2 with different values: "
        "'car' is 1 there, 0 here; 'bus' is 0 there, unknown here"
    ]
    assert db_state(labelled) == before


# -- header -------------------------------------------------------------------------------


def test_first_column_must_be_image(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.csv", "file,car\na.jpg,1\n"), "csv")
    (problem,) = problems(exc)
    assert problem.startswith("line 1: the first column must be 'image', not 'file'")
    assert db_state(labelled) == before


def test_image_column_name_is_case_insensitive(proj: Project, write: Write) -> None:
    import_labels(proj, write("l.csv", "Image,car\na.jpg,1\n"), "csv")
    assert cells(proj) == {(A, "car"): 1}


def test_duplicate_header_columns(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.csv", "image,car,bus,Car\na.jpg,1,0,1\n"), "csv")
    assert problems(exc) == ["line 1: columns 2 ('car') and 4 ('Car') name the same task"]
    assert db_state(labelled) == before


def test_column_without_name(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", "image,car,\na.jpg,1,\n"), "csv")
    assert problems(exc) == ["line 1: column 3 has no task name"]


def test_header_only_imports_nothing(proj: Project, write: Write) -> None:
    summary = import_labels(proj, write("l.csv", "image,car,bus\n"), "csv")
    assert summary.rows_read == 0
    assert cells(proj) == {}


# -- tasks --------------------------------------------------------------------------------


def test_unknown_task_is_an_error(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.csv", "image,car,truck,bus\na.jpg,1,0,0\n"), "csv")
    assert problems(exc) == ["line 1: unknown task 'truck'; use --create-tasks to add it"]
    assert db_state(labelled) == before


def test_create_tasks_adds_them_at_the_end_with_palette_colours(
    proj: Project, write: Write
) -> None:
    text = "image,truck,car,van\na.jpg,1,0,\nc.png,,1,0\n"
    summary = import_labels(proj, write("l.csv", text), "csv", create_tasks=True)
    assert summary.tasks_created == ["truck", "van"]
    tasks = list_tasks(proj)
    assert [t.name for t in tasks] == ["car", "bus", "person", "truck", "van"]
    assert [t.colour for t in tasks] == [palette_colour(i) for i in range(5)]
    assert cells(proj) == {(A, "truck"): 1, (A, "car"): 0, (C, "car"): 1, (C, "van"): 0}


def test_created_tasks_are_rolled_back_with_a_bad_file(proj: Project, write: Write) -> None:
    before = db_state(proj)
    with pytest.raises(LabelFileError):
        import_labels(proj, write("l.csv", "image,truck\na.jpg,maybe\n"), "csv", create_tasks=True)
    assert db_state(proj) == before


def test_invalid_new_task_name_is_an_error(proj: Project, write: Write) -> None:
    long_name = "x" * 201
    with pytest.raises(LabelFileError) as exc:
        import_labels(
            proj, write("l.csv", f"image,{long_name}\na.jpg,1\n"), "csv", create_tasks=True
        )
    (problem,) = problems(exc)
    assert problem.startswith("line 1: cannot create task 'xxx")
    assert "longer than 200" in problem


def test_task_names_match_ignoring_case_and_spaces(proj: Project, write: Write) -> None:
    import_labels(proj, write("l.csv", "image, CAR ,Bus\na.jpg,1,0\n"), "csv")
    assert cells(proj) == {(A, "car"): 1, (A, "bus"): 0}


def test_archived_tasks_match_by_name(labelled: Project, write: Write) -> None:
    summary = import_labels(labelled, write("l.csv", "image,old\na.jpg,0\n"), "csv")
    assert summary.tasks_created == []
    assert cells(labelled)[(A, "old")] == 0


# -- unknown never erases -----------------------------------------------------------------


def test_unknown_in_file_keeps_known_labels(labelled: Project, write: Write) -> None:
    before = cells(labelled)
    summary = import_labels(labelled, write("l.csv", "image,car,bus\na.jpg,,?\n"), "csv")
    assert summary.cells_set == 0
    assert summary.cells_unknown == 2
    assert cells(labelled) == before


def test_overwrite_with_unknown_clears(labelled: Project, write: Write) -> None:
    before = cells(labelled)
    summary = import_labels(
        labelled, write("l.csv", "image,car,bus\na.jpg,,1\n"), "csv", overwrite_with_unknown=True
    )
    assert summary.cells_set == 2
    assert summary.cells_cleared == 1
    expected = dict(before)
    del expected[(A, "car")]
    expected[(A, "bus")] = 1
    assert cells(labelled) == expected
    cleared = [e for e in history(labelled) if e.new is None]
    assert len(cleared) == 1 and cleared[0].old == 1 and cleared[0].source == "import"


# -- export -------------------------------------------------------------------------------


def test_export_writes_rel_paths_display_order_and_values(
    labelled: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    summary = export_labels(labelled, out, "csv")
    assert out.read_bytes().decode("utf-8") == (
        "image,car,bus,person\n"
        "a.jpg,1,0,\n"
        "c.png,,,\n"
        "café 1.jpg,0,,\n"
        "/data/x/dup.jpg,,1,\n"
        "/data/y/dup.jpg,,0,\n"
        "sub/b.jpg,,,1\n"
    )
    assert (summary.images, summary.tasks, summary.cells) == (6, 3, 6)
    assert json.loads(json.dumps(dataclasses.asdict(summary)))["cells"] == 6


def test_export_include_archived(labelled: Project, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    summary = export_labels(labelled, out, "csv", include_archived=True)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "image,car,bus,person,old"
    assert lines[2] == "c.png,,,,1"
    assert summary.tasks == 4 and summary.cells == 7


def test_export_quotes_awkward_task_names(
    new_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = new_project(tasks=["a, b", 'say "hi"', "naïve one"])
    set_by_name(project, {(A, "a, b"): 1, (A, 'say "hi"'): 0, (A, "naïve one"): 1})
    out = tmp_path / "out.csv"
    export_labels(project, out, "csv")
    assert out.read_text(encoding="utf-8").splitlines()[:2] == [
        'image,"a, b","say ""hi""",naïve one',
        "a.jpg,1,0,1",
    ]
    fresh = new_project(tasks=())
    import_labels(fresh, out, "csv", create_tasks=True)
    assert cells(fresh) == cells(project)
    assert [t.name for t in list_tasks(fresh)] == ["a, b", 'say "hi"', "naïve one"]


def test_round_trip_into_fresh_project(
    labelled: Project, new_project: Callable[..., Project], tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    export_labels(labelled, out, "csv", include_archived=True)
    fresh = new_project(tasks=())
    summary = import_labels(fresh, out, "csv", create_tasks=True)
    assert cells(fresh) == cells(labelled)
    assert summary.tasks_created == ["car", "bus", "person", "old"]
    assert summary.unknown_images == []
