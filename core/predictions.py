"""Inspecting a run's predictions against the labels: what to label next, which labels
look wrong, what the model finds, and which cells accepting its predictions would set.

Every query reads one consistent snapshot (``project.reading()``), uses only runs
whose predictions are complete, and returns plain dataclasses or ids. No torch and
no Qt here: the window calls these directly.

Conventions (the metrics' ones, see ``core.training.metrics``):

* A task's **threshold** ``t`` is the one the user chose in the window for this run
  (``core.thresholds``), else the run's best epoch's: 0.5 on calibrated
  probabilities for runs since calibration, the maximum-F1 point on validation for
  older runs; 0.5 where the run has none for the task.
* The model **predicts present** when ``p >= t``, else absent.
* The **margin** of a cell is ``|p - t|``: the smaller, the less sure the model is
  (for one sigmoid output entropy and margin rank cells alike).
* The **confidence** of a prediction is the probability of the value it predicts:
  ``p`` when it predicts present, ``1 - p`` when it predicts absent. Accepting in
  bulk "with confidence >= c" therefore sets present where ``p >= max(t, c)`` and
  absent where ``p < t`` and ``p <= 1 - c`` (compared with a 1e-9 tolerance, so
  that c = 0.9 takes p = 0.1).
* The active-learning queue (``label_next``) gives every (1/share)-th place to a
  random unknown cell (with the default share 0.1: the 10th, 20th … entry), so that
  it does not only chase the model's blind spots; the rest are the most uncertain
  unknown cells in order.

Speed: the orders come from the index ``prediction(run_id, task_id, probability)``.
Per task, the unknown cells nearest the threshold are two index range scans
walking away from ``t`` (one up, one down), read a page at a time (keyset
pagination); the 2·T scans are merged lazily, so a queue of ``limit`` cells reads
about ``limit`` rows plus one small page per scan, whatever the project's size.
Disagreements are read the same way from ``p = 0`` up (labelled present) and from
``p = 1`` down (labelled absent).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, exists, func, or_, select
from sqlalchemy.orm import Session

from core.db.models import Image, Label, LabelCheck, Prediction, Run, RunTaskMetric, Task
from core.errors import NotFoundError, UserError
from core.project import Project

DEFAULT_THRESHOLD = 0.5
"""The threshold of a task for which the run recorded none."""
DEFAULT_RANDOM_SHARE = 0.1
"""Share of the active-learning queue given to random unknown cells."""
MAX_RANDOM_CHECKS = 50_000
"""Cells drawn at most when looking for random unknown cells; where unknown cells are
rarer than that allows, the queue gets fewer random picks (and more uncertain ones)."""

_EPS = 1e-9
"""Tolerance of "1 - p >= c": with c = 0.9, p = 0.1 counts (1 - 0.9 is 0.0999… in floats)."""
_FIRST_PAGE = 32
_FIRST_PAGE_RARE = 4
"""First page of a scan for rare cells (disagreements): each of the 2·T scans must find
its first rows before the merge can start, and each row found may cost many probes."""
_MAX_PAGE = 4096
_CHUNK = 500

Cell = tuple[int, int, int]
"""(image id, task id, value) — what ``ProjectSession.set_cells`` takes."""


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSuggestion:
    """An unknown cell worth labelling: the model is unsure about it (or it is a random pick)."""

    image_id: int
    task_id: int
    probability: float
    threshold: float
    margin: float
    """``|probability - threshold|``: how far the model is from changing its mind."""
    random: bool = False
    """Picked at random (exploration), not for its margin."""

    @property
    def predicted(self) -> int:
        return predicted_value(self.probability, self.threshold)


@dataclass(frozen=True)
class ImageSuggestion:
    """An image of the active-learning queue, with all its unknown predicted cells."""

    image_id: int
    margin: float
    """The smallest margin among its cells (the one that put it in the queue, unless random)."""
    cells: tuple[CellSuggestion, ...]
    """Its unknown cells with a prediction, most uncertain first."""
    random: bool = False
    """It entered the queue through a random pick."""


@dataclass(frozen=True)
class Disagreement:
    """A known cell the model contradicts: a likely label error."""

    image_id: int
    task_id: int
    label: int
    probability: float
    confidence: float
    """The model's probability for the other value: ``p`` if labelled absent, ``1 - p``
    if labelled present."""


@dataclass(frozen=True)
class AcceptCounts:
    present: int
    absent: int

    @property
    def total(self) -> int:
        return self.present + self.absent


@dataclass(frozen=True)
class TaskAcceptance:
    """A task's unknown cells with their probabilities (ascending), read once, so that a
    dialog can count what a confidence would accept as the user moves a slider."""

    task_id: int
    threshold: float
    image_ids: np.ndarray
    """int64, in the order of ``probabilities``."""
    probabilities: np.ndarray
    """float64, ascending."""

    def _masks(self, min_confidence: float) -> tuple[np.ndarray, np.ndarray]:
        c = check_confidence(min_confidence)
        p, t = self.probabilities, self.threshold
        return p >= max(t, c), (p < t) & (p <= 1.0 - c + _EPS)

    def counts(self, min_confidence: float) -> AcceptCounts:
        present, absent = self._masks(min_confidence)
        return AcceptCounts(int(present.sum()), int(absent.sum()))

    def expected_wrong(self, min_confidence: float) -> float:
        """How many of the cells ``cells(min_confidence)`` sets are wrong, expected from
        the probabilities: 1 − p summed over those set present, p over those set absent
        (an honest count when the probabilities are calibrated)."""
        present, absent = self._masks(min_confidence)
        p = self.probabilities
        return float((1.0 - p[present]).sum() + p[absent].sum())

    def cells(self, min_confidence: float) -> list[Cell]:
        """The cells to set: present ones (most confident first), then absent ones."""
        present, absent = self._masks(min_confidence)
        ids = self.image_ids
        return [(int(i), self.task_id, 1) for i in ids[present][::-1]] + [
            (int(i), self.task_id, 0) for i in ids[absent]
        ]


# -- small rules ---------------------------------------------------------------------


def predicted_value(probability: float, threshold: float) -> int:
    """1 (present) when ``probability >= threshold``, else 0."""
    return 1 if probability >= threshold else 0


def confidence(probability: float, threshold: float) -> float:
    """The probability of the value the model predicts: ``p`` or ``1 - p``."""
    return probability if probability >= threshold else 1.0 - probability


def check_confidence(value: float) -> float:
    c = float(value)
    if not 0.0 <= c <= 1.0:
        raise UserError(f"a minimum confidence is between 0 and 1, not {value}")
    return c


def _check_threshold(value: float | None) -> float:
    if value is None or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return DEFAULT_THRESHOLD
    return float(value)


# -- the run and its tasks -----------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    session: Session
    run_id: int
    thresholds: dict[int, float]
    task_ids: list[int]
    """Active tasks with predictions in this run, in display order."""

    def threshold(self, task_id: int) -> float:
        return self.thresholds.get(task_id, DEFAULT_THRESHOLD)

    @property
    def conn(self) -> Connection:
        """The snapshot's connection: Core queries, without the ORM's per-row cost."""
        return self.session.connection()


def _check_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id} in this project")
    if not run.predictions_complete:
        state = {
            "running": "it is still running",
            "queued": "it has not started",
            "failed": "it failed",
            "cancelled": "it was cancelled",
        }.get(run.status, "they were not all written")
        raise UserError(
            f"the predictions of run {run_id} are incomplete ({state}); choose a run that "
            "finished with predictions"
        )
    return run


def _thresholds(session: Session, run: Run) -> dict[int, float]:
    epoch = run.best_epoch or run.epochs_done
    chosen = func.coalesce(RunTaskMetric.user_threshold, RunTaskMetric.threshold)
    rows = session.execute(
        select(RunTaskMetric.task_id, chosen).where(
            RunTaskMetric.run_id == run.id, RunTaskMetric.epoch == epoch
        )
    )
    return {int(task_id): _check_threshold(t) for task_id, t in rows}


def _predicted_tasks(session: Session, run_id: int, active_only: bool = True) -> list[int]:
    has_predictions = exists().where(Prediction.run_id == run_id, Prediction.task_id == Task.id)
    query = select(Task.id).where(has_predictions).order_by(Task.position, Task.id)
    if active_only:
        query = query.where(Task.archived.is_(False))
    return [int(t) for t in session.scalars(query)]


def _context(session: Session, run_id: int, task_id: int | None = None) -> _Context:
    run = _check_run(session, run_id)
    thresholds = _thresholds(session, run)
    if task_id is None:
        task_ids = _predicted_tasks(session, run_id)
    else:
        if session.get(Task, task_id) is None:
            raise NotFoundError(f"no task with id {task_id} in this project")
        task_ids = [task_id]
    return _Context(session, run_id, thresholds, task_ids)


def thresholds(project: Project, run_id: int) -> dict[int, float]:
    """Task id → threshold of the run's best epoch, for every task the run predicted or
    measured (``DEFAULT_THRESHOLD`` where it recorded none)."""
    with project.reading() as session:
        run = _check_run(session, run_id)
        found = _thresholds(session, run)
        for task_id in _predicted_tasks(session, run_id, active_only=False):
            found.setdefault(task_id, DEFAULT_THRESHOLD)
        return found


# -- index scans -----------------------------------------------------------------------


def _unknown() -> ColumnElement[bool]:
    return ~exists().where(
        Label.image_id == Prediction.image_id, Label.task_id == Prediction.task_id
    )


Scored = type[Prediction] | type[LabelCheck]
"""Where probabilities are read: every cell's prediction, or known cells' label checks."""


def _labelled(task_id: int, value: int, table: Scored = Prediction) -> ColumnElement[bool]:
    return exists().where(
        Label.image_id == table.image_id, Label.task_id == task_id, Label.value == value
    )


def _unchecked(run_id: int, task_id: int) -> ColumnElement[bool]:
    """A prediction's cell has no label check (it was labelled after the run)."""
    return ~exists().where(
        LabelCheck.run_id == run_id,
        LabelCheck.task_id == task_id,
        LabelCheck.image_id == Prediction.image_id,
    )


