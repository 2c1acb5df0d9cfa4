"""Record → RDF: JSON-LD and Turtle with nameplate's own vocabulary (``vocab/``).

The JSON-LD document is the record's JSON with the local context inlined (``vocab/context.jsonld``)
and an ``@id``/``@type`` on every node, so the output is self-contained: no remote context is
ever fetched, by us or by a consumer. Node IRIs derive from the serial and the component ids
(``https://w3id.org/nameplate/record/<uuid>#component/<id>``), so there are no blank nodes and the
same record always gives the same graph and the same bytes.

Free-form maps (``options``, ``flags``, ``properties``, ``annotations``, ``build_host``) are
``rdf:JSON`` literals; arrays are unordered in RDF, as JSON-LD defines them.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from .. import _codec, _resources
from ..errors import ExportError
from ..record import Record
from . import _common
from ._common import Items, Spine

if TYPE_CHECKING:
    import rdflib

__all__ = [
    "VOCAB",
    "base_iri",
    "component_node",
    "context",
    "document",
    "edge_node",
    "encode",
    "graph",
    "lazy_document",
    "load_graph",
    "query",
    "scoped_terms",
    "turtle_lines",
    "write",
]

VOCAB = "https://w3id.org/nameplate/vocab#"

#: Record key → class of the objects under it (for ``@type``).
_CLASSES: Mapping[str, str] = {
    "subject": "Subject",
    "components": "Component",
    "dependencies": "Dependency",
    "hpc": "Hpc",
    "provenance": "Provenance",
    "evidence": "Evidence",
    "unknowns": "Unknown",
    "target": "CpuTarget",
    "compilers": "Compiler",
    "mpi": "Mpi",
    "gpu": "Gpu",
    "libc": "Libc",
    "cxx": "CxxRuntime",
    "os": "OperatingSystem",
    "math_libraries": "MathLibrary",
    "hashes": "Hash",
    "checksums": "Hash",
    "digests": "Hash",
    "sources": "Source",
    "patches": "Patch",
    "files": "FileDigest",
    "toolchain": "Toolchain",
    "generator": "Tool",
    "builder": "Tool",
}

#: Keys whose values are JSON literals (never nodes).
_JSON_KEYS = frozenset({"options", "flags", "properties", "annotations", "build_host"})


@functools.cache
def context() -> Mapping[str, Any]:
    """The JSON-LD context of the vocabulary (the value of ``@context``), from ``vocab/``."""
    data = _resources.load_json("vocab", "context.jsonld")
    ctx: Mapping[str, Any] = data["@context"]
    return ctx


def base_iri(record: Record) -> str:
    """The IRI of the record node: ``https://w3id.org/nameplate/record/<serial uuid>``."""
    return f"https://w3id.org/nameplate/record/{record.serial.rsplit(':', 1)[-1]}"


def _q(text: str) -> str:
    return quote(text, safe="")


def _node(value: Any, iri: str, cls: str | None) -> Any:
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {"@id": iri}
    if cls is not None:
        out["@type"] = cls
    for key, item in value.items():
        out[key] = item if key in _JSON_KEYS else _child(key, item, iri)
    return out


def _child(key: str, value: Any, parent: str) -> Any:
    cls = _CLASSES.get(key)
    if isinstance(value, list):
        if not value or not isinstance(value[0], Mapping):
            return value
        return [_node(v, f"{parent}/{key}/{i}", cls) for i, v in enumerate(value)]
    return _node(value, f"{parent}/{key}", cls)


def document(record: Record) -> dict[str, Any]:
    """The JSON-LD document of ``record`` (context inlined) as JSON data."""
    data: dict[str, Any] = _common.materialize(lazy_document(record))
    return data


def _components(record: Record) -> list[Any]:
    return sorted(record.components, key=lambda c: c.id)


def _edges(record: Record) -> list[Any]:
    return sorted(record.dependencies, key=lambda d: (d.dependent, d.dependency))


def component_node(base: str, component: Any) -> dict[str, Any]:
    """The JSON-LD node of one component."""
    node: dict[str, Any] = _node(
        _codec.to_jsonable(component), f"{base}#component/{_q(component.id)}", "Component"
    )
    return node


