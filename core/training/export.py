"""Export a trained run as a self-contained model: TorchScript, ONNX, and a JSON sidecar.

``export_run`` writes into one folder:

* ``model.pt`` — TorchScript (``torch.jit.load`` alone loads it; no mtlabel code).
  It takes a batch of images as the program's image cache holds them —
  ``(N, S, S, 3)``, RGB, values 0–255, uint8 (or any float type holding the
  same 0–255 values) — normalises them inside with the backbone's own mean and
  standard deviation, and returns per-task **probabilities** ``(N, T)`` (the
  sigmoid is inside too), in the order of the sidecar's ``tasks``.
* ``model.onnx`` — the same network for ONNX runtimes (uint8 input only), when
  the exporter is installed (``pip install onnx onnxscript``); otherwise it is
  skipped and the summary says why. Checked against the TorchScript model with
  onnxruntime when that is installed.
* ``model.json`` — the sidecar: tasks with their ids and decision thresholds
  (of the run's best epoch), the input size, channel order, dtype, how to
  decode and resize an image file exactly as the program does, the
  normalisation applied inside, what the output is, and the versions.

How an image file becomes the model's input is the image cache's recipe
(``image_cache.py``, ``core.images.decode.load_rgb``), spelled out step by step
in the sidecar's ``preprocessing``; ``docs/export_example.py`` is a
stand-alone implementation in plain Pillow, and the tests check that it
reproduces the program's stored predictions.

The export is written to a temporary folder next to the target and renamed
into place at the end, so the target holds either the complete export or what
it held before. A non-empty target is refused unless ``overwrite=True``, and
even then only when it holds nothing but an earlier export's files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import json
import logging
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from core import __version__, runs
from core.errors import UserError
from core.project import Project
from core.training.backbones import COMPACT, BackboneSpec, base_spec, build_backbone
from core.training.calibration import Calibration
from core.training.checkpoint import load_checkpoint
from core.training.config import TrainConfig
from core.training.features import fold_batch_norms
from core.training.heads import build_head
from core.training.image_cache import RECIPE
from core.training.metrics import MIN_POSITIVES_FOR_TUNING, tuned_on
from core.training.network import TransferNet, build_image_model
from core.training.predict import checkpoint_calibration

FORMAT = "mtlabel-model"
VERSION = 1
TORCHSCRIPT_FILE = "model.pt"
ONNX_FILE = "model.onnx"
SIDECAR_FILE = "model.json"
EXPORT_FILES = (TORCHSCRIPT_FILE, ONNX_FILE, SIDECAR_FILE)
"""Every file an export may write; ``overwrite`` replaces a folder holding only these."""
ONNX_INSTALL_HINT = "pip install onnx onnxscript (and onnxruntime to check the file)"
CHECK_TOLERANCE = 1e-4
"""Largest difference in probability allowed between the network and a written file."""
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ExportSummary:
    """What ``export_run`` wrote."""

    run_id: int
    out_dir: Path
    files: tuple[str, ...]
    """Names of the files written, inside ``out_dir``."""
    tasks: tuple[str, ...]
    """Task names in output order."""
    input_size: int
    backbone: str
    mode: str
    onnx: bool
    """True when ``model.onnx`` was written."""
    notes: tuple[str, ...]
    """Things a user should know (e.g. why ONNX was skipped, how it was checked)."""
    seconds: float


class ProbabilityModel(nn.Module):
    """uint8 or float (N, S, S, 3) RGB images, values 0–255 → probabilities (N, T).

    The normalisation is the program's own (``model.to_model_input``, which computes
    the same as x / (255 std) − mean / std in place): the pixel values as float32,
    minus mean × 255, divided by std × 255, per channel.

    The probabilities are the run's calibrated ones: each task's logit goes through
    its Platt map (``slope · z + intercept``, identity for runs from before
    calibration) before the sigmoid, as the program's stored predictions do.
    """

    mean255: Tensor
    std255: Tensor
    slope: Tensor
    intercept: Tensor

    def __init__(
        self,
        net: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        calibration: Calibration,
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean255", torch.tensor(tuple(mean)).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std255", torch.tensor(tuple(std)).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("slope", torch.tensor(calibration.slope, dtype=torch.float32))
        self.register_buffer("intercept", torch.tensor(calibration.intercept, dtype=torch.float32))

    def forward(self, images: Tensor) -> Tensor:
        x = images.permute(0, 3, 1, 2).float()
        x = ((x - self.mean255) / self.std255).contiguous()
        return torch.sigmoid(self.net(x).float() * self.slope + self.intercept)


@dataclass
class _Loaded:
    """A run's checkpoint, turned into what an export needs."""

    model: ProbabilityModel
    config: TrainConfig
    spec: BackboneSpec
    mode: str
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    ckpt: dict[str, Any]
    calibrated: bool
    """Whether the run fitted a calibration (runs from before it did not)."""
    fitted_cells: np.ndarray
    """Per task, the validation cells its calibration was fitted on (0: identity)."""


