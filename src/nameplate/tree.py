"""A read-only file tree: the only way sources see files.

Extractors take a :class:`FileTree`, never a :class:`pathlib.Path`, so the same Spack and
EasyBuild readers run on a directory on disk and inside image layers. Paths are POSIX paths
relative to the tree's root (``PurePosixPath("opt/spack/.spack-db/index.json")``).

:class:`DirectoryTree` refuses any path, or symlink, that leads out of its root, and every read
is bounded: a file larger than ``limit`` raises :class:`~nameplate.errors.InputTooLarge` before
it is read. Only regular files are ever opened (:func:`open_regular`): a FIFO, a device or a
socket where a file is expected is refused before ``open`` could block on it.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol, runtime_checkable

from .errors import InputTooLarge, SourceError, UnsafeInput

__all__ = [
    "DEFAULT_LIMIT",
    "DirectoryTree",
    "FileTree",
    "member_path",
    "open_regular",
    "read_gzip_bounded",
]


def member_path(name: str, where: str) -> str:
    """A tar member's name as a path under the archive's root (``./a//b`` -> ``a/b``);
    ``UnsafeInput`` naming ``where`` for one that climbs above it (``..``)."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise UnsafeInput(f"{where}: member {name!r} climbs above the root")
        parts.append(part)
    return "/".join(parts)


#: Largest file a source reads whole, in bytes (metadata files are small; 2 GB is an attack).
DEFAULT_LIMIT = 256 * 1024 * 1024

_ROOT = PurePosixPath(".")
#: Resolved directories a :class:`DirectoryTree` keeps (a 10,000-prefix store needs ~20,000).
_DIR_CACHE = 65536
#: Never blocks (a FIFO), never becomes a terminal, never follows a last-component link (the
#: tree resolved it already), and is closed in a child process.
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _read_fd(fd: int, size: int, limit: int) -> bytes:
    """The content of a regular file open at ``fd`` that ``fstat`` says has ``size`` bytes: one
    ``read`` of ``size + 1`` bytes (the one extra tells the file grew), more only for short
    reads or growth, never past ``limit + 1`` bytes in all (the caller refuses that)."""
    want = min(size, limit) + 1
    parts: list[bytes] = []
    got = 0
    while got <= limit:
        ask = want - got if got < want else min(1 << 20, limit + 1 - got)
        chunk = os.read(fd, ask)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
        if len(chunk) < ask and got >= size:
            break  # a short read at the size fstat gave: the end of the file
    return parts[0] if len(parts) == 1 else b"".join(parts)  # b"" for an empty file


@runtime_checkable
class FileTree(Protocol):
    """What a source may do with files: read-only, bounded, rooted."""

    @property
    def name(self) -> str:
        """How the tree is named in messages (a directory path, an image reference)."""
        ...

    def describe(self, path: PurePosixPath) -> str:
        """How to name ``path`` in a one-line message (``/abs/dir/x`` or ``image:/x``)."""
        ...

    def is_file(self, path: PurePosixPath) -> bool:
        """True if ``path`` is a regular file (after links that stay in the tree)."""
        ...

    def is_dir(self, path: PurePosixPath) -> bool:
        """True if ``path`` is a directory (after links that stay in the tree)."""
        ...

    def listdir(self, path: PurePosixPath) -> list[str]:
        """Sorted entry names of directory ``path``."""
        ...

    def size(self, path: PurePosixPath) -> int:
        """Size in bytes of regular file ``path``."""
        ...

    def read_bytes(self, path: PurePosixPath, *, limit: int = DEFAULT_LIMIT) -> bytes:
        """The content of ``path``; ``InputTooLarge`` beyond ``limit`` bytes."""
        ...

    def walk(
        self, top: PurePosixPath = ...
    ) -> Iterator[tuple[PurePosixPath, list[str], list[str]]]:
        """Like ``os.walk`` (top-down, sorted, links not followed); prune by editing ``dirs``."""
        ...


_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str | os.PathLike[str], *, where: str | None = None) -> io.BufferedReader:
    """Open ``path`` for reading only if it is a regular file (links followed).

    The type is checked with ``stat`` before the open, and again on the open descriptor (the
    file could be swapped in between); the open itself never blocks (``O_NONBLOCK``), so a FIFO
    or a device where a file is expected is :class:`~nameplate.errors.UnsafeInput`, never a
    hang. ``where`` names the file in messages (default: ``path``)."""
    shown = where if where is not None else os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UnsafeInput(f"{shown}: not a regular file")
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise SourceError(f"{shown}: cannot read: {exc.strerror}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeInput(f"{shown}: not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_gzip_bounded(data: bytes, *, where: str, limit: int = DEFAULT_LIMIT) -> bytes:
    """Decompress gzip ``data`` but stop with ``InputTooLarge`` past ``limit`` bytes."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{where}: not a readable gzip file: {exc}") from exc
    if len(out) > limit:
        raise InputTooLarge(f"{where}: decompresses to more than {limit} bytes")
    return out


class DirectoryTree:
    """A directory on disk as a :class:`FileTree`. Links that leave ``root`` are refused."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        root_path = Path(root)
        if not root_path.is_dir():
            raise SourceError(f"{root}: not a directory")
        self.root = root_path.resolve()
        self._root = str(self.root)
        self._root_slash = self._root.rstrip("/") + "/"
        self._dirs: dict[str, str] = {}

    @property
    def name(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"DirectoryTree({str(self.root)!r})"

    def describe(self, path: PurePosixPath) -> str:
        rel = posixpath.normpath(str(path)).lstrip("/")
        return self._root if rel in (".", "") else posixpath.join(self._root, rel)

    def _inside(self, real: str, shown: str) -> str:
        if real != self._root and not real.startswith(self._root_slash):
            raise UnsafeInput(f"{shown}: a link leads out of {self.root}")
        return real

    def _real_dir(self, rel: str) -> str:
        """The real path of directory ``rel`` (normalised, relative): one lstat per new level."""
        if not rel:
            return self._root
        real = self._dirs.get(rel)
        if real is not None:
            return real
        parent, name = posixpath.split(rel)
        full = os.path.join(self._real_dir(parent), name)
        if os.path.islink(full):
            full = self._inside(os.path.realpath(full), os.path.join(self._root, rel))
        if len(self._dirs) < _DIR_CACHE:
            self._dirs[rel] = full
        return full

    def _final(self, path: PurePosixPath | str) -> tuple[str, os.stat_result | None]:
        """The real path of ``path``, refusing anything that resolves outside the root, and the
        ``lstat`` of its last component when that is no link (None: missing, or a link that was
        resolved and checked again).

        Directories are resolved once and cached (:meth:`walk` fills the cache with the real
        directories it passes)."""
        rel = posixpath.normpath(str(path)).lstrip("/")
        if rel == ".." or rel.startswith("../"):
            raise UnsafeInput(f"{path}: path leaves the tree")
        if rel in (".", ""):
            return self._root, None
        parent, name = posixpath.split(rel)
        full = os.path.join(self._real_dir(parent), name)
        try:
            st = os.lstat(full)
        except OSError:
            return full, None
        if stat.S_ISLNK(st.st_mode):
            return self._inside(os.path.realpath(full), os.path.join(self._root, rel)), None
        return full, st

    def _real(self, path: PurePosixPath | str) -> str:
        """The real path of ``path`` (see :meth:`_final`)."""
        return self._final(path)[0]

    def _stat(self, path: PurePosixPath) -> os.stat_result | None:
        try:
            real, st = self._final(path)
            return st if st is not None else os.stat(real)
        except UnsafeInput:
            return None
        except OSError:
            return None

    def realpath(self, path: PurePosixPath | str) -> str:
        """``path`` with every link resolved, relative to the root (``UnsafeInput`` if a link
        leads out of the tree)."""
        real = os.path.realpath(self._real(path))
        self._inside(real, os.path.join(self._root, str(path)))
        return os.path.relpath(real, self._root).replace(os.sep, "/")

    def is_file(self, path: PurePosixPath) -> bool:
        st = self._stat(path)
        return st is not None and stat.S_ISREG(st.st_mode)

    def is_dir(self, path: PurePosixPath) -> bool:
        st = self._stat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def listdir(self, path: PurePosixPath) -> list[str]:
        real = self._real(path)
        try:
            return sorted(os.listdir(real))
        except OSError as exc:
            raise SourceError(f"{real}: cannot list: {exc.strerror}") from exc

    def size(self, path: PurePosixPath) -> int:
        real = self._real(path)
        try:
            return os.stat(real).st_size
        except OSError as exc:
            raise SourceError(f"{real}: cannot stat: {exc.strerror}") from exc

    def open(self, path: PurePosixPath) -> BinaryIO:
        """Regular file ``path``, opened to be streamed by a reader that bounds what it reads
        (a build-cache tarball, read for its first few members and hashed whole)."""
        return open_regular(self._real(path))  # never a FIFO: it would block the open

    def read_bytes(self, path: PurePosixPath, *, limit: int = DEFAULT_LIMIT) -> bytes:
        real, st = self._final(path)
        lstat_ok = st is not None
        try:
            if st is None:
                st = os.stat(real)
            if not stat.S_ISREG(st.st_mode):  # never opened: a FIFO would block, a device act
                raise UnsafeInput(f"{real}: not a regular file")
            nofollow = getattr(os, "O_NOFOLLOW", 0) if lstat_ok else 0  # no swap for a link
            fd = os.open(real, _READ_FLAGS | nofollow)
        except OSError as exc:
            raise SourceError(f"{real}: cannot read: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)  # the file, not what the name pointed to a moment ago
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeInput(f"{real}: not a regular file")
            if st.st_size > limit:
                raise InputTooLarge(
                    f"{real}: {st.st_size} bytes is over the {limit}-byte limit for this file"
                )
            data = _read_fd(fd, st.st_size, limit)
        except OSError as exc:
            raise SourceError(f"{real}: cannot read: {exc.strerror}") from exc
        finally:
            os.close(fd)
        if len(data) > limit:
            raise InputTooLarge(f"{real}: over the {limit}-byte limit for this file")
        return data

    def walk(
        self, top: PurePosixPath = _ROOT
    ) -> Iterator[tuple[PurePosixPath, list[str], list[str]]]:
        start = self._real(top)
        for dirpath, dirs, files in os.walk(start, followlinks=False):
            dirs.sort()
            rel = Path(os.path.relpath(dirpath, self._root))
            # Links to directories appear in ``dirs`` but are not entered; report them as files
            # only if they resolve to a file inside the tree.
            link_dirs = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
            for d in link_dirs:
                dirs.remove(d)
            if len(self._dirs) < _DIR_CACHE:  # real directories: no lstat when read below
                base = "" if str(rel) == "." else f"{rel.as_posix()}/"
                for d in dirs:
                    self._dirs.setdefault(base + d, os.path.join(dirpath, d))
            yield PurePosixPath(rel.as_posix()), dirs, sorted(files)
