"""Pure compatibility rules: ``(record, host, options) -> list[Finding]``, stable codes.

Nothing here does I/O beyond reading nameplate's data tables (``vocab/``) and archspec's
database. Codes (documented in ``docs/compat.md``):

- CPU: ``cpu.target`` (pass: the target is the host's or an ancestor in archspec's order),
  ``cpu.features`` (pass when every feature is on the host although archspec does not order the
  two, fail naming the missing ones), ``cpu.vendor`` (warn: tuned for another vendor),
  ``cpu.family`` (fail), ``cpu.unknown-target`` / ``cpu.host-unknown`` (unknown),
  ``cpu.not-recorded`` (info).
- libc / libstdc++: ``libc.ok``, ``libc.too-old``, ``libc.family``, ``libc.in-image``,
  ``libc.host-unknown``, ``libc.not-recorded``; ``cxx.ok``, ``cxx.too-old``, ``cxx.in-image``,
  ``cxx.host-unknown``, ``cxx.not-recorded``.
- MPI: ``mpi.abi`` (pass), ``mpi.abi-mismatch``, ``mpi.missing``, ``mpi.too-old`` (fail),
  ``mpi.contained`` (info), ``mpi.abi-unknown``, ``mpi.host-unknown``, ``mpi.mode-unknown``
  (unknown), ``mpi.not-used`` (info).
- GPU: ``cuda.driver`` (pass), ``cuda.minor-compat`` (warn), ``cuda.driver-too-old``,
  ``cuda.no-driver``, ``cuda.no-gpu``, ``cuda.arch``, ``cuda.ptx-too-new`` (fail), ``cuda.arch``
  (pass), ``cuda.ptx-jit`` (warn), ``cuda.host-unknown``, ``cuda.version-unknown`` (unknown),
  ``cuda.arch-not-recorded`` (info); ``rocm.arch`` (pass/fail), ``rocm.no-gpu`` (fail),
  ``gpu.unchecked`` (unknown).
- ``os.info`` and ``kernel.info`` (info only).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _resources
from ..normalize import version_key
from ..record import CpuTarget, Gpu, Record
from .profile import Host, HostGpu
from .report import Finding

__all__ = ["RULES", "CheckOptions", "Rule", "cuda_min_driver", "mpi_mode_of", "runtime_components"]

HPC3_MODE_KEY = "org.supercontainers.mpi.portability.mode"


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckOptions:
    """Choices a check needs beyond record and host: the MPI portability mode (HPC3 names, or
    ``contained``); None means: the record's HPC3 annotation, else the subject's default."""

    mpi_mode: str | None = None


Rule = Callable[[Record, Host, CheckOptions], list[Finding]]


def _ver(v: str) -> tuple[tuple[int, int | str], ...]:
    return version_key(v)


@functools.cache
def _targets() -> Mapping[str, Any]:
    import archspec.cpu

    targets: Mapping[str, Any] = archspec.cpu.TARGETS
    return targets


def runtime_components(record: Record) -> set[str]:
    """Ids of the components needed at run time: the roots and what they reach over link/run
    edges (build-only dependencies such as cmake are not needed where the artifact runs)."""
    if not record.roots:
        return {c.id for c in record.components}
    edges: dict[str, list[str]] = {}
    for d in record.dependencies:
        if {"link", "run"} & set(d.types):
            edges.setdefault(d.dependent, []).append(d.dependency)
    seen: set[str] = set()
    todo = list(record.roots)
    while todo:
        cid = todo.pop()
        if cid in seen:
            continue
        seen.add(cid)
        todo.extend(edges.get(cid, ()))
    return seen


# -- CPU ------------------------------------------------------------------------------------


def _cpu_targets(record: Record) -> dict[str, tuple[CpuTarget, list[str]]]:
    out: dict[str, tuple[CpuTarget, list[str]]] = {}
    if record.hpc.target is not None:
        out[record.hpc.target.name] = (record.hpc.target, [record.subject.name])
    needed = runtime_components(record)
    for c in record.components:
        if c.target is None or c.id not in needed or c.external or c.kind == "compiler":
            continue
        entry = out.setdefault(c.target.name, (c.target, []))
        entry[1].append(c.name)
    return out


def _missing(features: set[str], host: Host) -> list[str]:
    from archspec.cpu.detect import partial_uarch

    present = partial_uarch(vendor=host.cpu.vendor or "generic", features=set(host.cpu.flags))
    return sorted(f for f in features if f not in present)


def _about(names: list[str]) -> str:
    shown = ", ".join(sorted(set(names))[:4])
    more = len(set(names)) - 4
    return shown + (f" +{more}" if more > 0 else "")


def cpu_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The CPU target of the record and its runtime components against the host's CPU."""
    wanted = _cpu_targets(record)
    if not wanted:
        return [Finding(code="cpu.not-recorded", severity="info", reason="no CPU target recorded")]
    targets = _targets()
    out: list[Finding] = []
    for name, (ct, users) in sorted(wanted.items()):
        out.append(_one_cpu(name, ct, _about(users), host, targets))
    return out


