"""Checkpoint and weights files crafted to run code when unpickled are refused, unrun.

Each file's pickle asks for ``os.system("touch MARKER")``. Every way a file reaches
the loader from the command line — ``predict --run``, ``export-model``, ``train
--init-from`` and ``train --backbone file:PATH`` — must refuse it with a message
saying why (it is loaded weights-only), and the marker file must never appear. A
last check makes sure the files are real exploits: a plain ``torch.load`` runs them.
"""

from __future__ import annotations

import os
import pickle
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from core import runs
from core.project import Project
from tests.core.training.conftest import tiny_config
from tests.faults.helpers import TINY_TRAIN, run_cli


class RunsCode:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def says_refused(message: str) -> bool:
    return "was refused" in message and "could run code" in message and "not loaded" in message


def crafted_run(project: Project, marker: Path, legacy: bool) -> int:
    """A finished run whose checkpoint is a crafted file (a torch zip, or a bare pickle)."""
    run_id = runs.create_run(project, tiny_config().to_dict())
    path = project.runs_dir / str(run_id) / "best.pt"
    path.parent.mkdir(parents=True)
    payload = {"format": "mtlabel-checkpoint", "version": 1, "model": RunsCode(marker)}
    if legacy:
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    runs.update_run(project, run_id, checkpoint=str(path.relative_to(project.root)))
    runs.finish_run(project, run_id, "done")
    return run_id


def test_crafted_checkpoints_and_weights_are_refused_unrun(
    fault_project: Path, tmp_path: Path
) -> None:
    root = fault_project
    marker = tmp_path / "code-ran"
    with Project.open(root) as project:
        zipped = crafted_run(project, marker, legacy=False)
        bare = crafted_run(project, marker, legacy=True)

    for run_id in (zipped, bare):
        message = run_cli("predict", root, "--run", run_id, "--device", "cpu").one_line_error()
        assert says_refused(message) or "not a readable checkpoint" in message, message
        out = tmp_path / f"model-{run_id}"
        exported = run_cli("export-model", root, "--run", run_id, "-o", out, "--no-onnx")
        assert says_refused(exported.one_line_error()) or "not a readable" in exported.err
        assert not out.exists() and not marker.exists()
    assert "(it asks for posix.system)" in run_cli("predict", root, "--run", zipped).err

    started = run_cli("train", root, *TINY_TRAIN, "--epochs", "1", "--init-from", zipped)
    assert started.code == 5 and says_refused(started.err), started.err
    assert not marker.exists()

    weights = tmp_path / "my weights.pth"
    torch.save({"_conv_stem.weight": RunsCode(marker)}, weights)
    backbone = ["--backbone", f"file:{weights}", "--mode", "instant", "--image-size", "32"]
    started = run_cli("train", root, *backbone, "--epochs", "1", "--device", "cpu", "--json")
    assert started.code == 1, started.err  # refused before a run is created
    assert says_refused(started.one_line_error()), started.err
    assert not marker.exists()

    with Project.open(root) as project:
        failed = [r for r in runs.list_runs(project) if r.status == "failed"]
        assert len(failed) == 1 and says_refused(failed[0].error or ""), "the --init-from run"

    # The files are real exploits: loading them the unsafe way runs the command.
    torch.load(weights, weights_only=False)
    assert marker.exists()
