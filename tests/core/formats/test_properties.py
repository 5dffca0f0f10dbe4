"""Property-based round trips: export, then import into a fresh project with the same images."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.db.models import Image, Label, Task
from core.errors import UserError
from core.formats import FORMATS, export_labels, import_labels
from core.labels import set_cells_in_session
from core.project import Project
from core.tasks import (
    add_tasks,
    archive_task,
    list_tasks,
    move_task,
    set_task_colour,
    validate_task_name,
)
from tests.core.formats.conftest import add_images, cells

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Letters, digits, punctuation, spaces and symbols from all of Unicode (no control
# characters or surrogates), plus the characters that CSV treats specially.
_CHARS = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
    st.sampled_from([",", '"', ";", " ", "?", "'", "é", "ß", "İ", "\u00a0"]),
)


def _valid_task(name: str) -> bool:
    try:
        return validate_task_name(name) == name
    except UserError:
        return False


task_names = st.lists(
    st.text(_CHARS, min_size=1, max_size=12).map(str.strip).filter(_valid_task),
    max_size=5,
    unique_by=lambda n: n.lower(),
)
image_names = st.lists(
    st.text(
        st.one_of(_CHARS, st.sampled_from(["\\", " "])).filter(lambda c: c != "/"),
        min_size=1,
        max_size=10,
    ).map(lambda stem: stem + ".jpg"),
    min_size=1,
    max_size=6,
    unique=True,
)
values = st.sampled_from([None, 0, 1])


def image_specs(names: list[str], subfolder: list[bool]) -> list[tuple[str, str]]:
    root = "/data/set"
    return [
        (f"{root}/{'sub dir/' if sub else ''}{name}", root)
        for name, sub in zip(names, subfolder, strict=True)
    ]


def set_matrix(
    project: Project,
    matrix: dict[tuple[str, str], tuple[int | None, str, datetime]],
) -> None:
    with project.transaction() as session:
        images = {p: i for p, i in session.execute(select(Image.path, Image.id))}
        tasks = {n: i for n, i in session.execute(select(Task.name, Task.id))}
        set_cells_in_session(
            session,
            [(images[p], tasks[t], v) for (p, t), (v, _, _) in matrix.items()],
            annotator="nobody",
            source="human",
            annotators={
                (images[p], tasks[t]): (who, at) for (p, t), (_, who, at) in matrix.items()
            },
        )


def full_labels(project: Project) -> set[tuple[Any, ...]]:
    with project.transaction() as session:
        rows = session.execute(
            select(Image.path, Task.name, Label.value, Label.annotator, Label.updated_at)
            .join(Image, Image.id == Label.image_id)
            .join(Task, Task.id == Label.task_id)
        )
        return {tuple(r) for r in rows}


@st.composite
def labelled_projects(
    draw: st.DrawFn, with_people: bool, names_from: st.SearchStrategy[list[str]] = image_names
) -> dict[str, Any]:
    tasks = draw(task_names)
    names = draw(names_from)
    subfolder = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    specs = image_specs(names, subfolder)
    people = st.text(_CHARS, min_size=1, max_size=8).filter(lambda s: bool(s.strip()))
    times = st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    )
    matrix: dict[tuple[str, str], tuple[int | None, str, datetime]] = {}
    for path, _ in specs:
        for task in tasks:
            value = draw(values)
            if value is not None:
                who = draw(people) if with_people else "tester"
                at = draw(times) if with_people else datetime(2024, 1, 1, tzinfo=UTC)
                matrix[(path, task)] = (value, who, at)
    order = draw(st.permutations(tasks))
    colours = draw(
        st.lists(
            st.one_of(st.none(), st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)),
            min_size=len(tasks),
            max_size=len(tasks),
        )
    )
    archived = draw(st.lists(st.booleans(), min_size=len(tasks), max_size=len(tasks)))
    return {
        "tasks": tasks,
        "specs": specs,
        "matrix": matrix,
        "order": order,
        "colours": colours,
        "archived": archived,
    }


def build(folder: Path, case: dict[str, Any], decorate: bool) -> Project:
    project = Project.create(folder, annotator="tester")
    add_tasks(project, case["tasks"])
    add_images(project, case["specs"])
    set_matrix(project, case["matrix"])
    if decorate:
        for index, name in enumerate(case["order"]):
            move_task(project, name, index)
        for name, colour, archived in zip(
            case["tasks"], case["colours"], case["archived"], strict=True
        ):
            set_task_colour(project, name, colour)
            if archived:
                archive_task(project, name)
    return project


@PROPERTY_SETTINGS
@given(case=labelled_projects(with_people=False))
def test_csv_round_trip(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = build(folder / "a", case, decorate=False)
        fresh = Project.create(folder / "b", annotator="tester")
        try:
            add_images(fresh, list(reversed(case["specs"])))
            out = folder / "labels.csv"
            exported = export_labels(source, out, "csv")
            summary = import_labels(fresh, out, "csv", create_tasks=True)
            assert summary.unknown_images == []
            assert summary.tasks_created == case["tasks"]
            assert cells(fresh) == cells(source)
            assert summary.cells_set == exported.cells == len(case["matrix"])
            # Importing the same file again changes nothing.
            again = import_labels(fresh, out, "csv")
            assert again.cells_set == 0
        finally:
            source.close()
            fresh.close()


@PROPERTY_SETTINGS
@given(case=labelled_projects(with_people=True))
def test_json_round_trip_is_lossless(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = build(folder / "a", case, decorate=True)
        fresh = Project.create(folder / "b", annotator="someone else")
        try:
            add_images(fresh, list(reversed(case["specs"])))
            out = folder / "labels.json"
            export_labels(source, out, "json", include_archived=True)
            summary = import_labels(fresh, out, "json", create_tasks=True)
            assert summary.unknown_images == []
            assert full_labels(fresh) == full_labels(source)

            def task_rows(p: Project) -> list[tuple[str, str | None, bool]]:
                return [(t.name, t.colour, t.archived) for t in list_tasks(p, True)]

            assert task_rows(fresh) == task_rows(source)
        finally:
            source.close()
            fresh.close()


@settings(parent=PROPERTY_SETTINGS, max_examples=30)
@given(case=labelled_projects(with_people=False), fmt=st.sampled_from(["openimages", "chexpert"]))
def test_other_formats_round_trip(case: dict[str, Any], fmt: str) -> None:
    _no_reserved_chexpert_tasks(case, fmt)
    source, imported = round_trip(case, fmt)  # (round_trip is defined below)
    assert imported == source


# -- awkward file names, rewritten files, overwriting ------------------------------------

# File names may hold what task names may not: line breaks, tabs, and spaces around them.
_NAME_CHARS = st.one_of(_CHARS, st.sampled_from(["\n", "\r", "\t", " ", "\\", ";", ","]))
awkward_image_names = st.lists(
    st.builds(
        lambda lead, stem, trail: f"{lead}{stem}.jpg{trail}",
        st.sampled_from(["", " ", "  "]),
        st.text(_NAME_CHARS.filter(lambda c: c != "/"), min_size=1, max_size=8),
        st.sampled_from(["", " ", "\t"]),
    ),
    min_size=1,
    max_size=5,
    unique=True,
)


def round_trip(
    case: dict[str, Any],
    fmt: str,
    rewrite: Any = None,
    prior: dict[tuple[str, str], int] | None = None,
    **options: Any,
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """Export ``case`` as ``fmt``, optionally rewrite the file, import it into a project
    with the same images (and tasks and ``prior`` labels, when given); both cells."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = build(folder / "a", case, decorate=False)
        fresh = Project.create(folder / "b", annotator="tester")
        try:
            add_images(fresh, list(reversed(case["specs"])))
            if prior is not None:
                add_tasks(fresh, case["tasks"])
                set_matrix(fresh, {k: (v, "earlier", datetime(2020, 1, 1, tzinfo=UTC))
                                   for k, v in prior.items()})  # fmt: skip
            out = folder / "labels.txt"
            export_labels(source, out, fmt)
            if rewrite is not None:
                out.write_bytes(rewrite(out.read_bytes()))
            summary = import_labels(fresh, out, fmt, create_tasks=prior is None, **options)
            assert summary.unknown_images == []
            return cells(source), cells(fresh)
        finally:
            source.close()
            fresh.close()


