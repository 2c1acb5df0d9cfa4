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
    "open_regular",
    "read_gzip_bounded",
]

#: Largest file a source reads whole, in bytes (metadata files are small; 2 GB is an attack).
DEFAULT_LIMIT = 256 * 1024 * 1024

_ROOT = PurePosixPath(".")


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
        if len(self._dirs) < 65536:
            self._dirs[rel] = full
        return full

    def _real(self, path: PurePosixPath | str) -> str:
        """The real path of ``path``, refusing anything that resolves outside the root.

        Directories are resolved once and cached; a final component that is a symlink is
        resolved and checked again."""
        rel = posixpath.normpath(str(path)).lstrip("/")
        if rel == ".." or rel.startswith("../"):
            raise UnsafeInput(f"{path}: path leaves the tree")
        if rel in (".", ""):
            return self._root
        parent, name = posixpath.split(rel)
        real_parent = self._real_dir(parent)
        full = os.path.join(real_parent, name)
        if os.path.islink(full):
            return self._inside(os.path.realpath(full), os.path.join(self._root, rel))
        return full

    def _stat(self, path: PurePosixPath) -> os.stat_result | None:
        try:
            return os.stat(self._real(path))
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
        real = self._real(path)
        with open_regular(real) as f:
            try:
                st = os.fstat(f.fileno())
                if st.st_size > limit:
                    raise InputTooLarge(
                        f"{real}: {st.st_size} bytes is over the {limit}-byte limit for this file"
                    )
                data = f.read(limit + 1)
            except OSError as exc:
                raise SourceError(f"{real}: cannot read: {exc.strerror}") from exc
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
            yield PurePosixPath(rel.as_posix()), dirs, sorted(files)
