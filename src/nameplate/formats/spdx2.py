"""Record → SPDX 2.3 JSON.

Valid where Spack's own SBOM hook output is not: the document is ``SPDXRef-DOCUMENT``, digests go
under ``checksums``, package SPDXIDs are unique per DAG node (derived from the component id), and
edges are typed. Mapping (full table in ``docs/formats/spdx.md``):

- ``documentNamespace`` ← ``https://w3id.org/nameplate/spdx/<serial uuid>``;
  ``creationInfo.created`` ← ``provenance.extracted_at``; creator ``Tool: <generator>``.
- one package per component: ``versionInfo``, ``downloadLocation``/``packageFileName`` ← first
  source, ``checksums`` ← the component's digests (else its first source's), ``homepage``,
  ``licenseDeclared`` (when a valid SPDX expression), purl as a ``PACKAGE-MANAGER`` external ref.
- edges: ``link`` → ``A DEPENDS_ON B``; ``run`` → ``B RUNTIME_DEPENDENCY_OF A``; ``build`` →
  ``B BUILD_DEPENDENCY_OF A`` (``BUILD_TOOL_OF`` for compilers); ``test`` →
  ``B TEST_DEPENDENCY_OF A``; the document ``DESCRIBES`` each root.
- HPC fields and component fields without an SPDX slot: one ``OTHER`` annotation per element
  whose comment holds ``nameplate:<path>=<value>`` lines (see :func:`annotation_pairs`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any, BinaryIO

from ..record import Component, Record
from . import _common
from ._common import NS, Items, Spine

__all__ = ["annotation_pairs", "document", "encode", "lazy_document", "spdx_id", "write"]

_ID_SAFE = re.compile(r"[^A-Za-z0-9.-]")

_PURPOSE: dict[str, str] = {
    "package": "LIBRARY",
    "library": "LIBRARY",
    "os-package": "LIBRARY",
    "application": "APPLICATION",
    "compiler": "APPLICATION",
    "toolchain": "FRAMEWORK",
    "image": "CONTAINER",
}

#: Edge type → (relationship type, True when the edge reads dependent → dependency).
_EDGE: dict[str, tuple[str, bool]] = {
    "link": ("DEPENDS_ON", True),
    "run": ("RUNTIME_DEPENDENCY_OF", False),
    "build": ("BUILD_DEPENDENCY_OF", False),
    "test": ("TEST_DEPENDENCY_OF", False),
}


def spdx_id(component_id: str) -> str:
    """A valid, unique SPDXID for a component id (``SPDXRef-Package-<id>``)."""
    safe = _ID_SAFE.sub("-", component_id)
    if safe != component_id:
        safe += "-" + hashlib.sha256(component_id.encode()).hexdigest()[:12]
    return f"SPDXRef-Package-{safe}"


@functools.cache
def _valid_expression(text: str) -> bool:
    from license_expression import get_spdx_licensing

    if text.startswith("LicenseRef-") and re.fullmatch(r"LicenseRef-[A-Za-z0-9.-]+", text):
        return True
    # LicenseRef- symbols are ours (declared in hasExtractedLicensingInfos): check the rest
    probe = re.sub(r"LicenseRef-[A-Za-z0-9.-]+", "MIT", text)
    info = get_spdx_licensing().validate(probe)
    return not info.errors and not info.invalid_symbols


def license_refs(record: Record) -> list[dict[str, str]]:
    """``hasExtractedLicensingInfos``: one entry per ``LicenseRef-`` a package declares (the
    record names the license; its text stays in the package's own files)."""
    refs = sorted(
        {r for c in record.components for t in c.licenses for r in _LICENSE_REF.findall(t)}
    )
    return [
        {
            "licenseId": ref,
            "name": ref.removeprefix("LicenseRef-"),
            "extractedText": f"{ref.removeprefix('LicenseRef-')}: a license named by a package "
            "database (a Debian copyright file, an rpm or apk header) that has no SPDX id; "
            "its text is in the package's own files",
        }
        for ref in refs
    ]


_LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.-]+")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def annotation_pairs(comment: str) -> list[tuple[str, str]]:
    """Read back the ``name=value`` lines of an annotation comment written by this module."""
    pairs: list[tuple[str, str]] = []
    for line in comment.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            pairs.append((name, _unescape(value)))
    return pairs


def _annotation(record: Record, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "annotationDate": record.provenance.extracted_at,
        "annotationType": "OTHER",
        "annotator": f"Tool: {_common.tool_string(record)}",
        "comment": "\n".join(f"{n}={_escape(v)}" for n, v in dict.fromkeys(pairs)),
    }


