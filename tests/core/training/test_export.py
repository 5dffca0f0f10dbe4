"""Exported models: plain PyTorch (and ONNX Runtime) outside mtlabel reproduce its predictions.

A tiny run is trained on the demo project with a few awkward image files added
(EXIF-rotated and large JPEGs, a transparent PNG, greyscale, a palette GIF, an
image smaller than the input). The export is then loaded in a separate Python
process that cannot import mtlabel, which decodes the image files with
``docs/export_example.py`` (Pillow only) following the sidecar — and must get
the probabilities the program stored for the run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from core import __version__, runs
from core.cli.main import main as cli_main
from core.db.models import Image as ImageRow
from core.errors import UserError
from core.images.importer import import_images
from core.labels import list_images, set_cells
from core.project import Project
from core.tasks import add_task, list_tasks
from core.thresholds import set_user_threshold
from core.training.checkpoint import load_checkpoint, save_checkpoint
from core.training.export import EXPORT_FILES, FORMAT, export_run
from core.training.image_cache import ImageCache
from core.training.loop import train
from core.training.snapshot import take_snapshot
from tests.core.training.conftest import tiny_config

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "docs" / "export_example.py"
TOLERANCE = 1e-4

# Runs in a fresh interpreter that may not import mtlabel: decodes the images with
# the example's load_pixels, runs model.pt (and model.onnx when onnxruntime is there).
OUTSIDE = r"""
import json, runpy, sys

class NoMtlabel:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("core", "app", "tests"):
            raise ImportError(f"the exported model must not need mtlabel (imported {name})")

sys.meta_path.insert(0, NoMtlabel())
example, folder, *paths = sys.argv[1:]
load_pixels = runpy.run_path(example)["load_pixels"]
import torch
meta = json.load(open(folder + "/model.json", encoding="utf-8"))
size = meta["input"]["size"]
batch = torch.stack([load_pixels(p, size) for p in paths])
model = torch.jit.load(folder + "/model.pt")
with torch.no_grad():
    probs = model(batch)
    probs_float = model(batch.float())
out = {"probs": probs.tolist(), "float_diff": float((probs - probs_float).abs().max())}
try:
    import onnxruntime
except ImportError:
    out["onnx"] = None
else:
    if meta["files"]["onnx"]:
        session = onnxruntime.InferenceSession(folder + "/model.onnx")
        out["onnx"] = session.run(None, {"images": batch.numpy()})[0].tolist()
    else:
        out["onnx"] = None