def edge_node(base: str, edge: Any) -> dict[str, Any]:
    """The JSON-LD node of one dependency edge."""
    iri = f"{base}#dependency/{_q(edge.dependent)}/{_q(edge.dependency)}"
    node: dict[str, Any] = _node(_codec.to_jsonable(edge), iri, "Dependency")
    return node


def lazy_document(record: Record, *, lists: bool = True) -> Spine:
    """:func:`document` with its components and edges made as they are written; without
    ``lists``, the document of everything else (the record node and its small children)."""
    _common.sorted_components(record)  # refuses duplicate ids, which would merge nodes
    base = base_iri(record)
    small = dataclasses.replace(record, components=(), dependencies=()).to_dict()
    out = Spine({"@context": dict(context()), "@id": base, "@type": "Record"})
    for f in dataclasses.fields(record):
        key = f.metadata.get("json", f.name)
        if key == "components":
            if lists and record.components:
                out[key] = Items(component_node(base, c) for c in _components(record))
        elif key == "dependencies":
            if lists and record.dependencies:
                out[key] = Items(edge_node(base, d) for d in _edges(record))
        elif key not in small:
            continue
        elif key in _JSON_KEYS:
            out[key] = small[key]
        else:
            out[key] = _child(key, small[key], f"{base}#")
    return out


def _new_graph(store: str = "default") -> rdflib.Graph:
    import rdflib

    g = rdflib.Graph(store=store)
    for prefix, iri in _PREFIXES.items():
        g.bind(prefix, iri)
    return g


_PREFIXES: Mapping[str, str] = {
    "np": VOCAB,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "schema": "https://schema.org/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
_XSD = "http://www.w3.org/2001/XMLSchema#"

#: (kind, iri) where kind is "node"/"lit" (plain), "json" or "typed:<datatype IRI>".
_Term = tuple[str, str]


def _expand(iri: str, ctx: Mapping[str, Any]) -> str:
    prefix, sep, local = iri.partition(":")
    if sep and not local.startswith("//") and isinstance(ctx.get(prefix), str):
        return str(ctx[prefix]) + local
    return iri


@functools.cache
def _terms() -> tuple[dict[str, _Term], dict[str, dict[str, _Term]]]:
    """Term → (kind, IRI), plus the property-scoped term overrides (``target`` → ``flags``)."""
    ctx = context()
    terms: dict[str, _Term] = {}
    scoped: dict[str, dict[str, _Term]] = {}
    for name, value in ctx.items():
        if name.startswith("@"):
            continue
        if isinstance(value, str):
            terms[name] = ("plain", _expand(value, ctx))
            continue
        iri = _expand(value["@id"], ctx)
        kind = value.get("@type")
        if kind == "@json":
            terms[name] = ("json", iri)
        elif isinstance(kind, str):
            terms[name] = ("typed:" + _expand(kind, ctx), iri)
        else:
            terms[name] = ("plain", iri)
        if isinstance(value.get("@context"), Mapping):
            scoped[name] = {
                inner: ("plain", _expand(str(v), ctx)) for inner, v in value["@context"].items()
            }
    return terms, scoped


Triple = tuple[Any, Any, Any]


def _triples(doc: Mapping[str, Any], local: Mapping[str, _Term] | None = None) -> list[Triple]:
    """The RDF triples of a document made by :func:`document` (or of one node of it, under
    the scoped ``local`` terms of where it sits), as rdflib terms.

    This is JSON-LD expansion for the shapes :func:`document` writes (every node has an
    ``@id``; no lists, no language maps); a test proves the result isomorphic to rdflib's own
    JSON-LD parse of the same document.
    """
    from rdflib import Literal, URIRef

    terms, scoped = _terms()
    out: list[Triple] = []

    def node(obj: Mapping[str, Any], local: Mapping[str, _Term]) -> URIRef:
        subject = URIRef(obj["@id"])
        if "@type" in obj:
            out.append((subject, URIRef(_RDF_TYPE), URIRef(terms[obj["@type"]][1])))
        for key, value in obj.items():
            if key.startswith("@"):
                continue
            kind, iri = local.get(key) or terms[key]
            predicate = URIRef(iri)
            if kind == "json":
                text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
                out.append((subject, predicate, Literal(text, datatype=URIRef(_RDF_JSON))))
                continue
            inner = {**local, **scoped.get(key, {})}
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping):
                    out.append((subject, predicate, node(item, inner)))
                elif kind.startswith("typed:"):
                    out.append((subject, predicate, Literal(item, datatype=URIRef(kind[6:]))))
                else:
                    out.append((subject, predicate, Literal(item)))
        return subject

    node(doc, local or {})
    return out


