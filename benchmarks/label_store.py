"""Label store speed: one committed label at a time, and the counts-per-task query.

    python benchmarks/label_store.py [--images 100000] [--tasks 10] [--labels 10000]

Builds a project of fake image rows (no files) with about half of the cells
known, then measures, in the same run:

* ``set_label`` one by one (each its own committed transaction, history row
  included) against a bare ``sqlite3`` loop doing the same SELECT + INSERT/UPDATE
  + history INSERT + COMMIT on the same database: median, p99, ratio;
* ``counts_per_task`` against the bare GROUP BY query it wraps;
* ``set_label`` again while a trainer works on the same project in another
  process, as ``mtlabel train`` does: it takes label snapshots (``take_snapshot``,
  reading every label) and writes a full prediction set (images × tasks rows, in
  the trainer's batches) over and over. Reported: median and p99 against the
  same commits with nothing else running, and any "database is locked" error.

Targets: label commit < 5 ms median (issue 2); the same with a trainer reading
and writing concurrently (issue 7); counts < 100 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, insert

from core import runs
from core.db.models import Image, Label
from core.labels import counts_per_task, set_label
from core.project import DB_FILE, Project
from core.training.snapshot import take_snapshot


def populate(project: Project, n_images: int, task_ids: list[int], seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    images = cast(Table, Image.__table__)
    labels = cast(Table, Label.__table__)
    with project.transaction() as s:
        s.execute(
            insert(images),
            [
                {
                    "id": i,
                    "path": f"/bench/{i:06d}.jpg",
                    "root": "/bench",
                    "rel_path": f"{i:06d}.jpg",
                    "name": f"{i:06d}.jpg",
                    "content_hash": f"{i:064x}",
                    "file_size": 1,
                    "file_mtime_ns": 0,
                    "width": 640,
                    "height": 480,
                    "status": "ok",
                    "imported_at": now,
                }
                for i in range(1, n_images + 1)
            ],
        )
        s.execute(
            insert(labels),
            [
                {
                    "image_id": i,
                    "task_id": t,
                    "value": rng.randint(0, 1),
                    "annotator": "bench",
                    "source": "import",
                    "updated_at": now,
                }
                for i in range(1, n_images + 1)
                for t in task_ids
                if rng.random() < 0.5
            ],
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bare_set_label(conn: sqlite3.Connection, image_id: int, task_id: int, value: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute(
        "SELECT value FROM label WHERE image_id=? AND task_id=?", (image_id, task_id)
    ).fetchone()
    old = row[0] if row else None
    if old is None:
        conn.execute(
            "INSERT INTO label (image_id, task_id, value, annotator, source, updated_at) "
            "VALUES (?, ?, ?, 'bench', 'human', ?)",
            (image_id, task_id, value, now),
        )
    elif old != value:
        conn.execute(
            "UPDATE label SET value=?, updated_at=? WHERE image_id=? AND task_id=?",
            (value, now, image_id, task_id),
        )
    conn.execute(
        "INSERT INTO label_event (image_id, task_id, old_value, new_value, annotator, source, at)"
        " VALUES (?, ?, ?, ?, 'bench', 'human', ?)",
        (image_id, task_id, old, value, now),
    )
    conn.execute("COMMIT")


def trainer(root: str, stop: Any, rounds: Any) -> None:
    """Another process doing what a trainer does to the database, until ``stop`` is set."""
    with Project.open(Path(root)) as project:
        run_id = runs.create_run(project, {"benchmark": "label_store"})
        while not stop.is_set():
            snap = take_snapshot(project, 0.2)
            ids = [item.image_id for item in snap.items]
            probabilities = np.random.default_rng(0).random((len(ids), len(snap.task_ids)))
            runs.begin_predictions(project, run_id)
            for start in range(0, len(ids), 2048):
                if stop.is_set():
                    break
                chunk = slice(start, start + 2048)
                runs.write_predictions(
                    project, run_id, ids[chunk], snap.task_ids, probabilities[chunk]
                )
            runs.end_predictions(project, run_id)
            rounds.value += 1


def concurrent_commits(
    project: Project, root: Path, cells: list[tuple[int, int, int]]
) -> tuple[list[float], int, int]:
    """set_label timings while ``trainer`` runs; (timings, locked errors, trainer rounds)."""
    context = multiprocessing.get_context("spawn")
    stop, rounds = context.Event(), context.Value("i", 0)
    worker = context.Process(target=trainer, args=(str(root), stop, rounds))
    worker.start()
    time.sleep(3.0)  # let it open the project and start reading
    times: list[float] = []
    locked = 0
    try:
        for image_id, task_id, value in cells:
            t = time.perf_counter()
            try:
                set_label(project, image_id, task_id, value)
            except Exception as exc:
                if "locked" not in str(exc):
                    raise
                locked += 1
            times.append(time.perf_counter() - t)
    finally:
        stop.set()
        worker.join(60)
    return times, locked, int(rounds.value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--labels", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(Path(tmp) / "bench", tasks=[f"task{i}" for i in range(args.tasks)])
        task_ids = [c.task_id for c in counts_per_task(project)]
        t0 = time.perf_counter()
        populate(project, args.images, task_ids, seed=0)
        print(
            f"populated {args.images:,} images x {args.tasks} tasks "
            f"in {time.perf_counter() - t0:.1f} s"
        )

        rng = random.Random(1)
        cells = [
            (rng.randint(1, args.images), rng.choice(task_ids), rng.randint(0, 1))
            for _ in range(args.labels)
        ]

        ours = []
        for image_id, task_id, value in cells:
            t = time.perf_counter()
            set_label(project, image_id, task_id, 1 - value)
            ours.append(time.perf_counter() - t)

        conn = sqlite3.connect(Path(tmp) / "bench" / DB_FILE, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        bare = []
        for image_id, task_id, value in cells:
            t = time.perf_counter()
            bare_set_label(conn, image_id, task_id, value)
            bare.append(time.perf_counter() - t)

        med, bmed = statistics.median(ours) * 1e3, statistics.median(bare) * 1e3
        print(
            f"label commit, {args.labels:,} one by one: median {med:.2f} ms, "
            f"p99 {percentile(ours, 0.99) * 1e3:.2f} ms  (target < 5 ms median)"
        )
        bare99 = percentile(bare, 0.99) * 1e3
        print(
            f"  bare sqlite3 reference:     median {bmed:.2f} ms, p99 {bare99:.2f} ms;"
            f"  ratio ours/bare {med / bmed:.2f}"
        )

        counts_times, bare_times = [], []
        for _ in range(7):
            t = time.perf_counter()
            counts_per_task(project)
            counts_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            query = "SELECT task_id, value, count(*) FROM label GROUP BY task_id, value"
            conn.execute(query).fetchall()
            conn.execute("SELECT count(*) FROM image").fetchall()
            bare_times.append(time.perf_counter() - t)
        cmed, cbare = statistics.median(counts_times) * 1e3, statistics.median(bare_times) * 1e3
        print(
            f"counts per task ({args.images:,} images x {args.tasks} tasks): median "
            f"{cmed:.1f} ms (target < 100 ms); bare query {cbare:.1f} ms; "
            f"ratio {cmed / cbare:.2f}"
        )
        conn.close()

        concurrent, locked, rounds = concurrent_commits(project, Path(tmp) / "bench", cells)
        cmed = statistics.median(concurrent) * 1e3
        print(
            f"label commit with a trainer reading and writing concurrently: median "
            f"{cmed:.2f} ms, p99 {percentile(concurrent, 0.99) * 1e3:.2f} ms "
            f"(target < 5 ms median); alone {med:.2f} ms, ratio {cmed / med:.2f}; "
            f"'database is locked' errors: {locked}; the trainer took {rounds} snapshots "
            f"and wrote {rounds} prediction sets of {args.images:,} x {args.tasks} meanwhile"
        )
        project.close()


if __name__ == "__main__":
    main()
