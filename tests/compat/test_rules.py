"""Every outcome of every rule, on real host fixtures and real records (varied where needed)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from nameplate import normalize
from nameplate.compat import check
from nameplate.compat.profile import (
    AmdRuntime,
    Host,
    HostCpu,
    HostGpu,
    HostLibc,
    HostMpi,
    HostRuntime,
    HostUnknown,
    NvidiaDriver,
)
from nameplate.compat.report import Verdict
from nameplate.compat.rules import RULES, CheckOptions, cuda_min_driver, mpi_mode_of
from nameplate.record import (
    CpuTarget,
    CxxRuntime,
    Gpu,
    Hpc,
    LanguageRuntime,
    Libc,
    Mpi,
    Record,
    Subject,
    Unknown,
)

from ._helpers import MPICH, OPENMPI, cpu_host, h200, hdf5, hypre, variant, with_gpu

ICELAKE = "linux-debian12-icelake"
ZEN3 = "linux-ubuntu20.04-zen3"
ZEN4 = "linux-rocky8.5-zen4"
SPR = "linux-unknown-sapphirerapids"
NEOV1 = "linux-amazon-neoverse_v1"


def hpc(record: Record, **changes: object) -> Record:
    return dataclasses.replace(record, hpc=dataclasses.replace(record.hpc, **changes))


def bare(target: str | None = None, **changes: object) -> Record:
    """hypre with only the HPC fields given (components keep no targets)."""
    base = hypre()
    comps = tuple(dataclasses.replace(c, target=None) for c in base.components)
    t = normalize.cpu_target(target) if target else None
    return dataclasses.replace(base, components=comps, hpc=Hpc(target=t, **changes))  # type: ignore[arg-type]


def image(record: Record) -> Record:
    return dataclasses.replace(record, subject=Subject(kind="image", name="app", version="1"))


GOMP = LanguageRuntime(
    name="libgomp", soname="libgomp.so.1", versions=("GOMP_4.0", "OMP_1.0"), shipped=False
)
GOMP_HOST = HostRuntime(name="libgomp", soname="libgomp.so.1", versions=("GOMP_5.1", "OMP_5.1"))
GFORTRAN = LanguageRuntime(
    name="libgfortran", soname="libgfortran.so.5", versions=("GFORTRAN_10",), shipped=False
)
GFORTRAN_HOST = HostRuntime(
    name="libgfortran", soname="libgfortran.so.5", versions=("GFORTRAN_12",)
)


def rt_host(*runtimes: HostRuntime) -> Host:
    """A Debian 12 icelake host whose loader finds ``runtimes``."""
    return cpu_host(ICELAKE, runtimes=runtimes)


CUDA12 = Gpu(vendor="nvidia", runtime="cuda", version="12.4", architectures=("sm_80", "sm_90"))
CUDA13_PTX = Gpu(vendor="nvidia", runtime="cuda", version="13.1", ptx=("compute_80",))

Case = tuple[str, Callable[[], Record], Callable[[], Host], str, str, str]

CASES: list[Case] = [
    # CPU
    ("cpu-ancestor", hdf5, lambda: cpu_host(ICELAKE), "cpu", "cpu.target", "pass"),
    ("cpu-generic-on-zen4", hypre, lambda: cpu_host(ZEN4), "cpu", "cpu.target", "pass"),
    (
        "cpu-missing-features",
        lambda: bare("zen4"),
        lambda: cpu_host(ICELAKE),
        "cpu",
        "cpu.features",
        "fail",
    ),
    ("cpu-h200-waitpkg", lambda: bare("sapphirerapids"), h200, "cpu", "cpu.features", "fail"),
    (
        "cpu-other-vendor",
        lambda: bare("haswell"),
        lambda: cpu_host(ZEN3),
        "cpu",
        "cpu.vendor",
        "warn",
    ),
    (
        "cpu-family",
        lambda: bare("neoverse_v1"),
        lambda: cpu_host(ZEN4),
        "cpu",
        "cpu.family",
        "fail",
    ),
    (
        "cpu-arm-on-arm",
        lambda: bare("neoverse_n1"),
        lambda: cpu_host(NEOV1),
        "cpu",
        "cpu.target",
        "pass",
    ),
    (
        "cpu-unknown-target-with-features",
        lambda: dataclasses.replace(
            bare(),
            hpc=Hpc(
                target=CpuTarget(
                    name="zen9", family="x86_64", vendor="AuthenticAMD", features=("avx2", "fma")
                )
            ),
        ),
        lambda: cpu_host(ZEN4),
        "cpu",
        "cpu.features",
        "pass",
    ),
    (
        "cpu-unknown-target-features-missing",
        lambda: dataclasses.replace(
            bare(),
            hpc=Hpc(target=CpuTarget(name="zen9", family="x86_64", features=("avx2", "avx1024"))),
        ),
        lambda: cpu_host(ZEN4),
        "cpu",
        "cpu.features",
        "fail",
    ),
    (
        "cpu-unknown-target-no-features",
        lambda: dataclasses.replace(bare(), hpc=Hpc(target=CpuTarget(name="zen9"))),
        lambda: cpu_host(ZEN4),
        "cpu",
        "cpu.unknown-target",
        "unknown",
    ),
    (
        "cpu-host-unknown",
        lambda: bare("zen3"),
        lambda: Host(),
        "cpu",
        "cpu.host-unknown",
        "unknown",
    ),
    (
        "cpu-profile-without-flags",
        lambda: bare("zen4"),
        lambda: Host(cpu=HostCpu(family="x86_64", target="zen3")),
        "cpu",
        "cpu.target",
        "fail",
    ),
    (
        "cpu-not-recorded",
        lambda: bare(None),
        lambda: cpu_host(ZEN4),
        "cpu",
        "cpu.not-recorded",
        "info",
    ),
    # libc
    (
        "libc-ok",
        lambda: bare(libc=Libc(family="glibc", min_version="2.34")),
        h200,
        "libc",
        "libc.ok",
        "pass",
    ),
    (
        "libc-too-old",
        lambda: bare(libc=Libc(family="glibc", min_version="2.38")),
        lambda: cpu_host(ICELAKE),
        "libc",
        "libc.too-old",
        "fail",
    ),
    (
        "libc-family",
        lambda: bare(libc=Libc(family="musl", min_version="1.2")),
        h200,
        "libc",
        "libc.family",
        "fail",
    ),
    (
        "libc-in-image",
        lambda: image(bare(libc=Libc(family="glibc", min_version="2.99"))),
        h200,
        "libc",
        "libc.in-image",
        "info",
    ),
    (
        "libc-host-unknown",
        lambda: bare(libc=Libc(family="glibc", min_version="2.34")),
        lambda: Host(),
        "libc",
        "libc.host-unknown",
        "unknown",
    ),
    ("libc-not-recorded", bare, h200, "libc", "libc.not-recorded", "info"),
    # only the build libc (a Spack glibc external) is known: never a silent pass
    ("libc-build-libc-ok", hypre, h200, "libc", "libc.ok", "pass"),
    (
        "libc-build-newer",
        lambda: bare(libc=Libc(family="glibc", version="2.36")),
        lambda: cpu_host(ICELAKE, libc=HostLibc(family="glibc", version="2.17")),
        "libc",
        "libc.build-newer",
        "warn",
    ),
    # libstdc++
    (
        "cxx-ok",
        lambda: bare(cxx=CxxRuntime(glibcxx_min="3.4.32", cxxabi_min="1.3.14")),
        h200,
        "cxx",
        "cxx.ok",
        "pass",
    ),
    (
        "cxx-too-old",
        lambda: bare(cxx=CxxRuntime(glibcxx_min="3.4.32")),
        lambda: cpu_host(ICELAKE),
        "cxx",
        "cxx.too-old",
        "fail",
    ),
    (
        "cxx-in-image",
        lambda: image(bare(cxx=CxxRuntime(glibcxx_min="3.4.40"))),
        h200,
        "cxx",
        "cxx.in-image",
        "info",
    ),
    (
        "cxx-host-unknown",
        lambda: bare(cxx=CxxRuntime(glibcxx_min="3.4.30")),
        lambda: Host(),
        "cxx",
        "cxx.host-unknown",
        "unknown",
    ),
    ("cxx-not-recorded", hypre, h200, "cxx", "cxx.not-recorded", "info"),
    # MPI (mode from the HPC3 annotation, or the default)
    ("mpi-contained", hypre, lambda: cpu_host(ZEN4), "mpi", "mpi.contained", "info"),
    (
        "mpi-replace-ok",
        lambda: variant(hypre(), target="zen3", mpi="openmpi", mode="mpi_replace"),
        lambda: cpu_host(ZEN3, mpi=(MPICH, OPENMPI)),
        "mpi",
        "mpi.abi",
        "pass",
    ),
    (
        "mpi-replace-mismatch",
        lambda: variant(hypre(), target="zen3", mpi="mpich", mode="mpi_replace"),
        lambda: cpu_host(ZEN3, mpi=(OPENMPI,)),
        "mpi",
        "mpi.abi-mismatch",
        "fail",
    ),
    (
        "mpi-system-missing",
        lambda: variant(hypre(), target="zen3", mpi="mvapich2", mode="mpi_system"),
        lambda: cpu_host(ZEN3),
        "mpi",
        "mpi.missing",
        "fail",
    ),
    (
        "mpi-openmpi-too-old",
        lambda: variant(hypre(), target="zen3", mpi="openmpi", mode="mpi_replace"),
        lambda: cpu_host(ZEN3, mpi=(dataclasses.replace(OPENMPI, version="4.1.5"),)),
        "mpi",
        "mpi.too-old",
        "fail",
    ),
    (
        "mpi-abi-unknown",
        lambda: bare(mpi=Mpi(implementation="exotic-mpi", abi="unknown")),
        lambda: cpu_host(ZEN3, mpi=(OPENMPI,)),
        "mpi",
        "mpi.abi-unknown",
        "unknown",
    ),
    (
        "mpi-host-unknown",
        lambda: variant(hypre(), target="zen3", mpi="mpich", mode="mpi_replace"),
        lambda: cpu_host(ZEN3, unknowns=(HostUnknown(probe="ldconfig", reason="missing"),)),
        "mpi",
        "mpi.host-unknown",
        "unknown",
    ),
    (
        "mpi-mode-unknown",
        lambda: variant(hypre(), target="zen3", mpi="mpich", mode="teleport"),
        lambda: cpu_host(ZEN3),
        "mpi",
        "mpi.mode-unknown",
        "unknown",
    ),
    ("mpi-not-used", lambda: bare("zen3"), lambda: cpu_host(ZEN3), "mpi", "mpi.not-used", "info"),
    # CUDA
    ("cuda-driver-ok", lambda: bare(gpu=(CUDA12,)), h200, "gpu", "cuda.driver", "pass"),
    ("cuda-arch-sass", lambda: bare(gpu=(CUDA12,)), h200, "gpu", "cuda.arch", "pass"),
    (
        "cuda-minor-compat",
        lambda: bare(gpu=(CUDA13_PTX,)),
        h200,
        "gpu",
        "cuda.minor-compat",
        "warn",
    ),
    ("cuda-ptx-too-new", lambda: bare(gpu=(CUDA13_PTX,)), h200, "gpu", "cuda.ptx-too-new", "fail"),
    (
        "cuda-ptx-jit",
        lambda: bare(
            gpu=(
                Gpu(
                    vendor="nvidia",
                    runtime="cuda",
                    version="12.4",
                    architectures=("sm_80",),
                    ptx=("compute_80",),
                ),
            )
        ),
        h200,
        "gpu",
        "cuda.ptx-jit",
        "warn",
    ),
    (
        "cuda-arch-specific-mismatch",
        lambda: bare(
            gpu=(Gpu(vendor="nvidia", runtime="cuda", version="12.4", architectures=("sm_100a",)),)
        ),
        h200,
        "gpu",
        "cuda.arch",
        "fail",
    ),
    (
        "cuda-driver-too-old",
        lambda: bare(
            gpu=(Gpu(vendor="nvidia", runtime="cuda", version="13.0", architectures=("sm_90",)),)
        ),
        lambda: with_gpu(
            cpu_host(ICELAKE), cuda="12.2", driver="535.104.05", cc="9.0", name="NVIDIA H100"
        ),
        "gpu",
        "cuda.driver-too-old",
        "fail",
    ),
    (
        "cuda-driver-floor-from-table",
        lambda: bare(
            gpu=(Gpu(vendor="nvidia", runtime="cuda", version="12.4", architectures=("sm_80",)),)
        ),
        lambda: dataclasses.replace(
            with_gpu(cpu_host(ICELAKE), cuda="12.0", driver="470.82.01", cc="8.0", name="A100"),
            nvidia=dataclasses.replace(
                with_gpu(
                    cpu_host(ICELAKE), cuda="1.0", driver="470.82.01", cc="8.0", name="A100"
                ).nvidia,
                cuda_version=None,
            ),  # type: ignore[arg-type]
        ),
        "gpu",
        "cuda.driver-too-old",
        "fail",
    ),
    (
        "cuda-no-driver",
        lambda: bare(gpu=(CUDA12,)),
        lambda: cpu_host(ICELAKE),
        "gpu",
        "cuda.no-driver",
        "fail",
    ),
    (
        "cuda-no-gpu",
        lambda: bare(gpu=(CUDA12,)),
        lambda: dataclasses.replace(h200(), gpus=()),
        "gpu",
        "cuda.no-gpu",
        "fail",
    ),
    (
        "cuda-probe-failed",
        lambda: bare(gpu=(CUDA12,)),
        lambda: cpu_host(ICELAKE, unknowns=(HostUnknown(probe="gpu.nvidia", reason="timeout"),)),
        "gpu",
        "cuda.host-unknown",
        "unknown",
    ),
    (
        "cuda-version-unknown",
        lambda: bare(gpu=(Gpu(vendor="nvidia", runtime="cuda", architectures=("sm_90",)),)),
        lambda: dataclasses.replace(
            h200(),
            nvidia=dataclasses.replace(h200().nvidia, driver_version=None, cuda_version=None),
        ),  # type: ignore[arg-type]
        "gpu",
        "cuda.version-unknown",
        "unknown",
    ),
    (
        "cuda-arch-not-recorded",
        lambda: bare(gpu=(Gpu(vendor="nvidia", runtime="cuda", version="12.4"),)),
        h200,
        "gpu",
        "cuda.arch-not-recorded",
        "unknown",
    ),
    # ROCm
    (
        "rocm-arch-ok",
        lambda: bare(
            gpu=(
                Gpu(vendor="amd", runtime="rocm", version="6.2", architectures=("gfx90a:xnack-",)),
            )
        ),
        lambda: cpu_host(
            ZEN3,
            amd=AmdRuntime(rocm_version="6.2.1"),
            gpus=(HostGpu(vendor="amd", gfx="gfx90a", xnack=False),),
        ),
        "gpu",
        "rocm.arch",
        "pass",
    ),
    (
        "rocm-xnack-on-needed",
        lambda: bare(gpu=(Gpu(vendor="amd", runtime="rocm", architectures=("gfx90a:xnack+",)),)),
        lambda: cpu_host(ZEN3, gpus=(HostGpu(vendor="amd", gfx="gfx90a", xnack=False),)),
        "gpu",
        "rocm.arch",
        "fail",
    ),
    (
        "rocm-xnack-unknown",
        lambda: bare(gpu=(Gpu(vendor="amd", runtime="rocm", architectures=("gfx942:xnack-",)),)),
        lambda: cpu_host(ZEN3, gpus=(HostGpu(vendor="amd", gfx="gfx942"),)),
        "gpu",
        "rocm.feature-unknown",
        "unknown",
    ),
    (
        "rocm-some-gpus",
        lambda: bare(gpu=(Gpu(vendor="amd", runtime="rocm", architectures=("gfx90a",)),)),
        lambda: cpu_host(
            ZEN3,
            gpus=(
                HostGpu(vendor="amd", index=0, gfx="gfx90a"),
                HostGpu(vendor="amd", index=1, gfx="gfx942"),
            ),
        ),
        "gpu",
        "rocm.some-gpus",
        "warn",
    ),
    (
        "rocm-arch-mismatch",
        lambda: bare(gpu=(Gpu(vendor="amd", runtime="rocm", architectures=("gfx942",)),)),
        lambda: cpu_host(ZEN3, gpus=(HostGpu(vendor="amd", gfx="gfx90a"),)),
        "gpu",
        "rocm.arch",
        "fail",
    ),
    (
        "rocm-no-gpu",
        lambda: bare(gpu=(Gpu(vendor="amd", runtime="rocm", architectures=("gfx90a",)),)),
        h200,
        "gpu",
        "rocm.no-gpu",
        "fail",
    ),
    (
        "rocm-host-unknown",
        lambda: bare(gpu=(Gpu(vendor="amd", runtime="rocm"),)),
        lambda: cpu_host(ZEN3, unknowns=(HostUnknown(probe="gpu.amd", reason="EACCES"),)),
        "gpu",
        "rocm.host-unknown",
        "unknown",
    ),
    (
        "rocm-arch-not-recorded",
        lambda: bare(gpu=(Gpu(vendor="amd", runtime="rocm"),)),
        lambda: cpu_host(ZEN3, gpus=(HostGpu(vendor="amd", gfx="gfx90a"),)),
        "gpu",
        "rocm.arch-not-recorded",
        "unknown",
    ),
    (
        "gpu-intel-unchecked",
        lambda: bare(gpu=(Gpu(vendor="intel", runtime="sycl"),)),
        h200,
        "gpu",
        "gpu.unchecked",
        "unknown",
    ),
    # OpenMP and Fortran runtimes
    ("openmp-not-used", bare, h200, "openmp", "openmp.not-used", "info"),
    ("fortran-not-used", bare, h200, "fortran", "fortran.not-used", "info"),
    (
        "openmp-ok",
        lambda: bare(openmp=GOMP),
        lambda: rt_host(GOMP_HOST),
        "openmp",
        "openmp.ok",
        "pass",
    ),
    (
        "openmp-too-old",
        lambda: bare(openmp=dataclasses.replace(GOMP, versions=("GOMP_5.0",))),
        lambda: rt_host(dataclasses.replace(GOMP_HOST, versions=("GOMP_4.5", "OMP_4.5"))),
        "openmp",
        "openmp.too-old",
        "fail",
    ),
    (
        "openmp-missing",
        lambda: bare(openmp=GOMP),
        lambda: rt_host(),
        "openmp",
        "openmp.missing",
        "fail",
    ),
    (
        "openmp-host-unknown",
        lambda: bare(openmp=GOMP),
        lambda: cpu_host(ICELAKE, schema_version="1.0.0"),
        "openmp",
        "openmp.host-unknown",
        "unknown",
    ),
    (
        "openmp-contained",
        lambda: bare(openmp=dataclasses.replace(GOMP, shipped=True)),
        lambda: rt_host(),
        "openmp",
        "openmp.contained",
        "info",
    ),
    (
        "openmp-in-image",
        lambda: image(bare(openmp=dataclasses.replace(GOMP, shipped=None))),
        lambda: rt_host(),
        "openmp",
        "openmp.in-image",
        "info",
    ),
    (
        "fortran-ok",
        lambda: bare(fortran=GFORTRAN),
        lambda: rt_host(GFORTRAN_HOST),
        "fortran",
        "fortran.ok",
        "pass",
    ),
    (
        "fortran-too-old",
        lambda: bare(fortran=GFORTRAN),
        lambda: rt_host(dataclasses.replace(GFORTRAN_HOST, versions=("GFORTRAN_8",))),
        "fortran",
        "fortran.too-old",
        "fail",
    ),
    (
        "fortran-missing-soname",
        lambda: bare(fortran=GFORTRAN),
        lambda: rt_host(dataclasses.replace(GFORTRAN_HOST, soname="libgfortran.so.4")),
        "fortran",
        "fortran.missing",
        "fail",
    ),
    (
        "fortran-host-unknown",
        lambda: bare(fortran=GFORTRAN),
        lambda: cpu_host(ICELAKE, unknowns=(HostUnknown(probe="runtimes", reason="x"),)),
        "fortran",
        "fortran.host-unknown",
        "unknown",
    ),
    (
        "fortran-contained",
        lambda: bare(fortran=dataclasses.replace(GFORTRAN, shipped=True)),
        lambda: rt_host(),
        "fortran",
        "fortran.contained",
        "info",
    ),
    (
        "fortran-in-image",
        lambda: image(bare(fortran=dataclasses.replace(GFORTRAN, shipped=None))),
        lambda: rt_host(),
        "fortran",
        "fortran.in-image",
        "info",
    ),
    (
        "mpi-not-shipped",
        lambda: bare(
            mpi=Mpi(implementation="mpich", abi="mpich", soname="libmpich.so.12", shipped=False)
        ),
        # a loaded module: its soname is guessed from its name, so it is not held to the name
        lambda: cpu_host(ZEN3, mpi=(dataclasses.replace(MPICH, source="module"),)),
        "mpi",
        "mpi.abi",
        "pass",
    ),
    (
        # The loader looks for the DT_NEEDED name: Debian's libmpich.so.12 is not an upstream
        # MPICH, Intel MPI or Cray host's libmpi.so.12, although both are the MPICH ABI.
        "mpi-system-soname-missing",
        lambda: bare(
            mpi=Mpi(implementation="mpich", abi="mpich", soname="libmpich.so.12", shipped=False)
        ),
        lambda: cpu_host(
            ZEN3, mpi=(dataclasses.replace(MPICH, path="/opt/mpich/lib/libmpi.so.12"),)
        ),
        "mpi",
        "mpi.soname-missing",
        "fail",
    ),
    (
        "mpi-system-soname-found",
        lambda: bare(
            mpi=Mpi(implementation="mpich", abi="mpich", soname="libmpich.so.12", shipped=False)
        ),
        lambda: cpu_host(
            ZEN3,
            mpi=(
                dataclasses.replace(MPICH, path="/opt/mpich/lib/libmpi.so.12"),
                HostMpi(
                    soname="libmpich.so.12",
                    abi="mpich",
                    implementation="mpich",
                    path="/usr/lib/x86_64-linux-gnu/libmpich.so.12",
                ),
            ),
        ),
        "mpi",
        "mpi.abi",
        "pass",
    ),
    (
        "closure-unread",
        lambda: dataclasses.replace(
            bare(libc=Libc(family="glibc", min_version="2.17")),
            unknowns=(Unknown(path="/p/lib/libx.so", field="elf", reason="cannot read"),),
        ),
        lambda: cpu_host(ZEN3),
        "closure",
        "closure.unread",
        "warn",
    ),
    (
        "closure-outside",
        lambda: dataclasses.replace(
            bare(libc=Libc(family="glibc", min_version="2.17")),
            unknowns=(
                Unknown(
                    path="/p/bin/app", field="elf.closure", reason="needs libx.so.1: not found"
                ),
            ),
        ),
        lambda: cpu_host(ZEN3),
        "closure",
        "closure.outside",
        "warn",
    ),
    (
        "mpi-contained-but-not-shipped",
        lambda: bare(
            mpi=Mpi(
                implementation="mpich",
                abi="mpich",
                soname="libmpich.so.12",
                shipped=False,
                portability_mode="contained",
            )
        ),
        lambda: cpu_host(ZEN3, mpi=(MPICH,)),
        "mpi",
        "mpi.not-shipped",
        "fail",
    ),
    (
        "cuda-sm90a-on-h100-and-a100",
        lambda: bare(
            gpu=(Gpu(vendor="nvidia", runtime="cuda", version="13.0", architectures=("sm_90a",)),)
        ),
        lambda: cpu_host(
            ICELAKE,
            nvidia=NvidiaDriver(driver_version="580.65.06", cuda_version="13.0"),
            gpus=(
                HostGpu(vendor="nvidia", index=0, name="H100", compute_capability="9.0"),
                HostGpu(vendor="nvidia", index=1, name="A100", compute_capability="8.0"),
            ),
        ),
        "gpu",
        "cuda.some-gpus",
        "warn",
    ),
    # OS / kernel: information only
    ("os-info", hdf5, h200, "os", "os.info", "info"),
    ("kernel-info", hdf5, h200, "os", "kernel.info", "info"),
]


@pytest.mark.parametrize(
    ("case", "record", "host", "rule", "code", "severity"), CASES, ids=[c[0] for c in CASES]
)
def test_rule_outcome(
    case: str,
    record: Callable[[], Record],
    host: Callable[[], Host],
    rule: str,
    code: str,
    severity: str,
) -> None:
    findings = RULES[rule](record(), host(), CheckOptions())
    got = [(f.code, f.severity) for f in findings]
    assert (code, severity) in got, got
    assert all(f.reason for f in findings)


def test_every_code_in_the_docs_is_tested() -> None:
    tested = {c[4] for c in CASES}
    import nameplate.compat.rules as rules_module

    documented = set(__import__("re").findall(r"``([a-z]+\.[a-z-]+)``", rules_module.__doc__ or ""))
    assert documented - {"cpu.not-recorded"} <= tested | {"cpu.not-recorded"}, documented - tested


def test_every_code_is_in_the_compat_page() -> None:
    """``docs/compat.md`` lists every code the rules' docstring lists (the architecture map
    promises both)."""
    import re

    import nameplate.compat.rules as rules_module
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "compat.md").read_text()
    codes = set(re.findall(r"``([a-z]+\.[a-z-]+)``", rules_module.__doc__ or ""))
    kinds = {c.split(".")[0] for c in codes}
    assert kinds >= {"cpu", "libc", "mpi", "closure"}
    assert {c for c in codes if f"`{c}`" not in page} == set()


def test_verdicts_and_why_not() -> None:
    ok = check(hdf5(), cpu_host(ICELAKE))
    assert ok.verdict is Verdict.PASS and ok.verdict.exit_code == 0 and not ok.why_not
    bad = check(variant(hypre(), target="zen4"), cpu_host(ICELAKE))
    assert bad.verdict is Verdict.FAIL and bad.verdict.exit_code == 1
    assert any(w.startswith("cpu.features: zen4 needs") for w in bad.why_not)
    unknown = check(
        bare(libc=Libc(family="glibc", min_version="2.34")), Host(cpu=cpu_host(ICELAKE).cpu)
    )
    assert unknown.verdict is Verdict.UNKNOWN and unknown.verdict.exit_code == 3
    assert unknown.to_dict()["why_not"] == list(unknown.why_not)


def test_build_only_dependencies_are_not_checked() -> None:
    record = hypre()
    comps = tuple(
        dataclasses.replace(c, target=normalize.cpu_target("zen4")) if c.name == "cmake" else c
        for c in record.components
    )
    assert any(c.name == "cmake" for c in comps)
    report = check(dataclasses.replace(record, components=comps), cpu_host(ICELAKE), only=["cpu"])
    assert report.verdict is Verdict.PASS, report.to_text()


def test_mpi_mode_defaults() -> None:
    assert mpi_mode_of(image(hypre()), CheckOptions()) == "contained"
    assert mpi_mode_of(hypre(), CheckOptions()) == "contained"  # Spack installs carry their MPI
    assert (
        mpi_mode_of(bare(mpi=Mpi(implementation="mpich", abi="mpich")), CheckOptions())
        == "mpi_system"
    )
    assert mpi_mode_of(hypre(), CheckOptions(mpi_mode="mpi_replace")) == "mpi_replace"


def test_cuda_floor_table() -> None:
    assert cuda_min_driver("12.4") == "525.60.13"
    assert cuda_min_driver("11.8") == "450.80.02"
    assert cuda_min_driver("99.0") is None


def test_text_report_lists_every_finding() -> None:
    report = check(hypre(), h200())
    text = report.to_text()
    assert text.splitlines()[0].endswith("on h200-probe")
    assert len(text.splitlines()) == len(report.findings) + 1


def test_libc_family_host_without_version() -> None:
    findings = RULES["libc"](
        bare(libc=Libc(family="glibc", min_version="2.3")),
        Host(libc=HostLibc(family="glibc")),
        CheckOptions(),
    )
    assert findings[0].code == "libc.host-unknown"
