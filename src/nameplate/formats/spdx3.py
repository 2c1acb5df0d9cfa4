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

import functools
import hashlib
import heapq
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

from ..record import Component, Record
from . import _common
from ._common import NS, Items, Spine
from .spdx2 import _escape, _valid_expression

__all__ = ["CONTEXT_URL", "document", "encode", "lazy_document", "write"]

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
    data: dict[str, Any] = _common.materialize(lazy_document(record))
    return data


def _expression(c: Component) -> str | None:
    """The component's declared license expression, when it is a valid one."""
    if not c.licenses:
        return None
    expression = " AND ".join(
        f"({t})" if " " in t and len(c.licenses) > 1 else t for t in c.licenses
    )
    return expression if _valid_expression(expression) else None


def _scopes(types: tuple[str, ...]) -> list[str]:
    kinds = set(types)
    scopes = []
    if kinds & {"link", "run"}:
        scopes.append("runtime")
    if "build" in kinds:
        scopes.append("build")
    if "test" in kinds:
        scopes.append("test")
    return scopes


_SCOPES = ("runtime", "build", "test")
_REL = "rel-"


class _Elements:
    """Every element of the document, in the order of the whole document's sort (by type,
    then ``spdxId``; one element per ``spdxId``), made as they are written. What is kept to
    order them: the components sorted by id, and one integer per relationship (its digest,
    which is its ``spdxId``, and where it comes from)."""

    def __init__(self, record: Record, ids: _Ids) -> None:
        self.record = record
        self.ids = ids
        _common.sorted_components(record)  # refuses duplicate ids
        self.components = sorted(record.components, key=lambda c: quote(c.id, safe=""))
        self.pkg = {c.id: ids("pkg", c.id) for c in self.components}
        self.incoming = _common.incoming_types(record)
        self.memo: _common.Memo = {}
        self.edges = [
            e
            for e in _common.sorted_edges(record)
            if e.dependent in self.pkg and e.dependency in self.pkg
        ]
        self.expressions = {c.id: x for c in self.components if (x := _expression(c))}
        scoped: list[int] = []
        for index, edge in enumerate(self.edges):
            for scope in _scopes(edge.types):
                source, target = self.pkg[edge.dependent], self.pkg[edge.dependency]
                rel_id = ids.hashed("rel", source, "dependsOn", target, scope)
                scoped.append(_pack(rel_id, index * 4 + _SCOPES.index(scope)))
        self.scoped = sorted(scoped)
        declared: list[int] = []
        for index, c in enumerate(self.components):
            if c.id in self.expressions:
                lic_id = ids.hashed("license", self.expressions[c.id])
                rel_id = ids.hashed("rel", self.pkg[c.id], "hasDeclaredLicense", lic_id, "")
                declared.append(_pack(rel_id, index))
        self.declared = sorted(declared)
        small: dict[str, list[dict[str, Any]]] = {}
        for e in _build(record, ids, self.pkg):
            small.setdefault(e["type"], []).append(e)
        for expression in sorted(set(self.expressions.values())):
            e = _element(
                "simplelicensing_LicenseExpression",
                ids.hashed("license", expression),
                simplelicensing_licenseExpression=expression,
            )
            small.setdefault(e["type"], []).append(e)
        self.small = {t: sorted(v, key=lambda e: e["spdxId"]) for t, v in small.items()}

    def _relationship(self, packed: int) -> dict[str, Any]:
        code = packed & _LOW
        edge = self.edges[code // 4]
        return _relationship(
            self.ids,
            self.pkg[edge.dependent],
            "dependsOn",
            [self.pkg[edge.dependency]],
            _SCOPES[code % 4],
        )

    def _declared(self, packed: int) -> dict[str, Any]:
        c = self.components[packed & _LOW]
        lic_id = self.ids.hashed("license", self.expressions[c.id])
        return _relationship(self.ids, self.pkg[c.id], "hasDeclaredLicense", [lic_id])

    def _annotation(self, c: Component) -> dict[str, Any]:
        pairs = _common.component_pairs(c, self.incoming.get(c.id, frozenset()), self.memo)
        pairs += [(f"{NS}:id", c.id), (f"{NS}:kind", c.kind)]
        pairs += _common.flatten(f"{NS}:licenses", list(c.licenses))
        return _element(
            "Annotation",
            self.ids("note", c.id),
            annotationType="other",
            subject=self.pkg[c.id],
            statement=_statement(pairs),
        )

    def _typed(self) -> dict[str, Iterable[tuple[str, Callable[[], dict[str, Any]]]]]:
        """Type → its elements in ``spdxId`` order, each as (spdxId, how to make it)."""
        ids = self.ids
        out: dict[str, Iterable[tuple[str, Callable[[], dict[str, Any]]]]] = {
            "Annotation": (
                (ids("note", c.id), functools.partial(self._annotation, c)) for c in self.components
            ),
            "software_Package": (
                (self.pkg[c.id], functools.partial(_package, ids, c)) for c in self.components
            ),
            "LifecycleScopedRelationship": (
                (_unpack_id(ids, p), functools.partial(self._relationship, p)) for p in self.scoped
            ),
            "Relationship": (
                (_unpack_id(ids, p), functools.partial(self._declared, p)) for p in self.declared
            ),
        }
        for kind, elements in self.small.items():
            made: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                (e["spdxId"], functools.partial(dict, e)) for e in elements
            ]
            out[kind] = heapq.merge(made, out[kind], key=lambda x: x[0]) if kind in out else made
        return out

    def __iter__(self) -> Iterator[tuple[str, Callable[[], dict[str, Any]]]]:
        """(spdxId, how to make the element), in the document's order, each id once."""
        last = None
        typed = self._typed()
        for kind in sorted(typed):
            for spdx_id, make in typed[kind]:
                if spdx_id != last:
                    last = spdx_id
                    yield spdx_id, make


