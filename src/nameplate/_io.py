"""Small I/O helpers: atomic writes (no half-written output file, ever) and bounded reads.

Records are read with :meth:`nameplate.record.Record.load` and written with
:meth:`~nameplate.record.Record.dump`, which use these."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import NameplateError, SourceError
from .tree import DEFAULT_LIMIT

__all__ = ["atomic_write", "atomic_writer", "load_json_file", "parse_json", "read_bounded"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: through a temporary file and a rename.

    A symlink is written through (its target is replaced, the link stays). A target that is
    not a regular file (``/dev/null``, a FIFO, a terminal) is written to directly: it cannot be
    replaced, and must not be. A new file gets ``0666 & ~umask``; an existing one keeps its mode.
    """
    with atomic_writer(path) as out:
        out.write(data)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary stream whose bytes replace ``path`` when the block ends without an error,
    as :func:`atomic_write` does (on an error nothing is left behind); for writers that make
    their output a piece at a time."""
    target = Path(os.path.realpath(path))
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise NameplateError(f"{path}: cannot write: {exc.strerror}") from exc
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise NameplateError(f"{path}: is a directory")
        try:
            with open(target, "wb") as direct:
                yield direct
        except OSError as exc:
            raise NameplateError(f"{path}: cannot write: {exc.strerror}") from exc
        return
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise NameplateError(f"{path}: cannot write: {exc.strerror}") from exc
    try:
        os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise NameplateError(f"{path}: cannot write: {exc.strerror}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_bounded(path: str | os.PathLike[str], *, limit: int = DEFAULT_LIMIT) -> bytes:
    """The bytes of ``path``, refusing more than ``limit`` (devices report no size: the read
    itself is bounded)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise SourceError(f"{p}: is a directory")
            if st.st_size > limit:
                raise SourceError(f"{p}: {st.st_size} bytes is over the {limit}-byte limit")
            data = f.read(limit + 1)
    except OSError as exc:
        raise SourceError(f"{p}: cannot read: {exc.strerror}") from exc
    if len(data) > limit:
        raise SourceError(f"{p}: over the {limit}-byte limit")
    return data


def parse_json(data: bytes, where: str | os.PathLike[str]) -> Any:
    """Parse JSON bytes; errors name ``where`` and the position."""
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{where}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SourceError(f"{where}: JSON nested too deeply") from exc


def load_json_file(path: str | os.PathLike[str], *, limit: int = DEFAULT_LIMIT) -> Any:
    """Parse a JSON file, bounded in size; errors name the file and the position."""
    return parse_json(read_bounded(path, limit=limit), Path(path))
