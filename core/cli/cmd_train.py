"""``mtlabel train / runs / predictions / predict``: the training engine from the shell.

``train --json`` prints one JSON object per line on stdout and nothing else:
the window runs exactly this command in its own process and reads those lines.
SIGTERM or SIGINT cancels cooperatively: the current step ends, the run is
marked cancelled, the process exits.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from core.cli.output import emit_json, say, table, to_jsonable, warn
from core.errors import UserError
from core.project import Project, write_file_atomically


class DefaultsHelp(argparse.HelpFormatter):
    """Each option's help ends with its default, unless it says its default itself or
    has none worth saying (None, a switch that is off)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train the multi-task network on the project's labels",
        description="Train one shared network on exactly the known labels (unknown cells "
        "are left out of the loss). Every setting has a default that suits a first run.",
        formatter_class=DefaultsHelp,
    )
    p.add_argument("path", help="project folder")
    p.add_argument(
        "--epochs",
        type=int,
        default=12,
        help="passes over the training images (early stopping may end sooner; auto and "
        "scratch choose their own for small sets)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="images per training step")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate")
    p.add_argument(
        "--backbone",
        default="auto",
        metavar="NAME",
        help="compact | efficientnet-lite0 | efficientnet-lite1 | efficientnet-lite2 | resnet18 "
        "| mobilenet-v3-large | file:PATH; "
        "default auto (with --mode auto): train the pretrained head and the compact "
        "network, keep the better on validation (README: auto)",
    )
    p.add_argument(
        "--mode",
        choices=("auto", "scratch", "instant", "finetune"),
        default="auto",
        help="scratch: train every weight; instant: frozen pretrained backbone, cached "
        "features, seconds to train; finetune: also train the backbone's last stages; "
        "auto: instant for a pretrained backbone, scratch for compact (with --backbone auto: "
        "the candidates of an auto run)",
    )
    p.add_argument(
        "--views",
        type=int,
        default=4,
        help="instant: cached views (original, flip, shifts) per training image",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=0,
        help="square input side in pixels (default: the backbone's own, 64 or 224)",
    )
    p.add_argument("--width", type=int, default=24, help="compact network width")
    p.add_argument(
        "--hidden",
        type=int,
        default=0,
        help="shared hidden layer width (default: 4 × width for compact, 256 otherwise)",
    )
    p.add_argument(
        "--backbone-lr",
        type=float,
        default=0.1,
        help="finetune: the backbone's learning rate as a fraction of --lr",
    )
    p.add_argument(
        "--arch",
        choices=("shared", "separate"),
        default="shared",
        help="shared: one network with a head per task; separate: one network per task "
        "(for comparing)",
    )
    p.add_argument(
        "--loss",
        choices=("masked", "partial", "assume-negative", "known-mean", "large-loss"),
        default="masked",
        help="masked: unknown cells left out; partial: Durand et al. reweighting; "
        "known-mean: divided by the batch's known cells; assume-negative: unknown taken as "
        "absent (baseline); large-loss: as absent but the largest-loss unknown cells left "
        "out (Kim et al. 2022); see docs/measurements.md",
    )
    p.add_argument("--pos-weight", action="store_true", help="up-weight rare positives")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="share of the labelled images held out to measure the run and calibrate",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default="auto",
        help="auto: a CUDA GPU when there is one, else the CPU",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of the split, the weights and the order"
    )
    p.add_argument("--init-from", type=int, metavar="RUN", help="start from a run's weights")
    p.add_argument(
        "--patience",
        type=int,
        default=4,
        help="stop when this many epochs in a row did not improve validation (0: never)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="stop before an epoch that would end past this many seconds of training "
        "(the default auto run bounds each candidate: see README)",
    )
    p.add_argument("--no-augment", action="store_true", help="no flips or shifts")
    p.add_argument(
        "--flip",
        action="store_true",
        help="add random horizontal flips (photographs, scenes; never for text or digits)",
    )
    p.add_argument(
        "--design",
        choices=("blocks", "residual"),
        default="blocks",
        help="compact network: conv-BN-ReLU-max-pool stages, or the earlier residual one",
    )
    p.add_argument("--max-steps", type=int, help="stop after this many steps (smoke test)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout, nothing else")
    p.set_defaults(handler=run_train)

    p = sub.add_parser("runs", help="list training runs with their headline metrics")
    p.add_argument("path")
    p.add_argument("--run", type=int, help="show one run's per-task metrics")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_runs)

    p = sub.add_parser("predictions", help="export a run's predictions as CSV")
    p.add_argument("path")
    p.add_argument("--run", type=int, help="default: the newest finished run")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_predictions)

    p = sub.add_parser("predict", help="re-run a trained model over every image (new ones too)")
    p.add_argument("path")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_predict)


