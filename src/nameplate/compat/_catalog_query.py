"""Spec queries to SQL for the record catalog.

The first clause of a query is about one row of ``nodes`` (a root, unless ``any_node``); each
``^`` clause is an ``EXISTS`` on another row of the same record. Every condition is one the
indexes answer: names and versions, targets and compilers become ``IN`` lists read from the
small ``terms`` table (Spack's version ranges and archspec's target order are applied to the
values the catalog holds, in Python, never in SQL); a virtual (``mpi``) becomes its providers'
names plus a test of the row's ``provides``; a ``/hash`` prefix becomes a range on
``nodes.hash`` (indexed for roots). Variants are substring tests of the row's ``variants``
(the row is read anyway), compilers an ``EXISTS`` lookup by primary key.

Results are ordered newest first (``created``, then the record id, newest first), the order of
the ``nodes`` indexes: with a ``limit``, the database walks the index of the first clause's name
(or its one target, or every root) newest first and stops after ``limit`` records. SQLite's
planner does so by itself; PostgreSQL's, which estimates how many rows a spec matches from
statistics that cannot see variants or dependencies, is given bounded windows of that index
(:func:`_newest`), so that its choice never matters much.

Private to :mod:`nameplate.compat.catalog`; the functions here run their lookups through the
catalog's ``fetch`` (an ``(sql, params) -> rows`` callable) and return rows, not entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._catalog_rows import option_values, token
from .specquery import NodeQuery, SpecQuery, target_names

__all__ = ["SELECT", "Fetch", "query_rows"]

Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one SQL statement (``?`` placeholders) with its parameters and returns every row."""

SELECT = (
    "SELECT r.key, r.ref, r.subject, r.version, r.created, r.platform, d.record,"
    " r.repository, r.tag, r.origin, r.id FROM records r JOIN documents d ON d.record_id = r.id"
)

_ID = 10
"""Where the record id is in a :data:`SELECT` row."""


@dataclass(slots=True)
class _Where:
    """SQL conditions (joined with AND) and their parameters, in order."""

    sql: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.sql.append(sql)
        self.params.extend(params)

    def text(self) -> str:
        return " AND ".join(self.sql) if self.sql else "1=1"


class _NoMatch(Exception):
    """A clause names something the catalog has never seen: the answer is empty."""


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _in(column: str, values: Sequence[object]) -> str:
    return f"{column} = ?" if len(values) == 1 else f"{column} IN ({_marks(values)})"


class _Compiler:
    """Turns clauses into conditions, reading ``terms`` once per name."""

    def __init__(self, fetch: Fetch, *, postgres: bool) -> None:
        self.fetch = fetch
        self.find = "strpos" if postgres else "instr"
        self.drive: str | None = None
        """The name of the last clause compiled when it is a package's (not a virtual's)."""
        self.drive_target: str | None = None
        """Its target, when it names exactly one."""

    def _values(self, kind: str, name: str) -> list[str]:
        rows = self.fetch("SELECT value FROM terms WHERE kind = ? AND name = ?", [kind, name])
        return [str(r[0]) for r in rows]

    def _names(self, node: NodeQuery, alias: str) -> _Where:
        """The name (or virtual) and version conditions of ``node`` on ``alias``."""
        out = _Where()
        if node.name is None:
            if node.versions:
                rows = self.fetch("SELECT DISTINCT value FROM terms WHERE kind = 'v'", ())
                versions = sorted(str(r[0]) for r in rows if node.version_ok(str(r[0])))
                if not versions:
                    raise _NoMatch
                out.add(_in(f"{alias}.version", versions), *versions)
            return out
        alternatives: list[_Where] = []
        alternatives_own = None
        own = self._values("v", node.name)
        if own:
            alt = alternatives_own = _Where()
            alt.add(f"{alias}.name = ?", node.name)
            self._versions(alt, alias, node, own)
            alternatives.append(alt)
        providers = sorted(set(self._values("p", node.name)))
        if providers:
            alt = _Where()
            alt.add(_in(f"{alias}.name", providers), *providers)
            alt.add(f"{self.find}({alias}.provides, ?) > 0", token(node.name))
            versions = [v for p in providers for v in self._values("v", p)]
            self._versions(alt, alias, node, versions)  # last: it clears what cannot match
            alternatives.append(alt)
        alternatives = [a for a in alternatives if a.sql]
        if not alternatives:
            raise _NoMatch
        if len(alternatives) == 1:
            if alternatives[0] is alternatives_own:
                self.drive = node.name
            return alternatives[0]
        out.add(
            "(" + " OR ".join(f"({a.text()})" for a in alternatives) + ")",
            *(p for a in alternatives for p in a.params),
        )
        return out

    def _versions(self, out: _Where, alias: str, node: NodeQuery, known: list[str]) -> None:
        if not node.versions:
            return
        versions = sorted({v for v in known if node.version_ok(v)})
        if not versions:
            out.sql.clear()  # this alternative cannot match
            out.params.clear()
            return
        out.add(_in(f"{alias}.version", versions), *versions)

    def node(self, node: NodeQuery, alias: str) -> _Where:
        """Every condition of ``node`` on the ``nodes`` row ``alias``."""
        out = self._names(node, alias)
        if node.hash is not None:
            upper = node.hash[:-1] + chr(ord(node.hash[-1]) + 1)
            out.add(f"{alias}.hash >= ? AND {alias}.hash < ?", node.hash, upper)
        if node.targets:
            known = self.fetch("SELECT name FROM terms WHERE kind = 't'", ())
            names = sorted(target_names(node.targets, known=[str(r[0]) for r in known]))
            present = {str(r[0]) for r in known}
            names = [n for n in names if n in present]
            if not names:
                raise _NoMatch
            out.add(_in(f"{alias}.target", names), *names)
            self.drive_target = names[0] if len(names) == 1 else None
        for column in ("os", "platform"):
            value = getattr(node, column)
            if value is not None:
                out.add(f"{alias}.{column} = ?", value)
        for key, want in node.variants:
            for value in option_values(want):
                out.add(f"{self.find}({alias}.variants, ?) > 0", token(key, value))
        if node.compiler is not None:
            versions = sorted(
                v for v in self._values("c", node.compiler) if node.compiler_version_ok(v)
            )
            if not versions:
                raise _NoMatch
            out.add(
                f"EXISTS (SELECT 1 FROM compilers k WHERE k.record_id = {alias}.record_id"  # noqa: S608
                f" AND k.name = ? AND {_in('k.version', versions)})",
                node.compiler,
                *versions,
            )
        return out


