"""The decoded-image cache: every image decoded once into a ``size×size`` uint8 RGB array.

Epochs read this cache, never the image files: decoding and resizing a
1024×768 JPEG costs 2–8 ms of a core, reading its 64×64 entry back (the file's
``stat`` included) about 25 µs. ``benchmarks/data_cache.py`` measures both.

What an entry holds
-------------------
The image as :func:`core.images.decode.load_rgb` returns it (8-bit RGB, EXIF
orientation applied), resized to ``size×size``. The only resize mode is
``"stretch"``: the *whole* image is squashed to a square, the aspect ratio is
not kept, and nothing is cropped away — so a label such as "car present" stays
true of the pixels the network sees (a centre crop could cut the car off; a
squashed car is still a car). JPEGs are decoded in Pillow's draft mode at the
smallest 1/2, 1/4 or 1/8 scale whose *shorter* side is still at least ``size``
(the scale is chosen from the dimensions read in the JPEG header), so the DCT
does most of the shrinking for free; the rest is a bilinear resize with
``reducing_gap`` (an antialiased convolution, not point sampling).

Keys and invalidation
---------------------
An entry is keyed by the SHA-256 of the file's bytes, within a folder per size,
resize mode and recipe version: ``folder/rgb{size}/{resize}-r{recipe}/``. The
same content is decoded once for every run of the project, whatever its path.
For each image the file is ``stat``-ed: when its size and mtime equal the ones
recorded at import, the recorded hash is trusted and a cached entry is read
without touching the file (the fast path). Otherwise the file is read and
hashed; when the hash differs from the recorded one the image is reported in
:attr:`CacheReport.changed` and is looked up / decoded under the *new* hash.
(Files that must be decoded anyway are always hashed, which costs a few per
cent of the decoding, so a file rewritten with its size and mtime kept is
caught too.)
A change of the decoding recipe bumps :data:`RECIPE`, i.e. a new folder; older
folders may be deleted. Deleting the whole cache folder is always safe.

Storage: append-only shard files
--------------------------------
Entries are packed into *shards* of up to 64 MiB (5,461 entries at 64 px), not
one file per image. Measured on this machine's ext4 for 10,000 entries of
64×64×3 (warm page cache): one ``.npy`` per image took 1.6–3.3 s to write and
1.3–1.7 s to read with ``np.load`` (0.2 s with raw reads); one shard took
0.12–0.18 s to write and 0.14–0.16 s to read *with* checksums; an SQLite blob
table 0.3–0.5 s / 0.2–0.5 s. Per-file costs are typically higher still on NTFS with
a virus scanner and on network shares, which shards avoid.

A shard is written once and never modified: to a hidden temporary name in the
same folder, then ``os.replace``-d to its final name, so a process killed
mid-write leaves only a ``.tmp`` file that is never read (and is swept up
later), never a half-written shard. Its layout (little-endian)::

    header  magic "MTLRGB\\0\\1", format u16, recipe u16, size u32,
            resize mode 16s, count u32, entry bytes u32            (40 bytes)
    table   count × (sha256 digest 32s, crc32 of the pixels u32)
    crc32 of header + table                                         (u32)
    pixels  count × entry bytes, in table order

A shard whose length, header or table checksum is wrong is deleted and its
entries are decoded again; an entry whose pixels fail their CRC is decoded
again (and written anew; newer shards win). Nothing read from the cache is
trusted without its checksum, so neither a power cut (no ``fsync`` is done)
nor a damaged disk can put wrong pixels into training; they cost re-decoding.

While decoding, new entries are written out every 64 MiB or 15 seconds, and on
cancel, so a killed or cancelled run keeps nearly all its work. Shards are
named by creation time; when a cache has accumulated many small shards (one per
run that added a few images), they are merged into full ones at the end of a
load. Several processes may share a cache: each writes only its own new files,
and a shard deleted under a reader just means re-decoding.

Loading
-------
:meth:`ImageCache.load` stats the files, reads every hit from the shards in
file order (main thread), then decodes the misses on a thread pool (Pillow
releases the GIL while decoding) with at most ``2 × workers`` images in flight,
so memory beyond the output array stays bounded. No torch and no Qt here: the
training loop turns the array into tensors.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import stat
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.images.decode import UnreadableImage, load_rgb

log = logging.getLogger(__name__)

RESIZE_MODES = ("stretch",)
"""How an image becomes a square: only "stretch" (whole image, aspect ratio not kept)."""

RECIPE = 1
"""Version of what an entry's pixels are; bump it when decoding or resizing changes."""

