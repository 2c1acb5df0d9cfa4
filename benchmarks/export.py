"""Export a 2,000-component record into every format; compare with a naive
cyclonedx-python-lib build of the same BOM, measured in the same run.

Run: ``.venv/bin/python benchmarks/export.py [--components N]``. Prints seconds per step and the
ratio to the baseline (naive library: build components + register_dependency + JSON output).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

from nameplate import formats
from nameplate.record import Record


def make_record(n: int, seed: int = 7) -> Record:
    rng = random.Random(seed)
    ids = [f"{i:05d}{rng.getrandbits(64):016x}" for i in range(n)]
    components = []
    for i, cid in enumerate(ids):
        comp: dict[str, Any] = {
            "id": cid,
            "name": f"pkg{i}",
            "version": f"{i % 7}.{i % 13}.{i % 3}",
            "ecosystem": "spack",
            "purl": f"pkg:spack/builtin/pkg{i}@{i % 7}.{i % 13}?sha={cid}",
            "hashes": [{"algorithm": "sha256", "value": f"{rng.getrandbits(256):064x}"}],
            "licenses": ["MIT" if i % 2 else "Apache-2.0"],
            "options": {"shared": True, "mpi": bool(i % 3), "build_type": "Release"},
            "sources": [{"url": f"https://example.org/pkg{i}.tar.gz"}],
            "target": {"name": "zen3", "family": "x86_64", "generic": "x86_64_v3"},
        }
        if i % 5 == 0:
            comp["patches"] = [{"url": f"https://example.org/pkg{i}.patch"}]
        components.append(comp)
    edges = []
    for i, cid in enumerate(ids[:-1]):
        for dep in rng.sample(ids[i + 1 :], min(3, n - i - 1)):
            edges.append({"dependent": cid, "dependency": dep, "types": ["build", "link"]})
    return Record.from_dict(
        {
            "schema_version": "1.0.0",
            "serial": "urn:uuid:00000000-0000-4000-8000-000000000001",
            "subject": {"kind": "spack-environment", "name": "bench"},
            "roots": [ids[0]],
            "components": components,
            "dependencies": edges,
            "hpc": {
                "target": {"name": "zen3"},
                "compilers": [{"name": "gcc", "version": "13.2.0"}],
                "mpi": {"implementation": "mpich", "abi": "mpich"},
            },
            "provenance": {
                "generator": {"name": "nameplate", "version": "0.1.0"},
                "extracted_at": "2026-01-01T00:00:00Z",
            },
        }
    )


def naive_cyclonedx(record: Record) -> str:
    """What a straightforward cyclonedx-python-lib user would write."""
    from cyclonedx.model import ExternalReference, ExternalReferenceType, HashType, Property, XsUri
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import (
        Component,
        ComponentType,
        Diff,
        Patch,
        PatchClassification,
        Pedigree,
    )
    from cyclonedx.model.license import DisjunctiveLicense
    from cyclonedx.output import make_outputter
    from cyclonedx.output.json import JsonV1Dot6  # noqa: F401
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from packageurl import PackageURL

    bom = Bom(serial_number=None)
    by_id: dict[str, Component] = {}
    for c in record.components:
        comp = Component(
            type=ComponentType.LIBRARY,
            name=c.name,
            version=c.version,
            bom_ref=c.id,
            purl=PackageURL.from_string(c.purl) if c.purl else None,
            hashes=[HashType.from_composite_str(f"sha256:{h.value}") for h in c.hashes],
            licenses=[DisjunctiveLicense(id=lic) for lic in c.licenses],
            properties=[
                Property(name=f"nameplate:option:{k}", value=str(v)) for k, v in c.options.items()
            ],
            external_references=[
                ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(s.url))
                for s in c.sources
                if s.url
            ],
            pedigree=Pedigree(
                patches=[
                    Patch(type=PatchClassification.UNOFFICIAL, diff=Diff(url=XsUri(p.url)))
                    for p in c.patches
                    if p.url
                ]
            )
            if c.patches
            else None,
        )
        bom.components.add(comp)
        by_id[c.id] = comp
    for edge in record.dependencies:
        bom.register_dependency(by_id[edge.dependent], [by_id[edge.dependency]])
    out = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6)
    return out.output_as_string()


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--components", type=int, default=2000)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    record = make_record(args.components)
    print(f"record: {len(record.components)} components, {len(record.dependencies)} edges")
    formats.encode(make_record(10), "cyclonedx-json")  # warm imports
    formats.encode(make_record(10), "turtle")
    baseline = None
    if not args.skip_naive:
        baseline = timed(lambda: naive_cyclonedx(record))
        print(f"{'baseline: naive cyclonedx-python-lib JSON 1.6':48s} {baseline:7.3f} s   1.00x")
    for fmt in formats.FORMATS:
        seconds = timed(lambda fmt=fmt: formats.encode(record, fmt), repeat=2)
        ratio = f"{seconds / baseline:5.2f}x" if baseline else ""
        print(f"{'nameplate ' + fmt:48s} {seconds:7.3f} s  {ratio}")
    from nameplate.formats import jsonld

    query = """SELECT ?name (COUNT(?d) AS ?n) WHERE {
      ?c a np:Component ; schema:name ?name ; np:componentId ?id .
      ?d np:dependsOnComponent ?id } GROUP BY ?name ORDER BY DESC(?n) LIMIT 5"""
    loads = {}
    for store in ("memory", "oxigraph"):
        start = time.perf_counter()
        graph = jsonld.load_graph([record], store=store)
        load = time.perf_counter() - start
        run = timed(lambda graph=graph: jsonld.query(graph, query), repeat=2)
        loads[store] = (load, run)
    mem_load, mem_run = loads["memory"]
    for store, (load, run) in loads.items():
        print(
            f"{'sparql ' + store + ': load / join+group query':48s} {load:7.3f} s / {run:.3f} s"
            f"  ({mem_load / load:.1f}x / {mem_run / run:.1f}x vs memory)"
        )
    from importlib.resources import files

    import jsonschema_rs

    res = files("cyclonedx.schema._res")
    schema = json.loads((res / "bom-1.6.SNAPSHOT.schema.json").read_text())
    validator = jsonschema_rs.validator_for(
        schema,
        validate_formats=True,
        retriever=lambda uri: json.loads((res / uri.rsplit("/", 1)[-1]).read_text()),
    )
    doc = json.loads(formats.encode(record, "cyclonedx-json"))
    seconds = timed(lambda: validator.is_valid(doc), repeat=3)
    ratio = f"{seconds / baseline:5.2f}x" if baseline else ""
    label = "validate CycloneDX 1.6 (jsonschema-rs)"
    print(f"{label:48s} {seconds:7.3f} s  {ratio}  valid={validator.is_valid(doc)}")


if __name__ == "__main__":
    main()
