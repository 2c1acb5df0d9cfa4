"""The Spack DAG as read from any input: nodes by DAG hash and what is known around them.

Every reader (prefix, store, environment, build cache, OCI config, Spack's own API) fills one
:class:`Graph`; :mod:`.record` turns it into records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceError
from ...record import Evidence, FileDigest, Source, Status, Tool, Unknown
from .specfile import Node

__all__ = ["Extras", "Graph", "runtime_closure"]


@dataclass(frozen=True, slots=True)
class Extras:
    """What a store, prefix or cache knows about a node beyond its spec."""

    prefix: str | None = None
    explicit: bool | None = None
    installed_at: str | None = None
    status: Status | None = None
    files: tuple[FileDigest, ...] = ()
    sources: tuple[Source, ...] = ()
    licenses: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Graph:
    """Nodes by DAG hash plus everything read around them."""

    nodes: dict[str, Node] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Extras] = field(default_factory=dict)
    unknowns: list[Unknown] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    read_from: list[str] = field(default_factory=list)
    builder: Tool | None = None
    build_host: dict[str, str] = field(default_factory=dict)
    #: ELF facts of the objects a node's entry points load (path, facts, digest, component id),
    #: filled by :mod:`.closure`.
    elf: dict[str, list[tuple[str, Any, str | None, str | None]]] = field(default_factory=dict)
    #: What the ELF objects of a node need that is not in the tree (soname, needed by).
    elf_outside: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

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
