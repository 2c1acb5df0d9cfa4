"""The Spack source: install prefixes, stores, environments, build caches, OCI configs.

Reads Spack's on-disk formats as data, without Spack, or through Spack's own API where Spack is
importable (see ``docs/sources/spack.md``). Modules: :mod:`.specfile` (specfiles v1-v5),
:mod:`.prefix`, :mod:`.db`, :mod:`.lockfile`, :mod:`.buildcache` (readers that fill a
:class:`.graph.Graph`), :mod:`.metadata` (what an install's ``.spack/`` says: Spack's SBOM and
``install_environment.json``, from a prefix or an install tarball, :mod:`.tarball`),
:mod:`.record` (graph → records), :mod:`.roots` (``--root``), :mod:`.api` (Spack's API) and
:mod:`.extract` (the entry points).
"""

from __future__ import annotations

from collections.abc import Mapping

from .extract import detect, extract_all

__all__ = ["CAPABILITIES", "KIND", "detect", "extract_all"]

KIND = "spack"

#: What this source fills in, field by field (``docs/sources/spack.md`` lists the same).
CAPABILITIES: Mapping[str, str] = {
    "components": "yes: every node of the DAG, externals included",
    "components.hashes": "yes: DAG hash, package hash (v3+), legacy full/build hashes",
    "components.files": "yes: install_manifest.json (base32 SHA-1 per file), prefixes only",
    "components.sources": (
        "partial: from the roots' own SBOM (Spack 1.3+; prefix, store, v3 and OCI build caches), "
        "never for externals"
    ),
    "components.licenses": "partial: from the roots' own SBOM (Spack 1.3+)",
    "components.modules": "yes: an external's modules (with `prefix`, where it lives)",
    "components.options": "yes: variants",
    "components.patches": "yes: sha256 of each patch, in order",
    "dependencies": "yes: build/link/run/test; virtuals from specfile v4 on",
    "hpc.target": "yes: archspec name, completed from archspec",
    "hpc.compilers": "yes: compiler attribute (< v5) or the roots' c/cxx/fortran edges (v5)",
    "hpc.mpi": "yes: the provider of virtual mpi (by name before v4)",
    "hpc.gpu": "yes: cuda/rocm variants, cuda_arch, amdgpu_target, versions; SASS/PTX from fatbins",
    "hpc.libc": "yes: the libc provider (1.x); the floor from ELF files of the run-time closure",
    "hpc.cxx": "yes: GLIBCXX/CXXABI floors from the ELF files of the run-time closure",
    "provenance.builder": (
        "partial: Spack version (and commit) from the roots' install_environment.json, "
        "or spack.lock"
    ),
}
