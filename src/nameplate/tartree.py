"""Tarballs read once, as a stream, into a read-only in-memory :class:`~nameplate.tree.FileTree`.

Spack's build-cache tarballs (a file build cache's blobs) hold whole install prefixes under
their build-time paths. :class:`TarTree` streams each one once (gzip or plain, with
:mod:`tarfile`'s stream mode: nothing is extracted, nothing is run) and keeps:

- small files (metadata, at most ``keep`` bytes each, within a total budget) in memory;
- for each ELF file, only its facts, parsed on the way (:func:`nameplate.elf.parse_elf`) into an
  :class:`~nameplate.elf.resolver.ObjectCache` a resolver reads;
- links, as links: resolved inside the tree (an absolute target starts at the tree's root), a
  chain longer than 40 or one that climbs above the root is refused.

Bounds: decompressed bytes, members and the size of one ELF file; a member whose name climbs
above the root is :class:`~nameplate.errors.UnsafeInput`. Device files, FIFOs and the like are
skipped.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from .elf import ELF_MAGIC, parse_elf
from .elf.objects import ObjectCache
from .errors import InputTooLarge, SourceError, UnsafeInput
from .tree import DEFAULT_LIMIT, member_path

__all__ = ["TarTree"]

_MAX_HOPS = 40
_ROOT = PurePosixPath(".")


class TarTree:
    """Members of one or more tarballs, merged; see the module docstring."""

    def __init__(
        self,
        name: str,
        *,
        max_bytes: int = 8 * 1024**3,
        max_members: int = 500_000,
        keep: int = 4 * 1024 * 1024,
        keep_total: int = 256 * 1024 * 1024,
        elf_limit: int = 512 * 1024 * 1024,
    ) -> None:
        self._name = name
        self.files: dict[str, bytes | None] = {}
        self.sizes: dict[str, int] = {}
        self.links: dict[str, str] = {}
        self.dirs: set[str] = {""}
        self.children: dict[str, set[str]] = {"": set()}
        self.cache = ObjectCache(self, known_only=True)
        self.max_bytes, self.max_members = max_bytes, max_members
        self.keep, self.keep_total, self.elf_limit = keep, keep_total, elf_limit
        self._read = 0
        self._kept = 0
        self._members = 0

    # -- reading ---------------------------------------------------------------------------------

    def add(self, stream: BinaryIO, where: str) -> None:
        """Read one tarball (gzip-compressed or plain) from ``stream``."""
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                for member in tar:
                    self._member(tar, member, where)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise SourceError(f"{where}: not a readable tarball: {exc}") from exc

    def _member(self, tar: tarfile.TarFile, m: tarfile.TarInfo, where: str) -> None:
        self._members += 1
        if self._members > self.max_members:
            raise InputTooLarge(f"{where}: more than {self.max_members} members")
        path = member_path(m.name, where)
        if not path:
            return
        self._parents(path)
        parent, _, base = path.rpartition("/")
        self.children.setdefault(parent, set()).add(base)
        if m.isdir():
            self.dirs.add(path)
            self.children.setdefault(path, set())
        elif m.issym():
            self.links[path] = m.linkname
        elif m.islnk():
            target = member_path(m.linkname, where)
            self.files[path] = self.files.get(target)
            self.sizes[path] = self.sizes.get(target, 0)
            facts = self.cache.facts.get(target)
            if facts is not None:
                self.cache.put(path, facts, self.cache.digests.get(target))
        elif m.isreg():
            self._read += m.size
            if self._read > self.max_bytes:
                raise InputTooLarge(f"{where}: more than {self.max_bytes} bytes decompressed")
            f = tar.extractfile(m)
            head = f.read(4) if f is not None else b""
            self.sizes[path] = m.size
            self.files[path] = None
            if head == ELF_MAGIC and m.size <= self.elf_limit and f is not None:
                data = head + f.read(m.size - 4)
                try:
                    facts = parse_elf(data, where=f"{where}:/{path}")
                except SourceError as exc:
                    self.cache.errors[path] = str(exc)
                else:
                    digest = "sha256:" + hashlib.sha256(data).hexdigest()
                    self.cache.put(path, facts, digest)
            elif m.size <= self.keep and self._kept + m.size <= self.keep_total and f is not None:
                self.files[path] = head + f.read(m.size - 4 if m.size >= 4 else 0)
                self._kept += m.size

    def _parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent and parent not in self.dirs:
            self.dirs.add(parent)
            up, _, base = parent.rpartition("/")
            self.children.setdefault(up, set()).add(base)
            self.children.setdefault(parent, set())
            parent = up

    # -- links -----------------------------------------------------------------------------------

    def _resolve(self, path: str) -> str | None:
        pending = [p for p in path.split("/") if p not in ("", ".")][::-1]
        parts: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if not parts:
                    raise UnsafeInput(f"{self._name}: {path}: a link climbs above the root")
                parts.pop()
                continue
            candidate = "/".join([*parts, part])
            if candidate in self.links:
                hops += 1
                if hops > _MAX_HOPS:
                    raise SourceError(f"{self._name}: {path}: too many links (a loop?)")
                link = self.links[candidate]
                if link.startswith("/"):
                    parts = []
                pending.extend(p for p in reversed(link.split("/")) if p not in ("", "."))
                continue
            if candidate not in self.files and candidate not in self.dirs:
                return None
            if pending and candidate not in self.dirs:
                return None
            parts.append(part)
        return "/".join(parts)

    def realpath(self, path: PurePosixPath | str) -> str:
        """``path`` with links resolved inside the tree."""
        real = self._resolve(str(path))
        if real is None:
            raise SourceError(f"{self.describe(PurePosixPath(str(path)))}: no such file")
        return real or "."

    # -- FileTree --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    def describe(self, path: PurePosixPath) -> str:
        text = str(path)
        return f"{self._name}:/{'' if text == '.' else text}"

    def _lookup(self, path: PurePosixPath) -> str | None:
        try:
            return self._resolve(str(path))
        except SourceError:
            return None

    def is_file(self, path: PurePosixPath) -> bool:
        real = self._lookup(path)
        return real is not None and real in self.files

    def is_dir(self, path: PurePosixPath) -> bool:
        real = self._lookup(path)
        return real is not None and real in self.dirs

    def listdir(self, path: PurePosixPath) -> list[str]:
        real = self._lookup(path)
        if real is None or real not in self.dirs:
            raise SourceError(f"{self.describe(path)}: not a directory")
        return sorted(self.children.get(real, ()))

    def size(self, path: PurePosixPath) -> int:
        real = self._lookup(path)
        if real is None or real not in self.files:
            raise SourceError(f"{self.describe(path)}: no such file")
        return self.sizes.get(real, 0)

    def read_bytes(self, path: PurePosixPath, *, limit: int = DEFAULT_LIMIT) -> bytes:
        real = self._lookup(path)
        if real is None or real not in self.files:
            raise SourceError(f"{self.describe(path)}: no such file")
        data = self.files[real]
        if data is None:
            raise SourceError(f"{self.describe(path)}: not kept in memory (read as it streamed)")
        if len(data) > limit:
            raise InputTooLarge(f"{self.describe(path)}: over the {limit}-byte limit")
        return data

    def walk(
        self, top: PurePosixPath = _ROOT
    ) -> Iterator[tuple[PurePosixPath, list[str], list[str]]]:
        start = self._lookup(top)
        if start is None or start not in self.dirs:
            return
        stack = [start]
        while stack:
            current = stack.pop()
            names = self.listdir(PurePosixPath(current or "."))
            base = f"{current}/" if current else ""
            dirs = [n for n in names if base + n in self.dirs and base + n not in self.links]
            files = [n for n in names if n not in dirs]
            yield PurePosixPath(current or "."), dirs, files
            stack.extend(base + d for d in reversed(dirs))
