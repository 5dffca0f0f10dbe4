"""Build a demo project: draw street scenes, import them and label part of the cells.

The project gets the four DEMO_TASKS. Every image × task cell is known with
probability ``1 - unknown_fraction`` (exactly that share of the cells, chosen
at random) and then holds its true value; the rest are left unknown. The full
truth of every cell is written to ``<project>/demo/truth.csv`` so that tests
and benchmarks can measure how well training recovers the hidden cells.

The same seed gives the same image files, byte for byte, and the same labels.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from core.db.models import Image
from core.demo.scenes import DEMO_TASKS, check_size, draw_scene
from core.errors import ProjectError, UserError
from core.images.importer import ImportProgress, import_images
from core.labels import CellValue, set_cells
from core.project import DB_FILE, PROJECT_FILE, Project
from core.tasks import list_tasks

DEMO_DIR = "demo"
IMAGES_DIR = "images"
TRUTH_FILE = "truth.csv"
TRUTH_IMAGE_COLUMN = "image"
DEMO_ANNOTATOR = "demo"
MAX_IMAGES = 1_000_000
JPEG_QUALITY = 90

# Separate random streams, so that the labels drawn do not change the images.
_IMAGE_STREAM = 0
_MASK_STREAM = 1

ProgressCallback = Callable[[int, int], None]


@dataclass
class DemoSummary:
    project: str
    """Absolute path of the project folder."""
    images: int
    tasks: list[str]
    known_cells: int
    unknown_cells: int
    truth_file: str
    """Absolute path of the truth CSV (every cell's true value)."""


def images_folder(project_root: str | os.PathLike[str]) -> Path:
    """Where a demo project's image files lie; truth.csv names images relative to it."""
    return Path(project_root) / DEMO_DIR / IMAGES_DIR


def truth_path(project_root: str | os.PathLike[str]) -> Path:
    return Path(project_root) / DEMO_DIR / TRUTH_FILE


def create_demo(
    path: str | os.PathLike[str],
    *,
    images: int = 400,
    unknown_fraction: float = 0.5,
    seed: int = 0,
    size: tuple[int, int] = (160, 120),
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Create a demo project at ``path`` and return what was made.

    ``size`` is (width, height) in pixels. ``progress(done, total)`` is called
    as images are drawn, then imported, then once more when the labels are in
    (``done == total``). On any error, or an interrupt, nothing is left behind:
    whatever this call created is removed again.
    """
    count, fraction, seed_value, (width, height) = _check_arguments(
        images, unknown_fraction, seed, size
    )
    folder = Path(path).expanduser().absolute()
    if folder.exists() and (
        not folder.is_dir() or (folder / PROJECT_FILE).exists() or (folder / DB_FILE).exists()
    ):
        # Project.create refuses before it changes anything, with its own message.
        Project.create(folder, tasks=DEMO_TASKS)
        raise ProjectError(f"{folder} already holds an mtlabel project")  # pragma: no cover
    if (folder / DEMO_DIR).exists():
        raise UserError(
            f"{folder / DEMO_DIR} already exists: choose an empty folder for the demo project"
        )
    undo = _Undo(folder)
    try:
        with Project.create(folder, tasks=DEMO_TASKS) as project:
            return _build(project, count, fraction, seed_value, (width, height), progress)
    except BaseException:
        undo.run()
        raise


def _check_arguments(
    images: int, unknown_fraction: float, seed: int, size: tuple[int, int]
) -> tuple[int, float, int, tuple[int, int]]:
    if isinstance(images, bool) or not isinstance(images, int | np.integer):
        raise UserError(f"the number of images must be a whole number, not {images!r}")
    if not 1 <= images <= MAX_IMAGES:
        raise UserError(f"the number of images must be 1 to {MAX_IMAGES:,}, not {images}")
    if isinstance(unknown_fraction, bool) or not isinstance(unknown_fraction, Real):
        raise UserError(f"the unknown fraction must be a number, not {unknown_fraction!r}")
    fraction = float(unknown_fraction)
    if not (math.isfinite(fraction) and 0.0 <= fraction <= 1.0):
        raise UserError(
            f"the unknown fraction must be from 0 (every cell known) to 1 (none known), "
            f"not {unknown_fraction}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise UserError(f"the seed must be a whole number, not {seed!r}")
    try:
        checked_size = check_size(size)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return int(images), fraction, int(seed), checked_size


def _seed_sequence(seed: int, *streams: int) -> np.random.SeedSequence:
    # SeedSequence takes non-negative numbers only; keep negative seeds distinct.
    return np.random.SeedSequence([int(seed < 0), abs(seed), *streams])


def _build(
    project: Project,
    count: int,
    fraction: float,
    seed: int,
    size: tuple[int, int],
    progress: ProgressCallback | None,
) -> DemoSummary:
    total = 2 * count + 1

    def report(done: int) -> None:
        if progress is not None:
            progress(done, total)

    report(0)
    folder = images_folder(project.root)
    folder.mkdir(parents=True)
    digits = max(5, len(str(count - 1)))
    names: list[str] = []
    truth: list[dict[str, int]] = []
    for index in range(count):
        rng = np.random.default_rng(_seed_sequence(seed, _IMAGE_STREAM, index))
        image, image_truth = draw_scene(rng, size)
        name = f"scene_{index:0{digits}d}.jpg"
        image.save(folder / name, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        names.append(name)
        truth.append(image_truth)
        report(index + 1)
    truth_file = truth_path(project.root)
    _write_truth(truth_file, names, truth)

    def imported(step: ImportProgress) -> None:
        if step.total > 0:
            report(count + min(count, step.done * count // step.total))

    summary = import_images(project, [folder], progress=imported)
    ids = _image_ids(project, folder, names)
    if len(ids) != count:
        missing = [n for n in names if n not in ids]
        reasons = "; ".join(f"{p}: {why}" for p, why in summary.skipped[:3])
        raise UserError(
            f"{len(missing)} demo image(s) were not imported (first: {missing[0]})"
            + (f": {reasons}" if reasons else "")
        )
    task_ids = {t.name: t.id for t in list_tasks(project)}
    known = _known_mask(seed, count, len(DEMO_TASKS), fraction)
    cells: list[tuple[int, int, CellValue]] = [
        (ids[name], task_ids[task], row[task])
        for i, (name, row) in enumerate(zip(names, truth, strict=True))
        for j, task in enumerate(DEMO_TASKS)
        if known[i, j]
    ]
    if cells:
        set_cells(project, cells, source="import", annotator=DEMO_ANNOTATOR)
    report(total)
    n_cells = count * len(DEMO_TASKS)
    return DemoSummary(
        project=str(project.root),
        images=count,
        tasks=list(DEMO_TASKS),
        known_cells=len(cells),
        unknown_cells=n_cells - len(cells),
        truth_file=str(truth_file),
    )


def _known_mask(seed: int, count: int, n_tasks: int, fraction: float) -> npt.NDArray[np.bool_]:
    """Which cells are known: exactly round(fraction · cells) unknown, at random."""
    n_cells = count * n_tasks
    n_unknown = round(fraction * n_cells)
    rng = np.random.default_rng(_seed_sequence(seed, _MASK_STREAM))
    known = np.ones(n_cells, dtype=bool)
    known[rng.permutation(n_cells)[:n_unknown]] = False
    return known.reshape(count, n_tasks)


def _image_ids(project: Project, folder: Path, names: Sequence[str]) -> dict[str, int]:
    """File name → image id for the demo images recorded in the project."""
    wanted = set(names)
    with project.transaction() as session:
        rows = session.execute(select(Image.id, Image.name, Image.path))
        found: dict[str, int] = {}
        for image_id, name, path in rows:
            if name in wanted and _same_folder(Path(path).parent, folder):
                found[name] = image_id
    return found


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a == b or a.resolve() == b.resolve()
    except OSError:
        return False


def _write_truth(path: Path, names: Sequence[str], truth: Sequence[dict[str, int]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([TRUTH_IMAGE_COLUMN, *DEMO_TASKS])
        for name, row in zip(names, truth, strict=True):
            writer.writerow([name, *(row[task] for task in DEMO_TASKS)])


def read_truth(project_root: str | os.PathLike[str]) -> dict[str, dict[str, int]]:
    """Every cell's true value: image path (relative to demo/images) → task → 0 or 1."""
    path = truth_path(Path(project_root).expanduser())
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist: is this a demo project?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read: {exc}") from exc
    if not rows or not rows[0] or rows[0][0] != TRUTH_IMAGE_COLUMN or len(rows[0]) < 2:
        raise UserError(f"{path}: the first line must be '{TRUTH_IMAGE_COLUMN},<task>,...'")
    tasks = rows[0][1:]
    truth: dict[str, dict[str, int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(rows[0]):
            raise UserError(f"{path}, line {line}: expected {len(rows[0])} fields, got {len(row)}")
        image, values = row[0], row[1:]
        if image in truth:
            raise UserError(f"{path}, line {line}: image {image!r} is listed twice")
        if any(v not in ("0", "1") for v in values):
            raise UserError(f"{path}, line {line}: values must be 0 or 1")
        truth[image] = {task: int(v) for task, v in zip(tasks, values, strict=True)}
    return truth


class _Undo:
    """Remembers what a folder held, so that everything made after can be removed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # The highest folder on the path that does not exist yet is what we make.
        self.top_made: Path | None = None
        for candidate in (folder, *folder.parents):
            if candidate.exists():
                break
            self.top_made = candidate
        self.before = set(os.listdir(folder)) if self.top_made is None else set()

    def run(self) -> None:
        if self.top_made is not None:
            shutil.rmtree(self.top_made, ignore_errors=True)
            return
        try:
            after = set(os.listdir(self.folder))
        except OSError:
            return
        for name in sorted(after - self.before):
            target = self.folder / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
