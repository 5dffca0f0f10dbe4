"""Backbone features on disk: computed once per (image content, backbone, input size, view).

Instant mode trains on these instead of images, so a retrain costs seconds and
a new image costs only its own forward passes.

Keys and folders
----------------
An entry is keyed by the image's SHA-256 (its content, whatever its path) and a
view number (0 = the image itself; 1… = fixed flips and shifts, see
features.py), within a folder per backbone architecture *and weights*
(``BackboneSpec.cache_key``, which holds a hash of the weights file), input
size, resize mode and recipe::

    cache_dir/features/{arch}-{weights}/{size}px-{resize}-r{image recipe}.{FEATURE_RECIPE}/

Other weights, another size or a changed decoding recipe therefore never reuse
an entry. Deleting the folder is always safe: features are recomputed.

Shards
------
New entries are written as one shard file per batch of additions, to a hidden
temporary name and then ``os.replace``-d, so a killed process leaves no
half-written shard. A shard is never modified. Layout (little-endian)::

    header  magic "MTLFEAT\\0" 8s, format u16, feature dim u32, count u32
    table   count × (sha256 digest 32s, view u16, crc32 of the entry u32)
    crc32 of header + table                                       (u32)
    data    count × dim float32 values, in table order

A shard whose header, table checksum or length is wrong is deleted; an entry
whose CRC fails is treated as missing (and computed again). Features are kept
as float32, exactly as the backbone computed them, so that a retrain, a
prediction and an exported whole network all see the same numbers (5 KB per
image and view at 1,280-d: 200 MB for 10,000 images with 4 views, against
1.5 GB of 224 px pixels in the image cache). When many small shards have piled
up they are merged into one.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import time
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.training import image_cache

log = logging.getLogger(__name__)

FEATURE_RECIPE = 2
"""Bump when what an entry holds changes (the views, the pooling …)."""

_MAGIC = b"MTLFEAT\x00"
_FORMAT = 1
_HEADER = struct.Struct("<8sHII")
_ROW = struct.Struct("<32sHI")
_CRC = struct.Struct("<I")
_SUFFIX = ".fshard"
_MERGE_AT = 16
"""Merge the shards once there are this many."""
_MERGE_MAX_ENTRIES = 16384
"""Entries per merged shard at most (80 MiB at 1280-d)."""

_STALE_TMP_SECONDS = 3600.0
"""A temporary file this old was left by a killed process."""

Key = tuple[bytes, int]
"""(sha256 digest of the image file, view number)."""


_Location = tuple[Path, int, int]
"""(shard file, slot in it, crc32 of the entry): plain tuples, 40,000 of them in 30 ms."""


class FeatureCache:
    """Features of dimension ``dim`` for one backbone, weights and input size."""

    def __init__(
        self, cache_dir: Path, backbone_key: str, size: int, dim: int, resize: str = "stretch"
    ) -> None:
        self.dim = dim
        self.entry_bytes = dim * 4
        self.directory = (
            Path(cache_dir)
            / "features"
            / backbone_key
            / f"{size}px-{resize}-r{image_cache.RECIPE}.{FEATURE_RECIPE}"
        )
        self.not_saved: str | None = None
        """Why the last write failed (disk full, no permission), if it did."""

    # -- reading ---------------------------------------------------------------------

    def _shards(self) -> list[Path]:
        """Shard files, oldest first; temporary files left by killed processes are deleted."""
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return []
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                path = self.directory / name
                try:
                    if time.time() - path.stat().st_mtime > _STALE_TMP_SECONDS:
                        _remove(path)
                except OSError:
                    pass
        return [self.directory / n for n in names if n.endswith(_SUFFIX) and n[0] != "."]

    def _table(self, path: Path) -> list[tuple[bytes, int, int]] | None:
        """[(digest, view, crc)], or None when the shard is damaged or not ours."""
        with open(path, "rb") as f:
            length = os.fstat(f.fileno()).st_size
            head = f.read(_HEADER.size)
            if len(head) != _HEADER.size:
                return None
            magic, fmt, dim, count = _HEADER.unpack(head)
            if magic != _MAGIC or fmt != _FORMAT or dim != self.dim:
                return None
            table_bytes = count * _ROW.size
            if length != _HEADER.size + table_bytes + _CRC.size + count * self.entry_bytes:
                return None
            table = f.read(table_bytes)
            footer = f.read(_CRC.size)
        if zlib.crc32(table, zlib.crc32(head)) != _CRC.unpack(footer)[0]:
            return None
        return list(_ROW.iter_unpack(table))

    def index(self) -> dict[Key, _Location]:
        """Every entry on disk (newer shards win)."""
        found: dict[Key, _Location] = {}
        for path in self._shards():
            try:
                table = self._table(path)
            except OSError:
                continue  # merged away by another process meanwhile
            if table is None:
                log.warning("feature cache: %s is damaged; its features will be recomputed", path)
                _remove(path)
                continue
            for slot, (digest, view, crc) in enumerate(table):
                found[(digest, view)] = (path, slot, crc)
        return found

    def lookup(
        self,
        keys: Sequence[Key],
        index: dict[Key, _Location] | None = None,
        out: npt.NDArray[np.float32] | None = None,
        rows: npt.NDArray[np.int64] | None = None,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """(features, found (len(keys),) bool): key i's feature in row ``rows[i]`` of ``out``.

        ``out`` defaults to a new (len(keys), dim) float32 array of zeros and ``rows``
        to 0, 1, …; rows of keys not found are left as they are.
        """
        index = self.index() if index is None else index
        if out is None:
            out = np.zeros((len(keys), self.dim), dtype=np.float32)
        rows = np.arange(len(keys)) if rows is None else np.asarray(rows, dtype=np.int64)
        found = np.zeros(len(keys), dtype=np.bool_)
        by_shard: dict[Path, tuple[list[int], list[int], list[int]]] = {}
        for i, key in enumerate(keys):
            location = index.get(key)
            if location is not None:
                path, slot, crc = location
                positions, slots, crcs = by_shard.setdefault(path, ([], [], []))
                positions.append(i)
                slots.append(slot)
                crcs.append(crc)
        size = self.entry_bytes
        for path, (positions, slots, crcs) in by_shard.items():
            entries = self._read_entries(path)
            if entries is None:
                continue  # gone meanwhile (merged by another process): recomputed
            raw = entries.data.cast("B")
            good = np.array(
                [
                    zlib.crc32(raw[slot * size : (slot + 1) * size]) == crc
                    for slot, crc in zip(slots, crcs, strict=True)
                ],
                dtype=np.bool_,
            )
            chosen = np.asarray(positions, dtype=np.int64)[good]
            _take_rows(entries, np.asarray(slots, dtype=np.int64)[good], out, rows[chosen])
            found[chosen] = True
        return out, found

    def _read_entries(self, path: Path) -> npt.NDArray[np.float32] | None:
        """A shard's (count, dim) features, memory-mapped (read-only; only the entries
        used are read, no copy of the whole file); None when it cannot be read.

        Mapping is safe because a shard is never modified: it is only ever replaced or
        deleted, and a deleted file stays readable while it is mapped."""
        try:
            with open(path, "rb") as f:
                count = _HEADER.unpack(f.read(_HEADER.size))[3]
                offset = _HEADER.size + count * _ROW.size + _CRC.size
                if os.fstat(f.fileno()).st_size != offset + count * self.entry_bytes:
                    return None
                if count == 0:
                    return np.zeros((0, self.dim), dtype="<f4")
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError, struct.error):
            return None
        return np.frombuffer(mapped, dtype="<f4", count=count * self.dim, offset=offset).reshape(
            count, self.dim
        )

    # -- writing ---------------------------------------------------------------------

    def add(self, keys: Sequence[Key], features: npt.NDArray[np.floating]) -> bool:
        """Write new entries as one shard; False (and a log line) when the disk refuses."""
        if not keys:
            return True
        values = np.ascontiguousarray(features, dtype="<f4")
        if values.shape != (len(keys), self.dim):
            raise ValueError(f"features {values.shape} do not match {len(keys)} × {self.dim}")
        return self._write(list(keys), values) is not None

    def _write(self, keys: list[Key], values: npt.NDArray[np.float32]) -> Path | None:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}{_SUFFIX}"
        path = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        entries = [values[i].tobytes() for i in range(len(keys))]
        head = _HEADER.pack(_MAGIC, _FORMAT, self.dim, len(keys))
        table = b"".join(
            _ROW.pack(digest, view, zlib.crc32(entry))
            for (digest, view), entry in zip(keys, entries, strict=True)
        )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(head)
                f.write(table)
                f.write(_CRC.pack(zlib.crc32(table, zlib.crc32(head))))
                f.write(b"".join(entries))
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("feature cache: cannot write %s (%s); carrying on without it", path, exc)
            self.not_saved = exc.strerror or str(exc)
            _remove(tmp)
            return None
        return path

    def merge(self) -> None:
        """Merge the shards into few once there are many (one per run that added images)."""
        shards = self._shards()
        if len(shards) < _MERGE_AT:
            return
        index = self.index()
        keys = list(index)
        if not keys:
            return
        written: list[Path] = []
        for start in range(0, len(keys), _MERGE_MAX_ENTRIES):
            chunk = keys[start : start + _MERGE_MAX_ENTRIES]
            values, found = self.lookup(chunk, index)
            kept = [k for k, ok in zip(chunk, found, strict=True) if ok]
            path = self._write(kept, values[found].astype("<f4"))
            if path is None:
                return  # keep the old shards
            written.append(path)
        for path in shards:
            if path not in written:
                _remove(path)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.debug("cannot delete %s: %s", path, exc)


def _take_rows(
    source: npt.NDArray[np.float32],
    slots: npt.NDArray[np.int64],
    out: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
) -> None:
    """``out[rows] = source[slots]``, without numpy's slow fancy-indexing copy where
    ``rows`` is a run of consecutive rows (the usual case): ``np.take`` straight into
    the slice is ~10× faster on 100+ MB of features."""
    if len(rows) == 0:
        return
    first = int(rows[0])
    if out.flags.c_contiguous and np.array_equal(rows, np.arange(first, first + len(rows))):
        np.take(source, slots, axis=0, out=out[first : first + len(rows)])
    else:
        out[rows] = np.take(source, slots, axis=0)