def scoped_terms(key: str) -> Mapping[str, _Term]:
    """The terms in force inside the nodes under the record's ``key``."""
    return dict(_terms()[1].get(key, {}))


def _parse_into(g: rdflib.Graph, doc: Mapping[str, Any]) -> None:
    g.addN((s, p, o, g) for s, p, o in _triples(doc))


def graph(record: Record) -> rdflib.Graph:
    """The RDF graph of ``record``."""
    g = _new_graph()
    _parse_into(g, document(record))
    return g


def _turtle_term(term: Any, prefixes: list[tuple[str, str]]) -> str:
    from rdflib import Literal

    if isinstance(term, Literal):
        text = str(term)
        for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
            text = text.replace(raw, escaped)
        if term.datatype is None:
            return f'"{text}"'
        return f'"{text}"^^{_turtle_term(term.datatype, prefixes)}'
    iri = str(term)
    for prefix, ns in prefixes:
        local = iri[len(ns) :]
        if (
            iri.startswith(ns)
            and local
            and local.replace("_", "a").isalnum()
            and local[0].isalpha()
        ):
            return f"{prefix}:{local}"
    return f"<{iri}>"


_Block = tuple[str, list[str]]
"""A Turtle subject and the lines of its block (the subject line, one per predicate, "")."""

_OBJECT_SEP = ",\n        "


def _blocks(triples: Iterable[Triple]) -> list[_Block]:
    """The Turtle blocks of ``triples``, by subject: predicates in order (``a`` first), objects
    sorted and joined."""
    prefixes = _SORTED_PREFIXES
    by_subject: dict[str, dict[str, set[str]]] = {}
    names: dict[Any, str] = {}
    for s, p, o in triples:
        if p not in names:
            names[p] = "a" if str(p) == _RDF_TYPE else _turtle_term(p, prefixes)
        objects = by_subject.setdefault(str(s), {}).setdefault(names[p], set())
        objects.add(_turtle_term(o, prefixes))
    out: list[_Block] = []
    for subject in sorted(by_subject):
        preds = by_subject[subject]
        ordered = sorted(preds, key=lambda p: (p != "a", p))
        lines = [f"<{subject}>"]
        for i, predicate in enumerate(ordered):
            end = " ;" if i < len(ordered) - 1 else " ."
            lines.append(f"    {predicate} {_OBJECT_SEP.join(sorted(preds[predicate]))}{end}")
        lines.append("")
        out.append((subject, lines))
    return out


_SORTED_PREFIXES = sorted(_PREFIXES.items())


def _component_blocks(record: Record, base: str) -> Iterator[_Block]:
    """The blocks of every component's nodes, in subject order. A component's nodes sort after
    its own IRI but may interleave with another component's (``x`` < ``x-y`` < ``x/target``),
    so the blocks of each component join a merge only once every block before them is out."""
    local = scoped_terms("components")
    ordered = iter(sorted(record.components, key=lambda c: _q(c.id)))
    heap: list[tuple[str, int, list[str], Iterator[_Block]]] = []
    nxt = next(ordered, None)
    seq = 0
    while heap or nxt is not None:
        while nxt is not None and (not heap or f"{base}#component/{_q(nxt.id)}" <= heap[0][0]):
            blocks = iter(_blocks(_triples(component_node(base, nxt), local)))
            first = next(blocks, None)
            if first is not None:
                heapq.heappush(heap, (first[0], seq, first[1], blocks))
                seq += 1
            nxt = next(ordered, None)
        subject, _, lines, blocks = heapq.heappop(heap)
        yield subject, lines
        following = next(blocks, None)
        if following is not None:
            heapq.heappush(heap, (following[0], seq, following[1], blocks))
            seq += 1


