"""One Spack install prefix: its spec, install manifest, ELF files (and, through
:mod:`.metadata`, Spack's own SBOM and install_environment.json)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from ...elf import ELF_MAGIC, parse_elf
from ...errors import SourceError, UnsafeInput
from ...record import FileDigest, Hash, Unknown
from ...tree import FileTree
from .._common import ExtractOptions
from .files import load_json, sha256, specfile
from .graph import Graph
from .metadata import read_install
from .specfile import parse_specfile

__all__ = ["manifest_files", "read_prefix", "scan_elf"]


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


#: Folders of a prefix whose files may be executables or shared libraries.
_ELF_DIRS = frozenset({"bin", "sbin", "libexec", "lib", "lib64"})
_ELF_FILE_LIMIT = 128 * 1024 * 1024
_ELF_FILES_PER_PREFIX = 2048


def scan_elf(
    tree: FileTree,
    prefix: PurePosixPath,
    files: tuple[FileDigest, ...],
    component: str,
    graph: Graph,
) -> None:
    """ELF facts of a prefix's executables and shared libraries, as listed by its manifest.

    Only regular files under ``bin/``, ``lib/``… that the manifest says are not empty are read
    (a ``--fake`` install holds none), each bounded, at most a few thousand per prefix."""
    items: list[tuple[str, Any, str | None, str | None]] = []
    candidates = [
        f
        for f in files
        if (f.size or 0) >= 64
        and f.path.split("/", 1)[0] in _ELF_DIRS
        and (f.path.startswith(("bin/", "sbin/", "libexec/")) or ".so" in f.path.rsplit("/", 1)[-1])
    ]
    for f in candidates[:_ELF_FILES_PER_PREFIX]:
        path = prefix / f.path
        try:
            data = tree.read_bytes(path, limit=_ELF_FILE_LIMIT)
        except SourceError as exc:
            graph.unknowns.append(Unknown(path=tree.describe(path), field="elf", reason=str(exc)))
            continue
        if not data.startswith(ELF_MAGIC):
            continue
        where = tree.describe(path)
        try:
            facts = parse_elf(data, where=where)
        except SourceError as exc:
            graph.unknowns.append(Unknown(path=where, field="elf", reason=str(exc)))
            continue
        items.append((where, facts, "sha256:" + sha256(data), component))
    if len(candidates) > _ELF_FILES_PER_PREFIX:
        graph.unknowns.append(
            Unknown(
                path=tree.describe(prefix),
                field="elf",
                reason=f"{len(candidates)} candidate files; read the first {_ELF_FILES_PER_PREFIX}",
            )
        )
    if items:
        graph.elf[component.removeprefix("spack:")] = items


def read_prefix(
    tree: FileTree, prefix: PurePosixPath, graph: Graph, options: ExtractOptions
) -> str:
    """Add a prefix's DAG to ``graph``; return the root hash."""
    path, data = specfile(tree, prefix / ".spack")
    where = tree.describe(path)
    _, nodes = parse_specfile(data, where=where)
    for node in nodes:
        graph.add(node)
    graph.read_from.append(where)
    graph.check_edges(where)
    root = nodes[0]
    read_install(tree, prefix, graph, root.hash)
    files = manifest_files(tree, prefix, None, graph) if options.include_files else ()
    scan_elf(tree, prefix, files, f"spack:{root.hash}", graph)
    graph.update(root.hash, prefix=tree.describe(prefix), files=files)
    return root.hash
