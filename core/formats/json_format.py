"""mtlabel's own JSON format: lossless, with tasks, images, annotators and times.

::

    {
      "format": "mtlabel-labels",
      "version": 1,
      "exported_at": "2024-05-01T12:00:00Z",
      "tasks": [
        {"name": "car", "position": 0, "colour": "#4e79a7", "archived": false}
      ],
      "images": [
        {"path": "/data/a.jpg", "rel_path": "a.jpg", "name": "a.jpg",
         "content_hash": "…", "width": 640, "height": 480}
      ],
      "labels": [
        {"image": 0, "task": "car", "value": 1, "annotator": "ann",
         "time": "2024-05-01T11:59:00.123456Z"}
      ]
    }

``labels[].image`` is an index into ``images`` or a content hash; ``value``
is 1, 0 or null (unknown, which only matters with overwrite_with_unknown);
``annotator`` and ``time`` are optional (default: the importing annotator,
the time of the import; a time without a zone is taken as UTC). Images are
matched by content hash first, then by path, rel_path and name. A label not
listed is unknown.

Tasks the project lacks are created (with ``create_tasks``) with the file's
order, colour and archived flag, after the existing tasks; tasks the
project already has keep their own order, colour and archived flag.

Problems name the line of the offending entry and its place in the file
(``labels[17]``); a syntax error names line and column. An object that holds a
key twice (``"value": 1, "value": 0``) is refused, naming the line of its second value:
Python's json would keep the last one without a word.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from core.errors import LabelFileError, UserError
from core.formats.common import ImportBuilder, LabelExportSummary, show_value
from core.formats.matching import NOT_FOUND, Match
from core.formats.reading import read_text
from core.formats.writing import ExportSnapshot
from core.labels import CellValue
from core.tasks import MAX_NAME_LENGTH, validate_colour

FORMAT_ID = "mtlabel-labels"
VERSION = 1
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_UNPAIRED = re.compile(r"[\ud800-\udfff]")

Step = str | int


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, microseconds kept when there are any."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def parse_time(text: str) -> datetime:
    """An aware UTC datetime; ValueError for text that is not ISO 8601, OverflowError
    for a time whose UTC equivalent lies outside the years 1 to 9999."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def where(*steps: Step) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


