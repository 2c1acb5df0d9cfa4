"""No pass on an unknown: for random records and host profiles, ``check`` never answers pass
while a fact some rule needs is unknown (about the host, or missing from the record)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.compat import check
from nameplate.compat.profile import (
    Host,
    HostCxx,
    HostGpu,
    HostLibc,
    HostMpi,
    HostRuntime,
    HostUnknown,
    NvidiaDriver,
)
from nameplate.compat.report import Verdict
from nameplate.record import CxxRuntime, Gpu, Hpc, LanguageRuntime, Libc, Mpi, Record, Subject

from ._helpers import cpu_host, hypre

pytestmark = pytest.mark.property

maybe = st.none() | st.just(None)
versions = st.sampled_from(["2.17", "2.28", "2.34", "2.36", "2.39"])
libcs = st.none() | st.builds(
    Libc,
    family=st.just("glibc"),
    version=st.none() | versions,
    min_version=st.none() | versions,
)
cxxs = st.none() | st.builds(
    CxxRuntime, glibcxx_min=st.none() | st.sampled_from(["3.4.21", "3.4.30", "3.4.33"])
)
mpis = st.none() | st.builds(
    Mpi,
    implementation=st.sampled_from(["mpich", "openmpi"]),
    abi=st.sampled_from(["mpich", "openmpi", "unknown"]),
    shipped=st.none() | st.booleans(),
)
archs = st.lists(st.sampled_from(["sm_80", "sm_90", "sm_90a", "sm_100f", "sm_120"]), max_size=2)
ptxs = st.lists(st.sampled_from(["compute_80", "compute_90a", "compute_100f"]), max_size=1)
amd = st.lists(st.sampled_from(["gfx90a", "gfx90a:xnack+", "gfx942:xnack-"]), max_size=2)
gpus = st.lists(
    st.builds(
        Gpu,
        vendor=st.just("nvidia"),
        runtime=st.just("cuda"),
        version=st.none() | st.sampled_from(["12.4", "13.0"]),
        architectures=archs.map(tuple),
        ptx=ptxs.map(tuple),
        ptx_isa=st.none() | st.sampled_from(["8.4", "9.0", "9.5"]),
    )
    | st.builds(Gpu, vendor=st.just("amd"), runtime=st.just("rocm"), architectures=amd.map(tuple)),
    max_size=2,
).map(tuple)
runtimes = st.none() | st.builds(
    LanguageRuntime,
    name=st.just("libgomp"),
    soname=st.just("libgomp.so.1"),
    versions=st.sampled_from([(), ("GOMP_4.0",), ("GOMP_5.0", "OMP_4.5")]),
    shipped=st.none() | st.booleans(),
)
host_gpus = st.lists(
    st.builds(
        HostGpu,
        vendor=st.just("nvidia"),
        compute_capability=st.none() | st.sampled_from(["8.0", "9.0", "10.0", "10.3", "12.0"]),
    )
    | st.builds(
        HostGpu,
        vendor=st.just("amd"),
        gfx=st.sampled_from(["gfx90a", "gfx942"]),
        xnack=st.none() | st.booleans(),
    ),
    max_size=2,
)
probes = st.lists(st.sampled_from(["mpi", "runtimes", "ldconfig", "gpu.nvidia"]), max_size=2)


@st.composite
def hosts(draw: st.DrawFn) -> Host:
    gpus_ = draw(host_gpus)
    return dataclasses.replace(
        cpu_host("linux-debian12-icelake"),
        libc=draw(
            st.none() | st.builds(HostLibc, family=st.just("glibc"), version=st.none() | versions)
        ),
        cxx=draw(st.none() | st.builds(HostCxx, glibcxx=st.none() | st.just("3.4.30"))),
        mpi=tuple(
            draw(
                st.lists(st.sampled_from([HostMpi(soname="libmpi.so.12", abi="mpich")]), max_size=1)
            )
        ),
        runtimes=tuple(
            draw(
                st.lists(
                    st.just(
                        HostRuntime(name="libgomp", soname="libgomp.so.1", versions=("GOMP_5.1",))
                    ),
                    max_size=1,
                )
            )
        ),
        nvidia=draw(
            st.none()
            | st.builds(
                NvidiaDriver,
                driver_version=st.none() | st.just("580.65"),
                cuda_version=st.none() | st.sampled_from(["12.4", "13.0", "13.5"]),
            )
        ),
        gpus=tuple(dataclasses.replace(g, index=i) for i, g in enumerate(gpus_)),
        unknowns=tuple(HostUnknown(probe=p, reason="x") for p in draw(probes)),
    )


def _needs_unknown(record: Record, host: Host) -> list[str]:
    """The facts a rule needs that are unknown: the oracle, written apart from the rules."""
    hpc = record.hpc
    out = []
    if (hpc.libc and (hpc.libc.min_version or hpc.libc.version)) and (
        host.libc is None or host.libc.version is None
    ):
        out.append("host libc")
    if hpc.cxx and hpc.cxx.glibcxx_min and (host.cxx is None or host.cxx.glibcxx is None):
        out.append("host libstdc++")
    if hpc.openmp and not hpc.openmp.shipped and host.unknown("runtimes"):
        out.append("host OpenMP")
    if (
        hpc.mpi
        and hpc.mpi.shipped is False
        and (host.unknown("mpi") or host.unknown("ldconfig"))
        and host.mpi
    ):
        out.append("host MPI")
    if hpc.mpi and hpc.mpi.shipped is False and hpc.mpi.abi == "unknown":
        out.append("MPI ABI")
    for g in hpc.gpu:
        if not g.architectures and not g.ptx:
            out.append("GPU code")
        devices = [d for d in host.gpus if d.vendor == g.vendor]
        if g.vendor == "nvidia" and devices:
            if any(d.compute_capability is None for d in devices):
                out.append("compute capability")
            if g.version is None and (host.nvidia is None or host.nvidia.driver_version is None):
                out.append("CUDA version")
        if g.vendor == "amd":
            for d in devices:
                mine = [a for a in g.architectures if a.split(":")[0] == d.gfx]
                plain = any(":" not in a for a in mine)  # runs with XNACK on or off
                if mine and not plain and d.xnack is None:
                    out.append("xnack")
    return out


@given(libcs, cxxs, mpis, gpus, runtimes, hosts())
def test_pass_never_comes_with_an_unknown_fact(
    libc: Libc | None,
    cxx: CxxRuntime | None,
    mpi: Mpi | None,
    gpu: tuple[Gpu, ...],
    openmp: LanguageRuntime | None,
    host: Host,
) -> None:
    base = hypre()
    record = dataclasses.replace(
        base,
        subject=Subject(kind="spack-prefix", name="x"),
        hpc=Hpc(libc=libc, cxx=cxx, mpi=mpi, gpu=gpu, openmp=openmp),
    )
    report = check(record, host, only=["libc", "cxx", "openmp", "mpi", "gpu"])
    if report.verdict is Verdict.PASS:
        assert not _needs_unknown(record, host), report.to_text()
