"""The ELF objects of a tree, each read once, and the entry points of an install prefix.

:class:`ObjectCache` holds the facts (:func:`.parse.parse_elf`) of every file a resolver looks
at, by tree path: a tree on disk is read by seeking to the headers and hashing in chunks, never
whole; a tree that streamed its files (image layers, build-cache tarballs) puts the facts in as
it reads. :func:`prefix_entry_points` names the programs and shared libraries an install prefix
provides: where a root's runtime closures start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from ..errors import SourceError
from ..tree import DirectoryTree, FileTree
from .parse import ELF_MAGIC, ElfFacts, parse_elf

__all__ = ["ELF_DIRS", "ELF_LIMIT", "ObjectCache", "prefix_entry_points"]

#: Largest ELF file read whole (the loader maps bigger ones, but a record needs no more).
ELF_LIMIT = 512 * 1024 * 1024


@dataclass(slots=True)
class ObjectCache:
    """ELF facts by tree path, each file read and parsed once (None: not an ELF file, or
    unreadable; ``errors`` says why)."""

    tree: FileTree
    limit: int = ELF_LIMIT
    #: Only the files put in beforehand are ELF objects (an image's layers, read once).
    known_only: bool = False
    facts: dict[str, ElfFacts | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)

    def get(self, tree_path: str) -> ElfFacts | None:
        """The facts of the file at ``tree_path`` (cached)."""
        if tree_path in self.facts:
            return self.facts[tree_path]
        if self.known_only:
            return None
        out: ElfFacts | None = None
        path = PurePosixPath(tree_path)
        if isinstance(self.tree, DirectoryTree):  # seek to the headers; hash in chunks
            out = self._from_stream(self.tree.open, tree_path)
            self.facts[tree_path] = out
            return out
        try:
            data = self.tree.read_bytes(path, limit=self.limit)
        except SourceError as exc:
            self.errors[tree_path] = str(exc)
        else:
            if data[:4] == ELF_MAGIC:
                try:
                    out = parse_elf(data, where=self.tree.describe(path))
                except SourceError as exc:
                    self.errors[tree_path] = str(exc)
                else:
                    self.digests[tree_path] = "sha256:" + hashlib.sha256(data).hexdigest()
        self.facts[tree_path] = out
        return out

    def _from_stream(
        self, opener: Callable[[PurePosixPath], BinaryIO], tree_path: str
    ) -> ElfFacts | None:
        where = self.tree.describe(PurePosixPath(tree_path))
        try:
            with opener(PurePosixPath(tree_path)) as f:
                if f.read(4) != ELF_MAGIC:
                    return None
                facts = parse_elf(f, where=where)
                f.seek(0)
                h = hashlib.sha256()
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except SourceError as exc:
            self.errors[tree_path] = str(exc)
            return None
        except OSError as exc:
            self.errors[tree_path] = f"{where}: cannot read: {exc.strerror}"
            return None
        self.digests[tree_path] = "sha256:" + h.hexdigest()
        return facts

    def put(self, tree_path: str, facts: ElfFacts | None, digest: str | None = None) -> None:
        """Record facts read elsewhere (while streaming a tarball)."""
        self.facts[tree_path] = facts
        if digest:
            self.digests[tree_path] = digest


#: Folders of an install prefix whose files may be programs or shared libraries.
ELF_DIRS = frozenset({"bin", "sbin", "libexec", "lib", "lib64"})


def _candidate(rel: str, size: int | None) -> bool:
    top, _, rest = rel.partition("/")
    if top not in ELF_DIRS or not rest or (size is not None and size < 64):
        return False
    return top in ("bin", "sbin", "libexec") or ".so" in rel.rsplit("/", 1)[-1]


def prefix_entry_points(
    tree: FileTree, prefix: PurePosixPath, listed: Iterable[tuple[str, int]] | None = None
) -> list[str]:
    """Tree paths of an install prefix's entry points: the files of its ``bin/``, ``sbin/``,
    ``libexec/`` and the shared libraries of its ``lib/``, ``lib64/``. ``listed``: (path in the
    prefix, size) from a manifest (empty files are skipped: a ``--fake`` install has only
    those); without it, the folders are walked."""
    base = "" if str(prefix) == "." else str(prefix) + "/"
    if listed is not None:
        return [base + rel for rel, size in listed if _candidate(rel, size)]
    out: list[str] = []
    for top in sorted(ELF_DIRS):
        start = prefix / top
        if not tree.is_dir(start):
            continue
        for dirpath, _dirs, names in tree.walk(start):
            for name in names:
                path = dirpath / name
                rel = str(path)[len(base) :] if base else str(path)
                if _candidate(rel, None) and tree.is_file(path):
                    out.append(str(path))
    return sorted(out)
