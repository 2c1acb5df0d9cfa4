"""The OpenMP and Fortran runtime rules: the runtime a record loads against the host's.

Private to :mod:`nameplate.compat.rules`, which re-exports these rules; see its docstring for the
codes. A runtime the subject ships (found inside it by the loader-faithful resolver) needs
nothing of the host; otherwise the host's loader must find the same soname, defining every
symbol version the record needs (``GOMP_4.0``, ``OMP_1.0``, ``GFORTRAN_10``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...normalize import version_key as _ver
from ...record import LanguageRuntime, Record
from ..findings import Finding
from ..profile import Host

if TYPE_CHECKING:
    from ..findings import CheckOptions

__all__ = ["fortran_rule", "openmp_rule"]


def _split(version: str) -> tuple[str, str]:
    """``GOMP_4.0`` → (``GOMP_``, ``4.0``)."""
    head, _, tail = version.rpartition("_")
    return head + "_", tail


def _runtime_rule(rt: LanguageRuntime | None, record: Record, host: Host, kind: str) -> Finding:
    if rt is None:
        return Finding(
            code=f"{kind}.not-used", severity="info", reason=f"the record loads no {kind} runtime"
        )
    need = f"{rt.soname or rt.name}" + (f" ({', '.join(rt.versions)})" if rt.versions else "")
    if rt.shipped:
        return Finding(
            code=f"{kind}.contained",
            severity="info",
            subject=rt.name,
            reason=f"brings its own {rt.soname or rt.name}; the host's is not used",
        )
    if record.subject.kind == "image":
        if rt.shipped is False:
            return Finding(
                code=f"{kind}.missing",
                severity="fail",
                subject=rt.name,
                reason=f"needs {need}; the image does not hold it",
            )
        return Finding(
            code=f"{kind}.in-image",
            severity="info",
            subject=rt.name,
            reason=f"needs {need}; an image brings its own",
        )
    if host.unknown("runtimes") or (not host.runtimes and host.schema_version == "1.0.0"):
        return Finding(
            code=f"{kind}.host-unknown",
            severity="unknown",
            subject=rt.name,
            reason=f"needs {need}; the host's runtimes are unknown (profile {host.schema_version})",
        )
    same = [h for h in host.runtimes if h.soname == rt.soname]
    if not same:
        have = ", ".join(sorted(h.soname for h in host.runtimes if h.name == rt.name)) or "none"
        return Finding(
            code=f"{kind}.missing",
            severity="fail",
            subject=rt.name,
            reason=f"needs {need}; the host's loader finds {have}",
        )
    best = same[0]
    defined = dict(_split(v) for v in best.versions)
    for version in rt.versions:
        family, value = _split(version)
        defines = defined.get(family)
        if defines is None:
            return Finding(
                code=f"{kind}.host-unknown",
                severity="unknown",
                subject=rt.name,
                reason=f"needs {version}; the host's {best.soname} lists no {family} versions",
            )
        if _ver(defines) < _ver(value):
            return Finding(
                code=f"{kind}.too-old",
                severity="fail",
                subject=rt.name,
                reason=f"needs {version}; the host's {best.soname} defines {family}{defines}",
            )
    where = f" at {best.path}" if best.path else ""
    return Finding(
        code=f"{kind}.ok",
        severity="pass",
        subject=rt.name,
        reason=f"needs {need}; the host provides {best.soname}{where}",
    )


def openmp_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The OpenMP runtime (libgomp, libomp, libiomp5) against the host's."""
    return [_runtime_rule(record.hpc.openmp, record, host, "openmp")]


def fortran_rule(record: Record, host: Host, options: CheckOptions) -> list[Finding]:
    """The Fortran runtime (libgfortran soname and ``GFORTRAN_`` versions) against the host's."""
    return [_runtime_rule(record.hpc.fortran, record, host, "fortran")]
