"""One Spack install prefix: its spec, install manifest, Spack's own SBOM, ELF files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from ...elf import ELF_MAGIC, parse_elf
from ...errors import SourceError, UnsafeInput
from ...record import Evidence, FileDigest, Hash, Source, Tool, Unknown
from ...tree import FileTree
from .._common import ExtractOptions
from .files import load_json, sha256, specfile
from .graph import Extras, Graph
from .specfile import parse_specfile

__all__ = ["manifest_files", "read_prefix", "sbom_facts", "scan_elf"]


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
    sbom = sbom_facts(tree, prefix, graph)
    files = manifest_files(tree, prefix, None, graph) if options.include_files else ()
    scan_elf(tree, prefix, files, f"spack:{root.hash}", graph)
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
