"""``mtlabel device``: which accelerator training would use here.

The window never imports torch, so it runs ``mtlabel device --json`` in a
process at start-up and shows the ``summary`` in its status bar.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.output import emit_json, say


def register(sub: Any) -> None:
    p = sub.add_parser("device", help="say whether a CUDA GPU (or Apple MPS) was found")
    p.add_argument(
        "--json",
        action="store_true",
        help='one JSON object: {"cuda", "name", "mps", "summary"}',
    )
    p.set_defaults(handler=run_device)


def device_report() -> dict[str, Any]:
    """{"cuda": bool, "name": GPU name or None, "mps": bool, "summary": one line}."""
    import torch

    from core.training.device import cuda_summary

    cuda = bool(torch.cuda.is_available())
    mps_backend = getattr(torch.backends, "mps", None)
    return {
        "cuda": cuda,
        "name": torch.cuda.get_device_name(0) if cuda else None,
        "mps": bool(mps_backend and mps_backend.is_available()),
        "summary": cuda_summary(),
    }


def run_device(args: argparse.Namespace) -> int:
    report = device_report()
    if args.json:
        emit_json(report)
    else:
        say(report["summary"] + (" · Apple MPS available" if report["mps"] else ""))
    return 0
