"""Label files with every kind of error, in every format: each one is applied exactly or
refused with a message naming the problem (and its line), leaving the project's labels,
their history and its tasks exactly as they were.

Cases already covered elsewhere are not repeated: empty and missing files, the Excel
``sep=`` line and line counting in test_reading.py; most single-format value and header
errors in each format's own test file. The decision taken for each case is in a comment
beside it.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import LabelFileError
from core.formats import FORMATS, import_labels
from core.formats import common as formats_common
from core.formats.common import LabelImportSummary
from core.labels import set_cells_in_session
from core.project import Project
from core.tasks import list_tasks
from tests.core.formats.conftest import (
    CAFE,
    STANDARD_IMAGES,
    A,
    B,
    Write,
    cells,
    db_state,
)

CSV_FORMATS = ("csv", "openimages", "chexpert")

# The same three cells in each format; "café 1.jpg" makes the encoding matter, and it
# stands on line 2 of every file.
SAMPLES = {
    "csv": "image,car,bus\ncafé 1.jpg,1,0\nsub/b.jpg,?,1\n",
    "openimages": "ImageID,Source,LabelName,Confidence\ncafé 1,v,car,1\ncafé 1,v,bus,0\n"
    "b,v,bus,1\n",
    "chexpert": "Path,Sex,car,bus\ncafé 1.jpg,Female,1.0,0.0\nsub/b.jpg,Male,,1.0\n",
    "json": '{"format": "mtlabel-labels", "version": 1,\n'
    ' "images": [{"rel_path": "café 1.jpg"}, {"rel_path": "sub/b.jpg"}],\n'
    ' "labels": [{"image": 0, "task": "car", "value": 1},\n'
    '            {"image": 0, "task": "bus", "value": 0},\n'
    '            {"image": 1, "task": "bus", "value": 1}]}\n',
}
SAMPLE_CELLS = {(CAFE, "car"): 1, (CAFE, "bus"): 0, (B, "bus"): 1}
EXTENSION = {"csv": ".csv", "openimages": ".csv", "chexpert": ".csv", "json": ".json"}


def refused(project: Project, path: Path, fmt: str, **options: Any) -> list[str]:
    """Import must fail with a LabelFileError and change nothing; its problems."""
    before = db_state(project)
    with pytest.raises(LabelFileError) as info:
        import_labels(project, path, fmt, **options)
    assert db_state(project) == before  # labels (values, who, when, source), history, tasks
    assert "nothing was imported" in str(info.value)
    return info.value.problems


def applied(
    project: Project, path: Path, fmt: str, changes: dict[tuple[str, str], int], **options: Any
) -> LabelImportSummary:
    """Import must succeed and leave exactly the earlier labels updated with ``changes``."""
    expected = {**cells(project), **changes}
    summary = import_labels(project, path, fmt, **options)
    assert cells(project) == expected
    return summary


# -- encodings and line ends ---------------------------------------------------------------

ENCODED: dict[str, Callable[[str], bytes]] = {
    # Decision: every Unicode encoding that announces itself with a byte-order mark is
    # read (Excel writes UTF-8 with a BOM and "Unicode Text" as UTF-16); CRLF and old
    # Mac CR line ends are read as they come.
    "UTF-8": lambda text: text.encode(),
    "UTF-8 BOM": lambda text: codecs.BOM_UTF8 + text.encode(),
    "UTF-16 LE BOM": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "UTF-16 BE BOM": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "UTF-32 BOM": lambda text: text.encode("utf-32"),
    "CRLF": lambda text: text.replace("\n", "\r\n").encode(),
    "CR": lambda text: text.replace("\n", "\r").encode(),
    "BOM, CRLF, no final line end": lambda text: (
        codecs.BOM_UTF8 + text.rstrip("\n").replace("\n", "\r\n").encode()
    ),
    "blank lines at the end": lambda text: (text + "\n\n  \n").encode(),
}


@pytest.mark.parametrize("variant", list(ENCODED))
@pytest.mark.parametrize("fmt", FORMATS)
def test_encodings_and_line_ends_that_are_read(
    labelled: Project, write: Write, fmt: str, variant: str
) -> None:
    path = write(f"labels{EXTENSION[fmt]}", ENCODED[variant](SAMPLES[fmt]))
    summary = applied(labelled, path, fmt, SAMPLE_CELLS)
    assert summary.unknown_images == []
    assert summary.cells_set == 3  # café/car was 0


def not_utf8(data: bytes) -> str:
    """The message for the first byte of ``data`` that is not UTF-8 (found by Python's codec)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
    else:
        raise AssertionError("the data is valid UTF-8")
    newline = b"\n"
    line_start = data.rfind(newline, 0, offset) + 1
    return (
        f"line {data.count(newline, 0, offset) + 1}: byte 0x{data[offset]:02x} (column "
        f"{offset - line_start + 1}, offset {offset}) is not valid UTF-8; label files must be "
        "UTF-8 (in Excel: save as 'CSV UTF-8')"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_encodings_that_are_refused(labelled: Project, write: Write, fmt: str) -> None:
    """Decision: a legacy code page is never guessed (a wrong guess silently mislabels names
    with accents); the message names the line, the byte and the fix."""
    text = SAMPLES[fmt]
    broken = {
        "latin-1": text.encode("latin-1"),
        "cp1252": text.encode("cp1252"),
        "mac-roman": text.encode("mac-roman"),
        "a stray 0xff byte": text.encode().replace(b"bus", b"b\xffus"),
        "cut inside a character": text.encode() + "é".encode()[:1],
    }
    for case, data in broken.items():
        path = write(f"{case}{EXTENSION[fmt]}", data)
        assert refused(labelled, path, fmt) == [not_utf8(data)], case
    assert not_utf8(broken["latin-1"]).startswith("line 2: byte 0xe9 (column ")

    # UTF-16 without its mark: the NULs are the clue, even though "é" (0xe9 0x00) is not
    # UTF-8 either and comes first.
    no_bom = write(f"utf16{EXTENSION[fmt]}", text.encode("utf-16-le"))
    assert refused(labelled, no_bom, fmt) == [
        "line 1: the file contains NUL characters; it looks like UTF-16 without a byte-order "
        "mark; save it as UTF-8"
    ]
    odd = write(f"odd16{EXTENSION[fmt]}", text.encode("utf-16") + b"\x00")
    assert refused(labelled, odd, fmt) == ["not valid UTF-16 text: truncated data"]
    nul = write(f"nul{EXTENSION[fmt]}", text.encode().replace(b"\n", b"\n\x00", 1))
    assert refused(labelled, nul, fmt) == [
        "line 2: the file contains NUL characters; it is not a text file"
    ]


# -- delimiters ------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t"])
@pytest.mark.parametrize("fmt", CSV_FORMATS)
def test_semicolon_and_tab_files_are_read(
    labelled: Project, write: Write, fmt: str, delimiter: str
) -> None:
    """Decision: semicolons (Excel in most of Europe) and tabs are detected from the header."""
    text = SAMPLES[fmt].replace(",", delimiter)
    applied(labelled, write("l.csv", text), fmt, SAMPLE_CELLS)


def test_european_excel_export_is_read(labelled: Project, write: Write) -> None:
    # Excel "CSV UTF-8" in a European locale: BOM, "sep=;" line, semicolons, CRLF.
    text = "sep=;\r\nimage;car;bus\r\ncafé 1.jpg;1;0\r\nsub/b.jpg;;1\r\n"
    applied(labelled, write("l.csv", codecs.BOM_UTF8 + text.encode()), "csv", SAMPLE_CELLS)


def test_decimal_commas_are_refused_with_the_value(labelled: Project, write: Write) -> None:
    """Decision: "1,0" (a European Excel's 1.0) is refused, not guessed; the message shows
    the value so that the user sees what to change (format the column as whole numbers)."""
    text = "Path;car\r\ncafé 1.jpg;1,0\r\nsub/b.jpg;-1,0\r\n"
    assert refused(labelled, write("l.csv", text), "chexpert") == [
        "line 2: value '1,0' for task 'car' is not 1.0, 0.0, -1.0 or empty",
        "line 3: value '-1,0' for task 'car' is not 1.0, 0.0, -1.0 or empty",
    ]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("csv", "line 1: the first column must be 'image', not 'image|car|bus' (a wide CSV has "
                "the header image,<task>,<task>,...; read as comma-separated)"),
        ("openimages", "line 1: missing columns ImageID, LabelName, Confidence (an Open Images "
                       "label file has the header ImageID,Source,LabelName,Confidence; read as "
                       "comma-separated)"),
        ("chexpert", "line 1: no 'Path' column (header read as comma-separated: "
                     "'Path|Sex|car|bus')"),
    ],
    ids=CSV_FORMATS,
)  # fmt: skip
def test_another_delimiter_says_how_the_header_was_read(
    labelled: Project, write: Write, fmt: str, expected: str
) -> None:
    """Decision: only comma, semicolon and tab are detected; anything else is refused with
    the header as it was read, which shows the problem."""
    text = SAMPLES[fmt].replace(",", "|")
    assert refused(labelled, write("l.csv", text), fmt) == [expected]