_MAGIC = b"MTLRGB\x00\x01"
_FORMAT = 1
_HEADER = struct.Struct("<8sHHI16sII")
_ROW = struct.Struct("<32sI")
_CRC = struct.Struct("<I")
_SUFFIX = ".shard"
_TMP_SUFFIX = ".tmp"

_SHARD_BYTES = 64 * 1024 * 1024
"""Pixel bytes per shard at most (and the most a load keeps unwritten)."""
_FLUSH_SECONDS = 15.0
"""New entries are written at least this often while decoding."""
_COMPACT_AT = 16
"""Merge the small shards (under a quarter full) once there are this many."""
_STALE_TMP_SECONDS = 3600.0
"""Temporary files older than this were left by a killed process and are deleted."""
_STAT_CHUNK = 256
_READ_CHUNK = 256
_PROGRESS_SECONDS = 0.1
_WAIT_SECONDS = 0.1


class CacheCancelled(Exception):
    """``cancel()`` returned True; what was decoded until then has been kept."""


@dataclass(frozen=True)
class CacheItem:
    """What the cache needs to know about one image (plain values, no ORM)."""

    image_id: int
    path: str
    content_hash: str
    """SHA-256 of the file's bytes at import, hex."""
    file_size: int
    file_mtime_ns: int


@dataclass
class CacheReport:
    """What a :meth:`ImageCache.load` did."""

    decoded: int
    """Images decoded this time."""
    reused: int
    """Images served from the cache."""
    failed: list[tuple[int, str]]
    """(image_id, reason): missing or unreadable files; their rows are zeros, ``ok`` False."""
    changed: list[int]
    """Image ids whose file changed since import (size/mtime and hash differ), served
    under the new hash. A changed file that is now unreadable is in ``failed`` only."""
    seconds: float
    not_saved: str | None = None
    """Why the decoded images could not be written to the cache (disk full, no
    permission): they are used this time and decoded again next time."""


def not_saved_warning(what: str, directory: Path, reason: str) -> dict[str, object]:
    """The ``warning`` event for a cache that could not be written (``what``: "decoded
    images" or "image features"); the run goes on with what it has in memory."""
    return {
        "event": "warning",
        "message": f"could not save the {what} in {directory} ({reason}); this run goes on, "
        "the next one will have to redo them: free some disk space or check the folder's "
        "permissions",
    }


# -- shards --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shard:
    path: Path
    count: int
    entry_bytes: int

    @property
    def data_offset(self) -> int:
        return _HEADER.size + self.count * _ROW.size + _CRC.size

    def offset(self, slot: int) -> int:
        return self.data_offset + slot * self.entry_bytes


@dataclass(frozen=True)
class _Location:
    shard: _Shard
    slot: int
    crc: int


def _mode_bytes(resize: str) -> bytes:
    return resize.encode("ascii").ljust(16, b"\0")


def _read_shard_table(
    path: Path, size: int, resize: str
) -> tuple[_Shard, list[tuple[bytes, int]]] | None:
    """The shard's table, or None when its header, table checksum or length is wrong."""
    entry_bytes = size * size * 3
    with open(path, "rb") as f:
        length = os.fstat(f.fileno()).st_size
        head = f.read(_HEADER.size)
        if len(head) != _HEADER.size:
            return None
        magic, fmt, recipe, side, mode, count, stored_bytes = _HEADER.unpack(head)
        if (
            magic != _MAGIC
            or fmt != _FORMAT
            or recipe != RECIPE
            or side != size
            or mode != _mode_bytes(resize)
            or stored_bytes != entry_bytes
        ):
            return None
        shard = _Shard(path, count, entry_bytes)
        if length != shard.data_offset + count * entry_bytes:
            return None
        table = f.read(count * _ROW.size)
        footer = f.read(_CRC.size)
    if len(table) != count * _ROW.size or len(footer) != _CRC.size:
        return None
    if zlib.crc32(table, zlib.crc32(head)) != _CRC.unpack(footer)[0]:
        return None
    return shard, list(_ROW.iter_unpack(table))


