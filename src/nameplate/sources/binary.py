"""Source ``binary``: one ELF executable or library on disk → one record.

``nameplate extract binary PATH`` reads the file with :func:`nameplate.elf.parse_elf`
(never runs it) and rolls its facts up into the record's HPC fields: the glibc and libstdc++
floors, the MPI ABI family, the CUDA runtime and GPU code, the x86-64 ISA level. The same roll-up
(:func:`nameplate.elf.rollup.elf_rollup`) serves the executables and libraries found inside images.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..elf import ELF_MAGIC, ElfFacts, parse_elf
from ..elf.rollup import elf_rollup
from ..errors import SourceError
from ..normalize import serial_for
from ..record import (
    Component,
    Hash,
    Hpc,
    Provenance,
    Record,
    Subject,
)
from ._common import ExtractOptions, extracted_at, generator

__all__ = [
    "CAPABILITIES",
    "KIND",
    "component_for",
    "detect",
    "extract_all",
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


def _closure(
    path: Path, facts: ElfFacts, digest: str, component: str
) -> tuple[list[tuple[str, ElfFacts, str | None, str | None]], list[tuple[str, str]]]:
    """The file and what it loads from beside itself (``$ORIGIN`` paths in its own folder):
    the subject is the file, so every other library is the host's to provide."""
    from ..elf.resolver import Resolver
    from ..tree import DirectoryTree

    where = str(path.resolve())
    items: list[tuple[str, ElfFacts, str | None, str | None]] = [
        (str(path), facts, digest, component)
    ]
    try:
        tree = DirectoryTree(path.resolve().parent)
    except SourceError:
        return items, [(n, where) for n in facts.needed]
    resolver = Resolver(tree, mounts=[(tree.name, ".")])
    resolver.cache.put(path.name, facts, digest)
    closure = resolver.closure(path.name)
    if closure is None:
        return items, []
    for link in closure.links:
        if link.tree_path is None:
            continue
        found = resolver.cache.facts.get(resolver.canon(link.tree_path))
        if found is not None and link.path:
            items.append((link.path, found, resolver.cache.digests.get(link.tree_path), None))
    return items, [(link.name, link.needed_by) for link in closure.outside]


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
    items, outside = _closure(path, facts, digest, component.id)
    roll = elf_rollup(items, outside)
    hpc = Hpc(
        target=roll.target,
        mpi=roll.mpi,
        gpu=roll.gpu,
        libc=roll.libc,
        cxx=roll.cxx,
        openmp=roll.openmp,
        fortran=roll.fortran,
    )
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