out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("core", "app"))
print(json.dumps(out))
"""


def outside_mtlabel(folder: Path, paths: list[str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-I", "-c", OUTSIDE, str(EXAMPLE), str(folder), *paths],
        capture_output=True,
        text=True,
        cwd=folder.parent,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["modules"] == []
    return data


# -- the project ------------------------------------------------------------------


def _odd_images(folder: Path, source: Path) -> None:
    """Files whose decoding takes every step of the recipe."""
    folder.mkdir()
    scene = Image.open(source).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    scene.resize((400, 300)).save(folder / "rotated6.jpg", quality=92, exif=exif.tobytes())
    exif[0x0112] = 3
    scene.resize((333, 250)).save(folder / "rotated3.jpg", quality=92, exif=exif.tobytes())
    exif[0x0112] = 8
    scene.resize((1100, 700)).save(folder / "large8.jpg", quality=90, exif=exif.tobytes())
    scene.resize((20, 15)).save(folder / "small.jpg")
    rgba = np.array(scene.convert("RGBA"))
    rgba[:, :80, 3] = 60
    Image.fromarray(rgba).save(folder / "transparent.png")
    scene.convert("L").resize((161, 97)).save(folder / "grey.jpg")
    scene.convert("P").save(folder / "palette.gif")


@dataclass
class Trained:
    project: Project
    run_id: int
    paths: dict[int, str]
    """image id → file path."""


@pytest.fixture(scope="module")
def trained(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """The demo project with odd files added and one tiny compact run trained on it."""
    root = tmp_path_factory.mktemp("export") / "demo"
    shutil.copytree(demo_template, root, ignore=shutil.ignore_patterns("demo", "cache"))
    with Project.open(root) as project:
        with project.reading() as session:
            first = session.query(ImageRow.path).order_by(ImageRow.id).first()
        assert first is not None
        extra = root.parent / "odd images"
        _odd_images(extra, Path(first[0]))
        summary = import_images(project, [extra])
        assert len(summary.added) == 7 and not summary.skipped
        run_id = train(project, tiny_config(), lambda event: None)
        assert runs.get_run(project, run_id).status == "done"
        with project.reading() as session:
            paths = {i: p for i, p in session.query(ImageRow.id, ImageRow.path)}
        yield Trained(project, run_id, paths)


def test_the_sidecar_says_where_each_threshold_comes_from(
    demo_template: Path, tmp_path: Path
) -> None:
    """A calibrated run decides at 0.5 and says so, with each task's map; a threshold the
    user moved is exported as the user's; a checkpoint from before calibration keeps the
    old wording (a rare task's 0.5 is the default, not a maximum-F1 point)."""
    root = tmp_path / "demo"
    shutil.copytree(demo_template, root, ignore=shutil.ignore_patterns("demo", "cache"))
    with Project.open(root) as project:
        rare = add_task(project, "rare")
        images = list_images(project, order="name")
        set_cells(project, [(i, rare.id, 1 if n < 2 else 0) for n, i in enumerate(images)])
        run_id = train(project, tiny_config(epochs=1), lambda event: None)
        export_run(project, run_id, tmp_path / "m", onnx=False)
        set_user_threshold(project, run_id, rare.id, 0.3)
        export_run(project, run_id, tmp_path / "user", onnx=False)
        set_user_threshold(project, run_id, rare.id, None)
        best = project.root / str(runs.get_run(project, run_id).checkpoint)
        ckpt = load_checkpoint(best)
        del ckpt["calibration"], ckpt["format"], ckpt["version"]
        save_checkpoint(best, ckpt)
        export_run(project, run_id, tmp_path / "old", onnx=False)

    def rare_entry(folder: str) -> dict[str, Any]:
        meta = json.loads((tmp_path / folder / "model.json").read_text(encoding="utf-8"))
        (entry,) = [t for t in meta["tasks"] if t["name"] == "rare"]
        return dict(entry, kind=meta["output"]["kind"])

    entry = rare_entry("m")
    assert (entry["threshold"], entry["kind"]) == (0.5, "calibrated probabilities")
    assert entry["threshold_source"] == (
        "0.5 on calibrated probabilities: present is the more likely value"
    )
    assert entry["calibration"]["slope"] > 0
    user = rare_entry("user")
    assert (user["threshold"], user["threshold_source"]) == (
        0.3,
        "chosen by the user in the window",
    )
    old = rare_entry("old")
    present = old["validation"]["present"]
    assert present < 3
    assert (old["threshold"], old["kind"], old["calibration"]) == (0.5, "probabilities", None)
    assert old["threshold_source"] == (
        f"default 0.5: {present} present among the validation labels, too few to tune on "
        "(at least 3)"
    )


def stored(trained: Trained, run_id: int) -> tuple[list[str], np.ndarray]:
    """(file paths, the program's own probabilities for them) of a run."""
    image_ids, task_ids, probs = runs.read_predictions(trained.project, run_id)
    ckpt = load_checkpoint(
        trained.project.root / str(runs.get_run(trained.project, run_id).checkpoint)
    )
    assert task_ids == sorted(ckpt["task_ids"])
    order = [task_ids.index(t) for t in ckpt["task_ids"]]  # the model's output order
    assert not np.isnan(probs).any()
    return [trained.paths[i] for i in image_ids], probs[:, order]


# -- reproducing the program --------------------------------------------------------


def test_plain_pytorch_reproduces_the_programs_predictions(
    trained: Trained, tmp_path: Path
) -> None:
    out = tmp_path / "exported"
    summary = export_run(trained.project, trained.run_id, out)
    assert summary.out_dir == out and set(summary.files) >= {"model.pt", "model.json"}
    assert sorted(os.listdir(out)) == sorted(summary.files)
    paths, expected = stored(trained, trained.run_id)
    assert len(paths) == 87 and sum("odd images" in p for p in paths) == 7

    got = outside_mtlabel(out, paths)
    probs = np.array(got["probs"])
    assert probs.shape == expected.shape
    assert np.abs(probs - expected).max() < TOLERANCE
    assert got["float_diff"] < 1e-6, "float input with 0-255 values gives the same"
    if summary.onnx and got["onnx"] is not None:
        assert np.abs(np.array(got["onnx"]) - expected).max() < TOLERANCE


@pytest.mark.parametrize("size", [32, 64, 224])
def test_the_example_decodes_exactly_the_pixels_the_program_trains_on(
    trained: Trained, size: int
) -> None:
    """The sidecar's recipe, as the example implements it, is the image cache's."""
    load_pixels = runpy.run_path(str(EXAMPLE))["load_pixels"]
    items = take_snapshot(trained.project, 0.3).items
    items = [i for i in items if "odd images" in i.path] + items[:5]
    array, ok, _ = ImageCache(trained.project.cache_dir, size).load(items)
    assert ok.all()
    for row, item in enumerate(items):
        pixels = load_pixels(item.path, size).numpy()
        assert pixels.shape == (size, size, 3) and pixels.dtype == np.uint8
        assert np.array_equal(pixels, array[row]), f"{item.path} at {size} px"


def test_the_example_script_prints_probabilities_and_verdicts(
    trained: Trained, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    export_run(trained.project, trained.run_id, out, onnx=False)
    image = next(p for p in trained.paths.values() if p.endswith("rotated6.jpg"))
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), str(out), image],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == image
    names = [t.name for t in list_tasks(trained.project)]
    assert len(lines) == 1 + len(names)
    for name, line in zip(names, lines[1:], strict=True):
        assert line.split()[0] == name.split()[0]
        assert ("present" in line) != (" absent" in line)


