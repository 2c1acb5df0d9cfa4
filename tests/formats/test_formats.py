"""Every record exports in every format, each output validates against its official schema,
exports are deterministic, and the HPC fields survive."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from nameplate import formats
from nameplate.errors import ExportError
from nameplate.formats import _common, spdx2
from nameplate.record import Record
from tests.conftest import DATA, CheckGolden
from tests.formats import _support as S

RECORDS = S.all_records()
EXAMPLES = S.example_records()


def test_registry_is_complete() -> None:
    for name in formats.FORMATS:
        assert name in formats.MEDIA_TYPES
        assert name in formats.EXTENSIONS
    assert set(formats.PREDICATE_TYPES) <= set(formats.FORMATS)
    for alias, target in formats.ALIASES.items():
        assert formats.resolve(alias) == target
        assert alias not in formats.FORMATS


def test_unknown_format_is_a_one_line_error() -> None:
    record = next(iter(EXAMPLES.values()))
    with pytest.raises(ExportError, match="unknown export format 'pdf'"):
        formats.encode(record, "pdf")


def test_real_fixture_records_are_present() -> None:
    kinds = {r.subject.kind for r in S.real_records().values()}
    assert {"spack-prefix", "spack-environment", "easybuild-prefix"} <= kinds


def _validate(record: Record, fmt: str) -> list[str]:
    data = formats.encode(record, fmt)
    if fmt == "nfd":
        import yaml

        doc = yaml.safe_load(data)
        rules = [r for c in doc["compatibilities"] for r in c["rules"]]
        ok = doc["version"] == "v1alpha1" and all("matchFeatures" in r for r in rules)
        return [] if ok else ["not an NFD v1alpha1 image-compatibility spec"]
    if fmt in ("cyclonedx-json", "cyclonedx-1.7-json"):
        version = "1.7" if "1.7" in fmt else "1.6"
        return S.errors(S.cdx_validator(version), json.loads(data))
    if fmt in ("cyclonedx-xml", "cyclonedx-1.7-xml"):
        return S.check_cdx_xml(data, "1.7" if "1.7" in fmt else "1.6")
    if fmt == "spdx-2.3":
        found = S.errors(S.vendor_validator("spdx-2.3.schema.json"), json.loads(data))
        return found + S.check_spdx2_tools(data)
    if fmt == "spdx-3.0.1":
        return S.errors(S.vendor_validator("spdx-3.0.1.schema.json"), json.loads(data))
    if fmt in ("jsonld", "turtle"):
        from rdflib import Graph
        from rdflib.compare import isomorphic

        from nameplate.formats import jsonld

        back = Graph().parse(data=data.decode(), format="json-ld" if fmt == "jsonld" else "turtle")
        return [] if isomorphic(back, jsonld.graph(record)) else ["graph differs"]
    if fmt.startswith("intoto"):
        S.check_intoto(data, slsa=fmt == "intoto-slsa")
        return []
    raise AssertionError(fmt)


def _no_digest(record: Record) -> bool:
    return not (
        record.subject.digest
        or any(c.hashes for c in record.components if c.id in record.roots)
        or any(e.digest for e in record.evidence)
    )


@pytest.mark.parametrize("fmt", sorted(formats.FORMATS))
@pytest.mark.parametrize("name", sorted(RECORDS))
def test_every_record_exports_and_validates(name: str, fmt: str) -> None:
    record = RECORDS[name]
    assert not _no_digest(record), "every source gives something to name an in-toto subject by"
    assert _validate(record, fmt) == []


def test_cdx_library_strict_validator_agrees() -> None:
    """cyclonedx-python-lib's own (slow) validator on the small example records."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    for record in EXAMPLES.values():
        for fmt, sv in (
            ("cyclonedx-json", SchemaVersion.V1_6),
            ("cyclonedx-1.7-json", SchemaVersion.V1_7),
        ):
            text = formats.encode(record, fmt).decode()
            assert JsonStrictValidator(sv).validate_str(text) is None


def test_validators_do_reject() -> None:
    """The fast validators used above really check: broken documents fail."""
    record = EXAMPLES["spack-hdf5-openmpi-icelake"]
    cdx = json.loads(formats.encode(record, "cyclonedx-json"))
    cdx["components"][0]["hashes"] = [{"alg": "SHA-256", "content": "nothex"}]
    cdx["formulation"][0]["workflows"][0].pop("taskTypes")
    assert len(S.errors(S.cdx_validator("1.6"), cdx)) >= 2
    spdx = json.loads(formats.encode(record, "spdx-2.3"))
    spdx["SPDXID"] = "SPDXRef-DOCUMENT-hdf5"
    spdx["packages"][0]["checksum"] = spdx["packages"][0].pop("checksums", [])
    assert S.check_spdx2_tools(json.dumps(spdx).encode())
    spdx3 = json.loads(formats.encode(record, "spdx-3.0.1"))
    spdx3["@graph"][-1]["scope"] = "forever"
    assert S.errors(S.vendor_validator("spdx-3.0.1.schema.json"), spdx3)
    xml = formats.encode(record, "cyclonedx-xml").replace(b">build</taskType>", b">bake</taskType>")
    assert S.check_cdx_xml(xml, "1.6")


