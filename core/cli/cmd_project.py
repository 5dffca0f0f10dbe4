"""Subcommands about the project itself: init, tasks, import, check, stats, demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import tasks as task_store
from core.cli.output import emit_json, say, table, warn
from core.project import Project

Handler = Callable[[argparse.Namespace], int]

Subparsers = Any  # argparse's private _SubParsersAction


def register(sub: Subparsers) -> None:
    p = sub.add_parser("init", help="create a project folder with its tasks")
    p.add_argument("path", help="project folder (created if needed)")
    p.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="NAME",
        help="a task (binary question); repeat for several",
    )
    p.add_argument("--db-url", help="SQLAlchemy URL of the database (default: SQLite in PATH)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run_init)

    tasks = sub.add_parser("tasks", help="list, add, rename, archive or reorder tasks")
    tsub = tasks.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")

    def action(
        name: str, summary: str, *arguments: str, handler: Handler
    ) -> argparse.ArgumentParser:
        t: argparse.ArgumentParser = tsub.add_parser(name, help=summary)
        t.add_argument("path")
        for argument in arguments:
            t.add_argument(argument)
        t.add_argument("--json", action="store_true")
        t.set_defaults(handler=handler)
        return t

    t = action("list", "list tasks in order", handler=_changing_tasks(None))
    t.add_argument("--all", action="store_true", help="include archived tasks")
    t = action(
        "add",
        "add tasks at the end",
        handler=_changing_tasks(lambda project, a: task_store.add_tasks(project, a.names)),
    )
    t.add_argument("names", nargs="+", metavar="NAME")
    action(
        "rename",
        "rename a task (labels are kept)",
        "old",
        "new",
        handler=_changing_tasks(lambda project, a: task_store.rename_task(project, a.old, a.new)),
    )
    t = action(
        "archive",
        "hide a task from labelling and training (labels kept)",
        "name",
        handler=_changing_tasks(
            lambda project, a: task_store.archive_task(project, a.name, archived=not a.undo),
            show_archived=True,
        ),
    )
    t.add_argument("--undo", action="store_true", help="bring an archived task back")
    t = action(
        "move",
        "move a task to a position (0 = first)",
        "name",
        handler=_changing_tasks(lambda project, a: task_store.move_task(project, a.name, a.index)),
    )
    t.add_argument("index", type=int)
    action(
        "colour",
        "set a task's colour (#rrggbb)",
        "name",
        "colour",
        handler=_changing_tasks(
            lambda project, a: task_store.set_task_colour(project, a.name, a.colour)
        ),
    )

    p = sub.add_parser("import", help="import image files or folders (recursive)")
    p.add_argument("path", help="project folder")
    p.add_argument("sources", nargs="+", metavar="FOLDER_OR_FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_import)

    p = sub.add_parser("check", help="re-check image files: mark missing, changed or back")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_check)

    p = sub.add_parser("stats", help="images and label counts per task")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_stats)

    p = sub.add_parser("gui", help="open the window (optionally on a project)")
    p.add_argument("path", nargs="?", help="project folder")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the window, then quit")
    p.set_defaults(handler=run_gui)

    p = sub.add_parser("demo", help="create a demo project of generated street scenes")
    p.add_argument("path", help="new project folder")
    p.add_argument("--images", type=int, default=400, help="number of images (default 400)")
    p.add_argument(
        "--unknown",
        type=float,
        default=0.5,
        metavar="FRACTION",
        help="fraction of cells left unknown (default 0.5)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--exist-ok", action="store_true", help="if PATH already holds a project, leave it as it is"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_demo)


# -- init and tasks ------------------------------------------------------------------


def run_init(args: argparse.Namespace) -> int:
    with Project.create(args.path, tasks=args.task, database_url=args.db_url) as project:
        tasks = task_store.list_tasks(project)
        if args.json:
            emit_json({"project": str(project.root), "tasks": tasks})
        else:
            names = ", ".join(t.name for t in tasks) or "none yet"
            say(f"created project {project.root} (tasks: {names})")
    return 0


def _print_tasks(args: argparse.Namespace, project: Project) -> int:
    tasks = task_store.list_tasks(project, include_archived=getattr(args, "all", False))
    if args.json:
        emit_json(tasks)
        return 0
    rows = [
        [str(i), t.name, t.colour or "", "archived" if t.archived else ""]
        for i, t in enumerate(tasks)
    ]
    say(table(rows, ["#", "task", "colour", ""]))
    return 0


def _changing_tasks(
    change: Callable[[Project, argparse.Namespace], object] | None, show_archived: bool = False
) -> Handler:
    """A ``tasks`` action: make the change (if any), then list the tasks as ``list`` does
    (archived ones too after ``archive``, so that the change can be seen)."""

    def run(args: argparse.Namespace) -> int:
        with Project.open(args.path) as project:
            if change is not None:
                change(project, args)
            if show_archived:
                args.all = True
            return _print_tasks(args, project)

    return run


# -- images ----------------------------------------------------------------------------


class _ProgressLine:
    """A one-line progress counter on stderr when it is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.active = sys.stderr.isatty()
        self.last = -1

    def update(self, done: int, total: int) -> None:
        if not self.active or done == self.last:
            return
        if done % 50 == 0 or done == total:
            self.last = done
            sys.stderr.write(f"\r{self.label} {done}/{total}")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.active and self.last >= 0:
            sys.stderr.write("\n")


