"""What an install's own ``.spack/`` folder says beyond its spec: Spack's SBOM and
``install_environment.json``.

Read the same way from an install prefix, the prefixes of a store, the prefix Spack's API names
and a build-cache tarball (:mod:`.tarball`), into :class:`.graph.InstallFacts`, so that every way
of reading Spack data gives the same sources, licenses and builder for the same install:

- ``.spack/sbom/spdx-2.3.json`` (Spack 1.3+): sources (download location, checksums) and declared
  licenses of every node of the install's DAG, by name and version; kept as evidence; the spec
  decides every other field;
- ``.spack/install_environment.json``: the Spack version (and commit, for a git checkout) that
  built the install, and the build host (OS, platform, target, kernel; never the hostname).

Neither decides whether an extraction succeeds: a missing or unreadable file is an *unknown*
naming the field it would have given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from ... import normalize
from ...errors import SourceError
from ...record import Evidence, Hash, Source, Tool, Unknown
from ...tree import FileTree
from .files import sha256
from .graph import Graph, InstallFacts, SbomFacts, SourceFacts, component_id

__all__ = [
    "ENVIRONMENT",
    "SBOM",
    "builder_of",
    "parse_install_environment",
    "parse_sbom",
    "read_install",
    "sbom_facts_of",
    "unknowns",
]

SBOM = PurePosixPath(".spack/sbom/spdx-2.3.json")
ENVIRONMENT = PurePosixPath(".spack/install_environment.json")
_SBOM_LIMIT = 64 * 1024 * 1024
_ENV_LIMIT = 1024 * 1024
_NONE = frozenset({"NOASSERTION", "NONE", "None", ""})
_HOST_KEYS = ("host_os", "platform", "host_target", "kernel_version")  # never the hostname
#: ``spack.get_version()``: ``1.3.0.dev0``, or ``1.3.0.dev0 (<commit>)`` in a git checkout.
_VERSION = re.compile(r"^\s*(?P<version>\S+)(?:\s+\((?P<commit>[0-9a-f]{7,64})\))?")
_NO_SBOM = "no .spack/sbom/spdx-2.3.json (Spack writes its SBOM from 1.3 on)"
_NO_ENV = (
    "no .spack/install_environment.json: the Spack that built the install is not recorded "
    "(spack install --fake does not write it)"
)


def parse_sbom(raw: bytes, *, where: str) -> SbomFacts:
    """Sources and licenses by (name, version) from Spack's SPDX 2.3 SBOM; ``SourceError``
    naming the file when it is not one."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{where}: not valid JSON: {exc}") from exc
    packages = doc.get("packages") if isinstance(doc, Mapping) else None
    if not isinstance(packages, list):
        raise SourceError(f"{where}: $.packages: missing (not an SPDX document)")
    out: SbomFacts = {}
    for pkg in packages:
        if not isinstance(pkg, Mapping):
            continue
        name, version = pkg.get("name"), pkg.get("versionInfo")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        url = pkg.get("downloadLocation")
        url = url if isinstance(url, str) and url not in _NONE else None
        raw_sums = pkg.get("checksums", pkg.get("checksum"))
        checksums = tuple(
            Hash(algorithm=str(c.get("algorithm", "")).lower(), value=str(c["checksumValue"]))
            for c in (raw_sums if isinstance(raw_sums, list) else [])
            if isinstance(c, Mapping) and c.get("checksumValue")
        )
        sources = (Source(url=url, checksums=checksums),) if url or checksums else ()
        lic = pkg.get("licenseDeclared")
        licenses = (lic,) if isinstance(lic, str) and lic not in _NONE else ()
        out.setdefault((name, version), (sources, licenses))
    return out


def parse_install_environment(raw: bytes, *, where: str) -> tuple[Tool | None, dict[str, str]]:
    """The Spack that built an install and its build host, from ``install_environment.json``."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise SourceError(f"{where}: $: expected an object")
    builder = None
    match = (
        _VERSION.match(data["spack_version"])
        if isinstance(data.get("spack_version"), str)
        else None
    )
    if match is not None:
        builder = Tool(name="spack", version=match["version"], commit=match["commit"])
    host = {k: data[k] for k in _HOST_KEYS if isinstance(data.get(k), str)}
    return builder, host


def read_install(tree: FileTree, prefix: PurePosixPath, graph: Graph, h: str) -> None:
    """Read the ``.spack/`` facts of the install of node ``h`` at ``prefix`` of ``tree``."""
    evidence: list[Evidence] = []
    missing: list[Unknown] = []
    sbom: SbomFacts | None = None
    path = prefix / SBOM
    where = tree.describe(path)
    if tree.is_file(path):
        try:
            raw = tree.read_bytes(path, limit=_SBOM_LIMIT)
            evidence.append(
                Evidence(
                    kind="spack-spdx-2.3",
                    path=where,
                    digest="sha256:" + sha256(raw),
                    detail="Spack's own SBOM; used for sources and licenses only",
                    component=component_id(h),
                )
            )
            sbom = parse_sbom(raw, where=where)
        except SourceError as exc:
            missing += unknowns(where, str(exc), "components.sources", "components.licenses")
    else:
        missing += unknowns(where, _NO_SBOM, "components.sources", "components.licenses")
    builder: Tool | None = None
    host: dict[str, str] = {}
    path = prefix / ENVIRONMENT
    where = tree.describe(path)
    if tree.is_file(path):
        try:
            builder, host = parse_install_environment(
                tree.read_bytes(path, limit=_ENV_LIMIT), where=where
            )
            if builder is None:
                missing += unknowns(where, "$.spack_version: missing", "provenance.builder")
        except SourceError as exc:
            missing += unknowns(where, str(exc), "provenance.builder")
    else:
        missing += unknowns(where, _NO_ENV, "provenance.builder")
    graph.installs[h] = InstallFacts(
        sbom=sbom,
        builder=builder,
        build_host=tuple(sorted(host.items())),
        evidence=tuple(evidence),
        unknowns=tuple(missing),
    )


def unknowns(path: str, reason: str, *fields: str) -> list[Unknown]:
    """One unknown per field, all for the same path and reason."""
    return [Unknown(path=path, field=f, reason=reason) for f in fields]


def sbom_facts_of(graph: Graph, roots: Sequence[str], hashes: Sequence[str]) -> SourceFacts:
    """Sources and licenses of the nodes under ``roots``, from the roots' own SBOMs (the first
    root that lists a node's name and version). An external gets no sources: Spack did not build
    it from any; its licenses are its recipe's declaration."""
    sboms = [s for s in (graph.install(r).sbom for r in roots) if s]
    out: SourceFacts = {}
    if not sboms:
        return out
    for h in hashes:
        node = graph.nodes[h]
        key = (node.name, node.version)
        found = next((s[key] for s in sboms if key in s), None)
        if found is not None:
            out[h] = found
    return out


def builder_of(graph: Graph, roots: Sequence[str]) -> tuple[Tool, list[Unknown]]:
    """The Spack that built the roots (their install_environment.json), else the one a lockfile
    names; an unknown when the roots were built by different Spack versions."""
    tools = [t for t in (graph.install(r).builder for r in roots) if t is not None]
    if not tools:
        return graph.builder or Tool(name="spack"), []
    versions = sorted({t.version for t in tools if t.version}, key=normalize.version_key)
    if len(versions) < 2:
        return tools[0], []
    reason = f"the roots were built by Spack {', '.join(versions)}: the first root's is recorded"
    return tools[0], [
        Unknown(path=graph.nodes[roots[0]].label, field="provenance.builder", reason=reason)
    ]
