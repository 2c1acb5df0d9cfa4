"""The Spack source: install prefixes, stores, environments, build caches, OCI configs.

Reads Spack's on-disk formats as data, without Spack (see ``docs/sources/spack.md``):

- a prefix's ``.spack/spec.json`` (specfile v2-v5) or ``spec.yaml`` (v1), its
  ``install_manifest.json`` (file digests) and Spack's own ``.spack/sbom/spdx-2.3.json``
  (sources and licenses, kept as evidence; the spec decides everything else);
- a store's ``.spack-db/index.json`` (DB versions 5-8), which says installed / explicit /
  external and where each prefix is;
- an environment's ``spack.lock`` (lockfile versions 1-7);
- build caches (flat ``build_cache/`` layouts v0-v2, the v3 manifest layout, ``index.json``),
  see :mod:`.buildcache`; an OCI build-cache image config (its ``spec`` key).

``package.py`` files archived in ``.spack/repos`` are code and are never read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ...errors import SourceError
from ...record import Record
from ...tree import DirectoryTree, FileTree
from .._common import ExtractOptions
from . import api, buildcache
from .closure import ClosureScanner
from .db import find_store, read_db, scan_environment, store_scanner
from .graph import Graph
from .installs import read_installs
from .lockfile import read_env
from .prefix import read_prefix, scan_installed
from .record import build_records
from .roots import choose_roots
from .specfile import parse_specfile
from .tarball import TarballRef

__all__ = [
    "detect",
    "extract_all",
    "extract_tree",
    "find",
    "record_from_specfile_data",
    "records_from_buildcache_index",
]


def _classify(tree: FileTree, top: PurePosixPath) -> str | None:
    if tree.is_file(top / ".spack-db" / "index.json"):
        return "store"
    if tree.is_file(top / ".spack" / "spec.json") or tree.is_file(top / ".spack" / "spec.yaml"):
        return "prefix"
    if tree.is_file(top / "spack.lock") or tree.is_file(top / "spack.yaml"):
        return "environment"
    if buildcache.is_buildcache(tree, top):
        return "buildcache"
    return None


def find(tree: FileTree) -> list[tuple[str, PurePosixPath]]:
    """Every Spack store, stand-alone prefix and environment in ``tree`` (kind, path)."""
    found: list[tuple[str, PurePosixPath]] = []
    for dirpath, dirs, files in tree.walk(PurePosixPath(".")):
        if ".spack-db" in dirs:
            found.append(("store", dirpath))
            dirs.clear()
        elif ".spack" in dirs and (tree.is_file(dirpath / ".spack" / "spec.json")):
            found.append(("prefix", dirpath))
            dirs.clear()
        elif "spack.lock" in files:
            found.append(("environment", dirpath))
            dirs[:] = [d for d in dirs if d != ".spack-env"]
    return found


def detect(target: str | os.PathLike[str]) -> bool:
    """True if ``target`` is a Spack prefix, store, environment, build cache or spec file."""
    path = Path(target)
    if path.is_file():
        return buildcache.file_kind(path) is not None
    if path.is_dir():
        try:
            tree = DirectoryTree(path)
        except SourceError:
            return False
        return _classify(tree, PurePosixPath(".")) is not None
    return False


def _classify_dir(path: Path) -> str | None:
    try:
        return _classify(DirectoryTree(path), PurePosixPath("."))
    except SourceError:
        return None


def _read_into(
    tree: FileTree, kind: str, top: PurePosixPath, graph: Graph, options: ExtractOptions
) -> list[str]:
    if kind == "store":
        return read_db(tree, top, graph, options)
    if kind == "prefix":
        return [read_prefix(tree, top, graph, options)]
    if kind == "environment":
        return read_env(tree, top, graph)
    return buildcache.read_buildcache(tree, top, graph, options)


_SUBJECTS: Mapping[str, tuple[Any, Any, Any]] = {
    "store": ("spack-store", "spack-prefix", "installed"),
    "prefix": ("spack-prefix", "spack-prefix", "installed"),
    "environment": ("spack-environment", "spack-environment", "declared"),
    "buildcache": ("spack-buildcache", "spack-buildcache", "cached"),
    "specfile": ("spack-specfile", "spack-specfile", "declared"),
}


def extract_all(target: str | os.PathLike[str], options: ExtractOptions) -> list[Record]:
    """One record per root at ``target`` (or one combined record with ``options.combined``)."""
    path = Path(target)
    if path.is_dir() and api.available() and _classify_dir(path) in ("store", "environment"):
        return api.extract_all(path, options)
    graph = Graph()
    if path.is_file():
        kind, roots = buildcache.read_file(path, graph, options)
        tree_name = str(path.resolve())
    else:
        tree = DirectoryTree(path)
        top = PurePosixPath(".")
        classified = _classify(tree, top)
        if classified is None:
            record = extract_tree(tree, options)
            if record is None:
                raise SourceError(
                    f"{tree.name}: no Spack prefix, store, environment or cache found"
                )
            return [record]
        kind = classified
        tree_name = tree.name
        in_store = find_store(str(path)) if kind in ("prefix", "environment") else None
        if in_store is not None:
            roots = _read_in_store(in_store, kind, graph, options)
        else:
            roots = _read_into(tree, kind, top, graph, options)
    return _records(graph, kind, roots, tree_name, options)


def _records(
    graph: Graph, kind: str, roots: list[str], name: str, options: ExtractOptions
) -> list[Record]:
    roots = choose_roots(graph, roots, options, identity=name)
    read_installs(graph, roots, options)  # what each root's own install says
    options = replace(options, roots=())
    subject_kind, per_root, status = _SUBJECTS[kind]
    return build_records(
        graph,
        roots,
        subject_kind=subject_kind,
        per_root_kind=per_root,
        combined_name=name,
        status=status,
        options=options,
        identity=name,
    )


def records_from_buildcache_index(
    data: Any, *, where: str, options: ExtractOptions
) -> list[Record]:
    """Records of a parsed build-cache index (a DB: a flat cache's ``index.json``, the layer of
    an OCI build cache's ``index.spack`` image): one per root of the cache, the specs nothing in
    it depends on (``--root`` may name any entry)."""
    graph = Graph()
    roots = buildcache.read_index(data, where=where, graph=graph)
    return _records(graph, "buildcache", roots, where, options)


def _read_in_store(
    in_store: tuple[str, str], kind: str, graph: Graph, options: ExtractOptions
) -> list[str]:
    """A prefix of a store, or an environment of a Spack instance, read with the store around
    it, so that its libraries in other prefixes resolve as the loader finds them."""
    root, rel = in_store
    tree = DirectoryTree(root)
    top = PurePosixPath(rel)
    if kind == "prefix":
        scanner, _ = store_scanner(tree, PurePosixPath("."))
        return [read_prefix(tree, top, graph, options, scanner)]
    roots = read_env(tree, top, graph)
    scan_environment(tree, PurePosixPath("opt/spack"), graph, options)
    return roots


def extract_tree(
    tree: FileTree, options: ExtractOptions, *, scanner: ClosureScanner | None = None
) -> Record | None:
    """One combined record of every Spack install and environment in ``tree``; None if none.
    ``scanner``: the resolver of the whole tree (an image's), shared by every prefix found."""
    graph = Graph()
    roots: list[str] = []
    for kind, top in find(tree):
        if kind == "prefix":
            found = [read_prefix(tree, top, graph, options, scanner)]
        else:
            found = _read_into(tree, kind, top, graph, options)
        for h in found:
            if h not in roots:
                roots.append(h)
    if not roots:
        return None
    read_installs(graph, roots, options)
    (record,) = build_records(
        graph,
        roots,
        subject_kind="spack-store",
        combined_name=tree.name,
        status="installed",
        options=replace(options, combined=True, roots=()),
        identity=tree.name,
    )
    return record


def record_from_specfile_data(
    data: Mapping[str, Any],
    *,
    where: str,
    options: ExtractOptions,
    layers: Sequence[tuple[str, int, Callable[[], BinaryIO]]] = (),
    installed: tuple[FileTree, ClosureScanner] | None = None,
) -> Record:
    """A record from a parsed spec document: spec.json, a build-cache spec, an OCI config.

    For an OCI build-cache image, ``layers`` are its layers (digest, size, opener): the one
    whose digest the config's ``binary_cache_checksum`` names is the root's install tarball,
    read for its ``.spack/`` metadata (Spack's SBOM, the Spack that built it). ``installed``:
    the tree its layers merge into (every prefix at its build-time path) and its resolver, for
    the ELF facts of what the root loads."""
    graph = Graph()
    _, nodes = parse_specfile(data, where=where)
    for node in nodes:
        graph.add(node)
    graph.check_edges(where)
    graph.read_from.append(where)
    if installed is not None:
        scan_installed(installed[0], graph, installed[1])
    kind = "buildcache" if "rootfs" in data or "buildcache_layout_version" in data else "specfile"
    if kind == "buildcache":
        root = nodes[0].hash
        digest = _tarball_digest(data)
        for layer_digest, size, opener in layers:
            if layer_digest == digest:
                where_layer = f"{where.partition(': ')[0]}: layer {layer_digest}"
                graph.tarballs[root] = TarballRef(where_layer, layer_digest, size, opener)
        read_installs(graph, [root], options)
    subject_kind, _, status = _SUBJECTS[kind]
    (record,) = build_records(
        graph,
        [nodes[0].hash],
        subject_kind=subject_kind,
        combined_name=where,
        status=status,
        options=options,
        identity=where,
    )
    return record


def _tarball_digest(data: Mapping[str, Any]) -> str | None:
    """The digest of the root's install tarball, as a build-cache spec or OCI config gives it."""
    checksum = data.get("binary_cache_checksum")
    if not isinstance(checksum, Mapping) or not isinstance(checksum.get("hash"), str):
        return None
    return f"{checksum.get('hash_algorithm', 'sha256')}:{checksum['hash']}"
