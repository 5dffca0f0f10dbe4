"""``mtlabel export-model``: a trained run as TorchScript (+ ONNX) and a JSON sidecar.

``--json`` prints one JSON object on stdout (the window runs this command and
reads it); errors are one line on stderr and exit status 1, as everywhere.
SIGTERM stops it like Ctrl-C (exit status 130), leaving the target as it was.
"""

from __future__ import annotations

import argparse
import signal
from types import FrameType
from typing import Any

from core.cli.output import emit_json, say, warn
from core.project import Project


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export-model",
        help="export a trained run as a stand-alone TorchScript/ONNX model with a JSON sidecar",
        description=(
            "Write DIR/model.pt (TorchScript: torch.jit.load alone loads it), DIR/model.onnx "
            "(when the onnx package is installed) and DIR/model.json (tasks, thresholds, "
            "input size, resizing and normalisation). The model takes uint8 RGB images "
            "(N, S, S, 3) and returns per-task probabilities."
        ),
    )
    p.add_argument("path", help="project folder")
    p.add_argument("--run", type=int, required=True, metavar="ID", help="the run to export")
    p.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="folder to write (new or empty)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in DIR")
    p.add_argument("--no-onnx", action="store_true", help="write no ONNX file")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run_export)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_export(args: argparse.Namespace) -> int:
    from core.training.export import export_run

    # SIGTERM (the window's Cancel) unwinds like Ctrl-C: the temporary folder is removed.
    signal.signal(signal.SIGTERM, _interrupt)
    with Project.open(args.path) as project:
        summary = export_run(
            project, args.run, args.output, overwrite=args.overwrite, onnx=not args.no_onnx
        )
    if args.json:
        emit_json(summary)
        return 0
    say(
        f"run {summary.run_id} exported to {summary.out_dir} ({summary.backbone}, "
        f"{summary.mode}, {summary.input_size}×{summary.input_size} input, "
        f"{len(summary.tasks)} tasks): {', '.join(summary.files)}"
    )
    for note in summary.notes:
        warn(f"note: {note}")
    return 0
