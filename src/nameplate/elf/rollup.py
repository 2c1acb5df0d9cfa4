"""ELF facts rolled up into a record's HPC fields: C library and libstdc++ floors, the MPI
soname and ABI family, the OpenMP and Fortran runtimes, the CUDA runtime and GPU code, the
x86-64 ISA level, with evidence.

The items are the objects a subject *loads* (its entry points and their runtime closures, see
:mod:`.resolver`); ``outside`` lists what they need that was not found in the subject (the
host's to provide). Every floor is the maximum over the loaded objects and names the object that
needs it (``required_by``). The MPI, OpenMP and Fortran runtimes are ``shipped`` only when the
library itself is among the loaded objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..normalize import cpu_target, max_version, mpi_abi_from_soname, version_key
from ..record import CpuTarget, CxxRuntime, Evidence, Gpu, LanguageRuntime, Libc, Mpi
from .parse import ElfFacts

__all__ = ["HOST_LIBRARIES", "ElfRollup", "elf_rollup", "host_provided", "summary"]

#: Oldest driver of each CUDA major (NVIDIA CUDA Compatibility guide, minor-version compat).
_CUDA_MIN_DRIVER = {"11": "450.80.02", "12": "525.60.13", "13": "580"}

#: Libraries of the C library itself (glibc's and musl's): the host's, judged by the libc floor.
_LIBC_SONAMES = re.compile(
    r"^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2|"
    r"libutil\.so\.1|libanl\.so\.1|libmvec\.so\.1|libnsl\.so\.1|libBrokenLocale\.so\.1|"
    r"libthread_db\.so\.1|libcrypt\.so\.[12]|libc_malloc_debug\.so\.0|ld-linux[-.\w]*\.so\.\d+|"
    r"ld64\.so\.\d|ld\.so\.\d|libc\.musl-[\w]+\.so\.1|ld-musl-[\w]+\.so\.1)$"
)
#: Runtimes a compatibility rule judges on the host (libstdc++, OpenMP, Fortran, MPI, CUDA).
HOST_LIBRARIES = re.compile(
    r"^(libgcc_s\.so\.1|libstdc\+\+\.so\.6|libgomp\.so\.1|libomp\.so(\.5)?|libiomp5\.so|"
    r"libgfortran\.so\.\d+|libquadmath\.so\.0|libcuda\.so\.1|libcudart\.so\.\d+|"
    r"libnvidia-ml\.so\.1|libmpi[\w]*\.so\.\d+|libmpich[\w]*\.so\.\d+)$"
)
_OPENMP = {"libgomp.so.1": "libgomp", "libomp.so": "libomp", "libomp.so.5": "libomp"}
_OPENMP |= {"libiomp5.so": "libiomp5"}
_OPENMP_VERSIONS = ("GOMP_", "OMP_")


def host_provided(soname: str) -> bool:
    """True for a library a host is expected to provide and a rule judges (the C library's
    own, libgcc_s, libstdc++, OpenMP, Fortran, MPI, CUDA)."""
    return bool(_LIBC_SONAMES.match(soname) or HOST_LIBRARIES.match(soname))


@dataclass(frozen=True, kw_only=True, slots=True)
class ElfRollup:
    """HPC fields implied by a set of ELF files, and the evidence for them."""

    libc: Libc | None = None
    cxx: CxxRuntime | None = None
    mpi: Mpi | None = None
    gpu: tuple[Gpu, ...] = ()
    target: CpuTarget | None = None
    openmp: LanguageRuntime | None = None
    fortran: LanguageRuntime | None = None
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
    for prefix in ("GOMP_", "OMP_", "GFORTRAN_"):
        v = _highest(facts, prefix)
        if v:
            parts.append(prefix + v)
    if facts.mpi_soname:
        parts.append(f"{facts.mpi_soname} ({facts.mpi_abi})")
    if facts.cuda_runtime_soname:
        parts.append(facts.cuda_runtime_soname)
    if facts.cuda_sass or facts.cuda_ptx:
        parts.append(" ".join(facts.cuda_sass + facts.cuda_ptx))
    if facts.cuda_ptx_isa:
        parts.append(f"PTX ISA {facts.cuda_ptx_isa}")
    if facts.x86_isa_level:
        parts.append(f"ISA {facts.x86_isa_level}")
    return "needs " + ", ".join(parts) if parts else "no versioned requirements"


def _highest(facts: ElfFacts, prefix: str) -> str | None:
    return max_version(
        v[len(prefix) :]
        for _, v in facts.versions_needed
        if v.startswith(prefix) and v[len(prefix) : len(prefix) + 1].isdigit()
    )


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


Item = tuple[str, ElfFacts, str | None, str | None]


def _floor(items: Sequence[Item], value: str | None, *, attr: str) -> str | None:
    """The path of the first item whose ``attr`` equals the floor ``value``."""
    if value is None:
        return None
    return next((p for p, f, _, _ in items if getattr(f, attr) == value), None)


def _runtime(
    items: Sequence[Item], sonames: dict[str, str], prefixes: tuple[str, ...]
) -> LanguageRuntime | None:
    needed = [(p, n) for p, f, _, _ in items for n in f.needed if n in sonames]
    if not needed:
        return None
    required_by, soname = needed[0]
    shipped = next((i for i in items if i[1].soname == soname), None)
    versions = []
    top_by: str | None = None
    for prefix in prefixes:
        best: tuple[str, str] | None = None
        for p, f, _, _ in items:
            v = max_version(
                name[len(prefix) :]
                for lib, name in f.versions_needed
                if lib == soname and name.startswith(prefix) and name[len(prefix) :][:1].isdigit()
            )
            if v and (best is None or version_key(v) > version_key(best[0])):
                best = (v, p)
        if best is not None:
            versions.append(prefix + best[0])
            top_by = top_by or best[1]
    return LanguageRuntime(
        name=sonames[soname],
        soname=soname,
        versions=tuple(versions),
        shipped=shipped is not None,
        component=shipped[3] if shipped is not None else None,
        required_by=top_by or required_by,
    )


def _fortran(items: Sequence[Item]) -> LanguageRuntime | None:
    sonames = {
        n: "libgfortran"
        for _, f, _, _ in items
        for n in f.needed
        if n.startswith("libgfortran.so.")
    }
    return _runtime(items, sonames, ("GFORTRAN_",))


def elf_rollup(
    items: Sequence[Item],
    outside: Sequence[tuple[str, str]] = (),
) -> ElfRollup:
    """Roll up (path, facts, digest, component id) items, the objects a subject loads, into HPC
    fields with evidence. ``outside``: (soname, needed by) not found in the subject."""
    if not items:
        return ElfRollup()
    glibc = max_version(f.glibc_min for _, f, _, _ in items if f.glibc_min)
    musl = any(n.startswith(("libc.musl", "ld-musl")) for _, f, _, _ in items for n in f.needed)
    libc = (
        Libc(
            family="glibc",
            min_version=glibc,
            required_by=_floor(items, glibc, attr="glibc_min"),
        )
        if glibc
        else None
    )
    if libc is None and musl:
        libc = Libc(family="musl")
    glibcxx = max_version(f.glibcxx_min for _, f, _, _ in items if f.glibcxx_min)
    cxxabi = max_version(f.cxxabi_min for _, f, _, _ in items if f.cxxabi_min)
    cxx = (
        CxxRuntime(
            glibcxx_min=glibcxx,
            cxxabi_min=cxxabi,
            required_by=_floor(items, glibcxx, attr="glibcxx_min")
            or _floor(items, cxxabi, attr="cxxabi_min"),
        )
        if glibcxx or cxxabi
        else None
    )
    mpi = _mpi(items)
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
                architectures=_arch_sorted({a for f in cuda_items for a in f.cuda_sass}),
                ptx=_arch_sorted({a for f in cuda_items for a in f.cuda_ptx}),
                ptx_isa=max_version(f.cuda_ptx_isa for f in cuda_items if f.cuda_ptx_isa),
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
    return ElfRollup(
        libc=libc,
        cxx=cxx,
        mpi=mpi,
        gpu=gpu,
        target=target,
        openmp=_runtime(items, _OPENMP, _OPENMP_VERSIONS),
        fortran=_fortran(items),
        evidence=evidence,
    )


def _arch_sorted(names: set[str]) -> tuple[str, ...]:
    def key(name: str) -> tuple[int, str]:
        digits = re.sub(r"\D", "", name.partition("_")[2])
        return (int(digits) if digits else 0, name)

    return tuple(sorted(names, key=key))


def _mpi(items: Sequence[Item]) -> Mpi | None:
    needed = next(
        ((p, n) for p, f, _, _ in items for n in f.needed if mpi_abi_from_soname(n) != "unknown"),
        None,
    )
    own = next(
        (i for i in items if i[1].soname and mpi_abi_from_soname(i[1].soname) != "unknown"),
        None,
    )
    if needed is None and own is None:
        return None
    soname = needed[1] if needed is not None else own[1].soname if own is not None else None
    assert soname is not None
    shipped = next((i for i in items if i[1].soname == soname), None)
    abi = mpi_abi_from_soname(soname)
    return Mpi(
        implementation=_mpi_implementation(soname),
        abi=abi,
        abi_version=_abi_version(soname, abi),
        soname=soname,
        component=shipped[3] if shipped is not None else None,
        shipped=shipped is not None,
    )
