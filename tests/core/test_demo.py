"""The demo project generator: scenes that can be learnt, labels that match the truth."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select

import core.demo.project as demo_project
from core.db.models import Image, Label, Task
from core.demo import DEMO_TASKS, create_demo, draw_scene, read_truth
from core.errors import ProjectError, UserError
from core.project import Project

# -- scenes without a project -------------------------------------------------------


def test_draw_scene_gives_an_rgb_image_and_a_truth_for_every_task() -> None:
    image, truth = draw_scene(np.random.default_rng(1), (96, 72))
    assert image.size == (96, 72)
    assert image.mode == "RGB"
    assert list(truth) == list(DEMO_TASKS)
    assert set(truth.values()) <= {0, 1}


def test_draw_scene_is_deterministic_for_both_kinds_of_generator() -> None:
    a, truth_a = draw_scene(np.random.default_rng(5))
    b, truth_b = draw_scene(np.random.default_rng(5))
    c, _ = draw_scene(np.random.default_rng(6))
    assert a.tobytes() == b.tobytes() and truth_a == truth_b
    assert a.tobytes() != c.tobytes()
    d, truth_d = draw_scene(random.Random(5))
    e, truth_e = draw_scene(random.Random(5))
    assert d.tobytes() == e.tobytes() and truth_d == truth_e


@pytest.mark.parametrize("size", [(32, 32), (40, 300), (300, 40)])
def test_draw_scene_copes_with_small_and_narrow_sizes(size: tuple[int, int]) -> None:
    for seed in range(10):
        image, _ = draw_scene(np.random.default_rng(seed), size)
        assert image.size == size


@pytest.mark.parametrize("size", [(31, 100), (100, 2000), (100.0, 100)])
def test_draw_scene_refuses_a_bad_size(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="size"):
        draw_scene(np.random.default_rng(0), size)


def _scenes(n: int, seed: int = 11) -> tuple[list[npt.NDArray[np.uint8]], npt.NDArray[np.int_]]:
    pixels, truth = [], []
    for i in range(n):
        image, cells = draw_scene(np.random.default_rng([seed, i]))
        pixels.append(np.asarray(image))
        truth.append([cells[t] for t in DEMO_TASKS])
    return pixels, np.array(truth)


def test_tasks_are_roughly_balanced_and_some_images_are_empty() -> None:
    _, truth = _scenes(300)
    rates = truth.mean(axis=0)
    assert all(0.25 <= r <= 0.5 for r in rates), rates
    nothing = (truth.sum(axis=1) == 0).mean()
    assert 0.04 <= nothing <= 0.25, nothing
    # Independent tasks: every pair occurs together in some images.
    for i in range(len(DEMO_TASKS)):
        for j in range(i + 1, len(DEMO_TASKS)):
            assert (truth[:, i] & truth[:, j]).sum() > 10


def _colour_statistics(image: npt.NDArray[np.uint8]) -> dict[str, float]:
    """One simple colour statistic per task: the share of pixels of its typical colour."""
    a = image.astype(np.int16)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    top, low = a.max(axis=-1), a.min(axis=-1)
    saturation = (top - low) / np.maximum(top, 1)
    hue = (g - b) / np.maximum(r - b, 1)  # 0 = red … 1 = yellow, when r >= g >= b
    skin = (r >= g) & (g >= b) & (hue > 0.17) & (hue < 0.6)
    skin &= (saturation > 0.28) & (saturation < 0.65) & (top > 80)
    return {
        "pedestrian": float(skin.mean()),  # faces and hands
        "car": float(((saturation > 0.55) & (top > 110)).mean()),  # vivid paint
        "stop sign": float(((r > 150) & (g < 90) & (b < 90)).mean()),  # signal red
        "traffic light": float((top < 45).mean()),  # the near-black housing
    }


def _auc(present: npt.NDArray[np.float64], absent: npt.NDArray[np.float64]) -> float:
    """How often an image with the task scores above one without it (ties count half)."""
    higher = (present[:, None] > absent[None, :]).mean()
    tied = (present[:, None] == absent[None, :]).mean()
    return float(higher + tied / 2)


def test_each_task_is_visible_in_a_simple_colour_statistic() -> None:
    """The objects are really drawn: images with a task differ from images without it.

    Compared by rank (ROC-AUC of the statistic), which a few odd backgrounds
    (a pink dusk sky is skin-coloured) cannot swamp, and by mean.
    """
    pixels, truth = _scenes(300)
    stats = [_colour_statistics(p) for p in pixels]
    for j, task in enumerate(DEMO_TASKS):
        values = np.array([s[task] for s in stats])
        present, absent = values[truth[:, j] == 1], values[truth[:, j] == 0]
        auc = _auc(present, absent)
        summary = f"{task}: present {present.mean():.4f}, absent {absent.mean():.4f}, AUC {auc:.2f}"
        assert present.mean() > absent.mean(), summary
        assert auc > 0.65, summary


# -- whole demo projects ---------------------------------------------------------------


def _project_cells(root: Path) -> tuple[list[str], dict[str, str], dict[tuple[str, str], int]]:
    """Task names, rel_path of every image by file name, and the known cells."""
    with Project.open(root) as project, project.transaction() as session:
        tasks = list(session.scalars(select(Task.name).order_by(Task.position)))
        images = {name: rel for name, rel in session.execute(select(Image.name, Image.rel_path))}
        cells = {
            (rel, task): value
            for rel, task, value in session.execute(
                select(Image.rel_path, Task.name, Label.value)
                .join(Image, Image.id == Label.image_id)
                .join(Task, Task.id == Label.task_id)
            )
        }
    return tasks, images, cells


def test_a_small_demo_project_matches_its_truth(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    summary = create_demo(
        tmp_path / "demo",
        images=40,
        unknown_fraction=0.4,
        seed=3,
        progress=lambda d, t: calls.append((d, t)),
    )
    root = tmp_path / "demo"
    assert summary.project == str(root)
    assert summary.images == 40
    assert summary.tasks == list(DEMO_TASKS)
    assert summary.known_cells + summary.unknown_cells == 160
    assert summary.unknown_cells == 64
    assert Path(summary.truth_file) == root / "demo" / "truth.csv"
    files = sorted(p.name for p in (root / "demo" / "images").iterdir())
    assert files == [f"scene_{i:05d}.jpg" for i in range(40)]

    tasks, images, cells = _project_cells(root)
    assert tasks == list(DEMO_TASKS)
    assert sorted(images) == files
    assert all(images[name] == name for name in files)  # rel_path under demo/images
    truth = read_truth(root)
    assert sorted(truth) == files
    assert len(cells) == summary.known_cells
    for (rel, task), value in cells.items():
        assert truth[rel][task] == value, (rel, task)
    # Known cells are spread over the tasks and the images, not bunched together.
    for task in DEMO_TASKS:
        known = sum(1 for (_, t) in cells if t == task)
        assert 12 <= known <= 36, (task, known)
    # Every task is present in some images and absent in others.
    for task in DEMO_TASKS:
        assert 0 < sum(row[task] for row in truth.values()) < 40

    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1]
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))
    assert len({t for _, t in calls}) == 1

    with Project.open(root) as project, project.transaction() as session:
        sources = set(session.scalars(select(Label.source)))
    assert sources == {"import"}


def test_unknown_fraction_is_close_to_the_one_asked_for(tmp_path: Path) -> None:
    summary = create_demo(tmp_path / "p", images=30, unknown_fraction=0.7, seed=1)
    _, _, cells = _project_cells(tmp_path / "p")
    assert abs(1 - len(cells) / 120 - 0.7) < 0.01
    assert summary.unknown_cells == 120 - len(cells)


def _image_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "demo" / "images").iterdir())}


def test_same_seed_gives_the_same_demo_and_another_seed_another(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        create_demo(tmp_path / name, images=12, seed=seed, size=(64, 48))
    a, b, c = (tmp_path / n for n in "abc")
    assert read_truth(a) == read_truth(b)
    assert _image_bytes(a) == _image_bytes(b)
    assert _project_cells(a)[2] == _project_cells(b)[2]
    assert _image_bytes(a) != _image_bytes(c)
    assert read_truth(a) != read_truth(c) or _project_cells(a)[2] != _project_cells(c)[2]


@pytest.mark.parametrize(("fraction", "known"), [(0, 48), (0.0, 48), (1, 0), (1.0, 0)])
def test_unknown_fraction_at_its_ends(tmp_path: Path, fraction: float, known: int) -> None:
    summary = create_demo(tmp_path / "p", images=12, unknown_fraction=fraction, size=(64, 48))
    assert summary.known_cells == known
    assert summary.unknown_cells == 48 - known
    assert len(_project_cells(tmp_path / "p")[2]) == known
    assert len(read_truth(tmp_path / "p")) == 12


@pytest.mark.parametrize(
    "arguments",
    [
        {"images": 0},
        {"images": -3},
        {"images": 2.5},
        {"images": True},
        {"images": "10"},
        {"unknown_fraction": -0.1},
        {"unknown_fraction": 1.01},
        {"unknown_fraction": float("nan")},
        {"unknown_fraction": "half"},
        {"seed": 1.5},
        {"size": (10, 10)},
        {"size": (160,)},
        {"size": (5000, 120)},
    ],
)
def test_bad_arguments_are_refused_before_anything_is_made(
    tmp_path: Path, arguments: dict[str, object]
) -> None:
    with pytest.raises(UserError):
        create_demo(tmp_path / "p", **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "p").exists()


def test_an_existing_project_is_refused_and_left_alone(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", tasks=["mine"]):
        pass
    before = sorted(p.name for p in (tmp_path / "p").iterdir())
    with pytest.raises(ProjectError, match="already holds"):
        create_demo(tmp_path / "p", images=3)
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == before
    with Project.open(tmp_path / "p") as project, project.transaction() as session:
        assert list(session.scalars(select(Task.name))) == ["mine"]


def test_an_existing_demo_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p" / "demo").mkdir(parents=True)
    with pytest.raises(UserError, match="already exists"):
        create_demo(tmp_path / "p", images=3)
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["demo"]


def test_a_failure_midway_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_import(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(demo_project, "import_images", broken_import)
    with pytest.raises(OSError, match="disk full"):
        create_demo(tmp_path / "new" / "p", images=3)
    assert not (tmp_path / "new").exists()

    # In a folder that was there before, only what the demo made is removed.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(OSError, match="disk full"):
        create_demo(tmp_path / "mine", images=3)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_read_truth_explains_a_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_truth(tmp_path)
    (tmp_path / "demo").mkdir()
    truth = tmp_path / "demo" / "truth.csv"
    truth.write_text("image,car\na.jpg,2\n")
    with pytest.raises(UserError, match="line 2"):
        read_truth(tmp_path)
    truth.write_text("name,car\n")
    with pytest.raises(UserError, match="first line"):
        read_truth(tmp_path)
    truth.write_text("image,car,stop sign\na.jpg,1,0\nb.jpg,0,1\n")
    assert read_truth(tmp_path) == {
        "a.jpg": {"car": 1, "stop sign": 0},
        "b.jpg": {"car": 0, "stop sign": 1},
    }


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p").write_text("not a folder")
    with pytest.raises(ProjectError, match="not a folder"):
        create_demo(tmp_path / "p", images=3)
    assert (tmp_path / "p").read_text() == "not a folder"
