"""The RDF vocabulary covers the record schema, and the data tables match their schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import rdflib

from tests.conftest import ROOT

VOCAB = ROOT / "vocab"
SCHEMAS = ROOT / "schemas"
NP = "https://w3id.org/nameplate/vocab#"


def _schema_properties() -> set[str]:
    from nameplate import schema as _schema

    schema = json.loads((SCHEMAS / _schema.RELEASED[_schema.SCHEMA_VERSION]).read_text())
    names: set[str] = set(schema["properties"])
    for definition in schema["$defs"].values():
        names |= set(definition.get("properties", {}))
    return names


def _context() -> dict[str, Any]:
    ctx: dict[str, Any] = json.loads((VOCAB / "context.jsonld").read_text())["@context"]
    return ctx


def _expand(term: Any, ctx: dict[str, Any]) -> str | None:
    iri = term["@id"] if isinstance(term, dict) else term
    if not isinstance(iri, str) or iri.startswith("@"):
        return None
    prefix, sep, local = iri.partition(":")
    if sep and prefix in ctx and isinstance(ctx[prefix], str) and not local.startswith("//"):
        return str(ctx[prefix]) + local
    return iri


def _term_iris(ctx: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, term in ctx.items():
        if name.startswith("@"):
            continue
        iri = _expand(term, ctx)
        if iri is None or iri.endswith(("/", "#")):  # prefix definitions
            continue
        out[name] = iri
        if isinstance(term, dict):
            for inner_name, inner in term.get("@context", {}).items():
                inner_iri = _expand(inner, ctx)
                if inner_iri:
                    out[f"{name}/{inner_name}"] = inner_iri
    return out


def test_every_schema_property_has_a_context_term() -> None:
    missing = sorted(_schema_properties() - set(_context()))
    assert missing == []


def test_every_context_term_is_defined_in_hpc_ttl() -> None:
    graph = rdflib.Graph().parse(VOCAB / "hpc.ttl", format="turtle")
    subjects = {str(s) for s in graph.subjects()}
    undefined = sorted(n for n, iri in _term_iris(_context()).items() if iri not in subjects)
    assert undefined == []


def test_minted_terms_have_labels_and_comments() -> None:
    graph = rdflib.Graph().parse(VOCAB / "hpc.ttl", format="turtle")
    comment = rdflib.RDFS.comment
    for iri in set(_term_iris(_context()).values()):
        assert graph.value(rdflib.URIRef(iri), comment) is not None, iri


def test_hpc_fields_reuse_standard_terms_where_they_exist() -> None:
    graph = rdflib.Graph().parse(VOCAB / "hpc.ttl", format="turtle")
    purl = rdflib.URIRef(NP + "purl")
    assert (purl, rdflib.OWL.equivalentProperty, None) in graph
    assert _context()["name"] == "schema:name"


@pytest.mark.parametrize(
    "table", sorted(p.name for p in VOCAB.glob("*.json")), ids=lambda n: Path(n).stem
)
def test_vocab_tables_match_their_schemas(table: str) -> None:
    schema_path = SCHEMAS / "vocab" / table.replace(".json", ".schema.json")
    assert schema_path.is_file(), f"vocab/{table} has no schema in schemas/vocab/"
    jsonschema.validate(
        json.loads((VOCAB / table).read_text()), json.loads(schema_path.read_text())
    )
