"""The Spack DAG as read from any input: nodes by DAG hash and what is known around them.

Every reader (prefix, store, environment, build cache, OCI config, Spack's own API) fills one
:class:`Graph`; :mod:`.record` turns it into records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ...errors import SourceError
from ...record import Evidence, FileDigest, Source, Status, Tool, Unknown
from ...tree import FileTree
from .specfile import Node
from .tarball import TarballRef

__all__ = [
    "Extras",
    "Graph",
    "InstallFacts",
    "SbomFacts",
    "SourceFacts",
    "component_id",
    "runtime_closure",
]

#: Sources and licenses by (name, version), as Spack's own SBOM of one install lists them.
SbomFacts = dict[tuple[str, str], tuple[tuple[Source, ...], tuple[str, ...]]]
#: Sources and licenses by DAG hash.
SourceFacts = dict[str, tuple[tuple[Source, ...], tuple[str, ...]]]


def component_id(dag_hash: str) -> str:
    """The component id of a Spack node."""
    return f"spack:{dag_hash}"


@dataclass(frozen=True, slots=True)
class Extras:
    """What a store, prefix or cache knows about a node beyond its spec."""

    prefix: str | None = None
    explicit: bool | None = None
    installed_at: str | None = None
    status: Status | None = None
    files: tuple[FileDigest, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class InstallFacts:
    """What one install's own ``.spack/`` folder says beyond its spec, wherever it was read
    (a prefix, a store, Spack's API, a build-cache tarball): Spack's SBOM (sources and licenses
    of every node of its DAG; None when there was none to read), the Spack that built it and the
    build host (``install_environment.json``), the files that back them, and what could not be
    read."""

    sbom: SbomFacts | None = None
    builder: Tool | None = None
    build_host: tuple[tuple[str, str], ...] = ()
    evidence: tuple[Evidence, ...] = ()
    unknowns: tuple[Unknown, ...] = ()


@dataclass(slots=True)
class Graph:
    """Nodes by DAG hash plus everything read around them."""

    nodes: dict[str, Node] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Extras] = field(default_factory=dict)
    unknowns: list[Unknown] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    read_from: list[str] = field(default_factory=list)
    #: The Spack named by a lockfile (the one that concretized an environment).
    builder: Tool | None = None
    build_host: dict[str, str] = field(default_factory=dict)
    #: Install facts of roots, by DAG hash (see :class:`InstallFacts`).
    installs: dict[str, InstallFacts] = field(default_factory=dict)
    #: Where installs are, by DAG hash, read for the roots chosen only (:mod:`.installs`):
    #: prefixes (tree, path) and build-cache install tarballs.
    prefixes: dict[str, tuple[FileTree, PurePosixPath]] = field(default_factory=dict)
    tarballs: dict[str, TarballRef] = field(default_factory=dict)
    #: Hashes ``--root`` may name besides the roots (any install of a store, any spec of an
    #: environment, any entry of a build cache).
    selectable: list[str] = field(default_factory=list)
    #: ELF facts of the objects a node's entry points load (path, facts, digest, component id),
    #: filled by :mod:`.closure`.
    elf: dict[str, list[tuple[str, Any, str | None, str | None]]] = field(default_factory=dict)
    #: What the ELF objects of a node need that is not in the tree (soname, needed by).
    elf_outside: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def install(self, h: str) -> InstallFacts:
        """What was read of node ``h``'s own install (nothing, when it was not read)."""
        return self.installs.get(h) or _NOTHING

    def update(self, h: str, **changes: Any) -> None:
        """Change some of what is known about node ``h``, keeping the rest."""
        self.extras[h] = dataclasses.replace(self.extras.get(h, Extras()), **changes)

    def add(self, node: Node) -> None:
        """Add a node (first one wins for a hash) and index its other hashes."""
        self.nodes.setdefault(node.hash, node)
        for other in node.other_hashes.values():
            self.aliases.setdefault(other, node.hash)

    def resolve(self, h: str) -> str | None:
        """The DAG hash a dependency reference points to (old formats use build hashes)."""
        if h in self.nodes:
            return h
        return self.aliases.get(h)

    def check_edges(self, where: str) -> None:
        """``SourceError`` naming the first dependency hash that leads nowhere."""
        for node in self.nodes.values():
            for i, edge in enumerate(node.edges):
                if self.resolve(edge.hash) is None:
                    raise SourceError(
                        f"{where}: {node.label}.dependencies[{i}].hash: no node with hash "
                        f"{edge.hash!r} ({edge.name}) in this file"
                    )

    def closure(self, roots: Iterable[str]) -> list[str]:
        """Hashes reachable from ``roots`` (all edge types), in first-visit order."""
        seen: dict[str, None] = {}
        stack = list(reversed(list(roots)))
        while stack:
            h = stack.pop()
            if h in seen:
                continue
            seen[h] = None
            node = self.nodes[h]
            for edge in reversed(node.edges):
                target = self.resolve(edge.hash)
                if target is not None and target not in seen:
                    stack.append(target)
        return list(seen)


_NOTHING = InstallFacts()


def runtime_closure(graph: Graph, roots: Iterable[str]) -> list[str]:
    """Hashes reachable from ``roots`` over link and run edges: what is loaded at run time."""
    seen: dict[str, None] = {}
    stack = list(roots)
    while stack:
        h = stack.pop()
        if h in seen:
            continue
        seen[h] = None
        for edge in graph.nodes[h].edges:
            target = graph.resolve(edge.hash)
            if target is not None and ("link" in edge.types or "run" in edge.types):
                stack.append(target)
    return list(seen)
