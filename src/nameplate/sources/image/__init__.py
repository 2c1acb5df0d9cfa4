"""The image source: OCI layouts, OCI and docker archives, registries.

Modules: :mod:`.stores` (where manifests and blobs come from), :mod:`.tarstream` and
:mod:`.layers` (layers streamed into one merged read-only tree, never extracted),
:mod:`.ospkgs` (dpkg, apk and rpm databases, os-release), :mod:`.record` (every finder run on the
merged tree, results merged) and :mod:`.extract` (the entry points).
"""

from __future__ import annotations

from .extract import detect, extract_all

__all__ = ["CAPABILITIES", "KIND", "detect", "extract_all"]

KIND = "image"

CAPABILITIES: dict[str, str] = {
    "spack": "Spack stores, prefixes and environments inside the image (DAG, targets, MPI)",
    "spack-buildcache": (
        "Spack OCI build-cache images: the config's spec and the root layer's .spack/ only; "
        "index.spack as the cache's index"
    ),
    "easybuild": "EasyBuild installs and module trees inside the image",
    "os-packages": "dpkg status (and status.d), apk installed, rpmdb.sqlite; os-release",
    "elf": "glibc/libstdc++ floors, MPI ABI, CUDA runtime and GPU code of component binaries",
    "labels": "image labels and manifest annotations (incl. org.supercontainers.*)",
}
