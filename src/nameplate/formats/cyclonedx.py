"""Record → CycloneDX 1.6 / 1.7, JSON and XML.

The JSON document is built directly as data (cyclonedx-python-lib has no model for
``formulation`` and its dependency registration is quadratic); the XML document is the same data
rendered by :mod:`nameplate.formats._cdx_xml` in the order the XSD requires. Both validate against
the official schemas bundled in cyclonedx-python-lib (see ``tests/formats/``).

Mapping (full table in ``docs/formats/cyclonedx.md``):

- ``serialNumber`` ← ``Record.serial``; ``metadata.timestamp`` ← ``provenance.extracted_at``;
  ``bom-ref`` ← component id; the subject is ``metadata.component`` (``bom-ref``
  ``nameplate:subject``).
- Components reached only through ``build``/``test`` edges (compilers, cmake...) go to
  ``formulation[0].components``; the build itself is ``formulation[0].workflows[0]`` (builder,
  time, source inputs with digests, outputs = roots). All others are ``components``.
- ``dependencies`` is the runtime graph (``link``/``run`` edges); build edges are kept as the
  ``nameplate:build-dependency`` property of the dependent, edge types as ``nameplate:deptypes``
  of the dependency.
- Patches → ``pedigree.patches`` (``type: unofficial``, ``diff.url``).
- HPC fields → ``metadata.properties`` named ``nameplate:hpc:<path>``; component fields without
  a CycloneDX slot → ``nameplate:<path>`` properties.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any, BinaryIO, Literal

from ..errors import ExportError
from ..record import Component, Record
from . import _common
from ._common import NS, Items, Spine

__all__ = ["SPEC_VERSIONS", "document", "encode", "lazy_document", "write"]

SPEC_VERSIONS = ("1.6", "1.7")

_HEX = re.compile(
    r"^([a-fA-F0-9]{32}|[a-fA-F0-9]{40}|[a-fA-F0-9]{64}|[a-fA-F0-9]{96}|[a-fA-F0-9]{128})$"
)

_TYPES = _common.COMPONENT_PURPOSE

_SUBJECT_TYPES: dict[str, str] = {
    "image": "container",
    "binary": "file",
    "artifact": "file",
}

SUBJECT_REF = f"{NS}:subject"
FORMULA_REF = f"{NS}:formula"
BUILD_REF = f"{NS}:build"


@functools.cache
def _spdx_ids() -> frozenset[str]:
    import json
    from importlib.resources import files

    res = files("cyclonedx.schema._res") / "spdx.SNAPSHOT.schema.json"
    return frozenset(json.loads(res.read_text())["enum"])


@functools.cache
def _is_expression(text: str) -> bool:
    from license_expression import get_spdx_licensing

    # LicenseRef- symbols are allowed in expressions: check the rest
    probe = re.sub(r"LicenseRef-[A-Za-z0-9.-]+", "MIT", text)
    info = get_spdx_licensing().validate(probe)
    return not info.errors and not info.invalid_symbols


def _license(text: str) -> dict[str, Any]:
    if text in _spdx_ids():
        return {"license": {"id": text}}
    if any(op in text for op in (" AND ", " OR ", " WITH ")) and _is_expression(text):
        return {"expression": text}
    return {"license": {"name": text}}


def _licenses(texts: tuple[str, ...]) -> list[dict[str, Any]]:
    items = [_license(t) for t in texts]
    if len(items) == 1 or all("license" in i and "id" in i["license"] for i in items):
        return items
    # CycloneDX allows either license objects or one expression: several licenses of which
    # some are expressions (or LicenseRef-s) become one expression, all of them together.
    joined = " AND ".join(f"({t})" if " " in t else t for t in texts)
    if _is_expression(joined):
        return [{"expression": joined}]
    return [
        {"license": {"name": t}} if "expression" in i else i
        for t, i in zip(texts, items, strict=True)
    ]


def _hashes(hashes: Any) -> list[dict[str, str]]:
    return [
        {"alg": alg, "content": value}
        for alg, value in _common.digest_hashes(hashes, _common.CDX_HASH_ALGS)
        if _HEX.match(value)
    ]


def _properties(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": n, "value": v} for n, v in dict.fromkeys(pairs)]


def _component(
    c: Component,
    deptypes: AbstractSet[str],
    build_deps: list[str],
    provides: AbstractSet[str],
    memo: _common.Memo | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _TYPES.get(c.kind, "library"), "bom-ref": c.id}
    out["name"] = c.name
    if c.version:
        out["version"] = c.version
    if c.description:
        out["description"] = c.description
    out["scope"] = "required"
    hashes = _hashes(c.hashes)
    if hashes:
        out["hashes"] = hashes
    if c.licenses:
        out["licenses"] = _licenses(c.licenses)
    if c.cpe:
        out["cpe"] = c.cpe
    if c.purl:
        out["purl"] = c.purl
    patches = [
        {"type": "unofficial", **({"diff": {"url": p.url}} if _common.is_url(p.url) else {})}
        for p in c.patches
    ]
    if patches:
        out["pedigree"] = {"patches": patches}
    refs: list[dict[str, Any]] = []
    if _common.is_url(c.homepage):
        refs.append({"type": "website", "url": c.homepage})
    for src in c.sources:
        if _common.is_url(src.url):
            ref: dict[str, Any] = {"type": "source-distribution", "url": src.url}
            src_hashes = _hashes(src.checksums)
            if src_hashes:
                ref["hashes"] = src_hashes
            refs.append(ref)
    if refs:
        out["externalReferences"] = refs
    pairs = _common.component_pairs(c, deptypes, memo)
    pairs += [(f"{NS}:build-dependency", d) for d in build_deps]
    pairs += [(f"{NS}:provides", v) for v in sorted(provides)]
    if pairs:
        out["properties"] = _properties(pairs)
    return out


def _subject(record: Record) -> dict[str, Any]:
    s = record.subject
    out: dict[str, Any] = {
        "type": _SUBJECT_TYPES.get(s.kind, "application"),
        "bom-ref": SUBJECT_REF,
        "name": s.name,
    }
    if s.version:
        out["version"] = s.version
    if s.digest and ":" in s.digest:
        alg, value = s.digest.split(":", 1)
        hashes = _hashes([_digest_hash(alg, value)])
        if hashes:
            out["hashes"] = hashes
    pairs = _common.flatten(f"{NS}:subject", {"kind": s.kind, "ref": s.ref, "status": s.status})
    if s.digest:
        pairs.append((f"{NS}:subject:digest", s.digest))
    out["properties"] = _properties(pairs)
    return out


def _digest_hash(alg: str, value: str) -> Any:
    from ..record import Hash

    return Hash(algorithm=alg, value=value)


def _metadata(record: Record) -> dict[str, Any]:
    gen = record.provenance.generator
    tool: dict[str, Any] = {"type": "application", "name": gen.name}
    if gen.version:
        tool["version"] = gen.version
    phase = "post-build" if record.subject.kind == "image" else "build"
    pairs = _common.hpc_pairs(record)
    part = functools.partial(_common.record_part, record)
    pairs += _common.flatten(f"{NS}:annotation", part("annotations"))
    pairs += _common.flatten(f"{NS}:evidence", part("evidence"))
    pairs += _common.flatten(f"{NS}:unknown", part("unknowns"))
    pairs += _common.flatten(f"{NS}:provenance:read-from", list(record.provenance.read_from))
    pairs.append((f"{NS}:schema-version", record.schema_version))
    return {
        "timestamp": record.provenance.extracted_at,
        "lifecycles": [{"phase": phase}],
        "tools": {"components": [tool]},
        "component": _subject(record),
        "properties": _properties(pairs),
    }


def _inputs(components: list[Component]) -> Iterator[dict[str, Any]]:
    """The workflow's inputs: every source with a URL, once (the schema wants unique items)."""
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for c in components:
        for src in c.sources:
            if not _common.is_url(src.url):
                continue
            assert src.url is not None
            hashes = _hashes(src.checksums)
            key = (src.url, tuple((h["alg"], h["content"]) for h in hashes))
            if key in seen:
                continue
            seen.add(key)
            ext: dict[str, Any] = {"type": "source-distribution", "url": src.url}
            if hashes:
                ext["hashes"] = hashes
            yield {"resource": {"externalReference": ext}}


