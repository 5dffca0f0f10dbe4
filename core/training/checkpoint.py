"""Checkpoint files: written atomically, read with ``weights_only=True``.

A checkpoint holds only tensors and plain values (no pickled classes), so that
loading one cannot run code; a file that tries is refused with a message.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from core.errors import UserError

FORMAT = "mtlabel-checkpoint"
VERSION = 1


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``path`` so that it is either the old file, the new file, or absent.

    A write that fails (disk full, folder read-only) leaves no partial file behind
    and raises UserError naming the file and the reason.
    """
    data = {"format": FORMAT, "version": VERSION, **payload}
    # Serialised in memory first: torch reports a failed file write as a RuntimeError
    # ("unexpected pos ..."), indistinguishable from a bug; a plain write says why.
    buffer = io.BytesIO()
    torch.save(data, buffer)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the checkpoint {path}: {exc.strerror or exc}") from exc


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint, refusing anything that is not a plain mtlabel checkpoint."""
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is not a readable checkpoint (not a PyTorch archive)")
    data = load_weights_only(path, "checkpoint")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{path} is not an mtlabel checkpoint")
    if data.get("version", 0) > VERSION:
        raise UserError(f"{path} was written by a newer mtlabel (version {data['version']})")
    return data


def load_weights_only(path: Path, what: str = "weights file") -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, every failure a UserError.

    Reads the zip archives of ``torch.save`` and the older plain-pickle files alike;
    a file whose pickle asks for anything beyond tensors and plain values is refused
    unread, naming what it asked for.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # "Unsupported global: GLOBAL builtins.print ...", or for a blocked module
        # "Trying to load unsupported GLOBAL posix.system whose module posix is blocked".
        found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)", str(exc))
        if found is None and "Unsupported operand" in str(exc):
            raise UserError(f"{path} is not a readable {what} (not a PyTorch file)") from exc
        detail = f" (it asks for {found.group(1)})" if found else ""
        raise UserError(
            f"{path} was refused: it holds more than weights and plain values, and loading "
            f"it could run code, so it was not loaded{detail}"
        ) from exc
    except FileNotFoundError as exc:
        raise UserError(f"{what} {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise UserError(f"{path} is a folder, not a {what}") from exc
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        # Not a torch.save archive, so torch reads it as a bare pickle: text gives a
        # KeyError on its first character, an empty file an EOFError without words.
        if path.is_file() and path.stat().st_size == 0:
            raise UserError(f"{path} is empty: not a {what}") from exc
        detail = str(exc).strip()
        if isinstance(exc, (KeyError, IndexError, TypeError)) or not detail:
            detail = "not a file written by torch.save"
        raise UserError(f"{path} is not a readable {what}: {detail}") from exc
