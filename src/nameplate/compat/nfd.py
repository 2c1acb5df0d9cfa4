"""A node-feature-discovery image-compatibility artifact derived from a record.

NFD (``kubernetes-sigs/node-feature-discovery``, ``api/image-compatibility/v1alpha1``) validates
a node against ``application/vnd.nfd.image-compatibility.v1alpha1`` artifacts attached to an
image (``nfd compat validate-node --image REF``). Its rules can express part of ours:

- CPU: ``cpu.cpuid`` attributes (``Exists``) for the target's features that NFD reports by default
  (mapped from archspec names through ``vocab/nfd-cpuid.json``), and ``cpu.model.vendor_id`` for a
  vendor-specific target;
- GPU: ``pci.device`` with NVIDIA's vendor id ``10de`` (or AMD's ``1002``) and class ``0302``/
  ``0300`` when the record needs a GPU.

What NFD cannot express (glibc and libstdc++ floors, the MPI ABI, the CUDA driver version,
archspec's partial order) is listed in ``unexpressed`` of :func:`nfd_spec` so callers can say so;
``nameplate check`` remains the full check.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import yaml

from .. import _resources
from ..record import Record

__all__ = ["NFD_ARTIFACT_TYPE", "NFD_LAYER_TYPE", "nfd_spec", "nfd_yaml"]

NFD_ARTIFACT_TYPE = "application/vnd.nfd.image-compatibility.v1alpha1"
NFD_LAYER_TYPE = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml"

_GPU_VENDORS = {"nvidia": "10de", "amd": "1002", "intel": "8086"}


@functools.cache
def _table() -> Mapping[str, Any]:
    table: Mapping[str, Any] = _resources.load_json("vocab", "nfd-cpuid.json")
    return table


def _features(record: Record) -> tuple[set[str], str | None, str | None]:
    target = record.hpc.target
    if target is None:
        return set(), None, None
    features = set(target.features)
    vendor = target.vendor
    if not features:
        import archspec.cpu

        known = archspec.cpu.TARGETS.get(target.name)
        if known is not None:
            features = set(known.features)
            vendor = vendor or str(known.vendor)
    return features, vendor, target.name


def nfd_spec(record: Record) -> tuple[dict[str, Any], list[str]]:
    """The NFD spec (as data) and the list of record requirements it could not express."""
    table = _table()
    mapping: Mapping[str, str] = table["features"]
    hidden = set(table["hidden_by_default"])
    features, vendor, target = _features(record)
    unexpressed: list[str] = []
    cpuid = sorted({mapping[f] for f in features if f in mapping and mapping[f] not in hidden})
    not_mapped = sorted(f for f in features if f not in mapping)
    if not_mapped:
        unexpressed.append(f"cpu features without an NFD name: {', '.join(not_mapped)}")
    hidden_used = sorted({mapping[f] for f in features if f in mapping and mapping[f] in hidden})
    if hidden_used:
        unexpressed.append(f"cpu features NFD hides by default: {', '.join(hidden_used)}")
    match: list[dict[str, Any]] = []
    if cpuid:
        match.append(
            {
                "feature": "cpu.cpuid",
                "matchExpressions": {name: {"op": "Exists"} for name in cpuid},
            }
        )
    nfd_vendor = table["vendors"].get(vendor or "", None)
    if vendor and vendor != "generic" and nfd_vendor:
        match.append(
            {
                "feature": "cpu.model",
                "matchExpressions": {"vendor_id": {"op": "In", "value": [nfd_vendor]}},
            }
        )
    for gpu in record.hpc.gpu:
        pci = _GPU_VENDORS.get(gpu.vendor)
        if pci:
            match.append(
                {
                    "feature": "pci.device",
                    "matchExpressions": {
                        "vendor": {"op": "In", "value": [pci]},
                        "class": {"op": "In", "value": ["0300", "0302"]},
                    },
                }
            )
        unexpressed.append(
            f"{gpu.runtime} {gpu.version or ''} driver floor and architectures".strip()
        )
    if record.hpc.libc and record.hpc.libc.min_version:
        unexpressed.append(f"{record.hpc.libc.family} >= {record.hpc.libc.min_version}")
    if record.hpc.cxx and (record.hpc.cxx.glibcxx_min or record.hpc.cxx.cxxabi_min):
        unexpressed.append("libstdc++ symbol floors")
    if record.hpc.mpi:
        unexpressed.append(f"MPI ABI {record.hpc.mpi.abi}")
    if target:
        unexpressed.append(f"archspec order of {target}")
    name = record.subject.name + (f"@{record.subject.version}" if record.subject.version else "")
    spec: dict[str, Any] = {
        "version": "v1alpha1",
        "compatibilities": [
            {
                "description": f"nameplate: {name}" + (f" built for {target}" if target else ""),
                "rules": [{"name": "nameplate-requirements", "matchFeatures": match}],
            }
        ],
    }
    return spec, unexpressed


def nfd_yaml(record: Record) -> bytes:
    """The NFD spec as the YAML document NFD reads from the artifact's layer."""
    spec, _ = nfd_spec(record)
    return yaml.safe_dump(spec, sort_keys=False).encode()
