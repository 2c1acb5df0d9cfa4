"""Render the CycloneDX JSON data of :mod:`nameplate.formats.cyclonedx` as CycloneDX XML.

Only the shapes our exporter emits are handled; element order follows the sequences of the
official XSD (``bom-1.6.xsd`` / ``bom-1.7.xsd``), which XML validation enforces.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from ._common import write_text

__all__ = ["render", "write"]

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


def _components(parent: ET.Element, components: Iterable[Mapping[str, Any]]) -> None:
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
    buf = io.BytesIO()
    write(doc, buf)
    return buf.getvalue()


class _Lazy:
    """An element whose children are made while it is written."""

    __slots__ = ("attrs", "children", "tag")

    def __init__(
        self, tag: str, children: Iterable[ET.Element | _Lazy], attrs: Mapping[str, str]
    ) -> None:
        self.tag = tag
        self.children = children
        self.attrs = dict(attrs)


def _pieces(node: ET.Element | _Lazy, level: int) -> Iterator[str]:
    """The text ``ET.indent`` + ``ET.tostring`` give ``node`` at depth ``level`` of a whole
    tree, one child at a time."""
    if isinstance(node, ET.Element):
        ET.indent(node, space="  ", level=level)
        yield ET.tostring(node, encoding="unicode", short_empty_elements=True)
        return
    empty = ET.Element(node.tag, node.attrs)
    children = iter(node.children)
    first = next(children, None)
    if first is None:
        yield ET.tostring(empty, encoding="unicode", short_empty_elements=True)
        return
    empty.text = "x"
    opening = ET.tostring(empty, encoding="unicode")
    yield opening[: opening.rindex("x</")]
    for child in itertools.chain([first], children):
        yield "\n" + "  " * (level + 1)
        yield from _pieces(child, level + 1)
    yield "\n" + "  " * level + f"</{node.tag}>"


def _one(build: Callable[[ET.Element], None]) -> ET.Element:
    """The one element ``build`` adds to a scratch parent."""
    scratch = ET.Element("scratch")
    build(scratch)
    (element,) = scratch
    return element


def _lazy_components(tag: str, components: Iterable[Mapping[str, Any]]) -> _Lazy:
    return _Lazy(tag, (_one(functools.partial(_component, c=c)) for c in components), {})


def _dependencies(deps: Iterable[Mapping[str, Any]]) -> _Lazy:
    def one(d: Mapping[str, Any]) -> ET.Element:
        el = ET.Element("dependency", {"ref": _clean(d["ref"])})
        for target in d["dependsOn"]:
            ET.SubElement(el, "dependency", {"ref": _clean(target)})
        return el

    return _Lazy("dependencies", (one(d) for d in deps), {})


def _lazy_workflow(wf: Mapping[str, Any]) -> _Lazy:
    """A workflow whose inputs are made while it is written (see :func:`_workflow`)."""
    head = _one(lambda p: _workflow(p, {k: v for k, v in wf.items() if k != "inputs"}))
    if "inputs" not in wf:
        return _Lazy(head.tag, list(head), head.attrib)
    before = ("uid", "name", "resourceReferences", "taskTypes")
    children = list(head)
    split = sum(1 for el in children if el.tag in before)

    def inputs() -> Iterator[ET.Element]:
        for item in wf["inputs"]:
            el = ET.Element("input")
            _resource(el, item["resource"])
            yield el

    return _Lazy(
        head.tag,
        itertools.chain(children[:split], [_Lazy("inputs", inputs(), {})], children[split:]),
        head.attrib,
    )


def _formula(f: Mapping[str, Any]) -> _Lazy:
    parts: list[ET.Element | _Lazy] = []
    if "components" in f:
        parts.append(_lazy_components("components", f["components"]))
    parts.append(_Lazy("workflows", (_lazy_workflow(wf) for wf in f["workflows"]), {}))
    return _Lazy("formula", parts, {"bom-ref": f["bom-ref"]})


def write(doc: Mapping[str, Any], out: BinaryIO) -> None:
    """Write :func:`render`'s bytes of ``doc`` (whose long lists may be made lazily) to
    ``out``, a component at a time."""
    version = doc["specVersion"]
    attrs = {
        "xmlns": f"http://cyclonedx.org/schema/bom/{version}",
        "serialNumber": _clean(doc["serialNumber"]),
        "version": str(doc["version"]),
    }
    root = _Lazy(
        "bom",
        [
            _one(lambda p: _metadata(p, doc["metadata"])),
            _lazy_components("components", doc["components"]),
            _dependencies(doc["dependencies"]),
            _Lazy("formulation", (_formula(f) for f in doc["formulation"]), {}),
        ],
        attrs,
    )
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    write_text(itertools.chain([head], _pieces(root, 0), ["\n"]), out)