# -- the sidecar ------------------------------------------------------------------


def test_the_sidecar_describes_tasks_thresholds_input_and_output(
    trained: Trained, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    summary = export_run(trained.project, trained.run_id, out, onnx=False)
    meta = json.loads((out / "model.json").read_text(encoding="utf-8"))
    info = runs.get_run(trained.project, trained.run_id)
    assert meta["format"] == FORMAT and meta["version"] == 1
    assert meta["mtlabel_version"] == __version__ and meta["torch_version"] == torch.__version__
    assert meta["created"].endswith("Z")
    assert meta["files"] == {"torchscript": "model.pt", "onnx": None}
    assert meta["run"]["id"] == trained.run_id and meta["run"]["epoch"] == info.best_epoch
    assert meta["run"]["backbone"] == "compact" and meta["run"]["mode"] == "scratch"

    tasks = list_tasks(trained.project)
    metrics = {m.task_id: m for m in runs.run_task_metrics(trained.project, trained.run_id)}
    assert [t["name"] for t in meta["tasks"]] == [t.name for t in tasks] == list(summary.tasks)
    assert [t["id"] for t in meta["tasks"]] == [t.id for t in tasks]
    assert [t["index"] for t in meta["tasks"]] == list(range(len(tasks)))
    for entry in meta["tasks"]:
        m = metrics[entry["id"]]
        assert entry["threshold"] == 0.5 == m.threshold
        assert entry["threshold_source"].startswith("0.5 on calibrated probabilities")
        fitted = m.val_present > 0 and m.val_absent > 0
        assert entry["calibration"]["ece_after"] == m.ece
        assert (entry["calibration"]["slope"], entry["calibration"]["intercept"]) == (
            pytest.approx(m.calibration_slope),
            pytest.approx(m.calibration_intercept),
        )
        if not fitted:  # nothing to fit against: the network's own probabilities
            assert (m.calibration_slope, m.calibration_intercept) == (1.0, 0.0)
        assert entry["validation"]["ap"] == m.ap
    assert meta["run"]["hidden"] == 4 * info.config["width"], "the width used, not the flag's 0"

    assert meta["input"]["size"] == 32 == summary.input_size
    assert meta["input"]["shape"] == ["N", 32, 32, 3] and meta["input"]["layout"] == "NHWC"
    assert meta["input"]["channel_order"] == "RGB" and meta["input"]["dtype"] == "uint8"
    assert meta["normalisation"]["inside_model"] is True
    assert meta["normalisation"]["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert meta["normalisation"]["std"] == pytest.approx([0.229, 0.224, 0.225])
    pre = meta["preprocessing"]
    assert pre["resize"] == "stretch" and pre["interpolation"] == "bilinear"
    assert pre["exif_orientation"] is True and pre["size"] == [32, 32]
    assert any("draft" in step for step in pre["steps"])
    assert meta["output"]["kind"] == "calibrated probabilities"
    assert "sigmoid" in meta["output"]["activation"]
    assert meta["output"]["shape"] == ["N", len(tasks)]


# -- ONNX ---------------------------------------------------------------------------


def _onnx_runs(folder: Path, expected: np.ndarray, paths: list[str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    load_pixels = runpy.run_path(str(EXAMPLE))["load_pixels"]
    size = json.loads((folder / "model.json").read_text())["input"]["size"]
    batch = np.stack([load_pixels(p, size).numpy() for p in paths])
    session = ort.InferenceSession(str(folder / "model.onnx"))
    assert session.get_inputs()[0].type == "tensor(uint8)"
    got = session.run(None, {"images": batch})[0]
    assert np.abs(got - expected).max() < TOLERANCE


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="onnx not installed")
def test_onnx_with_the_older_exporter_when_onnxscript_is_missing(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import raises ImportError
    summary = export_run(trained.project, trained.run_id, tmp_path / "m")
    assert summary.onnx and "model.onnx" in summary.files
    paths, expected = stored(trained, trained.run_id)
    _onnx_runs(tmp_path / "m", expected[:9], paths[:9])


def test_without_an_onnx_exporter_the_export_says_how_to_get_one(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    summary = export_run(trained.project, trained.run_id, tmp_path / "m")
    assert not summary.onnx and summary.files == ("model.pt", "model.json")
    assert any("pip install onnx" in note for note in summary.notes)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["files"]["onnx"] is None


# -- the pretrained backbone in instant mode ------------------------------------------


def _lite0_installed() -> bool:
    from core.training.backbones import lite0_weights_path

    return lite0_weights_path() is not None


@pytest.mark.skipif(not _lite0_installed(), reason="EfficientNet-Lite0 weights not installed")
def test_an_instant_run_on_the_pretrained_backbone_exports_whole(
    trained: Trained, tmp_path: Path
) -> None:
    """The checkpoint holds the head only; the export carries the backbone too, with its
    own normalisation, and ONNX (when installed) gives the same numbers."""
    config = tiny_config(backbone="efficientnet-lite0", mode="instant", image_size=64)
    run_id = train(trained.project, config, lambda event: None)
    assert runs.get_run(trained.project, run_id).status == "done"
    out = tmp_path / "lite0"
    summary = export_run(trained.project, run_id, out)
    assert summary.backbone == "efficientnet-lite0" and summary.mode == "instant"
    meta = json.loads((out / "model.json").read_text())
    assert meta["input"]["size"] == 64
    assert meta["normalisation"]["mean"] == pytest.approx([127 / 255] * 3)
    assert meta["normalisation"]["std"] == pytest.approx([128 / 255] * 3)

    paths, expected = stored(trained, run_id)
    got = outside_mtlabel(out, paths)
    assert np.abs(np.array(got["probs"]) - expected).max() < TOLERANCE
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxscript"):
        assert summary.onnx, summary.notes
    if summary.onnx and got["onnx"] is not None:
        assert np.abs(np.array(got["onnx"]) - expected).max() < TOLERANCE


# -- refusals -----------------------------------------------------------------------


def test_an_unknown_run_is_a_clear_error(trained: Trained, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no run 999"):
        export_run(trained.project, 999, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_run_without_checkpoint_is_refused(trained: Trained, tmp_path: Path) -> None:
    run_id = runs.create_run(trained.project, tiny_config().to_dict())
    runs.finish_run(trained.project, run_id, "failed", "no labels")
    with pytest.raises(UserError, match=f"run {run_id} has no checkpoint"):
        export_run(trained.project, run_id, tmp_path / "m")
    assert not (tmp_path / "m").exists()


class _RunsCode:
    """Unpickling this runs a shell command: what a malicious "checkpoint" looks like."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, (f"touch '{self.marker}'",))


def test_a_checkpoint_crafted_to_run_code_is_refused_unrun(
    trained: Trained, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    run_id = runs.create_run(trained.project, tiny_config().to_dict())
    path = trained.project.runs_dir / str(run_id) / "best.pt"
    path.parent.mkdir(parents=True)
    torch.save({"format": "mtlabel-checkpoint", "version": 1, "model": _RunsCode(marker)}, path)
    runs.update_run(trained.project, run_id, checkpoint=str(path.relative_to(trained.project.root)))
    runs.finish_run(trained.project, run_id, "done")
    with pytest.raises(UserError, match="refused"):
        export_run(trained.project, run_id, tmp_path / "m")
    assert not marker.exists()
    assert not (tmp_path / "m").exists()


def test_a_non_empty_folder_is_kept_unless_overwrite_replaces_an_earlier_export(
    trained: Trained, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        export_run(trained.project, trained.run_id, out, onnx=False)
    with pytest.raises(UserError, match="not an mtlabel model export"):
        export_run(trained.project, trained.run_id, out, overwrite=True, onnx=False)
    assert os.listdir(out) == ["notes.txt"]

    other = tmp_path / "export"
    export_run(trained.project, trained.run_id, other, onnx=False)
    first = json.loads((other / "model.json").read_text())
    with pytest.raises(UserError, match="--overwrite"):
        export_run(trained.project, trained.run_id, other, onnx=False)
    (other / "model.json").write_text("{}")  # must come back whole
    export_run(trained.project, trained.run_id, other, overwrite=True, onnx=False)
    again = json.loads((other / "model.json").read_text())
    assert again["tasks"] == first["tasks"]
    assert sorted(os.listdir(other)) == ["model.json", "model.pt"]
    assert sorted(os.listdir(tmp_path)) == ["export", "m"], "no temporary folder left behind"

    (tmp_path / "empty").mkdir()
    export_run(trained.project, trained.run_id, tmp_path / "empty", onnx=False)
    assert set(os.listdir(tmp_path / "empty")) <= set(EXPORT_FILES)


def test_a_folder_that_cannot_be_written_is_a_clear_error(trained: Trained, tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create the folder"):
        export_run(trained.project, trained.run_id, blocker / "sub" / "m", onnx=False)
    with pytest.raises(UserError, match="not a folder"):
        export_run(trained.project, trained.run_id, blocker, onnx=False)


# -- the command line ---------------------------------------------------------------


def test_the_command_line_exports_and_reports(
    trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    root = str(trained.project.root)
    args = ["export-model", root, "--run", str(trained.run_id), "-o", str(out)]
    assert cli_main([*args, "--json", "--no-onnx"]) == 0
    printed = capsys.readouterr()
    summary = json.loads(printed.out)
    assert summary["run_id"] == trained.run_id and summary["out_dir"] == str(out)
    assert summary["files"] == ["model.pt", "model.json"]

    assert cli_main([*args, "--no-onnx"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("mtlabel: error: ") and "not empty" in err and "\n" not in err

    assert cli_main([*args, "--overwrite", "--no-onnx"]) == 0
    assert "exported to" in capsys.readouterr().out

    assert cli_main(["export-model", root, "--run", "999", "-o", str(tmp_path / "x")]) == 1
    assert capsys.readouterr().err.strip() == "mtlabel: error: no run 999 in this project"
