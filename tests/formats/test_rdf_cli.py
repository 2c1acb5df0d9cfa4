"""JSON-LD/Turtle, SPARQL over records, and the export/sparql/merge commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph
from rdflib.compare import isomorphic

from nameplate import formats
from nameplate.cli import cli
from nameplate.errors import ExportError
from nameplate.formats import jsonld
from tests.conftest import DATA
from tests.formats import _support as S

EXAMPLES = S.example_records()
FILES = sorted(str(p) for p in S.EXAMPLES.glob("*.json"))

#: docs/commands/sparql.md shows these two queries; keep them in step.
MPICH_ZEN3 = """SELECT ?subject ?target ?mpi WHERE {
  ?record np:subject/schema:name ?subject ; np:hpc ?hpc .
  ?hpc np:mpi [ np:abi "mpich" ; np:implementation ?mpi ] ;
       np:target/schema:name ?target .
  FILTER(?target IN ("zen3", "zen4", "zen5"))
}"""
CUDA_ARCHS = """SELECT ?subject ?arch WHERE {
  ?record np:subject/schema:name ?subject ; np:hpc/np:gpu/np:gpuArchitecture ?arch .
} ORDER BY ?subject ?arch"""


def test_jsonld_has_no_blank_nodes_and_no_remote_context() -> None:
    record = EXAMPLES["spack-hdf5-openmpi-icelake"]
    doc = json.loads(formats.encode(record, "jsonld"))
    assert isinstance(doc["@context"], dict)  # inlined: nothing to fetch
    g = jsonld.graph(record)
    assert not [t for t in g if any(type(x).__name__ == "BNode" for x in t)]
    assert isomorphic(Graph().parse(data=json.dumps(doc), format="json-ld"), g)


@pytest.mark.parametrize("store", ["memory", "oxigraph"])
def test_sparql_example_queries(store: str) -> None:
    g = jsonld.load_graph(EXAMPLES.values(), store=store)
    names, rows = jsonld.query(g, MPICH_ZEN3)
    assert names == ["subject", "target", "mpi"]
    assert rows == [("registry.example.org/hpc/lammps", "zen3", "mvapich2")]
    _, rows = jsonld.query(g, CUDA_ARCHS)
    assert rows == [
        ("registry.example.org/hpc/lammps", "sm_80"),
        ("registry.example.org/hpc/lammps", "sm_90"),
    ]
    assert jsonld.query(g, "ASK { ?r np:hpc/np:mpi/np:abi 'openmpi' }")[1] == [("true",)]


def test_sparql_syntax_error_is_an_export_error() -> None:
    g = jsonld.load_graph(EXAMPLES.values(), store="memory")
    with pytest.raises(ExportError, match="SPARQL query failed"):
        jsonld.query(g, "SELECT WHERE {")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate")
    return result.exit_code, result.stdout, result.stderr


def test_cli_export_to_stdout_and_file(tmp_path: Path) -> None:
    code, out, _ = _run("export", FILES[0], "--format", "spdx")
    assert code == 0
    assert json.loads(out)["spdxVersion"] == "SPDX-2.3"
    target = tmp_path / "out.cdx.xml"
    code, out, _ = _run("export", FILES[0], "-f", "cyclonedx-xml", "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_bytes() == formats.encode(EXAMPLES[Path(FILES[0]).stem], "cyclonedx-xml")


def test_cli_export_bad_record_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.0.0", "serial": 3}')
    code, _out, err = _run("export", str(bad), "-o", str(tmp_path / "x.json"))
    assert code == 1
    assert err.startswith(f"error: {bad}") and err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


def test_cli_export_without_digest_fails_cleanly(tmp_path: Path) -> None:
    record = EXAMPLES["spack-hdf5-openmpi-icelake"]
    data = record.to_dict()
    data["components"][0].pop("hashes")
    data.pop("evidence")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    code, _, err = _run("export", str(path), "-f", "slsa")
    assert code == 3 and "subject.digest is missing" in err


def test_cli_sparql(tmp_path: Path) -> None:
    code, out, _ = _run("sparql", MPICH_ZEN3, *FILES)
    assert code == 0
    assert out.splitlines() == [
        "subject\ttarget\tmpi",
        "registry.example.org/hpc/lammps\tzen3\tmvapich2",
    ]
    query = tmp_path / "q.rq"
    query.write_text(CUDA_ARCHS)
    code, out, _ = _run("sparql", str(query), *FILES, "-f", "json")
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = _run("sparql", "SELECT ?x WHERE { ?x np:nothing ?y }", *FILES)
    assert code == 1


def test_cli_merge(tmp_path: Path) -> None:
    out_file = tmp_path / "merged.json"
    sbom = DATA / "sbom" / "trivy-centos7.cdx.json"
    code, _, _ = _run("merge", FILES[0], str(sbom), "-o", str(out_file))
    assert code == 0
    merged = json.loads(out_file.read_text())
    names = {c["name"] for c in merged["components"] if c.get("kind") == "os-package"}
    assert names == {"bash", "openssl-libs"}
    assert merged["evidence"][-1]["kind"] == "cyclonedx-sbom"
    code, _, err = _run("merge", FILES[0], str(S.VENDOR / "spdx-3.0.1-context.jsonld"))
    assert code == 3 and "not a CycloneDX" in err


@pytest.mark.parametrize("name", sorted(S.all_records()))
def test_oxigraph_and_memory_stores_hold_the_same_graph(name: str) -> None:
    record = S.all_records()[name]
    memory = jsonld.load_graph([record], store="memory")
    oxigraph = jsonld.load_graph([record], store="oxigraph")
    assert len(memory) == len(oxigraph) == len(jsonld.graph(record))
    assert isomorphic(
        Graph().parse(data=formats.encode(record, "turtle").decode(), format="turtle"), memory
    )


@pytest.mark.parametrize(
    "text",
    [
        "SELECT ?s FROM <http://example.org/data.ttl> WHERE { ?s ?p ?o }",
        "SELECT ?s WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
        "SELECT ?s FROM NAMED <http://example.org/g> WHERE { GRAPH ?g { ?s ?p ?o } }",
    ],
)
def test_sparql_never_fetches(text: str) -> None:
    g = jsonld.load_graph(EXAMPLES.values(), store="memory")
    with pytest.raises(ExportError, match="would fetch remote data"):
        jsonld.query(g, text)
