"""One Spack install prefix: its spec, install manifest, ELF files (and, through
:mod:`.metadata`, Spack's own SBOM and install_environment.json)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from ...errors import SourceError, UnsafeInput
from ...record import FileDigest, Hash, Unknown
from ...tree import FileTree
from .._common import ExtractOptions
from .closure import ClosureScanner, recorded_prefix
from .files import load_json, specfile
from .graph import Graph
from .metadata import read_install
from .specfile import parse_specfile

__all__ = ["manifest_files", "read_prefix", "scan_elf", "scan_installed"]


def manifest_files(
    tree: FileTree, prefix: PurePosixPath, recorded_prefix: str | None, graph: Graph
) -> tuple[FileDigest, ...]:
    path = prefix / ".spack" / "install_manifest.json"
    try:
        data = load_json(tree, path)
    except SourceError as exc:
        if tree.is_file(path):
            raise
        # absent, or unsafe (a FIFO is never opened, a link out is never followed): unknown
        reason = str(exc) if isinstance(exc, UnsafeInput) else "no install manifest"
        graph.unknowns.append(
            Unknown(path=tree.describe(path), field="components.files", reason=reason)
        )
        return ()
    if not isinstance(data, Mapping):
        raise SourceError(f"{tree.describe(path)}: $: expected an object of paths")
    root = recorded_prefix
    if root is None:  # the prefix itself is the shortest key
        root = min((k for k in data if isinstance(k, str)), key=len, default="")
    root = root.rstrip("/") + "/"
    out = []
    cut = len(root)
    for key, entry in data.items():
        if type(entry) is not dict or "hash" not in entry or not key.startswith(root):
            continue
        rel = key[cut:]
        if rel.startswith(".spack/"):
            continue
        size = entry.get("size")
        out.append(
            FileDigest(
                path=rel,
                digests=(Hash(algorithm="spack-sha1-b32", value=str(entry["hash"])),),
                size=size if type(size) is int else None,
            )
        )
    out.sort(key=lambda f: f.path)
    return tuple(out)


def scan_elf(
    tree: FileTree,
    prefix: PurePosixPath,
    files: tuple[FileDigest, ...] | None,
    component: str,
    graph: Graph,
    *,
    scanner: ClosureScanner | None = None,
) -> None:
    """The ELF objects a prefix's entry points load (:mod:`.closure`), into ``graph.elf``.

    Without a ``scanner`` the prefix is placed alone: its recorded path (the install manifest's)
    is mounted on it, and what it needs from other prefixes is outside the tree."""
    if scanner is None:
        mounts = []
        recorded = _recorded(tree, prefix)
        if recorded:
            mounts.append((recorded, str(prefix)))
        scanner = ClosureScanner(tree, mounts=mounts)
    scanner.scan(prefix, files, component, graph)


def _recorded(tree: FileTree, prefix: PurePosixPath) -> str | None:
    path = prefix / ".spack" / "install_manifest.json"
    if not tree.is_file(path):
        return None
    try:
        data = load_json(tree, path)
    except SourceError:
        return None
    return recorded_prefix(data if isinstance(data, Mapping) else None)


def scan_installed(tree: FileTree, graph: Graph, scanner: ClosureScanner) -> None:
    """The ELF closures of every node of ``graph`` whose prefix is in ``tree`` (a build cache's
    tarballs, an OCI build-cache image's layers). A prefix is a folder with a
    ``.spack/spec.json``, named for the DAG hash its name ends with (Spack's own rule)."""
    found: list[tuple[str, PurePosixPath]] = []
    for dirpath, dirs, _files in tree.walk(PurePosixPath(".")):
        if ".spack" in dirs and tree.is_file(dirpath / ".spack" / "spec.json"):
            h = dirpath.name[-32:]
            if h in graph.nodes:
                found.append((h, dirpath))
            dirs.clear()
    for h, prefix in found:
        scanner.own(prefix, f"spack:{h}")
    for h, prefix in found:
        listed = manifest_files(tree, prefix, None, graph)
        has_manifest = tree.is_file(prefix / ".spack" / "install_manifest.json")
        scan_elf(
            tree, prefix, listed if has_manifest else None, f"spack:{h}", graph, scanner=scanner
        )


def read_prefix(
    tree: FileTree,
    prefix: PurePosixPath,
    graph: Graph,
    options: ExtractOptions,
    scanner: ClosureScanner | None = None,
) -> str:
    """Add a prefix's DAG to ``graph``; return the root hash. ``scanner``: the resolver of the
    store the prefix sits in, when it sits in one."""
    path, data = specfile(tree, prefix / ".spack")
    where = tree.describe(path)
    _, nodes = parse_specfile(data, where=where)
    for node in nodes:
        graph.add(node)
    graph.read_from.append(where)
    graph.check_edges(where)
    root = nodes[0]
    read_install(tree, prefix, graph, root.hash)
    listed = manifest_files(tree, prefix, None, graph)
    files = listed if options.include_files else ()
    has_manifest = tree.is_file(prefix / ".spack" / "install_manifest.json")
    scan_elf(
        tree,
        prefix,
        listed if has_manifest else None,
        f"spack:{root.hash}",
        graph,
        scanner=scanner,
    )
    graph.update(root.hash, prefix=tree.describe(prefix), files=files)
    return root.hash