def _package(
    record: Record, c: Component, deptypes: AbstractSet[str], memo: _common.Memo | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"SPDXID": spdx_id(c.id), "name": c.name}
    if c.version:
        out["versionInfo"] = c.version
    first = next((s for s in c.sources if _common.is_url(s.url)), None)
    if first is not None and first.filename:
        out["packageFileName"] = first.filename
    out["downloadLocation"] = first.url if first is not None and first.url else "NOASSERTION"
    out["filesAnalyzed"] = False
    sums = _common.digest_hashes(c.hashes, _common.SPDX_HASH_ALGS)
    if not sums and first is not None:
        sums = _common.digest_hashes(first.checksums, _common.SPDX_HASH_ALGS)
    if sums:
        out["checksums"] = [{"algorithm": a, "checksumValue": v} for a, v in sums]
    if c.homepage:
        out["homepage"] = c.homepage
    urls = [s.url for s in c.sources if s.url] + [p.url for p in c.patches if p.url]
    urls = [u for u in urls if _common.is_url(u)]
    if urls:
        out["sourceInfo"] = "built from " + ", ".join(urls)
    out["licenseConcluded"] = "NOASSERTION"
    expression = " AND ".join(
        f"({t})" if " " in t and len(c.licenses) > 1 else t for t in c.licenses
    )
    out["licenseDeclared"] = (
        expression if c.licenses and _valid_expression(expression) else "NOASSERTION"
    )
    out["copyrightText"] = "NOASSERTION"
    if c.description:
        out["description"] = c.description
    refs = []
    if c.purl:
        refs.append(
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": c.purl,
            }
        )
    if c.cpe:
        refs.append(
            {
                "referenceCategory": "SECURITY",
                "referenceType": "cpe23Type",
                "referenceLocator": c.cpe,
            }
        )
    if refs:
        out["externalRefs"] = refs
    out["primaryPackagePurpose"] = _PURPOSE.get(c.kind, "LIBRARY")
    pairs = _common.component_pairs(c, deptypes, memo)
    pairs += [(f"{NS}:id", c.id)]
    pairs += _common.flatten(f"{NS}:licenses", list(c.licenses))
    pairs += _common.flatten(f"{NS}:kind", c.kind)
    out["annotations"] = [_annotation(record, pairs)]
    return out


def _relationships(record: Record, ids: dict[str, str]) -> Iterator[dict[str, str]]:
    compilers = {c.id for c in record.components if c.kind == "compiler"}
    rels: set[tuple[str, str, str]] = set()
    for root in record.roots:
        if root in ids:
            rels.add(("SPDXRef-DOCUMENT", "DESCRIBES", ids[root]))
    if not record.roots:  # an image's OS packages: the document describes the top-level ones
        needed = {d.dependency for d in record.dependencies}
        for cid, spdx in ids.items():
            if cid not in needed:
                rels.add(("SPDXRef-DOCUMENT", "DESCRIBES", spdx))
    for edge in record.dependencies:
        if edge.dependent not in ids or edge.dependency not in ids:
            continue
        a, b = ids[edge.dependent], ids[edge.dependency]
        for t in edge.types:
            kind, forward = _EDGE[t]
            if t == "build" and edge.dependency in compilers:
                kind = "BUILD_TOOL_OF"
            rels.add((a, kind, b) if forward else (b, kind, a))
    for s, k, o in sorted(rels):
        yield {"spdxElementId": s, "relationshipType": k, "relatedSpdxElement": o}


def document(record: Record) -> dict[str, Any]:
    """The SPDX 2.3 document for ``record`` as JSON data."""
    data: dict[str, Any] = _common.materialize(lazy_document(record))
    return data


def lazy_document(record: Record) -> Spine:
    """:func:`document` with its packages and relationships made as they are written."""
    incoming = _common.incoming_types(record)
    components = _common.sorted_components(record)
    ids = {c.id: spdx_id(c.id) for c in components}
    uuid = record.serial.rsplit(":", 1)[-1]
    subject = record.subject
    name = f"{subject.name}@{subject.version}" if subject.version else subject.name
    doc_pairs = _common.flatten(f"{NS}:subject", _common.record_part(record, "subject"))
    doc_pairs += _common.hpc_pairs(record)
    data = {
        k: _common.record_part(record, k)
        for k in ("provenance", "annotations", "evidence", "unknowns")
    }
    doc_pairs += _common.flatten(f"{NS}:provenance", data["provenance"])
    doc_pairs += _common.flatten(f"{NS}:annotation", data.get("annotations", {}))
    doc_pairs += _common.flatten(f"{NS}:evidence", data.get("evidence", []))
    doc_pairs += _common.flatten(f"{NS}:unknown", data.get("unknowns", []))
    doc_pairs.append((f"{NS}:schema-version", record.schema_version))
    empty: frozenset[str] = frozenset()
    memo: _common.Memo = {}
    return Spine(
        {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": name,
            "documentNamespace": f"https://w3id.org/nameplate/spdx/{uuid}",
            "creationInfo": {
                "created": record.provenance.extracted_at,
                "creators": [f"Tool: {_common.tool_string(record)}"],
            },
            "annotations": [_annotation(record, doc_pairs)],
            "packages": Items(
                _package(record, c, incoming.get(c.id, empty), memo) for c in components
            ),
            "relationships": Items(_relationships(record, ids)),
            **({"hasExtractedLicensingInfos": refs} if (refs := license_refs(record)) else {}),
        }
    )


def encode(record: Record) -> bytes:
    """``record`` as SPDX 2.3 JSON bytes."""
    buf = io.BytesIO()
    write(record, buf)
    return buf.getvalue()


def write(record: Record, out: BinaryIO) -> None:
    """Write :func:`encode`'s bytes to ``out``, a package at a time."""
    _common.write_json(lazy_document(record), out)
