"""A Spack environment: ``spack.lock`` (lockfile versions 1-7, ``include_concrete`` too)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from ...errors import SourceError, UnsupportedFormat
from ...record import Tool
from ...tree import FileTree
from .files import load_json
from .graph import Graph
from .metadata import unknowns
from .specfile import node_from_dict

__all__ = ["lockfile_facts", "read_env", "read_lockfile"]

_LOCK_VERSIONS = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 5}
_NO_SOURCES = (
    "a lockfile holds specs only: Spack writes sources and licenses in each install's "
    ".spack/sbom/spdx-2.3.json"
)


def lockfile_facts(data: Mapping[str, Any], *, where: str, graph: Graph) -> None:
    """What a lockfile says, or cannot say, beyond its specs: the Spack that concretized it
    (``spack.version``, lockfile v4+), and never sources or licenses (unknowns)."""
    spack = data.get("spack")
    if isinstance(spack, Mapping) and isinstance(spack.get("version"), str):
        graph.builder = Tool(
            name="spack",
            version=spack["version"],
            commit=spack.get("commit") if isinstance(spack.get("commit"), str) else None,
        )
    else:
        graph.unknowns += unknowns(where, "$.spack.version: missing", "provenance.builder")
    graph.unknowns += unknowns(where, _NO_SOURCES, "components.sources", "components.licenses")


def read_lockfile(data: Any, *, where: str, graph: Graph) -> list[str]:
    """Add a parsed ``spack.lock`` to ``graph``; return its root hashes in order."""
    meta = data.get("_meta") if isinstance(data, Mapping) else None
    if not isinstance(meta, Mapping) or meta.get("file-type") != "spack-lockfile":
        raise SourceError(f"{where}: $._meta.file-type: not a Spack lockfile")
    raw_version = meta.get("lockfile-version")
    if type(raw_version) is not int or raw_version not in _LOCK_VERSIONS:
        raise UnsupportedFormat(
            f"{where}: $._meta.lockfile-version: {raw_version!r} is not readable "
            f"(readable: {', '.join(map(str, _LOCK_VERSIONS))})"
        )
    spec_version = meta.get("specfile-version", _LOCK_VERSIONS[raw_version])
    if type(spec_version) is not int or spec_version not in (1, 2, 3, 4, 5):
        raise UnsupportedFormat(
            f"{where}: $._meta.specfile-version: {spec_version!r} is not readable"
        )
    lockfile_facts(data, where=where, graph=graph)
    roots: list[str] = []
    sections = [("$", data)]
    included = data.get("include_concrete")
    if isinstance(included, Mapping):
        sections += [(f"$.include_concrete.{k}", v) for k, v in included.items()]
    for at, section in sections:
        if not isinstance(section, Mapping):
            raise SourceError(f"{where}: {at}: expected an object")
        specs = section.get("concrete_specs")
        if not isinstance(specs, Mapping):
            raise SourceError(f"{where}: {at}.concrete_specs: missing")
        for key, node in specs.items():
            name = None
            if spec_version == 1:
                if not isinstance(node, Mapping) or len(node) != 1:
                    raise SourceError(
                        f"{where}: {at}.concrete_specs.{key}: expected {{name: node}}"
                    )
                ((name, node),) = node.items()  # noqa: PLW2901
            if isinstance(node, Mapping) and node.get("hash") != key:
                # Lockfiles v1-v3 key specs by a hash that is not always the node's own
                # (v2-v3: the build hash); the key is what roots and dependencies refer to.
                node = {**node, "hash": key}  # noqa: PLW2901
            graph.add(
                node_from_dict(
                    node,
                    version=spec_version,
                    where=f"{where}: {at}.concrete_specs.{key}",
                    name=name,
                )
            )
        section_roots = section.get("roots") or []
        if not isinstance(section_roots, list):
            raise SourceError(f"{where}: {at}.roots: expected a list")
        for i, root in enumerate(section_roots):
            h = root.get("hash") if isinstance(root, Mapping) else None
            target = graph.resolve(h) if isinstance(h, str) else None
            if target is None:
                raise SourceError(
                    f"{where}: {at}.roots[{i}].hash: no concrete spec with hash {h!r}"
                )
            if target not in roots:
                roots.append(target)
            group = root.get("group")
            if isinstance(group, str):
                graph.update(target, properties=(("spack.group", group),))
    graph.read_from.append(where)
    graph.check_edges(where)
    graph.selectable += [h for h in graph.nodes if not graph.nodes[h].external]
    return roots


def read_env(tree: FileTree, env: PurePosixPath, graph: Graph) -> list[str]:
    lock = env / "spack.lock"
    if not tree.is_file(lock):
        raise SourceError(
            f"{tree.describe(env)}: an environment without spack.lock (run spack concretize)"
        )
    return read_lockfile(load_json(tree, lock), where=tree.describe(lock), graph=graph)
