"""Import image files into a project, and re-check the files of recorded images.

Images stay where they are; a row records the path, the size and mtime of the
file and the SHA-256 of its content, so that a later import or check knows
what is new, unchanged, changed, moved, duplicated or gone.

The import streams: folders are walked lazily (one directory listing at a
time), files are examined (read once, hashed, decoded by
:func:`core.images.decode.probe`) by a few threads a batch at a time, and each
batch is written in its own short transaction. An interrupted or cancelled
import leaves only complete batches; running it again finishes the job.

Walking a folder skips hidden files and folders (names starting with "."),
the project's own folder when it lies inside, and — when the folder given is
the project folder or lies inside it — the project's cache and runs folders.
Symbolic links are followed; a folder reached twice (a link loop) is walked
once.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from core.db.models import Image
from core.errors import ProjectError, UserError, database_words
from core.images.decode import ImageFacts, UnreadableImage, probe
from core.project import Project

IMAGE_EXTENSIONS = frozenset(
    {
        *(".jpg", ".jpeg", ".jpe", ".jfif", ".mpo"),
        *(".png", ".apng", ".bmp", ".gif", ".tif", ".tiff", ".webp"),
    }
)
"""File name endings (compared in lower case) picked up when walking a folder: every
ending Pillow registers for an accepted format (``.jfif`` is how browsers on Windows
save JPEGs, ``.mpo`` how 3D cameras name multi-picture JPEGs)."""

BATCH_SIZE = 200
"""Files examined and written per transaction."""

MAX_FILE_BYTES = 1 << 30
"""Files larger than this are not read (an image file that big is not a photo)."""

CHECK_CHUNK = 500
"""Recorded images re-checked per transaction by :func:`check_images`."""


def _default_workers() -> int:
    return max(2, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ImportProgress:
    done: int
    total: int
    current: str


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    """Absolute paths of newly recorded images."""
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(path, path of the image already recorded with the same content)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) for files that are not usable images."""
    unchanged: int = 0
    """Files already in the project, unchanged."""
    moved: list[tuple[str, str]] = field(default_factory=list)
    """(old path, new path): a missing image found again elsewhere; labels kept."""
    changed: list[str] = field(default_factory=list)
    """Recorded paths whose content changed; the row was updated, labels kept."""
    marked_missing: list[str] = field(default_factory=list)
    """Recorded images under an imported folder whose file is gone."""
    cancelled: bool = False
    back: list[str] = field(default_factory=list)
    """Recorded images that were missing or unreadable and are usable again at their path."""
    ignored: dict[str, int] = field(default_factory=dict)
    """Files a folder walk did not try, by their ending (".svg": 3; "(none)" for a name
    without one): not of an image kind this importer reads."""

    def ignored_text(self) -> str:
        """ "ignored 5 files: 3 .svg, 2 .txt" (most common first), or ""."""
        if not self.ignored:
            return ""
        total = sum(self.ignored.values())
        kinds = sorted(self.ignored.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{n:,} {ext}" for ext, n in kinds[:12])
        more = f", {len(kinds) - 12} more kinds" if len(kinds) > 12 else ""
        return f"ignored {total:,} file{'s' if total != 1 else ''} (not images): {shown}{more}"


@dataclass
class CheckSummary:
    """What :func:`check_images` found; lists hold paths of images whose status changed."""

    ok: int = 0
    """Images whose file is present and usable (after the check)."""
    newly_missing: list[str] = field(default_factory=list)
    back: list[str] = field(default_factory=list)
    """Images that were missing or unreadable and are fine again."""
    newly_unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason)."""
    changed: list[str] = field(default_factory=list)
    """Images whose content changed (row updated, labels kept)."""
    missing: int = 0
    """Images whose file is missing (after the check), newly or not."""
    unreadable: int = 0
    """Images whose file is unusable (after the check), newly or not."""
    cancelled: bool = False


# -- paths and walking ---------------------------------------------------------------


def _posix(path: str) -> str:
    """An absolute, normalised path with POSIX separators (symbolic links kept)."""
    absolute = os.path.abspath(path)
    return absolute.replace(os.sep, "/") if os.sep != "/" else absolute


def _is_candidate(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _name_ok(path: str) -> bool:
    """False for names the database cannot store (undecodable bytes on POSIX)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class _Source:
    path: str
    """Absolute path as the OS sees it."""
    is_dir: bool


