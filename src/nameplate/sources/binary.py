"""Source ``binary``: one ELF executable or library on disk → one record.

``nameplate extract binary PATH`` reads the file with :func:`nameplate.sources.elf.parse_elf`
(never runs it) and rolls its facts up into the record's HPC fields: the glibc and libstdc++
floors, the MPI ABI family, the CUDA runtime and GPU code, the x86-64 ISA level. The same roll-up
(:func:`elf_rollup`) serves the executables and libraries found inside images.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from ..normalize import cpu_target, max_version, serial_for, version_key
from ..record import (
    Component,
    CpuTarget,
    CxxRuntime,
    Evidence,
    Gpu,
    Hash,
    Hpc,
    Libc,
    Mpi,
    Provenance,
    Record,
    Subject,
)
from ._common import ExtractOptions, extracted_at, generator
from .elf import ELF_MAGIC, ElfFacts, parse_elf

__all__ = [
    "CAPABILITIES",
    "KIND",
    "ElfRollup",
    "component_for",
    "detect",
    "elf_rollup",
    "extract_all",
    "summary",
]

KIND = "binary"

CAPABILITIES: dict[str, str] = {
    "needed": "DT_NEEDED, SONAME, RPATH, RUNPATH",
    "libc": "highest GLIBC_ version required (.gnu.version_r)",
    "cxx": "highest GLIBCXX_ and CXXABI_ versions required",
    "mpi": "ABI family from the MPI soname needed (libmpi.so.12, libmpi.so.40, libmpi_abi.so.1)",
    "gpu": "CUDA runtime soname; SASS and PTX architectures in .nv_fatbin",
    "target": "x86-64 ISA level from the GNU property note, where present",
}

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


def detect(target: str | os.PathLike[str]) -> bool:
    """True if ``target`` is a regular file that starts with the ELF magic."""
    text = os.fspath(target)
    if ":" in text.split("/", 1)[0] and not Path(text).exists():
        return False
    p = Path(text)
    try:
        if not p.is_file():
            return False
        with open(p, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


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


def component_for(
    path: str, facts: ElfFacts, *, digest: str | None, found_by: tuple[str, ...] = ("elf",)
) -> Component:
    """A component for one ELF file (a library if it has a soname or a ``.so`` name)."""
    name = facts.soname or Path(path).name or path
    props: dict[str, str] = {"elf.machine": facts.machine, "elf.class": str(facts.elf_class)}
    for key, values in (
        ("elf.needed", facts.needed),
        ("elf.rpath", facts.rpath),
        ("elf.runpath", facts.runpath),
    ):
        if values:
            props[key] = ":".join(values) if key != "elf.needed" else ",".join(values)
    if facts.soname:
        props["elf.soname"] = facts.soname
    if facts.x86_isa_level:
        props["elf.x86_isa_level"] = facts.x86_isa_level
    is_lib = bool(facts.soname) or ".so" in Path(path).name
    return Component(
        id=f"elf:{path}",
        name=name,
        version="",
        kind="library" if is_lib else "application",
        ecosystem="elf",
        hashes=(Hash(algorithm="sha256", value=digest.split(":", 1)[1]),) if digest else (),
        found_by=found_by,
        properties=props,
    )


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def extract_all(target: str | os.PathLike[str], options: ExtractOptions) -> list[Record]:
    """One record for the ELF file at ``target``."""
    path = Path(target)
    where = str(path)
    try:
        if not path.is_file():
            raise SourceError(f"{where}: not a regular file")
        digest = _sha256_file(path)
        with open(path, "rb") as f:
            facts = parse_elf(f, where=where)
    except OSError as exc:
        raise SourceError(f"{where}: cannot read: {exc.strerror}") from exc
    component = component_for(path.name, facts, digest=digest)
    roll = elf_rollup([(where, facts, digest, component.id)])
    hpc = Hpc(target=roll.target, mpi=roll.mpi, gpu=roll.gpu, libc=roll.libc, cxx=roll.cxx)
    record = Record(
        serial=serial_for("binary", digest),
        subject=Subject(kind="binary", name=path.name, digest=digest, ref=where),
        roots=(component.id,),
        components=(component,),
        hpc=hpc,
        provenance=Provenance(
            generator=generator(), extracted_at=extracted_at(options), read_from=(where,)
        ),
        evidence=roll.evidence,
    )
    return [record]
