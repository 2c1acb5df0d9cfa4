"""The CPU rule: the record's CPU targets against the host's, with archspec's order and features.

Private to :mod:`nameplate.compat.rules`, which re-exports :func:`cpu_rule` and
:func:`runtime_components`; see its docstring for the codes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...record import CpuTarget, Record
from ..findings import Finding
from ..profile import Host

if TYPE_CHECKING:
    from ..findings import CheckOptions

__all__ = ["cpu_rule", "runtime_components"]


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