def _read_entry(location: _Location) -> bytes | None:
    """One entry's pixels, or None when unreadable or failing its checksum."""
    shard = location.shard
    try:
        with open(shard.path, "rb") as f:
            f.seek(shard.offset(location.slot))
            data = f.read(shard.entry_bytes)
    except OSError:
        return None
    if len(data) != shard.entry_bytes or zlib.crc32(data) != location.crc:
        return None
    return data


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # in use elsewhere (Windows), read-only folder …
        log.debug("cannot delete %s: %s", path, exc)


class _ShardWriter:
    """Collects new entries and writes them out as complete shards (temp name + replace)."""

    def __init__(self, directory: Path, size: int, resize: str) -> None:
        self.directory = directory
        self.size = size
        self.resize = resize
        self.entry_bytes = size * size * 3
        self.max_entries = max(16, _SHARD_BYTES // self.entry_bytes)
        self.pending: list[tuple[bytes, memoryview, int]] = []
        self.last_flush = time.monotonic()
        self.broken: str | None = None
        """Why a shard could not be written; nothing more is attempted after that."""
        self.written: list[Path] = []

    def add(self, digest: bytes, pixels: memoryview) -> None:
        self.pending.append((digest, pixels, zlib.crc32(pixels)))

    def due(self) -> bool:
        if len(self.pending) >= self.max_entries:
            return True
        return bool(self.pending) and time.monotonic() - self.last_flush >= _FLUSH_SECONDS

    def flush(self) -> list[tuple[bytes, _Location]]:
        """Write the pending entries as one shard; their new locations (empty on failure)."""
        self.last_flush = time.monotonic()
        entries, self.pending = self.pending, []
        if not entries or self.broken:
            return []
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}{_SUFFIX}"
        path = self.directory / name
        tmp = self.directory / f".{name}{_TMP_SUFFIX}"
        head = _HEADER.pack(
            _MAGIC,
            _FORMAT,
            RECIPE,
            self.size,
            _mode_bytes(self.resize),
            len(entries),
            self.entry_bytes,
        )
        table = b"".join(_ROW.pack(digest, crc) for digest, _, crc in entries)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(head)
                f.write(table)
                f.write(_CRC.pack(zlib.crc32(table, zlib.crc32(head))))
                for _, pixels, _ in entries:
                    f.write(pixels)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("image cache: cannot write %s (%s); carrying on without it", path, exc)
            self.broken = exc.strerror or str(exc)
            _remove(tmp)
            return []
        self.written.append(path)
        shard = _Shard(path, len(entries), self.entry_bytes)
        return [
            (digest, _Location(shard, slot, crc)) for slot, (digest, _, crc) in enumerate(entries)
        ]


# -- per-image work ------------------------------------------------------------------


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _digest_of(content_hash: str) -> bytes | None:
    """The recorded hash as 32 bytes, or None when it is not a SHA-256 hex digest."""
    if len(content_hash) != 64:
        return None
    try:
        return bytes.fromhex(content_hash)
    except ValueError:
        return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, as stored; None if not found."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            if pos + 9 > end:
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return (width, height) if width and height else None
        if marker in (0xD9, 0xDA) or length < 2:  # end of image, start of scan: no frame
            return None
        pos += 2 + length
    return None


@dataclass
class _Outcome:
    row: int
    pixels: npt.NDArray[np.uint8] | None = None
    digest: bytes | None = None
    decoded: bool = False
    changed: bool = False
    reason: str | None = None