@dataclass(frozen=True)
class _Candidate:
    path: str
    """Absolute path as the OS sees it."""
    root: str
    """The folder the image is recorded under (OS path)."""


class _Walker:
    """Lazily yields candidate files of one folder, or problems met on the way."""

    def __init__(self, project: Project, root: str) -> None:
        self.root = root
        self._visited: set[tuple[int, int]] = set()
        self._skip: list[os.stat_result] = []
        project_root = str(project.root)
        inside_project = _is_within(root, project_root)
        skip_dirs = (
            [str(project.cache_dir), str(project.runs_dir)] if inside_project else [project_root]
        )
        for folder in skip_dirs:
            with suppress(OSError):
                self._skip.append(os.stat(folder))

    def walk(self) -> Iterator[_Candidate | tuple[str, str] | _Ignored]:
        """Candidates in a stable order (sorted names, files before sub-folders)."""
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                info = os.stat(folder)
            except OSError as exc:
                yield folder, f"cannot read folder: {exc.strerror or exc}"
                continue
            key = (info.st_dev, info.st_ino)
            if key in self._visited or any(os.path.samestat(info, s) for s in self._skip):
                continue
            self._visited.add(key)
            # Names only (not DirEntry objects), sorted: a folder of 100,000
            # files costs a few MB while it is walked, and the order is stable.
            files: list[str] = []
            subfolders: list[str] = []
            problems: list[tuple[str, str]] = []
            ignored: list[_Ignored] = []
            try:
                with os.scandir(folder) as it:
                    for entry in it:
                        name = entry.name
                        if name.startswith("."):
                            continue
                        try:
                            is_dir = entry.is_dir()
                            is_file = not is_dir and entry.is_file()
                        except OSError:
                            is_dir = is_file = False
                        if is_dir:
                            subfolders.append(name)
                        elif is_file:
                            if _is_candidate(name):
                                files.append(name)
                            else:
                                ignored.append(_Ignored(_ending(name)))
                        elif _is_candidate(name) and _is_link(entry):
                            problems.append((entry.path, "broken or looping symbolic link"))
            except OSError as exc:
                yield folder, f"cannot read folder: {exc.strerror or exc}"
                continue
            yield from problems
            yield from ignored
            files.sort()
            for name in files:
                yield _Candidate(os.path.join(folder, name), self.root)
            del files
            subfolders.sort(reverse=True)
            stack.extend(os.path.join(folder, name) for name in subfolders)

    def count(self) -> int:
        return sum(1 for item in self.walk() if isinstance(item, _Candidate))


@dataclass(frozen=True)
class _Ignored:
    """A file a folder walk does not try, by its ending."""

    ending: str


def _ending(name: str) -> str:
    return os.path.splitext(name)[1].lower() or "(none)"


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _is_within(path: str, folder: str) -> bool:
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _resolve_sources(sources: Sequence[str | os.PathLike[str]]) -> list[_Source]:
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    resolved: list[_Source] = []
    for source in sources:
        text = os.fspath(source)
        if not text:
            raise UserError("an empty path was given as an image source")
        path = os.path.abspath(os.path.expanduser(text))
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise UserError(f"{text}: no such file or folder") from None
        except OSError as exc:
            raise UserError(f"{text}: cannot be read ({exc.strerror or exc})") from None
        resolved.append(_Source(path, stat.S_ISDIR(info.st_mode)))
    return resolved


def _candidates(
    project: Project, source: _Source
) -> Iterator[_Candidate | tuple[str, str] | _Ignored]:
    if source.is_dir:
        yield from _Walker(project, source.path).walk()
    else:
        yield _Candidate(source.path, os.path.dirname(source.path))


def _count(project: Project, sources: Sequence[_Source]) -> int:
    return sum(_Walker(project, s.path).count() if s.is_dir else 1 for s in sources)


# -- examining one file (runs in worker threads) -------------------------------------


@dataclass(frozen=True)
class _Examined:
    path: str
    root: str
    size: int = 0
    mtime_ns: int = 0
    content_hash: str | None = None
    facts: ImageFacts | None = None
    problem: str | None = None
    """Why the file is unusable; ``content_hash`` is set when it was read at all."""
    vanished: bool = False
    """The file is gone (between listing and reading)."""


def _read_file(path: str) -> tuple[bytes, os.stat_result]:
    """The content and the status of a regular file, read through one descriptor."""
    with open(path, "rb") as f:
        return f.read(), os.fstat(f.fileno())


def _size_text(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} bytes"


