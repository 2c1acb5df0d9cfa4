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


@functools.cache
def _targets() -> tuple[Mapping[str, str], tuple[tuple[str, str], ...]]:
    """Rule id → its NVIDIA source; (PTX ISA, CUDA version) pairs (``vocab/cuda-targets.json``)."""
    table = _resources.load_json("vocab", "cuda-targets.json")
    rules = {str(r["id"]): str(r["source"]).split(": http")[0] for r in table["rules"]}
    isa = tuple((str(e["isa"]), str(e["cuda"])) for e in table["ptx_isa"])
    return rules, isa


def ptx_isa_cuda(isa: str) -> str | None:
    """The CUDA version that introduced PTX ISA ``isa`` (``9.0`` → ``13.0``)."""
    for version, cuda in _targets()[1]:
        if version == isa:
            return cuda
    major, _, minor = isa.partition(".")
    if major.isdigit() and minor.isdigit() and int(major) >= 9:
        return f"{int(major) + 4}.{int(minor)}"  # 9.N ↔ 13.N (the table's note)
    return None


def _arch(name: str) -> tuple[int, int, str] | None:
    m = _ARCH.match(name)
    return (int(m.group(1)), int(m.group(2)), m.group(3)) if m else None


def _fits(arch: str, cc: tuple[int, int], *, ptx: bool) -> tuple[bool, str]:
    """Does code for ``arch`` run on compute capability ``cc``, and by which NVIDIA rule."""
    a = _arch(arch)
    if a is None:
        return False, "unknown-target"
    major, minor, suffix = a
    kind = "ptx" if ptx else "sass"
    if suffix == "a":
        return (major, minor) == cc, f"{kind}-arch-specific"
    if suffix == "f":
        return major == cc[0] and minor <= cc[1], f"{kind}-family-specific"
    if ptx:
        return (major, minor) <= cc, "ptx-forward"
    return major == cc[0] and minor <= cc[1], "sass-minor-forward"


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
    out.extend(_cuda_arch(g, host, label, devices))
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


def _rule(rule: str) -> str:
    return f"[{rule}: {_targets()[0].get(rule, 'NVIDIA')}]"


def _device(g: Gpu, host: Host, d: HostGpu, sass: list[str], ptx: list[str]) -> Finding:
    """The verdict for one GPU: SASS that runs there, else PTX the driver can JIT-compile."""
    label = f"GPU {d.index} ({d.name or 'NVIDIA'}, CC {d.compute_capability or '?'})"
    cc = _cc(d)
    if cc is None:
        return Finding(
            code="cuda.host-unknown",
            severity="unknown",
            subject=label,
            reason="compute capability unknown",
        )
    for a in sass:
        ok, rule = _fits(a, cc, ptx=False)
        if ok:
            return Finding(
                code="cuda.arch", severity="pass", subject=label, reason=f"runs {a} {_rule(rule)}"
            )
    misses = [f"{a} {_rule(_fits(a, cc, ptx=False)[1])}" for a in sass]
    for a in ptx:
        ok, rule = _fits(a, cc, ptx=True)
        if not ok:
            misses.append(f"{a} {_rule(rule)}")
            continue
        nv = host.nvidia
        have = nv.cuda_version if nv else None
        need = ptx_isa_cuda(g.ptx_isa) if g.ptx_isa else g.version
        what = f"PTX ISA {g.ptx_isa}" if g.ptx_isa else f"PTX of CUDA {g.version}"
        if need is None:
            return Finding(
                code="cuda.ptx-jit",
                severity="warn",
                subject=label,
                reason=f"no SASS fits; JIT-compiles {a} {_rule(rule)} (PTX ISA unknown)",
            )
        if have is None:
            return Finding(
                code="cuda.host-unknown",
                severity="unknown",
                subject=label,
                reason=f"only {a} fits (JIT); the driver's CUDA version is unknown "
                f"{_rule('ptx-isa-driver')}",
            )
        if _ver(have)[:2] < _ver(need)[:2]:
            return Finding(
                code="cuda.ptx-too-new",
                severity="fail",
                subject=label,
                reason=f"only {a} fits, and {what} needs a CUDA {need} driver; the driver "
                f"implements CUDA {have} {_rule('ptx-isa-driver')}",
            )
        return Finding(
            code="cuda.ptx-jit",
            severity="warn",
            subject=label,
            reason=f"no SASS fits; the driver JIT-compiles {a} {_rule(rule)}",
        )
    return Finding(
        code="cuda.arch",
        severity="fail",
        subject=label,
        reason=f"no code for compute capability {d.compute_capability}: " + "; ".join(misses),
    )


