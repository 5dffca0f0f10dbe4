"""Reading label files: bytes to text, delimiter sniffing, CSV records with line numbers.

Delimiters: comma, semicolon or tab, sniffed from the header line; an Excel
``sep=;`` first line names the delimiter explicitly (and is skipped).

Encodings: UTF-8, with or without a byte-order mark, and UTF-16 or UTF-32 when
the file starts with their byte-order mark (UTF-16 is Excel's "Unicode Text"
export). Nothing else is guessed: a file in a legacy code page (cp1252,
latin-1, ...) is refused with the line and byte that is not UTF-8, because
guessing the code page silently mislabels names with accents.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import LabelFileError

DELIMITERS = (",", ";", "\t")
_EXCEL_SEPARATOR = re.compile(r"\s*sep=(.)\s*", re.IGNORECASE)
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def display_path(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text; LabelFileError if it cannot be read, is empty, or is not UTF-8."""
    shown = display_path(path)
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise LabelFileError(shown, ["no such file"]) from None
    except IsADirectoryError:
        raise LabelFileError(shown, ["this is a folder, not a label file"]) from None
    except PermissionError:
        raise LabelFileError(shown, ["permission denied: the file cannot be read"]) from None
    except OSError as exc:
        if file.is_dir():
            raise LabelFileError(shown, ["this is a folder, not a label file"]) from None
        raise LabelFileError(shown, [f"cannot be read: {exc.strerror or exc}"]) from None
    text = decode(shown, data)
    if not text.strip():
        raise LabelFileError(shown, ["the file is empty"])
    return text


def decode(shown: str, data: bytes) -> str:
    """UTF-8 (optional BOM) or BOM-marked UTF-16 or UTF-32; a clear error naming line and
    byte otherwise."""
    if data.startswith(codecs.BOM_UTF8):
        body, encoding = data[len(codecs.BOM_UTF8) :], "utf-8"
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16's
        body, encoding = data, "utf-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        body, encoding = data, "utf-16"
    else:
        body, encoding = data, "utf-8"
    if encoding == "utf-8" and b"\x00" in body:  # before decoding: UTF-16 is rarely ASCII
        first = body.index(b"\x00")
        raise _nul_error(shown, body.count(b"\n", 0, first) + 1, body.count(b"\x00"), len(body))
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding != "utf-8":
            raise LabelFileError(
                shown, [f"not valid {encoding.upper()} text: {exc.reason}"]
            ) from None
        line = body.count(b"\n", 0, exc.start) + 1
        line_start = body.rfind(b"\n", 0, exc.start) + 1
        column = exc.start - line_start + 1
        byte = body[exc.start]
        raise LabelFileError(
            shown,
            [
                f"line {line}: byte 0x{byte:02x} (column {column}, offset {exc.start}) is not "
                "valid UTF-8; label files must be UTF-8 (in Excel: save as 'CSV UTF-8')"
            ],
        ) from None
    if "\x00" in text:
        first = text.index("\x00")
        raise _nul_error(shown, text.count("\n", 0, first) + 1, text.count("\x00"), len(text))
    return text


def _nul_error(shown: str, line: int, nuls: int, length: int) -> LabelFileError:
    hint = "it is not a text file"
    if nuls * 3 > length:
        hint = "it looks like UTF-16 without a byte-order mark; save it as UTF-8"
    return LabelFileError(shown, [f"line {line}: the file contains NUL characters; {hint}"])


def _first_line(text: str) -> str:
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return line
    return ""


def sniff_delimiter(text: str, expected: Iterable[str] = ()) -> str:
    """Comma, semicolon or tab, judged from the header line.

    The delimiter that makes the header start with one of the ``expected`` column
    names (case-insensitive) wins; failing that, the one that finds most of them
    anywhere in the header; then the one giving the most fields. Without any
    expected name found, the delimiter seen most often outside quotes. Ties go
    to the comma.
    """
    header = _first_line(text)
    wanted = {e.lower() for e in expected}
    best: tuple[bool, int, int, int] | None = None
    choice = ","
    for rank, delimiter in enumerate(DELIMITERS):
        try:
            # Spaces only: stripping tabs would let a tab-separated "image<TAB>;" header
            # read as the semicolon-separated field "image".
            fields = [f.strip(" ").lower() for f in next(csv.reader([header], delimiter=delimiter))]
        except (csv.Error, StopIteration):
            continue
        found = len(wanted.intersection(fields))
        if not found:
            continue
        key = (bool(fields) and fields[0] in wanted, found, len(fields), -rank)
        if best is None or key > best:
            best, choice = key, delimiter
    if best is not None:
        return choice
    counts = {d: _count_outside_quotes(header, d) for d in DELIMITERS}
    top = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return top if counts[top] > 0 else ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


@dataclass
class CsvTable:
    """A CSV file read whole: its header and its non-blank records with their line numbers."""

    path: str
    delimiter: str
    header: list[str]
    """Header fields, stripped of surrounding whitespace."""
    header_line: int
    rows: list[tuple[int, list[str]]]
    """(line where the record starts, fields) for every record that is not blank."""

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


def read_csv(path: str | os.PathLike[str], expected: Iterable[str] = ()) -> CsvTable:
    """Read a delimited file; LabelFileError for unreadable, empty or malformed files."""
    shown = display_path(path)
    text = read_text(path)
    excel_hint = _EXCEL_SEPARATOR.fullmatch(_first_line(text).rstrip("\r\n"))
    delimiter = excel_hint.group(1) if excel_hint else sniff_delimiter(text, expected)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    skip_hint = excel_hint is not None
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    previous_end = 0
    try:
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record or all(not field.strip() for field in record):
                continue
            if skip_hint:  # Excel's "sep=;" line
                skip_hint = False
                continue
            if header is None:
                header = [field.strip() for field in record]
                header_line = start
            else:
                rows.append((start, record))
    except csv.Error as exc:
        start = previous_end + 1
        detail = str(exc)
        if "unexpected end of data" in detail:
            detail = "a quoted field starting on this line is never closed"
        raise LabelFileError(shown, [f"line {start}: malformed CSV: {detail}"]) from None
    if header is None:
        raise LabelFileError(shown, ["the file is empty"])
    return CsvTable(shown, delimiter, header, header_line, rows)


def duplicate_columns(table: CsvTable, columns: Iterable[int]) -> list[tuple[int, str]]:
    """Problems for header fields (at the given indexes) that repeat, ignoring case."""
    first: dict[str, int] = {}
    problems: list[tuple[int, str]] = []
    for index in columns:
        name = table.header[index]
        key = name.lower()
        if key in first:
            problems.append(
                (
                    table.header_line,
                    f"column {name!r} appears twice (columns {first[key] + 1} and {index + 1})",
                )
            )
        else:
            first[key] = index
    return problems


def wrong_field_counts(table: CsvTable) -> list[tuple[int, str]]:
    """Problems for records whose number of fields differs from the header's."""
    width = len(table.header)
    return [
        (
            line,
            f"{len(fields)} fields, but the header has {width} ({table.delimiter_name}-separated)",
        )
        for line, fields in table.rows
        if len(fields) != width
    ]
