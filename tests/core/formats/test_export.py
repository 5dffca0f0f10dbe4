"""Export writing: atomic replacement, clear errors for bad targets, every format."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pytest

from core.errors import UserError
from core.formats import FORMATS, LabelExportSummary, export_labels, import_labels
from core.formats import api as formats_api
from core.formats.writing import ExportSnapshot
from core.project import Project
from tests.core.formats.conftest import cells


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_folder_is_a_user_error(labelled: Project, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "no" / "such" / "out.csv"
    with pytest.raises(UserError, match=r"the folder .* does not exist"):
        export_labels(labelled, target, fmt)
    assert not (tmp_path / "no").exists()


def test_target_that_is_a_folder_is_a_user_error(labelled: Project, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="it is a folder"):
        export_labels(labelled, tmp_path, "csv")


def test_unknown_format(labelled: Project, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown label format 'xlsx'"):
        export_labels(labelled, tmp_path / "x.xlsx", "xlsx")


def test_failing_write_leaves_the_old_file_and_no_temporary(
    labelled: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old content\n", encoding="utf-8")

    def broken(stream: TextIO, snapshot: ExportSnapshot, summary: LabelExportSummary) -> None:
        stream.write("image,car\nhalf")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(formats_api._WRITERS, "csv", broken)
    with pytest.raises(UserError, match="No space left on device"):
        export_labels(labelled, target, "csv")
    assert target.read_text(encoding="utf-8") == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "proj0"]


def test_failing_write_without_old_file_leaves_nothing(
    labelled: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(stream: TextIO, snapshot: ExportSnapshot, summary: LabelExportSummary) -> None:
        stream.write("image,car\nhalf")
        raise RuntimeError("bug")

    monkeypatch.setitem(formats_api._WRITERS, "csv", broken)
    with pytest.raises(RuntimeError):
        export_labels(labelled, tmp_path / "out.csv", "csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj0"]


def test_export_replaces_an_existing_file_and_keeps_its_mode(
    labelled: Project, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")
    os.chmod(target, 0o640)
    export_labels(labelled, target, "csv")
    assert target.read_text(encoding="utf-8").startswith("image,car,bus,person\n")
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "proj0"]


def test_new_file_is_readable_by_others(labelled: Project, tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    export_labels(labelled, target, "json")
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_and_summaries_dump_as_json(
    labelled: Project, new_project: Callable[..., Project], tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"labels.{fmt}"
    summary = export_labels(labelled, out, fmt, include_archived=True)
    assert json.loads(json.dumps(dataclasses.asdict(summary)))["format"] == fmt
    assert summary.cells == 7
    assert out.read_bytes()[:3] != b"\xef\xbb\xbf"  # no BOM
    assert b"\r\n" not in out.read_bytes()
    fresh = new_project(tasks=())
    result = import_labels(fresh, out, fmt, create_tasks=True)
    assert cells(fresh) == cells(labelled)
    dumped = json.loads(json.dumps(dataclasses.asdict(result)))
    assert dumped["cells_set"] == 7
    assert dumped["unknown_images"] == []


def test_empty_project_exports(new_project: Callable[..., Project], tmp_path: Path) -> None:
    project = new_project(tasks=(), images=())
    for fmt in FORMATS:
        out = tmp_path / f"e.{fmt}"
        summary = export_labels(project, out, fmt)
        assert (summary.images, summary.tasks, summary.cells) == (0, 0, 0)
        assert import_labels(project, out, fmt).cells_set == 0
