"""Small I/O helpers: atomic writes (no half-written output file, ever) and JSON loading."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import NameplateError, RecordError, SourceError
from .sources._tree import DEFAULT_LIMIT

__all__ = ["atomic_write", "load_json_file", "load_record"]


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: all or nothing."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise NameplateError(f"{target}: cannot write: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise NameplateError(f"{target}: cannot write: {exc.strerror}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_json_file(path: str | os.PathLike[str], *, limit: int = DEFAULT_LIMIT) -> Any:
    """Parse a JSON file, bounded in size; errors name the file and the position."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > limit:
            raise SourceError(f"{p}: {size} bytes is over the {limit}-byte limit")
        text = p.read_bytes()
    except OSError as exc:
        raise SourceError(f"{p}: cannot read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{p}: not valid JSON: {exc}") from exc


def load_record(path: str | os.PathLike[str]) -> Any:
    """Load and validate a record file; returns a :class:`~nameplate.record.Record`."""
    from . import schema
    from .record import Record

    data = load_json_file(path)
    if not isinstance(data, dict):
        raise RecordError(f"{path}: $: a record is a JSON object")
    schema.validate(data, where=str(path))
    try:
        return Record.from_dict(data)
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from exc
