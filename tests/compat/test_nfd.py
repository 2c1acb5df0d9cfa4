"""The NFD image-compatibility artifact derived from a record."""

from __future__ import annotations

import yaml

from nameplate.compat.nfd import NFD_ARTIFACT_TYPE, nfd_spec, nfd_yaml

from ._helpers import hdf5, hypre, variant


def test_cpu_rules_for_a_vendor_target() -> None:
    spec, unexpressed = nfd_spec(
        variant(hypre(), target="zen4", cuda="12.4", sass=("sm_90",), mpi="mpich")
    )
    assert spec["version"] == "v1alpha1"
    match = spec["compatibilities"][0]["rules"][0]["matchFeatures"]
    by_feature = {m["feature"]: m["matchExpressions"] for m in match}
    assert {"AVX512F", "AVX2", "FMA3"} <= set(by_feature["cpu.cpuid"])
    assert "POPCNT" not in by_feature["cpu.cpuid"]  # hidden by NFD by default
    assert by_feature["cpu.model"] == {"vendor_id": {"op": "In", "value": ["AMD"]}}
    assert by_feature["pci.device"]["vendor"] == {"op": "In", "value": ["10de"]}
    assert any("MPI ABI mpich" in u for u in unexpressed)
    assert any("archspec order of zen4" in u for u in unexpressed)
    assert NFD_ARTIFACT_TYPE == "application/vnd.nfd.image-compatibility.v1alpha1"


def test_generic_target_has_no_vendor_rule_and_yaml_parses() -> None:
    doc = yaml.safe_load(nfd_yaml(hypre()))
    features = [m["feature"] for m in doc["compatibilities"][0]["rules"][0]["matchFeatures"]]
    assert "cpu.model" not in features and "cpu.cpuid" in features
    assert doc["compatibilities"][0]["description"].startswith("nameplate: hypre@3.1.0")
    assert yaml.safe_load(nfd_yaml(hdf5()))["version"] == "v1alpha1"
