"""Spec queries to SQL for the record catalog: each node of a parsed spec becomes conditions on
one joined component (with its option and compiler rows), and a ``limit`` probes the newest
records first.

Private to :mod:`nameplate.compat.catalog`; the functions here run their lookups through the
catalog's ``fetch`` (an ``(sql, params) -> rows`` callable) and return rows, not entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..record import OptionValue
from .specquery import NodeQuery, SpecQuery, target_names

__all__ = ["SELECT", "Fetch", "option_values", "query_rows"]

Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one SQL statement (``?`` placeholders) with its parameters and returns every row."""


def option_values(value: OptionValue) -> list[str]:
    """The strings a variant value is stored (and queried) as."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return [str(value)]


@dataclass(frozen=True, slots=True)
class _Parts:
    where: list[str]
    params: list[Any]
    joins: str
    join_params: list[Any]


_WINDOW = 50
"""``query(limit=n)`` first looks for its matches among the ``_WINDOW * n`` newest records."""

SELECT = (
    "SELECT r.key, r.ref, r.subject, r.version, r.created, r.platform, d.record,"
    " r.repository, r.tag FROM records r JOIN documents d ON d.record_id = r.id"
)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _node_parts(fetch: Fetch, node: NodeQuery, alias: str) -> _Parts | None:
    """The conditions on component ``alias`` for one node, and the joins of its option and
    compiler rows; None when nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    if node.name is not None:
        where.append(f"{alias}.name = ?")
        params.append(node.name)
    if node.versions:
        if node.name is not None:
            rows = fetch("SELECT DISTINCT version FROM components WHERE name = ?", [node.name])
        else:
            rows = fetch("SELECT DISTINCT version FROM components", ())
        versions = [str(r[0]) for r in rows if node.version_ok(str(r[0]))]
        if not versions:
            return None
        where.append(f"{alias}.version IN ({_marks(versions)})")
        params.extend(versions)
    if node.targets:
        names = sorted(target_names(node.targets))
        if not names:
            return None
        where.append(f"{alias}.target IN ({_marks(names)})")
        params.extend(names)
    for column in ("os", "platform"):
        value = getattr(node, column)
        if value is not None:
            where.append(f"{alias}.{column} = ?")
            params.append(value)
    joins: list[str] = []
    join_params: list[Any] = []
    values = [(key, v) for key, want in node.variants for v in option_values(want)]
    for n, (key, value) in enumerate(values):
        o = f"{alias}o{n}"
        joins.append(
            f" JOIN options {o} ON {o}.record_id = {alias}.record_id"
            f" AND {o}.cid = {alias}.cid AND {o}.key = ? AND {o}.value = ?"
        )
        join_params.extend([key, value])
    if node.compiler is not None:
        rows = fetch("SELECT DISTINCT version FROM compilers WHERE name = ?", [node.compiler])
        versions = [str(r[0]) for r in rows if node.compiler_version_ok(str(r[0]))]
        if not versions:
            return None
        k = f"{alias}k"
        joins.append(
            f" JOIN compilers {k} ON {k}.record_id = {alias}.record_id"
            f" AND {k}.name = ? AND {k}.version IN ({_marks(versions)})"
        )
        join_params.extend([node.compiler, *versions])
    return _Parts(where, params, "".join(joins), join_params)


def _parts(fetch: Fetch, q: SpecQuery) -> list[_Parts] | None:
    """Each node's parts (root first); None when a node cannot match."""
    parts = []
    for i, node in enumerate(q.nodes):
        built = _node_parts(fetch, node, f"d{i - 1}" if i else "c")
        if built is None:
            return None
        parts.append(built)
    return parts


def _ids_sql(parts: list[_Parts], *, of: str | None = None) -> tuple[str, list[Any]]:
    """``SELECT record_id`` of the records matching every node: one join of a component
    per node (with its option and compiler rows), in the order the planner chooses; only
    of record ``of`` (an SQL expression) when given."""
    root = parts[0]
    sql = "SELECT c.record_id FROM components c" + root.joins  # noqa: S608
    params = list(root.join_params)
    for i, dep in enumerate(parts[1:]):
        on = " AND ".join([f"d{i}.record_id = c.record_id", *dep.where])
        sql += f" JOIN components d{i} ON {on}{dep.joins}"
        params.extend([*dep.params, *dep.join_params])
    where = root.where if of is None else [f"c.record_id = {of}", *root.where]
    if where:
        sql += " WHERE " + " AND ".join(where)
        params.extend(root.params)
    return sql, params


def query_rows(fetch: Fetch, q: SpecQuery, *, limit: int | None = None) -> list[tuple[Any, ...]]:
    """Records with a component matching the root and one matching each ``^`` clause,
    newest first (then by key)."""
    parts = _parts(fetch, q)
    if parts is None or (limit is not None and limit <= 0):
        return []
    ids, params = _ids_sql(parts)
    if limit is not None:
        limit = int(limit)
        # a common spec matches among the newest records: probe those in order first
        # (``created`` is never NULL: a record always has ``extracted_at``)
        probe, probe_params = _ids_sql(parts, of="r.id")
        edge = fetch(
            "SELECT created, key FROM records ORDER BY created DESC, key LIMIT 1 OFFSET ?",
            [_WINDOW * limit - 1],
        )
        within = "r.created >= ? AND NOT (r.created = ? AND r.key > ?) AND " if edge else ""
        window = (
            f"SELECT r.id FROM records r WHERE {within}EXISTS ({probe})"  # noqa: S608
            f" ORDER BY r.created DESC, r.key LIMIT {limit}"
        )
        bounds = [edge[0][0], edge[0][0], edge[0][1]] if edge else []
        found = [r[0] for r in fetch(window, [*bounds, *probe_params])]
        if len(found) == limit or not edge:
            if not found:
                return []
            ids, params = _marks(found), found
        else:
            # a rare one: every match, then the newest ``limit``, sorted on ``records`` alone
            ids = (
                f"SELECT r.id FROM records r WHERE r.id IN ({ids})"  # noqa: S608
                f" ORDER BY r.created DESC, r.key LIMIT {limit}"
            )
    sql = f"{SELECT} WHERE r.id IN ({ids}) ORDER BY r.created DESC, r.key"
    return fetch(sql, params)