_ORDER = " ORDER BY n.created DESC, n.record_id DESC"
_BEFORE = " AND (n.created, n.record_id) < (?, ?)"
_FROM = " AND (n.created, n.record_id) >= (?, ?)"


def _ids(
    fetch: Fetch, q: SpecQuery, *, limit: int | None, any_node: bool, postgres: bool
) -> list[tuple[Any, ...]]:
    """``(created, record_id)`` of the matching records, newest first."""
    compile_ = _Compiler(fetch, postgres=postgres)
    where = compile_.node(q.root, "n")
    name, target = compile_.drive, compile_.drive_target
    if not any_node:
        where.sql.insert(0, "n.root")
    for i, dep in enumerate(q.deps):
        inner = compile_.node(dep, f"d{i}")
        where.add(
            f"EXISTS (SELECT 1 FROM nodes d{i} WHERE d{i}.record_id = n.record_id"  # noqa: S608
            f" AND {inner.text()})",
            *inner.params,
        )
    select = f"SELECT DISTINCT n.created, n.record_id FROM nodes n WHERE {where.text()}"  # noqa: S608
    # the index walked newest first: the root's (or any node's) name, else the root's one
    # target, else every root
    drive = _Where()
    if name is not None:
        drive.add("n.name = ?", name)
    elif target is not None and not any_node:
        drive.add("n.target = ?", target)
    if not any_node:
        drive.add("n.root")
    hashed = q.root.hash is not None and not any_node
    if limit is None or not postgres or not drive.sql or hashed:
        # every match; a root's hash (a handful of rows, by nodes_root_hash); or SQLite, whose
        # planner walks the index that gives the order (the drive's) and stops at the limit
        sql = select + _ORDER + (f" LIMIT {int(limit)}" if limit is not None else "")
        return fetch(sql, where.params)
    return _newest(fetch, select, where.params, drive, int(limit))


def _newest(
    fetch: Fetch, select: str, params: list[Any], drive: _Where, limit: int
) -> list[tuple[Any, ...]]:
    """The ``limit`` newest matches, found by walking the index of ``drive`` (the first
    clause's name or target, or every root) newest first, a window at a time: each window is a
    bounded range of that index, sized from the share of matches seen so far (eight times the
    rows read when none matched yet), so that the database reads about as many rows as the
    answer needs whatever its planner estimates, in a few round trips."""
    found: list[tuple[Any, ...]] = []
    before: tuple[Any, ...] | None = None
    window = 4 * limit
    scanned = 0
    while len(found) < limit:
        keyset = _BEFORE if before else ""
        bound = list(before or ())
        edge = fetch(
            f"SELECT n.created, n.record_id FROM nodes n WHERE {drive.text()}{keyset}"  # noqa: S608
            f"{_ORDER} LIMIT 1 OFFSET {window - 1}",
            [*drive.params, *bound],
        )
        lower = _FROM if edge else ""
        found.extend(
            fetch(
                f"{select}{keyset}{lower}{_ORDER} LIMIT {limit - len(found)}",
                [*params, *bound, *(edge[0] if edge else ())],
            )
        )
        if not edge:
            break
        before = tuple(edge[0])
        scanned += window
        if found:
            window = max(limit, (3 * (limit - len(found)) * scanned) // (2 * len(found)))
        else:
            window = 8 * scanned
    return found


def query_rows(
    fetch: Fetch,
    q: SpecQuery,
    *,
    limit: int | None = None,
    any_node: bool = False,
    postgres: bool = False,
) -> list[tuple[Any, ...]]:
    """The rows (:data:`SELECT`) of the records matching ``q``, newest first."""
    if limit is not None and limit <= 0:
        return []
    try:
        found = _ids(fetch, q, limit=limit, any_node=any_node, postgres=postgres)
    except _NoMatch:
        return []
    if not found:
        return []
    ids = [r[1] for r in found]
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        out.extend(fetch(f"{SELECT} WHERE r.id IN ({_marks(chunk)})", chunk))
    order = {rid: i for i, rid in enumerate(ids)}
    return sorted(out, key=lambda r: order[r[_ID]])
