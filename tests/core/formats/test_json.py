"""mtlabel JSON: lossless round trip, matching by content hash, structure errors with lines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.db.models import Image, Label, Task
from core.errors import LabelFileError
from core.formats import export_labels, import_labels
from core.labels import set_cells_in_session
from core.project import Project
from core.tasks import add_tasks, archive_task, list_tasks, move_task, set_task_colour
from tests.core.formats.conftest import (
    STANDARD_IMAGES,
    A,
    B,
    C,
    Write,
    add_images,
    cells,
    db_state,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def problems(exc: pytest.ExceptionInfo[LabelFileError]) -> list[str]:
    return exc.value.problems


def full_labels(project: Project) -> set[tuple[str, str, int, str, datetime]]:
    with project.transaction() as session:
        rows = session.execute(
            select(Image.path, Task.name, Label.value, Label.annotator, Label.updated_at)
            .join(Image, Image.id == Label.image_id)
            .join(Task, Task.id == Label.task_id)
        )
        return {tuple(r) for r in rows}  # type: ignore[misc]


def task_rows(project: Project) -> list[tuple[str, str | None, bool]]:
    return [(t.name, t.colour, t.archived) for t in list_tasks(project, include_archived=True)]


def set_with_who(project: Project, values: list[tuple[str, str, int, str, datetime]]) -> None:
    with project.transaction() as session:
        images = {p: i for p, i in session.execute(select(Image.path, Image.id))}
        tasks = {n: i for n, i in session.execute(select(Task.name, Task.id))}
        set_cells_in_session(
            session,
            [(images[p], tasks[t], v) for p, t, v, _, _ in values],
            annotator="x",
            source="human",
            annotators={(images[p], tasks[t]): (who, at) for p, t, _, who, at in values},
        )


@pytest.fixture
def rich(new_project: Callable[..., Project]) -> Project:
    project = new_project(tasks=("car", "bus", "person"))
    add_tasks(project, ["stop sign", "old"])
    move_task(project, "person", 0)
    set_task_colour(project, "bus", "#123abc")
    set_task_colour(project, "stop sign", None)
    archive_task(project, "old")
    set_with_who(
        project,
        [
            (A, "car", 1, "alice", T0),
            (A, "bus", 0, "bob", T0 + timedelta(minutes=1)),
            (B, "person", 1, "alice", T0 + timedelta(days=3, microseconds=7)),
            (C, "stop sign", 0, "carol", T0 - timedelta(days=400)),
            (C, "old", 1, "dave", T0),
        ],
    )
    return project


def fresh_with_images(new_project: Callable[..., Project]) -> Project:
    """The same images inserted in reverse order (so their ids differ), no tasks."""
    return new_project(tasks=(), images=list(reversed(STANDARD_IMAGES)))


def test_lossless_round_trip(
    rich: Project, new_project: Callable[..., Project], tmp_path: Path
) -> None:
    out = tmp_path / "labels.json"
    summary = export_labels(rich, out, "json", include_archived=True)
    assert (summary.images, summary.tasks, summary.cells) == (6, 5, 5)
    fresh = fresh_with_images(new_project)
    result = import_labels(fresh, out, "json", create_tasks=True)
    assert result.tasks_created == ["person", "car", "bus", "stop sign", "old"]
    assert task_rows(fresh) == task_rows(rich)
    assert task_rows(fresh) == [
        ("person", "#e15759", False),
        ("car", "#4e79a7", False),
        ("bus", "#123abc", False),
        ("stop sign", None, False),
        ("old", "#59a14f", True),
    ]
    assert full_labels(fresh) == full_labels(rich)
    assert result.cells_set == 5


def test_export_is_one_entry_per_line_and_valid_json(rich: Project, tmp_path: Path) -> None:
    out = tmp_path / "labels.json"
    export_labels(rich, out, "json")
    text = out.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == "mtlabel-labels" and data["version"] == 1
    assert [t["name"] for t in data["tasks"]] == ["person", "car", "bus", "stop sign"]
    assert data["tasks"][0] == {"name": "person", "position": 0, "colour": "#e15759",
                                "archived": False}  # fmt: skip
    first = data["labels"][0]
    assert first == {"image": 0, "task": "car", "value": 1, "annotator": "alice",
                     "time": "2024-05-01T12:00:00.123456Z"}  # fmt: skip
    assert data["images"][0]["path"] == A
    assert len(data["labels"]) == 4  # the archived task is left out
    # {, format, version, exported_at; tasks; images; labels; }
    assert text.count("\n") == 4 + (2 + 4) + (2 + 6) + (2 + 4) + 1


def test_images_match_by_content_hash_when_moved(
    rich: Project, new_project: Callable[..., Project], tmp_path: Path
) -> None:
    out = tmp_path / "labels.json"
    export_labels(rich, out, "json")
    moved = new_project(tasks=("person", "car", "bus", "stop sign"), images=[])
    # Same content (hash), other place.
    ids = add_images(moved, [(p.replace("/data", "/mnt/new"), r.replace("/data", "/mnt/new"))
                             for p, r in STANDARD_IMAGES])  # fmt: skip
    with moved.transaction() as session:
        for path, image_id in ids.items():
            image = session.get(Image, image_id)
            assert image is not None
            old_path = path.replace("/mnt/new", "/data")
            image.content_hash = hashlib.sha256(old_path.encode()).hexdigest()
    result = import_labels(moved, out, "json")
    assert result.unknown_images == []
    assert cells(moved)[(A.replace("/data", "/mnt/new"), "car")] == 1
    assert len(cells(moved)) == 4


def test_existing_tasks_keep_their_order_and_colour(
    rich: Project, new_project: Callable[..., Project], tmp_path: Path
) -> None:
    out = tmp_path / "labels.json"
    export_labels(rich, out, "json")
    other = new_project(tasks=("bus", "car", "person", "stop sign"))
    import_labels(other, out, "json")
    assert [t.name for t in list_tasks(other)] == ["bus", "car", "person", "stop sign"]
    assert list_tasks(other)[0].colour == "#4e79a7"
    assert full_labels(other) == {r for r in full_labels(rich) if r[1] != "old"}


def doc(**parts: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": "mtlabel-labels",
        "version": 1,
        "tasks": [{"name": "car"}, {"name": "bus"}],
        "images": [{"rel_path": "a.jpg"}, {"path": "/data/other/c.png"}],
        "labels": [
            {"image": 0, "task": "car", "value": 1},
            {"image": 1, "task": "bus", "value": 0},
        ],
    }
    base.update(parts)
    return base


def dump(data: dict[str, Any]) -> str:
    """One list entry per line, as the exporter writes them."""
    lines = ["{"]
    keys = list(data)
    for n, key in enumerate(keys):
        value = data[key]
        end = "," if n < len(keys) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f"  {json.dumps(key)}: [")
            lines += [f"    {json.dumps(v)}" + ("," if i < len(value) - 1 else "")
                      for i, v in enumerate(value)]  # fmt: skip
            lines.append("  ]" + end)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_minimal_document_imports(proj: Project, write: Write) -> None:
    summary = import_labels(proj, write("l.json", dump(doc())), "json")
    assert cells(proj) == {(A, "car"): 1, (C, "bus"): 0}
    assert summary.rows_read == 2
    assert summary.images_matched == 2


def test_annotator_and_time_default_to_importer_and_now(proj: Project, write: Write) -> None:
    import_labels(proj, write("l.json", dump(doc())), "json")
    rows = full_labels(proj)
    assert {r[3] for r in rows} == {"tester"}
    assert all(abs((r[4] - datetime.now(UTC)).total_seconds()) < 60 for r in rows)


def test_label_image_by_content_hash(proj: Project, write: Write) -> None:
    digest = hashlib.sha256(B.encode()).hexdigest()
    data = doc(images=[], labels=[{"image": digest, "task": "car", "value": 1,
                                   "time": "2024-01-02T03:04:05+02:00"}])  # fmt: skip
    import_labels(proj, write("l.json", dump(data)), "json")
    (row,) = full_labels(proj)
    assert row[:3] == (B, "car", 1)
    assert row[4] == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_syntax_error_gives_line_and_column(proj: Project, write: Write) -> None:
    text = dump(doc()).replace('"value": 0}', '"value": 0,}')
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.json", text), "json")
    (problem,) = problems(exc)
    assert problem.startswith("line 14, column 44: ")
    assert "not valid JSON" in problem


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([1, 2], ["line 1: the file holds a list, not an mtlabel label file (an object with "
                  "format, version, tasks, images and labels)"]),
        (doc(format="other"), ["line 2: format: not an mtlabel label file: format is 'other', "
                               "expected 'mtlabel-labels'"]),
        (doc(version=2), ["line 3: version: written by a newer mtlabel (label file version 2; "
                          "this mtlabel reads version 1): upgrade mtlabel to import it"]),
        (doc(version="1"), ["line 3: version: version must be a positive whole number, not '1'"]),
        (doc(labels={"a": 1}), ["line 12: labels: must be a list, not an object"]),
    ],
)  # fmt: skip
def test_structure_errors(labelled: Project, write: Write, data: Any, expected: list[str]) -> None:
    before = db_state(labelled)
    text = dump(data) if isinstance(data, dict) else json.dumps(data)
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.json", text), "json")
    assert problems(exc) == expected
    assert db_state(labelled) == before


def test_entry_errors_name_their_lines(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    data = doc(
        tasks=[{"name": "car", "colour": "red"}, {"name": "bus", "archived": "no"}, "x"],
        images=[{"rel_path": "a.jpg"}, {"width": 3}, {"rel_path": "dup.jpg"}],
        labels=[
            {"image": 0, "task": "car", "value": "yes"},
            {"image": 7, "task": "car", "value": 1},
            {"image": 0, "task": "car", "value": 1, "time": "yesterday"},
            {"image": 0, "task": "bus", "value": True},
            {"image": 0, "task": 5, "value": 1},
            {"image": 0, "task": "bus"},
            {"task": "bus", "value": 1},
            {"image": 0, "task": "person", "value": 1, "annotator": ""},
        ],
    )
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.json", dump(data)), "json")
    assert problems(exc) == [
        "line 5: tasks[0].colour: colour 'red' is not of the form #rrggbb",
        "line 6: tasks[1].archived: archived must be true or false, not 'no'",
        "line 7: tasks[2]: a task must be an object, not text ('x')",
        "line 11: images[1]: an image needs a content_hash, path, rel_path or name",
        "line 12: image name 'dup.jpg' is ambiguous: it matches 2 images (/data/x/dup.jpg, "
        "/data/y/dup.jpg); write the path relative to the imported folder, or the absolute path",
        "line 15: labels[0].value: value 'yes' is not 1, 0 or null",
        "line 16: labels[1].image: image 7 is not an index into images (0 to 2)",
        "line 17: labels[2].time: time 'yesterday' is not an ISO 8601 date and time "
        "(e.g. 2024-05-01T12:00:00Z)",
        "line 18: labels[3].value: value True is not 1, 0 or null",
        "line 19: labels[4]: a label needs a task name (text)",
        "line 20: labels[5]: a label needs a value: 1, 0 or null",
        "line 21: labels[6]: a label needs an image: an index into images, or a content hash",
        "line 22: labels[7].annotator: annotator must be 1 to 200 characters, not ''",
    ]
    assert db_state(labelled) == before


def test_conflicting_labels_name_both_entries(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    data = doc(labels=[
        {"image": 0, "task": "car", "value": 1},
        {"image": 1, "task": "car", "value": 1},
        {"image": 0, "task": "car", "value": 1},
        {"image": 0, "task": "car", "value": 0},
    ])  # fmt: skip
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.json", dump(data)), "json")
    assert problems(exc) == [
        "line 16: labels[3]: task 'car' of this image is 0 here but 1 in labels[0] (line 13)"
    ]
    assert db_state(labelled) == before


def test_a_key_given_twice_in_one_object_is_refused(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    text = dump(doc(labels=[{"image": 0, "task": "car", "value": 1}]))
    text = text.replace('"value": 1', '"value": 1,\n      "value": 0')
    assert text.count('"value"') == 2
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("l.json", text), "json")
    lines = text.splitlines()
    line = next(n for n, t in enumerate(lines, 1) if t.lstrip().startswith('"value": 0'))
    assert line > 1
    assert problems(exc) == [
        f"line {line}: an object holds the key 'value' twice; which of the two values is "
        "meant is unclear"
    ]
    assert db_state(labelled) == before
    # The top level too: a second "labels" list would silently replace the first.
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, write("m.json", '{"labels": [], "labels": []}'), "json")
    assert problems(exc) == [
        "line 1: an object holds the key 'labels' twice; which of the two values is meant "
        "is unclear"
    ]


def test_duplicate_task_entries(proj: Project, write: Write) -> None:
    data = doc(tasks=[{"name": "car"}, {"name": "CAR"}])
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.json", dump(data)), "json")
    assert problems(exc) == ["line 6: tasks[1]: task 'CAR' is listed twice (also tasks[0], line 5)"]


def test_unknown_tasks_need_create_tasks(proj: Project, write: Write) -> None:
    data = doc(tasks=[{"name": "car"}, {"name": "truck"}],
               labels=[{"image": 0, "task": "van", "value": 1}])  # fmt: skip
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.json", dump(data)), "json")
    assert problems(exc) == [
        "line 6: unknown task 'truck'; use --create-tasks to add it",
        "line 13: unknown task 'van'; use --create-tasks to add it",
    ]
    summary = import_labels(proj, write("l.json", dump(data)), "json", create_tasks=True)
    assert summary.tasks_created == ["truck", "van"]


def test_unknown_images_reported_with_lines(proj: Project, write: Write) -> None:
    data = doc(
        images=[{"rel_path": "a.jpg"}, {"path": "/else/where.jpg"}, {"content_hash": "ab" * 32}],
        labels=[
            {"image": 0, "task": "car", "value": 1},
            {"image": 1, "task": "car", "value": 1},
            {"image": 2, "task": "car", "value": 1},
            {"image": "cd" * 32, "task": "car", "value": 1},
        ],
    )
    summary = import_labels(proj, write("l.json", dump(data)), "json")
    assert summary.unknown_images == [(10, "/else/where.jpg"), (11, "ab" * 32), (17, "cd" * 32)]
    assert summary.rows_skipped == 3
    assert cells(proj) == {(A, "car"): 1}
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.json", dump(data)), "json", strict_images=True)
    assert problems(exc) == [
        "line 10: image '/else/where.jpg' is not in this project",
        f"line 11: image '{'ab' * 32}' is not in this project",
        f"line 17: image '{'cd' * 32}' is not in this project",
    ]


def test_null_values_and_unlisted_cells_with_overwrite(labelled: Project, write: Write) -> None:
    before = cells(labelled)
    data = doc(
        tasks=[{"name": "car"}, {"name": "person"}],
        images=[{"rel_path": "a.jpg"}, {"rel_path": "sub/b.jpg"}],
        labels=[{"image": 0, "task": "car", "value": None}],
    )
    summary = import_labels(labelled, write("l.json", dump(data)), "json")
    assert cells(labelled) == before
    assert summary.cells_unknown == 1
    summary = import_labels(
        labelled, write("l.json", dump(data)), "json", overwrite_with_unknown=True
    )
    after = cells(labelled)
    # a/car (null) and b/person (not listed) are cleared; a/bus stays (bus not in the file).
    assert (A, "car") not in after and (B, "person") not in after
    assert after[(A, "bus")] == 0
    assert summary.cells_cleared == 2