@dataclass
class _Progress:
    callback: Callable[[int, int], None] | None
    total: int
    done: int = 0
    _last: float = field(default=-math.inf)

    def advance(self, count: int = 1) -> None:
        self.done += count
        self.emit()

    def emit(self, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if force or self.done >= self.total or now - self._last >= _PROGRESS_SECONDS:
            self._last = now
            self.callback(self.done, self.total)


# -- the cache -----------------------------------------------------------------------


class ImageCache:
    """Decoded ``size×size`` RGB arrays of images, kept in ``folder`` across runs.

    ``folder`` is the project's ``cache_dir``; entries live under
    ``folder / f"rgb{size}" / f"{resize}-r{RECIPE}"``.
    """

    def __init__(self, folder: Path, size: int, resize: str = "stretch") -> None:
        if resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {resize!r} (known: {', '.join(RESIZE_MODES)})")
        if not 1 <= size <= 4096:
            raise ValueError(f"size must be between 1 and 4096 pixels, not {size}")
        self.folder = Path(folder)
        self.size = size
        self.resize = resize
        self.directory = self.folder / f"rgb{size}" / f"{resize}-r{RECIPE}"
        self._use_draft = True
        """Private knob (benchmarks): False decodes JPEGs at full size before resizing."""

    # -- public ----------------------------------------------------------------------

    def load(
        self,
        items: Sequence[CacheItem],
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        workers: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, CacheReport]:
        """Every item's pixels, decoding (and caching) those not cached yet.

        Returns ``(array, ok, report)``: ``array`` is uint8 of shape
        ``(len(items), size, size, 3)`` in the order of ``items``; ``ok[i]`` is
        False where the image could not be had (its row is zeros; the reason is
        in ``report.failed``). Missing and unreadable files never raise.
        ``progress(done, total)`` is called at most every 0.1 s and always with
        ``(total, total)`` at the end; ``cancel()`` is polled throughout and
        when it returns True the work stops, what was decoded is written to the
        cache and :class:`CacheCancelled` is raised.
        """
        start = time.perf_counter()
        n, side = len(items), self.size
        array: npt.NDArray[np.uint8] = np.zeros((n, side, side, 3), dtype=np.uint8)
        ok: npt.NDArray[np.bool_] = np.zeros(n, dtype=np.bool_)
        report = CacheReport(decoded=0, reused=0, failed=[], changed=[], seconds=0.0)
        tracker = _Progress(progress, n)
        tracker.emit(force=True)

        def check_cancel() -> None:
            if cancel is not None and cancel():
                raise CacheCancelled("image caching cancelled")

        index = self._index()
        writer = _ShardWriter(self.directory, side, self.resize)
        threads = max(1, workers or os.cpu_count() or 1)
        pool = ThreadPoolExecutor(threads, "image-cache")
        completed = False
        try:
            hits, work = self._check_all(pool, items, index, report, tracker, check_cancel)
            work += self._read_hits(hits, index, array, ok, report, tracker, check_cancel)
            work.sort(key=lambda job: job[0])
            self._decode_all(
                pool, threads, items, work, index, writer, array, ok, report, tracker, check_cancel
            )
            completed = True
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for digest, location in writer.flush():
                index[digest] = location
        report.not_saved = writer.broken
        if completed:
            self._compact()
        order = {item.image_id: row for row, item in enumerate(items)}
        report.failed.sort(key=lambda failure: order.get(failure[0], 0))
        report.changed.sort(key=lambda image_id: order.get(image_id, 0))
        report.seconds = time.perf_counter() - start
        return array, ok, report

    # -- phases ----------------------------------------------------------------------

    def _check_all(
        self,
        pool: ThreadPoolExecutor,
        items: Sequence[CacheItem],
        index: dict[bytes, _Location],
        report: CacheReport,
        tracker: _Progress,
        check_cancel: Callable[[], None],
    ) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes | None]]]:
        """Stat every file: (hits: row, digest), (work: row, trusted digest or None)."""
        hits: list[tuple[int, bytes]] = []
        work: list[tuple[int, bytes | None]] = []
        chunks = [items[i : i + _STAT_CHUNK] for i in range(0, len(items), _STAT_CHUNK)]
        futures = [pool.submit(_check_chunk, chunk) for chunk in chunks]
        row = 0
        for future in futures:
            check_cancel()
            for reason, trusted in future.result():
                if reason is not None:
                    report.failed.append((items[row].image_id, reason))
                    tracker.advance()
                elif trusted is not None and trusted in index:
                    hits.append((row, trusted))
                else:
                    work.append((row, trusted))
                row += 1
        return hits, work

    def _read_hits(
        self,
        hits: list[tuple[int, bytes]],
        index: dict[bytes, _Location],
        array: npt.NDArray[np.uint8],
        ok: npt.NDArray[np.bool_],
        report: CacheReport,
        tracker: _Progress,
        check_cancel: Callable[[], None],
    ) -> list[tuple[int, bytes | None]]:
        """Read the cached entries shard by shard, in file order; the rows that failed."""
        by_shard: dict[Path, list[tuple[_Location, int, bytes]]] = {}
        for row, digest in hits:
            location = index[digest]
            by_shard.setdefault(location.shard.path, []).append((location, row, digest))
        retry: list[tuple[int, bytes | None]] = []
        for path, entries in by_shard.items():
            check_cancel()
            entries.sort(key=lambda entry: entry[0].slot)
            first_retry = len(retry)
            try:
                with open(path, "rb") as f:
                    for number, (location, row, digest) in enumerate(entries):
                        if number and number % _READ_CHUNK == 0:
                            tracker.emit()
                            check_cancel()
                        view = memoryview(array[row]).cast("B")
                        try:
                            f.seek(location.shard.offset(location.slot))
                            got = f.readinto(view)
                        except OSError:
                            got = 0
                        if got == len(view) and zlib.crc32(view) == location.crc:
                            ok[row] = True
                            report.reused += 1
                            tracker.done += 1
                        else:
                            log.info("image cache: damaged entry in %s, decoding again", path)
                            array[row] = 0
                            index.pop(digest, None)
                            retry.append((row, digest))
            except OSError:  # cannot be opened (compacted elsewhere meanwhile): decode again
                retried = {row for row, _ in retry[first_retry:]}
                for _, row, digest in entries:
                    if not ok[row] and row not in retried:
                        index.pop(digest, None)
                        retry.append((row, digest))
            tracker.emit()
        return retry

    def _decode_all(
        self,
        pool: ThreadPoolExecutor,
        threads: int,
        items: Sequence[CacheItem],
        work: list[tuple[int, bytes | None]],
        index: dict[bytes, _Location],
        writer: _ShardWriter,
        array: npt.NDArray[np.uint8],
        ok: npt.NDArray[np.bool_],
        report: CacheReport,
        tracker: _Progress,
        check_cancel: Callable[[], None],
    ) -> None:
        """Read, hash and decode the rest on the pool, at most 2 × threads in flight."""
        queued = iter(work)
        running: set[Future[_Outcome]] = set()
        pending: set[bytes] = set()
        exhausted = False
        while True:
            check_cancel()
            while not exhausted and len(running) < 2 * threads:
                try:
                    row, trusted = next(queued)
                except StopIteration:
                    exhausted = True
                    break
                running.add(pool.submit(self._produce, row, items[row], trusted, index))
            if not running:
                break
            done, running = wait(running, timeout=_WAIT_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                item = items[outcome.row]
                if outcome.pixels is None or outcome.digest is None:
                    report.failed.append((item.image_id, outcome.reason or "cannot be read"))
                else:
                    array[outcome.row] = outcome.pixels
                    ok[outcome.row] = True
                    if outcome.changed:
                        report.changed.append(item.image_id)
                    if outcome.decoded:
                        report.decoded += 1
                        if outcome.digest not in index and outcome.digest not in pending:
                            pending.add(outcome.digest)
                            writer.add(outcome.digest, memoryview(array[outcome.row]).cast("B"))
                    else:
                        report.reused += 1
                tracker.advance()
            if writer.due():
                for digest, location in writer.flush():
                    index[digest] = location

    def _produce(
        self, row: int, item: CacheItem, trusted: bytes | None, index: dict[bytes, _Location]
    ) -> _Outcome:
        """One image's pixels: read and hash the file, then the cache or the decoder."""
        try:
            data = _read_file(item.path)
        except FileNotFoundError:
            return _Outcome(row, reason="file not found")
        except PermissionError:
            return _Outcome(row, reason="cannot read the file: permission denied")
        except OSError as exc:
            return _Outcome(row, reason=f"cannot read the file: {exc.strerror or exc}")
        except MemoryError:
            return _Outcome(row, reason="the file is too large to read")
        digest = hashlib.sha256(data).digest()
        changed = digest != _digest_of(item.content_hash)
        location = index.get(digest)
        if location is not None:
            cached = _read_entry(location)
            if cached is not None:
                pixels = np.frombuffer(cached, dtype=np.uint8).reshape(self.size, self.size, 3)
                return _Outcome(row, pixels, digest, decoded=False, changed=changed)
        try:
            pixels = self._decode(data)
        except UnreadableImage as exc:
            return _Outcome(row, reason=exc.reason)
        except MemoryError:
            return _Outcome(row, reason="the image is too large to decode")
        except Exception as exc:  # a decoder bug must not stop a run of 10,000 images
            return _Outcome(row, reason=f"cannot decode the image ({type(exc).__name__}: {exc})")
        return _Outcome(row, pixels, digest, decoded=True, changed=changed)

    def _decode(self, data: bytes) -> npt.NDArray[np.uint8]:
        """``size×size`` RGB pixels of an image file's bytes ("stretch")."""
        side = self.size
        rgb = load_rgb(data, max_side=self._max_side(data))
        if rgb.size != (side, side):
            rgb = rgb.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=3.0)
        pixels = np.asarray(rgb, dtype=np.uint8)
        if pixels.shape != (side, side, 3):  # load_rgb promises RGB; be sure
            raise UnreadableImage(f"decoded to an unexpected shape {pixels.shape}")
        return pixels

    def _max_side(self, data: bytes) -> int | None:
        """The ``max_side`` that lets JPEG draft mode shrink while the short side stays ≥ size.

        None (no draft) for other formats, whose full decode cannot be avoided
        anyway: resizing once, here, is cheaper than ``load_rgb`` resizing first.
        """
        if not self._use_draft:
            return None
        dims = _jpeg_size(data)
        if dims is None:
            return None
        short, long = min(dims), max(dims)
        if short <= self.size:
            return None
        return max(self.size, math.ceil(self.size * long / short))

    # -- shards ----------------------------------------------------------------------

    def _shard_paths(self) -> list[Path]:
        """Shard files, oldest first; stale temporary files are deleted on the way."""
        try:
            entries = list(os.scandir(self.directory))
        except OSError:  # no cache yet
            return []
        shards: list[Path] = []
        now = time.time()
        for entry in entries:
            if entry.name.endswith(_SUFFIX) and not entry.name.startswith("."):
                shards.append(Path(entry.path))
            elif entry.name.endswith(_TMP_SUFFIX):
                try:
                    if now - entry.stat().st_mtime > _STALE_TMP_SECONDS:
                        _remove(Path(entry.path))
                except OSError:
                    pass
        return sorted(shards, key=lambda path: path.name)

    def _tables(self, paths: Iterable[Path]) -> Iterable[tuple[_Shard, list[tuple[bytes, int]]]]:
        for path in paths:
            try:
                table = _read_shard_table(path, self.size, self.resize)
            except OSError:  # vanished (compacted elsewhere) or unreadable
                continue
            if table is None:
                log.warning("image cache: %s is damaged; its images will be decoded again", path)
                _remove(path)
                continue
            yield table

    def _index(self) -> dict[bytes, _Location]:
        """digest → where its entry is; newer shards win."""
        index: dict[bytes, _Location] = {}
        for shard, rows in self._tables(self._shard_paths()):
            for slot, (digest, crc) in enumerate(rows):
                index[digest] = _Location(shard, slot, crc)
        return index

    def _compact(self) -> None:
        """Merge small shards into full ones once there are many of them."""
        entry_bytes = self.size * self.size * 3
        full = max(16, _SHARD_BYTES // entry_bytes)
        small = [
            (shard, rows)
            for shard, rows in self._tables(self._shard_paths())
            if shard.count < full // 4
        ]
        if len(small) < _COMPACT_AT:
            return
        writer = _ShardWriter(self.directory, self.size, self.resize)
        seen: set[bytes] = set()
        for shard, rows in reversed(small):  # newest first: newer entries win
            try:
                with open(shard.path, "rb") as f:
                    f.seek(shard.data_offset)
                    for digest, crc in rows:
                        data = f.read(entry_bytes)
                        if digest in seen or len(data) != entry_bytes or zlib.crc32(data) != crc:
                            continue
                        seen.add(digest)
                        writer.add(digest, memoryview(data))
                        if len(writer.pending) >= writer.max_entries:
                            writer.flush()
            except OSError:
                continue
        writer.flush()
        if writer.broken:
            return
        for shard, _ in small:
            if shard.path not in writer.written:
                _remove(shard.path)


def _check(item: CacheItem) -> tuple[str | None, bytes | None]:
    """(failure reason, trusted digest): the digest when size and mtime are as recorded."""
    try:
        info = os.stat(item.path)
    except FileNotFoundError:
        return "file not found", None
    except PermissionError:
        return "cannot read the file: permission denied", None
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}", None
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file", None
    if info.st_size == item.file_size and info.st_mtime_ns == item.file_mtime_ns:
        return None, _digest_of(item.content_hash)
    return None, None


def _check_chunk(chunk: Sequence[CacheItem]) -> list[tuple[str | None, bytes | None]]:
    return [_check(item) for item in chunk]