class CancelOnSignal:
    """SIGTERM/SIGINT set a flag the loop polls; a second signal stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)


def _printer(as_json: bool) -> Any:
    last_line = {"progress": ""}

    def emit(event: dict[str, Any]) -> None:
        if as_json:
            sys.stdout.write(json.dumps(to_jsonable(event), allow_nan=False, default=str) + "\n")
            sys.stdout.flush()
            return
        kind = event["event"]
        if kind == "started":
            say(f"run {event['run']} on {event['device']}")
        elif kind == "caching" and sys.stderr.isatty():
            sys.stderr.write(f"\rcaching images {event['done']}/{event['total']}")
            if event["done"] == event["total"]:
                sys.stderr.write("\n")
        elif kind == "features" and sys.stderr.isatty():
            sys.stderr.write(f"\rcomputing features {event['done']}/{event['total']} images")
            if event["done"] == event["total"]:
                sys.stderr.write("\n")
        elif kind == "progress" and sys.stderr.isatty():
            line = (
                f"\repoch {event['epoch']}/{event['epochs']} step {event['step']}/"
                f"{event['steps']} loss {event['loss']:.4f}"
            )
            sys.stderr.write(line)
            last_line["progress"] = line
        elif kind == "epoch":
            if last_line["progress"]:
                sys.stderr.write("\n")
                last_line["progress"] = ""
            ap = "n/a" if event["mean_ap"] is None else f"{event['mean_ap']:.3f}"
            vl = "n/a" if event["val_loss"] is None else f"{event['val_loss']:.4f}"
            say(
                f"epoch {event['epoch']}/{event['epochs']}: train loss "
                f"{event['train_loss']:.4f}, val loss {vl}, mean AP {ap}, "
                f"{event['seconds']:.1f} s" + (" (best)" if event["best"] else "")
            )
        elif kind in ("warning", "info"):
            warn(f"{kind}: {event['message']}")
        elif kind == "done":
            ap = "n/a" if event["mean_ap"] is None else f"{event['mean_ap']:.3f}"
            say(f"run {event['run']} done: best epoch {event['best_epoch']}, mean AP {ap}")
        elif kind == "cancelled":
            say(f"run {event['run']} cancelled")
        elif kind == "failed":
            warn(f"run {event['run']} failed: {event['error']}")

    return emit


def run_train(args: argparse.Namespace) -> int:
    from core.runs import get_run
    from core.training.config import TrainConfig
    from core.training.loop import train

    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        image_size=args.image_size,
        width=args.width,
        backbone=args.backbone,
        mode=args.mode,
        views=args.views,
        hidden=args.hidden,
        backbone_lr=args.backbone_lr,
        arch=args.arch,
        loss=args.loss,
        pos_weight=args.pos_weight,
        val_fraction=args.val_fraction,
        device=args.device,
        seed=args.seed,
        init_from=args.init_from,
        augment=not args.no_augment,
        flip=args.flip,
        patience=args.patience,
        time_budget_s=args.time_budget,
        design=args.design,
        max_steps=args.max_steps,
        threads=args.threads,
    ).validate()
    cancel = CancelOnSignal()
    cancel.install()
    with Project.open(args.path) as project:
        run_id = train(project, config, _printer(args.json), cancel)
        status = get_run(project, run_id).status
    return {"done": 0, "cancelled": 4}.get(status, 5)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def run_runs(args: argparse.Namespace) -> int:
    from core.runs import backbone_label, get_run, list_runs, run_task_metrics

    with Project.open(args.path) as project:
        if args.run is not None:
            info = get_run(project, args.run)
            metrics = run_task_metrics(project, args.run)
            if args.json:
                emit_json({"run": info, "tasks": metrics})
                return 0
            say(
                f"run {info.id}: {info.status}, best epoch {info.best_epoch}, mean AP "
                f"{_fmt(info.best_mean_ap)}" + (f" — {info.error}" if info.error else "")
            )
            rows = [
                [
                    m.name,
                    f"{m.val_present}/{m.val_absent}/{m.val_unknown}",
                    _fmt(m.ap),
                    _fmt(m.auc),
                    _fmt(m.precision),
                    _fmt(m.recall),
                    _fmt(m.f1),
                    _fmt(m.decision_threshold, 2),
                    m.na_reason or "",
                ]
                for m in metrics
            ]
            say(
                table(
                    rows,
                    [
                        "task",
                        "val +/-/?",
                        "AP",
                        "AUC",
                        "prec",
                        "recall",
                        "F1",
                        "thresh",
                        "n/a because",
                    ],
                )
            )
            return 0
        infos = list_runs(project)
    if args.json:
        emit_json(infos)
        return 0
    rows = []
    for r in infos:
        cfg = r.config
        backbone = cfg.get("backbone", "compact")
        net = (
            f"w{cfg.get('width')}"
            if backbone == "compact"
            else f"{backbone_label(backbone)} {cfg.get('mode')}"
        )
        settings = f"{cfg.get('arch')} {net} {cfg.get('image_size')}px {cfg.get('loss')}"
        duration = "" if r.seconds is None else f"{r.seconds:.0f} s"
        rows.append(
            [
                str(r.id),
                r.created_at.strftime("%Y-%m-%d %H:%M"),
                settings,
                r.status,
                _fmt(r.best_mean_ap),
                duration,
            ]
        )
    say(
        table(rows, ["run", "started", "settings", "status", "mean AP", "time"])
        if rows
        else "no runs yet: train one with 'mtlabel train'"
    )
    return 0


def run_predictions(args: argparse.Namespace) -> int:
    from core.db.models import Image, Task
    from core.runs import get_run, latest_finished_run, read_predictions

    with Project.open(args.path) as project:
        if args.run is None:
            latest = latest_finished_run(project)
            if latest is None:
                raise UserError("no finished run with predictions yet; train one first")
            run_id = latest.id
        else:
            run_id = args.run
        info = get_run(project, run_id)
        if not info.predictions_complete:
            raise UserError(f"run {run_id} has no complete set of predictions ({info.status})")
        image_ids, task_ids, probs = read_predictions(project, run_id)
        with project.reading() as session:
            names = dict(session.query(Task.id, Task.name).filter(Task.id.in_(task_ids)).all())
            paths = dict(session.query(Image.id, Image.rel_path).all())
    out = Path(args.output)
    if not out.parent.exists():
        raise UserError(f"cannot write {out}: folder {out.parent} does not exist")
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", *(names[t] for t in task_ids)])
    for image_id, row in zip(image_ids, probs.tolist(), strict=True):
        writer.writerow([paths[image_id], *(f"{p:.6f}" for p in row)])
    write_file_atomically(out, buffer.getvalue())
    if args.json:
        emit_json(
            {"run": run_id, "images": len(image_ids), "tasks": len(task_ids), "output": str(out)}
        )
    else:
        say(f"wrote {out}: {len(image_ids)} images × {len(task_ids)} tasks from run {run_id}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from core.training.errors import RunFailed, TrainingCancelled
    from core.training.predict import predict_run

    cancel = CancelOnSignal()
    cancel.install()
    with Project.open(args.path) as project:
        try:
            n = predict_run(project, args.run, _printer(args.json), cancel, args.device)
        except RunFailed as exc:
            raise UserError(str(exc)) from exc
        except TrainingCancelled:
            warn("prediction cancelled; the run's predictions are marked incomplete")
            return 4
    if args.json:
        emit_json({"event": "done", "run": args.run, "images": n})
    else:
        say(f"run {args.run}: predictions written for {n} images")
    return 0
