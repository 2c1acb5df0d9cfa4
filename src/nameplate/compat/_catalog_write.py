"""Writing batches of entries into the catalog: SQLite and PostgreSQL.

Every batch is one transaction that replaces the whole entry of each key, so concurrent
indexers lose no record and a reader never sees half an entry. A replaced entry keeps its
record id (the order of ties in query results stays put).

- SQLite takes the write lock up front (``BEGIN IMMEDIATE``), assigns ids, and inserts each
  table with one ``executemany``.
- PostgreSQL ``COPY``s the batch's ``records`` rows into a temporary table and upserts them in
  one statement (in key order, so concurrent writers lock rows in the same order), then
  ``COPY``s every child table.

Private to :mod:`nameplate.compat.catalog`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ._catalog_rows import Rows, Term

__all__ = ["HEAD_COLUMNS", "STAGING_PG", "insert_sqlite", "write_pg", "write_sqlite"]

HEAD_COLUMNS = "key, ref, origin, repository, tag, platform, subject, version, created"
"""The columns of :attr:`Rows.head`, in order."""

NODE_COLUMNS = (
    "record_id, created, cid, root, name, version, target, os, platform, hash, variants, provides"
)
"""The columns of a ``nodes`` row: the record id and time, then :attr:`Rows.nodes`."""

_CHILDREN = ("documents", "nodes", "compilers")
_CHUNK = 500
"""Ids or keys per ``IN (...)`` list (SQLite allows 32,766 parameters; this keeps the
statements short)."""


def _unique(batch: Sequence[Rows]) -> list[Rows]:
    """One entry per key, the last one given."""
    return list({r.key: r for r in batch}.values())


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def insert_sqlite(conn: sqlite3.Connection, batch: Sequence[Rows], terms: Sequence[Term]) -> int:
    """Replace the entries of ``batch`` and add ``terms``, inside the caller's transaction."""
    batch = _unique(batch)
    existing: dict[str, int] = {}
    for chunk in _chunks([r.key for r in batch]):
        sql = f"SELECT key, id FROM records WHERE key IN ({_marks(chunk)})"  # noqa: S608
        existing.update((str(k), int(i)) for k, i in conn.execute(sql, chunk))
    # New ids are drawn above every id there is *before* the replaced rows are deleted: a
    # replaced entry keeps its id, and when it held the largest ones, a max() taken after the
    # delete handed them out again (a UNIQUE failure on records.id).
    next_id = int(conn.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()[0]) + 1
    old = list(existing.values())
    for chunk in _chunks(old):
        for table in _CHILDREN:
            conn.execute(f"DELETE FROM {table} WHERE record_id IN ({_marks(chunk)})", chunk)  # noqa: S608
        conn.execute(f"DELETE FROM records WHERE id IN ({_marks(chunk)})", chunk)  # noqa: S608
    heads: list[tuple[Any, ...]] = []
    docs: list[tuple[Any, ...]] = []
    nodes: list[tuple[Any, ...]] = []
    compilers: list[tuple[Any, ...]] = []
    for r in batch:
        rid = existing.get(r.key)
        if rid is None:
            rid, next_id = next_id, next_id + 1
        created = r.created
        heads.append((rid, *r.head))
        docs.append((rid, r.document))
        nodes.extend((rid, created, *n) for n in r.nodes)
        compilers.extend((rid, *c) for c in r.compilers)
    conn.executemany(
        f"INSERT INTO records (id, {HEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        heads,
    )
    conn.executemany("INSERT INTO documents (record_id, record) VALUES (?, ?)", docs)
    conn.executemany(
        f"INSERT INTO nodes ({NODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        nodes,
    )
    conn.executemany("INSERT INTO compilers (record_id, name, version) VALUES (?, ?, ?)", compilers)
    conn.executemany("INSERT OR IGNORE INTO terms (kind, name, value) VALUES (?, ?, ?)", terms)
    return len(batch)


def write_sqlite(conn: sqlite3.Connection, batch: Sequence[Rows], terms: Sequence[Term]) -> int:
    """:func:`insert_sqlite` in its own ``BEGIN IMMEDIATE`` transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        written = insert_sqlite(conn, batch, terms)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return written


STAGING_PG = (
    'CREATE TEMPORARY TABLE IF NOT EXISTS nameplate_staging (id BIGINT, key TEXT COLLATE "C",'
    " ref TEXT, origin TEXT, repository TEXT, tag TEXT, platform TEXT, subject TEXT,"
    ' version TEXT, created TEXT COLLATE "C") ON COMMIT DELETE ROWS'
)
"""The per-session table a batch's ``records`` rows are copied into before the upsert."""

_UPSERT_PG = (
    f"INSERT INTO records (id, {HEAD_COLUMNS}) SELECT id, {HEAD_COLUMNS} FROM nameplate_staging"  # noqa: S608
    " ORDER BY key ON CONFLICT (key) DO UPDATE SET ref = EXCLUDED.ref, origin = EXCLUDED.origin,"
    " repository = EXCLUDED.repository, tag = EXCLUDED.tag, platform = EXCLUDED.platform,"
    " subject = EXCLUDED.subject, version = EXCLUDED.version, created = EXCLUDED.created"
    " RETURNING key, id, xmax::text <> '0'"
)
"""One upsert for the whole batch, in key order; a new row takes the id drawn for it in the
batch's order (as SQLite assigns them), a replaced one keeps its own; ``xmax`` tells them
apart."""

_IDS_PG = "SELECT nextval(pg_get_serial_sequence('records', 'id')) FROM generate_series(1, %s)"


def write_pg(cur: Any, batch: Sequence[Rows], terms: Sequence[Term]) -> int:
    """Replace the entries of ``batch`` and add ``terms`` (the caller holds the transaction)."""
    batch = _unique(batch)
    drawn = [int(r[0]) for r in cur.execute(_IDS_PG, (len(batch),)).fetchall()]
    _copy(
        cur,
        "nameplate_staging",
        f"id, {HEAD_COLUMNS}",
        ((rid, *r.head) for rid, r in zip(drawn, batch, strict=True)),
    )
    ids: dict[str, int] = {}
    replaced: list[int] = []
    for key, rid, was in cur.execute(_UPSERT_PG).fetchall():
        ids[str(key)] = int(rid)
        if was:
            replaced.append(int(rid))
    if replaced:
        for table in _CHILDREN:
            cur.execute(f"DELETE FROM {table} WHERE record_id = ANY(%s)", (replaced,))  # noqa: S608
    _copy(cur, "documents", "record_id, record", ((ids[r.key], r.document) for r in batch))
    _copy(cur, "nodes", NODE_COLUMNS, ((ids[r.key], r.created, *n) for r in batch for n in r.nodes))
    _copy(
        cur,
        "compilers",
        "record_id, name, version",
        ((ids[r.key], *c) for r in batch for c in r.compilers),
    )
    if terms:
        ordered = sorted(terms)  # one order for every writer: no deadlock between them
        cur.execute(
            "INSERT INTO terms (kind, name, value) SELECT * FROM"
            " unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING",
            ([t[0] for t in ordered], [t[1] for t in ordered], [t[2] for t in ordered]),
        )
    return len(batch)


def _copy(cur: Any, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