class Locator:
    """Line numbers of JSON values, found by a second, slower parse only when needed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._parsed = False
        self._tree: Any = None
        self._positions: dict[int, int] = {}
        self._elements: dict[int, list[int]] = {}
        self._members: dict[int, dict[str, int]] = {}
        self._newlines: list[int] = []
        self._duplicate: int | None = None  # where the first value of a repeated key starts

    def line(self, *steps: Step) -> int:
        """The line of the value at ``steps`` (keys and list indexes), or of its nearest parent."""
        if not self._parsed:
            self._parse()
        if not self._positions:
            return 0
        node = self._tree
        position = self._positions.get(id(node), 0)
        for step in steps:
            if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                starts = self._elements.get(id(node), [])
                position = starts[step] if step < len(starts) else position
            elif isinstance(node, dict) and isinstance(step, str) and step in node:
                position = self._members.get(id(node), {}).get(step, position)
            else:
                break
            node = node[step]
        return bisect.bisect_right(self._newlines, position) + 1

    def duplicate_line(self) -> int:
        """The line of the first value whose key its object already holds (0 if none)."""
        if not self._parsed:
            self._parse()
        if self._duplicate is None:
            return 0
        return bisect.bisect_right(self._newlines, self._duplicate) + 1

    def _parse(self) -> None:
        self._parsed = True
        positions: dict[int, int] = {}
        elements: dict[int, list[int]] = {}
        members: dict[int, dict[str, int]] = {}
        frames: list[list[int]] = []
        json_object: Any = getattr(json.decoder, "JSONObject")  # noqa: B009
        json_array: Any = getattr(json.decoder, "JSONArray")  # noqa: B009
        make_scanner: Any = getattr(json.scanner, "py_make_scanner")  # noqa: B009
        # Before decoding: a repeated key in a complete object is placed even when a later
        # part of the text is not JSON.
        self._newlines = [m.start() for m in re.finditer("\n", self.text)]

        def recording(scan_once: Any) -> Any:
            def scan(s: str, idx: int) -> Any:
                frames[-1].append(idx)
                return scan_once(s, idx)

            return scan

        def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            value = dict(pairs)  # the last of a repeated key wins, as in json.loads
            if len(value) != len(pairs) and self._duplicate is None:
                seen: set[str] = set()
                for i, (key, _) in enumerate(pairs):
                    if key in seen:
                        self._duplicate = frames[-1][i]  # this object's value starts
                        break
                    seen.add(key)
            return value

        def parse_object(
            s_and_end: tuple[str, int], strict: bool, scan_once: Any, *rest: Any
        ) -> Any:
            frames.append([])
            value, end = json_object(s_and_end, strict, recording(scan_once), *rest)
            starts = frames.pop()
            positions[id(value)] = s_and_end[1] - 1
            if isinstance(value, dict) and len(value) == len(starts):
                members[id(value)] = dict(zip(value, starts, strict=True))
            return value, end

        def parse_array(s_and_end: tuple[str, int], scan_once: Any, *rest: Any) -> Any:
            frames.append([])
            value, end = json_array(s_and_end, recording(scan_once), *rest)
            elements[id(value)] = frames.pop()
            positions[id(value)] = s_and_end[1] - 1
            return value, end

        decoder: Any = json.JSONDecoder(object_pairs_hook=pairs_hook)
        decoder.parse_object = parse_object
        decoder.parse_array = parse_array
        decoder.scan_once = make_scanner(decoder)
        try:
            self._tree = decoder.decode(self.text)
        except (ValueError, RecursionError):
            return
        self._positions = positions
        self._elements = elements
        self._members = members


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: Python's json keeps the last of two equal keys, silently."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return value


class _Reader:
    def __init__(self, path: str, text: str, builder: ImportBuilder) -> None:
        self.path = path
        self.builder = builder
        self.locate = Locator(text)

    def _line_finder(self, steps: tuple[Step, ...]) -> Callable[[], int]:
        return lambda: self.locate.line(*steps)

    def problem(self, steps: tuple[Step, ...], text: str) -> None:
        place = where(*steps)
        self.builder.problem(self.locate.line(*steps), f"{place}: {text}" if place else text)

    def fatal(self, steps: tuple[Step, ...], text: str) -> None:
        self.problem(steps, text)
        self.builder.raise_problems()

    def optional_text(self, entry: dict[str, Any], key: str, steps: tuple[Step, ...]) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem((*steps, key), f"{key} must be text, not {_kind(value)}")
            return None
        return value

    def unpaired_surrogates(self, data: Any) -> None:
        """Refuse text holding a ``\\uD800``-style escape that is not half of a pair: it is
        no character, and the database (like any UTF-8 file) cannot store it."""
        stack: list[tuple[Any, tuple[Step, ...]]] = [(data, ())]
        while stack:
            value, steps = stack.pop()
            if isinstance(value, dict):
                for key, item in value.items():
                    stack.append((key, steps))
                    stack.append((item, (*steps, key)))
            elif isinstance(value, list):
                stack.extend((item, (*steps, n)) for n, item in enumerate(value))
            elif isinstance(value, str) and _UNPAIRED.search(value):
                code = ord(_UNPAIRED.findall(value)[0])
                self.problem(
                    steps,
                    f"text {value[:40]!r} holds \\u{code:04x}, an unpaired UTF-16 surrogate "
                    "escape, which is not a character",
                )
        self.builder.raise_problems()

    # -- sections ------------------------------------------------------------------------

    def header(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.builder.problem(
                1,
                f"the file holds {_kind(data)}, not an mtlabel label file (an object with "
                "format, version, tasks, images and labels)",
            )
            self.builder.raise_problems()
        assert isinstance(data, dict)
        if data.get("format") != FORMAT_ID:
            found = repr(data["format"]) if "format" in data else "missing"
            self.fatal(
                ("format",),
                f"not an mtlabel label file: format is {found}, expected {FORMAT_ID!r}",
            )
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.fatal(("version",), f"version must be a positive whole number, not {version!r}")
        assert isinstance(version, int)
        if version > VERSION:
            self.fatal(
                ("version",),
                f"written by a newer mtlabel (label file version {version}; this mtlabel "
                f"reads version {VERSION}): upgrade mtlabel to import it",
            )
        for key in ("tasks", "images", "labels"):
            if key in data and not isinstance(data[key], list):
                self.fatal((key,), f"must be a list, not {_kind(data[key])}")
        if "labels" not in data:
            self.fatal((), "no labels list")
        return data

    def tasks(self, entries: list[Any]) -> None:
        seen: dict[str, int] = {}
        for n, entry in enumerate(entries):
            steps: tuple[Step, ...] = ("tasks", n)
            if not isinstance(entry, dict):
                self.problem(steps, f"a task must be an object, not {_kind(entry)}")
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                self.problem(steps, "a task needs a name (text)")
                continue
            if name.strip().lower() in seen:
                first = seen[name.strip().lower()]
                self.problem(
                    steps,
                    f"task {name!r} is listed twice (also tasks[{first}], line "
                    f"{self.locate.line('tasks', first)})",
                )
                continue
            seen[name.strip().lower()] = n
            position = entry.get("position")
            if position is not None and (
                isinstance(position, bool) or not isinstance(position, int | float)
            ):
                self.problem((*steps, "position"), f"position must be a number, not {position!r}")
                position = None
            colour_value = entry.get("colour")
            colour: str | None = None
            colour_given = "colour" in entry
            if colour_value is not None and not isinstance(colour_value, str):
                self.problem(
                    (*steps, "colour"), f"colour must be text or null, not {_kind(colour_value)}"
                )
            elif colour_value is not None:
                try:
                    colour = validate_colour(colour_value)
                except UserError as exc:
                    self.problem((*steps, "colour"), str(exc))
            archived = entry.get("archived", False)
            if not isinstance(archived, bool):
                self.problem(
                    (*steps, "archived"), f"archived must be true or false, not {archived!r}"
                )
                archived = False
            key = self.builder.tasks.resolve(name, 0)
            self.builder.tasks_seen.add(key)
            new = self.builder.tasks.new_task(key)
            if new is not None:
                if new.line == 0 and new.find_line is None:
                    new.find_line = self._line_finder(steps)
                new.position = position if position is not None else new.position
                new.colour = colour
                new.colour_given = colour_given
                new.archived = archived

    def images(self, entries: list[Any]) -> tuple[list[int | None], list[bool], dict[str, int]]:
        """Project image id per entry (None: unknown or bad), known-unknown flags, hash → entry."""
        ids: list[int | None] = []
        unknown: list[bool] = []
        by_hash: dict[str, int] = {}
        for n, entry in enumerate(entries):
            steps: tuple[Step, ...] = ("images", n)
            ids.append(None)
            unknown.append(False)
            if not isinstance(entry, dict):
                self.problem(steps, f"an image must be an object, not {_kind(entry)}")
                continue
            fields = {
                key: self.optional_text(entry, key, steps)
                for key in ("content_hash", "path", "rel_path", "name")
            }
            if not any(fields.values()):
                self.problem(steps, "an image needs a content_hash, path, rel_path or name")
                continue
            content_hash = fields["content_hash"]
            if content_hash:
                by_hash.setdefault(content_hash.strip().lower(), n)
            match = self._match(fields)
            shown = fields["path"] or fields["rel_path"] or fields["name"] or content_hash or ""
            # Lines are costly to find (a second parse): only where the image needs a report.
            line = 0 if match.found else self.locate.line(*steps)
            ids[n] = self.builder.image(shown, line, match, row=False)
            unknown[n] = not (match.found or match.ambiguous or self.builder.options.strict_images)
        return ids, unknown, by_hash

    def _match(self, fields: dict[str, str | None]) -> Match:
        index = self.builder.index
        content_hash = fields["content_hash"]
        if content_hash:
            found = index.find_by_hash(content_hash)
            if found is not None:
                return Match(found, rule="content_hash")
        path = fields["path"]
        if path:
            exact = index.find(path, suffixes=False)
            if exact.found or exact.ambiguous:
                return exact
        for key in ("rel_path", "name"):
            name = fields[key]
            if name:
                match = index.find(name)
                if match.found or match.ambiguous:
                    return match
        return NOT_FOUND

    def labels(
        self,
        entries: list[Any],
        image_ids: list[int | None],
        unknown: list[bool],
        by_hash: dict[str, int],
    ) -> None:
        builder = self.builder
        for n, entry in enumerate(entries):
            steps: tuple[Step, ...] = ("labels", n)
            builder.summary.rows_read += 1
            if not isinstance(entry, dict):
                self.problem(steps, f"a label must be an object, not {_kind(entry)}")
                continue
            bad = False
            image = entry.get("image")
            image_id: int | None = None
            if isinstance(image, int) and not isinstance(image, bool):
                if not 0 <= image < len(image_ids):
                    valid = f"0 to {len(image_ids) - 1}" if image_ids else "the list is empty"
                    self.problem(
                        (*steps, "image"), f"image {image} is not an index into images ({valid})"
                    )
                    continue
                if unknown[image]:
                    builder.summary.rows_skipped += 1
                    continue
                image_id = image_ids[image]
                if image_id is None:
                    continue  # the image entry has its own problem
            elif isinstance(image, str) and image.strip():
                entry_index = by_hash.get(image.strip().lower())
                if entry_index is not None:
                    if unknown[entry_index]:
                        builder.summary.rows_skipped += 1
                        continue
                    image_id = image_ids[entry_index]
                    if image_id is None:
                        continue
                else:
                    found = builder.index.find_by_hash(image)
                    match = Match(found, rule="content_hash") if found is not None else NOT_FOUND
                    image_id = builder.image(image, self.locate.line(*steps), match)
                    if image_id is None:
                        continue
            else:
                self.problem(
                    steps, "a label needs an image: an index into images, or a content hash"
                )
                continue
            task = entry.get("task")
            if not isinstance(task, str) or not task.strip():
                self.problem(steps, "a label needs a task name (text)")
                bad = True
            value = entry.get("value", _MISSING)
            cell_value: CellValue = None
            if value is _MISSING:
                self.problem(steps, "a label needs a value: 1, 0 or null")
                bad = True
            elif value is None or (type(value) is int and value in (0, 1)):
                cell_value = value
            else:
                self.problem((*steps, "value"), f"value {value!r} is not 1, 0 or null")
                bad = True
            annotator = self.optional_text(entry, "annotator", steps)
            if annotator is not None and (
                not annotator.strip() or len(annotator) > MAX_NAME_LENGTH
            ):
                self.problem(
                    (*steps, "annotator"),
                    f"annotator must be 1 to {MAX_NAME_LENGTH} characters, not {annotator!r}",
                )
                bad = True
            elif annotator is not None and any(ord(c) < 32 or ord(c) == 127 for c in annotator):
                # As for task names; PostgreSQL cannot even store a NUL.
                self.problem(
                    (*steps, "annotator"), f"annotator {annotator!r} contains control characters"
                )
                bad = True
            time_text = self.optional_text(entry, "time", steps)
            time: datetime | None = None
            if time_text is not None:
                try:
                    time = parse_time(time_text)
                except ValueError:
                    self.problem(
                        (*steps, "time"),
                        f"time {time_text!r} is not an ISO 8601 date and time "
                        "(e.g. 2024-05-01T12:00:00Z)",
                    )
                    bad = True
                except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is in the year 10000
                    self.problem(
                        (*steps, "time"),
                        f"time {time_text!r} is out of range: in UTC it falls outside "
                        "the years 1 to 9999",
                    )
                    bad = True
            if bad or not isinstance(task, str):
                continue
            key = builder.tasks.resolve(task, 0)
            new = builder.tasks.new_task(key)
            if new is not None and new.line == 0 and new.find_line is None:
                new.find_line = self._line_finder(steps)
            # A JSON cell's "line" is its entry's index + 1, to find it again for messages.
            earlier = builder.cell(image_id, key, cell_value, n + 1, annotator, time)
            if earlier is not None:
                first = earlier.line - 1
                self.problem(
                    steps,
                    f"task {task!r} of this image is {show_value(cell_value)} here but "
                    f"{show_value(earlier.value)} in labels[{first}] "
                    f"(line {self.locate.line('labels', first)})",
                )


class _Missing:
    pass


_MISSING: Any = _Missing()


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read(path: str | os.PathLike[str], builder: ImportBuilder) -> None:
    shown = os.fspath(path)
    text = read_text(path)
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as exc:
        line = Locator(text).duplicate_line()  # the slower parse that knows positions
        raise LabelFileError(
            shown,
            [
                f"{f'line {line}: ' if line else ''}an object holds the key {exc.key!r} "
                "twice; which of the two values is meant is unclear"
            ],
        ) from None
    except json.JSONDecodeError as exc:
        raise LabelFileError(
            shown, [f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"]
        ) from None
    except RecursionError:
        raise LabelFileError(shown, ["the JSON is nested too deeply"]) from None
    except ValueError:  # Python refuses to read integers of over 4300 digits
        raise LabelFileError(
            shown, [f"a number has more than {sys.get_int_max_str_digits()} digits"]
        ) from None
    reader = _Reader(shown, text, builder)
    if _SURROGATE_ESCAPE.search(text):
        reader.unpaired_surrogates(data)
    data = reader.header(data)
    reader.tasks(data.get("tasks", []))
    image_ids, unknown, by_hash = reader.images(data.get("images", []))
    reader.labels(data["labels"], image_ids, unknown, by_hash)


def write(stream: TextIO, snapshot: ExportSnapshot, summary: LabelExportSummary) -> None:
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    stream.write("{\n")
    stream.write(f'  "format": {dump(FORMAT_ID)},\n')
    stream.write(f'  "version": {VERSION},\n')
    stream.write(f'  "exported_at": {dump(iso_utc(datetime.now(UTC)))},\n')
    _write_list(
        stream,
        "tasks",
        (
            dump(
                {
                    "name": t.name,
                    "position": position,
                    "colour": t.colour,
                    "archived": t.archived,
                }
            )
            for position, t in enumerate(snapshot.tasks)
        ),
    )
    stream.write(",\n")
    index_of = {image.id: n for n, image in enumerate(snapshot.images)}
    _write_list(
        stream,
        "images",
        (
            dump(
                {
                    "path": r.path,
                    "rel_path": r.rel_path,
                    "name": r.name,
                    "content_hash": r.content_hash,
                    "width": r.width,
                    "height": r.height,
                }
            )
            for r in snapshot.images
        ),
    )
    stream.write(",\n")

    def label_lines() -> Any:
        for image in snapshot.images:
            row = snapshot.labels.get(image.id, {})
            for task in snapshot.tasks:
                label = row.get(task.id)
                if label is None:
                    continue
                summary.cells += 1
                yield dump(
                    {
                        "image": index_of[image.id],
                        "task": task.name,
                        "value": label.value,
                        "annotator": label.annotator,
                        "time": iso_utc(label.updated_at),
                    }
                )

    _write_list(stream, "labels", label_lines())
    stream.write("\n}\n")
    summary.images = len(snapshot.images)
    summary.tasks = len(snapshot.tasks)


def _write_list(stream: TextIO, key: str, items: Any) -> None:
    stream.write(f'  "{key}": [')
    first = True
    for item in items:
        stream.write("\n    " if first else ",\n    ")
        stream.write(item)
        first = False
    stream.write("\n  ]" if not first else "]")