def _scan(
    ctx: _Context,
    task_id: int,
    cell_filter: ColumnElement[bool],
    *,
    ascending: bool,
    lower: tuple[float, bool] | None = None,
    upper: tuple[float, bool] | None = None,
    first_page: int = _FIRST_PAGE,
    table: Scored = Prediction,
) -> Iterator[tuple[int, float]]:
    """(image id, probability) of one task's cells passing ``cell_filter`` with ``p`` within
    ``lower``/``upper`` ((bound, inclusive)), by probability (ties: image id ascending),
    read lazily a page at a time from ``table``."""
    p_col, i_col = table.probability, table.image_id
    base = select(i_col, p_col).where(
        table.run_id == ctx.run_id, table.task_id == task_id, cell_filter
    )
    if lower is not None:
        base = base.where(p_col >= lower[0] if lower[1] else p_col > lower[0])
    if upper is not None:
        base = base.where(p_col <= upper[0] if upper[1] else p_col < upper[0])
    order = (p_col.asc(), i_col.asc()) if ascending else (p_col.desc(), i_col.asc())
    page = first_page
    last: tuple[float, int] | None = None
    while True:
        query = base
        if last is not None:
            lp, li = last
            if ascending:
                query = query.where(p_col >= lp, or_(p_col > lp, i_col > li))
            else:
                query = query.where(p_col <= lp, or_(p_col < lp, i_col > li))
        rows = ctx.conn.execute(query.order_by(*order).limit(page)).all()
        for image_id, p in rows:
            yield int(image_id), float(p)
        if len(rows) < page:
            return
        last = (float(rows[-1][1]), int(rows[-1][0]))
        page = min(page * 4, _MAX_PAGE)


