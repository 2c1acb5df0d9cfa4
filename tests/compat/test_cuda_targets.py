"""CUDA code against GPUs: real nvcc output (tests/data/cuda, made by make.sh with NVIDIA's
compiler wheels) read by ``extract binary``, checked on each GPU profile. Every cell of the
truth table says the finding and the NVIDIA rule (``vocab/cuda-targets.json``) it follows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nameplate.compat import check
from nameplate.compat.profile import Host, HostGpu, HostLibc, NvidiaDriver
from nameplate.compat.report import Verdict
from nameplate.sources import extract_all
from nameplate.sources._common import ExtractOptions
from tests.conftest import DATA

CUDA = DATA / "cuda"
GPUS = {
    "A100": "8.0",
    "H100": "9.0",
    "B200": "10.0",
    "B300": "10.3",
    "RTX5090": "12.0",
}


def host(*names: str, cuda: str = "13.5") -> Host:
    return Host(
        name="+".join(names),
        libc=HostLibc(family="glibc", version="2.36"),
        nvidia=NvidiaDriver(driver_version="590.10", cuda_version=cuda),
        gpus=tuple(
            HostGpu(vendor="nvidia", index=i, name=n, compute_capability=GPUS[n])
            for i, n in enumerate(names)
        ),
    )


P, W, F = ("cuda.arch", "pass"), ("cuda.ptx-jit", "warn"), ("cuda.arch", "fail")
# fixture -> GPU -> (code, severity, the NVIDIA rule the cell follows)
TRUTH: dict[str, dict[str, tuple[tuple[str, str], str]]] = {
    "sm80.so": {
        "A100": (P, "sass-minor-forward"),
        "H100": (F, "sass-minor-forward"),
        "B200": (F, "sass-minor-forward"),
        "B300": (F, "sass-minor-forward"),
        "RTX5090": (F, "sass-minor-forward"),
    },
    "sm90.so": {
        "A100": (F, "sass-minor-forward"),
        "H100": (P, "sass-minor-forward"),
        "B200": (F, "sass-minor-forward"),
        "B300": (F, "sass-minor-forward"),
        "RTX5090": (F, "sass-minor-forward"),
    },
    "sm90a.so": {
        "A100": (F, "sass-arch-specific"),
        "H100": (P, "sass-arch-specific"),
        "B200": (F, "sass-arch-specific"),
        "B300": (F, "sass-arch-specific"),
        "RTX5090": (F, "sass-arch-specific"),
    },
    "sm100a.so": {
        "A100": (F, "sass-arch-specific"),
        "H100": (F, "sass-arch-specific"),
        "B200": (P, "sass-arch-specific"),
        "B300": (F, "sass-arch-specific"),
        "RTX5090": (F, "sass-arch-specific"),
    },
    "sm100f.so": {
        "A100": (F, "sass-family-specific"),
        "H100": (F, "sass-family-specific"),
        "B200": (P, "sass-family-specific"),
        "B300": (P, "sass-family-specific"),
        "RTX5090": (F, "sass-family-specific"),
    },
    "sm120.so": {
        "A100": (F, "sass-minor-forward"),
        "H100": (F, "sass-minor-forward"),
        "B200": (F, "sass-minor-forward"),
        "B300": (F, "sass-minor-forward"),
        "RTX5090": (P, "sass-minor-forward"),
    },
    "ptx90.so": {
        "A100": (F, "ptx-forward"),
        "H100": (W, "ptx-forward"),
        "B200": (W, "ptx-forward"),
        "B300": (W, "ptx-forward"),
        "RTX5090": (W, "ptx-forward"),
    },
    "ptx90a.so": {
        "A100": (F, "ptx-arch-specific"),
        "H100": (W, "ptx-arch-specific"),
        "B200": (F, "ptx-arch-specific"),
        "B300": (F, "ptx-arch-specific"),
        "RTX5090": (F, "ptx-arch-specific"),
    },
    "sm90-static.so": {
        "A100": (F, "sass-minor-forward"),
        "H100": (P, "sass-minor-forward"),
        "B200": (F, "sass-minor-forward"),
        "B300": (F, "sass-minor-forward"),
        "RTX5090": (F, "sass-minor-forward"),
    },
    "sm100f-ptx-static.so": {
        "A100": (F, "ptx-family-specific"),
        "H100": (F, "ptx-family-specific"),
        "B200": (P, "sass-family-specific"),
        "B300": (P, "sass-family-specific"),
        "RTX5090": (F, "ptx-family-specific"),
    },
}


def _record(name: str):  # type: ignore[no-untyped-def]
    (rec,) = extract_all(CUDA / name, kind="binary", options=ExtractOptions())
    return rec


def _cuobjdump(name: str) -> tuple[set[str], set[str]]:
    """SASS targets as each cubin's header says (``cuobjdump -elf``: ``arch = sm_100f``; the
    ``--list-elf`` file name drops the ``f``), PTX as ``cuobjdump --list-ptx`` names them."""
    text = (CUDA / f"{name}.cuobjdump.txt").read_text()
    arch = (CUDA / f"{name}.cubin-arch.txt").read_text()
    sass = set(re.findall(r"^arch = (sm_\d+[af]?)$", arch, re.M))
    listed = {f"sm_{m}" for m in re.findall(r"ELF file\s+\d+: \S+\.sm_(\d+[af]?)\.cubin", text)}
    if not listed:  # PTX only: -elf prints the PTX's target, there is no cubin
        sass = set()
    assert {s.rstrip("f") for s in sass} == {s.rstrip("f") for s in listed}
    ptx = {f"compute_{m}" for m in re.findall(r"PTX file\s+\d+: \S+\.sm_(\d+[af]?)\.ptx", text)}
    return sass, ptx


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_targets_equal_cuobjdump(name: str) -> None:
    (gpu,) = _record(name).hpc.gpu
    sass, ptx = _cuobjdump(name)
    assert set(gpu.architectures) == sass and set(gpu.ptx) == ptx
    header = (CUDA / f"{name}.ptx-header.txt").read_text()
    isa = re.search(r"\.version (\S+)", header)
    assert gpu.ptx_isa == (isa.group(1) if isa else None)
    if "static" in name:
        assert gpu.soname is None and gpu.version is None  # the runtime is inside the library
    else:
        assert gpu.soname == "libcudart.so.13" and gpu.version == "13"


CELLS = [(f, g) for f in sorted(TRUTH) for g in GPUS]


@pytest.mark.parametrize(("name", "gpu"), CELLS, ids=[f"{f}-{g}" for f, g in CELLS])
def test_truth_table(name: str, gpu: str) -> None:
    (code, severity), rule = TRUTH[name][gpu]
    report = check(_record(name), host(gpu), only=["gpu"])
    device = [f for f in report.findings if f.subject and f.subject.startswith("GPU 0")]
    assert [(f.code, f.severity) for f in device] == [(code, severity)], report.findings
    assert f"[{rule}:" in device[0].reason, device[0].reason
    if "static" not in name:
        want = {"pass": Verdict.PASS, "warn": Verdict.PASS, "fail": Verdict.FAIL}[severity]
        assert report.verdict is want
    else:  # no runtime soname: the driver the runtime needs is unknown, never a silent pass
        assert report.verdict in (Verdict.UNKNOWN, Verdict.FAIL)
        assert "cuda.version-unknown" in report.codes()


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_h100_and_a100_host(name: str) -> None:
    """Two GPUs: a verdict per GPU, and a warning when the code fits only one of them."""
    report = check(_record(name), host("H100", "A100"), only=["gpu"])
    h100 = TRUTH[name]["H100"][0][1]
    a100 = TRUTH[name]["A100"][0][1]
    fits = [s for s in (h100, a100) if s != "fail"]
    per = [f for f in report.findings if f.subject and f.subject.startswith("GPU ")]
    assert len(per) == 2
    if len(fits) == 1:
        assert "cuda.some-gpus" in report.codes("warn")
    elif not fits:
        assert report.verdict is Verdict.FAIL
    else:
        assert "cuda.some-gpus" not in report.codes()


def test_ptx_newer_than_the_driver() -> None:
    """PTX ISA 9.5 (nvcc 13.5) cannot be JIT-compiled by a CUDA 13.0 driver."""
    report = check(_record("ptx90.so"), host("H100", cuda="13.0"), only=["gpu"])
    assert "cuda.ptx-too-new" in report.codes("fail")
    assert any("[ptx-isa-driver:" in f.reason for f in report.findings)


def test_shared_fixture_of_nvcc_13_0() -> None:
    """The lead's fixture (nvcc 13.0): PTX ISA 9.0 runs under a CUDA 13.0 driver."""
    path = DATA / "elf" / "libsaxpy_a.so"
    (rec,) = extract_all(path, kind="binary", options=ExtractOptions())
    (gpu,) = rec.hpc.gpu
    assert gpu.ptx_isa == "9.0" and gpu.ptx == ("compute_80",)
    report = check(rec, host("H100", cuda="13.0"), only=["gpu"])
    assert "cuda.ptx-jit" in report.codes("warn")


def test_make_script_is_committed() -> None:
    assert (CUDA / "make.sh").is_file() and Path(CUDA / "k.cu").is_file()