def _no_reserved_chexpert_tasks(case: dict[str, Any], fmt: str) -> None:
    if fmt == "chexpert":  # these column names are not tasks in a CheXpert file
        reserved = {"path", "sex", "age", "frontal/lateral", "ap/pa"}
        assume(not reserved.intersection(t.lower() for t in case["tasks"]))


@settings(parent=PROPERTY_SETTINGS, max_examples=20)
@given(
    case=labelled_projects(with_people=False, names_from=awkward_image_names),
    fmt=st.sampled_from(FORMATS),
)
def test_round_trip_with_line_breaks_tabs_and_spaces_in_file_names(
    case: dict[str, Any], fmt: str
) -> None:
    _no_reserved_chexpert_tasks(case, fmt)
    source, imported = round_trip(case, fmt)
    assert imported == source


def _rewritten(delimiter: str, line_end: str, encoding: str) -> Any:
    """The file as a spreadsheet program saves it again: another delimiter, other line
    ends (record ends only: line breaks inside quoted fields are kept), another encoding."""

    def rewrite(data: bytes) -> bytes:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
        writer.writerows(rows)
        return out.getvalue().encode(encoding)

    return rewrite


@settings(parent=PROPERTY_SETTINGS, max_examples=20)
@given(
    case=labelled_projects(with_people=False),
    fmt=st.sampled_from(["csv", "openimages", "chexpert"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
)
def test_csv_formats_survive_being_saved_again_by_a_spreadsheet(
    case: dict[str, Any], fmt: str, delimiter: str, line_end: str, encoding: str
) -> None:
    # Without a task, a wide file has a single column: its header holds no delimiter to
    # recognise (and the file no label to lose); such a file is read as comma-separated.
    assume(case["tasks"] or fmt == "openimages")
    _no_reserved_chexpert_tasks(case, fmt)
    source, imported = round_trip(case, fmt, _rewritten(delimiter, line_end, encoding))
    assert imported == source


@settings(parent=PROPERTY_SETTINGS, max_examples=20)
@given(
    case=labelled_projects(with_people=False),
    fmt=st.sampled_from(FORMATS),
    prior_values=st.lists(st.sampled_from([None, 0, 1]), min_size=30, max_size=30),
)
def test_overwrite_with_unknown_makes_the_file_win(
    case: dict[str, Any], fmt: str, prior_values: list[int | None]
) -> None:
    """Imported with overwrite_with_unknown into a project with other labels, the file
    decides every cell it describes, unknown included, and no other cell: all cells of
    the dense formats (a row per image, a column per task) and of JSON (every image and
    task listed); in Open Images, the cells of images and tasks that have a row."""
    _no_reserved_chexpert_tasks(case, fmt)
    keys = [(path, task) for path, _ in case["specs"] for task in case["tasks"]]
    prior = {k: v for k, v in zip(keys, prior_values, strict=False) if v is not None}
    source, imported = round_trip(case, fmt, prior=prior, overwrite_with_unknown=True)
    if fmt == "openimages":
        images = {path for path, _ in source}
        tasks = {task for _, task in source}
        described = {k for k in keys if k[0] in images and k[1] in tasks}
    else:
        described = set(keys)
    expected = {k: v for k, v in prior.items() if k not in described}
    expected.update(source)
    assert imported == expected