def _uncertain_stream(ctx: _Context, task_id: int) -> Iterator[CellSuggestion]:
    """One task's unknown cells by margin: the scans up and down from ``t``, merged."""
    t = ctx.threshold(task_id)

    def up() -> Iterator[tuple[float, int, int, CellSuggestion]]:
        for image_id, p in _scan(ctx, task_id, _unknown(), ascending=True, lower=(t, True)):
            m = p - t
            yield m, image_id, task_id, CellSuggestion(image_id, task_id, p, t, m)

    def down() -> Iterator[tuple[float, int, int, CellSuggestion]]:
        for image_id, p in _scan(ctx, task_id, _unknown(), ascending=False, upper=(t, False)):
            m = t - p
            yield m, image_id, task_id, CellSuggestion(image_id, task_id, p, t, m)

    for item in heapq.merge(up(), down(), key=lambda x: x[:3]):
        yield item[3]


def _uncertain(ctx: _Context) -> Iterator[CellSuggestion]:
    """Every unknown predicted cell of the context's tasks, by (margin, image, task)."""
    streams = [_uncertain_stream(ctx, t) for t in ctx.task_ids]
    return heapq.merge(*streams, key=lambda c: (c.margin, c.image_id, c.task_id))


def _unknown_cells_of_images(
    ctx: _Context, image_ids: Iterable[int]
) -> dict[tuple[int, int], float]:
    """(image, task) → p of the unknown predicted cells of these images (context's tasks)."""
    ids = sorted(set(image_ids))
    found: dict[tuple[int, int], float] = {}
    if not ctx.task_ids:
        return found
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = ctx.conn.execute(
            select(Prediction.image_id, Prediction.task_id, Prediction.probability).where(
                Prediction.run_id == ctx.run_id,
                Prediction.image_id.in_(chunk),
                Prediction.task_id.in_(ctx.task_ids),
                _unknown(),
            )
        )
        for image_id, task_id, p in rows:
            found[(int(image_id), int(task_id))] = float(p)
    return found


