"""A parser and matcher for queries in Spack's spec syntax (our own grammar; Spack is never
imported).

Supported (a subset of Spack's spec syntax, enough to ask a catalog questions)::

    hdf5@1.14: +mpi ~shared api=v112 %gcc@12: target=zen3: os=rhel8 ^mpich@4: ^cuda@12

- ``name`` first (optional: an anonymous spec matches any component); a virtual (``mpi``,
  ``blas``) matches every component that provides it (the ``virtuals`` of the edges that point
  at it), so ``hdf5 ^mpi`` finds hdf5 built with any MPI;
- ``/hash``: a Spack DAG hash or its prefix (``hdf5/ijgf36w``, ``^/mb6fva4``, or ``/ijgf36w``
  alone);
- ``@`` version list: ``1.14`` (1.14 and every 1.14.x), ``1.14:``, ``:1.14``, ``1.12:1.14``,
  ``=1.14.3`` (exactly), several separated by ``,``;
- variants: ``+v``/``++v`` (true), ``~v``/``~~v``/``-v`` (false), ``key=value[,value]``
  (``key==value`` propagating form is read the same);
- ``%compiler[@versions]``;
- ``target=`` archspec ranges by its partial order: ``zen3`` exactly, ``zen3:`` zen3 or newer
  (zen3 and its descendants), ``:zen3``, ``x86_64_v3:zen4``, lists with ``,``;
  ``os=``, ``platform=``, ``arch=platform-os-target``;
- ``^dep`` clauses: the record must also contain a component matching each of them; a query
  may start with one (``^mpi``: any root built with an MPI).

The first clause is about the record's *root* (what it was built for: ``hdf5`` finds records of
hdf5, not every record that contains it), as ``spack find`` reads it; :func:`record_matches`
with ``any_node=True`` lets it match any component instead.

Parsing raises :class:`SpecSyntaxError` (a ``CatalogError``) naming the position.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CatalogError
from ..normalize import version_key
from ..record import Component, OptionValue, Record

__all__ = [
    "NodeQuery",
    "SpecQuery",
    "SpecSyntaxError",
    "TargetRange",
    "VersionRange",
    "component_matches",
    "parse",
    "record_matches",
    "target_names",
]


class SpecSyntaxError(CatalogError, ValueError):
    """A query is not valid spec syntax."""


@dataclass(frozen=True, kw_only=True, slots=True)
class VersionRange:
    """``lo:hi`` (either open), or one exact version when ``exact``."""

    lo: str | None = None
    hi: str | None = None
    exact: bool = False

    def contains(self, version: str) -> bool:
        """Spack's semantics: ``1.14`` and ``:1.14`` include ``1.14.2``."""
        v = version_key(version)
        if self.exact:
            return v == version_key(self.lo or "")
        if self.lo is not None and v < version_key(self.lo):
            return False
        if self.hi is not None:
            hi = version_key(self.hi)
            return v <= hi or v[: len(hi)] == hi
        return True


