"""``mtlabel import / labels / demo / check`` as a user types them."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.core.cli.conftest import Cli


def make_images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (40, 30), (i * 40 % 255, 80, 120)).save(folder / f"img_{i}.png")


def test_import_reports_added_duplicates_and_skipped(cli: Cli, tmp_path: Path) -> None:
    cli("init", tmp_path / "p", "--task", "car")
    make_images(tmp_path / "photos", 3)
    (tmp_path / "photos" / "copy.png").write_bytes((tmp_path / "photos" / "img_0.png").read_bytes())
    (tmp_path / "photos" / "notes.jpg").write_text("not a picture")
    r = cli("import", tmp_path / "p", tmp_path / "photos", "--json")
    assert r.code == 0
    summary = r.json()
    assert len(summary["added"]) == 3 and len(summary["duplicates"]) == 1
    assert [Path(p).name for p, _ in summary["skipped"]] == ["notes.jpg"]
    text = cli("import", tmp_path / "p", tmp_path / "photos")
    assert "added 0" in text.out and "already imported 3" in text.out
    missing = cli("import", tmp_path / "p", tmp_path / "nowhere")
    assert missing.code == 1 and "nowhere" in missing.err


def test_labels_set_export_import_round_trip(cli: Cli, tmp_path: Path) -> None:
    cli("init", tmp_path / "p", "--task", "car", "--task", "stop sign")
    make_images(tmp_path / "photos", 3)
    cli("import", tmp_path / "p", tmp_path / "photos")
    assert cli("labels", "set", tmp_path / "p", "img_0.png", "car", "present").code == 0
    assert cli("labels", "set", tmp_path / "p", "img_1.png", "stop sign", "absent").code == 0
    out = tmp_path / "labels.csv"
    assert cli("labels", "export", tmp_path / "p", "-o", out, "--format", "csv").code == 0
    assert out.read_text().splitlines() == [
        "image,car,stop sign",
        "img_0.png,1,",
        "img_1.png,,0",
        "img_2.png,,",
    ]
    cli("init", tmp_path / "q", "--task", "car", "--task", "stop sign")
    cli("import", tmp_path / "q", tmp_path / "photos")
    r = cli("labels", "import", tmp_path / "q", out, "--format", "csv", "--json")
    assert r.code == 0 and r.json()["cells_set"] == 2
    stats = cli("stats", tmp_path / "q", "--json").json()
    assert [(t["present"], t["absent"]) for t in stats["tasks"]] == [(1, 0), (0, 1)]


def test_a_label_file_with_errors_changes_nothing_and_names_lines(cli: Cli, tmp_path: Path) -> None:
    cli("init", tmp_path / "p", "--task", "car")
    make_images(tmp_path / "photos", 2)
    cli("import", tmp_path / "p", tmp_path / "photos")
    bad = tmp_path / "bad.csv"
    bad.write_text("image,car\nimg_0.png,1\nimg_1.png,yes\n")
    r = cli("labels", "import", tmp_path / "p", bad, "--format", "csv")
    assert r.code == 1 and "line 3" in r.err and "yes" in r.err
    assert cli("stats", tmp_path / "p", "--json").json()["tasks"][0]["present"] == 0
    unknown_task = tmp_path / "new.csv"
    unknown_task.write_text("image,bus\nimg_0.png,1\n")
    r = cli("labels", "import", tmp_path / "p", unknown_task, "--format", "csv")
    assert r.code == 1 and "bus" in r.err
    r = cli("labels", "import", tmp_path / "p", unknown_task, "--format", "csv", "--create-tasks")
    assert r.code == 0 and "created tasks bus" in r.out


def test_demo_command_and_exist_ok(cli: Cli, tmp_path: Path) -> None:
    r = cli("demo", tmp_path / "d", "--images", "12", "--unknown", "0.5", "--json")
    assert r.code == 0
    summary = r.json()
    assert summary["images"] == 12 and summary["unknown_cells"] == 24
    assert cli("demo", tmp_path / "d", "--images", "12").code == 1
    again = cli("demo", tmp_path / "d", "--exist-ok")
    assert again.code == 0 and "left as it is" in again.out
    assert cli("demo", tmp_path / "e", "--unknown", "1.5").code == 1
    assert not (tmp_path / "e").exists()


def test_check_marks_missing_files_and_keeps_labels(cli: Cli, tmp_path: Path) -> None:
    cli("init", tmp_path / "p", "--task", "car")
    make_images(tmp_path / "photos", 2)
    cli("import", tmp_path / "p", tmp_path / "photos")
    cli("labels", "set", tmp_path / "p", "img_1.png", "car", "present")
    (tmp_path / "photos" / "img_1.png").unlink()
    r = cli("check", tmp_path / "p", "--json")
    assert r.code == 0 and len(r.json()["newly_missing"]) == 1
    stats = cli("stats", tmp_path / "p", "--json").json()
    assert stats["image_status"]["missing"] == 1 and stats["tasks"][0]["present"] == 1
