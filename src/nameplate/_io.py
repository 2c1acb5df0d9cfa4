"""Small I/O helpers: atomic writes (no half-written output file, ever) and bounded reads.

Records are read with :meth:`nameplate.record.Record.load` and written with
:meth:`~nameplate.record.Record.dump`, which use these."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from .errors import NameplateError, SourceError
from .tree import DEFAULT_LIMIT

__all__ = [
    "atomic_write",
    "atomic_writer",
    "json_loads",
    "json_text",
    "load_json_file",
    "parse_json",
    "read_bounded",
]


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


_DIGIT_MAP = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))  # digits -> "0", else " "
_RUN = b"0" * 19


def _long_number(data: bytes) -> bool:
    """A run of 19 or more digits in ``data`` (two C passes; a regular expression backtracks
    at every digit of a manifest's timestamps)."""
    return _RUN in data.translate(_DIGIT_MAP)


def _orjson_loads() -> Callable[[bytes], Any] | None:
    try:
        import orjson
    except ImportError:  # pragma: no cover - the optional fast path
        return None
    return cast("Callable[[bytes], Any]", orjson.loads)


_FAST_LOADS = _orjson_loads()


#: Documents up to this size go through orjson. Larger ones through ``json``: orjson builds
#: its own document tree before the Python objects, so a 21 MB Spack DB peaks ~70 MB higher,
#: for a parse only ~20 % faster.
_FAST_LIMIT = 1024 * 1024


def json_loads(data: bytes | str) -> Any:
    """``json.loads``, through orjson where it is installed (about 3x faster on the small
    documents a Spack store has thousands of: install manifests, spec files).

    What orjson refuses (invalid JSON, and what only Python's parser takes: NaN, integers
    past 64 bits, lone surrogates, UTF-16, nesting past 1,024 levels) goes to ``json.loads``,
    so results and errors are the standard library's."""
    # orjson turns an integer past 64 bits into a float without a word (Python keeps it
    # exact): a run of 19 digits anywhere (in a string too: then only time is lost) sends the
    # document to ``json``.
    if (
        _FAST_LOADS is not None
        and isinstance(data, bytes)
        and len(data) <= _FAST_LIMIT
        and not _long_number(data)
    ):
        try:
            return _FAST_LOADS(data)
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            pass
    return json.loads(data)


def json_text(data: bytes) -> bytes | str:
    """What to give :func:`json_loads` for ``data``, so that a caller that rebinds its variable
    to it holds one copy while the objects are made: a large document decoded to text as
    ``json.loads`` decodes bytes (the bytes can then be freed), a small one as it is."""
    if _FAST_LOADS is not None and len(data) <= _FAST_LIMIT:
        return data
    return data.decode(json.detect_encoding(data), "surrogatepass")


def parse_json(data: bytes, where: str | os.PathLike[str]) -> Any:
    """Parse JSON bytes; errors name ``where`` and the position."""
    try:
        return json_loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{where}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SourceError(f"{where}: JSON nested too deeply") from exc


def load_json_file(path: str | os.PathLike[str], *, limit: int = DEFAULT_LIMIT) -> Any:
    """Parse a JSON file, bounded in size; errors name the file and the position."""
    return parse_json(read_bounded(path, limit=limit), Path(path))