def _examine(candidate: _Candidate) -> _Examined:
    path, root = candidate.path, candidate.root
    if not _name_ok(path):
        return _Examined(path, root, problem="the file name is not valid UTF-8 (rename the file)")
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return _Examined(path, root, problem="not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            return _Examined(
                path,
                root,
                problem=f"the file is {_size_text(info.st_size)}, over the "
                f"{_size_text(MAX_FILE_BYTES)} limit for an image file",
            )
        data, info = _read_file(path)
    except FileNotFoundError:
        return _Examined(path, root, problem="the file disappeared", vanished=True)
    except PermissionError:
        return _Examined(path, root, problem="cannot read the file: permission denied")
    except OSError as exc:
        return _Examined(path, root, problem=f"cannot read the file: {exc.strerror or exc}")
    except MemoryError:
        return _Examined(path, root, problem="the file is too large to read")
    digest = hashlib.sha256(data).hexdigest()
    try:
        facts: ImageFacts | None = probe(data)
        problem = None
    except UnreadableImage as exc:
        facts, problem = None, exc.reason
    except Exception as exc:  # a decoder bug must not stop an import of 100,000 files
        facts, problem = None, f"cannot decode the image ({type(exc).__name__}: {exc})"
    return _Examined(path, root, len(data), info.st_mtime_ns, digest, facts, problem)


def _examine_all(
    pool: ThreadPoolExecutor | None, candidates: Sequence[_Candidate]
) -> Generator[_Examined, None, None]:
    """Examine in parallel, yielding in order; unstarted work is dropped if abandoned."""
    if pool is None or len(candidates) < 2:
        yield from map(_examine, candidates)
        return
    futures = [pool.submit(_examine, c) for c in candidates]
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


# -- the import ----------------------------------------------------------------------


@dataclass
class _Row:
    id: int
    path: str
    content_hash: str
    file_size: int
    file_mtime_ns: int
    status: str


_ROW_COLUMNS = (
    Image.id,
    Image.path,
    Image.content_hash,
    Image.file_size,
    Image.file_mtime_ns,
    Image.status,
)


def _rows_by_path(session: Session, paths: Iterable[str]) -> dict[str, _Row]:
    wanted = list(set(paths))
    if not wanted:
        return {}
    query = select(*_ROW_COLUMNS).where(Image.path.in_(wanted))
    return {r.path: _Row(*r) for r in session.execute(query)}


def _rows_by_hash(session: Session, hashes: Iterable[str]) -> dict[str, _Row]:
    wanted = list(set(hashes))
    if not wanted:
        return {}
    query = select(*_ROW_COLUMNS).where(Image.content_hash.in_(wanted))
    return {r.content_hash: _Row(*r) for r in session.execute(query)}


def _same_stat(path: str, row: _Row) -> bool:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    return info.st_size == row.file_size and info.st_mtime_ns == row.file_mtime_ns