# -- the shape of the file ---------------------------------------------------------------------

HEADER_ONLY = {
    "csv": "image,car,bus\n",
    "openimages": "ImageID,Source,LabelName,Confidence\r\n",
    "chexpert": "Path,Sex,Age,car\n",
    "json": '{"format": "mtlabel-labels", "version": 1, "labels": []}',
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_without_rows_changes_nothing(labelled: Project, write: Write, fmt: str) -> None:
    """Decision: a header without rows is a valid, empty label file (not an error)."""
    before = db_state(labelled)
    summary = import_labels(labelled, write(f"h{EXTENSION[fmt]}", HEADER_ONLY[fmt]), fmt)
    assert (summary.rows_read, summary.cells_set) == (0, 0)
    assert db_state(labelled) == before


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("csv", "image,car,bus\na.jpg,1\nc.png,1,0,\n",
         ["line 2: 2 fields, but the header has 3 (comma-separated)",
          "line 3: 4 fields, but the header has 3 (comma-separated)"]),
        ("openimages", "ImageID,Source,LabelName,Confidence\na,v,car\nc,v,car,1,extra\n",
         ["line 2: 3 fields, but the header has 4 (comma-separated)",
          "line 3: 5 fields, but the header has 4 (comma-separated)"]),
        ("chexpert", "Path\tcar\tbus\na.jpg\t1.0\nc.png\t1.0\t\t\n",
         ["line 2: 2 fields, but the header has 3 (tab-separated)",
          "line 3: 4 fields, but the header has 3 (tab-separated)"]),
        ("json", '{"format": "mtlabel-labels", "version": 1, "images": [{"name": "a.jpg"}],\n'
                 ' "labels": [{"image": 0, "value": 1},\n'
                 '            {"image": 0, "task": "car", "value": 1, "extra": true}]}',
         ["line 2: labels[0]: a label needs a task name (text)"]),
    ],
    ids=FORMATS,
)  # fmt: skip
def test_missing_and_extra_fields(
    labelled: Project, write: Write, fmt: str, text: str, expected: list[str]
) -> None:
    """Decision: a row with fields missing or left over is an error (its values would land
    in the wrong columns); unknown JSON keys are ignored, as JSON readers do."""
    assert refused(labelled, write(f"l{EXTENSION[fmt]}", text), fmt) == expected