def _formulation(
    record: Record, components: list[Component], tools: Items, tool_refs: list[str]
) -> Items:
    prov = record.provenance
    builder = prov.builder
    name = f"build of {record.subject.name}"
    if builder is not None:
        name = f"{builder.name} build of {record.subject.name}"
    workflow = Spine(
        {"bom-ref": BUILD_REF, "uid": record.serial, "name": name, "taskTypes": ["build"]}
    )
    refs = [*tool_refs, *(c.component for c in record.hpc.compilers if c.component)]
    unique_refs = sorted(set(refs))
    if unique_refs:
        workflow["resourceReferences"] = [{"ref": r} for r in unique_refs]
    inputs = _common.nonempty(_inputs(components))
    if inputs is not None:
        workflow["inputs"] = inputs
    outputs = [{"resource": {"ref": r}} for r in sorted(record.roots)]
    if outputs:
        workflow["outputs"] = outputs
    if prov.built_at:
        workflow["timeEnd"] = prov.built_at
    pairs: list[tuple[str, str]] = []
    if builder is not None:
        pairs += _common.flatten(
            f"{NS}:builder",
            {"name": builder.name, "version": builder.version, "commit": builder.commit},
        )
    pairs += _common.flatten(f"{NS}:build-host", dict(prov.build_host))
    for i, comp in enumerate(record.hpc.compilers):
        pairs += _common.flatten(f"{NS}:hpc:compilers:{i}", _compiler_dict(comp))
    if pairs:
        workflow["properties"] = _properties(pairs)
    formula = Spine({"bom-ref": FORMULA_REF})
    if tool_refs:
        formula["components"] = tools
    formula["workflows"] = Items([workflow])
    return Items([formula])


