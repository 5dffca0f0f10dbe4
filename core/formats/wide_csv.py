"""Wide CSV: one row per image, one column per task.

::

    image,car,pedestrian,stop sign
    street/0001.jpg,1,0,
    street/0002.jpg,?,1,0

The first column is ``image`` (any case). Values: ``1`` present, ``0``
absent, empty or ``?`` unknown; ``1.0`` and ``0.0`` are accepted too,
because pandas writes integer columns with gaps as floats. Nothing else is
guessed (``-1``, ``yes``, ``true`` are errors): codes differ between tools,
so they are mapped explicitly or not at all. Comma, semicolon or tab
separated (sniffed from the header), UTF-8 with or without a BOM.

Export writes the image's ``rel_path`` (its absolute path where several
images share a rel_path), tasks in display order, values ``1`` / ``0`` /
empty, comma-separated UTF-8 without a BOM, ``\\n`` line ends.
"""

from __future__ import annotations

import os
import re
from typing import TextIO

from core.formats.common import (
    Cell,
    ImportBuilder,
    LabelExportSummary,
    show_value,
    task_column,
)
from core.formats.reading import read_csv, wrong_field_counts
from core.formats.writing import ExportSnapshot, csv_rows
from core.labels import CellValue

IMAGE_COLUMN = "image"
_BINARY = re.compile(r"([01])(?:\.0*)?")
UNKNOWN_MARKS = ("", "?")


class BadValue(ValueError):
    pass


def parse_value(text: str) -> CellValue:
    value = text.strip()
    if value in UNKNOWN_MARKS:
        return None
    match = _BINARY.fullmatch(value)
    if match is None:
        raise BadValue(value)
    return int(match.group(1))


def read(path: str | os.PathLike[str], builder: ImportBuilder) -> None:
    table = read_csv(path, expected=(IMAGE_COLUMN,))
    header, line = table.header, table.header_line
    if header[0].lower() != IMAGE_COLUMN:
        builder.problem(
            line,
            f"the first column must be {IMAGE_COLUMN!r}, not {header[0]!r} "
            f"(a wide CSV has the header image,<task>,<task>,...; "
            f"read as {table.delimiter_name}-separated)",
        )
        builder.raise_problems()
    keys: list[int | None] = [None]
    first_column: dict[int, int] = {}
    for column in range(1, len(header)):
        keys.append(task_column(builder, header, column, line, first_column))
    for problem in wrong_field_counts(table):
        builder.problem(*problem)
    for row_line, fields in table.rows:
        builder.summary.rows_read += 1
        if len(fields) != len(header):
            continue
        values: list[tuple[int, CellValue]] = []
        bad = False
        for column in range(1, len(header)):
            column_key = keys[column]
            if column_key is None:
                continue
            try:
                values.append((column_key, parse_value(fields[column])))
            except BadValue as exc:
                builder.problem(
                    row_line,
                    f"value {str(exc)!r} for task {header[column]!r} is not 1, 0, ? or empty",
                )
                bad = True
        image_id = builder.image(fields[0], row_line)
        if image_id is None or bad:
            continue
        add_row(builder, image_id, fields[0], row_line, values)


def add_row(
    builder: ImportBuilder,
    image_id: int,
    image_name: str,
    line: int,
    values: list[tuple[int, CellValue]],
) -> None:
    """Record one row's cells; a conflict with an earlier row of the same image is a problem."""
    conflicts: dict[int, list[str]] = {}
    for key, value in values:
        earlier: Cell | None = builder.cell(image_id, key, value, line)
        if earlier is not None:
            conflicts.setdefault(earlier.line, []).append(
                f"{builder.tasks.name(key)!r} is {show_value(earlier.value)} there, "
                f"{show_value(value)} here"
            )
    for earlier_line, details in sorted(conflicts.items()):
        builder.problem(
            line,
            f"image {image_name!r} is also on line {earlier_line} with different values: "
            + "; ".join(details),
        )


def write(stream: TextIO, snapshot: ExportSnapshot, summary: LabelExportSummary) -> None:
    writerow = csv_rows(stream)
    writerow([IMAGE_COLUMN, *(t.name for t in snapshot.tasks)])
    names = snapshot.index.export_names()
    for image in snapshot.images:
        row = [names[image.id]]
        for task in snapshot.tasks:
            value = snapshot.value(image.id, task.id)
            row.append("" if value is None else str(value))
            summary.cells += value is not None
        writerow(row)
    summary.images = len(snapshot.images)
    summary.tasks = len(snapshot.tasks)