_LOW = (1 << 24) - 1


def _pack(rel_id: str, low: int) -> int:
    """A relationship's sort key and origin in one integer: its 20-digit hex digest (which
    orders its ``spdxId`` among the others of its type), then ``low``."""
    return (int(rel_id.rsplit(_REL, 1)[1], 16) << 24) | low


def _unpack_id(ids: _Ids, packed: int) -> str:
    return f"{ids.base}{_REL}{packed >> 24:020x}"


def lazy_document(record: Record) -> Spine:
    """:func:`document` with its elements, and the lists of their ids, made as they are
    written."""
    ids = _Ids(record)
    gen = record.provenance.generator
    agent_id = ids("agent", gen.name)
    elements = _Elements(record, ids)
    roots = [elements.pkg[r] for r in sorted(record.roots) if r in elements.pkg]
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
    note = _element(
        "Annotation",
        ids("note", "document"),
        annotationType="other",
        subject=doc_id,
        statement=_statement(doc_pairs),
    )

    def element_ids() -> Iterator[str]:
        yield from (spdx_id for spdx_id, _ in elements)
        yield note["spdxId"]

    document = Spine(_element("SpdxDocument", doc_id))
    document["name"] = f"{subject.name}@{subject.version}" if subject.version else subject.name
    document["rootElement"] = [sbom_id]
    document["element"] = Items(itertools.chain([agent_id, sbom_id], element_ids()))
    document["profileConformance"] = ["build", "core", "simpleLicensing", "software"]
    sbom = Spine(_element("software_Sbom", sbom_id))
    if roots:
        sbom["rootElement"] = roots
    sbom["element"] = Items(element_ids())
    sbom["software_sbomType"] = ["build"]
    head: list[Any] = [
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
        document,
        sbom,
    ]
    body = (make() for _, make in elements)
    return Spine({"@context": CONTEXT_URL, "@graph": Items(itertools.chain(head, body, [note]))})


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
    buf = io.BytesIO()
    write(record, buf)
    return buf.getvalue()


def write(record: Record, out: BinaryIO) -> None:
    """Write :func:`encode`'s bytes to ``out``, an element at a time."""
    _common.write_json(lazy_document(record), out)
