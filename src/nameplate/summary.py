"""Human summaries of a record: the dependency tree with edge types, and the HPC fields."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .record import Component, Dependency, Hpc, Record

__all__ = ["hpc_summary", "summarize", "tree_lines"]


def _label(c: Component | None, cid: str) -> str:
    if c is None:
        return cid
    short = cid.rsplit(":", 1)[-1][:7] if cid.startswith("spack:") else ""
    ext = " [external]" if c.external else ""
    return f"{c.name}@{c.version}" + (f" /{short}" if short else "") + ext


def _edge_note(e: Dependency) -> str:
    note = f" [{','.join(e.types)}]"
    if e.virtuals:
        note += f" ({','.join(e.virtuals)})"
    return note


def tree_lines(record: Record, *, depth: int | None = None) -> list[str]:
    """The dependency tree from each root, edge types in brackets, virtuals in parentheses.
    A subtree already shown is printed once and then marked ``(see above)``."""
    by_id = {c.id: c for c in record.components}
    children: dict[str, list[Dependency]] = defaultdict(list)
    for e in record.dependencies:
        children[e.dependent].append(e)
    for edges in children.values():
        edges.sort(
            key=lambda e: by_id[e.dependency].name if e.dependency in by_id else e.dependency
        )
    shown: set[str] = set()
    lines: list[str] = []

    def walk(root: str) -> None:
        # Iterative depth-first walk, so a dependency chain of any length prints. A stack item
        # is a line to print, or a node whose children come next (prefix, depth).
        stack: list[tuple[str, str, int] | str] = [(root, "", 0)]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                lines.append(item)
                continue
            cid, prefix, level = item
            kids = children.get(cid, [])
            if cid in shown and kids:
                lines[-1] += " (see above)"
                continue
            if depth is not None and level >= depth:
                continue
            shown.add(cid)
            for i, e in reversed(list(enumerate(kids))):
                last = i == len(kids) - 1
                label = f"{_label(by_id.get(e.dependency), e.dependency)}{_edge_note(e)}"
                stack.append((e.dependency, prefix + ("    " if last else "│   "), level + 1))
                stack.append(f"{prefix}{'└── ' if last else '├── '}{label}")

    roots = record.roots or tuple(c.id for c in record.components[:1])
    for root in roots:
        lines.append(_label(by_id.get(root), root))
        walk(root)
    return lines


def hpc_summary(hpc: Hpc) -> dict[str, str]:
    """One human line per HPC field that is known."""
    out: dict[str, str] = {}
    if hpc.target is not None:
        t = hpc.target
        extra = ", ".join(x for x in (t.generic, t.vendor) if x)
        out["target"] = t.name + (f" ({extra})" if extra else "")
    if hpc.compilers:
        out["compilers"] = ", ".join(
            f"{c.name}@{c.version}" + (f" [{','.join(c.languages)}]" if c.languages else "")
            for c in hpc.compilers
        )
    if hpc.mpi is not None:
        m = hpc.mpi
        bits = [f"abi {m.abi}"] + ([m.soname] if m.soname else [])
        out["mpi"] = f"{m.implementation}@{m.version or '?'} ({', '.join(bits)})"
    if hpc.gpu:
        out["gpu"] = "; ".join(
            f"{g.runtime}@{g.version or '?'} {' '.join(g.architectures + g.ptx)}".rstrip()
            for g in hpc.gpu
        )
    if hpc.libc is not None:
        lc = hpc.libc
        out["libc"] = " ".join(
            x
            for x in (
                lc.family,
                lc.version,
                f"(needs >= {lc.min_version})" if lc.min_version else "",
                f"[{lc.required_by}]" if lc.required_by else "",
            )
            if x
        )
    if hpc.cxx is not None and (hpc.cxx.glibcxx_min or hpc.cxx.cxxabi_min):
        out["libstdc++"] = " ".join(
            x
            for x in (
                f"GLIBCXX_{hpc.cxx.glibcxx_min}" if hpc.cxx.glibcxx_min else "",
                f"CXXABI_{hpc.cxx.cxxabi_min}" if hpc.cxx.cxxabi_min else "",
                f"[{hpc.cxx.required_by}]" if hpc.cxx.required_by else "",
            )
            if x
        )
    for key, rt in (("openmp", hpc.openmp), ("fortran", hpc.fortran)):
        if rt is not None:
            where = "shipped" if rt.shipped else "from the host" if rt.shipped is False else ""
            out[key] = " ".join(
                x
                for x in (
                    rt.soname or rt.name,
                    " ".join(rt.versions),
                    f"({where})" if where else "",
                )
                if x
            )
    if hpc.math_libraries:
        out["math"] = ", ".join(f"{m.role}={m.name}@{m.version or '?'}" for m in hpc.math_libraries)
    if hpc.os is not None:
        out["os"] = " ".join(x for x in (hpc.os.name, hpc.os.version, hpc.os.platform) if x)
    return out


def summarize(record: Record, *, depth: int | None = None) -> dict[str, Any]:
    """A JSON-able summary: subject, roots, counts, tree lines, HPC lines, unknown count."""
    return {
        "subject": {
            k: v
            for k, v in (
                ("kind", record.subject.kind),
                ("name", record.subject.name),
                ("version", record.subject.version),
                ("digest", record.subject.digest),
            )
            if v
        },
        "roots": list(record.roots),
        "components": len(record.components),
        "dependencies": len(record.dependencies),
        "tree": tree_lines(record, depth=depth),
        "hpc": hpc_summary(record.hpc),
        "unknowns": len(record.unknowns),
    }