AWKWARD_IMAGES = (
    ("/data/odd/a, b.jpg", "/data/odd"),
    ('/data/odd/say "cheese".jpg', "/data/odd"),
    ("/data/odd/two\nlines.jpg", "/data/odd"),
    ("/data/odd/semi;colon.jpg", "/data/odd"),
)
AWKWARD = [path for path, _ in AWKWARD_IMAGES]


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("csv", 'image,"car, red",bus\n"a, b.jpg",1,0\n"say ""cheese"".jpg",,1\n'
                '"two\nlines.jpg",0,\nsemi;colon.jpg,1,1\n'),
        ("openimages", 'ImageID,Source,LabelName,Confidence\n"a, b",v,"car, red",1\n'
                       '"a, b",v,bus,0\n"say ""cheese""",v,bus,1\n"two\nlines",v,"car, red",0\n'
                       "semi;colon,v,\"car, red\",1\nsemi;colon,v,bus,1\n"),
        ("chexpert", 'Path;"car, red";bus\r\n"a, b.jpg";1.0;0.0\r\n"say ""cheese"".jpg";;1\r\n'
                     '"two\r\nlines.jpg";0;\r\n"semi;colon.jpg";1;1\r\n'),
        ("json", json.dumps({"format": "mtlabel-labels", "version": 1, "images": [
            {"name": "a, b.jpg"}, {"name": 'say "cheese".jpg'}, {"name": "two\nlines.jpg"},
            {"name": "semi;colon.jpg"}], "labels": [
            {"image": 0, "task": "car, red", "value": 1}, {"image": 0, "task": "bus", "value": 0},
            {"image": 1, "task": "bus", "value": 1}, {"image": 2, "task": "car, red", "value": 0},
            {"image": 3, "task": "car, red", "value": 1}, {"image": 3, "task": "bus", "value": 1},
        ]}, indent=1)),
    ],
    ids=FORMATS,
)  # fmt: skip
def test_quoted_fields_with_commas_quotes_and_newlines(
    new_project: Callable[..., Project], write: Write, fmt: str, text: str
) -> None:
    project = new_project(tasks=("car, red", "bus"), images=STANDARD_IMAGES + AWKWARD_IMAGES)
    wanted = {
        (AWKWARD[0], "car, red"): 1,
        (AWKWARD[0], "bus"): 0,
        (AWKWARD[1], "bus"): 1,
        (AWKWARD[2], "car, red"): 0,
        (AWKWARD[3], "car, red"): 1,
        (AWKWARD[3], "bus"): 1,
    }
    # Decision: names are compared exactly, so the CRLF inside the chexpert file's quoted
    # "two\r\nlines.jpg" does not name the file "two\nlines.jpg": that image is unknown
    # (listed, with its line), not guessed.
    if fmt == "chexpert":
        del wanted[(AWKWARD[2], "car, red")]
    summary = applied(project, write(f"l{EXTENSION[fmt]}", text), fmt, wanted)
    expected_unknown = [(4, "two\r\nlines.jpg")] if fmt == "chexpert" else []
    assert summary.unknown_images == expected_unknown