def _apply_updates(session: Session, updates: list[dict[str, object]]) -> None:
    """Apply ``{"id": ..., column: value, ...}`` updates, one statement per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for values in updates:
        groups.setdefault(tuple(sorted(values)), []).append(values)
    for keys, group in groups.items():
        columns = [k for k in keys if k != "id"]
        statement = (
            update(Image)
            .where(Image.id == bindparam("row_id"))
            .values({k: bindparam(f"new_{k}") for k in columns})
        )
        session.connection().execute(
            statement,
            [{"row_id": v["id"], **{f"new_{k}": v[k] for k in columns}} for v in group],
        )


def _file_exists(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class _Batch:
    """Decisions for one batch, applied in one transaction, merged into the summary after."""

    def __init__(self) -> None:
        self.summary = ImportSummary()
        self.inserts: list[dict[str, object]] = []
        self.updates: list[dict[str, object]] = []

    def merge_into(self, summary: ImportSummary) -> None:
        part = self.summary
        summary.added += part.added
        summary.duplicates += part.duplicates
        summary.skipped += part.skipped
        summary.unchanged += part.unchanged
        summary.moved += part.moved
        summary.changed += part.changed
        summary.marked_missing += part.marked_missing
        summary.back += part.back


def _location(path: str, root: str) -> dict[str, object]:
    posix_path, posix_root = _posix(path), _posix(root)
    return {
        "path": posix_path,
        "root": posix_root,
        "rel_path": PurePosixPath(posix_path).relative_to(posix_root).as_posix(),
        "name": PurePosixPath(posix_path).name,
    }


class _Importer:
    def __init__(
        self,
        project: Project,
        progress: Callable[[ImportProgress], None] | None,
        cancel: threading.Event | None,
        total: int,
    ) -> None:
        self.project = project
        self.progress = progress
        self.cancel = cancel
        self.total = total
        self.done = 0
        self.summary = ImportSummary()

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def tick(self, path: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.total = max(self.total, self.done)
            self.progress(ImportProgress(self.done, self.total, path))

    # -- one source

    def run_source(self, source: _Source, pool: ThreadPoolExecutor | None) -> None:
        batch: list[_Candidate] = []
        for item in _candidates(self.project, source):
            if isinstance(item, tuple):
                self.summary.skipped.append((_posix(item[0]), item[1]))
                continue
            if isinstance(item, _Ignored):
                ignored = self.summary.ignored
                ignored[item.ending] = ignored.get(item.ending, 0) + 1
                continue
            batch.append(item)
            if len(batch) >= BATCH_SIZE:
                self.run_batch(batch, pool)
                batch = []
                if self.summary.cancelled:
                    return
        if batch:
            self.run_batch(batch, pool)
        if source.is_dir and not self.summary.cancelled:
            self.mark_missing_under(source.path)

    def run_batch(self, candidates: list[_Candidate], pool: ThreadPoolExecutor | None) -> None:
        # A cheap first look, outside the write transaction: files whose size
        # and mtime match their row are decided without being read.
        paths = [_posix(c.path) for c in candidates]
        with self.project.transaction() as session:
            known = _rows_by_path(
                session, (p for c, p in zip(candidates, paths, strict=True) if _name_ok(c.path))
            )
        settled: dict[int, _Row] = {}
        to_examine: list[_Candidate] = []
        for i, (c, posix) in enumerate(zip(candidates, paths, strict=True)):
            row = known.get(posix)
            if row is not None and row.status in ("ok", "missing") and _same_stat(c.path, row):
                settled[i] = row
            else:
                to_examine.append(c)

        batch = _Batch()
        examined: list[_Examined] = []
        results = _examine_all(pool, to_examine)
        try:
            for i, c in enumerate(candidates):
                if self.cancelled():
                    self.summary.cancelled = True
                    break
                row = settled.get(i)
                if row is None:
                    examined.append(next(results))
                elif row.status == "ok":
                    batch.summary.unchanged += 1
                else:
                    batch.updates.append({"id": row.id, "status": "ok", "status_note": None})
                    batch.summary.back.append(row.path)
                self.tick(c.path)
        finally:
            results.close()
        self.write(batch, examined)

    def write(self, batch: _Batch, examined: list[_Examined]) -> None:
        try:
            with self.project.transaction() as session:
                self.decide(session, batch, examined)
                # Updates first: a row whose content changed releases its old
                # hash, which a new file of this batch may then take.
                _apply_updates(session, batch.updates)
                if batch.inserts:
                    session.execute(insert(Image), batch.inserts)
        except (OperationalError, IntegrityError) as exc:
            raise ProjectError(
                f"the database refused the import ({database_words(exc.orig)}); the images "
                "recorded so far are kept: run the import again to finish it"
            ) from exc
        batch.merge_into(self.summary)

    def decide(self, session: Session, batch: _Batch, examined: list[_Examined]) -> None:
        """Turn examined files into inserts and updates, against the rows as they are now.

        Recorded paths are settled first (unchanged, back, changed, now a
        copy of another image), then new paths (added, duplicate or moved),
        so that content a changed file no longer holds counts as free.
        """
        by_path = _rows_by_path(session, (_posix(e.path) for e in examined if _name_ok(e.path)))
        by_hash = _rows_by_hash(session, (e.content_hash for e in examined if e.content_hash))
        claimed: dict[str, str] = {}
        """Content hash → the path holding it, for content settled in this batch."""
        out = batch.summary
        new_files: list[tuple[_Examined, dict[str, object]]] = []
        for e in examined:
            posix = _posix(e.path)
            row = by_path.get(posix)
            if e.problem is not None or e.facts is None or e.content_hash is None:
                reason = e.problem or "cannot decode the image"
                out.skipped.append((posix, reason))
                if row is not None and not e.vanished and row.status != "unreadable":
                    batch.updates.append(
                        {"id": row.id, "status": "unreadable", "status_note": reason}
                    )
                continue
            values: dict[str, object] = {
                "content_hash": e.content_hash,
                "file_size": e.size,
                "file_mtime_ns": e.mtime_ns,
                "width": e.facts.width,
                "height": e.facts.height,
                "status": "ok",
                "status_note": None,
            }
            if row is None:
                new_files.append((e, values))
                continue
            holder = by_hash.get(e.content_hash)
            earlier = claimed.get(e.content_hash)
            if row.content_hash == e.content_hash:  # touched, or usable again
                if row.status == "ok":
                    out.unchanged += 1
                else:
                    out.back.append(posix)
                batch.updates.append({"id": row.id, **values})
                claimed[e.content_hash] = posix
            elif earlier is not None or (holder is not None and holder.id != row.id):
                # The file now holds another recorded image: its own content is gone.
                other = earlier or (holder.path if holder is not None else "")
                out.duplicates.append((posix, other))
                batch.updates.append(
                    {
                        "id": row.id,
                        "status": "missing",
                        "status_note": f"the file now holds the same content as {other}",
                    }
                )
            else:
                out.changed.append(posix)
                batch.updates.append({"id": row.id, **values})
                claimed[e.content_hash] = posix
                if by_hash.get(row.content_hash, row).id == row.id:
                    by_hash.pop(row.content_hash, None)  # its old content is free again

        for e, values in new_files:
            posix = _posix(e.path)
            holder = by_hash.get(e.content_hash or "")
            earlier = claimed.get(e.content_hash or "")
            if earlier is not None:
                out.duplicates.append((posix, earlier))
            elif holder is not None and _file_exists(holder.path):
                out.duplicates.append((posix, holder.path))
            elif holder is not None:
                out.moved.append((holder.path, posix))
                batch.updates.append({"id": holder.id, **values, **_location(e.path, e.root)})
                claimed[holder.content_hash] = posix
            else:
                out.added.append(posix)
                batch.inserts.append({**values, **_location(e.path, e.root)})
                claimed[str(e.content_hash)] = posix

    # -- after a folder

    def mark_missing_under(self, folder: str) -> None:
        """Recorded images under ``folder`` whose file is gone become "missing"."""
        prefix = _posix(folder).rstrip("/") + "/"
        last_id = 0
        while True:
            with self.project.transaction() as session:
                rows = list(
                    session.execute(
                        select(Image.id, Image.path)
                        .where(
                            Image.id > last_id,
                            Image.status != "missing",
                            Image.path.startswith(prefix, autoescape=True),
                        )
                        .order_by(Image.id)
                        .limit(CHECK_CHUNK)
                    )
                )
                if not rows:
                    return
                last_id = rows[-1].id
                gone = [
                    (row_id, path)
                    for row_id, path in rows
                    if path.startswith(prefix) and not _file_exists(path)
                ]
                if gone:
                    session.execute(
                        update(Image)
                        .where(Image.id.in_([row_id for row_id, _ in gone]))
                        .values(status="missing", status_note="the file is gone")
                    )
            self.summary.marked_missing += [path for _, path in gone]


def import_images(
    project: Project,
    sources: Sequence[str | os.PathLike[str]],
    progress: Callable[[ImportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> ImportSummary:
    """Record the image files of ``sources`` (folders, walked recursively, and files).

    Files in folders are picked up by extension (:data:`IMAGE_EXTENSIONS`, any
    case); files named explicitly are tried whatever their extension. A source
    that does not exist raises :class:`UserError` before anything changes.
    Unusable files never raise: they are listed in ``skipped`` with a reason.
    ``progress`` is called once per file; ``cancel`` is checked between files
    (what was done is kept).
    """
    resolved = _resolve_sources(sources)
    total = _count(project, resolved) if progress is not None else 0
    importer = _Importer(project, progress, cancel, total)
    workers = _default_workers()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mtlabel-import") as pool:
        for source in resolved:
            if importer.cancelled():
                importer.summary.cancelled = True
            if importer.summary.cancelled:
                break
            importer.run_source(source, pool)
    return importer.summary


# -- checking recorded images --------------------------------------------------------


def check_images(
    project: Project,
    progress: Callable[[ImportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> CheckSummary:
    """Re-check the file of every recorded image and update its status.

    Cheap: one ``stat`` per image; a file is read again only when its size or
    mtime changed (or it was unreadable). A gone file makes the image
    "missing", a file that is no longer a usable image makes it "unreadable",
    new content updates the row ("changed"); labels are never touched. Each
    chunk of images is updated in its own transaction.
    """
    summary = CheckSummary()
    with project.transaction() as session:
        total = session.scalar(select(func.count()).select_from(Image)) or 0
    done = 0
    last_id = 0
    while not summary.cancelled:
        with project.transaction() as session:
            chunk = [
                _Row(*r)
                for r in session.execute(
                    select(*_ROW_COLUMNS)
                    .where(Image.id > last_id)
                    .order_by(Image.id)
                    .limit(CHECK_CHUNK)
                )
            ]
        if not chunk:
            break
        last_id = chunk[-1].id
        part = CheckSummary()
        updates: list[dict[str, object]] = []
        reread: list[tuple[_Row, _Examined]] = []
        for row in chunk:
            if cancel is not None and cancel.is_set():
                summary.cancelled = True
                break
            outcome = _check_stat(row)
            if outcome == "reread":
                reread.append((row, _examine(_Candidate(row.path, os.path.dirname(row.path)))))
            else:
                _record_check(part, updates, row, outcome, None)
            done += 1
            if progress is not None:
                total = max(total, done)
                progress(ImportProgress(done, total, row.path))
        with project.transaction() as session:
            if reread:
                _decide_rereads(session, part, updates, reread)
            _apply_updates(session, updates)
        _merge_check(summary, part)
    return summary


def _check_stat(row: _Row) -> str:
    """ "ok", "missing", "reread", or a reason the file cannot be read."""
    try:
        info = os.stat(row.path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except PermissionError:
        return "cannot read the file: permission denied"
    except (OSError, ValueError) as exc:
        return f"cannot read the file: {getattr(exc, 'strerror', None) or exc}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if row.status == "unreadable":
        return "reread"  # maybe fixed (permissions) without touching the file
    if info.st_size == row.file_size and info.st_mtime_ns == row.file_mtime_ns:
        return "ok"
    return "reread"


def _record_check(
    part: CheckSummary,
    updates: list[dict[str, object]],
    row: _Row,
    outcome: str,
    values: dict[str, object] | None,
) -> None:
    """Book one image's new state: "ok", "changed", "missing" or an unreadable reason."""
    if outcome in ("ok", "changed"):
        part.ok += 1
        if outcome == "changed":
            part.changed.append(row.path)
        elif row.status != "ok":
            part.back.append(row.path)
        if values is not None or row.status != "ok":
            updates.append({"id": row.id, **(values or {}), "status": "ok", "status_note": None})
    elif outcome == "missing":
        part.missing += 1
        if row.status != "missing":
            part.newly_missing.append(row.path)
            updates.append({"id": row.id, "status": "missing", "status_note": "the file is gone"})
    else:
        part.unreadable += 1
        if row.status != "unreadable":
            part.newly_unreadable.append((row.path, outcome))
        updates.append({"id": row.id, "status": "unreadable", "status_note": outcome})


