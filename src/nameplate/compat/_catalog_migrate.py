"""Migrating a catalog written by an earlier nameplate to the current layout.

Layout 0 kept each record's JSON in ``records.record``; layout 1 kept it in ``documents`` and
indexed ``components`` (no roots, virtuals or hashes). Both keep everything the current layout
needs in the stored JSON, so the migration renames the old ``records`` and ``documents`` aside,
drops the derived tables, creates the current schema and rebuilds every row from the JSON, in
batches, inside the caller's transaction (a failure leaves the old catalog as it was).

Private to :mod:`nameplate.compat.catalog`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..errors import CatalogError
from ._catalog_rows import Rows, pack, rows, terms
from ._catalog_write import STAGING_PG, insert_sqlite, write_pg

__all__ = ["migrate"]

_OLD_DERIVED = ("components", "options", "compilers")
"""Layout 1's tables that are rebuilt from the JSON."""
_BATCH = 1000


def migrate(conn: Any, layout: int, schema: str, *, postgres: bool) -> None:
    """Rewrite the layout ``layout`` catalog on ``conn`` with ``schema`` (see the module)."""
    for table in _OLD_DERIVED:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute("ALTER TABLE records RENAME TO old_records")
    if layout >= 1:
        conn.execute("ALTER TABLE documents RENAME TO old_documents")
        source = (
            "SELECT r.key, r.ref, r.repository, r.tag, r.platform, d.record"
            " FROM old_records r JOIN old_documents d ON d.record_id = r.id ORDER BY r.id"
        )
    else:
        source = "SELECT key, ref, repository, tag, platform, record FROM old_records ORDER BY id"
    for old in ("records_by_created", "records_by_repository"):
        conn.execute(f"DROP INDEX IF EXISTS {old}")
    for stmt in filter(str.strip, schema.split(";")):
        conn.execute(stmt)
    if postgres:
        conn.execute(STAGING_PG)
    read = conn.cursor(name="nameplate_migrate") if postgres else conn.cursor()
    try:
        read.execute(source)
        while True:
            chunk = read.fetchmany(_BATCH)
            if not chunk:
                break
            _write(conn, [_rows(row, postgres=postgres) for row in chunk], postgres=postgres)
    finally:
        read.close()
    conn.execute("DROP TABLE IF EXISTS old_documents")
    conn.execute("DROP TABLE old_records")


def _rows(row: tuple[Any, ...], *, postgres: bool) -> Rows:
    key, ref, repository, tag, platform, text = row
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise CatalogError(f"entry {key}: the stored record is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"entry {key}: the stored record is not a JSON object")
    return rows(
        data,
        pack(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), postgres=postgres),
        key=str(key),
        ref=ref,
        repository=repository,
        tag=tag,
        platform=platform,
    )


def _write(conn: Any, batch: list[Rows], *, postgres: bool) -> None:
    new_terms = sorted(set(terms(batch)))
    if postgres:
        with conn.cursor() as cur:
            write_pg(cur, batch, new_terms)
    else:
        insert_sqlite(conn, batch, new_terms)