# -- the network ---------------------------------------------------------------------


def _spec_of(ckpt: dict[str, Any], config: TrainConfig) -> BackboneSpec:
    if "backbone" in ckpt:
        try:
            return BackboneSpec.from_dict(ckpt["backbone"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"the checkpoint's backbone description is damaged ({exc})") from exc
    return base_spec(COMPACT, config.width)  # checkpoints from before transfer learning


def _load_state(module: nn.Module, state: Any, run_id: int) -> None:
    if not isinstance(state, dict):
        raise UserError(f"the checkpoint of run {run_id} holds no model weights")
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"the checkpoint of run {run_id} does not fit its network ({first}); it may come "
            "from another version of mtlabel"
        ) from exc


def _network(
    ckpt: dict[str, Any], config: TrainConfig, spec: BackboneSpec, run_id: int
) -> tuple[nn.Module, str]:
    """(network: normalised NCHW → logits, mode)."""
    n_tasks = len(ckpt["task_ids"])
    mode = str(ckpt.get("mode") or config.mode)
    if spec.arch == COMPACT:
        mode = "scratch"
    if mode == "instant":
        # The checkpoint holds the head; the frozen backbone is the installed one,
        # which must be the very weights the features were computed with.
        backbone, live = build_backbone(spec.name)
        if live.weights_id != spec.weights_id:
            raise UserError(
                f"run {run_id} was trained on features of {spec.name} with other weights "
                f"({spec.weights_id}; installed now: {live.weights_id or 'none'}); it cannot "
                "be exported with these — train a new run"
            )
        head = build_head(config.arch, spec.feature_dim, n_tasks, config.hidden)
        _load_state(head, ckpt["model"], run_id)
        return TransferNet(backbone, head), mode
    arch_config = dataclasses.replace(config, backbone=spec.arch, mode=mode)  # type: ignore[arg-type]
    model, _ = build_image_model(arch_config, n_tasks, weights="none")
    _load_state(model, ckpt["model"], run_id)
    return model, mode


def _floats3(values: Any, what: str, run_id: int) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        out = ()
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise UserError(
            f"the checkpoint of run {run_id} is damaged: its input {what} is {values!r}"
        )
    return out[0], out[1], out[2]


def load_for_export(project: Project, run_id: int) -> _Loaded:
    """The run's best checkpoint (read ``weights_only``) as an inference network."""
    info = runs.get_run(project, run_id)
    if info.checkpoint is None:
        raise UserError(
            f"run {run_id} has no checkpoint ({info.status}): only a finished run can be exported"
        )
    runs.require_finished(info, "export a model")
    ckpt = load_checkpoint(project.root / info.checkpoint)
    for key in ("model", "config", "task_ids"):
        if key not in ckpt:
            raise UserError(f"the checkpoint of run {run_id} lacks {key!r}: it is damaged")
    config = TrainConfig.from_dict(ckpt["config"])
    spec = _spec_of(ckpt, config)
    net, mode = _network(ckpt, config, spec, run_id)
    net.eval()
    folded = fold_batch_norms(net)
    given = ckpt.get("input") if isinstance(ckpt.get("input"), dict) else {}
    assert isinstance(given, dict)
    size = given.get("size") or ckpt.get("image_size") or config.image_size
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise UserError(f"the checkpoint of run {run_id} does not say its input size")
    mean = _floats3(given.get("mean", spec.mean), "mean", run_id)
    std = _floats3(given.get("std", spec.std), "standard deviation", run_id)
    if not all(v > 0 for v in std):
        raise UserError(f"the checkpoint of run {run_id} is damaged: a zero standard deviation")
    calibration = checkpoint_calibration(ckpt, run_id)
    model = ProbabilityModel(folded, mean, std, calibration).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    calibrated = bool(calibration.cells.sum() > 0)  # a map was fitted for some task
    return _Loaded(model, config, spec, mode, size, mean, std, ckpt, calibrated, calibration.cells)


# -- writing -------------------------------------------------------------------------


def _probe_images(size: int, n: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, size, size, 3), generator=generator, dtype=torch.uint8)


