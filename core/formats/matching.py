"""Finding project images by the name a label file gives them.

A name matches, in this order of preference (the first rule that matches
anything decides; several matches under that rule make the name ambiguous):

1. the absolute ``path`` of an image, exactly;
2. the ``rel_path`` of an image (relative to the folder it was imported from);
3. the trailing path components of an image's absolute path: a bare file
   name matches the image of that ``name``, and ``train/p1/view1.jpg``
   matches ``/data/chexpert/train/p1/view1.jpg`` -- so a file written
   relative to a different folder (one level up or down) still matches,
   as long as the name is unique in the project.

Backslashes count as separators and a leading ``./`` is ignored. Names are
compared as given, then in Unicode NFC form (macOS file systems store NFD),
and then with surrounding whitespace removed. Case matters: ``A.jpg`` and
``a.jpg`` are different files on most systems.

The lookup is built from one query over the image table, whatever the size
of the label file.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.db.models import Image
from core.errors import NotFoundError, UserError
from core.project import Project


@dataclass(frozen=True)
class ImageRecord:
    id: int
    path: str
    root: str
    rel_path: str
    name: str
    content_hash: str
    width: int
    height: int


@dataclass(frozen=True)
class Match:
    """The result of a lookup: one image, several candidates (ambiguous), or none."""

    image_id: int | None = None
    candidates: tuple[str, ...] = ()
    """Absolute paths of the images the name could mean, when it is ambiguous."""
    rule: str = ""

    @property
    def found(self) -> bool:
        return self.image_id is not None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


NOT_FOUND = Match()
_RECORD_QUERY = select(
    Image.id,
    Image.path,
    Image.root,
    Image.rel_path,
    Image.name,
    Image.content_hash,
    Image.width,
    Image.height,
)


def normalise(name: str) -> str:
    """Forward slashes, no leading ``./``, no repeated slashes."""
    key = name.replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    while "//" in key[1:]:
        key = key[0] + key[1:].replace("//", "/")
    return key


def stem(name: str) -> str:
    return PurePosixPath(name).stem


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _same(text: str) -> str:
    return text


class _Layer:
    """Lookups over one form of the names: as stored, or NFC-normalised."""

    def __init__(self, records: dict[int, ImageRecord], fold: Callable[[str], str]) -> None:
        self.records = records
        self.fold = fold
        self.by_path: dict[str, list[int]] = defaultdict(list)
        self.by_rel: dict[str, list[int]] = defaultdict(list)
        self._by_stem: dict[str, list[int]] | None = None
        self._suffixes: dict[int, dict[str, list[int]]] = {}
        for record in records.values():
            self.by_path[fold(record.path)].append(record.id)
            self.by_rel[fold(record.rel_path)].append(record.id)

    def by_stem(self) -> dict[str, list[int]]:
        if self._by_stem is None:
            self._by_stem = defaultdict(list)
            for record in self.records.values():
                self._by_stem[self.fold(stem(record.name))].append(record.id)
        return self._by_stem

    def suffix_index(self, depth: int) -> dict[str, list[int]]:
        """Images by their last ``depth`` path components (built once per depth asked for)."""
        index = self._suffixes.get(depth)
        if index is None:
            index = defaultdict(list)
            for record in self.records.values():
                parts = record.path.split("/")
                if len(parts) >= depth:
                    index[self.fold("/".join(parts[-depth:]))].append(record.id)
            self._suffixes[depth] = index
        return index


@dataclass
class ImageIndex:
    """Every project image, indexed by path, rel_path, name, stem and content hash."""

    images: dict[int, ImageRecord]
    _by_hash: dict[str, int] = field(default_factory=dict)
    _exact: _Layer | None = None
    _nfc: _Layer | None = None

    @classmethod
    def load(cls, session: Session) -> ImageIndex:
        """All images of the project, in one query."""
        rows = session.execute(_RECORD_QUERY)
        return cls.from_records(ImageRecord(*row) for row in rows)

    @classmethod
    def from_records(cls, records: Iterable[ImageRecord]) -> ImageIndex:
        index = cls(images={})
        for record in records:
            index.images[record.id] = record
            index._by_hash[record.content_hash] = record.id
        return index

    def _layer(self, nfc: bool) -> _Layer:
        if nfc:
            if self._nfc is None:
                self._nfc = _Layer(self.images, _nfc)
            return self._nfc
        if self._exact is None:
            self._exact = _Layer(self.images, _same)
        return self._exact

    # -- lookups ---------------------------------------------------------------------

    def find(self, name: str, *, suffixes: bool = True) -> Match:
        """The image ``name`` refers to, by path, rel_path or (``suffixes``) trailing components."""
        tried: set[tuple[str, bool]] = set()
        for key, nfc in _keys(name):
            if (key, nfc) in tried:
                continue
            tried.add((key, nfc))
            match = self._find_key(self._layer(nfc), key, suffixes)
            if match.found or match.ambiguous:
                return match
        return NOT_FOUND

    def find_by_stem(self, image_id: str) -> Match:
        """Open Images style: the file name without its extension, unique in the project."""
        for key, nfc in ((image_id, False), (_nfc(image_id), True), (_nfc(image_id.strip()), True)):
            ids = self._layer(nfc).by_stem().get(key)
            if ids:
                return self._result(ids, "stem")
        return NOT_FOUND

    def find_by_hash(self, content_hash: str) -> int | None:
        found = self._by_hash.get(content_hash)
        if found is None:
            found = self._by_hash.get(content_hash.strip().lower())
        return found

    def _find_key(self, layer: _Layer, key: str, suffixes: bool) -> Match:
        ids = layer.by_path.get(key)
        if ids:
            return self._result(ids, "path")
        ids = layer.by_rel.get(key)
        if ids:
            return self._result(ids, "rel_path")
        if not suffixes or key.startswith("/") or not key:
            return NOT_FOUND
        depth = key.count("/") + 1
        ids = layer.suffix_index(depth).get(key)
        if ids:
            return self._result(ids, "name" if depth == 1 else "suffix")
        return NOT_FOUND

    def _result(self, ids: list[int], rule: str) -> Match:
        if len(ids) == 1:
            return Match(ids[0], rule=rule)
        return Match(None, tuple(sorted(self.images[i].path for i in ids)), rule)

    # -- writing names -------------------------------------------------------------------

    def export_names(self) -> dict[int, str]:
        """The name to write for each image: its rel_path, or its path where rel_paths clash."""
        counts: dict[str, int] = defaultdict(int)
        for record in self.images.values():
            counts[record.rel_path] += 1
        return {
            record.id: record.rel_path if counts[record.rel_path] == 1 else record.path
            for record in self.images.values()
        }

    def stem_names(self) -> dict[int, str]:
        """Open Images ImageIDs: the stem where it names this image alone, else the export name.

        A stem is used only where it is unique, not blank, and not itself the path or
        rel_path of an image (which an ImageID would match first).
        """
        counts: dict[str, int] = defaultdict(int)
        for record in self.images.values():
            counts[stem(record.name)] += 1
        names = self.export_names()
        result: dict[int, str] = {}
        for record in self.images.values():
            image_stem = stem(record.name)
            usable = (
                counts[image_stem] == 1
                and image_stem.strip()
                and not self.find(image_stem, suffixes=False).found
                and not self.find(image_stem, suffixes=False).ambiguous
            )
            result[record.id] = image_stem if usable else names[record.id]
        return result


def find_image(project: Project, name: str) -> int:
    """The id of the one project image ``name`` refers to (same rules as label files).

    NotFoundError when no image matches, UserError listing the candidates when
    several do. Reads only the images that could match, not the whole table.
    """
    keys = {key for key, _ in _keys(name)} | {_nfc(key) for key, _ in _keys(name)}
    names = {PurePosixPath(key).name for key in keys if key}
    with project.reading() as session:
        rows = session.execute(
            _RECORD_QUERY.where(
                or_(Image.path.in_(keys), Image.rel_path.in_(keys), Image.name.in_(names))
            )
        )
        match = ImageIndex.from_records(ImageRecord(*row) for row in rows).find(name)
        if not (match.found or match.ambiguous):  # e.g. names stored in another Unicode form
            match = ImageIndex.load(session).find(name)
    if match.image_id is not None:
        return match.image_id
    if match.ambiguous:
        shown = ", ".join(match.candidates[:5])
        more = f" and {len(match.candidates) - 5} more" if len(match.candidates) > 5 else ""
        raise UserError(
            f"image name {name!r} is ambiguous: it matches {len(match.candidates)} images "
            f"({shown}{more}); give the path relative to the imported folder, or the absolute path"
        )
    raise NotFoundError(f"no image {name!r} in this project")


def _keys(name: str) -> Iterator[tuple[str, bool]]:
    """The forms of a name to try, most literal first; True: compare in NFC form."""
    yield name, False
    normal = normalise(name)
    yield normal, False
    yield _nfc(normal), True
    stripped = name.strip()
    if stripped != name:
        yield normalise(stripped), False
        yield _nfc(normalise(stripped)), True
