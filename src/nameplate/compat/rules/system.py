"""The libc, libstdc++, MPI and OS rules: what the record needs of the host's system libraries.

Private to :mod:`nameplate.compat.rules`, which re-exports these rules and :func:`mpi_mode_of`;
see its docstring for the codes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ... import _resources
from ...normalize import version_key as _ver
from ...record import Record
from ..findings import Finding
from ..profile import Host

if TYPE_CHECKING:
    from ..findings import CheckOptions

__all__ = [
    "HPC3_MODE_KEY",
    "closure_rule",
    "cxx_rule",
    "libc_rule",
    "mpi_mode_of",
    "mpi_rule",
    "os_rule",
]

HPC3_MODE_KEY = "org.supercontainers.mpi.portability.mode"


# -- libc and libstdc++ ----------------------------------------------------------------------


def _is_image(record: Record) -> bool:
    return record.subject.kind == "image"


def libc_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The newest ``GLIBC_`` version the record needs against the host's C library."""
    libc = record.hpc.libc
    if libc is not None and libc.min_version is None and libc.version and not _is_image(record):
        return [_build_libc(libc.family, libc.version, host)]
    if libc is None or libc.min_version is None:
        return [
            Finding(code="libc.not-recorded", severity="info", reason="no C library floor recorded")
        ]
    need = f"{libc.family} {libc.min_version}"
    if libc.required_by:
        need += f" ({libc.required_by})"
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


def closure_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The floors are maxima over the objects the subject loads: where some could not be read
    (``elf`` unknowns) or a needed library was found nowhere a rule looks (``elf.closure``),
    they may be too low. Never a silent pass: a warning naming what is missing."""
    out: list[Finding] = []
    for field, code, what in (
        ("elf", "closure.unread", "file(s) of the subject could not be read"),
        ("elf.closure", "closure.outside", "needed librar(ies) not found in the subject"),
    ):
        hits = [u for u in record.unknowns if u.field == field]
        if not hits:
            continue
        shown = "; ".join(f"{u.path}: {u.reason}" for u in hits[:3])
        more = f"; +{len(hits) - 3} more" if len(hits) > 3 else ""
        out.append(
            Finding(
                code=code,
                severity="warn",
                reason=f"{len(hits)} {what}, so the floors may be too low ({shown}{more})",
            )
        )
    return out


def _build_libc(family: str, version: str, host: Host) -> Finding:
    """No ELF floor is known, only the C library it was built against: that is the possible
    need. Never a silent pass: a warning when the host's is older, unknown when it is unknown."""
    built = f"built against {family} {version} (no ELF floor recorded)"
    if host.libc is None or host.libc.version is None:
        return Finding(
            code="libc.host-unknown",
            severity="unknown",
            reason=f"{built}; the host's C library is unknown",
        )
    if host.libc.family != family:
        return Finding(
            code="libc.family",
            severity="fail",
            reason=f"built against {family}; the host has {host.libc.family}",
        )
    if _ver(host.libc.version) < _ver(version):
        return Finding(
            code="libc.build-newer",
            severity="warn",
            reason=f"{built}; the host has {host.libc.version}: it may need symbols the host lacks",
        )
    return Finding(
        code="libc.ok",
        severity="pass",
        reason=f"{built}; the host has {host.libc.version}",
    )


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
    mpi = record.hpc.mpi
    if mpi is not None and mpi.shipped is not None:  # what the loader finds decides
        return "contained" if mpi.shipped else "mpi_system"
    if _is_image(record):
        return "contained"
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
    if policy == "none" and mpi.shipped is False:
        return [
            Finding(
                code="mpi.not-shipped",
                severity="fail",
                reason=f"mode {mode} needs the subject's own MPI, but it loads {mpi.soname} "
                "from outside itself",
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
    best = next((m for m in same if m.soname == mpi.soname), same[0])
    if (
        mode == "mpi_system"
        and mpi.shipped is False
        and mpi.soname
        and best.soname != mpi.soname
        and all(m.source != "module" for m in same)  # a module's soname is a guess
    ):
        have = ", ".join(sorted({f"{m.soname} at {m.path or m.source}" for m in same}))
        return [
            Finding(
                code="mpi.soname-missing",
                severity="fail",
                reason=f"loads {mpi.soname} by that name (mode {mode}); the host's {mpi.abi} "
                f"ABI MPI is {have}: the loader finds no {mpi.soname}",
            )
        ]
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