def _compiler_dict(comp: Any) -> Any:
    from .._codec import to_jsonable

    return to_jsonable(comp)


def document(record: Record, *, version: str = "1.6") -> dict[str, Any]:
    """The CycloneDX document for ``record`` as JSON data."""
    data: dict[str, Any] = _common.materialize(lazy_document(record, version=version))
    return data


def lazy_document(record: Record, *, version: str = "1.6") -> Spine:
    """:func:`document` with its long lists (components, dependencies, tools, inputs) made as
    they are written (:func:`_common.write_json`), one component at a time."""
    if version not in SPEC_VERSIONS:
        raise ExportError(f"CycloneDX {version} is not supported (supported: 1.6, 1.7)")
    incoming = _common.incoming_types(record)
    tools_only = _common.build_only(record)
    build_deps: dict[str, list[str]] = {}
    runtime: dict[str, list[str]] = {}
    provides: dict[str, set[str]] = {}
    for edge in _common.sorted_edges(record):
        if edge.virtuals:
            provides.setdefault(edge.dependency, set()).update(edge.virtuals)
        if {"link", "run"} & set(edge.types) and edge.dependency not in tools_only:
            runtime.setdefault(edge.dependent, []).append(edge.dependency)
        else:
            build_deps.setdefault(edge.dependent, []).append(edge.dependency)
    components = _common.sorted_components(record)
    empty: frozenset[str] = frozenset()
    memo: _common.Memo = {}

    def item(comp: Component) -> dict[str, Any]:
        out = _component(
            comp,
            incoming.get(comp.id, empty),
            build_deps.get(comp.id, []),
            provides.get(comp.id, empty),
            memo,
        )
        if comp.id in tools_only:
            out["scope"] = "excluded"
        return out

    shipped = [c for c in components if c.id not in tools_only]
    tool_refs = [c.id for c in components if c.id in tools_only]
    known = {c.id for c in shipped}

    def dependencies() -> Iterator[dict[str, Any]]:
        yield {"ref": SUBJECT_REF, "dependsOn": sorted(r for r in record.roots if r in known)}
        for c in shipped:
            targets = {d for d in runtime.get(c.id, ()) if d in known}
            yield {"ref": c.id, "dependsOn": sorted(targets)}

    tools = Items(item(c) for c in components if c.id in tools_only)
    return Spine(
        {
            "$schema": f"http://cyclonedx.org/schema/bom-{version}.schema.json",
            "bomFormat": "CycloneDX",
            "specVersion": version,
            "serialNumber": record.serial,
            "version": 1,
            "metadata": _metadata(record),
            "components": Items(item(c) for c in shipped),
            "dependencies": Items(dependencies()),
            "formulation": _formulation(record, components, tools, tool_refs),
        }
    )


def encode(
    record: Record, *, version: str = "1.6", fmt: Literal["json", "xml"] | str = "json"
) -> bytes:
    """``record`` as a CycloneDX ``version`` document in ``fmt`` (``json`` or ``xml``)."""
    buf = io.BytesIO()
    write(record, buf, version=version, fmt=fmt)
    return buf.getvalue()


def write(
    record: Record,
    out: BinaryIO,
    *,
    version: str = "1.6",
    fmt: Literal["json", "xml"] | str = "json",
) -> None:
    """Write :func:`encode`'s bytes to ``out``, a component at a time."""
    if fmt not in ("json", "xml"):
        raise ExportError(f"CycloneDX encoding {fmt!r} is not supported (json, xml)")
    doc = lazy_document(record, version=version)
    if fmt == "json":
        _common.write_json(doc, out)
    else:
        from . import _cdx_xml

        _cdx_xml.write(doc, out)
