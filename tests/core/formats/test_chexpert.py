"""CheXpert-style CSV: Path, metadata columns, 1.0 / 0.0 / -1.0 / empty, uncertain policies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import LabelFileError
from core.formats import export_labels, import_labels
from core.project import Project
from core.tasks import list_tasks
from tests.core.formats.conftest import A, B, C, Write, cells, db_state

FINDINGS = ("No Finding", "Edema", "Pleural Effusion")
STUDY = "/data/CheXpert-v1.0-small"
XRAYS = (
    (f"{STUDY}/train/patient00001/study1/view1_frontal.jpg", STUDY),
    (f"{STUDY}/train/patient00002/study2/view1_frontal.jpg", STUDY),
    (f"{STUDY}/train/patient00002/study2/view2_lateral.jpg", STUDY),
)
P1, P2F, P2L = (path for path, _ in XRAYS)
CHEXPERT = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Edema,Pleural Effusion\n"
    "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,\n"
    "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,-1.0,0.0\n"
    "CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg,Female,87,Lateral,,,1,-1\n"
)


def problems(exc: pytest.ExceptionInfo[LabelFileError]) -> list[str]:
    return exc.value.problems


@pytest.fixture
def xray(new_project: Callable[..., Project]) -> Project:
    return new_project(tasks=FINDINGS, images=XRAYS)


@pytest.mark.parametrize(
    ("policy", "uncertain_value"), [("unknown", None), ("present", 1), ("absent", 0)]
)
def test_uncertain_policies(
    xray: Project, write: Write, policy: str, uncertain_value: int | None
) -> None:
    summary = import_labels(xray, write("train.csv", CHEXPERT), "chexpert", uncertain=policy)
    expected: dict[tuple[str, str], int | None] = {
        (P1, "No Finding"): 1,
        (P2F, "Edema"): uncertain_value,
        (P2F, "Pleural Effusion"): 0,
        (P2L, "Edema"): 1,
        (P2L, "Pleural Effusion"): uncertain_value,
    }
    assert cells(xray) == {k: v for k, v in expected.items() if v is not None}
    assert summary.uncertain == 2
    assert summary.uncertain_policy == policy
    assert summary.ignored_columns == ["Sex", "Age", "Frontal/Lateral", "AP/PA"]
    assert summary.unknown_images == []
    assert summary.rows_read == 3


def test_uncertain_under_u_ignore_keeps_existing_labels(xray: Project, write: Write) -> None:
    import_labels(xray, write("a.csv", CHEXPERT), "chexpert", uncertain="absent")
    import_labels(xray, write("b.csv", CHEXPERT), "chexpert")  # U-Ignore: -1 is unknown
    assert cells(xray)[(P2F, "Edema")] == 0
    import_labels(xray, write("c.csv", CHEXPERT), "chexpert", overwrite_with_unknown=True)
    assert (P2F, "Edema") not in cells(xray)


def test_path_relative_to_another_folder_matches_by_suffix(
    new_project: Callable[..., Project], write: Write
) -> None:
    # The images were imported from the 'train' folder: their rel_path lacks the prefix.
    project = new_project(tasks=FINDINGS, images=[(p, f"{STUDY}/train") for p, _ in XRAYS])
    import_labels(project, write("train.csv", CHEXPERT), "chexpert")
    assert cells(project)[(P1, "No Finding")] == 1


@pytest.mark.parametrize("value", ["2.0", "yes", "0.5", "-2", "nan"])
def test_bad_value(xray: Project, write: Write, value: str) -> None:
    before = db_state(xray)
    text = CHEXPERT.replace("Frontal,AP,1.0,,", f"Frontal,AP,1.0,{value},")
    with pytest.raises(LabelFileError) as exc:
        import_labels(xray, write("train.csv", text), "chexpert")
    assert problems(exc) == [
        f"line 2: value {value!r} for task 'Edema' is not 1.0, 0.0, -1.0 or empty"
    ]
    assert db_state(xray) == before


def test_missing_path_column(xray: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(xray, write("train.csv", "Image,Edema\nx.jpg,1.0\n"), "chexpert")
    (problem,) = problems(exc)
    assert problem.startswith("line 1: no 'Path' column")


def test_duplicate_columns(xray: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(xray, write("t.csv", "Path,Edema,edema,path\nx.jpg,1,1,x\n"), "chexpert")
    assert problems(exc) == [
        "line 1: columns 2 ('Edema') and 3 ('edema') name the same task",
        "line 1: column 'path' appears twice (columns 1 and 4)",
    ]


def test_metadata_column_that_is_a_task_is_imported(
    new_project: Callable[..., Project], write: Write
) -> None:
    project = new_project(tasks=("Sex", "Edema"))
    summary = import_labels(
        project, write("t.csv", "Path,Sex,Age,Edema\na.jpg,1,50,0\n"), "chexpert"
    )
    assert summary.ignored_columns == ["Age"]
    assert cells(project) == {(A, "Sex"): 1, (A, "Edema"): 0}


def test_wrong_field_count_and_unknown_task(proj: Project, write: Write) -> None:
    before = db_state(proj)
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("t.csv", "Path,car,Edema\na.jpg,1.0\n"), "chexpert")
    assert problems(exc) == [
        "line 1: unknown task 'Edema'; use --create-tasks to add it",
        "line 2: 2 fields, but the header has 3 (comma-separated)",
    ]
    assert db_state(proj) == before


def test_export_values(labelled: Project, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    summary = export_labels(labelled, out, "chexpert")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Path,car,bus,person"
    assert lines[1] == "a.jpg,1.0,0.0,"
    assert lines[6] == "sub/b.jpg,,,1.0"
    assert (summary.images, summary.tasks, summary.cells) == (6, 3, 6)


def test_round_trip(labelled: Project, new_project: Callable[..., Project], tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    export_labels(labelled, out, "chexpert", include_archived=True)
    fresh = new_project(tasks=())
    import_labels(fresh, out, "chexpert", create_tasks=True)
    assert cells(fresh) == cells(labelled)
    assert [t.name for t in list_tasks(fresh)] == ["car", "bus", "person", "old"]
    assert cells(fresh)[(B, "person")] == 1
    assert cells(fresh)[(C, "old")] == 1
