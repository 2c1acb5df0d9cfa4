"""The runtime closures of Spack installs: which ELF objects each node's entry points load.

Every Spack input that holds installed files (a store, a prefix inside or outside a store, the
prefixes found in image layers or build-cache tarballs) places each prefix in one
:class:`~nameplate.elf.resolver.Resolver`: the prefix's recorded path (the DB's ``path``, the
install manifest's keys, the tarball's member paths) is mounted on its folder in the tree, so
the ``DT_RPATH``/``DT_RUNPATH`` entries written at build time resolve inside the tree wherever
it is read. A node's entry points are the executables in its ``bin/``, ``sbin/``, ``libexec/``
and the shared libraries in its ``lib/``, ``lib64/``; its ELF items are those objects and every
object their closures load, each attributed to the prefix that holds it. Nothing here depends
on the DAG: the same files give the same items whichever way they were reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from ...elf.objects import ObjectCache, prefix_entry_points
from ...elf.resolver import Resolver
from ...elf.rollup import host_provided
from ...errors import SourceError
from ...record import FileDigest, Unknown
from ...tree import FileTree
from .graph import Graph

__all__ = ["ClosureScanner", "entry_points", "recorded_prefix"]


def entry_points(
    tree: FileTree, prefix: PurePosixPath, files: Iterable[FileDigest] | None
) -> list[str]:
    """A prefix's entry points: from its install manifest (``files``) when there is one, else
    from a walk (:func:`nameplate.elf.resolver.prefix_entry_points`)."""
    return prefix_entry_points(
        tree, prefix, None if files is None else [(f.path, f.size or 0) for f in files]
    )


_ENTRIES_PER_PREFIX = 2048
_HASHED = re.compile(r"^.+-([a-z2-7]{32})$")


class ClosureScanner:
    """One resolver over one tree, with the prefixes it holds and who owns each."""

    def __init__(
        self,
        tree: FileTree,
        *,
        mounts: Iterable[tuple[str, str]] = (),
        rooted: bool = False,
        cache: ObjectCache | None = None,
    ) -> None:
        self.tree = tree
        self.owners: dict[str, str] = {}
        pairs = list(mounts)
        if not rooted:  # the tree itself, where it is on disk
            pairs.append((tree.describe(PurePosixPath(".")), "."))
        self.resolver = Resolver(tree, mounts=pairs, rooted=rooted, cache=cache)

    def own(self, prefix: PurePosixPath, component: str) -> None:
        """Files under ``prefix`` (a tree path) belong to ``component``."""
        self.owners[str(prefix).strip("/")] = component

    def owner(self, tree_path: str) -> str | None:
        """The component whose prefix holds ``tree_path``."""
        parts = tree_path.split("/")
        for i in range(len(parts) - 1, 0, -1):
            hit = self.owners.get("/".join(parts[:i]))
            if hit is not None:
                return hit
        for part in reversed(parts[:-1]):  # Spack's default projection ends with the DAG hash
            m = _HASHED.match(part)
            if m:
                return f"spack:{m.group(1)}"
        return None

    def scan(
        self,
        prefix: PurePosixPath,
        files: Iterable[FileDigest] | None,
        component: str,
        graph: Graph,
    ) -> None:
        """Resolve the closures of a prefix's entry points into ``graph.elf[hash]``."""
        self.own(prefix, component)
        entries = entry_points(self.tree, prefix, files)
        if len(entries) > _ENTRIES_PER_PREFIX:
            graph.unknowns.append(
                Unknown(
                    path=self.tree.describe(prefix),
                    field="elf",
                    reason=f"{len(entries)} candidate files; read the first {_ENTRIES_PER_PREFIX}",
                )
            )
            entries = entries[:_ENTRIES_PER_PREFIX]
        loaded: dict[str, None] = {}
        outside: dict[tuple[str, str], None] = {}
        res = self.resolver
        for entry in entries:
            path = PurePosixPath(entry)
            try:
                if not self.tree.is_file(path):
                    graph.unknowns.append(
                        Unknown(
                            path=self.tree.describe(path),
                            field="elf",
                            reason="listed by the install manifest, not in the tree",
                        )
                    )
                    continue
                closure = res.closure(entry)
            except SourceError as exc:
                graph.unknowns.append(
                    Unknown(path=self.tree.describe(path), field="elf", reason=str(exc))
                )
                continue
            if closure is None:
                error = res.cache.errors.get(entry)
                if error:
                    graph.unknowns.append(
                        Unknown(path=self.tree.describe(path), field="elf", reason=error)
                    )
                continue
            loaded[closure.entry_tree_path] = None
            for link in closure.links:
                if link.tree_path is not None:
                    loaded[res.canon(link.tree_path)] = None
                else:
                    outside[(link.name, link.needed_by)] = None
        for name, needed_by in outside:
            if host_provided(name):
                continue
            graph.unknowns.append(
                Unknown(
                    path=needed_by,
                    field="elf.closure",
                    reason=f"needs {name}: not found in {self.tree.name} "
                    "(searched as ld.so does); the host must provide it",
                )
            )
        items = []
        for tp in loaded:
            facts = res.cache.facts.get(tp)
            if facts is None:
                continue
            items.append((res.to_virtual(tp), facts, res.cache.digests.get(tp), self.owner(tp)))
        graph.elf[component.removeprefix("spack:")] = items
        graph.elf_outside[component.removeprefix("spack:")] = list(outside)


def recorded_prefix(manifest: Mapping[str, object] | None) -> str | None:  # keys are str
    """The install prefix an ``install_manifest.json`` was written for (its shortest key)."""
    if not manifest:
        return None
    keys = [k for k in manifest if k.startswith("/")]
    return min(keys, key=len).rstrip("/") if keys else None
