"""Record → SPDX 3.0.1 JSON-LD with the Software and Build profiles.

The document follows the SPDX 3 serialization (a compact JSON-LD ``@graph`` with the official
context IRI, which consumers resolve from their own copy; nameplate ships it in
``schemas/vendor/spdx-3.0.1-context.jsonld`` and never fetches it). Mapping (full table in
``docs/formats/spdx.md``):

- element IRIs: ``https://w3id.org/nameplate/spdx/<serial uuid>#<kind>-<id>``; ``CreationInfo``
  ← ``provenance.extracted_at`` and the generator (a ``SoftwareAgent``).
- ``software_Package`` per component (version, purl, download location, homepage, digests as
  ``verifiedUsing``); declared licenses as ``simplelicensing_LicenseExpression`` +
  ``hasDeclaredLicense``.
- one ``build_Build`` (``build_buildId`` ← serial, ``build_buildEndTime`` ← ``built_at``,
  ``build_parameter`` ← the HPC fields as ``nameplate:hpc:<path>`` entries,
  ``build_environment`` ← ``build_host``); ``usesTool`` → the compilers and the builder,
  ``hasHost`` → the build host, ``hasOutput`` → the roots.
- each dependency edge → ``LifecycleScopedRelationship`` ``dependsOn`` with scope ``runtime``
  (``link``/``run``), ``build`` or ``test``.
- component fields without a slot → an ``Annotation`` whose statement holds
  ``nameplate:<path>=<value>`` lines (read back with ``spdx2.annotation_pairs``).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from ..record import Component, Record
from . import _common
from ._common import NS
from .spdx2 import _escape, _valid_expression

__all__ = ["CONTEXT_URL", "document", "encode"]

CONTEXT_URL = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
_CI = "_:creationinfo"

_HASH_ALGS: dict[str, str] = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
    "blake2b-256": "blake2b256",
    "blake2b-384": "blake2b384",
    "blake2b-512": "blake2b512",
    "blake3": "blake3",
}

_PURPOSE = _common.COMPONENT_PURPOSE


class _Ids:
    def __init__(self, record: Record) -> None:
        self.base = f"https://w3id.org/nameplate/spdx/{record.serial.rsplit(':', 1)[-1]}#"

    def __call__(self, kind: str, local: str) -> str:
        return f"{self.base}{kind}-{quote(local, safe='')}"

    def hashed(self, kind: str, *parts: str) -> str:
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]
        return f"{self.base}{kind}-{digest}"


def _element(kind: str, spdx_id: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "spdxId": spdx_id, "creationInfo": _CI}
    out.update({k: v for k, v in fields.items() if v not in (None, [], "")})
    return out


def _relationship(
    ids: _Ids, source: str, kind: str, targets: list[str], scope: str | None = None
) -> dict[str, Any]:
    rel_id = ids.hashed("rel", source, kind, *targets, scope or "")
    if scope is None:
        return _element(
            "Relationship", rel_id, to=targets, relationshipType=kind, **{"from": source}
        )
    return _element(
        "LifecycleScopedRelationship",
        rel_id,
        to=targets,
        relationshipType=kind,
        scope=scope,
        **{"from": source},
    )


def _package(ids: _Ids, c: Component) -> dict[str, Any]:
    hashes = [
        {"type": "Hash", "algorithm": _HASH_ALGS[h.algorithm], "hashValue": h.value}
        for h in sorted(c.hashes, key=lambda h: (h.algorithm, h.value))
        if h.algorithm in _HASH_ALGS
    ]
    first = next((s for s in c.sources if _common.is_url(s.url)), None)
    return _element(
        "software_Package",
        ids("pkg", c.id),
        name=c.name,
        description=c.description,
        software_packageVersion=c.version or None,
        software_packageUrl=c.purl,
        software_downloadLocation=first.url if first is not None else None,
        software_homePage=c.homepage,
        software_primaryPurpose=_PURPOSE.get(c.kind, "library"),
        verifiedUsing=hashes,
        externalIdentifier=[
            {"type": "ExternalIdentifier", "externalIdentifierType": "cpe23", "identifier": c.cpe}
        ]
        if c.cpe
        else None,
    )


def _statement(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"{n}={_escape(v)}" for n, v in dict.fromkeys(pairs))


def _dict_entries(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    # DictionaryEntry keys are unique per list: repeated names get their values joined by ",".
    merged: dict[str, list[str]] = {}
    for name, value in pairs:
        merged.setdefault(name, []).append(value)
    return [{"type": "DictionaryEntry", "key": k, "value": ",".join(v)} for k, v in merged.items()]


def document(record: Record) -> dict[str, Any]:
    """The SPDX 3.0.1 JSON-LD document for ``record`` as JSON data."""
    ids = _Ids(record)
    gen = record.provenance.generator
    agent_id = ids("agent", gen.name)
    graph: list[dict[str, Any]] = [
        {
            "type": "CreationInfo",
            "@id": _CI,
            "specVersion": "3.0.1",
            "created": record.provenance.extracted_at,
            "createdBy": [agent_id],
        },
        _element(
            "SoftwareAgent", agent_id, name=f"{gen.name} {gen.version}" if gen.version else gen.name
        ),
    ]
    elements: list[dict[str, Any]] = []
    components = _common.sorted_components(record)
    incoming = _common.incoming_types(record)
    pkg = {c.id: ids("pkg", c.id) for c in components}
    for c in components:
        elements.append(_package(ids, c))
        pairs = _common.component_pairs(c, incoming.get(c.id, set()))
        pairs += [(f"{NS}:id", c.id), (f"{NS}:kind", c.kind)]
        pairs += _common.flatten(f"{NS}:licenses", list(c.licenses))
        elements.append(
            _element(
                "Annotation",
                ids("note", c.id),
                annotationType="other",
                subject=pkg[c.id],
                statement=_statement(pairs),
            )
        )
        if c.licenses:
            expression = " AND ".join(
                f"({t})" if " " in t and len(c.licenses) > 1 else t for t in c.licenses
            )
            if _valid_expression(expression):
                lic_id = ids.hashed("license", expression)
                if not any(e["spdxId"] == lic_id for e in elements):
                    elements.append(
                        _element(
                            "simplelicensing_LicenseExpression",
                            lic_id,
                            simplelicensing_licenseExpression=expression,
                        )
                    )
                elements.append(_relationship(ids, pkg[c.id], "hasDeclaredLicense", [lic_id]))
    for edge in _common.sorted_edges(record):
        if edge.dependent not in pkg or edge.dependency not in pkg:
            continue
        types = set(edge.types)
        scopes = []
        if types & {"link", "run"}:
            scopes.append("runtime")
        if "build" in types:
            scopes.append("build")
        if "test" in types:
            scopes.append("test")
        for scope in scopes:
            elements.append(
                _relationship(ids, pkg[edge.dependent], "dependsOn", [pkg[edge.dependency]], scope)
            )
    elements.extend(_build(record, ids, pkg))
    elements.sort(key=lambda e: (e["type"], e["spdxId"]))
    # Drop duplicate elements (a license expression shared by several packages).
    unique: dict[str, dict[str, Any]] = {}
    for e in elements:
        unique.setdefault(e["spdxId"], e)
    elements = list(unique.values())
    roots = [pkg[r] for r in sorted(record.roots) if r in pkg]
    sbom_id = ids("sbom", "main")
    doc_id = ids("document", "main")
    subject = record.subject
    doc_pairs = _common.flatten(f"{NS}:subject", _common.record_part(record, "subject"))
    doc_pairs += _common.hpc_pairs(record)
    data = {
        k: _common.record_part(record, k)
        for k in ("provenance", "annotations", "evidence", "unknowns")
    }
    doc_pairs += _common.flatten(f"{NS}:annotation", data.get("annotations", {}))
    doc_pairs += _common.flatten(f"{NS}:evidence", data.get("evidence", []))
    doc_pairs += _common.flatten(f"{NS}:unknown", data.get("unknowns", []))
    doc_pairs += _common.flatten(
        f"{NS}:provenance:read-from", data["provenance"].get("read_from", [])
    )
    doc_pairs.append((f"{NS}:schema-version", record.schema_version))
    elements.append(
        _element(
            "Annotation",
            ids("note", "document"),
            annotationType="other",
            subject=doc_id,
            statement=_statement(doc_pairs),
        )
    )
    element_ids = [e["spdxId"] for e in elements]
    graph.append(
        _element(
            "SpdxDocument",
            doc_id,
            name=f"{subject.name}@{subject.version}" if subject.version else subject.name,
            rootElement=[sbom_id],
            element=[agent_id, sbom_id, *element_ids],
            profileConformance=["build", "core", "simpleLicensing", "software"],
        )
    )
    graph.append(
        _element(
            "software_Sbom",
            sbom_id,
            rootElement=roots,
            element=element_ids,
            software_sbomType=["build"],
        )
    )
    graph.extend(elements)
    return {"@context": CONTEXT_URL, "@graph": graph}


def _build(record: Record, ids: _Ids, pkg: dict[str, str]) -> list[dict[str, Any]]:
    prov = record.provenance
    builder = prov.builder
    builder_name = builder.name if builder is not None else "unknown"
    build_type = f"https://w3id.org/nameplate/buildtypes/{quote(builder_name, safe='')}/v1"
    build_id = ids("build", "main")
    build = _element(
        "build_Build",
        build_id,
        build_buildType=build_type,
        build_buildId=record.serial,
        build_buildEndTime=prov.built_at,
        build_parameter=_dict_entries(_common.hpc_pairs(record)),
        build_environment=_dict_entries([(k, v) for k, v in sorted(prov.build_host.items())]),
    )
    out: list[dict[str, Any]] = [build]
    tools = sorted({pkg[c.component] for c in record.hpc.compilers if c.component in pkg})
    if builder is not None:
        tool_id = ids("tool", builder.name)
        label = f"{builder.name} {builder.version}" if builder.version else builder.name
        out.append(
            _element(
                "Tool", tool_id, name=label, comment=builder.commit and f"commit {builder.commit}"
            )
        )
        tools.append(tool_id)
    if tools:
        out.append(_relationship(ids, build_id, "usesTool", tools, "build"))
    if prov.build_host:
        host_id = ids("host", prov.build_host.get("hostname", "build-host"))
        out.append(
            _element(
                "Tool",
                host_id,
                name=prov.build_host.get("hostname", "build host"),
                comment=_statement(_common.flatten(f"{NS}:build-host", dict(prov.build_host))),
            )
        )
        out.append(_relationship(ids, build_id, "hasHost", [host_id], "build"))
    roots = [pkg[r] for r in sorted(record.roots) if r in pkg]
    if roots:
        out.append(_relationship(ids, build_id, "hasOutput", roots, "build"))
    return out


def encode(record: Record) -> bytes:
    """``record`` as SPDX 3.0.1 JSON-LD bytes."""
    return _common.dump_json(document(record))