def _one_cpu(
    name: str, ct: CpuTarget, about: str, host: Host, targets: Mapping[str, Any]
) -> Finding:
    want = targets.get(name)
    have = targets.get(host.cpu.target or "")
    family = str(want.family.name) if want is not None else ct.family
    host_family = host.cpu.family or (str(have.family.name) if have is not None else None)
    if host_family is None:
        return Finding(
            code="cpu.host-unknown",
            severity="unknown",
            subject=about,
            reason="the host's CPU family is unknown",
        )
    if family is not None and family != host_family:
        return Finding(
            code="cpu.family",
            severity="fail",
            subject=about,
            reason=f"{name} is {family}; the host is {host_family}",
        )
    if want is not None and have is not None and want <= have:
        return Finding(
            code="cpu.target",
            severity="pass",
            subject=about,
            reason=f"{name} is {host.cpu.target} or an ancestor of it",
        )
    features = set(want.features) if want is not None else set(ct.features)
    if not host.cpu.flags:
        if want is not None and have is not None:
            return Finding(
                code="cpu.target",
                severity="fail",
                subject=about,
                reason=f"{name} is not {host.cpu.target} or an ancestor of it "
                "(the host profile lists no CPU flags)",
            )
        return Finding(
            code="cpu.host-unknown",
            severity="unknown",
            subject=about,
            reason=f"cannot place {name}: the host's target and flags are unknown",
        )
    if want is None and not features:
        return Finding(
            code="cpu.unknown-target",
            severity="unknown",
            subject=about,
            reason=f"{name!r} is not in archspec {_archspec_version()} and the record lists "
            "no features",
        )
    if family is None and not features:
        return Finding(
            code="cpu.unknown-target",
            severity="unknown",
            subject=about,
            reason=f"{name!r}: family and features unknown",
        )
    missing = _missing(features, host)
    if missing:
        shown = ", ".join(missing[:8]) + (f" +{len(missing) - 8}" if len(missing) > 8 else "")
        return Finding(
            code="cpu.features",
            severity="fail",
            subject=about,
            reason=f"{name} needs {shown}, not on this {host.cpu.target or 'host'} CPU",
        )
    vendor = str(want.vendor) if want is not None else (ct.vendor or "generic")
    if vendor not in ("generic", host.cpu.vendor):
        return Finding(
            code="cpu.vendor",
            severity="warn",
            subject=about,
            reason=f"{name} is tuned for {vendor}; the host is {host.cpu.vendor}, and has every "
            "feature it needs",
        )
    return Finding(
        code="cpu.features",
        severity="pass",
        subject=about,
        reason=f"every feature of {name} is on the host "
        f"({'not ordered with' if want is not None else 'unknown to archspec; compared to'} "
        f"{host.cpu.target or 'its flags'})",
    )


@functools.cache
def _archspec_version() -> str:
    import archspec

    return str(archspec.__version__)


# -- libc and libstdc++ ----------------------------------------------------------------------


def _is_image(record: Record) -> bool:
    return record.subject.kind == "image"


