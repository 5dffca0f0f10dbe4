"""Reading label files: encodings, BOMs, delimiters, line endings, unreadable files."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from core.errors import LabelFileError, UserError
from core.formats import FORMATS, import_labels
from core.formats.reading import read_csv, sniff_delimiter
from core.project import Project
from tests.core.formats.conftest import CAFE, A, B, C, Write, cells, db_state


def problems(exc: pytest.ExceptionInfo[LabelFileError]) -> list[str]:
    return exc.value.problems


def test_utf8_bom_is_accepted(proj: Project, write: Write) -> None:
    path = write("l.csv", codecs.BOM_UTF8 + "image,car\ncafé 1.jpg,1\n".encode())
    import_labels(proj, path, "csv")
    assert cells(proj) == {(CAFE, "car"): 1}


def test_utf16_with_bom_is_accepted(proj: Project, write: Write) -> None:
    # Excel's "Unicode Text": UTF-16 with a BOM, tab-separated.
    path = write("l.txt", "image\tcar\r\ncafé 1.jpg\t0\r\n".encode("utf-16"))
    import_labels(proj, path, "csv")
    assert cells(proj) == {(CAFE, "car"): 0}


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiters_are_sniffed(proj: Project, write: Write, delimiter: str) -> None:
    text = f"image{delimiter}car{delimiter}bus\na.jpg{delimiter}1{delimiter}0\n"
    import_labels(proj, write("l.csv", text), "csv")
    assert cells(proj) == {(A, "car"): 1, (A, "bus"): 0}


def test_semicolon_file_with_comma_in_a_quoted_task_name(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", 'image;"car, red"\na.jpg;1\n'), "csv")
    assert problems(exc) == ["line 1: unknown task 'car, red'; use --create-tasks to add it"]


def test_sniffing_prefers_the_delimiter_that_finds_the_key_column() -> None:
    assert sniff_delimiter("image,a;b;c\n", ["image"]) == ","
    assert sniff_delimiter('image;"x,y"\n', ["image"]) == ";"
    assert sniff_delimiter("image\tx,y;z\n", ["image"]) == "\t"
    assert sniff_delimiter("image\t;\n", ["image"]) == "\t", "a task named ; in a tab file"
    assert sniff_delimiter("a;b;c\n") == ";"
    assert sniff_delimiter("image\n") == ","
    # The comma split starts with "image"; the semicolon split finds more "image" fields.
    assert sniff_delimiter("image,x;image;y\n", ["image"]) == ","
    assert sniff_delimiter("Edema;Path;Age\n", ["path"]) == ";"


def test_crlf_line_endings_and_line_numbers(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    path = write("l.csv", "image,car\r\na.jpg,1\r\n\r\nc.png,bad\r\n")
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, path, "csv")
    assert problems(exc) == ["line 4: value 'bad' for task 'car' is not 1, 0, ? or empty"]
    assert db_state(labelled) == before
    import_labels(labelled, write("ok.csv", "image,person\r\na.jpg,1\r\nc.png,0\r\n"), "csv")
    assert cells(labelled)[(A, "person")] == 1
    assert cells(labelled)[(C, "person")] == 0


def test_line_numbers_count_quoted_newlines_and_blank_lines(proj: Project, write: Write) -> None:
    text = 'image,car\n\n"a.jpg",1\n"multi\nline.jpg",1\n\nsub/b.jpg,x\n'
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", text), "csv", strict_images=True)
    assert problems(exc) == [
        "line 4: image 'multi\\nline.jpg' is not in this project",
        "line 7: value 'x' for task 'car' is not 1, 0, ? or empty",
    ]


def test_blank_lines_before_header_are_skipped(proj: Project, write: Write) -> None:
    import_labels(proj, write("l.csv", "\n\nimage,car\nsub/b.jpg,1\n"), "csv")
    assert cells(proj) == {(B, "car"): 1}


def test_non_utf8_bytes_name_line_and_byte(labelled: Project, write: Write) -> None:
    before = db_state(labelled)
    path = write("l.csv", "image,car\na.jpg,1\ncafé 1.jpg,1\n".encode("cp1252"))
    with pytest.raises(LabelFileError) as exc:
        import_labels(labelled, path, "csv")
    (problem,) = problems(exc)
    assert problem.startswith("line 3: byte 0xe9 (column 4, offset 21) is not valid UTF-8")
    assert "CSV UTF-8" in problem
    assert db_state(labelled) == before


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "content", [b"", b"   \n\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\r\n"], ids=repr
)
def test_empty_file(proj: Project, write: Write, fmt: str, content: bytes) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.txt", content), fmt)
    assert problems(exc) == ["the file is empty"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_file(proj: Project, tmp_path: Path, fmt: str) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, tmp_path / "nope.csv", fmt)
    assert problems(exc) == ["no such file"]
    assert str(tmp_path / "nope.csv") in str(exc.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_folder_instead_of_file(proj: Project, tmp_path: Path, fmt: str) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, tmp_path, fmt)
    assert problems(exc) == ["this is a folder, not a label file"]


def test_nul_bytes_are_refused(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", b"image,car\na.jpg,1\n\x00\x01\x02"), "csv")
    assert problems(exc) == ["line 3: the file contains NUL characters; it is not a text file"]


def test_utf16_without_bom_gets_a_hint(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", "image,car\na.jpg,1\n".encode("utf-16-le")), "csv")
    assert problems(exc) == [
        "line 1: the file contains NUL characters; it looks like UTF-16 without a byte-order "
        "mark; save it as UTF-8"
    ]


def test_excel_separator_line(proj: Project, write: Write) -> None:
    text = "sep=;\r\nimage;car;bus\r\na.jpg;1;0\r\nc.png;;x\r\n"
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", text), "csv")
    assert problems(exc) == ["line 4: value 'x' for task 'bus' is not 1, 0, ? or empty"]
    import_labels(proj, write("l.csv", text.replace("x", "1")), "csv")
    assert cells(proj) == {(A, "car"): 1, (A, "bus"): 0, (C, "bus"): 1}


def test_unterminated_quote_is_malformed(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", 'image,car\na.jpg,1\n"c.png,1\n'), "csv")
    assert problems(exc) == [
        "line 3: malformed CSV: a quoted field starting on this line is never closed"
    ]


def test_stray_quote_is_malformed(proj: Project, write: Write) -> None:
    with pytest.raises(LabelFileError) as exc:
        import_labels(proj, write("l.csv", 'image,car\n"a.jpg"x,1\n'), "csv")
    (problem,) = problems(exc)
    assert problem.startswith("line 2: malformed CSV")


def test_unknown_format_and_policy_are_user_errors(proj: Project, write: Write) -> None:
    path = write("l.csv", "image,car\n")
    with pytest.raises(UserError, match="unknown label format 'xml'"):
        import_labels(proj, path, "xml")
    with pytest.raises(UserError, match="unknown uncertain policy 'maybe'"):
        import_labels(proj, path, "chexpert", uncertain="maybe")


def test_read_csv_reports_record_start_lines(write: Write) -> None:
    table = read_csv(write("t.csv", 'h1,h2\n\na,"b\nc"\nd,e\n'))
    assert table.header == ["h1", "h2"]
    assert table.header_line == 1
    assert table.rows == [(3, ["a", "b\nc"]), (5, ["d", "e"])]
