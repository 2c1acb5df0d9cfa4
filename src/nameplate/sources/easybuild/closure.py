"""The runtime closures of EasyBuild installs: what each install's programs and libraries load.

One :class:`~nameplate.elf.resolver.Resolver` per tree: each install's recorded install dir
(the build log's ``Software install dir set to``) is mounted on its folder, so RPATHs written at
build time (EasyBuild's ``--rpath``) resolve in the tree. An install runs under ``module load``:
its ``LD_LIBRARY_PATH`` is the ``lib/`` and ``lib64/`` of the install and of every install it
depends on (what EasyBuild's module files prepend), the install's own first. Items are
attributed to the install whose folder holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from ...elf.objects import prefix_entry_points
from ...elf.resolver import Resolver
from ...elf.rollup import host_provided
from ...errors import SourceError
from ...record import Unknown
from ...tree import FileTree
from .record import InstallFacts

__all__ = ["with_closures"]

_ENTRIES = 2048


def _dep_closure(installs: Sequence[InstallFacts], root: InstallFacts) -> list[InstallFacts]:
    by_id = {f.id: f for f in installs}
    by_nv = {(f.name, f.version): f for f in installs}
    seen: dict[str, InstallFacts] = {}
    todo = [root]
    while todo:
        f = todo.pop(0)
        if f.id in seen:
            continue
        seen[f.id] = f
        todo += [
            d
            for d in [by_id.get(x.resolved_id or "") for x in f.deps] + [by_nv.get(f.toolchain)]
            if d is not None
        ]
    return list(seen.values())


def with_closures(tree: FileTree, installs: list[InstallFacts]) -> list[InstallFacts]:
    """``installs`` with ``elf`` set: the ELF objects each install's entry points load."""
    placed = [f for f in installs if f.tree_dir is not None]
    if not placed:
        return installs
    mounts = [(tree.describe(PurePosixPath(".")), ".")]
    mounts += [(f.installdir, f.tree_dir) for f in placed if f.installdir and f.tree_dir]
    resolver = Resolver(tree, mounts=mounts)
    owners = {str(f.tree_dir).strip("/"): f.id for f in placed}

    def owner(tree_path: str) -> str | None:
        parts = tree_path.split("/")
        for i in range(len(parts) - 1, 0, -1):
            hit = owners.get("/".join(parts[:i]))
            if hit is not None:
                return hit
        return None

    out = []
    for f in installs:
        if f.tree_dir is None:
            out.append(f)
            continue
        env = [
            f"{d.installdir}/{sub}"
            for d in _dep_closure(installs, f)
            if d.installdir
            for sub in ("lib", "lib64")
        ]
        entries = prefix_entry_points(tree, PurePosixPath(f.tree_dir))[:_ENTRIES]
        loaded: dict[str, None] = {}
        unknowns: list[Unknown] = []
        for entry in entries:
            try:
                closure = resolver.closure(entry, library_path=env)
            except SourceError as exc:
                unknowns.append(
                    Unknown(path=tree.describe(PurePosixPath(entry)), field="elf", reason=str(exc))
                )
                continue
            if closure is None:
                continue
            loaded[closure.entry_tree_path] = None
            for link in closure.links:
                if link.tree_path is not None:
                    loaded[resolver.canon(link.tree_path)] = None
                elif not host_provided(link.name):
                    unknowns.append(
                        Unknown(
                            path=link.needed_by,
                            field="elf.closure",
                            reason=f"needs {link.name}: not found in {tree.name} under module "
                            "load (searched as ld.so does); the host must provide it",
                        )
                    )
        items = tuple(
            (resolver.to_virtual(tp), facts, resolver.cache.digests.get(tp), owner(tp))
            for tp in loaded
            if (facts := resolver.cache.facts.get(tp)) is not None
        )
        out.append(replace(f, elf=items, unknowns=f.unknowns + tuple(dict.fromkeys(unknowns))))
    return out
