"""The GPU rule: the CUDA toolkit against the driver, SASS/PTX against each GPU, ROCm targets.

Private to :mod:`nameplate.compat.rules`, which re-exports :func:`gpu_rule` and
:func:`cuda_min_driver`; see its docstring for the codes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ... import _resources
from ...normalize import version_key as _ver
from ...record import Gpu, Record
from ..findings import Finding
from ..profile import Host, HostGpu

if TYPE_CHECKING:
    from ..findings import CheckOptions

__all__ = ["cuda_min_driver", "gpu_rule"]


# -- GPU ---------------------------------------------------------------------------------------


@functools.cache
def _cuda_floors() -> Mapping[int, str]:
    table = _resources.load_json("vocab", "cuda-drivers.json")
    return {int(e["major"]): str(e["min_driver"]) for e in table["families"]}


def cuda_min_driver(toolkit: str) -> str | None:
    """The minimum driver of a CUDA toolkit version's major family (``12.4`` → ``525.60.13``)."""
    m = re.match(r"(\d+)", toolkit)
    return _cuda_floors().get(int(m.group(1))) if m else None


_ARCH = re.compile(r"^(?:sm|compute|lto)_(\d+?)(\d)([af]?)$")


def _arch(name: str) -> tuple[int, int, str] | None:
    m = _ARCH.match(name)
    return (int(m.group(1)), int(m.group(2)), m.group(3)) if m else None


def _runs(arch: str, cc: tuple[int, int], *, ptx: bool) -> bool:
    """Does code for ``arch`` run on compute capability ``cc``? Arch-specific code (``sm_90a``)
    only on that exact CC; SASS on the same major with a minor at or above; PTX (JIT) on any CC
    at or above."""
    a = _arch(arch)
    if a is None:
        return False
    major, minor, suffix = a
    if suffix == "a":
        return (major, minor) == cc
    return (major, minor) <= cc if ptx else major == cc[0] and minor <= cc[1]


def _cc(gpu: HostGpu) -> tuple[int, int] | None:
    if gpu.compute_capability is None:
        return None
    major, _, minor = gpu.compute_capability.partition(".")
    return int(major), int(minor or 0)


def gpu_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """CUDA toolkit against the driver, SASS/PTX against each GPU; ROCm gfx targets."""
    out: list[Finding] = []
    for g in record.hpc.gpu:
        if g.vendor == "nvidia":
            out.extend(_cuda(g, host))
        elif g.vendor == "amd":
            out.extend(_rocm(g, host))
        else:
            out.append(
                Finding(
                    code="gpu.unchecked",
                    severity="unknown",
                    subject=g.runtime,
                    reason=f"{g.vendor} GPUs are not checked by this release",
                )
            )
    return out


def _cuda(g: Gpu, host: Host) -> list[Finding]:
    label = f"CUDA {g.version}" if g.version else "CUDA"
    devices = [d for d in host.gpus if d.vendor == "nvidia"]
    if host.nvidia is None and not devices:
        if host.unknown("gpu.nvidia"):
            return [
                Finding(
                    code="cuda.host-unknown",
                    severity="unknown",
                    subject=label,
                    reason="needs an NVIDIA GPU; the host's NVIDIA probe failed",
                )
            ]
        return [
            Finding(
                code="cuda.no-driver",
                severity="fail",
                subject=label,
                reason=f"needs {label}; no NVIDIA driver on this host",
            )
        ]
    out = [_cuda_driver(g, host, label)]
    if not devices:
        out.append(
            Finding(
                code="cuda.no-gpu",
                severity="fail",
                subject=label,
                reason="an NVIDIA driver but no NVIDIA GPU is visible",
            )
        )
        return out
    out.append(_cuda_arch(g, host, label, devices))
    return out


