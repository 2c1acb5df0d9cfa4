"""What the pages show, computed from records and reports (pure: no HTML here).

Templates receive plain data built by these functions and escape every string they print
(Jinja2 autoescaping), so a record's content never becomes markup.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..compat.report import Report, Verdict
from ..record import Component, Dependency, Record
from ..summary import hpc_summary

__all__ = ["MAX_TREE", "cell", "downloads", "record_view", "tree"]

MAX_TREE = 2000
"""Tree nodes shown on a record page; a larger tree is cut, and says so."""


def _label(c: Component | None, cid: str) -> str:
    if c is None:
        return cid
    return f"{c.name}@{c.version}"


def tree(record: Record, *, limit: int = MAX_TREE) -> tuple[list[dict[str, Any]], bool]:
    """The dependency tree from each root as nested nodes (``label``, ``anchor``, ``types``,
    ``virtuals``, ``children``, ``seen``: the anchor of a subtree already shown), and whether
    it was cut at ``limit`` nodes. Iterative: a chain of any length is walked."""
    by_id = {c.id: c for c in record.components}
    index = {c.id: i for i, c in enumerate(record.components)}
    kids: dict[str, list[Dependency]] = defaultdict(list)
    for e in record.dependencies:
        kids[e.dependent].append(e)
    for edges in kids.values():
        edges.sort(key=lambda e: _label(by_id.get(e.dependency), e.dependency))
    shown: set[str] = set()
    count = 0
    cut = False

    def node(cid: str, edge: Dependency | None) -> dict[str, Any]:
        c = by_id.get(cid)
        return {
            "label": _label(c, cid),
            "anchor": f"c{index[cid]}" if cid in index else None,
            "types": list(edge.types) if edge else [],
            "virtuals": list(edge.virtuals) if edge else [],
            "external": bool(c and c.external),
            "children": [],
            "seen": None,
        }

    roots = record.roots or tuple(c.id for c in record.components[:1])
    out: list[dict[str, Any]] = []
    for root in roots:
        top = node(root, None)
        out.append(top)
        stack = [(root, top)]
        while stack:
            cid, n = stack.pop()
            if cid in shown:
                if kids.get(cid):
                    n["seen"] = n["anchor"]
                continue
            shown.add(cid)
            for e in kids.get(cid, []):
                if count >= limit:
                    cut = True
                    break
                count += 1
                child = node(e.dependency, e)
                n["children"].append(child)
            for child_edge, child in reversed(
                list(zip(kids.get(cid, [])[: len(n["children"])], n["children"], strict=True))
            ):
                stack.append((child_edge.dependency, child))
    return out, cut


def _value(v: object) -> str:
    """A variant value as Spack writes it: ``+``/``~`` for booleans, lists with commas."""
    if v is True:
        return "+"
    if v is False:
        return "~"
    if isinstance(v, tuple):
        return ",".join(str(x) for x in v)
    return str(v)


def _component_row(i: int, c: Component) -> dict[str, Any]:
    return {
        "anchor": f"c{i}",
        "name": c.name,
        "version": c.version,
        "kind": c.kind,
        "target": c.target.name if c.target else None,
        "os": c.os,
        "external": c.external,
        "purl": c.purl,
        "licenses": ", ".join(c.licenses),
        "options": ", ".join(f"{k}={_value(v)}" for k, v in c.options.items()),
        "found_by": ", ".join(c.found_by),
        "prefix": c.prefix,
    }


def _sources(record: Record) -> dict[str, str]:
    """Which component each HPC field was read from, when the record says."""
    h = record.hpc
    by_id = {c.id: c for c in record.components}

    def name(cid: str | None) -> str | None:
        if cid is None:
            return None
        c = by_id.get(cid)
        return f"{c.name}@{c.version}" if c else cid

    out: dict[str, str] = {}
    if h.mpi and name(h.mpi.component):
        out["mpi"] = f"component {name(h.mpi.component)}"
    gpus = [name(g.component) for g in h.gpu if g.component]
    if gpus:
        out["gpu"] = "component " + ", ".join(g for g in gpus if g)
    comps = [name(c.component) for c in h.compilers if c.component]
    if comps:
        out["compilers"] = "component " + ", ".join(c for c in comps if c)
    return out


def record_view(record: Record) -> dict[str, Any]:
    """Everything a record page shows, as plain data."""
    nodes, cut = tree(record)
    p = record.provenance
    return {
        "subject": {
            "kind": record.subject.kind,
            "name": record.subject.name,
            "version": record.subject.version,
            "digest": record.subject.digest,
            "ref": record.subject.ref,
            "platform": record.subject.platform,
        },
        "serial": record.serial,
        "schema_version": record.schema_version,
        "roots": [
            _label(next((c for c in record.components if c.id == r), None), r) for r in record.roots
        ],
        "tree": nodes,
        "tree_cut": cut,
        "hpc": hpc_summary(record.hpc),
        "hpc_sources": _sources(record),
        "components": [_component_row(i, c) for i, c in enumerate(record.components)],
        "edges": len(record.dependencies),
        "provenance": {
            "generator": f"{p.generator.name} {p.generator.version or ''}".strip(),
            "builder": (
                f"{p.builder.name} {p.builder.version or ''}".strip() if p.builder else None
            ),
            "extracted_at": p.extracted_at,
            "built_at": p.built_at,
            "started_at": p.started_at,
            "read_from": list(p.read_from),
            "build_host": dict(p.build_host),
        },
        "evidence": [
            {
                "kind": e.kind,
                "path": e.path,
                "digest": e.digest,
                "component": e.component,
                "detail": e.detail,
            }
            for e in record.evidence
        ],
        "unknowns": [
            {"path": u.path, "field": u.field, "reason": u.reason} for u in record.unknowns
        ],
        "annotations": dict(sorted(record.annotations.items())),
    }


def downloads(formats: Mapping[str, str], extensions: Mapping[str, str]) -> list[dict[str, str]]:
    """The export formats offered on a record page: name, media type, file extension."""
    return [
        {"format": name, "media_type": formats[name], "extension": extensions.get(name, "")}
        for name in sorted(formats)
    ]


def cell(report: Report) -> dict[str, Any]:
    """One matrix cell: ``pass`` / ``warn`` (passes with warnings) / ``fail`` / ``unknown``,
    and the reasons (fail and unknown findings; for ``warn`` the warnings; for ``pass`` what
    was checked)."""
    verdict = report.verdict
    warns = [f"{f.code}: {f.reason}" for f in report.findings if f.severity == "warn"]
    if verdict is Verdict.PASS:
        state = "warn" if warns else "pass"
        reasons = warns or [
            f"{f.code}: {f.reason}" for f in report.findings if f.severity == "pass"
        ]
    else:
        state = verdict.value
        reasons = list(report.why_not)
    return {"state": state, "reasons": reasons, "title": "\n".join(reasons) or state}


def matrix_rows(
    entries: Sequence[tuple[dict[str, Any], Sequence[Report]]],
) -> list[dict[str, Any]]:
    """Rows of the compatibility matrix: each record's summary and its cells, host by host."""
    return [
        {"record": summary, "cells": [cell(r) for r in reports]} for summary, reports in entries
    ]
