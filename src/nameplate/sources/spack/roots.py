"""Which roots a record is made for: ``--root`` queries (``name``, ``name@version``, ``/hash``)."""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import SourceError
from .._common import ExtractOptions
from .graph import Graph
from .specfile import Node

__all__ = ["choose_roots", "match_root"]


def match_root(node: Node, query: str) -> bool:
    """Does ``query`` (``name``, ``name@version``, ``/hash``, ``name/hash``) name ``node``?"""
    name, _, hash_part = query.partition("/")
    if hash_part and not node.hash.startswith(hash_part):
        return False
    if not name:
        return bool(hash_part)
    pkg, _, version = name.partition("@")
    if pkg and pkg != node.name:
        return False
    return not version or node.version == version or node.version.startswith(version + ".")


def choose_roots(
    graph: Graph, roots: Sequence[str], options: ExtractOptions, *, identity: str
) -> list[str]:
    """The roots ``options.roots`` names (all of them without ``--root``); a query may also
    name a hash of ``graph.selectable`` (any install of a store, any spec of an environment,
    any entry of a build cache). ``SourceError`` when nothing matches or there is no root."""
    if options.roots:
        candidates = list(dict.fromkeys([*roots, *graph.selectable]))
        chosen = [
            h for h in candidates if any(match_root(graph.nodes[h], q) for q in options.roots)
        ]
        if not chosen:
            raise SourceError(
                f"{identity}: no root matches {', '.join(options.roots)} "
                f"(roots: {', '.join(graph.nodes[h].label for h in roots)})"
            )
        roots = chosen
    if not roots:
        raise SourceError(f"{identity}: no root specs found")
    return list(roots)
