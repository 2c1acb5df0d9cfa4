"""One Spack install prefix: its spec, install manifest, Spack's own SBOM, ELF files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePosixPath

from ...errors import SourceError
from ...record import Evidence, FileDigest, Hash, Source, Tool, Unknown
from ...tree import FileTree
from .._common import ExtractOptions
from .closure import ClosureScanner, recorded_prefix
from .files import load_json, sha256, specfile
from .graph import Extras, Graph
from .specfile import parse_specfile

__all__ = ["manifest_files", "read_prefix", "sbom_facts", "scan_elf", "scan_installed"]


def manifest_files(
    tree: FileTree, prefix: PurePosixPath, recorded_prefix: str | None, graph: Graph
) -> tuple[FileDigest, ...]:
    path = prefix / ".spack" / "install_manifest.json"
    try:
        data = load_json(tree, path)
    except SourceError:
        if tree.is_file(path):
            raise
        graph.unknowns.append(
            Unknown(
                path=tree.describe(path), field="components.files", reason="no install manifest"
            )
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


def sbom_facts(
    tree: FileTree, prefix: PurePosixPath, graph: Graph
) -> dict[tuple[str, str], tuple[tuple[Source, ...], tuple[str, ...]]]:
    """Sources and licenses per (name, version) from Spack's own SPDX SBOM, kept as evidence."""
    path = prefix / ".spack" / "sbom" / "spdx-2.3.json"
    if not tree.is_file(path):
        return {}
    raw = tree.read_bytes(path, limit=64 * 1024 * 1024)
    graph.evidence.append(
        Evidence(
            kind="spack-spdx-2.3",
            path=tree.describe(path),
            digest="sha256:" + sha256(raw),
            detail="Spack's own SBOM; used for sources and licenses only",
        )
    )
    try:
        doc = json.loads(raw)
        packages = doc["packages"]
    except (ValueError, KeyError, TypeError) as exc:
        graph.unknowns.append(
            Unknown(
                path=tree.describe(path), field="components.sources", reason=f"unreadable: {exc}"
            )
        )
        return {}
    out: dict[tuple[str, str], tuple[tuple[Source, ...], tuple[str, ...]]] = {}
    for pkg in packages if isinstance(packages, list) else []:
        if not isinstance(pkg, Mapping):
            continue
        name, version = pkg.get("name"), pkg.get("versionInfo")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        url = pkg.get("downloadLocation")
        checksums = tuple(
            Hash(algorithm=str(c.get("algorithm", "")).lower(), value=str(c.get("checksumValue")))
            for c in pkg.get("checksums", pkg.get("checksum", [])) or []
            if isinstance(c, Mapping) and c.get("checksumValue")
        )
        sources: tuple[Source, ...] = ()
        if (isinstance(url, str) and url not in ("NOASSERTION", "NONE", "None", "")) or checksums:
            sources = (
                Source(
                    url=url
                    if isinstance(url, str) and url not in ("NOASSERTION", "NONE", "None", "")
                    else None,
                    checksums=checksums,
                ),
            )
        lic = pkg.get("licenseDeclared")
        licenses = (lic,) if isinstance(lic, str) and lic not in ("NOASSERTION", "NONE") else ()
        out[(name, version)] = (sources, licenses)
    return out


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
    sbom = sbom_facts(tree, prefix, graph)
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
    env = prefix / ".spack" / "install_environment.json"
    if tree.is_file(env):
        _install_environment(tree, env, graph)
    for node in nodes:
        sources, licenses = sbom.get((node.name, node.version), ((), ()))
        prior = graph.extras.get(node.hash, Extras())
        graph.update(
            node.hash,
            sources=sources or prior.sources,
            licenses=licenses or prior.licenses,
        )
    graph.update(root.hash, prefix=tree.describe(prefix), files=files)
    return root.hash


def _install_environment(tree: FileTree, path: PurePosixPath, graph: Graph) -> None:
    data = load_json(tree, path, limit=1024 * 1024)
    if not isinstance(data, Mapping):
        return
    version = data.get("spack_version")
    if isinstance(version, str) and graph.builder is None:
        graph.builder = Tool(name="spack", version=version.split(" ")[0])
    for key in ("host_os", "platform", "host_target", "kernel_version"):  # no hostname
        if isinstance(data.get(key), str):
            graph.build_host[key] = data[key]
