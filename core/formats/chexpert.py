"""CheXpert-style CSV: a ``Path`` column, then one column per finding.

::

    Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Edema,Pleural Effusion
    train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,
    train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,-1.0,0.0

Values: ``1.0`` positive, ``0.0`` negative, ``-1.0`` uncertain, empty not
mentioned (unknown); ``1``, ``0`` and ``-1`` are accepted too. The
``uncertain`` policy maps -1: ``unknown`` (U-Ignore, the default),
``present`` (U-Ones) or ``absent`` (U-Zeros). The metadata columns ``Sex``,
``Age``, ``Frontal/Lateral`` and ``AP/PA`` are not tasks and are ignored,
unless the project has a task of that name.

Export writes ``Path`` (the rel_path, as the wide CSV does), then the tasks
in display order with ``1.0`` / ``0.0`` / empty.
"""

from __future__ import annotations

import os
import re
from typing import TextIO

from core.formats.common import ImportBuilder, LabelExportSummary, task_column
from core.formats.reading import read_csv, wrong_field_counts
from core.formats.wide_csv import add_row
from core.formats.writing import ExportSnapshot, csv_rows
from core.labels import CellValue

PATH_COLUMN = "Path"
METADATA_COLUMNS = ("Sex", "Age", "Frontal/Lateral", "AP/PA")
_CODE = re.compile(r"(-1|1|0)(?:\.0*)?")
POLICY_VALUES: dict[str, CellValue] = {"unknown": None, "present": 1, "absent": 0}


class BadValue(ValueError):
    pass


def parse_value(text: str) -> int | None:
    """1, 0, -1 (uncertain) or None (not mentioned)."""
    value = text.strip()
    if not value:
        return None
    match = _CODE.fullmatch(value)
    if match is None:
        raise BadValue(value)
    return int(match.group(1))


def read(path: str | os.PathLike[str], builder: ImportBuilder) -> None:
    table = read_csv(path, expected=(PATH_COLUMN,))
    header, line = table.header, table.header_line
    lowered = [h.lower() for h in header]
    if PATH_COLUMN.lower() not in lowered:
        builder.problem(
            line,
            f"no {PATH_COLUMN!r} column (header read as {table.delimiter_name}-separated: "
            f"{', '.join(repr(h) for h in header[:8])}{', ...' if len(header) > 8 else ''})",
        )
        builder.raise_problems()
    path_column = lowered.index(PATH_COLUMN.lower())
    metadata = {m.lower() for m in METADATA_COLUMNS}
    keys: list[int | None] = []
    first_column: dict[int, int] = {}
    for column, name in enumerate(header):
        if column == path_column:
            keys.append(None)
            continue
        if name.lower() == PATH_COLUMN.lower():
            builder.problem(
                line, f"column {name!r} appears twice (columns {path_column + 1} and {column + 1})"
            )
            keys.append(None)
            continue
        if name.lower() in metadata and builder.tasks.existing(name) is None:
            builder.summary.ignored_columns.append(name)
            keys.append(None)
            continue
        keys.append(task_column(builder, header, column, line, first_column))
    for problem in wrong_field_counts(table):
        builder.problem(*problem)
    policy = POLICY_VALUES[builder.options.uncertain]
    for row_line, fields in table.rows:
        builder.summary.rows_read += 1
        if len(fields) != len(header):
            continue
        values: list[tuple[int, CellValue]] = []
        bad = False
        uncertain = 0
        for column, column_key in enumerate(keys):
            if column_key is None:
                continue
            key = column_key
            try:
                code = parse_value(fields[column])
            except BadValue as exc:
                builder.problem(
                    row_line,
                    f"value {str(exc)!r} for task {header[column]!r} is not 1.0, 0.0, -1.0 "
                    "or empty",
                )
                bad = True
                continue
            if code == -1:
                uncertain += 1
                values.append((key, policy))
            else:
                values.append((key, code))
        image_id = builder.image(fields[path_column], row_line)
        if image_id is None or bad:
            continue
        builder.summary.uncertain += uncertain
        add_row(builder, image_id, fields[path_column], row_line, values)


def write(stream: TextIO, snapshot: ExportSnapshot, summary: LabelExportSummary) -> None:
    writerow = csv_rows(stream)
    writerow([PATH_COLUMN, *(t.name for t in snapshot.tasks)])
    names = snapshot.index.export_names()
    for image in snapshot.images:
        row = [names[image.id]]
        for task in snapshot.tasks:
            value = snapshot.value(image.id, task.id)
            row.append("" if value is None else f"{value}.0")
            summary.cells += value is not None
        writerow(row)
    summary.images = len(snapshot.images)
    summary.tasks = len(snapshot.tasks)
