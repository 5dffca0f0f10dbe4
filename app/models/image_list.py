"""The image list as a Qt model: one row per image id, everything else read lazily.

Opening reads only the ids, in the chosen filter and order (one query). A
row's path, name, status and labelling state are read the first time a view
asks for that row — in practice only for rows being painted — together with
the rest of its block of ``BLOCK_ROWS`` rows, in one query, and cached. A
label change forgets the labelling state of the images it touched, so the
next paint reads it again; a task change or an image change re-reads all.

After a label change the rows stay as they are, even when a filter would now
leave an image out (an annotator working through "car: unknown" must not see
the image under the cursor vanish): the model marks its filter *stale*
(``filter_stale_changed``) and re-applies it on ``refresh()`` or when a
filter or sort order is set.

With a run set (``set_run``), three more kinds list images in an order of the
run's predictions, each computed by one ``core.predictions`` query when chosen:
"label next" (the active-learning queue by image, most uncertain unknown cell
first, ``LABEL_NEXT_IMAGES`` of them), "likely label errors" (the images of the
``LABEL_ERROR_CELLS`` most confident disagreements with a label) and "predicted
present" for a task (every image the run predicts present, highest first). The
sort order does not apply to them.

The queries live here (not in ``core.labels.list_images``) because the
window needs two things core does not offer: a cheaper "has unknown" /
"fully labelled" query (one grouped scan of the labels instead of a
per-image subquery: about twice as fast at 100,000 × 20) and the labelling
state of a block of rows together with their paths. They are checked
against ``list_images`` in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.session import LabelsChanged, ProjectSession
from app.thumbnails import ThumbnailLoader
from core import predictions as core_predictions
from core.db.models import Image, Label
from core.errors import UserError

BLOCK_ROWS = 200
"""Rows whose details are read together, in one query."""

_SCAN_CHUNK = 500
"""Images whose labelling state is read per query when searching for an unknown cell."""

FILTER_KINDS = (
    "all",
    "has_unknown",
    "fully_labelled",
    "task_present",
    "task_absent",
    "task_unknown",
)
TASK_FILTER_KINDS = ("task_present", "task_absent", "task_unknown")
PREDICTION_FILTER_KINDS = ("label_next", "label_errors", "predicted_present")
"""Kinds that need a run (``set_run``); they bring their own order."""
SORT_ORDERS = ("name", "imported")

LABEL_NEXT_IMAGES = 500
"""Images in the "label next" queue."""
LABEL_ERROR_CELLS = 500
"""Most confident disagreements whose images "likely label errors" lists."""

ALL_KNOWN = "all"
SOME_KNOWN = "some"
NONE_KNOWN = "none"

_Index = QModelIndex | QPersistentModelIndex


class ImageRole(IntEnum):
    """Data roles of :class:`ImageListModel`."""

    ImageId = int(Qt.ItemDataRole.UserRole)
    Path = ImageId + 1
    """Absolute path of the file."""
    Name = ImageId + 2
    """Path relative to the folder it was imported from (also the DisplayRole)."""
    Status = ImageId + 3
    """"ok", "missing" or "unreadable", as last recorded."""
    LabelState = ImageId + 4
    """``ALL_KNOWN``, ``SOME_KNOWN`` or ``NONE_KNOWN`` over the active tasks."""
    Thumbnail = ImageId + 5
    """A QPixmap once loaded; else None, and a load is requested."""
    Problem = ImageId + 6
    """None, or why the file cannot be shown: the recorded status if it is not "ok",
    else what the thumbnail loader found ("missing", "unreadable")."""
    Predicted = ImageId + 7
    """With a run set: the active tasks it predicts present on the image, as
    (task id, colour) in task order; else ()."""


@dataclass(frozen=True)
class ImageFilter:
    """One kind (``FILTER_KINDS`` or ``PREDICTION_FILTER_KINDS``), narrowed by ``also``
    — more task conditions, all of which must hold ("car: present" AND "tree: unknown")
    — and by ``name``, a piece of the file name (case-insensitive)."""

    kind: str = "all"
    task_id: int | None = None
    also: tuple[tuple[str, int], ...] = ()
    name: str = ""

    @property
    def narrowed(self) -> bool:
        return bool(self.also or self.name)


@dataclass(frozen=True)
class _Details:
    path: str
    rel_path: str
    status: str


# -- queries -------------------------------------------------------------------------


def query_image_ids(
    engine: Engine, image_filter: ImageFilter, order: str, active_task_ids: Sequence[int]
) -> list[int]:
    """Ids of the images passing ``image_filter``, in ``order`` ("name" or "imported")."""
    query = select(Image.id)
    kind, task_id = image_filter.kind, image_filter.task_id
    if kind in ("has_unknown", "fully_labelled"):
        if not active_task_ids:
            if kind == "has_unknown":
                return []
        else:
            known = (
                select(Label.image_id, func.count().label("known"))
                .where(Label.task_id.in_(active_task_ids))
                .group_by(Label.image_id)
                .subquery()
            )
            count = func.coalesce(known.c.known, 0)
            query = query.outerjoin(known, known.c.image_id == Image.id).where(
                count < len(active_task_ids)
                if kind == "has_unknown"
                else count == len(active_task_ids)
            )
    elif kind in TASK_FILTER_KINDS:
        assert task_id is not None
        query = query.where(_task_condition(kind, task_id))
    for also_kind, also_task in image_filter.also:
        query = query.where(_task_condition(also_kind, also_task))
    if image_filter.name:
        pattern = "%" + _escape_like(image_filter.name) + "%"
        query = query.where(Image.rel_path.ilike(pattern, escape="\\"))
    ordering = (Image.rel_path, Image.id) if order == "name" else (Image.imported_at, Image.id)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(*ordering)).scalars())


def _task_condition(kind: str, task_id: int) -> Any:
    """The WHERE clause of "task: present / absent / unknown"."""
    cell = select(Label.image_id).where(and_(Label.image_id == Image.id, Label.task_id == task_id))
    if kind == "task_unknown":
        return ~exists(cell)
    value = 1 if kind == "task_present" else 0
    return exists(cell.where(Label.value == value))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def query_prediction_ids(
    session: ProjectSession, run_id: int, image_filter: ImageFilter
) -> tuple[list[int], dict[int, str]]:
    """Ids of a prediction kind in its order, and a note per image for its tooltip.

    Raises ``UserError`` when the run's predictions cannot be used.
    """
    project = session.project

    def task_name(task_id: int) -> str:
        task = session.task(task_id)
        return task.name if task else f"task {task_id}"

    notes: dict[int, str] = {}
    if image_filter.kind == "label_next":
        queue = core_predictions.label_next_images(project, run_id, limit=LABEL_NEXT_IMAGES)
        for item in queue:
            if item.cells:
                c = item.cells[0]
                why = "random pick" if item.random else "most uncertain"
                notes[item.image_id] = (
                    f"Label next ({why}): {task_name(c.task_id)} p = {c.probability:.2f} "
                    f"(threshold {c.threshold:.2f}), {len(item.cells)} unknown"
                )
        return [item.image_id for item in queue], notes
    if image_filter.kind == "label_errors":
        found = core_predictions.disagreements(project, run_id, limit=LABEL_ERROR_CELLS)
        ids: list[int] = []
        for d in found:
            if d.image_id not in notes:
                ids.append(d.image_id)
                label = "present" if d.label else "absent"
                notes[d.image_id] = (
                    f"Likely label error: {task_name(d.task_id)} labelled {label}, "
                    f"p = {d.probability:.2f}"
                )
        return ids, notes
    if image_filter.kind == "predicted_present" and image_filter.task_id is not None:
        return core_predictions.predicted_present(project, run_id, image_filter.task_id), notes
    raise ValueError(f"not a prediction filter: {image_filter}")


def query_details(
    engine: Engine, image_ids: Sequence[int], active_task_ids: Sequence[int]
) -> list[tuple[int, str, str, str, int]]:
    """(id, path, rel_path, status, known active cells) of these images, one query."""
    known = (
        select(func.count())
        .select_from(Label)
        .where(Label.image_id == Image.id, Label.task_id.in_(active_task_ids))
        .scalar_subquery()
    )
    query = select(Image.id, Image.path, Image.rel_path, Image.status, known).where(
        Image.id.in_(image_ids)
    )
    with engine.connect() as conn:
        return [(int(i), str(p), str(r), str(s), int(k)) for i, p, r, s, k in conn.execute(query)]


def query_known_counts(
    engine: Engine, image_ids: Sequence[int], active_task_ids: Sequence[int]
) -> dict[int, int]:
    """Known active cells per image (images without any are left out), one query."""
    query = (
        select(Label.image_id, func.count())
        .where(Label.image_id.in_(image_ids), Label.task_id.in_(active_task_ids))
        .group_by(Label.image_id)
    )
    with engine.connect() as conn:
        return {int(i): int(n) for i, n in conn.execute(query)}


def query_image_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Image)).scalar_one())


def label_state(known: int, n_tasks: int) -> str:
    if known >= n_tasks:
        return ALL_KNOWN
    return NONE_KNOWN if known == 0 else SOME_KNOWN


# -- the model -----------------------------------------------------------------------


class ImageListModel(QAbstractListModel):
    """The project's images, filtered and sorted, as a flat list of ids."""

    filter_stale_changed = Signal(bool)
    """True once labels changed under a filter that depends on them; False after refresh."""

    def __init__(
        self,
        session: ProjectSession,
        thumbnails: ThumbnailLoader | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._thumbnails = thumbnails
        self._filter = ImageFilter()
        self._order = "name"
        self._stale = False
        self._ids: list[int] = []
        self._rows: dict[int, int] | None = None  # image id → row, built when first needed
        self._details: dict[int, _Details] = {}
        self._known: dict[int, int] = {}
        self._active: list[int] = []
        self._total = 0
        self._error_reported = False
        self._run_id: int | None = None
        self._notes: dict[int, str] = {}  # image id → why a prediction kind lists it
        self._predicted: dict[int, tuple[int, ...]] = {}  # image id → tasks predicted present
        session.labels_changed.connect(self._on_labels_changed)
        session.tasks_changed.connect(self._on_tasks_changed)
        session.images_changed.connect(self._on_images_changed)
        if thumbnails is not None:
            thumbnails.thumbnail_ready.connect(self._on_thumbnail_ready)
        self._load_ids()

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's idiom
        return 0 if parent.isValid() else len(self._ids)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        for role in ImageRole:
            names[int(role)] = QByteArray((role.name[0].lower() + role.name[1:]).encode())
        return names

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids) or index.column() != 0:
            return None
        row = index.row()
        image_id = self._ids[row]
        if role == ImageRole.ImageId:
            return image_id
        if role not in _DETAIL_ROLES:
            return None
        details = self._details_at(row)
        if role in (Qt.ItemDataRole.DisplayRole, ImageRole.Name):
            return details.rel_path
        if role == ImageRole.Path:
            return details.path
        if role == ImageRole.Status:
            return details.status
        if role == ImageRole.LabelState:
            return self._state_at(row)
        if role == ImageRole.Thumbnail:
            if self._thumbnails is None:
                return None
            pixmap = self._thumbnails.pixmap(image_id)
            if pixmap is None:
                self._thumbnails.request(image_id, details.path)
            return pixmap
        if role == ImageRole.Problem:
            return self._problem(image_id, details)
        if role == ImageRole.Predicted:
            return self._predicted_at(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            state = _STATE_TEXT[self._state_at(row)]
            problem = self._problem(image_id, details)
            note = "" if problem is None else f"\nfile {problem}: {details.path}"
            predicted = self._predicted_at(row)
            if self._run_id is not None:
                names = [self._task_name(t) for t, _ in predicted]
                note += f"\nrun {self._run_id} predicts present: " + (", ".join(names) or "none")
            why = self._notes.get(image_id)
            if why:
                note += f"\n{why}"
            return f"{details.rel_path}\n{state}{note}"
        return None

    def _problem(self, image_id: int, details: _Details) -> str | None:
        if details.status != "ok":
            return details.status
        return None if self._thumbnails is None else self._thumbnails.failure(image_id)

    # -- filter and order ------------------------------------------------------------

    def set_filter(self, kind: str, task_id: int | None = None) -> None:
        """Show the images of one filter kind (``FILTER_KINDS``, or with a run set
        ``PREDICTION_FILTER_KINDS``); re-applies it if unchanged.

        The task kinds and "predicted_present" need the id of an active task; the
        others take none.
        """
        kinds = FILTER_KINDS + PREDICTION_FILTER_KINDS
        if kind not in kinds:
            raise ValueError(f"filter kind must be one of {kinds}, not {kind!r}")
        if kind in PREDICTION_FILTER_KINDS and self._run_id is None:
            raise ValueError(f"filter {kind!r} needs a run: call set_run first")
        if kind in (*TASK_FILTER_KINDS, "predicted_present"):
            if task_id is None or self._session.task(task_id) is None:
                raise ValueError(f"filter {kind!r} needs the id of an active task, not {task_id}")
        elif task_id is not None:
            raise ValueError(f"filter {kind!r} takes no task")
        self._filter = ImageFilter(kind, task_id, self._filter.also, self._filter.name)
        self._reset()

    def set_narrowing(self, also: Sequence[tuple[str, int]] = (), name: str = "") -> None:
        """Narrow the current filter: every ``(task kind, task id)`` of ``also`` must hold
        too, and the file name must contain ``name`` (case-insensitive; "" for any)."""
        for kind, task_id in also:
            if kind not in TASK_FILTER_KINDS or self._session.task(task_id) is None:
                raise ValueError(f"not a task condition of an active task: {(kind, task_id)}")
        f = self._filter
        self._filter = ImageFilter(f.kind, f.task_id, tuple(also), name.strip())
        self._reset()

    def current_filter(self) -> ImageFilter:
        return self._filter

    def set_run(self, run_id: int | None) -> None:
        """The run whose predictions the prediction kinds use (None: those kinds are not
        available; if one is applied, the list goes back to all images)."""
        if run_id == self._run_id:
            return
        self._run_id = run_id
        self._predicted.clear()
        if self._filter.kind in PREDICTION_FILTER_KINDS:
            if run_id is None:
                self._filter = ImageFilter(also=self._filter.also, name=self._filter.name)
            self._reset()

    def run_id(self) -> int | None:
        return self._run_id

    def note(self, image_id: int) -> str | None:
        """Why the current prediction kind lists this image (also in its tooltip)."""
        return self._notes.get(image_id)

    def set_sort(self, order: str) -> None:
        """Order by "name" (path relative to the import folder) or "imported" (import time)."""
        if order not in SORT_ORDERS:
            raise ValueError(f"sort order must be one of {SORT_ORDERS}, not {order!r}")
        self._order = order
        self._reset()

    def sort_order(self) -> str:
        return self._order

    def refresh(self) -> None:
        """Re-read everything: ids under the current filter, details, labelling states."""
        self._details.clear()
        self._known.clear()
        self._reset()

    def is_stale(self) -> bool:
        """Whether labels changed since the (label-dependent) filter was applied."""
        return self._stale

    # -- ids and rows ----------------------------------------------------------------

    def image_ids(self) -> list[int]:
        """The ids of the rows, in row order (a copy)."""
        return list(self._ids)

    def image_id_at(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, image_id: int) -> int | None:
        """The row showing ``image_id``, or None if the filter leaves it out."""
        if self._rows is None:
            self._rows = {image_id: row for row, image_id in enumerate(self._ids)}
        return self._rows.get(image_id)

    def total_images(self) -> int:
        """Images in the project, whatever the filter (as of the last reload)."""
        return self._total

    def task_count(self) -> int:
        """Active tasks the labelling state is computed over."""
        return len(self._active)

    def next_row_with_unknown(self, after_row: int) -> int | None:
        """The first row after ``after_row`` (wrapping, ``after_row`` itself last) whose
        image has an unknown active-task cell, reading states a chunk at a time."""
        n = len(self._ids)
        if n == 0 or not self._active:
            return None
        start = (after_row + 1) % n if 0 <= after_row < n else 0
        rows = list(range(start, n)) + list(range(0, start))
        for offset in range(0, n, _SCAN_CHUNK):
            chunk = rows[offset : offset + _SCAN_CHUNK]
            missing = [self._ids[r] for r in chunk if self._ids[r] not in self._known]
            if missing:
                try:
                    counts = query_known_counts(self._engine, missing, self._active)
                except SQLAlchemyError as exc:
                    self._report(f"The labels could not be read from the database: {exc}")
                    return None
                for image_id in missing:
                    self._known[image_id] = counts.get(image_id, 0)
            for row in chunk:
                if self._known[self._ids[row]] < len(self._active):
                    return row
        return None

    # -- loading ---------------------------------------------------------------------

    @property
    def _engine(self) -> Engine:
        return self._session.project.read_engine

    def _load_ids(self) -> None:
        try:
            self._active = [t.id for t in self._session.tasks()]
            f = self._filter
            if f.task_id is not None and f.task_id not in self._active:
                f = ImageFilter(also=f.also, name=f.name)  # its task was archived or deleted
            if any(t not in self._active for _, t in f.also):
                also = tuple((k, t) for k, t in f.also if t in self._active)
                f = ImageFilter(f.kind, f.task_id, also, f.name)
            self._filter = f
            self._notes = {}
            if self._filter.kind in PREDICTION_FILTER_KINDS:
                self._ids = self._prediction_ids()
                if self._filter.narrowed:  # the run's order, narrowed
                    narrowing = ImageFilter(also=self._filter.also, name=self._filter.name)
                    keep = set(query_image_ids(self._engine, narrowing, "name", self._active))
                    self._ids = [i for i in self._ids if i in keep]
            else:
                self._ids = query_image_ids(self._engine, self._filter, self._order, self._active)
            unfiltered = self._filter.kind == "all" and not self._filter.narrowed
            self._total = len(self._ids) if unfiltered else query_image_count(self._engine)
            self._error_reported = False
        except SQLAlchemyError as exc:
            self._ids, self._total = [], 0
            self._report(f"The image list could not be read from the database: {exc}")
        self._rows = None
        self._set_stale(False)

    def _prediction_ids(self) -> list[int]:
        """The ids of the prediction kind applied; on a run that cannot be used, says why
        and goes back to all images."""
        if self._run_id is not None:
            try:
                ids, self._notes = query_prediction_ids(self._session, self._run_id, self._filter)
                return ids
            except UserError as exc:
                self._session.error.emit(f"The predictions cannot be used: {exc}")
        self._filter = ImageFilter(also=self._filter.also, name=self._filter.name)
        return query_image_ids(self._engine, self._filter, self._order, self._active)

    def _report(self, message: str) -> None:
        if not self._error_reported:
            self._error_reported = True
            self._session.error.emit(message)

    def _reset(self) -> None:
        self.beginResetModel()
        try:
            self._load_ids()
        finally:
            self.endResetModel()

    def _details_at(self, row: int) -> _Details:
        image_id = self._ids[row]
        details = self._details.get(image_id)
        if details is None or image_id not in self._known:
            self._load_block(row)
            details = self._details.get(image_id, _UNAVAILABLE)
        return details

    def _state_at(self, row: int) -> str:
        image_id = self._ids[row]
        if image_id not in self._known:
            self._load_block(row)
        return label_state(self._known.get(image_id, 0), len(self._active))

    def _task_name(self, task_id: int) -> str:
        task = self._session.task(task_id)
        return task.name if task else f"task {task_id}"

    def _predicted_at(self, row: int) -> tuple[tuple[int, str], ...]:
        """The prediction badges of a row (read a block at a time, cached per run)."""
        if self._run_id is None:
            return ()
        image_id = self._ids[row]
        if image_id not in self._predicted:
            first = row - row % BLOCK_ROWS
            block = [i for i in self._ids[first : first + BLOCK_ROWS] if i not in self._predicted]
            try:
                found = core_predictions.images_predictions(
                    self._session.project, self._run_id, block
                )
            except (UserError, SQLAlchemyError):
                found = {}
            for i in block:
                self._predicted[i] = tuple(
                    t for t in self._active if (pt := found.get(i, {}).get(t)) and pt[0] >= pt[1]
                )
        colours = {t.id: t.colour or "#888888" for t in self._session.tasks()}
        return tuple((t, colours.get(t, "#888888")) for t in self._predicted.get(image_id, ()))

    def _load_block(self, row: int) -> None:
        """Read the details and states of the block holding ``row`` that are not cached."""
        first = row - row % BLOCK_ROWS
        block = self._ids[first : first + BLOCK_ROWS]
        wanted = [i for i in block if i not in self._details or i not in self._known]
        try:
            found = query_details(self._engine, wanted, self._active)
        except SQLAlchemyError as exc:  # shown once; the rows are read again at the next paint
            self._report(f"The image list could not be read from the database: {exc}")
            return
        for image_id, path, rel_path, status, known in found:
            self._details[image_id] = _Details(path, rel_path, status)
            self._known[image_id] = known
        for image_id in set(wanted) - {f[0] for f in found}:  # deleted meanwhile
            self._details[image_id] = _Details("", "", "missing")
            self._known[image_id] = 0

    def _set_stale(self, stale: bool) -> None:
        if stale != self._stale:
            self._stale = stale
            self.filter_stale_changed.emit(stale)

    # -- what changed ----------------------------------------------------------------

    def _on_labels_changed(self, change: LabelsChanged) -> None:
        rows = []
        for image_id in change.image_ids:
            self._known.pop(image_id, None)
            row = self.row_of(image_id)
            if row is not None:
                rows.append(row)
        if rows:
            self.dataChanged.emit(
                self.index(min(rows)),
                self.index(max(rows)),
                [
                    int(ImageRole.LabelState),
                    int(ImageRole.Predicted),
                    int(Qt.ItemDataRole.ToolTipRole),
                ],
            )
        label_free = self._filter.kind in ("all", "predicted_present") and not self._filter.also
        if not label_free:
            self._set_stale(True)

    def _on_tasks_changed(self) -> None:
        self._known.clear()  # the active tasks, hence every state, may have changed
        self._predicted.clear()
        self._reset()

    def _on_images_changed(self) -> None:
        self._details.clear()
        self._known.clear()
        self._reset()

    def _on_thumbnail_ready(self, image_id: int) -> None:
        row = self.row_of(image_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(
                index,
                index,
                [
                    int(ImageRole.Thumbnail),
                    int(ImageRole.Problem),
                    int(Qt.ItemDataRole.ToolTipRole),
                ],
            )


_DETAIL_ROLES = frozenset(
    int(r)
    for r in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        ImageRole.Path,
        ImageRole.Name,
        ImageRole.Status,
        ImageRole.LabelState,
        ImageRole.Thumbnail,
        ImageRole.Problem,
        ImageRole.Predicted,
    )
)
_UNAVAILABLE = _Details("", "", "ok")
_STATE_TEXT = {
    ALL_KNOWN: "every task labelled",
    SOME_KNOWN: "some tasks unknown",
    NONE_KNOWN: "no task labelled yet",
}


def filter_label(kind: str, task_name: str | None = None) -> str:
    """How a filter reads in a menu: "Has unknown", "car: present", "Predicted present: car"."""
    if kind in TASK_FILTER_KINDS:
        return f"{task_name}: {kind.removeprefix('task_')}"
    if kind == "predicted_present":
        return f"Predicted present: {task_name}"
    return _FILTER_TEXT[kind]


_FILTER_TEXT = {
    "all": "All",
    "has_unknown": "Has unknown",
    "fully_labelled": "Fully labelled",
    "label_next": "Label next (ranked by the run)",
    "label_errors": "Likely label errors (ranked by the run)",
}
