"""Projects in odd places and with files changed under them.

* A project folder whose path has spaces, non-ASCII letters and characters that mean
  something in a URL ("#", "%20", "?"), images imported from a non-ASCII folder: create,
  import, label, train, predict, export labels and predictions.
* Image files deleted or replaced after import: training leaves the deleted ones out
  with a warning, uses the new content of replaced ones, and keeps every label.
* The cache folder deleted between runs: the next run decodes and computes again.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np

from core import runs
from core.db.models import Image
from core.project import DB_FILE, Project
from core.training.image_cache import ImageCache
from core.training.snapshot import take_snapshot
from tests.faults.helpers import (
    TINY_TRAIN,
    Trainer,
    label_rows,
    run_cli,
    run_process,
)

ODD_NAME = "proj ü é 漢字 #2 100%20 ?x=1"
ODD_TASKS = ["fußgänger", "auto", "停止標識"]


def test_a_project_on_a_path_with_spaces_non_ascii_and_url_characters_works_throughout(
    fault_template: Path, tmp_path: Path, database_url: str | None
) -> None:
    photos = tmp_path / "bilder ö" / "漢字 fotos"
    photos.mkdir(parents=True)
    truth = list(csv.DictReader((fault_template / "demo" / "truth.csv").open(encoding="utf-8")))
    source = fault_template / "demo" / "images"
    names = []
    for i, row in enumerate(truth[:48]):
        name = f"szene ü {i:02d}.jpg"
        shutil.copyfile(source / row["image"], photos / name)
        names.append(name)
    root = tmp_path / ODD_NAME
    tasks = [arg for t in ODD_TASKS for arg in ("--task", t)]
    db = ["--db-url", database_url] if database_url else []
    assert run_cli("init", root, *tasks, *db).code == 0
    imported = run_cli("import", root, tmp_path / "bilder ö", "--json")
    assert imported.code == 0, imported.err
    assert len(imported.json()["added"]) == 48

    labels = tmp_path / "etiketten ä.csv"
    with labels.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", *ODD_TASKS])
        for i, (name, row) in enumerate(zip(names, truth, strict=False)):
            values = [row["pedestrian"], row["car"], "" if i % 3 == 0 else row["stop sign"]]
            writer.writerow([name, *values])
    loaded = run_cli("labels", "import", root, labels, "--format", "csv")
    assert loaded.code == 0, loaded.err
    cell = run_cli("labels", "set", root, "szene ü 00.jpg", "停止標識", "present")
    assert cell.code == 0 and "szene ü 00.jpg: 停止標識 = present" in cell.out, cell.err

    trained = run_process("train", root, *TINY_TRAIN, "--epochs", "1", "--json")
    assert trained.code == 0, trained.err
    run_id = json.loads(trained.out.splitlines()[-1])["run"]
    predicted = run_cli("predict", root, "--run", run_id, "--device", "cpu")
    assert predicted.code == 0, predicted.err

    out = tmp_path / "ausgabe ß"
    out.mkdir()
    assert run_cli("predictions", root, "--run", run_id, "-o", out / "vorhersagen.csv").code == 0
    rows = (out / "vorhersagen.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "image," + ",".join(ODD_TASKS) and len(rows) == 49
    assert any(r.startswith("漢字 fotos/szene ü 00.jpg,") for r in rows)
    assert run_cli("labels", "export", root, "-o", out / "l.json", "--format", "json").code == 0
    exported = json.loads((out / "l.json").read_text(encoding="utf-8"))
    assert {t["name"] for t in exported["tasks"]} == set(ODD_TASKS)
    assert any("szene ü 00.jpg" in json.dumps(i, ensure_ascii=False) for i in exported["images"])
    assert run_cli("labels", "export", root, "-o", out / "l.csv", "--format", "csv").code == 0
    lines = (out / "l.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "image," + ",".join(ODD_TASKS)
    assert lines[1].startswith("漢字 fotos/szene ü 00.jpg,") and lines[1].endswith(",1")

    # Everything went into the project folder: no database beside it under a cut-off name.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bilder ö", ODD_NAME, "etiketten ä.csv", "ausgabe ß"]
    )
    assert (root / DB_FILE).is_file() == (database_url is None)
    stats = run_cli("stats", root, "--json")
    assert stats.code == 0 and stats.json()["images"] == 48


def predictions_by_image(root: Path, run_id: int) -> dict[int, np.ndarray]:
    with Project.open(root) as project:
        image_ids, _, probs = runs.read_predictions(project, run_id)
    return dict(zip(image_ids, probs, strict=True))


def test_deleted_and_replaced_images_after_import(own_images_project: Path) -> None:
    root = own_images_project
    with Project.open(root) as project:
        with project.reading() as session:
            files = {i.id: Path(i.path) for i in session.query(Image).order_by(Image.id)}
        # What an earlier run leaves: every image decoded into the cache, as it was.
        _, ok, _ = ImageCache(project.cache_dir, 32).load(take_snapshot(project, 0.3).items)
        assert ok.all()
        labels = label_rows(project)
    deleted, replaced, donor, other = 3, 7, 20, 30

    files[deleted].unlink()
    shutil.copyfile(files[donor], files[replaced])  # other content (a newer mtime too)
    run = Trainer.start(root, "--epochs", "1")
    assert run.finish() == 0 and run.kinds()[-1] == "done", run.events[-2:]
    # Images left out (the run may also warn that validation is small: not about files).
    warnings = [e["message"] for e in run.events if e["event"] == "warning" and "image" in e]
    assert warnings == [f"{files[deleted]} left out: file not found"]
    after = predictions_by_image(root, run.run_id() or 0)
    assert deleted not in after and len(after) == len(files) - 1
    assert np.array_equal(after[replaced], after[donor]), "the new content was used"
    assert not np.array_equal(after[replaced], after[other]), "a network that tells scenes apart"
    with Project.open(root) as project:
        assert label_rows(project) == labels
        info = runs.get_run(project, run.run_id() or 0)
        assert info.status == "done" and info.predictions_complete


def test_a_deleted_cache_folder_is_computed_again(own_images_project: Path) -> None:
    root = own_images_project
    settings = ["--backbone", "efficientnet-lite0", "--mode", "instant", "--image-size", "64"]
    settings += ["--views", "1", "--epochs", "1"]
    reports = []
    for _ in range(2):
        run = Trainer.start(root, *settings)
        assert run.finish() == 0 and run.kinds()[-1] == "done", run.events[-2:]
        assert (root / "cache" / "features").is_dir() and (root / "cache" / "rgb64").is_dir()
        reports.append(next(e for e in run.events if e["event"] == "features" and e["done"]))
        shutil.rmtree(root / "cache")
    assert reports[0]["computed"] == reports[1]["computed"] == 60, reports