def _cuda_arch(g: Gpu, host: Host, label: str, devices: list[HostGpu]) -> list[Finding]:
    if not g.architectures and not g.ptx:
        return [
            Finding(
                code="cuda.arch-not-recorded",
                severity="unknown",
                subject=label,
                reason="no SASS or PTX architectures recorded: which GPUs it runs on is unknown",
            )
        ]
    sass = [a for a in g.architectures if a.startswith("sm_")]
    ptx = list(g.ptx) + [a for a in g.architectures if a.startswith("compute_")]
    per = [_device(g, host, d, sass, ptx) for d in devices]
    runs = [f for f in per if f.severity in ("pass", "warn")]
    fails = [f for f in per if f.severity == "fail"]
    if runs and fails:  # a verdict per GPU: it fits only some of them
        per = [
            f
            if f.severity != "fail"
            else Finding(code="cuda.some-gpus", severity="warn", subject=f.subject, reason=f.reason)
            for f in per
        ]
        names = ", ".join(f.subject or "" for f in runs)
        per.append(
            Finding(
                code="cuda.some-gpus",
                severity="warn",
                subject=label,
                reason=f"runs on {names} only; pin it there (CUDA_VISIBLE_DEVICES)",
            )
        )
    return per


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
                severity="unknown",
                subject=label,
                reason="no gfx targets recorded: which GPUs it runs on is unknown",
            )
        ]
    out = [_amd_device(g.architectures, d) for d in devices]
    runs = [f for f in out if f.severity == "pass"]
    if runs and any(f.severity == "fail" for f in out):  # it fits only some of the GPUs
        out = [
            f
            if f.severity != "fail"
            else Finding(code="rocm.some-gpus", severity="warn", subject=f.subject, reason=f.reason)
            for f in out
        ]
    return out


def _amd_target(name: str) -> tuple[str, dict[str, bool]]:
    """``gfx90a:xnack+:sramecc-`` → (``gfx90a``, {xnack: True, sramecc: False})."""
    base, *features = name.split(":")
    return base, {f[:-1]: f.endswith("+") for f in features if f[-1:] in "+-"}


def _amd_device(targets: tuple[str, ...], d: HostGpu) -> Finding:
    """A code object for ``gfx90a`` runs on gfx90a; one built ``xnack+`` needs XNACK enabled,
    ``xnack-`` needs it off, no suffix runs either way (the same for ``sramecc``): LLVM AMDGPU
    target features, ROCm's code object rules."""
    label = f"GPU {d.index} ({d.name or d.gfx or 'AMD'})"
    misses: list[str] = []
    unknown: list[str] = []
    for target in targets:
        base, features = _amd_target(target)
        if base != d.gfx:
            misses.append(target)
            continue
        ok = True
        for feature, wanted in features.items():
            have = d.xnack if feature == "xnack" else d.sramecc if feature == "sramecc" else None
            if have is None:
                unknown.append(f"{target} needs {feature} {'on' if wanted else 'off'}")
                ok = False
                break
            if have != wanted:
                misses.append(f"{target} (the GPU has {feature} {'on' if have else 'off'})")
                ok = False
                break
        if ok:
            return Finding(
                code="rocm.arch", severity="pass", subject=label, reason=f"runs {target}"
            )
    if unknown:
        return Finding(
            code="rocm.feature-unknown",
            severity="unknown",
            subject=label,
            reason="; ".join(unknown) + "; the host profile does not say",
        )
    return Finding(
        code="rocm.arch",
        severity="fail",
        subject=label,
        reason=f"built for {', '.join(misses) or '?'}; the GPU is {d.gfx or '?'}",
    )
