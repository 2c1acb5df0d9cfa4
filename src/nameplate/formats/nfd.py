"""The record as a node-feature-discovery image-compatibility spec (YAML).

A thin format over :mod:`nameplate.compat.nfd`, so that ``nameplate export --format nfd`` writes
it and ``nameplate attach --export nfd`` attaches it next to an image with the artifact and layer
media types NFD looks for (``nfd compat validate-node --image REF``). NFD's rules express the CPU
features and vendor and the presence of a GPU; the rest of a record (libc and libstdc++ floors,
MPI ABI, CUDA driver floor, archspec order) needs ``nameplate check``.
"""

from __future__ import annotations

from ..record import Record
from . import _common

__all__ = ["encode"]


def encode(record: Record) -> bytes:
    """NFD's ``v1alpha1`` spec for ``record`` as YAML (deterministic)."""
    from ..compat.nfd import nfd_yaml

    _common.sorted_components(record)  # refuses duplicate component ids, as every format does
    return nfd_yaml(record)
