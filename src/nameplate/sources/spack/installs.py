"""What each root's own install says beyond its spec, read once, for the roots a record is
made for only: from its prefix (a prefix, a store, the prefix Spack's API names) or from its
install tarball (a v3 or OCI build cache), by :func:`.metadata.read_install` either way.

Readers note where an install is (``graph.prefixes``, ``graph.tarballs``) and read nothing
more; a store of thousands of installs described by one root reads that root's ``.spack/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from ...errors import RegistryError, SourceError
from .._common import ExtractOptions
from .graph import Graph, InstallFacts
from .metadata import read_install, unknowns
from .prefix import manifest_files
from .tarball import metadata_tree

__all__ = ["read_installs"]

_FIELDS = ("components.sources", "components.licenses", "provenance.builder")
_NO_TARBALL = (
    "no install tarball for it in what was read (a build-cache index or a flat-layout spec "
    "file holds the spec only)"
)


def read_installs(graph: Graph, roots: Sequence[str], options: ExtractOptions) -> None:
    """The install facts of each of ``roots`` not read yet (and, from a tarball with
    ``include_files``, the root's file digests); unknowns where a build-cache entry has no
    tarball, or it is missing, unreadable or does not match its digest."""
    for h in roots:
        if h in graph.installs:
            continue
        if h in graph.prefixes:
            tree, prefix = graph.prefixes[h]
            read_install(tree, prefix, graph, h)
            continue
        ref = graph.tarballs.get(h)
        if ref is None:
            if graph.extras.get(h) is not None and graph.extras[h].status == "cached":
                missing = unknowns(graph.nodes[h].label, _NO_TARBALL, *_FIELDS)
                graph.installs[h] = InstallFacts(unknowns=tuple(missing))
            continue
        try:
            tree = metadata_tree(ref)
        except (SourceError, RegistryError) as exc:  # a registry's blob: missing, or not it
            reason = "install tarball not read: " + str(exc).removeprefix(f"{ref.where}: ")
            graph.installs[h] = InstallFacts(unknowns=tuple(unknowns(ref.where, reason, *_FIELDS)))
            continue
        top = PurePosixPath(".")
        read_install(tree, top, graph, h)
        if options.include_files:
            graph.update(h, files=manifest_files(tree, top, None, graph))