@dataclass(frozen=True, kw_only=True, slots=True)
class TargetRange:
    """An archspec target range by its partial order."""

    lo: str | None = None
    hi: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeQuery:
    """Constraints on one component."""

    name: str | None = None
    versions: tuple[VersionRange, ...] = ()
    variants: tuple[tuple[str, OptionValue], ...] = ()
    targets: tuple[TargetRange, ...] = ()
    os: str | None = None
    platform: str | None = None
    compiler: str | None = None
    compiler_versions: tuple[VersionRange, ...] = ()
    hash: str | None = None

    def version_ok(self, version: str) -> bool:
        """Whether ``version`` is in one of the ranges (no ranges: any)."""
        return not self.versions or any(r.contains(version) for r in self.versions)

    def compiler_version_ok(self, version: str) -> bool:
        """Whether a compiler version is in one of the compiler ranges."""
        return not self.compiler_versions or any(
            r.contains(version) for r in self.compiler_versions
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SpecQuery:
    """A root constraint and the ``^`` dependency constraints."""

    root: NodeQuery
    deps: tuple[NodeQuery, ...] = ()
    text: str = ""

    @property
    def nodes(self) -> tuple[NodeQuery, ...]:
        """The root, then every dependency clause."""
        return (self.root, *self.deps)


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<dep>\^)
  | (?P<compiler>%\s*(?P<cname>[A-Za-z0-9_][A-Za-z0-9_.-]*)(?:\s*@\s*(?P<cver>[^\s^%+~/]+))?)
  | (?P<version>@\s*(?P<vlist>[^\s^%+~/]+))
  | (?P<hash>/\s*(?P<hvalue>[A-Za-z0-9]+))
  | (?P<kv>(?P<key>[A-Za-z0-9_][A-Za-z0-9_.-]*)\s*==?\s*(?P<value>[^\s^%]+))
  | (?P<on>\+\+?\s*(?P<onname>[A-Za-z0-9_][A-Za-z0-9_.-]*))
  | (?P<off>(?:~~?|-)\s*(?P<offname>[A-Za-z0-9_][A-Za-z0-9_.-]*))
  | (?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*(?:\.[A-Za-z0-9_-]+)*)
    """,
    re.VERBOSE,
)
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_MAX_QUERY = 4096
_MAX_HASH = 64


def _versions(text: str, where: str) -> tuple[VersionRange, ...]:
    out: list[VersionRange] = []
    for raw in text.split(","):
        part = raw.strip()
        if part.startswith("="):
            if not _VERSION.match(part[1:]):
                raise SpecSyntaxError(f"{where}: bad version {part!r}")
            out.append(VersionRange(lo=part[1:], exact=True))
            continue
        lo, sep, hi = part.partition(":")
        for v in (lo, hi):
            if v and not _VERSION.match(v):
                raise SpecSyntaxError(f"{where}: bad version {v!r}")
        if not sep:
            if not lo:
                raise SpecSyntaxError(f"{where}: empty version")
            out.append(VersionRange(lo=lo, hi=lo))
        else:
            out.append(VersionRange(lo=lo or None, hi=hi or None))
    return tuple(out)


def _targets(text: str) -> tuple[TargetRange, ...]:
    out: list[TargetRange] = []
    for part in text.split(","):
        lo, sep, hi = part.partition(":")
        out.append(
            TargetRange(lo=lo, hi=lo) if not sep else TargetRange(lo=lo or None, hi=hi or None)
        )
    return tuple(out)


def _value(raw: str) -> OptionValue:
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if "," in raw:
        return tuple(v for v in raw.split(",") if v)
    return raw


class _Builder:
    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.variants: list[tuple[str, OptionValue]] = []
        self.used = False

    def set(self, key: str, value: Any, pos: int) -> None:
        if key in self.fields:
            raise SpecSyntaxError(f"query column {pos + 1}: {key} given twice")
        self.fields[key] = value
        self.used = True

    def build(self) -> NodeQuery:
        return NodeQuery(variants=tuple(self.variants), **self.fields)


def parse(text: str) -> SpecQuery:
    """Parse a spec-syntax query; ``SpecSyntaxError`` names the column at fault."""
    if len(text) > _MAX_QUERY:
        raise SpecSyntaxError(f"query longer than {_MAX_QUERY} characters")
    nodes: list[NodeQuery] = []
    cur = _Builder()
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SpecSyntaxError(f"query column {pos + 1}: unexpected {text[pos : pos + 10]!r}")
        kind = m.lastgroup
        where = f"query column {pos + 1}"
        if kind == "dep":
            # a leading '^' (``^mpi``, as ``spack find ^mpi``): any root with that dependency
            nodes.append(cur.build())
            cur = _Builder()
        elif kind == "compiler":
            cur.set("compiler", m.group("cname"), pos)
            if m.group("cver"):
                cur.fields["compiler_versions"] = _versions(m.group("cver"), where)
        elif kind == "hash":
            if len(m.group("hvalue")) > _MAX_HASH:
                raise SpecSyntaxError(f"{where}: a hash is at most {_MAX_HASH} characters")
            cur.set("hash", m.group("hvalue").lower(), pos)
        elif kind == "version":
            cur.set("versions", _versions(m.group("vlist"), where), pos)
        elif kind == "kv":
            _key_value(cur, m.group("key"), m.group("value"), pos)
        elif kind == "on":
            cur.variants.append((m.group("onname"), True))
            cur.used = True
        elif kind == "off":
            cur.variants.append((m.group("offname"), False))
            cur.used = True
        elif kind == "name":
            if cur.used:
                # A second bare word starts the next clause only after '^'; Spack reads it as
                # another root, which a single-record query cannot mean.
                raise SpecSyntaxError(f"{where}: unexpected name {m.group('name')!r}")
            cur.set("name", m.group("name"), pos)
        pos = m.end()
    if not cur.used:
        if nodes:
            raise SpecSyntaxError("query ends with '^'")
        raise SpecSyntaxError("empty query")
    nodes.append(cur.build())
    return SpecQuery(root=nodes[0], deps=tuple(nodes[1:]), text=text)


def _key_value(cur: _Builder, key: str, value: str, pos: int) -> None:
    if key == "target":
        cur.set("targets", _targets(value), pos)
    elif key == "os":
        cur.set("os", value, pos)
    elif key == "platform":
        cur.set("platform", value, pos)
    elif key == "arch":
        parts = value.split("-")
        if len(parts) != 3:
            raise SpecSyntaxError(f"query column {pos + 1}: arch= needs platform-os-target")
        cur.set("platform", parts[0], pos)
        cur.set("os", parts[1], pos)
        cur.set("targets", _targets(parts[2]), pos)
    else:
        want = _value(value)
        if want == ():  # "key=,": no value to test (SQL would match every node, never one)
            raise SpecSyntaxError(f"query column {pos + 1}: {key}= names no value")
        cur.variants.append((key, want))
        cur.used = True


# -- matching --------------------------------------------------------------------------------


@functools.cache
def _archspec() -> Mapping[str, Any]:
    import archspec.cpu

    targets: Mapping[str, Any] = archspec.cpu.TARGETS
    return targets


def target_names(ranges: Iterable[TargetRange], *, known: Iterable[str] = ()) -> frozenset[str]:
    """Every target name inside the ranges (archspec's order), plus ``known`` names that
    archspec does not have but a range names exactly."""
    targets = _archspec()
    out: set[str] = set()
    for r in ranges:
        lo = targets.get(r.lo) if r.lo else None
        hi = targets.get(r.hi) if r.hi else None
        if r.lo is not None and r.lo == r.hi:
            out.add(r.lo)
            continue
        if (r.lo and lo is None) or (r.hi and hi is None):
            continue
        for name, t in targets.items():
            if (lo is None or lo <= t) and (hi is None or t <= hi):
                out.add(name)
    out.update(k for k in known if any(r.lo == k == r.hi for r in ranges))
    return frozenset(out)


def _variant_ok(options: Mapping[str, OptionValue], key: str, want: OptionValue) -> bool:
    have = options.get(key)
    if have is None:
        return False
    if isinstance(want, bool) or isinstance(have, bool):
        return have == want
    have_set = set(have) if isinstance(have, tuple) else {have}
    want_set = set(want) if isinstance(want, tuple) else {want}
    return want_set <= have_set


def component_matches(
    node: NodeQuery,
    c: Component,
    compilers: Iterable[tuple[str, str]] = (),
    provides: Iterable[str] = (),
) -> bool:
    """Whether component ``c`` (of a record built with ``compilers``, providing the virtuals
    ``provides``) satisfies ``node``."""
    if node.name is not None and c.name != node.name and node.name not in provides:
        return False
    if node.hash is not None and not any(
        h.algorithm == "spack-dag" and h.value.startswith(node.hash) for h in c.hashes
    ):
        return False
    if not node.version_ok(c.version):
        return False
    if node.targets and (c.target is None or c.target.name not in target_names(node.targets)):
        return False
    if node.os is not None and c.os != node.os:
        return False
    if node.platform is not None and c.platform != node.platform:
        return False
    if not all(_variant_ok(c.options, k, v) for k, v in node.variants):
        return False
    if node.compiler is not None:
        return any(
            name == node.compiler and node.compiler_version_ok(version)
            for name, version in compilers
        )
    return True


def record_matches(query: SpecQuery, record: Record, *, any_node: bool = False) -> bool:
    """Whether ``record`` answers ``query``: one of its roots (any component with ``any_node``)
    satisfies the first clause, and some component satisfies each ``^`` clause. The catalog's
    SQL gives the same answers (a test holds them together)."""
    compilers = [(c.name, c.version) for c in record.hpc.compilers]
    provides: dict[str, set[str]] = {}
    for edge in record.dependencies:
        if edge.virtuals:
            provides.setdefault(edge.dependency, set()).update(edge.virtuals)
    roots = set(record.roots)

    def fits(node: NodeQuery, c: Component) -> bool:
        return component_matches(node, c, compilers, provides.get(c.id, ()))

    first = [c for c in record.components if any_node or c.id in roots]
    if not any(fits(query.root, c) for c in first):
        return False
    return all(any(fits(dep, c) for c in record.components) for dep in query.deps)
