"""Spack's exact GPU targets in records: ``cuda_arch=90a`` and ``amdgpu_target=gfx90a:xnack+``.

The lockfile is the real ``spack1.3-cuda-store`` environment (hypre+cuda); the variant values set
here are values Spack itself offers (``CudaPackage.cuda_arch_values`` has ``90a``, ``100a``,
``100f``, ``120a``; ``ROCmPackage.amdgpu_targets`` has ``gfx90a:xnack+``, ``gfx90a:xnack-``,
``gfx942:xnack-``), on the real node they would be set on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nameplate import validate
from nameplate.compat import check
from nameplate.compat.profile import AmdRuntime, HostGpu
from nameplate.compat.report import Verdict, verdict_of
from nameplate.sources import extract_all
from nameplate.sources._common import ExtractOptions
from tests.compat._helpers import cpu_host
from tests.conftest import DATA

LOCK = DATA / "spack" / "spack1.3-cuda-store" / "env" / "spack.lock"
HYPRE = "mb6fva4xsths7eliler7gor5rcrii7c5"


def _lock(tmp: Path, **params: object) -> Path:
    data = json.loads(LOCK.read_text())
    data["concrete_specs"][HYPRE]["parameters"].update(params)
    out = tmp / "spack.lock"
    out.write_text(json.dumps(data))
    return out


def _hypre(tmp: Path, **params: object):  # type: ignore[no-untyped-def]
    records = extract_all(_lock(tmp, **params), kind="spack", options=ExtractOptions())
    (rec,) = [r for r in records if r.subject.name == "hypre"]
    validate(rec)  # today's main fails here: "invalid record" (the pattern refused ':' and '+')
    return rec


def test_amdgpu_target_features_are_kept(tmp_path: Path) -> None:
    rec = _hypre(tmp_path, rocm=True, cuda=False, amdgpu_target=["gfx90a:xnack+", "gfx942:xnack-"])
    (gpu,) = [g for g in rec.hpc.gpu if g.vendor == "amd"]
    assert gpu.architectures == ("gfx90a:xnack+", "gfx942:xnack-")

    def on(gfx: str, xnack: bool | None) -> Verdict:
        host = cpu_host(
            "linux-rocky9-zen5",
            amd=AmdRuntime(rocm_version="6.2"),
            gpus=(HostGpu(vendor="amd", gfx=gfx, xnack=xnack),),
        )
        return verdict_of(
            f for f in check(rec, host, only=["gpu"]).findings if f.code[:4] == "rocm"
        )

    assert on("gfx90a", True) is Verdict.PASS  # xnack+ needs XNACK enabled
    assert on("gfx90a", False) is Verdict.FAIL
    assert on("gfx942", False) is Verdict.PASS  # xnack- needs it off
    assert on("gfx942", True) is Verdict.FAIL
    assert on("gfx942", None) is Verdict.UNKNOWN  # the profile does not say: never a pass
    assert on("gfx1100", False) is Verdict.FAIL


def test_plain_amd_target_runs_either_way(tmp_path: Path) -> None:
    rec = _hypre(tmp_path, rocm=True, cuda=False, amdgpu_target=["gfx90a"])
    for xnack in (True, False, None):
        host = cpu_host(
            "linux-rocky9-zen5", gpus=(HostGpu(vendor="amd", gfx="gfx90a", xnack=xnack),)
        )
        found = [f for f in check(rec, host, only=["gpu"]).findings if f.code[:4] == "rocm"]
        assert verdict_of(found) is Verdict.PASS


@pytest.mark.parametrize("arch", ["90a", "100a", "100f", "120a"])
def test_cuda_arch_suffixes_are_kept(arch: str, tmp_path: Path) -> None:
    rec = _hypre(tmp_path, cuda_arch=[arch])
    (gpu,) = [g for g in rec.hpc.gpu if g.vendor == "nvidia"]
    assert f"sm_{arch}" in gpu.architectures  # (the other CUDA nodes keep their sm_80)