def test_very_long_lines(labelled: Project, write: Write) -> None:
    # A 100,000-character image name is read (and is simply not in the project)...
    name = "x" * 100_000 + ".jpg"
    summary = applied(labelled, write("long.csv", f"image,car\n{name},1\na.jpg,0\n"), "csv",
                      {(A, "car"): 0})  # fmt: skip
    assert summary.unknown_images == [(2, name)]
    # ...one over the csv module's field limit is refused on its line, not crashed on.
    huge = "image,car\na.jpg,1\n" + "y" * 200_000 + ",1\n"
    assert refused(labelled, write("huge.csv", huge), "csv") == [
        "line 3: malformed CSV: field larger than field limit (131072)"
    ]
    # A header of 1,000 unknown tasks: every one is a problem, the message shows 20.
    header = ",".join(f"task{n}" for n in range(1000))
    wide = write("wide.csv", f"image,{header}\na.jpg,{','.join('1' * 1000)}\n")
    before = db_state(labelled)
    with pytest.raises(LabelFileError) as info:
        import_labels(labelled, wide, "csv")
    assert len(info.value.problems) == 1000
    assert str(info.value).endswith("\n  ... and 980 more")
    assert db_state(labelled) == before
    # With create_tasks the same file is applied: 1,000 tasks and 1,000 labels at once.
    summary = import_labels(labelled, wide, "csv", create_tasks=True)
    assert summary.cells_set == 1000 and len(summary.tasks_created) == 1000


def test_a_json_file_on_one_line_names_the_entry(labelled: Project, write: Write) -> None:
    labels = [{"image": 0, "task": "car", "value": 1} for n in range(2000)]
    labels[1234] = {"image": 0, "task": "car", "value": "yes?"}
    data = {"format": "mtlabel-labels", "version": 1, "images": [{"name": "a.jpg"}]}
    path = write("one.json", json.dumps({**data, "labels": labels}))
    assert refused(labelled, path, "json") == [
        "line 1: labels[1234].value: value 'yes?' is not 1, 0 or null"
    ]


# -- values, images, tasks, duplicates: every error at once, in each format -------------------

