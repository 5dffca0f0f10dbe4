"""``mtlabel labels``: move labels in and out of a project, set single cells."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.output import emit_json, say, warn
from core.project import Project

FORMAT_CHOICES = ("csv", "openimages", "chexpert", "json")


def register(sub: Any) -> None:
    labels = sub.add_parser("labels", help="import, export or set labels")
    lsub = labels.add_subparsers(dest="labels_command", required=True, metavar="ACTION")

    p = lsub.add_parser("import", help="import a label file (all or nothing)")
    p.add_argument("path", help="project folder")
    p.add_argument("file")
    p.add_argument("--format", required=True, choices=FORMAT_CHOICES)
    p.add_argument(
        "--create-tasks",
        action="store_true",
        help="create tasks the file names that the project lacks",
    )
    p.add_argument(
        "--uncertain",
        choices=("unknown", "present", "absent"),
        default="unknown",
        help="chexpert: what -1.0 (uncertain) becomes (default unknown)",
    )
    p.add_argument(
        "--overwrite-unknown",
        action="store_true",
        help="an unknown cell in the file clears an existing label",
    )
    p.add_argument(
        "--strict-images",
        action="store_true",
        help="rows for images not in the project are errors, not skipped",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_labels_import)

    p = lsub.add_parser("export", help="export the labels")
    p.add_argument("path", help="project folder")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--format", required=True, choices=FORMAT_CHOICES)
    p.add_argument(
        "--include-archived",
        action="store_true",
        help="also archived tasks (always on for --format json)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_labels_export)

    p = lsub.add_parser("set", help="set one cell: present, absent or unknown")
    p.add_argument("path", help="project folder")
    p.add_argument("image", help="image path as imported (relative), or its file name")
    p.add_argument("task")
    p.add_argument("state", choices=("present", "absent", "unknown", "1", "0", "?"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_labels_set)


def run_labels_import(args: argparse.Namespace) -> int:
    from core.formats import import_labels

    with Project.open(args.path) as project:
        summary = import_labels(
            project,
            args.file,
            args.format,
            create_tasks=args.create_tasks,
            uncertain=args.uncertain,
            overwrite_with_unknown=args.overwrite_unknown,
            strict_images=args.strict_images,
        )
    if args.json:
        emit_json(summary)
        return 0
    say(
        f"{summary.rows} rows read: {summary.cells_set} cells set, "
        f"{summary.cells_unchanged} unchanged"
        + (f"; created tasks {', '.join(summary.tasks_created)}" if summary.tasks_created else "")
    )
    if summary.unknown_images:
        warn(f"{len(summary.unknown_images)} rows name images not in the project (skipped):")
        for line, name in summary.unknown_images[:20]:
            warn(f"  line {line}: {name}")
    return 0


def run_labels_export(args: argparse.Namespace) -> int:
    from core.formats import export_labels

    with Project.open(args.path) as project:
        summary = export_labels(
            project,
            args.output,
            args.format,
            # JSON is the lossless format: it carries archived tasks unless told otherwise.
            include_archived=args.include_archived or args.format == "json",
        )
    if args.json:
        emit_json(summary)
    else:
        say(
            f"wrote {args.output}: {summary.images} images, {summary.tasks} tasks, "
            f"{summary.cells} known cells"
        )
    return 0


def run_labels_set(args: argparse.Namespace) -> int:
    from core.formats.matching import find_image
    from core.labels import set_label
    from core.tasks import get_task

    value = {"present": 1, "1": 1, "absent": 0, "0": 0, "unknown": None, "?": None}[args.state]
    with Project.open(args.path) as project:
        image_id = find_image(project, args.image)
        task = get_task(project, args.task)
        change = set_label(project, image_id, task.id, value)
    if args.json:
        emit_json({"changed": change is not None, "change": change})
    else:
        say(f"{args.image}: {task.name} = {args.state}" + ("" if change else " (unchanged)"))
    return 0