def _shuffled(record: Record, seed: int) -> Record:
    rng = random.Random(seed)
    components = list(record.components)
    edges = list(record.dependencies)
    rng.shuffle(components)
    rng.shuffle(edges)
    return dataclasses.replace(record, components=tuple(components), dependencies=tuple(edges))


@pytest.mark.parametrize("fmt", sorted(formats.FORMATS))
def test_deterministic_and_order_independent(fmt: str) -> None:
    for name in ("spack-hdf5-openmpi-icelake", "spack-lammps-mvapich2-cuda-zen3"):
        record = EXAMPLES[name]
        first = formats.encode(record, fmt)
        assert formats.encode(record, fmt) == first
        for seed in range(3):
            assert formats.encode(_shuffled(record, seed), fmt) == first


def _golden_cases() -> list[str]:
    names = sorted(EXAMPLES)
    real = S.real_records()
    names += [n for n in sorted(real) if "zlib-ng" in n and n.startswith("spack-store")]
    names += [n for n in sorted(real) if "tinygreet" in n]
    return names


@pytest.mark.parametrize("name", _golden_cases())
def test_golden(name: str, check_golden: CheckGolden) -> None:
    record = RECORDS[name]
    for fmt in sorted(formats.FORMATS):
        try:
            data = formats.encode(record, fmt).decode()
        except ExportError:
            continue
        # Real records name fixture files by absolute path: redact the checkout location.
        data = data.replace(str(DATA), "$DATA")
        check_golden(f"formats/{name}{formats.EXTENSIONS[fmt].replace('.', f'.{fmt}.', 1)}", data)


# --- The HPC fields survive: read each export back and find them ------------------------------


def _expected(record: Record) -> dict[str, set[str]]:
    hpc = record.hpc
    assert hpc.target is not None and hpc.mpi is not None
    return {
        "target:name": {hpc.target.name},
        "compilers:0:name": {hpc.compilers[0].name},
        "compilers:0:version": {hpc.compilers[0].version},
        "mpi:abi": {hpc.mpi.abi},
        "gpu:0:architectures": {a for g in hpc.gpu[:1] for a in g.architectures},
    }


def _found(pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
    got = _common.unflatten(pairs, "nameplate:hpc")
    return {k: set(v) for k, v in got.items()}


def _read_back(record: Record, fmt: str) -> list[tuple[str, str]]:
    data = formats.encode(record, fmt)
    if fmt.startswith("cyclonedx") and fmt.endswith("json"):
        doc = json.loads(data)
        return [(p["name"], p["value"]) for p in doc["metadata"]["properties"]]
    if fmt.startswith("cyclonedx"):
        import xml.etree.ElementTree as ET

        root = ET.fromstring(data)
        ns = {"c": root.tag[1:].split("}")[0]}
        props = root.findall("c:metadata/c:properties/c:property", ns)
        return [(p.attrib["name"], p.text or "") for p in props]
    if fmt == "spdx-2.3":
        doc = json.loads(data)
        return spdx2.annotation_pairs(doc["annotations"][0]["comment"])
    if fmt == "spdx-3.0.1":
        doc = json.loads(data)
        (build,) = [e for e in doc["@graph"] if e["type"] == "build_Build"]
        pairs = []
        for entry in build["build_parameter"]:
            pairs += [(entry["key"], v) for v in entry["value"].split(",")]
        return pairs
    if fmt in ("intoto-slsa", "intoto-cyclonedx"):
        doc = json.loads(data)
        if fmt == "intoto-cyclonedx":
            return [(p["name"], p["value"]) for p in doc["predicate"]["metadata"]["properties"]]
        hpc = doc["predicate"]["buildDefinition"]["internalParameters"]["hpc"]
        return _common.flatten("nameplate:hpc", hpc)
    raise AssertionError(fmt)


# RDF is read back with SPARQL below; NFD's rules carry CPU features and GPU presence only (what
# they cannot express is listed by compat.nfd.nfd_spec and checked in tests/compat/test_nfd.py).
@pytest.mark.parametrize(
    "fmt", sorted(f for f in formats.FORMATS if f not in ("jsonld", "turtle", "nfd"))
)
def test_hpc_fields_survive(fmt: str) -> None:
    record = EXAMPLES["spack-lammps-mvapich2-cuda-zen3"]
    found = _found(_read_back(record, fmt))
    for key, values in _expected(record).items():
        assert values <= found.get(key, set()), (fmt, key)


@pytest.mark.parametrize("fmt", ["jsonld", "turtle"])
def test_hpc_fields_survive_in_rdf(fmt: str) -> None:
    from rdflib import Graph

    record = EXAMPLES["spack-lammps-mvapich2-cuda-zen3"]
    g = Graph().parse(
        data=formats.encode(record, fmt).decode(), format="json-ld" if fmt == "jsonld" else "turtle"
    )
    rows = g.query(
        """PREFIX np: <https://w3id.org/nameplate/vocab#>
        PREFIX schema: <https://schema.org/>
        SELECT ?target ?cc ?ccv ?abi ?arch WHERE {
          ?r np:hpc ?h . ?h np:target/schema:name ?target ; np:mpi/np:abi ?abi ;
             np:compiler ?c ; np:gpu/np:gpuArchitecture ?arch .
          ?c schema:name ?cc ; schema:version ?ccv }"""
    )
    got = {tuple(str(v) for v in row) for row in rows}  # type: ignore[union-attr]
    assert ("zen3", "gcc", "13.2.0", "mpich", "sm_80") in got


def test_build_only_components_go_to_formulation() -> None:
    record = EXAMPLES["spack-hdf5-openmpi-icelake"]
    doc = json.loads(formats.encode(record, "cyclonedx-json"))
    top = {c["bom-ref"] for c in doc["components"]}
    tools = {c["bom-ref"] for c in doc["formulation"][0]["components"]}
    assert "ektf4oxbq3ipbyd5fqogd7nqsopvsrgu" in tools  # cmake: build only
    assert "gcc-12.2.0-external" in tools
    assert "j6z6ru6ek4zq5uqsq7e6bwnkvmdpk3zb" in top  # openmpi: linked
    hdf5 = next(d for d in doc["dependencies"] if d["ref"] == "ijgf36wm3vplbmlo25gfr724jlciv43i")
    assert hdf5["dependsOn"] == [
        "g32vemqhcyq6ynqz2lxqkhyrq3hyaj4q",
        "j6z6ru6ek4zq5uqsq7e6bwnkvmdpk3zb",
    ]
    patches = next(c for c in doc["components"] if c["name"] == "hdf5")["pedigree"]["patches"]
    assert patches[0]["diff"]["url"].endswith(".patch")


def test_spdx2_edges_are_typed() -> None:
    record = EXAMPLES["spack-hdf5-openmpi-icelake"]
    doc = json.loads(formats.encode(record, "spdx-2.3"))
    rels = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in doc["relationships"]
    }
    hdf5 = spdx2.spdx_id("ijgf36wm3vplbmlo25gfr724jlciv43i")
    assert (hdf5, "DEPENDS_ON", spdx2.spdx_id("j6z6ru6ek4zq5uqsq7e6bwnkvmdpk3zb")) in rels
    assert (spdx2.spdx_id("ektf4oxbq3ipbyd5fqogd7nqsopvsrgu"), "BUILD_DEPENDENCY_OF", hdf5) in rels
    assert (spdx2.spdx_id("gcc-12.2.0-external"), "BUILD_TOOL_OF", hdf5) in rels
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", hdf5) in rels


