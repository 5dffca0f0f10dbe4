"""Label cells without pause, as the window does, until a stop file appears.

Run by ``test_concurrent_labels.py`` as ``python label_writer.py PROJECT STOP_FILE SEED``.
Every change goes through :class:`app.session.ProjectSession` — the object the
window's key presses and clicks call — so each one is its own committed
transaction. After each call returns it prints ``{"image", "task", "value"}``; an
error the session reports to the user is printed as ``{"error": message}``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from app.session import ProjectSession
from core.labels import list_images
from core.project import Project


def main(root: str, stop_file: str, seed: int) -> int:
    app = QGuiApplication([sys.argv[0]])
    rng = random.Random(seed)
    errors: list[str] = []
    with Project.open(root) as project:
        session = ProjectSession(project)
        session.error.connect(errors.append)
        images = list_images(project, order="name")
        tasks = [t.id for t in session.tasks()]
        stop = Path(stop_file)
        writes = 0
        while not stop.exists() or writes < 50:
            image, task = rng.choice(images), rng.choice(tasks)
            value = rng.choice([1, 0, None])
            session.set_cell(image, task, value)
            writes += 1
            line: dict[str, object] = {"value": value}
            line.update({"error": errors.pop()} if errors else {"image": image, "task": task})
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