def _decide_rereads(
    session: Session,
    part: CheckSummary,
    updates: list[dict[str, object]],
    reread: list[tuple[_Row, _Examined]],
) -> None:
    by_hash = _rows_by_hash(session, (e.content_hash for _, e in reread if e.content_hash))
    claimed: set[str] = set()
    for row, e in reread:
        if e.vanished:
            _record_check(part, updates, row, "missing", None)
            continue
        if e.problem is not None or e.facts is None or e.content_hash is None:
            _record_check(part, updates, row, e.problem or "cannot decode the image", None)
            continue
        values: dict[str, object] = {
            "file_size": e.size,
            "file_mtime_ns": e.mtime_ns,
            "width": e.facts.width,
            "height": e.facts.height,
        }
        if e.content_hash == row.content_hash:
            _record_check(part, updates, row, "ok", values)
            continue
        holder = by_hash.get(e.content_hash)
        if e.content_hash in claimed or (holder is not None and holder.id != row.id):
            other = holder.path if holder is not None else "another image"
            part.missing += 1
            if row.status != "missing":
                part.newly_missing.append(row.path)
            updates.append(
                {
                    "id": row.id,
                    "status": "missing",
                    "status_note": f"the file now holds the same content as {other}",
                }
            )
            continue
        claimed.add(e.content_hash)
        _record_check(part, updates, row, "changed", {**values, "content_hash": e.content_hash})


def _merge_check(summary: CheckSummary, part: CheckSummary) -> None:
    summary.ok += part.ok
    summary.missing += part.missing
    summary.unreadable += part.unreadable
    summary.newly_missing += part.newly_missing
    summary.back += part.back
    summary.newly_unreadable += part.newly_unreadable
    summary.changed += part.changed