def libc_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The newest ``GLIBC_`` version the record needs against the host's C library."""
    libc = record.hpc.libc
    if libc is None or libc.min_version is None:
        return [
            Finding(code="libc.not-recorded", severity="info", reason="no C library floor recorded")
        ]
    need = f"{libc.family} {libc.min_version}"
    if _is_image(record):
        return [
            Finding(
                code="libc.in-image",
                severity="info",
                reason=f"needs {need}; an image brings its own C library",
            )
        ]
    if host.libc is None or host.libc.version is None:
        return [
            Finding(
                code="libc.host-unknown",
                severity="unknown",
                reason=f"needs {need}; the host's C library is unknown",
            )
        ]
    if host.libc.family != libc.family:
        return [
            Finding(
                code="libc.family",
                severity="fail",
                reason=f"needs {libc.family}; the host has {host.libc.family}",
            )
        ]
    if _ver(host.libc.version) < _ver(libc.min_version):
        return [
            Finding(
                code="libc.too-old",
                severity="fail",
                reason=f"needs {need}; the host has {host.libc.version}",
            )
        ]
    return [
        Finding(
            code="libc.ok",
            severity="pass",
            reason=f"needs {need}; the host has {host.libc.version}",
        )
    ]


def cxx_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The newest ``GLIBCXX_``/``CXXABI_`` versions needed against the host's libstdc++."""
    cxx = record.hpc.cxx
    if cxx is None or (cxx.glibcxx_min is None and cxx.cxxabi_min is None):
        return [
            Finding(code="cxx.not-recorded", severity="info", reason="no libstdc++ floor recorded")
        ]
    needs = [(k, v) for k, v in (("GLIBCXX", cxx.glibcxx_min), ("CXXABI", cxx.cxxabi_min)) if v]
    shown = ", ".join(f"{k}_{v}" for k, v in needs)
    if _is_image(record):
        return [
            Finding(
                code="cxx.in-image",
                severity="info",
                reason=f"needs {shown}; an image brings its own libstdc++",
            )
        ]
    out: list[Finding] = []
    for kind, need in needs:
        have = (
            None
            if host.cxx is None
            else (host.cxx.glibcxx if kind == "GLIBCXX" else host.cxx.cxxabi)
        )
        if have is None:
            out.append(
                Finding(
                    code="cxx.host-unknown",
                    severity="unknown",
                    reason=f"needs {kind}_{need}; the host's libstdc++ is unknown",
                )
            )
        elif _ver(have) < _ver(need):
            out.append(
                Finding(
                    code="cxx.too-old",
                    severity="fail",
                    reason=f"needs {kind}_{need}; the host's libstdc++ defines {kind}_{have}",
                )
            )
        else:
            out.append(
                Finding(
                    code="cxx.ok",
                    severity="pass",
                    reason=f"needs {kind}_{need}; the host defines {kind}_{have}",
                )
            )
    return out


# -- MPI ---------------------------------------------------------------------------------------


@functools.cache
def _modes() -> Mapping[str, str]:
    table = _resources.load_json("vocab", "hpc3-modes.json")
    return {name: str(entry["host_mpi"]) for name, entry in table["modes"].items()}


def mpi_mode_of(record: Record, options: CheckOptions) -> str:
    """The MPI portability mode: the option, else ``hpc.mpi.portability_mode``, else the
    record's HPC3 annotation, else
    ``contained`` for images and installs that carry their MPI, ``mpi_system`` otherwise."""
    if options.mpi_mode:
        return options.mpi_mode
    if record.hpc.mpi is not None and record.hpc.mpi.portability_mode:
        return record.hpc.mpi.portability_mode
    annotated = record.annotations.get(HPC3_MODE_KEY)
    if annotated:
        return annotated
    if _is_image(record):
        return "contained"
    mpi = record.hpc.mpi
    if mpi is not None and mpi.component is not None:
        comp = record.component(mpi.component)
        if comp is not None and comp.status == "installed" and not comp.external:
            return "contained"
    return "mpi_system"


_SONAME = {"mpich": "libmpi.so.12", "openmpi": "libmpi.so.40", "mpi-abi": "libmpi_abi.so.1"}


