"""Render the CycloneDX JSON data of :mod:`nameplate.formats.cyclonedx` as CycloneDX XML.

Only the shapes our exporter emits are handled; element order follows the sequences of the
official XSD (``bom-1.6.xsd`` / ``bom-1.7.xsd``), which XML validation enforces.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render"]

_COMPONENT_TEXT = ("name", "version", "description", "scope")


#: Characters XML 1.0 cannot carry at all (not even escaped); they become U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _text(parent: ET.Element, tag: str, value: object) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = _clean(value)
    return el


def _hashes(parent: ET.Element, hashes: Sequence[Mapping[str, str]]) -> None:
    box = ET.SubElement(parent, "hashes")
    for h in hashes:
        _text(box, "hash", h["content"]).set("alg", h["alg"])


def _properties(parent: ET.Element, props: Sequence[Mapping[str, str]]) -> None:
    box = ET.SubElement(parent, "properties")
    for p in props:
        _text(box, "property", p["value"]).set("name", _clean(p["name"]))


def _ext_ref(parent: ET.Element, tag: str, ref: Mapping[str, Any]) -> None:
    el = ET.SubElement(parent, tag, {"type": ref["type"]})
    _text(el, "url", ref["url"])
    if "hashes" in ref:
        _hashes(el, ref["hashes"])


def _licenses(parent: ET.Element, licenses: Sequence[Mapping[str, Any]]) -> None:
    box = ET.SubElement(parent, "licenses")
    for lic in licenses:
        if "expression" in lic:
            _text(box, "expression", lic["expression"])
            continue
        el = ET.SubElement(box, "license")
        body = lic["license"]
        if "id" in body:
            _text(el, "id", body["id"])
        else:
            _text(el, "name", body["name"])


def _component(parent: ET.Element, c: Mapping[str, Any]) -> None:
    attrs = {"type": c["type"]}
    if "bom-ref" in c:
        attrs["bom-ref"] = _clean(c["bom-ref"])
    el = ET.SubElement(parent, "component", attrs)
    for key in _COMPONENT_TEXT:
        if key in c:
            _text(el, key, c[key])
    if "hashes" in c:
        _hashes(el, c["hashes"])
    if "licenses" in c:
        _licenses(el, c["licenses"])
    if "purl" in c:
        _text(el, "purl", c["purl"])
    if "pedigree" in c:
        patches = ET.SubElement(ET.SubElement(el, "pedigree"), "patches")
        for p in c["pedigree"]["patches"]:
            patch = ET.SubElement(patches, "patch", {"type": p["type"]})
            if "diff" in p:
                _text(ET.SubElement(patch, "diff"), "url", p["diff"]["url"])
    if "externalReferences" in c:
        box = ET.SubElement(el, "externalReferences")
        for ref in c["externalReferences"]:
            _ext_ref(box, "reference", ref)
    if "properties" in c:
        _properties(el, c["properties"])


def _components(parent: ET.Element, components: Sequence[Mapping[str, Any]]) -> None:
    box = ET.SubElement(parent, "components")
    for c in components:
        _component(box, c)


def _metadata(parent: ET.Element, meta: Mapping[str, Any]) -> None:
    el = ET.SubElement(parent, "metadata")
    _text(el, "timestamp", meta["timestamp"])
    phases = ET.SubElement(el, "lifecycles")
    for lc in meta["lifecycles"]:
        _text(ET.SubElement(phases, "lifecycle"), "phase", lc["phase"])
    _components(ET.SubElement(el, "tools"), meta["tools"]["components"])
    _component(el, meta["component"])
    if "properties" in meta:
        _properties(el, meta["properties"])


def _resource(parent: ET.Element, choice: Mapping[str, Any]) -> None:
    el = ET.SubElement(parent, "resource")
    if "ref" in choice:
        _text(el, "ref", choice["ref"])
    else:
        _ext_ref(el, "externalReference", choice["externalReference"])


def _workflow(parent: ET.Element, wf: Mapping[str, Any]) -> None:
    el = ET.SubElement(parent, "workflow", {"bom-ref": wf["bom-ref"]})
    _text(el, "uid", wf["uid"])
    if "name" in wf:
        _text(el, "name", wf["name"])
    if "resourceReferences" in wf:
        box = ET.SubElement(el, "resourceReferences")
        for r in wf["resourceReferences"]:
            _text(ET.SubElement(box, "resourceReference"), "ref", r["ref"])
    types = ET.SubElement(el, "taskTypes")
    for t in wf["taskTypes"]:
        _text(types, "taskType", t)
    for key, tag in (("inputs", "input"), ("outputs", "output")):
        if key in wf:
            box = ET.SubElement(el, key)
            for item in wf[key]:
                _resource(ET.SubElement(box, tag), item["resource"])
    for key in ("timeStart", "timeEnd"):
        if key in wf:
            _text(el, key, wf[key])
    if "properties" in wf:
        _properties(el, wf["properties"])


def render(doc: Mapping[str, Any]) -> bytes:
    """The XML bytes of CycloneDX JSON data ``doc`` (as made by ``cyclonedx.document``)."""
    version = doc["specVersion"]
    root = ET.Element(
        "bom",
        {
            "xmlns": f"http://cyclonedx.org/schema/bom/{version}",
            "serialNumber": _clean(doc["serialNumber"]),
            "version": str(doc["version"]),
        },
    )
    _metadata(root, doc["metadata"])
    _components(root, doc["components"])
    deps = ET.SubElement(root, "dependencies")
    for d in doc["dependencies"]:
        el = ET.SubElement(deps, "dependency", {"ref": _clean(d["ref"])})
        for target in d["dependsOn"]:
            ET.SubElement(el, "dependency", {"ref": _clean(target)})
    formulation = ET.SubElement(root, "formulation")
    for f in doc["formulation"]:
        formula = ET.SubElement(formulation, "formula", {"bom-ref": f["bom-ref"]})
        if "components" in f:
            _components(formula, f["components"])
        workflows = ET.SubElement(formula, "workflows")
        for wf in f["workflows"]:
            _workflow(workflows, wf)
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode()