def _cuda_driver(g: Gpu, host: Host, label: str) -> Finding:
    nv = host.nvidia
    have_cuda = nv.cuda_version if nv else None
    have_driver = nv.driver_version if nv else None
    floor = g.min_driver or (cuda_min_driver(g.version) if g.version else None)
    if g.version and have_cuda:
        need, have = _ver(g.version), _ver(have_cuda)
        if have[:1] < need[:1]:
            return Finding(
                code="cuda.driver-too-old",
                severity="fail",
                subject=label,
                reason=f"built with {label}; the driver implements CUDA {have_cuda}"
                + (f" (needs a driver >= {floor})" if floor else ""),
            )
        if have[:2] < need[:2]:
            return Finding(
                code="cuda.minor-compat",
                severity="warn",
                subject=label,
                reason=f"built with {label}; the driver implements CUDA {have_cuda}: "
                "runs under minor-version compatibility (newer PTX cannot be JIT-compiled)",
            )
        return Finding(
            code="cuda.driver",
            severity="pass",
            subject=label,
            reason=f"built with {label}; the driver implements CUDA {have_cuda}",
        )
    if floor and have_driver:
        if _ver(have_driver) < _ver(floor):
            return Finding(
                code="cuda.driver-too-old",
                severity="fail",
                subject=label,
                reason=f"needs a driver >= {floor}; the host has {have_driver}",
            )
        return Finding(
            code="cuda.driver",
            severity="pass",
            subject=label,
            reason=f"needs a driver >= {floor}; the host has {have_driver}",
        )
    return Finding(
        code="cuda.version-unknown",
        severity="unknown",
        subject=label,
        reason="cannot compare the toolkit and the driver: a version is unknown",
    )


def _cuda_arch(g: Gpu, host: Host, label: str, devices: list[HostGpu]) -> Finding:
    if not g.architectures and not g.ptx:
        return Finding(
            code="cuda.arch-not-recorded",
            severity="info",
            subject=label,
            reason="no SASS or PTX architectures recorded",
        )
    sass = [a for a in g.architectures if a.startswith("sm_")]
    ptx = list(g.ptx) + [a for a in g.architectures if a.startswith("compute_")]
    native: list[str] = []
    jit: list[str] = []
    unknown: list[str] = []
    for d in devices:
        cc = _cc(d)
        name = f"GPU {d.index} ({d.name or 'NVIDIA'}, CC {d.compute_capability or '?'})"
        if cc is None:
            unknown.append(name)
        elif any(_runs(a, cc, ptx=False) for a in sass):
            native.append(name)
        elif any(_runs(a, cc, ptx=True) for a in ptx):
            jit.append(name)
    shown = ", ".join(sass + ptx)
    if native:
        return Finding(
            code="cuda.arch",
            severity="pass",
            subject=label,
            reason=f"SASS for {', '.join(native)} in {shown}",
        )
    if jit:
        nv = host.nvidia
        if g.version and nv and nv.cuda_version and _ver(nv.cuda_version)[:2] < _ver(g.version)[:2]:
            return Finding(
                code="cuda.ptx-too-new",
                severity="fail",
                subject=label,
                reason=f"only PTX fits {', '.join(jit)}, and PTX of {label} cannot be "
                f"JIT-compiled by a CUDA {nv.cuda_version} driver",
            )
        return Finding(
            code="cuda.ptx-jit",
            severity="warn",
            subject=label,
            reason=f"no SASS for {', '.join(jit)}; runs by JIT-compiling PTX ({shown})",
        )
    if unknown:
        return Finding(
            code="cuda.host-unknown",
            severity="unknown",
            subject=label,
            reason=f"compute capability unknown for {', '.join(unknown)}",
        )
    ccs = ", ".join(sorted({d.compute_capability or "?" for d in devices}))
    return Finding(
        code="cuda.arch",
        severity="fail",
        subject=label,
        reason=f"no SASS or PTX for compute capability {ccs} (has {shown})",
    )


def _rocm(g: Gpu, host: Host) -> list[Finding]:
    label = f"ROCm {g.version}" if g.version else "ROCm"
    devices = [d for d in host.gpus if d.vendor == "amd"]
    if not devices:
        if host.unknown("gpu.amd"):
            return [
                Finding(
                    code="rocm.host-unknown",
                    severity="unknown",
                    subject=label,
                    reason="needs an AMD GPU; the host's AMD probe failed",
                )
            ]
        return [
            Finding(
                code="rocm.no-gpu",
                severity="fail",
                subject=label,
                reason=f"needs {label}; no AMD GPU on this host",
            )
        ]
    if not g.architectures:
        return [
            Finding(
                code="rocm.arch-not-recorded",
                severity="info",
                subject=label,
                reason="no gfx targets recorded",
            )
        ]
    wanted = {a.split(":")[0] for a in g.architectures}
    fits = [d for d in devices if d.gfx in wanted]
    if fits:
        return [
            Finding(
                code="rocm.arch",
                severity="pass",
                subject=label,
                reason=f"code for {', '.join(sorted({d.gfx or '' for d in fits}))}",
            )
        ]
    have = ", ".join(sorted({d.gfx or "?" for d in devices}))
    return [
        Finding(
            code="rocm.arch",
            severity="fail",
            subject=label,
            reason=f"built for {', '.join(sorted(wanted))}; the host has {have}",
        )
    ]