def _suggestion(ctx: _Context, image_id: int, task_id: int, p: float, rnd: bool) -> CellSuggestion:
    t = ctx.threshold(task_id)
    return CellSuggestion(image_id, task_id, p, t, abs(p - t), rnd)


def _random_unknown(
    ctx: _Context,
    n: int,
    seed: int,
    skip: Callable[[int, int], bool],
    one_per_image: bool = False,
) -> list[CellSuggestion]:
    """Up to ``n`` unknown predicted cells drawn uniformly at random (deterministic for a
    seed and the same data), leaving out cells for which ``skip(image, task)`` holds.

    Cells of images × tasks are drawn with a seeded generator and checked against the
    database a batch at a time (one query per 500 images), until ``n`` are found or
    ``MAX_RANDOM_CHECKS`` cells were looked at.
    """
    if n <= 0 or not ctx.task_ids:
        return []
    first_id, last_id = ctx.conn.execute(select(func.min(Image.id), func.max(Image.id))).one()
    if first_id is None:
        return []
    # Cells are drawn over the id range: ids of deleted images find no row and are
    # passed over like known cells (reading every id would cost more than the draws).
    n_tasks = len(ctx.task_ids)
    n_cells = (int(last_id) - int(first_id) + 1) * n_tasks
    rng = np.random.default_rng(seed)
    seen: set[int] = set()
    images_taken: set[int] = set()
    picks: list[CellSuggestion] = []
    checked = found_unknown = 0
    budget = min(n_cells, MAX_RANDOM_CHECKS)
    while len(picks) < n and checked < budget:
        rate = (found_unknown + 1) / (checked + 2)  # the unknown share seen so far (smoothed)
        want = math.ceil(1.5 * (n - len(picks)) / rate)
        draws = rng.integers(0, n_cells, size=max(64, min(want, budget - checked, 20_000)))
        fresh: list[int] = []
        for d in draws.tolist():
            if d not in seen:
                seen.add(d)
                fresh.append(d)
        if not fresh:
            if len(seen) >= n_cells:
                break
            continue
        checked += len(fresh)
        cells = [(int(first_id) + d // n_tasks, ctx.task_ids[d % n_tasks]) for d in fresh]
        unknown = _unknown_cells_of_images(ctx, (i for i, _ in cells))
        for image_id, task_id in cells:
            p = unknown.get((image_id, task_id))
            if p is None:
                continue
            found_unknown += 1
            if skip(image_id, task_id) or (one_per_image and image_id in images_taken):
                continue
            picks.append(_suggestion(ctx, image_id, task_id, p, True))
            images_taken.add(image_id)
            if len(picks) == n:
                break
    return picks


def _random_slots(limit: int, random_share: float) -> list[int]:
    """Queue positions (0-based) of the random picks: every (1/share)-th place, i.e. with
    share 0.1 the 10th, 20th, 30th … entry (positions 9, 19, 29 …)."""
    share = float(random_share)
    if not 0.0 <= share <= 1.0:
        raise UserError(f"the random share is between 0 and 1, not {random_share}")
    if share == 0.0:
        return []
    slots = []
    for k in range(limit):
        pos = math.floor((k + 1) / share + 1e-9) - 1
        if pos >= limit:
            break
        slots.append(pos)
    return slots


def _interleave(
    uncertain: Iterator[Any], randoms: list[Any], limit: int, slots: list[int]
) -> list[Any]:
    """Random picks at ``slots`` (while they last), uncertain ones everywhere else."""
    wanted = set(slots[: len(randoms)])
    queue: list[Any] = []
    pending = iter(randoms)
    for pos in range(limit):
        item = next(pending, None) if pos in wanted else next(uncertain, None)
        if item is None:
            item = next(uncertain, None) if pos in wanted else next(pending, None)
        if item is None:
            break
        queue.append(item)
    return queue


# -- active learning -----------------------------------------------------------------


def label_next(
    project: Project,
    run_id: int,
    limit: int = 100,
    random_share: float = DEFAULT_RANDOM_SHARE,
    seed: int = 0,
) -> list[CellSuggestion]:
    """The active-learning queue over unknown cells of active tasks: most uncertain first
    (``|p - t|`` ascending, ties by image then task id), with random unknown cells mixed in.

    The random picks take every (1/``random_share``)-th place — with 0.1 the 10th, 20th …
    entry — and are drawn uniformly from the unknown cells that are not among the
    ``limit`` most uncertain ones, so that the queue also visits cells the model is
    sure about (its blind spots). The same seed and data give the same queue. Where too
    few random cells are found, uncertain ones fill their places.
    """
    limit = max(0, int(limit))
    slots = _random_slots(limit, random_share)
    with project.reading() as session:
        ctx = _context(session, run_id)
        top = [c for _, c in zip(range(limit), _uncertain(ctx), strict=False)]
        in_top = {(c.image_id, c.task_id) for c in top}
        randoms = _random_unknown(ctx, len(slots), seed, lambda i, t: (i, t) in in_top)
    return list(_interleave(iter(top), randoms, limit, slots))


def label_next_images(
    project: Project,
    run_id: int,
    limit: int = 100,
    random_share: float = DEFAULT_RANDOM_SHARE,
    seed: int = 0,
) -> list[ImageSuggestion]:
    """The queue by image: images ordered by their most uncertain unknown cell, each with
    all its unknown predicted cells (so that one visit clears them all). Random images
    (those of random unknown cells, one cell per image) take every (1/``random_share``)-th
    place, as in :func:`label_next`."""
    limit = max(0, int(limit))
    slots = _random_slots(limit, random_share)
    with project.reading() as session:
        ctx = _context(session, run_id)
        order: list[int] = []
        first_margin: dict[int, float] = {}
        for cell in _uncertain(ctx):
            if cell.image_id not in first_margin:
                first_margin[cell.image_id] = cell.margin
                order.append(cell.image_id)
                if len(order) == limit:
                    break
        randoms = _random_unknown(
            ctx, len(slots), seed, lambda i, _t: i in first_margin, one_per_image=True
        )
        random_ids = [c.image_id for c in randoms]
        chosen: list[int] = _interleave(iter(order), random_ids, limit, slots)
        cells = _unknown_cells_of_images(ctx, chosen)
    by_image: dict[int, list[CellSuggestion]] = {i: [] for i in chosen}
    for (image_id, task_id), p in cells.items():
        by_image[image_id].append(_suggestion(ctx, image_id, task_id, p, False))
    result = []
    random_set = set(random_ids)
    for image_id in chosen:
        own = sorted(by_image[image_id], key=lambda c: (c.margin, c.task_id))
        margin = own[0].margin if own else math.inf
        result.append(ImageSuggestion(image_id, margin, tuple(own), image_id in random_set))
    return result


# -- likely label errors ---------------------------------------------------------------


def disagreements(
    project: Project,
    run_id: int,
    task_id: int | None = None,
    limit: int = 100,
    min_confidence: float = 0.5,
) -> list[Disagreement]:
    """Known cells whose label the model contradicts, most confident first.

    A cell disagrees when the value predicted at the task's threshold differs from its
    label; its confidence is the model's probability for the other value (``1 - p``
    for a cell labelled present, ``p`` for one labelled absent). Only cells with
    confidence ``>= min_confidence`` (default 0.5: the model finds the label wrong more
    likely than right) are listed. Ties: image id, then task id. ``task_id`` None: every
    active task the run predicted.

    ``p`` is the cell's **label check** where the run has one: the probability from a
    model that did not train on that label (out of fold, ``crossfit.py``) — a network
    that memorised a wrong label would otherwise agree with it. Cells labelled after
    the run, and runs without label checks, use the run's prediction.
    """
    c = check_confidence(min_confidence)
    limit = max(0, int(limit))
    with project.reading() as session:
        ctx = _context(session, run_id, task_id)
        checked = session.scalar(select(exists().where(LabelCheck.run_id == run_id)))
        streams = []
        for tid in ctx.task_ids:
            for label in (1, 0):
                if checked:
                    streams.append(_disagreement_stream(ctx, tid, label, c, LabelCheck))
                    extra = _unchecked(run_id, tid)
                    streams.append(_disagreement_stream(ctx, tid, label, c, Prediction, extra))
                else:
                    streams.append(_disagreement_stream(ctx, tid, label, c))
        merged = heapq.merge(*streams, key=lambda d: (-d.confidence, d.image_id, d.task_id))
        return [d for _, d in zip(range(limit), merged, strict=False)]


def _disagreement_stream(
    ctx: _Context,
    task_id: int,
    label: int,
    min_confidence: float,
    table: Scored = Prediction,
    extra: ColumnElement[bool] | None = None,
) -> Iterator[Disagreement]:
    t = ctx.threshold(task_id)
    cells = _labelled(task_id, label, table)
    if extra is not None:
        cells = cells & extra
    if label == 1:  # labelled present, predicted absent: p < t and 1 - p >= c
        rows = _scan(
            ctx,
            task_id,
            cells,
            ascending=True,
            upper=(min(t, 1.0 - min_confidence + _EPS), True),
            first_page=_FIRST_PAGE_RARE,
            table=table,
        )
        for image_id, p in rows:
            if p < t:
                yield Disagreement(image_id, task_id, 1, p, 1.0 - p)
    else:  # labelled absent, predicted present: p >= t and p >= c
        rows = _scan(
            ctx,
            task_id,
            cells,
            ascending=False,
            lower=(max(t, min_confidence), True),
            first_page=_FIRST_PAGE_RARE,
            table=table,
        )
        for image_id, p in rows:
            yield Disagreement(image_id, task_id, 0, p, p)


# -- what the model finds --------------------------------------------------------------


def predicted_present(
    project: Project, run_id: int, task_id: int, limit: int | None = None
) -> list[int]:
    """Images the run predicts present for the task (``p >= t``), highest ``p`` first."""
    with project.reading() as session:
        ctx = _context(session, run_id, task_id)
        query = (
            select(Prediction.image_id)
            .where(
                Prediction.run_id == run_id,
                Prediction.task_id == task_id,
                Prediction.probability >= ctx.threshold(task_id),
            )
            .order_by(Prediction.probability.desc(), Prediction.image_id)
        )
        if limit is not None:
            query = query.limit(limit)
        return [int(i) for i in session.connection().execute(query).scalars()]


def image_predictions(
    project: Project, run_id: int, image_id: int
) -> dict[int, tuple[float, float]]:
    """Task id → (probability, threshold) of one image, for every task the run predicted."""
    return images_predictions(project, run_id, [image_id]).get(int(image_id), {})


def images_predictions(
    project: Project, run_id: int, image_ids: Sequence[int]
) -> dict[int, dict[int, tuple[float, float]]]:
    """Image id → task id → (probability, threshold); images without predictions map to {}."""
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    result: dict[int, dict[int, tuple[float, float]]] = {i: {} for i in ids}
    with project.reading() as session:
        run = _check_run(session, run_id)
        found = _thresholds(session, run)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = session.connection().execute(
                select(Prediction.image_id, Prediction.task_id, Prediction.probability).where(
                    Prediction.run_id == run_id, Prediction.image_id.in_(chunk)
                )
            )
            for image_id, task_id, p in rows:
                t = found.get(int(task_id), DEFAULT_THRESHOLD)
                result[int(image_id)][int(task_id)] = (float(p), t)
    return result


# -- accepting predictions as labels ---------------------------------------------------


def accept_cell(project: Project, run_id: int, image_id: int, task_id: int) -> list[Cell]:
    """The cell with its predicted value if it is unknown and predicted; else nothing."""
    with project.reading() as session:
        ctx = _context(session, run_id, task_id)
        p = _unknown_cells_of_images(ctx, [image_id]).get((int(image_id), int(task_id)))
    if p is None:
        return []
    return [(int(image_id), int(task_id), predicted_value(p, ctx.threshold(task_id)))]


def accept_images(project: Project, run_id: int, image_ids: Sequence[int]) -> list[Cell]:
    """Every unknown cell of these images' active tasks that the run predicted, with its
    predicted value (``p >= t``), in image order then task order."""
    with project.reading() as session:
        ctx = _context(session, run_id)
        cells = _unknown_cells_of_images(ctx, image_ids)
    position = {t: n for n, t in enumerate(ctx.task_ids)}
    wanted = {int(i): n for n, i in reversed(list(enumerate(image_ids)))}
    ordered = sorted(cells.items(), key=lambda kv: (wanted[kv[0][0]], position[kv[0][1]]))
    return [(i, t, predicted_value(p, ctx.threshold(t))) for (i, t), p in ordered]


def accept_image(project: Project, run_id: int, image_id: int) -> list[Cell]:
    """Every unknown predicted cell of one image, with its predicted value."""
    return accept_images(project, run_id, [image_id])


def task_acceptance(project: Project, run_id: int, task_id: int) -> TaskAcceptance:
    """A task's unknown predicted cells, read once (see :class:`TaskAcceptance`).

    Reads the task's predictions in index order and its labelled images (a covering
    index) and takes the difference here: at 100,000 images this is several times
    faster than asking the database to probe the labels once per prediction.
    """
    with project.reading() as session:
        ctx = _context(session, run_id, task_id)
        rows = ctx.conn.execute(
            select(Prediction.image_id, Prediction.probability)
            .where(Prediction.run_id == run_id, Prediction.task_id == task_id)
            .order_by(Prediction.probability)
        ).all()
        known = ctx.conn.execute(select(Label.image_id).where(Label.task_id == task_id))
        known_ids = np.fromiter(known.scalars(), dtype=np.int64)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    probs = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    unknown = ~np.isin(ids, known_ids)
    ids, probs = ids[unknown], probs[unknown]
    order = np.lexsort((ids, probs))  # by probability, ties by image id
    return TaskAcceptance(task_id, ctx.threshold(task_id), ids[order], probs[order])


def accept_task(project: Project, run_id: int, task_id: int, min_confidence: float) -> list[Cell]:
    """The unknown cells of a task whose prediction has confidence ``>= min_confidence``:
    present where ``p >= max(t, c)``, absent where ``p < t`` and ``p <= 1 - c``."""
    return task_acceptance(project, run_id, task_id).cells(min_confidence)