def mpi_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The MPI ABI family the record links against the host's, per the portability mode."""
    mpi = record.hpc.mpi
    if mpi is None:
        return [Finding(code="mpi.not-used", severity="info", reason="the record links no MPI")]
    mode = mpi_mode_of(record, options)
    what = f"{mpi.implementation}{'@' + mpi.version if mpi.version else ''} ({mpi.abi} ABI)"
    policy = _modes().get(mode)
    if policy is None:
        return [
            Finding(
                code="mpi.mode-unknown",
                severity="unknown",
                reason=f"portability mode {mode!r} is not one of {', '.join(sorted(_modes()))}",
            )
        ]
    if policy == "none":
        return [
            Finding(
                code="mpi.contained",
                severity="info",
                reason=f"brings its own {what}; the host MPI is not used (mode {mode})",
            )
        ]
    if mpi.abi == "unknown":
        return [
            Finding(
                code="mpi.abi-unknown",
                severity="unknown",
                reason=f"the ABI family of {mpi.implementation} is unknown (mode {mode})",
            )
        ]
    if host.unknown("mpi") or host.unknown("ldconfig"):
        return [
            Finding(
                code="mpi.host-unknown",
                severity="unknown",
                reason=f"needs a host {mpi.abi} MPI (mode {mode}); the host's MPI is unknown",
            )
        ]
    if not host.mpi:
        return [
            Finding(
                code="mpi.missing",
                severity="fail",
                reason=f"needs a host MPI of the {mpi.abi} ABI ({_SONAME.get(mpi.abi, '?')}) "
                f"for mode {mode}; none is visible",
            )
        ]
    same = [m for m in host.mpi if m.abi == mpi.abi]
    if not same:
        have = ", ".join(sorted({f"{m.soname} ({m.abi})" for m in host.mpi}))
        return [
            Finding(
                code="mpi.abi-mismatch",
                severity="fail",
                reason=f"built with {what}; the host has {have} (mode {mode})",
            )
        ]
    best = same[0]
    if (
        mpi.abi == "openmpi"
        and mpi.version
        and best.version
        and _ver(best.version)[:2] < _ver(mpi.version)[:2]
    ):
        return [
            Finding(
                code="mpi.too-old",
                severity="fail",
                reason=f"built with Open MPI {mpi.version}; the host's {best.version} is "
                "older (Open MPI keeps its C ABI from older to newer only)",
            )
        ]
    where = best.path or best.source
    return [
        Finding(
            code="mpi.abi",
            severity="pass",
            reason=f"built with {what}; the host provides {best.soname} at {where} (mode {mode})",
        )
    ]


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


def _sass_runs(arch: str, cc: tuple[int, int]) -> bool:
    a = _arch(arch)
    if a is None:
        return False
    major, minor, suffix = a
    if suffix == "a":
        return (major, minor) == cc
    return major == cc[0] and minor <= cc[1]


def _ptx_runs(arch: str, cc: tuple[int, int]) -> bool:
    a = _arch(arch)
    if a is None:
        return False
    major, minor, suffix = a
    if suffix == "a":
        return (major, minor) == cc
    return (major, minor) <= cc


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
        elif any(_sass_runs(a, cc) for a in sass):
            native.append(name)
        elif any(_ptx_runs(a, cc) for a in ptx):
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


# -- OS and kernel (informational) ---------------------------------------------------------------


def os_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """Where it was built and where it would run: information only."""
    built = record.hpc.os
    b = f"{built.name} {built.version or ''}".strip() if built else "an unrecorded OS"
    h = f"{host.os.id or '?'} {host.os.version_id or ''}".strip() if host.os else "an unknown OS"
    out = [Finding(code="os.info", severity="info", reason=f"built on {b}; the host runs {h}")]
    if host.kernel:
        out.append(
            Finding(code="kernel.info", severity="info", reason=f"host kernel {host.kernel}")
        )
    return out


#: Every rule, in report order.
RULES: Mapping[str, Rule] = {
    "cpu": cpu_rule,
    "libc": libc_rule,
    "cxx": cxx_rule,
    "mpi": mpi_rule,
    "gpu": gpu_rule,
    "os": os_rule,
}