def test_spdx3_build_profile() -> None:
    record = EXAMPLES["spack-hdf5-openmpi-icelake"]
    graph = json.loads(formats.encode(record, "spdx-3.0.1"))["@graph"]
    rels = [e for e in graph if e["type"] == "LifecycleScopedRelationship"]
    uses = [r for r in rels if r["relationshipType"] == "usesTool"]
    assert uses and uses[0]["scope"] == "build"
    assert any(r["relationshipType"] == "hasHost" for r in rels)
    scopes = {r["scope"] for r in rels if r["relationshipType"] == "dependsOn"}
    assert scopes == {"build", "runtime"}


def test_spdx_ids_are_valid_and_unique() -> None:
    ids = {spdx2.spdx_id(x) for x in ("a_b", "a-b", "a.b", "a b", "a:b")}
    assert len(ids) == 5
    assert all(i.startswith("SPDXRef-") for i in ids)


def _shacl(doc: dict[str, object]) -> tuple[bool, str]:
    import pyshacl
    import rdflib

    shapes = rdflib.Graph().parse(S.VENDOR / "spdx-3.0.1-model.ttl", format="turtle")
    data = rdflib.Graph().parse(data=json.dumps(S.spdx3_local(doc)), format="json-ld")
    conforms, _, text = pyshacl.validate(
        data, shacl_graph=shapes, ont_graph=shapes, inference="none", advanced=True
    )
    return bool(conforms), str(text)


@pytest.mark.parametrize(
    "name", [*sorted(EXAMPLES), "spack-store-zlib-ng", "easybuild-tinyhello_1.0-GCCcore-12.2.0"]
)
def test_spdx3_conforms_to_the_shacl_model(name: str) -> None:
    doc = json.loads(formats.encode(RECORDS[name], "spdx-3.0.1"))
    conforms, text = _shacl(doc)
    assert conforms, text[:2000]


def test_shacl_does_reject() -> None:
    doc = json.loads(formats.encode(EXAMPLES["spack-hdf5-openmpi-icelake"], "spdx-3.0.1"))
    build = next(e for e in doc["@graph"] if e["type"] == "build_Build")
    build["build_buildEndTime"] = "yesterday"
    assert not _shacl(doc)[0]


@pytest.mark.parametrize("fmt", sorted(formats.FORMATS))
def test_duplicate_component_ids_are_refused(fmt: str) -> None:
    record = EXAMPLES["spack-hdf5-openmpi-icelake"]
    twice = dataclasses.replace(record, components=(*record.components, record.components[0]))
    with pytest.raises(ExportError, match="two components have the id"):
        formats.encode(twice, fmt)
