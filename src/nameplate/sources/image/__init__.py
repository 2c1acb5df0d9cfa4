"""The image source: OCI layouts, OCI and docker archives, SIF files, registries.

Modules: :mod:`.stores` (where manifests and blobs come from), :mod:`.tarstream` and
:mod:`.layers` (layers streamed, or squashfs read in place, into one merged read-only tree, never
extracted), :mod:`.sif` and :mod:`.sifstore` (Apptainer/SingularityCE images), :mod:`.ranged` (a
registry blob read by byte ranges), :mod:`.ospkgs` and :mod:`.licenses` (dpkg, apk and rpm
databases, os-release, licenses), :mod:`.record` (every finder run on the merged tree, results
merged) and :mod:`.extract` (the entry points).
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
    "licenses": "dpkg copyright files, rpm License, apk L: as SPDX expressions",
    "sif": "Apptainer/SingularityCE SIF files and OCI-SIF, local or pushed with oras://",
    "elf": "glibc/libstdc++ floors, MPI ABI, CUDA runtime and GPU code of component binaries",
    "labels": "image labels and manifest annotations (incl. org.supercontainers.*)",
}