def _write_torchscript(model: ProbabilityModel, size: int, path: Path) -> None:
    example = _probe_images(size, 2, 0)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit.trace is "deprecated" in favour of export
        traced = torch.jit.trace(model, example, check_trace=False)  # type: ignore[no-untyped-call]
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        probe = _probe_images(size, 3, 1)  # another batch size than the trace's
        expected = model(probe)
        for given in (probe, probe.float()):
            diff = float((loaded(given) - expected).abs().max())
            if not diff <= CHECK_TOLERANCE:
                raise RuntimeError(
                    f"the TorchScript model differs from the network by {diff:.2e} "
                    f"({given.dtype} input); this is a bug in mtlabel's export"
                )


def _write_onnx(model: ProbabilityModel, size: int, path: Path) -> list[str]:
    """Write ``path``; notes for the user. Raises ImportError when no exporter is installed.

    torch's exporter from ``torch.export`` graphs needs ``onnx`` and ``onnxscript``;
    with ``onnx`` alone, the older TorchScript-based exporter is used.
    """
    importlib.import_module("onnx")
    try:
        importlib.import_module("onnxscript")
        dynamo = True
    except ImportError:
        dynamo = False
    example = _probe_images(size, 2, 0)
    shapes: dict[str, Any] = (
        {"dynamic_shapes": ({0: torch.export.Dim("batch")},), "external_data": False}
        if dynamo
        else {"dynamic_axes": {"images": {0: "batch"}, "probabilities": {0: "batch"}}}
    )
    sink = io.StringIO()
    with (
        _quiet_logger("torch.onnx"),  # "torchvision is not installed. Skipping …"
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),  # the exporter prints its progress
        contextlib.redirect_stderr(sink),
        torch.no_grad(),
    ):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["images"],
            output_names=["probabilities"],
            dynamo=dynamo,
            **shapes,
        )
    return _check_onnx(model, size, path)


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_onnx(model: ProbabilityModel, size: int, path: Path) -> list[str]:
    try:
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError:
        return ["model.onnx was not checked: onnxruntime is not installed"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probe = _probe_images(size, 3, 1)
    with torch.no_grad():
        expected = model(probe).numpy()
    got = session.run(None, {"images": probe.numpy()})[0]
    diff = float(np.abs(np.asarray(got) - expected).max())
    if not diff <= CHECK_TOLERANCE:
        raise RuntimeError(f"model.onnx differs from the network by {diff:.2e} under onnxruntime")
    return [
        f"model.onnx checked with onnxruntime {onnxruntime.__version__}: max difference {diff:.1e}"
    ]


def _check_target(out_dir: Path, overwrite: bool) -> None:
    """Refuse a target that must not be replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} exists and is not a folder")
    if not out_dir.is_dir():
        return
    try:
        names = sorted(os.listdir(out_dir))
    except OSError as exc:
        raise UserError(f"cannot read the folder {out_dir}: {exc.strerror or exc}") from exc
    if names and not overwrite:
        raise UserError(
            f"{out_dir} is not empty; choose an empty or new folder, or pass --overwrite "
            "to replace an earlier export there"
        )
    foreign = [n for n in names if n not in EXPORT_FILES]
    if foreign:
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise UserError(
            f"{out_dir} holds files that are not an mtlabel model export ({shown}); it "
            "is not replaced, even with --overwrite: choose an empty or new folder"
        )


def _prepare_target(out_dir: Path, overwrite: bool) -> None:
    """Check the target and make its parent folder, before any work is done."""
    _check_target(out_dir, overwrite)
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder {parent}: {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write into {parent}: permission denied")


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename ``tmp`` to ``out_dir``; an existing ``out_dir`` is swapped out, then deleted."""
    old: Path | None = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _why_default(m: runs.TaskMetricRow | None) -> str:
    if m is None:
        return "no validation threshold"
    if m.val_present < MIN_POSITIVES_FOR_TUNING:
        return (
            f"{m.val_present} present among the validation labels, too few to tune on "
            f"(at least {MIN_POSITIVES_FOR_TUNING})"
        )
    if m.val_absent == 0:
        return "no absent validation labels to tune against"
    return f"no validation threshold ({m.na_reason})" if m.na_reason else "no validation threshold"


def _threshold(
    stored: float | None, m: runs.TaskMetricRow | None, calibrated: bool
) -> tuple[float, str]:
    """(threshold, where it comes from) of one task for the sidecar."""
    if m is not None and m.user_threshold is not None:
        return float(m.user_threshold), "chosen by the user in the window"
    chosen = stored is not None and math.isfinite(float(stored))
    if calibrated:
        value = float(stored) if stored is not None and chosen else DEFAULT_THRESHOLD
        return value, "0.5 on calibrated probabilities: present is the more likely value"
    if chosen and m is not None and not tuned_on(m.val_present, m.val_absent):
        chosen = False  # choose_threshold fell back to 0.5 (it stores that 0.5)
    if chosen and stored is not None:
        return float(stored), "validation (maximum F1)"
    return DEFAULT_THRESHOLD, f"default 0.5: {_why_default(m)}"


def _sidecar(
    project: Project,
    run_id: int,
    loaded: _Loaded,
    onnx_written: bool,
) -> dict[str, Any]:
    ckpt, config, spec, size = loaded.ckpt, loaded.config, loaded.spec, loaded.size
    task_ids = [int(t) for t in ckpt["task_ids"]]
    names = [str(n) for n in ckpt.get("task_names") or [f"task {t}" for t in task_ids]]
    thresholds = list(ckpt.get("thresholds") or [None] * len(task_ids))
    if len(names) != len(task_ids) or len(thresholds) != len(task_ids):
        raise UserError(f"the checkpoint of run {run_id} is damaged: its task lists disagree")
    epoch = ckpt.get("epoch")
    metrics = {
        m.task_id: m for m in runs.run_task_metrics(project, run_id, int(epoch) if epoch else None)
    }
    model = loaded.model
    tasks = []
    for index, (task_id, name, threshold) in enumerate(
        zip(task_ids, names, thresholds, strict=True)
    ):
        m = metrics.get(task_id)
        value, source = _threshold(threshold, m, loaded.calibrated)
        tasks.append(
            {
                "index": index,
                "name": name,
                "id": task_id,
                "threshold": value,
                "threshold_source": source,
                "calibration": {
                    "method": "Platt scaling on validation: p = sigmoid(slope * logit + "
                    "intercept), applied inside the model",
                    "slope": float(model.slope[index]),
                    "intercept": float(model.intercept[index]),
                    "fitted_on_cells": int(loaded.fitted_cells[index]),
                    "note": None
                    if loaded.fitted_cells[index] > 0
                    else "not fitted (no validation cells of both classes): the network's own "
                    "probability",
                    "ece_before": m.ece_raw if m else None,
                    "ece_after": m.ece if m else None,
                }
                if loaded.calibrated
                else None,
                "validation": None
                if m is None
                else {
                    "ap": m.ap,
                    "roc_auc": m.auc,
                    "precision": m.precision,
                    "recall": m.recall,
                    "f1": m.f1,
                    "present": m.val_present,
                    "absent": m.val_absent,
                    "na_reason": m.na_reason,
                },
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mtlabel_version": __version__,
        "torch_version": torch.__version__,
        "files": {"torchscript": TORCHSCRIPT_FILE, "onnx": ONNX_FILE if onnx_written else None},
        "run": {
            "id": run_id,
            "project": project.root.name,
            "epoch": epoch,
            "mean_ap": ckpt.get("mean_ap"),
            "backbone": spec.name,
            "architecture": spec.arch,
            "mode": loaded.mode,
            "arch": config.arch,
            "hidden": config.hidden_width(spec.arch),
            "weights_source": spec.source,
            "config": config.to_dict(),
        },
        "tasks": tasks,
        "input": {
            "name": "images",
            "layout": "NHWC",
            "shape": ["N", size, size, 3],
            "size": size,
            "channel_order": "RGB",
            "dtype": "uint8",
            "value_range": [0, 255],
            "dtype_note": (
                "model.pt takes uint8, or float32/float64 holding the same 0-255 values "
                "(not scaled to 0-1); model.onnx takes uint8 only. Any batch size N; the "
                f"height and width must be exactly {size}."
            ),
        },
        "normalisation": {
            "inside_model": True,
            "mean": list(loaded.mean),
            "std": list(loaded.std),
            "formula": "x = (pixel / 255 - mean) / std, per channel, computed inside the model; "
            "feed raw 0-255 pixels",
        },
        "preprocessing": _preprocessing(size),
        "output": {
            "name": "probabilities",
            "shape": ["N", len(task_ids)],
            "kind": "calibrated probabilities" if loaded.calibrated else "probabilities",
            "activation": "sigmoid, applied inside the model (independent per task, not softmax)",
            "order": "tasks[i] is column i",
            "decision": "present when probability >= the task's threshold, else absent",
        },
        "numerics": (
            "The exported model computes in float32 on the CPU. The program's own predictions "
            "match it to about 1e-5 when they were computed on the CPU; on a CUDA GPU the "
            "program uses mixed precision (about 1e-2)."
        ),
    }


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf) replaced by None: valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _preprocessing(size: int) -> dict[str, Any]:
    """The image cache's recipe (image_cache.py, decode.load_rgb), step by step."""
    s = size
    return {
        "resize": "stretch",
        "summary": (
            f"the first frame as 8-bit RGB, EXIF orientation applied, the whole image "
            f"stretched to {s}x{s} (aspect ratio not kept, nothing cropped) with bilinear "
            "interpolation; JPEGs are decoded at a reduced scale first (Pillow draft mode)"
        ),
        "size": [s, s],
        "interpolation": "bilinear",
        "exif_orientation": True,
        "transparency": "composited on white",
        "recipe": RECIPE,
        "reference": "docs/export_example.py in the mtlabel sources (Pillow only)",
        "steps": [
            "im = PIL.Image.open(file); w, h = im.size (as stored, before the EXIF orientation)",
            f"JPEG only, when min(w, h) > {s}: m = max({s}, ceil({s} * max(w, h) / min(w, h))); "
            "when max(w, h) > m: k = m / max(w, h), "
            "target = (max(1, min(m, round(w * k))), max(1, min(m, round(h * k)))) "
            "(Python's round), and im.draft('RGB', (ceil(w * k), ceil(h * k)))",
            "im.load(); orientation = im.getexif().get(0x0112, 1)",
            "rgb = im.convert('RGB'); images with transparency are converted to RGBA and "
            "composited on opaque white first; 16-bit grey is scaled by 1/257",
            "when a target was set and rgb.size != target: "
            "rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)",
            "apply the orientation: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, "
            "5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90 (Image.transpose)",
            f"when rgb.size != ({s}, {s}): rgb = rgb.resize(({s}, {s}), "
            "Image.Resampling.BILINEAR, reducing_gap=3.0)",
            f"pixels = numpy.asarray(rgb, dtype=uint8), shape ({s}, {s}, 3); stack to (N, {s}, "
            f"{s}, 3)",
        ],
    }


def export_run(
    project: Project,
    run_id: int,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    onnx: bool = True,
) -> ExportSummary:
    """Export run ``run_id``'s best checkpoint into ``out_dir`` (see the module's doc).

    Raises UserError for an unknown run, a run without checkpoint, a checkpoint
    that is damaged or refused (it could run code), a target folder that is not
    empty (without ``overwrite``) or cannot be written.
    """
    started = time.monotonic()
    target = Path(out_dir).expanduser().absolute()
    _prepare_target(target, overwrite)
    loaded = load_for_export(project, run_id)
    notes: list[str] = []
    tmp = target.with_name(f".{target.name}.export-{uuid.uuid4().hex[:8]}")
    try:
        try:
            tmp.mkdir()
        except OSError as exc:
            raise UserError(f"cannot write into {target.parent}: {exc.strerror or exc}") from exc
        try:
            _write_torchscript(loaded.model, loaded.size, tmp / TORCHSCRIPT_FILE)
        except OSError as exc:
            raise UserError(f"cannot write {target / TORCHSCRIPT_FILE}: {exc}") from exc
        onnx_written = False
        if onnx:
            try:
                notes += _write_onnx(loaded.model, loaded.size, tmp / ONNX_FILE)
                onnx_written = True
            except ImportError as exc:
                notes.append(
                    f"model.onnx skipped: the ONNX exporter is not installed ({exc.name or exc}); "
                    f"{ONNX_INSTALL_HINT}"
                )
            except Exception as exc:  # the TorchScript model stands on its own
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                reason = f"{type(exc).__name__}: {text[:200]}"
                notes.append(f"model.onnx skipped: the ONNX export failed ({reason})")
                (tmp / ONNX_FILE).unlink(missing_ok=True)
        sidecar = _sidecar(project, run_id, loaded, onnx_written)
        (tmp / SIDECAR_FILE).write_text(
            json.dumps(_finite(sidecar), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
            encoding="utf-8",
        )
        files = tuple(name for name in EXPORT_FILES if (tmp / name).is_file())
        _check_target(target, overwrite)  # again: it may have changed meanwhile
        try:
            _move_into_place(tmp, target)
        except OSError as exc:
            raise UserError(f"cannot put the export into {target}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ExportSummary(
        run_id=run_id,
        out_dir=target,
        files=files,
        tasks=tuple(t["name"] for t in sidecar["tasks"]),
        input_size=loaded.size,
        backbone=loaded.spec.name,
        mode=loaded.mode,
        onnx=onnx_written,
        notes=tuple(notes),
        seconds=time.monotonic() - started,
    )
