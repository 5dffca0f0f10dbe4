"""Open Images image-level labels: ImageID,Source,LabelName,Confidence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import LabelFileError
from core.formats import export_labels, import_labels
from core.project import Project
from core.tasks import list_tasks
from tests.core.formats.conftest import (
    CAFE,
    DUP_X,
    DUP_Y,
    A,
    B,
    C,
    Write,
    cells,
    db_state,
)

HEADER = "ImageID,Source,LabelName,Confidence\n"


def problems(exc: pytest.ExceptionInfo[LabelFileError]) -> list[str]:
    return exc.value.problems


def test_import_by_stem(proj: Project, write: Write) -> None:
    text = HEADER + (
        "a,verification,car,1\n"
        "a,crowdsource-verification,bus,0\n"
        "b,verification,person,1.0\n"
        "café 1,human,car,0.0\n"
    )
    summary = import_labels(proj, write("oi.csv", text), "openimages")
    assert cells(proj) == {(A, "car"): 1, (A, "bus"): 0, (B, "person"): 1, (CAFE, "car"): 0}
    assert summary.rows_read == 4
    assert summary.images_matched == 3
    assert summary.cells_set == 4


def test_mids_become_task_names_with_create_tasks(proj: Project, write: Write) -> None:
    text = HEADER + "a,verification,/m/01g317,1\nc,verification,/m/0k4j,0\n"
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("oi.csv", text), "openimages")
    assert problems(exc) == [
        "line 2: unknown task '/m/01g317'; use --create-tasks to add it",
        "line 3: unknown task '/m/0k4j'; use --create-tasks to add it",
    ]
    summary = import_labels(proj, write("oi.csv", text), "openimages", create_tasks=True)
    assert summary.tasks_created == ["/m/01g317", "/m/0k4j"]
    assert cells(proj) == {(A, "/m/01g317"): 1, (C, "/m/0k4j"): 0}


def test_column_order_extra_columns_and_missing_source(proj: Project, write: Write) -> None:
    text = "Confidence,LabelName,ImageID,Extra\n1,car,a,x\n0,bus,a,y\n"
    summary = import_labels(proj, write("oi.csv", text), "openimages")
    assert summary.ignored_columns == ["Extra"]
    assert cells(proj) == {(A, "car"): 1, (A, "bus"): 0}


def test_missing_column(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as exc:
        import_labels(
            labelled, write("oi.csv", "ImageID,Source,LabelName\na,x,car\n"), "openimages"
        )
    (problem,) = problems(exc)
    assert problem.startswith("line 1: missing column Confidence")
    assert db_state(labelled) == before


def test_duplicate_column(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(
            proj, write("oi.csv", "ImageID,LabelName,Confidence,imageid\na,car,1,a\n"), "openimages"
        )
    assert problems(exc) == ["line 1: column 'imageid' appears twice (columns 1 and 4)"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.7", "line 3: confidence '0.7' is not 1 or 0 (fractional confidences are machine "
                "predictions, not labels)"),
        ("yes", "line 3: confidence 'yes' is not 1 or 0"),
        ("-1", "line 3: confidence '-1' is not 1 or 0"),
        ("", "line 3: confidence '' is not 1 or 0"),
    ],
)  # fmt: skip
def test_bad_confidence(labelled: Project, write: Write, value: str, message: str) -> None:
    before = db_state(labelled)
    text = HEADER + f"a,v,car,1\nb,v,car,{value}\n"
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("oi.csv", text), "openimages")
    assert problems(exc) == [message]
    assert db_state(labelled) == before


def test_empty_label_name(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("oi.csv", HEADER + "a,v,,1\n"), "openimages")
    assert problems(exc) == ["line 2: no LabelName"]


def test_ambiguous_stem(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("oi.csv", HEADER + "dup,v,car,1\n"), "openimages")
    (problem,) = problems(exc)
    assert problem.startswith("line 2: image name 'dup' is ambiguous: it matches 2 images")
    assert DUP_X in problem and DUP_Y in problem
    assert db_state(labelled) == before


def test_image_id_may_be_a_path(proj: Project, write: Write) -> None:
    text = HEADER + "/data/x/dup.jpg,v,car,1\nsub/b.jpg,v,car,0\n"
    import_labels(proj, write("oi.csv", text), "openimages")
    assert cells(proj) == {(DUP_X, "car"): 1, (B, "car"): 0}


def test_unknown_images_reported_once_with_first_line(proj: Project, write: Write) -> None:
    text = HEADER + "zzz,v,car,1\na,v,car,1\nzzz,v,bus,0\nyyy,v,bus,0\n"
    summary = import_labels(proj, write("oi.csv", text), "openimages")
    assert summary.unknown_images == [(2, "zzz"), (5, "yyy")]
    assert summary.rows_skipped == 3
    assert cells(proj) == {(A, "car"): 1}
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("oi.csv", text), "openimages", strict_images=True)
    assert problems(exc) == [
        "line 2: image 'zzz' is not in this project",
        "line 4: image 'zzz' is not in this project",
        "line 5: image 'yyy' is not in this project",
    ]


def test_duplicate_rows(labelled: Project, write: Write) -> None:
    same = HEADER + "a,v,car,1\na,other,car,1\n"
    import_labels(labelled, write("oi.csv", same), "openimages")
    before = db_state(labelled)
    conflicting = HEADER + "a,v,car,1\nb,v,car,0\na,v,car,0\n"
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("oi.csv", conflicting), "openimages")
    assert problems(exc) == ["line 4: image 'a' label 'car' has confidence 0 here but 1 on line 2"]
    assert db_state(labelled) == before


def test_missing_rows_keep_labels_unless_overwrite(labelled: Project, write: Write) -> None:
    before = cells(labelled)
    path = write("oi.csv", HEADER + "a,v,car,1\nc,v,person,0\n")
    summary = import_labels(labelled, path, "openimages")
    assert summary.cells_set == 1
    assert cells(labelled) == {**before, (C, "person"): 0}
    # With overwrite: for the file's images (a, c) and tasks (car, person), unlisted known
    # cells become unknown. a/bus is kept (bus is not in the file); b is not in the file.
    import_labels(labelled, write("oi2.csv", HEADER + "a,v,person,1\nc,v,car,0\n"), "openimages",
                  overwrite_with_unknown=True)  # fmt: skip
    after = cells(labelled)
    assert (A, "car") not in after
    assert (C, "person") not in after
    assert after[(A, "person")] == 1
    assert after[(C, "car")] == 0
    assert after[(A, "bus")] == 0
    assert after[(B, "person")] == 1
    assert after[(C, "old")] == 1


def test_export_rows(labelled: Project, tmp_path: Path) -> None:
    out = tmp_path / "oi.csv"
    summary = export_labels(labelled, out, "openimages")
    assert out.read_text(encoding="utf-8") == HEADER + (
        "/data/x/dup.jpg,mtlabel,bus,1\n"
        "/data/y/dup.jpg,mtlabel,bus,0\n"
        "a,mtlabel,car,1\n"
        "a,mtlabel,bus,0\n"
        "b,mtlabel,person,1\n"
        "café 1,mtlabel,car,0\n"
    )
    assert (summary.images, summary.tasks, summary.cells) == (5, 3, 6)


def test_round_trip(labelled: Project, new_project: Callable[..., Project], tmp_path: Path) -> None:
    out = tmp_path / "oi.csv"
    export_labels(labelled, out, "openimages", include_archived=True)
    fresh = new_project(tasks=())
    import_labels(fresh, out, "openimages", create_tasks=True)
    assert cells(fresh) == cells(labelled)
    assert {t.name for t in list_tasks(fresh)} == {"car", "bus", "person", "old"}