def _edge_suffix(edge: Any) -> str:
    return f"{_q(edge.dependent)}/{_q(edge.dependency)}"


def _edge_blocks(record: Record, base: str) -> Iterator[_Block]:
    """One block per edge IRI (edges of the same two components share it), in order."""
    local = scoped_terms("dependencies")
    edges = sorted(record.dependencies, key=_edge_suffix)
    for _, group in itertools.groupby(edges, key=_edge_suffix):
        triples = [t for e in group for t in _triples(edge_node(base, e), local)]
        yield from _blocks(triples)


_Line = str | Iterator[str]
"""A line of Turtle: text, or the pieces of a long one (a predicate with 100,000 objects)."""


def _record_lines(record: Record, base: str, lines: list[str]) -> Iterator[_Line]:
    """The record node's block (``lines`` without its components and edges), with every
    component and edge IRI added, in order."""
    terms = _terms()[0]
    listed: dict[str, Iterator[str]] = {}
    if record.components:
        name = _turtle_term(_iri(terms["components"][1]), _SORTED_PREFIXES)
        keys = sorted(f"{_q(c.id)}>" for c in record.components)
        listed[name] = (f"<{base}#component/{k}" for k in keys)
    if record.dependencies:
        name = _turtle_term(_iri(terms["dependencies"][1]), _SORTED_PREFIXES)
        edges = sorted(record.dependencies, key=lambda e: _edge_suffix(e) + ">")
        unique = (k for k, _ in itertools.groupby(_edge_suffix(e) for e in edges))
        listed[name] = (f"<{base}#dependency/{k}>" for k in unique)
    own = {line.split(" ", 5)[4]: line[:-2] for line in lines[1:-1]}
    ordered = sorted([*own, *listed], key=lambda p: (p != "a", p))
    yield lines[0]
    for i, predicate in enumerate(ordered):
        end = " ;" if i < len(ordered) - 1 else " ."
        if predicate in own:
            yield own[predicate] + end
        else:
            yield _long_line(predicate, listed[predicate], end)
    yield ""


def _long_line(predicate: str, objects: Iterator[str], end: str) -> Iterator[str]:
    yield f"    {predicate} {next(objects)}"
    for obj in objects:
        yield _OBJECT_SEP + obj
    yield end


def _iri(text: str) -> Any:
    from rdflib import URIRef

    return URIRef(text)


def turtle_lines(record: Record) -> Iterator[_Line]:
    """The lines of the record's Turtle (deterministic: prefixes, then subjects, predicates
    and objects in sorted order), made a component at a time."""
    base = base_iri(record)
    yield from (f"@prefix {p}: <{iri}> ." for p, iri in _SORTED_PREFIXES)
    yield ""
    small = _blocks(_triples(_common.materialize(lazy_document(record, lists=False))))
    if not small or small[0][0] != base:
        raise ExportError(f"record {record.serial}: no record node")  # pragma: no cover
    yield from _record_lines(record, base, small[0][1])
    merged = heapq.merge(
        small[1:], _component_blocks(record, base), _edge_blocks(record, base), key=lambda b: b[0]
    )
    for _, lines in merged:
        yield from lines


def _turtle_pieces(record: Record) -> Iterator[str]:
    """The Turtle text: the lines joined by newlines."""
    previous: _Line | None = None
    for line in turtle_lines(record):
        if previous is not None:
            yield from [previous] if isinstance(previous, str) else previous
            yield "\n"
        previous = line
    if previous is not None:
        yield from [previous] if isinstance(previous, str) else previous


def encode(record: Record, *, fmt: str = "json-ld") -> bytes:
    """``record`` as JSON-LD (``json-ld``) or Turtle (``turtle``) bytes."""
    buf = io.BytesIO()
    write(record, buf, fmt=fmt)
    return buf.getvalue()


