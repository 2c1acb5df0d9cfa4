"""ELF facts rolled up into a record's HPC fields: C library and libstdc++ floors, the MPI
soname and ABI family, the CUDA runtime and GPU code, the x86-64 ISA level, with evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..normalize import cpu_target, max_version, version_key
from ..record import CpuTarget, CxxRuntime, Evidence, Gpu, Libc, Mpi
from .parse import ElfFacts

__all__ = ["ElfRollup", "elf_rollup", "summary"]

#: Oldest driver of each CUDA major (NVIDIA CUDA Compatibility guide, minor-version compat).
_CUDA_MIN_DRIVER = {"11": "450.80.02", "12": "525.60.13", "13": "580"}


@dataclass(frozen=True, kw_only=True, slots=True)
class ElfRollup:
    """HPC fields implied by a set of ELF files, and the evidence for them."""

    libc: Libc | None = None
    cxx: CxxRuntime | None = None
    mpi: Mpi | None = None
    gpu: tuple[Gpu, ...] = ()
    target: CpuTarget | None = None
    evidence: tuple[Evidence, ...] = ()


def summary(facts: ElfFacts) -> str:
    """A short human line of what ``facts`` require (the ``detail`` of evidence)."""
    parts: list[str] = []
    if facts.glibc_min:
        parts.append(f"GLIBC_{facts.glibc_min}")
    if facts.glibcxx_min:
        parts.append(f"GLIBCXX_{facts.glibcxx_min}")
    if facts.cxxabi_min:
        parts.append(f"CXXABI_{facts.cxxabi_min}")
    if facts.mpi_soname:
        parts.append(f"{facts.mpi_soname} ({facts.mpi_abi})")
    if facts.cuda_runtime_soname:
        parts.append(facts.cuda_runtime_soname)
    if facts.cuda_sass or facts.cuda_ptx:
        parts.append(" ".join(facts.cuda_sass + facts.cuda_ptx))
    if facts.x86_isa_level:
        parts.append(f"ISA {facts.x86_isa_level}")
    return "needs " + ", ".join(parts) if parts else "no versioned requirements"


def _mpi_implementation(soname: str) -> str:
    if soname.startswith("libmpich"):
        return "mpich"
    if soname.endswith(".so.40"):
        return "openmpi"
    return "unknown"


def _abi_version(soname: str, abi: str) -> str | None:
    if abi == "mpi-abi":
        return "1.0"
    tail = soname.rpartition(".so.")[2]
    return tail.split(".")[0] if tail and tail != soname else None


def elf_rollup(items: Sequence[tuple[str, ElfFacts, str | None, str | None]]) -> ElfRollup:
    """Roll (path, facts, digest, component id) items up into HPC fields with evidence."""
    if not items:
        return ElfRollup()
    glibc = max_version(f.glibc_min for _, f, _, _ in items if f.glibc_min)
    musl = any(n.startswith("libc.musl") for _, f, _, _ in items for n in f.needed)
    libc = Libc(family="glibc", min_version=glibc) if glibc else None
    if libc is None and musl:
        libc = Libc(family="musl")
    glibcxx = max_version(f.glibcxx_min for _, f, _, _ in items if f.glibcxx_min)
    cxxabi = max_version(f.cxxabi_min for _, f, _, _ in items if f.cxxabi_min)
    cxx = CxxRuntime(glibcxx_min=glibcxx, cxxabi_min=cxxabi) if glibcxx or cxxabi else None
    mpi: Mpi | None = None
    for _, f, _, comp in items:
        if f.mpi_soname and f.mpi_abi:
            mpi = Mpi(
                implementation=_mpi_implementation(f.mpi_soname),
                abi=f.mpi_abi,
                abi_version=_abi_version(f.mpi_soname, f.mpi_abi),
                soname=f.mpi_soname,
                component=comp,
            )
            break
    gpu: tuple[Gpu, ...] = ()
    cuda_items = [f for _, f, _, _ in items if f.cuda_runtime_soname or f.cuda_sass or f.cuda_ptx]
    if cuda_items:
        versions = [f.cuda_runtime_version for f in cuda_items if f.cuda_runtime_version]
        version = max(versions, key=version_key) if versions else None
        soname = next((f.cuda_runtime_soname for f in cuda_items if f.cuda_runtime_soname), None)
        gpu = (
            Gpu(
                vendor="nvidia",
                runtime="cuda",
                version=version,
                architectures=tuple(
                    sorted({a for f in cuda_items for a in f.cuda_sass}, key=version_key)
                ),
                ptx=tuple(sorted({a for f in cuda_items for a in f.cuda_ptx}, key=version_key)),
                soname=soname,
                min_driver=_CUDA_MIN_DRIVER.get(version or ""),
            ),
        )
    levels = [f.x86_isa_level for _, f, _, _ in items if f.x86_isa_level]
    target = cpu_target(max(levels, key=version_key)) if levels else None
    evidence = tuple(
        Evidence(kind="elf", path=path, digest=digest, component=comp, detail=summary(f))
        for path, f, digest, comp in items
    )
    return ElfRollup(libc=libc, cxx=cxx, mpi=mpi, gpu=gpu, target=target, evidence=evidence)
