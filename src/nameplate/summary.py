"""Human summaries of a record, in the notation its users already read.

- A Spack node reads as ``spack find -lv`` prints it: ``zstd@1.5.4+programs build_system=makefile
  compression:=lzma,zlib`` (boolean variants first, then ``key=value`` and multi-valued
  ``key:=a,b``, each group sorted; values quoted as Spack quotes them).
- An EasyBuild install reads as its module name (``HDF5/1.14.6-gompi-2025a``).
- Anything else reads as ``name@version`` (``name`` alone when there is no version, as for a
  binary).

The dependency tree follows ``spack spec -l -t``: a ``[blrt]`` column of edge types, the short
hash with ``long``, four spaces of indent per level and ``^`` before a dependency, each node
shown once. Only edges of the chosen dependency types are followed (default ``link,run``: what
the software needs when it runs). Every string from the record is printed through
:func:`nameplate._terminal.printable`.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from ._terminal import printable
from .record import Component, Dependency, Hpc, Record

__all__ = [
    "ALL_DEPTYPES",
    "DEFAULT_DEPTYPES",
    "easybuild_version",
    "hpc_summary",
    "label",
    "os_packages",
    "short_hash",
    "spec_string",
    "summarize",
    "tree_lines",
]

#: Every dependency type, in Spack's order (the letters of the ``[blrt]`` column).
ALL_DEPTYPES = ("build", "link", "run", "test")
#: What ``show`` follows by default: the edges the software needs when it runs.
DEFAULT_DEPTYPES = ("link", "run")

#: Values Spack prints without quotes (``spack.spec_parser.NO_QUOTES_NEEDED``).
_NO_QUOTES = re.compile(r"^[a-zA-Z0-9,/_.\-\[\]]+$")


def _quote(value: str) -> str:
    """A variant or flag value as Spack prints it: bare when it can be, else single-quoted,
    or JSON-quoted when it holds a single quote."""
    if _NO_QUOTES.match(value):
        return value
    return json.dumps(value) if "'" in value else f"'{value}'"


def short_hash(c: Component) -> str | None:
    """The 7-character Spack DAG hash of a Spack node, as ``spack find -l`` shows it."""
    for h in c.hashes:
        if h.algorithm == "spack-dag" and h.value:
            return h.value[:7]
    if c.id.startswith("spack:"):
        return c.id.removeprefix("spack:")[:7] or None
    return None


def easybuild_version(c: Component) -> str:
    """EasyBuild's full version of an install: ``<version>[-<toolchain>-<version>]<suffix>``
    (``det_full_ec_version``; no toolchain part for the ``system`` toolchain)."""
    version = c.version
    if c.toolchain is not None and c.toolchain.name != "system":
        version += f"-{c.toolchain.name}" + (
            f"-{c.toolchain.version}" if c.toolchain.version else ""
        )
    return version + (c.versionsuffix or "")


def _is_spack(c: Component) -> bool:
    return c.ecosystem == "spack" or c.id.startswith("spack:")


def _is_easybuild(c: Component) -> bool:
    return c.ecosystem == "easybuild" or c.id.startswith("easybuild:")


def spec_string(c: Component) -> str:
    """A Spack node as ``spack find -v`` prints it (not yet made printable)."""
    out = c.name + (f"@{c.version}" if c.version else "")
    flags = [(f, " ".join(c.flags[f])) for f in sorted(c.flags)]
    out += "".join(f" {flag}={_quote(values)}" for flag, values in flags if values)
    bools = sorted((k, v) for k, v in c.options.items() if isinstance(v, bool))
    pairs = sorted((k, v) for k, v in c.options.items() if not isinstance(v, bool))
    if bools and any(values for _, values in flags):  # Spack ends flags with a space
        out += " "
    out += "".join(("+" if v else "~") + k for k, v in bools)
    for key, value in pairs:
        if isinstance(value, str):
            out += f" {key}={_quote(value)}"
        else:
            out += f" {key}:={_quote(','.join(value))}"
    return out


def label(c: Component | None, cid: str = "") -> str:
    """How a component reads (not yet made printable): a Spack spec, an EasyBuild module name,
    or ``name@version``."""
    if c is None:
        return cid
    if _is_spack(c):
        return spec_string(c)
    if _is_easybuild(c):
        return f"{c.name}/{easybuild_version(c)}"
    return c.name + (f"@{c.version}" if c.version else "")


def _types(types: Iterable[str]) -> str:
    chosen = set(types)
    return "[" + "".join(t[0] if t in chosen else " " for t in ALL_DEPTYPES) + "]"


def _node(c: Component | None, cid: str, *, long: bool, level: int, edge: Dependency | None) -> str:
    text = label(c, cid)
    if edge is not None and edge.virtuals:
        text = f"[virtuals={','.join(edge.virtuals)}] {text}"
    if c is not None and c.external:
        text += " [external]"
    column = _types(edge.types if edge is not None else ())
    if long:
        column += f"  {(short_hash(c) if c is not None else None) or '-':<7}"
    return f"{column}  {'    ' * level}{'^' if level else ''}{printable(text)}"


def tree_lines(
    record: Record,
    *,
    depth: int | None = None,
    deptypes: Sequence[str] = DEFAULT_DEPTYPES,
    long: bool = False,
) -> list[str]:
    """The dependency tree of each root, as ``spack spec -l -t`` prints it: only edges of
    ``deptypes`` are followed, each node is shown once, ``depth`` levels below the roots."""
    by_id = {c.id: c for c in record.components}
    wanted = set(deptypes)
    children: dict[str, list[Dependency]] = defaultdict(list)
    for e in record.dependencies:
        if wanted.intersection(e.types):
            children[e.dependent].append(e)
    for edges in children.values():
        edges.sort(
            key=lambda e: by_id[e.dependency].name if e.dependency in by_id else e.dependency
        )
    shown: set[str] = set()
    lines: list[str] = []
    for root in roots_of(record):
        if root in shown:
            continue
        # Iterative depth-first walk, so a dependency chain of any length prints.
        stack: list[tuple[str, int, Dependency | None]] = [(root, 0, None)]
        while stack:
            cid, level, edge = stack.pop()
            if cid in shown:
                continue
            shown.add(cid)
            lines.append(_node(by_id.get(cid), cid, long=long, level=level, edge=edge))
            if depth is not None and level >= depth:
                continue
            for e in reversed(children.get(cid, [])):
                if e.dependency not in shown:
                    stack.append((e.dependency, level + 1, e))
    return lines


def roots_of(record: Record) -> tuple[str, ...]:
    """The roots of a record; a record without any (an image with no Spack or EasyBuild
    install) has none: its OS packages are summarised, not one of them picked."""
    return record.roots


def os_packages(record: Record) -> dict[str, int]:
    """How many OS packages the record lists, by ecosystem (``deb``, ``rpm``, ``apk``)."""
    counts = Counter(c.ecosystem for c in record.components if c.kind == "os-package")
    return dict(sorted(counts.items()))


def hpc_summary(hpc: Hpc) -> dict[str, str]:
    """One human line per HPC field that is known (not yet made printable)."""
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


def summarize(
    record: Record,
    *,
    depth: int | None = None,
    deptypes: Sequence[str] = DEFAULT_DEPTYPES,
    long: bool = False,
) -> dict[str, Any]:
    """A JSON-able summary: subject, roots (with their spec strings), counts, OS packages by
    ecosystem, the tree lines, HPC lines and the unknowns. Strings are exact (not escaped),
    except the tree lines, which are the text ``show`` prints."""
    by_id = {c.id: c for c in record.components}
    return {
        "subject": {
            k: v
            for k, v in (
                ("kind", record.subject.kind),
                ("name", record.subject.name),
                ("version", record.subject.version),
                ("digest", record.subject.digest),
                ("platform", record.subject.platform),
            )
            if v
        },
        "serial": record.serial,
        "roots": [
            {
                "id": r,
                "spec": label(by_id.get(r), r),
                **({"hash": h} if (h := _hash_of(by_id.get(r))) else {}),
            }
            for r in record.roots
        ],
        "components": len(record.components),
        "dependencies": len(record.dependencies),
        "os_packages": os_packages(record),
        "deptypes": list(deptypes),
        "tree": tree_lines(record, depth=depth, deptypes=deptypes, long=long),
        "hpc": hpc_summary(record.hpc),
        "unknowns": [
            {k: v for k, v in (("path", u.path), ("field", u.field), ("reason", u.reason)) if v}
            for u in record.unknowns
        ],
    }


def _hash_of(c: Component | None) -> str | None:
    return short_hash(c) if c is not None else None
