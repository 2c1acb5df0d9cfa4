"""Export a large record into every format, each ``nameplate export`` a fresh process: its
peak RSS and wall time against the floor of loading the same record file alone (measured in
the same run), and the in-process encoding time of each format; then the naive
cyclonedx-python-lib baseline of the first round on a small record.

Run::

    .venv/bin/python benchmarks/export.py [--components 100000] [--small 2000] [--skip-naive]

The goals (issue 15): peak RSS at most 300 MB in every format, CycloneDX JSON encoded in at
most 5 s, at 100,000 components. ``--small`` sets the size of the record the naive
cyclonedx-python-lib baseline (quadratic in the components) and the SPARQL loads run on.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
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
        for dep in rng.sample(range(i + 1, n), min(3, n - i - 1)):
            edges.append({"dependent": cid, "dependency": ids[dep], "types": ["build", "link"]})
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


_PEAK = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as status, open(os.environ["PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
atexit.register(_peak)
"""
"""Run first in the measured process: it writes the process's own peak RSS (``VmHWM``) when
it exits. ``ru_maxrss`` from ``wait4`` is no good here: Linux carries the parent's peak over
``fork`` and ``exec``, so every child would report at least the benchmark's own size."""


def child(code: str, peak_file: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a fresh Python process running ``code``."""
    env = {**os.environ, "PEAK_FILE": str(peak_file)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK + code], env=env, capture_output=True, check=False
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{code}: exit {proc.returncode}: {proc.stderr.decode()}")
    return took, int(peak_file.read_text()) / 1024


class _Null(io.RawIOBase):
    def write(self, data: Any) -> int:
        return len(data)


def processes(path: Path, out: Path) -> None:
    peak = out / "peak"
    floor_s, floor_mb = child(
        f"from nameplate.cli._output import load_record; load_record({str(path)!r})", peak
    )
    print(f"{'floor: load the record file alone':44s} {floor_s:7.1f} s {floor_mb:7.0f} MB")
    for fmt in formats.FORMATS:
        target = out / f"out{formats.EXTENSIONS[fmt]}"
        argv = ["nameplate", "export", str(path), "-f", fmt, "-o", str(target)]
        seconds, mb = child(
            f"import sys; sys.argv = {argv!r}; from nameplate.cli import main; main()", peak
        )
        size = target.stat().st_size / 1e6
        goal = "ok" if mb <= 300 else "OVER 300 MB"
        print(
            f"{'nameplate export -f ' + fmt:44s} {seconds:7.1f} s {mb:7.0f} MB"
            f"  {mb / floor_mb:5.2f}x the floor's RSS  ({size:,.0f} MB written)  {goal}"
        )


def in_process(path: Path) -> None:
    from nameplate.cli._output import load_record

    start = time.perf_counter()
    record = load_record(path)
    load = time.perf_counter() - start
    print(f"{'in process: load_record':44s} {load:7.2f} s")
    for fmt in formats.FORMATS:
        seconds = timed(lambda fmt=fmt: formats.write(record, fmt, _Null()))
        note = ""
        if fmt == "cyclonedx-json":
            note = "  goal <= 5 s: " + ("ok" if seconds <= 5 else "MISSED")
        print(
            f"{'in process: write ' + fmt:44s} {seconds:7.2f} s  {seconds / load:5.2f}x the load{note}"
        )


def naive(n: int) -> None:
    record = make_record(n)
    print(f"record: {len(record.components)} components, {len(record.dependencies)} edges")
    formats.encode(make_record(10), "cyclonedx-json")  # warm imports
    formats.encode(make_record(10), "turtle")
    baseline = timed(lambda: naive_cyclonedx(record))
    print(f"{'baseline: naive cyclonedx-python-lib JSON 1.6':48s} {baseline:7.3f} s   1.00x")
    for fmt in formats.FORMATS:
        seconds = timed(lambda fmt=fmt: formats.encode(record, fmt), repeat=2)
        print(f"{'nameplate ' + fmt:48s} {seconds:7.3f} s  {seconds / baseline:5.2f}x")
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
    label = "validate CycloneDX 1.6 (jsonschema-rs)"
    print(
        f"{label:48s} {seconds:7.3f} s  {seconds / baseline:5.2f}x  valid={validator.is_valid(doc)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--components", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "record.json"
        start = time.perf_counter()
        path.write_text(make_record(args.components).to_json())
        print(
            f"record: {args.components:,} components, {path.stat().st_size / 1e6:,.0f} MB"
            f" (made in {time.perf_counter() - start:.0f} s)"
        )
        processes(path, Path(tmp))
        in_process(path)
    if not args.skip_naive:
        naive(args.small)


if __name__ == "__main__":
    main()