BAD_FILES = {
    "csv": (
        "image,car,bus,truck\n"
        "a.jpg,2,0,\n"  # a value that is not a label
        "c.png,yes?,,\n"
        "nowhere.jpg,1,1,\n"  # not in the project (strict_images below)
        "sub/b.jpg,1,0,\n"
        "./sub/b.jpg,1,0,\n"  # the same row again: fine
        "/data/street/sub/b.jpg,0,0,\n"  # the same image with another value: a conflict
    ),
    "openimages": (
        "ImageID,Source,LabelName,Confidence\n"
        "a,v,car,2\n"
        "c,v,car,yes?\n"
        "c,v,bus,\n"  # empty is not allowed: a listed label is present or absent
        "nowhere,v,car,1\n"
        "b,v,car,1\n"
        "b,other source,car,1\n"
        "b,v,car,0\n"
        "b,v,truck,1\n"
    ),
    "chexpert": (
        "Path,Sex,car,bus,truck\n"
        "a.jpg,F,2,0.0,\n"
        "c.png,M,yes?,,\n"
        "nowhere.jpg,F,1.0,1.0,\n"
        "sub/b.jpg,F,1.0,0.0,\n"
        "sub/b.jpg,F,1,0,\n"
        "sub/b.jpg,F,0.0,0.0,\n"
    ),
    "json": (
        '{"format": "mtlabel-labels", "version": 1,\n'
        ' "tasks": [{"name": "car"}, {"name": "truck"}],\n'
        ' "images": [{"name": "a.jpg"}, {"name": "c.png"}, {"name": "nowhere.jpg"},\n'
        '            {"name": "b.jpg"}],\n'
        ' "labels": [\n'
        '  {"image": 0, "task": "car", "value": 2},\n'
        '  {"image": 1, "task": "car", "value": "yes?"},\n'
        '  {"image": 2, "task": "car", "value": 1},\n'
        '  {"image": 3, "task": "car", "value": 1},\n'
        '  {"image": 3, "task": "car", "value": 1},\n'
        '  {"image": 3, "task": "car", "value": 0}\n'
        " ]}\n"
    ),
}
BAD_FILE_PROBLEMS = {
    "csv": [
        "line 1: unknown task 'truck'; use --create-tasks to add it",
        "line 2: value '2' for task 'car' is not 1, 0, ? or empty",
        "line 3: value 'yes?' for task 'car' is not 1, 0, ? or empty",
        "line 4: image 'nowhere.jpg' is not in this project",
        "line 7: image '/data/street/sub/b.jpg' is also on line 5 with different values: "
        "'car' is 1 there, 0 here",
    ],
    "openimages": [
        "line 2: confidence '2' is not 1 or 0",
        "line 3: confidence 'yes?' is not 1 or 0",
        "line 4: confidence '' is not 1 or 0",
        "line 5: image 'nowhere' is not in this project",
        "line 8: image 'b' label 'car' has confidence 0 here but 1 on line 6",
        "line 9: unknown task 'truck'; use --create-tasks to add it",
    ],
    "chexpert": [
        "line 1: unknown task 'truck'; use --create-tasks to add it",
        "line 2: value '2' for task 'car' is not 1.0, 0.0, -1.0 or empty",
        "line 3: value 'yes?' for task 'car' is not 1.0, 0.0, -1.0 or empty",
        "line 4: image 'nowhere.jpg' is not in this project",
        "line 7: image 'sub/b.jpg' is also on line 5 with different values: "
        "'car' is 1 there, 0 here",
    ],
    "json": [
        "line 2: unknown task 'truck'; use --create-tasks to add it",
        "line 3: image 'nowhere.jpg' is not in this project",
        "line 6: labels[0].value: value 2 is not 1, 0 or null",
        "line 7: labels[1].value: value 'yes?' is not 1, 0 or null",
        "line 11: labels[5]: task 'car' of this image is 0 here but 1 in labels[3] (line 9)",
    ],
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_error_is_reported_with_its_line(labelled: Project, write: Write, fmt: str) -> None:
    """Decision: identical duplicate rows are harmless and accepted; a duplicate that
    disagrees is an error naming both lines; bad values, unknown tasks and (with
    strict_images) unknown images are errors; all are reported at once, in line order."""
    path = write(f"bad{EXTENSION[fmt]}", BAD_FILES[fmt])
    assert refused(labelled, path, fmt, strict_images=True) == BAD_FILE_PROBLEMS[fmt]


FIXED_FILES = {
    "csv": "image,car,bus\nnowhere.jpg,1,1\nsub/b.jpg,1,0\n./sub/b.jpg,1,0\nc.png,,?\n",
    "openimages": "ImageID,Source,LabelName,Confidence\nnowhere,v,car,1\nb,v,car,1\n"
    "b,other,car,1.0\nb,v,bus,0\n",
    "chexpert": "Path,Sex,car,bus\nnowhere.jpg,F,1.0,1.0\nsub/b.jpg,F,1.0,0.0\n"
    "sub/b.jpg,M,1,0\nc.png,F,,\n",
    "json": '{"format": "mtlabel-labels", "version": 1,\n'
    ' "images": [{"name": "nowhere.jpg"}, {"name": "b.jpg"}],\n'
    ' "labels": [{"image": 0, "task": "car", "value": 1},\n'
    '            {"image": 1, "task": "car", "value": 1},\n'
    '            {"image": 1, "task": "car", "value": 1},\n'
    '            {"image": 1, "task": "bus", "value": 0}]}\n',
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_images_are_skipped_and_listed(labelled: Project, write: Write, fmt: str) -> None:
    """Decision: without strict_images an image the project lacks is skipped and listed
    with its first line (a label file often covers more images than one project)."""
    path = write(f"ok{EXTENSION[fmt]}", FIXED_FILES[fmt])
    summary = applied(labelled, path, fmt, {(B, "car"): 1, (B, "bus"): 0})
    assert summary.unknown_images == [(2, "nowhere" if fmt == "openimages" else "nowhere.jpg")]
    assert summary.cells_set == 2
    # The wide formats have a row for c.png, all of it unknown: matched, nothing set.
    assert summary.images_matched == {"csv": 2, "openimages": 1, "chexpert": 2, "json": 1}[fmt]


# -- JSON that is not JSON, or not a label file -----------------------------------------------

JSON_CASES = {
    "plain text": ("these are my labels\n", ["line 1, column 1: not valid JSON: Expecting value"]),
    "a CSV file": (SAMPLES["csv"], ["line 1, column 1: not valid JSON: Expecting value"]),
    "cut short": (SAMPLES["json"][: SAMPLES["json"].index(' "labels"')],
                  ["line 3, column 1: not valid JSON: Expecting property name enclosed in "
                   "double quotes"]),
    "JSON lines": ('{"image": 0}\n{"image": 1}\n',
                   ["line 2, column 1: not valid JSON: Extra data"]),
    "a list": ("[]", ["line 1: the file holds a list, not an mtlabel label file (an object with "
                      "format, version, tasks, images and labels)"]),
    "a string": ('"labels"', ["line 1: the file holds text ('labels'), not an mtlabel label "
                              "file (an object with format, version, tasks, images and labels)"]),
    "null": ("null", ["line 1: the file holds null, not an mtlabel label file (an object with "
                      "format, version, tasks, images and labels)"]),
    "an empty object": ("{}", ["line 1: format: not an mtlabel label file: format is missing, "
                               "expected 'mtlabel-labels'"]),
    "no labels": ('{"format": "mtlabel-labels", "version": 1}', ["line 1: no labels list"]),
    "labels not a list": ('{"format": "mtlabel-labels", "version": 1,\n"labels": "all"}',
                          ["line 2: labels: must be a list, not text ('all')"]),
    "a label not an object": ('{"format": "mtlabel-labels", "version": 1,\n'
                              '"labels": [[0, "car", 1]]}',
                              ["line 2: labels[0]: a label must be an object, not a list"]),
    "a huge number": ('{"format": "mtlabel-labels", "version": 1, "labels": [\n'
                      '{"image": 0, "task": "car", "value": ' + "9" * 5000 + "}]}",
                      ["a number has more than 4300 digits"]),
    "nested too deeply": ("[" * 100_000 + "]" * 100_000, ["the JSON is nested too deeply"]),
    "an unpaired surrogate in a task": (
        '{"format": "mtlabel-labels", "version": 1,\n"tasks": [{"name": "car\\ud83d"}],\n'
        '"labels": []}',
        ["line 2: tasks[0].name: text 'car\\ud83d' holds \\ud83d, an unpaired UTF-16 surrogate "
         "escape, which is not a character"]),
    "an unpaired surrogate in an image name": (
        '{"format": "mtlabel-labels", "version": 1, "labels": [],\n'
        '"images": [{"name": "\\udc00.jpg"}]}',
        ["line 2: images[0].name: text '\\udc00.jpg' holds \\udc00, an unpaired UTF-16 surrogate "
         "escape, which is not a character"]),
    "a time past the year 9999 in UTC": (
        '{"format": "mtlabel-labels", "version": 1, "images": [{"name": "a.jpg"}],\n'
        '"labels": [{"image": 0, "task": "car", "value": 1,\n'
        '            "time": "9999-12-31T23:30:00-05:00"}]}',
        ["line 3: labels[0].time: time '9999-12-31T23:30:00-05:00' is out of range: in UTC it "
         "falls outside the years 1 to 9999"]),
    "a time before the year 1 in UTC": (
        '{"format": "mtlabel-labels", "version": 1, "images": [{"name": "a.jpg"}],\n'
        '"labels": [{"image": 0, "task": "car", "value": 1, "time": "0001-01-01T00:00+01:00"}]}',
        ["line 2: labels[0].time: time '0001-01-01T00:00+01:00' is out of range: in UTC it falls "
         "outside the years 1 to 9999"]),
    "a control character in an annotator": (
        '{"format": "mtlabel-labels", "version": 1, "images": [{"name": "a.jpg"}],\n'
        '"labels": [{"image": 0, "task": "car", "value": 1, "annotator": "al\\u0000ice"}]}',
        ["line 2: labels[0].annotator: annotator 'al\\x00ice' contains control characters"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(JSON_CASES))
def test_json_that_is_not_a_label_file(labelled: Project, write: Write, case: str) -> None:
    text, expected = JSON_CASES[case]
    assert refused(labelled, write("l.json", text), "json") == expected


def test_a_paired_surrogate_escape_is_a_character(labelled: Project, write: Write) -> None:
    # "\ud83d\ude97" is one character (a car emoji), written the way json.dumps writes it.
    label = {"image": 0, "task": "🚗", "value": 1, "annotator": "🚗"}
    images = [{"name": "a.jpg"}]
    text = json.dumps(
        {"format": "mtlabel-labels", "version": 1, "images": images, "labels": [label]}
    )
    assert "\\ud83d\\ude97" in text
    summary = applied(labelled, write("l.json", text), "json", {(A, "🚗"): 1}, create_tasks=True)
    assert summary.tasks_created == ["🚗"]


@pytest.mark.parametrize(
    ("fmt", "given", "expected"),
    [
        ("csv", "openimages", "line 1: the first column must be 'image', not 'ImageID'"),
        ("openimages", "json", "line 1: missing columns ImageID, LabelName, Confidence"),
        ("chexpert", "json", "line 1: no 'Path' column"),
        ("json", "chexpert", "line 1, column 1: not valid JSON: Expecting value"),
    ],
    ids=FORMATS,
)
def test_the_wrong_format_chosen_is_refused_clearly(
    labelled: Project, write: Write, fmt: str, given: str, expected: str
) -> None:
    (problem,) = refused(labelled, write("l.txt", SAMPLES[given]), fmt)
    assert problem.startswith(expected), problem


# -- atomic even when the database fails half-way ----------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failure_while_applying_leaves_nothing_behind(
    labelled: Project, write: Write, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = set_cells_in_session

    def write_then_fail(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # every cell written (and the new task created)...
        raise RuntimeError("disk full")  # ...then the transaction fails

    monkeypatch.setattr(formats_common, "set_cells_in_session", write_then_fail)
    text = SAMPLES[fmt].replace("bus", "van")
    before = db_state(labelled)
    with pytest.raises(RuntimeError, match="disk full"):
        import_labels(labelled, write(f"l{EXTENSION[fmt]}", text), fmt, create_tasks=True)
    assert db_state(labelled) == before
    assert "van" not in [t.name for t in list_tasks(labelled, True)]
    monkeypatch.undo()
    changes = {(image, task.replace("bus", "van")): v for (image, task), v in SAMPLE_CELLS.items()}
    summary = applied(labelled, write(f"l{EXTENSION[fmt]}", text), fmt, changes, create_tasks=True)
    assert summary.tasks_created == ["van"]
