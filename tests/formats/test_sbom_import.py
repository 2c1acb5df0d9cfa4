"""Importing the OS packages of real Syft and Trivy SBOM shapes (tests/data/sbom)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import formats, schema
from nameplate.errors import ExportError, NameplateError
from nameplate.formats import sbom_import
from tests.conftest import DATA
from tests.formats import _support as S

SBOM = DATA / "sbom"
RECORD = S.example_records()["spack-hdf5-openmpi-icelake"]

#: file → (format, tool, {(name, purl type)}, os name)
EXPECTED = {
    "syft-image.cdx.json": ("cyclonedx", "syft", {("package-2", "deb")}, "debian"),
    "syft-image.spdx.json": ("spdx", "syft", {("package-2", "deb")}, None),
    "trivy-centos7.cdx.json": (
        "cyclonedx",
        "trivy",
        {("bash", "rpm"), ("openssl-libs", "rpm")},
        "centos",
    ),
    "trivy-centos7.spdx.json": (
        "spdx",
        "trivy",
        {("bash", "rpm"), ("openssl-libs", "rpm")},
        "centos",
    ),
    "trivy-alpine-mixed.cdx.json": ("cyclonedx", "trivy", {("musl", "apk")}, "alpine"),
}


def _load(name: str) -> Any:
    return json.loads((SBOM / name).read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_read_real_sbom_shapes(name: str) -> None:
    fmt, tool, packages, os_name = EXPECTED[name]
    sbom = sbom_import.read_sbom(_load(name), where=name)
    assert (sbom.format, sbom.tool) == (fmt, tool)
    assert {(c.name, c.ecosystem) for c in sbom.components} == packages
    assert (sbom.os.name if sbom.os else None) == os_name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_merge_keeps_hpc_fields_and_validates(name: str) -> None:
    merged = sbom_import.merge(RECORD, _load(name), where=name)
    schema.validate(merged.to_dict())
    assert merged.hpc.mpi == RECORD.hpc.mpi and merged.hpc.target == RECORD.hpc.target
    assert len(merged.components) == len(RECORD.components) + len(EXPECTED[name][2])
    # merged records export like any other
    cdx = json.loads(formats.encode(merged, "cyclonedx-json"))
    assert S.errors(S.cdx_validator("1.6"), cdx) == []
    # merging twice adds nothing new
    again = sbom_import.merge(merged, _load(name), where=name)
    assert len(again.components) == len(merged.components)


def test_syft_properties_and_found_by_are_kept() -> None:
    sbom = sbom_import.read_sbom(_load("syft-image.cdx.json"))
    (pkg,) = sbom.components
    assert pkg.found_by == ("syft:the-cataloger-2",)
    assert pkg.properties["syft:package:type"] == "deb"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], r"an SBOM is a JSON object"),
        ({"bomFormat": "CycloneDX", "components": {}}, r"\$\.components: expected an array"),
        (
            {"bomFormat": "CycloneDX", "components": [{"purl": "pkg:deb/debian/x@1", "name": 3}]},
            r"\$\.components\[0\]\.name: expected a string",
        ),
        ({"spdxVersion": "SPDX-2.3", "packages": [{"name": "x"}]}, r"\$\.packages\[0\]\.SPDXID"),
        ({"spdxVersion": "SPDX-3.0"}, "not a CycloneDX"),
    ],
)
def test_bad_sboms_name_the_field(doc: Any, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        sbom_import.read_sbom(doc, where="x.json")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "bomFormat",
        "components",
        "dependencies",
        "metadata",
        "spdxVersion",
        "packages",
        "relationships",
        "creationInfo",
        "purl",
        "name",
        "licenses",
        "hashes",
        "properties",
    ]
)
_shaped = st.fixed_dictionaries(
    {"bomFormat": st.just("CycloneDX")},
    optional={
        "components": st.lists(st.dictionaries(_keys, _json, max_size=5), max_size=3),
        "dependencies": st.lists(
            st.dictionaries(st.sampled_from(["ref", "dependsOn"]), _json), max_size=3
        ),
        "metadata": _json,
    },
) | st.fixed_dictionaries(
    {"spdxVersion": st.just("SPDX-2.3")},
    optional={
        "packages": st.lists(
            st.dictionaries(_keys | st.just("SPDXID") | st.just("externalRefs"), _json), max_size=3
        ),
        "relationships": st.lists(_json, max_size=3),
        "creationInfo": _json,
    },
)


@pytest.mark.property
@given(st.one_of(_json, _shaped))
def test_fuzz_import_raises_only_nameplate_errors(doc: Any) -> None:
    try:
        merged = sbom_import.merge(RECORD, doc, where="fuzz.json")
    except NameplateError:
        return
    schema.validate(merged.to_dict())
