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
import re
from typing import Any, Literal

from ..errors import ExportError
from ..record import Component, Record
from . import _common
from ._common import NS

__all__ = ["SPEC_VERSIONS", "document", "encode"]

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
    c: Component, deptypes: set[str], build_deps: list[str], provides: set[str]
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
    pairs = _common.component_pairs(c, deptypes)
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


def _formulation(record: Record, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prov = record.provenance
    builder = prov.builder
    name = f"build of {record.subject.name}"
    if builder is not None:
        name = f"{builder.name} build of {record.subject.name}"
    workflow: dict[str, Any] = {
        "bom-ref": BUILD_REF,
        "uid": record.serial,
        "name": name,
        "taskTypes": ["build"],
    }
    refs = [{"ref": t["bom-ref"]} for t in tools]
    refs += [{"ref": c.component} for c in record.hpc.compilers if c.component]
    unique_refs = sorted({r["ref"] for r in refs})
    if unique_refs:
        workflow["resourceReferences"] = [{"ref": r} for r in unique_refs]
    inputs: list[dict[str, Any]] = []
    for c in _common.sorted_components(record):
        for src in c.sources:
            if not _common.is_url(src.url):
                continue
            ext: dict[str, Any] = {"type": "source-distribution", "url": src.url}
            hashes = _hashes(src.checksums)
            if hashes:
                ext["hashes"] = hashes
            item = {"resource": {"externalReference": ext}}
            if item not in inputs:  # the schema wants unique items
                inputs.append(item)
    if inputs:
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
    formula: dict[str, Any] = {"bom-ref": FORMULA_REF}
    if tools:
        formula["components"] = tools
    formula["workflows"] = [workflow]
    return [formula]


def _compiler_dict(comp: Any) -> Any:
    from .._codec import to_jsonable

    return to_jsonable(comp)


def document(record: Record, *, version: str = "1.6") -> dict[str, Any]:
    """The CycloneDX document for ``record`` as JSON data."""
    if version not in SPEC_VERSIONS:
        raise ExportError(f"CycloneDX {version} is not supported (supported: 1.6, 1.7)")
    incoming = _common.incoming_types(record)
    tools_only = _common.build_only(record)
    build_deps: dict[str, list[str]] = {}
    runtime: dict[str, set[str]] = {}
    provides: dict[str, set[str]] = {}
    for edge in _common.sorted_edges(record):
        provides.setdefault(edge.dependency, set()).update(edge.virtuals)
        if {"link", "run"} & set(edge.types) and edge.dependency not in tools_only:
            runtime.setdefault(edge.dependent, set()).add(edge.dependency)
        else:
            build_deps.setdefault(edge.dependent, []).append(edge.dependency)
    components: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    for comp in _common.sorted_components(record):
        item = _component(
            comp,
            incoming.get(comp.id, set()),
            build_deps.get(comp.id, []),
            provides.get(comp.id, set()),
        )
        if comp.id in tools_only:
            item["scope"] = "excluded"
            tools.append(item)
        else:
            components.append(item)
    known = {c["bom-ref"] for c in components}
    dependencies = [
        {"ref": SUBJECT_REF, "dependsOn": sorted(r for r in record.roots if r in known)}
    ]
    for c in components:
        ref = c["bom-ref"]
        dependencies.append(
            {"ref": ref, "dependsOn": sorted(d for d in runtime.get(ref, ()) if d in known)}
        )
    return {
        "$schema": f"http://cyclonedx.org/schema/bom-{version}.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": version,
        "serialNumber": record.serial,
        "version": 1,
        "metadata": _metadata(record),
        "components": components,
        "dependencies": dependencies,
        "formulation": _formulation(record, tools),
    }


def encode(
    record: Record, *, version: str = "1.6", fmt: Literal["json", "xml"] | str = "json"
) -> bytes:
    """``record`` as a CycloneDX ``version`` document in ``fmt`` (``json`` or ``xml``)."""
    doc = document(record, version=version)
    if fmt == "json":
        return _common.dump_json(doc)
    if fmt == "xml":
        from . import _cdx_xml

        return _cdx_xml.render(doc)
    raise ExportError(f"CycloneDX encoding {fmt!r} is not supported (json, xml)")
