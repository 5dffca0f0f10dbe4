"""Import and export of label files: the entry points the window and the command line call."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TextIO

from core.errors import UserError
from core.formats import chexpert, json_format, openimages, wide_csv
from core.formats.common import (
    UNCERTAIN_POLICIES,
    ImportBuilder,
    ImportOptions,
    LabelExportSummary,
    LabelImportSummary,
    load_snapshot,
)
from core.formats.writing import ExportSnapshot, check_target, write_atomically
from core.formats.writing import load_snapshot as load_export_snapshot
from core.project import Project

FORMATS = ("csv", "openimages", "chexpert", "json")

Reader = Callable[[str | os.PathLike[str], ImportBuilder], None]
Writer = Callable[[TextIO, ExportSnapshot, LabelExportSummary], None]

_READERS: dict[str, Reader] = {
    "csv": wide_csv.read,
    "openimages": openimages.read,
    "chexpert": chexpert.read,
    "json": json_format.read,
}
_WRITERS: dict[str, Writer] = {
    "csv": wide_csv.write,
    "openimages": openimages.write,
    "chexpert": chexpert.write,
    "json": json_format.write,
}
# Formats where a cell the file does not list is unknown (not a row with an empty value).
_LISTS_KNOWN_CELLS_ONLY = frozenset({"openimages", "json"})


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UserError(f"unknown label format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def import_labels(
    project: Project,
    path: str | os.PathLike[str],
    fmt: str,
    *,
    create_tasks: bool = False,
    uncertain: str = "unknown",
    overwrite_with_unknown: bool = False,
    strict_images: bool = False,
) -> LabelImportSummary:
    """Read a label file and apply it in one transaction: all of it, or nothing.

    Raises LabelFileError (a UserError) listing every problem with its line when
    the file cannot be read or has any error; the project is then unchanged.
    Unknown cells in the file never erase a known label unless
    ``overwrite_with_unknown``. Images not in the project are skipped and listed
    in the summary, or are errors with ``strict_images``. ``uncertain`` maps
    CheXpert's -1: "unknown" (U-Ignore), "present" (U-Ones), "absent" (U-Zeros).
    """
    _check_format(fmt)
    if uncertain not in UNCERTAIN_POLICIES:
        raise UserError(
            f"unknown uncertain policy {uncertain!r}; use one of {', '.join(UNCERTAIN_POLICIES)}"
        )
    options = ImportOptions(
        create_tasks=create_tasks,
        uncertain=uncertain,
        overwrite_with_unknown=overwrite_with_unknown,
        strict_images=strict_images,
    )
    index, resolver = load_snapshot(project)
    builder = ImportBuilder(
        os.fspath(path),
        fmt,
        index,
        resolver,
        options,
        missing_means_unknown=fmt in _LISTS_KNOWN_CELLS_ONLY,
    )
    _READERS[fmt](path, builder)
    return builder.apply(project)


def export_labels(
    project: Project,
    path: str | os.PathLike[str],
    fmt: str,
    *,
    include_archived: bool = False,
) -> LabelExportSummary:
    """Write the project's labels to ``path`` atomically (the old file or the new, never half).

    Raises UserError when the folder does not exist or the file cannot be written.
    Archived tasks are left out unless ``include_archived``.
    """
    _check_format(fmt)
    summary = LabelExportSummary(path=os.fspath(path), format=fmt)
    check_target(path)  # before reading the project, so that a typo fails fast
    snapshot = load_export_snapshot(project, include_archived)
    write_atomically(path, lambda stream: _WRITERS[fmt](stream, snapshot, summary))
    return summary
