"""Import the OS packages of a CycloneDX or SPDX 2.x JSON SBOM (Syft, Trivy...) into a record.

Scanners know OS package databases; nameplate knows HPC builds. :func:`merge` keeps both: it adds
the OS-level packages of a scanner's SBOM (purl types ``deb``, ``rpm``, ``apk``, ``alpm``...) to a
record as ``os-package`` components, with the runtime edges between them, the scanner's
properties, and an ``Evidence`` entry naming the SBOM file. ``hpc.os`` is filled from the SBOM's
operating-system component when the record has none. The SBOM is data: it is parsed, never run,
and a malformed one raises :class:`~nameplate.errors.ExportError` naming the file and the field.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from packageurl import PackageURL

from ..errors import ExportError
from ..record import (
    SCHEMA_VERSION,
    Component,
    Dependency,
    Evidence,
    Hash,
    OperatingSystem,
    Record,
)

__all__ = ["OS_PURL_TYPES", "ImportedSbom", "merge", "purl_key", "read_sbom"]

#: purl types of OS package managers (what ``merge`` imports).
OS_PURL_TYPES = frozenset({"deb", "rpm", "apk", "alpm", "ebuild", "opkg", "qpkg"})

_CDX_ALGS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
    "SHA3-256": "sha3-256",
    "SHA3-384": "sha3-384",
    "SHA3-512": "sha3-512",
    "BLAKE3": "blake3",
}


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ImportedSbom:
    """What was read from an SBOM: its format, tool, OS packages, edges and operating system."""

    format: str
    tool: str
    components: tuple[Component, ...]
    dependencies: tuple[Dependency, ...]
    os: OperatingSystem | None = None


def _str(value: Any, path: str, where: str) -> str:
    if not isinstance(value, str):
        raise ExportError(f"{where}: {path}: expected a string")
    return value


def _opt_str(value: Any, path: str, where: str) -> str | None:
    return None if value is None else _str(value, path, where)


def _list(value: Any, path: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ExportError(f"{where}: {path}: expected an array")
    return value


def _obj(value: Any, path: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ExportError(f"{where}: {path}: expected an object")
    return value


def _cpe(value: str | None) -> str | None:
    """A CPE 2.3 formatted string as the record schema takes it, else None (dropped)."""
    if value and re.match(r"^cpe:2\.3:[aho*-]:", value):
        return value
    return None


def _purl_type(purl: str | None) -> str | None:
    if not purl:
        return None
    try:
        return PackageURL.from_string(purl).type
    except ValueError:
        return None


def _cdx_tool(meta: Mapping[str, Any], where: str) -> str:
    tools = meta.get("tools")
    items: list[Any] = []
    if isinstance(tools, list):
        items = tools
    elif isinstance(tools, Mapping):
        items = _list(tools.get("components"), "$.metadata.tools.components", where)
    for t in items:
        if isinstance(t, Mapping) and isinstance(t.get("name"), str):
            return str(t["name"])
    return "sbom"


def _cdx_component(
    c: Mapping[str, Any], path: str, where: str, tool: str
) -> tuple[str, Component] | None:
    purl = _opt_str(c.get("purl"), f"{path}.purl", where)
    kind = _purl_type(purl)
    if kind not in OS_PURL_TYPES or purl is None:
        return None
    name = _str(c.get("name"), f"{path}.name", where)
    version = _opt_str(c.get("version"), f"{path}.version", where) or ""
    licenses: list[str] = []
    for i, raw_lic in enumerate(_list(c.get("licenses"), f"{path}.licenses", where)):
        lic = _obj(raw_lic, f"{path}.licenses[{i}]", where)
        if "expression" in lic:
            licenses.append(_str(lic["expression"], f"{path}.licenses[{i}].expression", where))
            continue
        body = _obj(lic.get("license"), f"{path}.licenses[{i}].license", where)
        text = body.get("id", body.get("name"))
        licenses.append(_str(text, f"{path}.licenses[{i}].license.id", where))
    hashes: list[Hash] = []
    for i, raw_h in enumerate(_list(c.get("hashes"), f"{path}.hashes", where)):
        h = _obj(raw_h, f"{path}.hashes[{i}]", where)
        alg = _str(h.get("alg"), f"{path}.hashes[{i}].alg", where)
        content = _str(h.get("content"), f"{path}.hashes[{i}].content", where)
        if alg in _CDX_ALGS and content:
            hashes.append(Hash(algorithm=_CDX_ALGS[alg], value=content))
    props: dict[str, str] = {}
    found_by: list[str] = []
    for i, raw_p in enumerate(_list(c.get("properties"), f"{path}.properties", where)):
        p = _obj(raw_p, f"{path}.properties[{i}]", where)
        pname = _str(p.get("name"), f"{path}.properties[{i}].name", where)
        pvalue = _str(p.get("value", ""), f"{path}.properties[{i}].value", where)
        if pname == "syft:package:foundBy":
            found_by.append(f"syft:{pvalue}")
        props.setdefault(pname, pvalue)
    if not found_by:
        found_by.append(tool)
    ref = c.get("bom-ref")
    component = Component(
        id=purl,
        name=name,
        version=version,
        kind="os-package",
        ecosystem=kind,
        purl=purl,
        description=_opt_str(c.get("description"), f"{path}.description", where),
        cpe=_cpe(_opt_str(c.get("cpe"), f"{path}.cpe", where)),
        hashes=tuple(hashes),
        licenses=tuple(licenses),
        found_by=tuple(found_by),
        properties=props,
    )
    return (ref if isinstance(ref, str) else purl), component


def _read_cyclonedx(doc: Mapping[str, Any], where: str) -> ImportedSbom:
    meta = _obj(doc.get("metadata", {}), "$.metadata", where)
    tool = _cdx_tool(meta, where)
    by_ref: dict[str, Component] = {}
    os_info: OperatingSystem | None = None
    for i, raw in enumerate(_list(doc.get("components"), "$.components", where)):
        path = f"$.components[{i}]"
        c = _obj(raw, path, where)
        if c.get("type") == "operating-system" and os_info is None:
            os_info = OperatingSystem(
                name=_str(c.get("name"), f"{path}.name", where),
                version=_opt_str(c.get("version"), f"{path}.version", where),
            )
            continue
        found = _cdx_component(c, path, where, tool)
        if found is not None:
            by_ref.setdefault(found[0], found[1])
    edges: list[Dependency] = []
    for i, raw in enumerate(_list(doc.get("dependencies"), "$.dependencies", where)):
        d = _obj(raw, f"$.dependencies[{i}]", where)
        ref = _str(d.get("ref"), f"$.dependencies[{i}].ref", where)
        for j, raw_target in enumerate(
            _list(d.get("dependsOn"), f"$.dependencies[{i}].dependsOn", where)
        ):
            target = _str(raw_target, f"$.dependencies[{i}].dependsOn[{j}]", where)
            if ref in by_ref and target in by_ref and ref != target:
                edges.append(
                    Dependency(
                        dependent=by_ref[ref].id, dependency=by_ref[target].id, types=("run",)
                    )
                )
    return ImportedSbom(
        format="cyclonedx",
        tool=tool,
        components=tuple(by_ref.values()),
        dependencies=tuple(edges),
        os=os_info,
    )


def _read_spdx(doc: Mapping[str, Any], where: str) -> ImportedSbom:
    info = _obj(doc.get("creationInfo", {}), "$.creationInfo", where)
    tool = "sbom"
    for i, raw_creator in enumerate(_list(info.get("creators"), "$.creationInfo.creators", where)):
        creator = _str(raw_creator, f"$.creationInfo.creators[{i}]", where)
        if creator.startswith("Tool:"):
            tool = creator.removeprefix("Tool:").strip().split("-")[0] or "sbom"
            break
    by_id: dict[str, Component] = {}
    os_info: OperatingSystem | None = None
    for i, raw in enumerate(_list(doc.get("packages"), "$.packages", where)):
        path = f"$.packages[{i}]"
        p = _obj(raw, path, where)
        spdx_id = _str(p.get("SPDXID"), f"{path}.SPDXID", where)
        purl: str | None = None
        for j, raw_ref in enumerate(_list(p.get("externalRefs"), f"{path}.externalRefs", where)):
            ref = _obj(raw_ref, f"{path}.externalRefs[{j}]", where)
            if ref.get("referenceType") == "purl":
                purl = _str(
                    ref.get("referenceLocator"), f"{path}.externalRefs[{j}].referenceLocator", where
                )
        name = _str(p.get("name"), f"{path}.name", where)
        version = _opt_str(p.get("versionInfo"), f"{path}.versionInfo", where) or ""
        if p.get("primaryPackagePurpose") == "OPERATING-SYSTEM" or spdx_id.startswith(
            "SPDXRef-OperatingSystem"
        ):
            if os_info is None:
                os_info = OperatingSystem(name=name, version=version or None)
            continue
        kind = _purl_type(purl)
        if kind not in OS_PURL_TYPES or purl is None:
            continue
        hashes: list[Hash] = []
        for j, raw_cs in enumerate(_list(p.get("checksums"), f"{path}.checksums", where)):
            cs = _obj(raw_cs, f"{path}.checksums[{j}]", where)
            alg = _str(cs.get("algorithm"), f"{path}.checksums[{j}].algorithm", where).lower()
            value = _str(cs.get("checksumValue"), f"{path}.checksums[{j}].checksumValue", where)
            alg = {"sha1": "sha1", "sha256": "sha256", "sha512": "sha512", "md5": "md5"}.get(
                alg, ""
            )
            if alg and value:
                hashes.append(Hash(algorithm=alg, value=value))
        declared = p.get("licenseDeclared")
        licenses: tuple[str, ...] = ()
        if isinstance(declared, str) and declared not in ("NOASSERTION", "NONE", ""):
            licenses = (declared,)
        by_id.setdefault(
            spdx_id,
            Component(
                id=purl,
                name=name,
                version=version,
                kind="os-package",
                ecosystem=kind,
                purl=purl,
                hashes=tuple(hashes),
                licenses=licenses,
                found_by=(tool,),
            ),
        )
    edges: list[Dependency] = []
    for i, raw in enumerate(_list(doc.get("relationships"), "$.relationships", where)):
        r = _obj(raw, f"$.relationships[{i}]", where)
        kind = r.get("relationshipType")
        a, b = r.get("spdxElementId"), r.get("relatedSpdxElement")
        if kind == "DEPENDENCY_OF":
            a, b = b, a
        elif kind != "DEPENDS_ON":
            continue
        if isinstance(a, str) and isinstance(b, str) and a in by_id and b in by_id and a != b:
            edges.append(Dependency(dependent=by_id[a].id, dependency=by_id[b].id, types=("run",)))
    return ImportedSbom(
        format="spdx",
        tool=tool,
        components=tuple(by_id.values()),
        dependencies=tuple(edges),
        os=os_info,
    )


def read_sbom(doc: Any, *, where: str = "sbom") -> ImportedSbom:
    """The OS packages of a CycloneDX or SPDX 2.x JSON document (already parsed)."""
    if not isinstance(doc, Mapping):
        raise ExportError(f"{where}: $: an SBOM is a JSON object")
    if doc.get("bomFormat") == "CycloneDX":
        return _read_cyclonedx(doc, where)
    version = doc.get("spdxVersion")
    if isinstance(version, str) and version.startswith("SPDX-2."):
        return _read_spdx(doc, where)
    raise ExportError(
        f"{where}: $: not a CycloneDX (bomFormat) or SPDX 2.x JSON (spdxVersion) document"
    )


def purl_key(purl: str | None) -> tuple[str, str, str, str] | None:
    """What identifies a package across tools: purl type, namespace, name and version (the epoch
    folded in, whether written in the version or as a qualifier); None for no purl."""
    if not purl:
        return None
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    quals: Mapping[str, Any] = p.qualifiers or {}  # type: ignore[assignment,unused-ignore]
    version = p.version or ""
    epoch = str(quals.get("epoch") or "")
    if epoch and epoch != "0" and not version.startswith(f"{epoch}:"):
        version = f"{epoch}:{version}"
    namespace = (p.namespace or "").lower()
    return p.type, namespace, p.name.lower(), version


def _arch(purl: str | None) -> str | None:
    try:
        quals = PackageURL.from_string(purl or "").qualifiers
    except ValueError:
        return None
    arch = (quals or {}).get("arch")  # type: ignore[union-attr,unused-ignore]
    return str(arch) if arch else None


def _match(record: Record) -> dict[tuple[str, str, str, str], list[tuple[str | None, str]]]:
    index: dict[tuple[str, str, str, str], list[tuple[str | None, str]]] = {}
    for c in record.components:
        key = purl_key(c.purl)
        if key is not None:
            index.setdefault(key, []).append((_arch(c.purl), c.id))
    return index


def merge(record: Record, doc: Any, *, where: str = "sbom", digest: str | None = None) -> Record:
    """``record`` plus the OS packages of SBOM ``doc`` that it does not have; an ``Evidence``
    entry names the SBOM.

    A package is the same when its purl has the same type, namespace, name and version (epoch
    included) and arch; a qualifier that only one side writes (``distro``, or ``arch`` itself) is
    not compared, so a trivy or syft SBOM of the same image adds only what nameplate missed."""
    sbom = read_sbom(doc, where=where)
    known_ids = {c.id for c in record.components}
    index = _match(record)
    same: dict[str, str] = {}  # SBOM component id -> the record's component id
    added: list[Component] = []
    for c in sbom.components:
        if c.id in known_ids:
            same[c.id] = c.id
            continue
        pkey = purl_key(c.purl)
        arch = _arch(c.purl)
        candidates = index.get(pkey, []) if pkey is not None else []
        found = next((cid for a, cid in candidates if a is None or arch is None or a == arch), None)
        if found is not None:
            same[c.id] = found
        else:
            added.append(c)
            if pkey is not None:
                index.setdefault(pkey, []).append((arch, c.id))
    ids = known_ids | {c.id for c in added}
    edge_keys = {(d.dependent, d.dependency) for d in record.dependencies}
    edges: list[Dependency] = []
    for d in dict.fromkeys(sbom.dependencies):
        dep = dataclasses.replace(
            d,
            dependent=same.get(d.dependent, d.dependent),
            dependency=same.get(d.dependency, d.dependency),
        )
        key = (dep.dependent, dep.dependency)
        if dep.dependent in ids and dep.dependency in ids and key not in edge_keys:
            edge_keys.add(key)
            edges.append(dep)
    hpc = record.hpc
    if hpc.os is None and sbom.os is not None:
        hpc = dataclasses.replace(hpc, os=sbom.os)
    evidence = Evidence(
        kind=f"{sbom.format}-sbom",
        path=where,
        digest=digest,
        detail=f"{len(added)} OS packages imported from {sbom.tool}",
    )
    version = record.schema_version
    if any(c.cpe for c in added):  # a field of schema 1.2.0: the merged record is of that one
        version = SCHEMA_VERSION
    return dataclasses.replace(
        record,
        schema_version=version,
        components=record.components + tuple(added),
        dependencies=record.dependencies + tuple(edges),
        hpc=hpc,
        evidence=(*record.evidence, evidence),
    )
