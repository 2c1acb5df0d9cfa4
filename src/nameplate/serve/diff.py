"""What changed between two builds: a diff of two records (pure).

Compared: the subject (name, version, kind), the HPC fields (CPU target, compilers, MPI, GPU
runtimes and architectures, C and C++ runtime floors, OS), and the components, matched by name:
added, removed, and for those in both, version, variants (options), CPU target, OS, compiler
flags and whether it is external. Every value is shown as text; nothing here renders HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..record import Component, Record

__all__ = ["Change", "ComponentDiff", "RecordDiff", "diff"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One field that differs: its label, and its value in ``a`` and in ``b`` (None: absent)."""

    field: str
    a: str | None
    b: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {"field": self.field, "a": self.a, "b": self.b}


@dataclass(frozen=True, kw_only=True, slots=True)
class ComponentDiff:
    """A component present in both records whose build changed."""

    name: str
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {"name": self.name, "changes": [c.to_dict() for c in self.changes]}


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordDiff:
    """Every difference between record ``a`` and record ``b``."""

    subject: tuple[Change, ...]
    hpc: tuple[Change, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[ComponentDiff, ...]
    unchanged: int

    @property
    def same(self) -> bool:
        """True when nothing differs."""
        return not (self.subject or self.hpc or self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        """JSON data (``GET /v1/diff``)."""
        return {
            "same": self.same,
            "subject": [c.to_dict() for c in self.subject],
            "hpc": [c.to_dict() for c in self.hpc],
            "components": {
                "added": list(self.added),
                "removed": list(self.removed),
                "changed": [c.to_dict() for c in self.changed],
                "unchanged": self.unchanged,
            },
        }


def _changes(pairs: Mapping[str, tuple[str | None, str | None]]) -> tuple[Change, ...]:
    return tuple(Change(field=k, a=a, b=b) for k, (a, b) in pairs.items() if a != b)


def _join(values: Any) -> str | None:
    items = [str(v) for v in values if v]
    return ", ".join(items) if items else None


def _hpc_fields(r: Record) -> dict[str, str | None]:
    h = r.hpc
    mpi = None
    if h.mpi is not None:
        mpi = h.mpi.implementation + (f"@{h.mpi.version}" if h.mpi.version else "")
        mpi += f" ({h.mpi.abi})"
    return {
        "CPU target": h.target.name if h.target else None,
        "CPU generic level": h.target.generic if h.target else None,
        "compilers": _join(f"{c.name}@{c.version}" for c in h.compilers),
        "MPI": mpi,
        "MPI portability mode": h.mpi.portability_mode if h.mpi else None,
        "GPU runtimes": _join(f"{g.runtime} {g.version or '?'}" for g in h.gpu),
        "GPU architectures": _join(a for g in h.gpu for a in g.architectures),
        "PTX": _join(p for g in h.gpu for p in g.ptx),
        "glibc floor": h.libc.min_version if h.libc else None,
        "C library": (f"{h.libc.family} {h.libc.version or ''}".strip() if h.libc else None),
        "GLIBCXX floor": h.cxx.glibcxx_min if h.cxx else None,
        "CXXABI floor": h.cxx.cxxabi_min if h.cxx else None,
        "OS": (h.os.pretty_name or f"{h.os.name} {h.os.version or ''}".strip()) if h.os else None,
    }


def _option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _component_fields(c: Component) -> dict[str, str | None]:
    out: dict[str, str | None] = {
        "version": c.version,
        "target": c.target.name if c.target else None,
        "os": c.os,
        "external": "yes" if c.external else None,
        "toolchain": (
            f"{c.toolchain.name}@{c.toolchain.version}"
            if c.toolchain and c.toolchain.version
            else (c.toolchain.name if c.toolchain else None)
        ),
    }
    for key, value in sorted(c.options.items()):
        out[f"variant {key}"] = _option(value)
    for key, flags in sorted(c.flags.items()):
        out[f"flags {key}"] = " ".join(flags)
    return out


def _by_name(r: Record) -> dict[str, list[Component]]:
    out: dict[str, list[Component]] = {}
    for c in r.components:
        out.setdefault(c.name, []).append(c)
    for comps in out.values():
        comps.sort(key=lambda c: (c.version, c.id))
    return out


def diff(a: Record, b: Record) -> RecordDiff:
    """The differences between record ``a`` and record ``b``."""
    subject = _changes(
        {
            "name": (a.subject.name, b.subject.name),
            "version": (a.subject.version, b.subject.version),
            "kind": (a.subject.kind, b.subject.kind),
            "platform": (a.subject.platform, b.subject.platform),
        }
    )
    ha, hb = _hpc_fields(a), _hpc_fields(b)
    hpc = _changes({k: (ha[k], hb[k]) for k in ha})
    ca, cb = _by_name(a), _by_name(b)
    added: list[str] = []
    removed: list[str] = []
    changed: list[ComponentDiff] = []
    unchanged = 0
    for name in sorted(set(ca) | set(cb)):
        left, right = ca.get(name, []), cb.get(name, [])
        for i in range(max(len(left), len(right))):
            x = left[i] if i < len(left) else None
            y = right[i] if i < len(right) else None
            if x is None and y is not None:
                added.append(f"{y.name}@{y.version}")
            elif y is None and x is not None:
                removed.append(f"{x.name}@{x.version}")
            elif x is not None and y is not None:
                fx, fy = _component_fields(x), _component_fields(y)
                keys = list(dict.fromkeys([*fx, *fy]))
                changes = _changes({k: (fx.get(k), fy.get(k)) for k in keys})
                if changes:
                    changed.append(ComponentDiff(name=name, changes=changes))
                else:
                    unchanged += 1
    return RecordDiff(
        subject=subject,
        hpc=hpc,
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        unchanged=unchanged,
    )
