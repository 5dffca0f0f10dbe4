"""Evaluation sets of several kinds, each a project with a hidden truth.

    from benchmarks.eval_sets import KINDS, make_set
    make_set("digits", folder, images=2000, known=0.5, seed=7)

Kinds (none downloads anything):

* ``scenes``: ``mtlabel demo``'s drawn street scenes (four tasks, RGB, 160 × 120);
* ``photos``: ``photo_set.py``'s photographs composited on photographed textures
  (five tasks, RGB, 224 × 168);
* ``digits``: ``digit_set.py``'s grayscale composites of hand-drawn-looking digits
  (ten tasks, 64 × 64, not photographic).

Every set has the demo's layout (``demo/images``, ``demo/truth.csv``) so that
``core.demo.read_truth`` reads its truth; a share ``known`` of the image × task
cells holds the truth, the rest is unknown, drawn at random with ``seed``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import runs
from core.demo import create_demo, read_truth
from core.demo.project import TRUTH_IMAGE_COLUMN, images_folder, truth_path
from core.images.importer import import_images
from core.labels import CellValue, set_cells
from core.project import Project
from core.tasks import list_tasks
from core.training.metrics import mean_ap, task_metrics
from core.training.snapshot import UNKNOWN, LabelSnapshot, take_snapshot

KINDS = ("scenes", "photos", "digits")


def write_labelled_set(
    folder: Path,
    tasks: list[str],
    truth: dict[str, dict[str, bool]],
    known: float,
    rng: np.random.Generator,
) -> None:
    """``folder``'s images (already under ``images_folder(folder)``) as a project: the
    truth file, the tasks, the images imported, a share ``known`` of the cells set."""
    with open(truth_path(folder), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([TRUTH_IMAGE_COLUMN, *tasks])
        for name, present in truth.items():
            writer.writerow([name, *(int(present[t]) for t in tasks)])
    with Project.create(folder, tasks=tasks) as project:
        import_images(project, [images_folder(folder)])
        snap = take_snapshot(project, 0.2)
        task_ids = {t.name: t.id for t in list_tasks(project)}
        cells: list[tuple[int, int, CellValue]] = []
        for item in snap.items:
            for task in tasks:
                if rng.random() < known:
                    value = int(truth[Path(item.path).name][task])
                    cells.append((item.image_id, task_ids[task], value))
        set_cells(project, cells)


def make_set(kind: str, folder: Path, images: int, known: float, seed: int) -> None:
    """Create a project of ``kind`` in the new folder ``folder``."""
    if kind == "scenes":
        create_demo(folder, images=images, unknown_fraction=1.0 - known, seed=seed)
        return
    # The sibling scripts (benchmarks/ is on sys.path when a script in it runs).
    from digit_set import create_digit_set  # type: ignore[import-not-found]
    from photo_set import create_photo_set  # type: ignore[import-not-found]

    makers: dict[str, Callable[[Path, int, float, int], None]] = {
        "photos": create_photo_set,
        "digits": create_digit_set,
    }
    if kind not in makers:
        raise SystemExit(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    makers[kind](folder, images, 1.0 - known, seed)


def truth_matrix(project: Project, snap: LabelSnapshot) -> np.ndarray:
    """(images, tasks) 0/1 int8: every cell's true value, rows as in ``snap``; checks that
    every known label of the project is the truth."""
    by_path = read_truth(project.root)
    folder = images_folder(project.root)
    truth = np.array(
        [
            [by_path[str(Path(item.path).relative_to(folder))][name] for name in snap.task_names]
            for item in snap.items
        ],
        dtype=np.int8,
    )
    known = snap.targets != UNKNOWN
    assert (snap.targets[known] == truth[known]).all(), "a known label differs from the truth"
    return truth


def hidden_map(probs: np.ndarray, snap: LabelSnapshot, truth: np.ndarray) -> float | None:
    """Mean AP of ``probs`` (rows and tasks as in ``snap``) on the cells ``snap`` did not
    know, against ``truth``; per task over its hidden cells, tasks without both classes
    among them left out."""
    scored = np.where(snap.targets == UNKNOWN, truth, UNKNOWN)
    return mean_ap(task_metrics(probs, scored, snap.task_ids, snap.task_names))


def run_probabilities(project: Project, run_id: int, snap: LabelSnapshot) -> np.ndarray:
    """A run's stored predictions, rows and tasks as in ``snap``."""
    image_ids, task_ids, probs = runs.read_predictions(project, run_id)
    r_of = {i: n for n, i in enumerate(image_ids)}
    c_of = {t: n for n, t in enumerate(task_ids)}
    rows = [r_of[item.image_id] for item in snap.items]
    cols = [c_of[t] for t in snap.task_ids]
    aligned = probs[np.ix_(rows, cols)]
    assert not np.isnan(aligned).any(), "a prediction is missing"
    return aligned


def hidden_ece(probs: np.ndarray, snap: LabelSnapshot, truth: np.ndarray) -> float | None:
    """Mean over tasks of the expected calibration error on the hidden cells."""
    from core.training.calibration import task_eces

    scored = np.where(snap.targets == UNKNOWN, truth, UNKNOWN)
    values = [v for v in task_eces(probs, scored) if v is not None]
    return float(np.mean(values)) if values else None


def uncalibrated(
    project: Project, run_id: int, snap: LabelSnapshot, probs: np.ndarray
) -> np.ndarray:
    """The network's own probabilities behind a run's stored (calibrated) ones: each
    task's Platt map inverted (identity for runs without calibration)."""
    maps = {m.task_id: m for m in runs.run_task_metrics(project, run_id)}
    out = probs.astype(np.float64).copy()
    for j, task_id in enumerate(snap.task_ids):
        m = maps.get(task_id)
        if m is None or m.calibration_slope is None:
            continue
        q = np.clip(out[:, j], 1e-6, 1 - 1e-6)
        z = (np.log(q / (1 - q)) - (m.calibration_intercept or 0.0)) / m.calibration_slope
        out[:, j] = 1 / (1 + np.exp(-z))
    return out
