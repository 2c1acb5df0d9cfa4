"""Generated records for catalog tests and the catalog benchmark (small, varied, deterministic)."""

from __future__ import annotations

import random

from nameplate import normalize
from nameplate.record import (
    Compiler,
    Component,
    Dependency,
    Hash,
    Hpc,
    Mpi,
    Provenance,
    Record,
    Subject,
    Tool,
)

ROOTS = ["hdf5", "hypre", "petsc", "gromacs", "lammps", "openfoam", "fftw", "netcdf-c"]
VERSIONS = {
    "hdf5": ["1.12.2", "1.14.3", "1.14.6"],
    "hypre": ["2.31.0", "3.1.0"],
    "petsc": ["3.20.1", "3.22.0"],
    "gromacs": ["2023.3", "2024.4"],
    "lammps": ["20230802", "20240829"],
    "openfoam": ["2306", "2406"],
    "fftw": ["3.3.10"],
    "netcdf-c": ["4.9.2"],
}
MPIS = [("mpich", ["4.1.2", "4.2.1"]), ("openmpi", ["4.1.6", "5.0.5"]), ("mvapich2", ["2.3.7"])]
TARGETS = [
    "x86_64_v3",
    "x86_64_v4",
    "zen2",
    "zen3",
    "zen4",
    "icelake",
    "sapphirerapids",
    "neoverse_v1",
]
GCC = ["11.4.0", "12.3.0", "13.2.0", "14.1.0"]
_TARGET_CACHE = {t: normalize.cpu_target(t) for t in TARGETS}


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def _dag_hash(rng: random.Random) -> tuple[Hash, ...]:
    """A Spack DAG hash (32 base32 characters), as Spack records carry on every component."""
    return (Hash(algorithm="spack-dag", value="".join(rng.choices(_BASE32, k=32))),)


def record(i: int, *, seed: int = 0) -> Record:
    rng = random.Random(seed * 1_000_003 + i)
    root = rng.choice(ROOTS)
    version = rng.choice(VERSIONS[root])
    mpi_name, mpi_versions = rng.choice(MPIS)
    mpi_version = rng.choice(mpi_versions)
    target = _TARGET_CACHE[rng.choice(TARGETS)]
    gcc = rng.choice(GCC)
    use_mpi = rng.random() < 0.8
    comps = [
        Component(
            id=f"c{i}-root",
            name=root,
            version=version,
            target=target,
            hashes=_dag_hash(rng),
            options={
                "mpi": use_mpi,
                "shared": rng.random() < 0.7,
                "build_type": rng.choice(["Release", "RelWithDebInfo"]),
            },
        ),
        Component(
            id=f"c{i}-zlib", name="zlib-ng", version="2.2.1", target=target, hashes=_dag_hash(rng)
        ),
        Component(
            id=f"c{i}-cmake", name="cmake", version="3.30.2", target=target, hashes=_dag_hash(rng)
        ),
        Component(id=f"c{i}-gcc", name="gcc", version=gcc, kind="compiler"),
    ]
    deps = [
        Dependency(
            dependent=f"c{i}-root", dependency=f"c{i}-zlib", types=("link",), virtuals=("zlib-api",)
        ),
        Dependency(dependent=f"c{i}-root", dependency=f"c{i}-cmake", types=("build",)),
    ]
    mpi = None
    if use_mpi:
        comps.append(
            Component(
                id=f"c{i}-mpi",
                name=mpi_name,
                version=mpi_version,
                target=target,
                hashes=_dag_hash(rng),
                options={"cuda": rng.random() < 0.2},
            )
        )
        deps.append(
            Dependency(
                dependent=f"c{i}-root",
                dependency=f"c{i}-mpi",
                types=("link", "run"),
                virtuals=("mpi",),
            )
        )
        mpi = Mpi(
            implementation=mpi_name,
            version=mpi_version,
            abi=normalize.mpi_abi_family(mpi_name),
            component=f"c{i}-mpi",
        )
    day = 1 + i % 28
    return Record(
        serial=normalize.serial_for("gen", str(seed), str(i)),
        subject=Subject(kind="spack-prefix", name=root, version=version),
        roots=(f"c{i}-root",),
        components=tuple(comps),
        dependencies=tuple(deps),
        hpc=Hpc(target=target, mpi=mpi, compilers=(Compiler(name="gcc", version=gcc),)),
        provenance=Provenance(
            generator=Tool(name="nameplate-bench", version="0"),
            extracted_at=f"2026-01-{day:02d}T00:00:00Z",
        ),
    )
