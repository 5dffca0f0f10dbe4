"""Open Images image-level labels: one row per known cell.

::

    ImageID,Source,LabelName,Confidence
    000002b66c9c498e,verification,/m/014j1m,0
    000002b66c9c498e,verification,/m/014sv8,1

``Confidence`` 1 is present, 0 absent (``1.0`` / ``0.0`` accepted); a label
not listed for an image is unknown. Fractional confidences (machine-generated
labels) are refused: they are predictions, not labels. ``LabelName`` is the
task name as is (Open Images MIDs such as ``/m/01g317`` become task names;
map them to display names by renaming the tasks afterwards). ``Source`` is
free text and is not stored: imported labels are recorded with source
``import``. Column order does not matter; other columns are ignored.

``ImageID`` is the file name without its extension, which must be unique in
the project; an ImageID that is the exact path or rel_path of an image
matches that image first, and one that matches no stem is looked up like
any other image name (see :mod:`core.formats.matching`).

Export writes one row per known cell, Source ``mtlabel``, Confidence
``1`` / ``0``; ImageID is the stem where it is unique in the project, else
the rel_path (or absolute path), so that the file imports back unambiguously.
"""

from __future__ import annotations

import os
import re
from typing import TextIO

from core.formats.common import ImportBuilder, LabelExportSummary, show_value
from core.formats.matching import Match
from core.formats.reading import duplicate_columns, read_csv, wrong_field_counts
from core.formats.writing import ExportSnapshot, csv_rows

COLUMNS = ("ImageID", "Source", "LabelName", "Confidence")
REQUIRED = ("ImageID", "LabelName", "Confidence")
EXPORT_SOURCE = "mtlabel"
_BINARY = re.compile(r"([01])(?:\.0*)?")


def find_image(builder: ImportBuilder, image_id: str) -> Match:
    index = builder.index
    exact = index.find(image_id, suffixes=False)
    if exact.found or exact.ambiguous:
        return exact
    by_stem = index.find_by_stem(image_id)
    if by_stem.found or by_stem.ambiguous:
        return by_stem
    return index.find(image_id)


def read(path: str | os.PathLike[str], builder: ImportBuilder) -> None:
    table = read_csv(path, expected=REQUIRED)
    header, line = table.header, table.header_line
    lowered = [h.lower() for h in header]
    for problem in duplicate_columns(table, range(len(header))):
        builder.problem(*problem)
    missing = [c for c in REQUIRED if c.lower() not in lowered]
    if missing:
        builder.problem(
            line,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(an Open Images label file has the header {','.join(COLUMNS)}; "
            f"read as {table.delimiter_name}-separated)",
        )
    builder.raise_problems()
    known = {c.lower() for c in COLUMNS}
    builder.summary.ignored_columns.extend(h for h in header if h.lower() not in known)
    image_col = lowered.index("imageid")
    label_col = lowered.index("labelname")
    confidence_col = lowered.index("confidence")
    for problem in wrong_field_counts(table):
        builder.problem(*problem)
    matches: dict[str, Match] = {}
    for row_line, fields in table.rows:
        builder.summary.rows_read += 1
        if len(fields) != len(header):
            continue
        name, label, raw = fields[image_col], fields[label_col].strip(), fields[confidence_col]
        bad = False
        match = _BINARY.fullmatch(raw.strip())
        if match is None:
            extra = ""
            try:
                if 0.0 < float(raw) < 1.0:
                    extra = " (fractional confidences are machine predictions, not labels)"
            except ValueError:
                pass
            builder.problem(row_line, f"confidence {raw.strip()!r} is not 1 or 0{extra}")
            bad = True
        if not label:
            builder.problem(row_line, "no LabelName")
            bad = True
        if name not in matches:
            matches[name] = find_image(builder, name) if name.strip() else Match()
        image_id = builder.image(name, row_line, matches[name])
        if image_id is None or bad or match is None:
            continue
        key = builder.tasks.resolve(label, row_line)
        value = int(match.group(1))
        earlier = builder.cell(image_id, key, value, row_line)
        if earlier is not None:
            builder.problem(
                row_line,
                f"image {name!r} label {label!r} has confidence {value} here but "
                f"{show_value(earlier.value)} on line {earlier.line}",
            )


def write(stream: TextIO, snapshot: ExportSnapshot, summary: LabelExportSummary) -> None:
    writerow = csv_rows(stream)
    writerow(COLUMNS)
    names = snapshot.index.stem_names()
    images = 0
    for image in sorted(snapshot.images, key=lambda r: (names[r.id], r.path)):
        row_written = False
        for task in snapshot.tasks:
            value = snapshot.value(image.id, task.id)
            if value is None:
                continue
            writerow([names[image.id], EXPORT_SOURCE, task.name, str(value)])
            summary.cells += 1
            row_written = True
        images += row_written
    summary.images = images
    summary.tasks = len(snapshot.tasks)