def write(record: Record, out: BinaryIO, *, fmt: str = "json-ld") -> None:
    """Write :func:`encode`'s bytes to ``out``, a component at a time."""
    if fmt == "json-ld":
        _common.write_json(lazy_document(record), out)
    elif fmt == "turtle":
        _common.write_text(_turtle_pieces(record), out)
    else:
        raise ExportError(f"RDF encoding {fmt!r} is not supported (json-ld, turtle)")


def _nt_object(term: Any) -> str:
    from rdflib import Literal

    if not isinstance(term, Literal):
        return f"<{term}>"
    text = str(term)
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return f'"{text}"^^<{term.datatype}>' if term.datatype else f'"{text}"'


def load_graph(records: Iterable[Record], *, store: str = "auto") -> rdflib.Graph:
    """One graph holding every record; ``store`` is ``memory``, ``oxigraph`` or ``auto``
    (Oxigraph when ``oxrdflib`` is installed: it loads and queries about 10x faster)."""
    if store == "auto":
        store = "oxigraph" if _has_oxigraph() else "memory"
    if store not in ("memory", "oxigraph"):
        raise ExportError(f"unknown RDF store {store!r} (memory, oxigraph, auto)")
    if store == "oxigraph" and not _has_oxigraph():
        raise ExportError("the oxigraph store needs the oxrdflib package (pip install oxrdflib)")
    g = _new_graph("Oxigraph" if store == "oxigraph" else "default")
    for record in records:
        if store == "oxigraph":
            # Oxigraph's own N-Triples parser loads in bulk; triple-by-triple adds are slower.
            lines = [f"<{s}> <{p}> {_nt_object(o)} .\n" for s, p, o in _triples(document(record))]
            g.parse(data="".join(lines), format="ox-ntriples")
        else:
            _parse_into(g, document(record))
    return g


def _has_oxigraph() -> bool:
    import importlib.util

    return importlib.util.find_spec("oxrdflib") is not None


_REMOTE = {"DatasetClause": "FROM / FROM NAMED", "ServiceGraphPattern": "SERVICE"}


def _refuse_remote(text: str) -> None:
    """Refuse queries that would make rdflib fetch data (``FROM <url>``, ``SERVICE <url>``)."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    try:
        prepared = prepareQuery(text, initNs={"np": VOCAB, "schema": "https://schema.org/"})
    except Exception as exc:  # pyparsing and rdflib raise several unrelated types
        message = str(exc).replace("\n", " ")
        raise ExportError(f"SPARQL query failed: {message}") from exc
    stack: list[Any] = [prepared.algebra]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name in _REMOTE:
                raise ExportError(
                    f"SPARQL query refused: {_REMOTE[node.name]} would fetch remote data; "
                    "pass the record files instead"
                )
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)


def query(g: rdflib.Graph, text: str) -> tuple[list[str], list[tuple[str | None, ...]]]:
    """Run SPARQL ``text`` over ``g``: (variable names, rows of lexical values or None).

    ``ASK`` gives one row holding ``true``/``false``; ``CONSTRUCT``/``DESCRIBE`` give the
    triples as rows of (subject, predicate, object).
    """
    _refuse_remote(text)
    try:
        result = g.query(text, initNs={"np": VOCAB, "schema": "https://schema.org/"})
    except Exception as exc:  # the parser and engines raise many unrelated types
        message = str(exc).replace("\n", " ")
        raise ExportError(f"SPARQL query failed: {message}") from exc
    if result.type == "ASK":
        return ["ask"], [("true" if result.askAnswer else "false",)]
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        assert result.graph is not None
        rows = sorted((str(s), str(p), str(o)) for s, p, o in result.graph)
        return ["subject", "predicate", "object"], list(rows)
    names = [str(v) for v in (result.vars or [])]
    out: list[tuple[str | None, ...]] = []
    for row in result:
        out.append(tuple(None if v is None else str(v) for v in row))  # type: ignore[union-attr]
    return names, out