def run_import(args: argparse.Namespace) -> int:
    from core.images.importer import ImportProgress, import_images

    line = _ProgressLine("importing")

    def progress(p: ImportProgress) -> None:
        line.update(p.done, p.total)

    with Project.open(args.path) as project:
        try:
            summary = import_images(project, args.sources, progress=progress)
        finally:
            line.finish()
    if args.json:
        emit_json(summary)
        return 0
    say(
        f"added {len(summary.added)}, duplicates {len(summary.duplicates)}, "
        f"skipped {len(summary.skipped)}, already imported {summary.unchanged}"
    )
    for path, reason in summary.skipped:
        warn(f"  skipped {path}: {reason}")
    if summary.ignored:
        say(f"  {summary.ignored_text()}")
    for path, existing in summary.duplicates:
        warn(f"  duplicate {path} (same content as {existing})")
    for old, new in summary.moved:
        say(f"  moved {old} -> {new} (labels kept)")
    for path in summary.changed:
        say(f"  changed {path} (labels kept)")
    for path in summary.marked_missing:
        warn(f"  missing {path} (labels kept)")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from core.images.importer import check_images

    with Project.open(args.path) as project:
        summary = check_images(project)
    if args.json:
        emit_json(summary)
        return 0
    say(f"{summary.ok} images ok, {summary.missing} missing, {summary.unreadable} unreadable")
    for path in summary.newly_missing:
        warn(f"  now missing: {path} (labels kept)")
    for path in summary.back:
        say(f"  back: {path}")
    for path, reason in summary.newly_unreadable:
        warn(f"  now unreadable: {path}: {reason} (labels kept)")
    for path in summary.changed:
        say(f"  changed since import: {path} (labels kept)")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from core.stats import project_stats

    with Project.open(args.path) as project:
        stats = project_stats(project)
    if args.json:
        emit_json(stats)
        return 0
    status = ", ".join(f"{n} {s}" for s, n in stats.image_status.items() if n)
    say(f"{stats.project}: {stats.images} images" + (f" ({status})" if status else ""))
    rows = []
    for c in stats.tasks:
        share = f"{100 * c.known / stats.images:.0f}%" if stats.images else "-"
        rows.append([c.name, str(c.present), str(c.absent), str(c.unknown), share])
    if rows:
        say(table(rows, ["task", "present", "absent", "unknown", "known"]))
    else:
        say("no tasks yet: add some with 'mtlabel tasks add'")
    for w in stats.warnings:
        warn(f"warning: {w}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from core.demo import create_demo
    from core.project import PROJECT_FILE

    if args.exist_ok and (Path(args.path).expanduser() / PROJECT_FILE).exists():
        with Project.open(args.path) as project:
            say(f"{project.root} already holds a project; left as it is")
        return 0
    line = _ProgressLine("generating")
    try:
        summary = create_demo(
            args.path,
            images=args.images,
            unknown_fraction=args.unknown,
            seed=args.seed,
            progress=line.update,
        )
    finally:
        line.finish()
    if args.json:
        emit_json(summary)
    else:
        say(
            f"created demo project {summary.project}: {summary.images} images, tasks "
            f"{', '.join(summary.tasks)}; {summary.known_cells} cells labelled, "
            f"{summary.unknown_cells} left unknown (truth in {summary.truth_file})"
        )
    return 0


def run_gui(args: argparse.Namespace) -> int:
    """Start the window in its own interpreter: core never imports Qt itself."""
    import os

    command = [sys.executable, "-m", "app"]
    if args.path:
        command.append(os.path.abspath(os.path.expanduser(args.path)))
    if args.screenshot:
        command += ["--screenshot", args.screenshot]
    sys.stdout.flush()
    os.execv(sys.executable, command)
