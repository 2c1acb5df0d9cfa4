"""The SQL side of the record catalog: schema and migration, opening SQLite and PostgreSQL
connections, and the backend-specific writes.

Private to :mod:`nameplate.compat.catalog`: the :class:`~nameplate.compat.catalog.Catalog`
holds the connection these functions open and write to.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any

from ..errors import CatalogError

__all__ = [
    "SCHEME",
    "Rows",
    "open_pg",
    "open_sqlite_ro",
    "open_sqlite_rw",
    "safe",
    "write_pg",
    "write_sqlite",
]

SCHEMA_SQLITE = """
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, ref TEXT, repository TEXT, tag TEXT,
  platform TEXT, subject TEXT NOT NULL, version TEXT, created TEXT);
CREATE TABLE IF NOT EXISTS documents (
  record_id INTEGER NOT NULL PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
  record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_created ON records(created DESC, key);
CREATE INDEX IF NOT EXISTS records_by_repository ON records(repository, tag);
CREATE TABLE IF NOT EXISTS components (
  record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE, cid INTEGER NOT NULL,
  name TEXT NOT NULL, version TEXT NOT NULL, target TEXT, os TEXT, platform TEXT,
  PRIMARY KEY (record_id, cid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS components_by_name ON components(name, version, target, record_id, cid);
CREATE INDEX IF NOT EXISTS components_by_target ON components(target, name, record_id, cid);
CREATE TABLE IF NOT EXISTS options (
  record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE, cid INTEGER NOT NULL,
  key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (record_id, cid, key, value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS options_by_value ON options(key, value, record_id, cid);
CREATE TABLE IF NOT EXISTS compilers (
  record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  name TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (record_id, name, version)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS compilers_by_name ON compilers(name, version, record_id);
DROP INDEX IF EXISTS components_name;
DROP INDEX IF EXISTS components_target;
DROP INDEX IF EXISTS options_kv;
DROP INDEX IF EXISTS compilers_name
"""
"""Child tables are keyed by ``record_id`` first (a record's rows are read together); the
secondary indexes cover every column a query filters on; the JSON lives apart in ``documents``
so that ``records`` stays small: a query sorts its matches on ``records`` and reads the JSON of
only the (at most ``limit``) records it returns. The ``DROP``s remove the indexes of catalogs
written by an earlier version (see ``MIGRATE`` for its ``records.record`` column)."""

MIGRATE = (
    "INSERT INTO documents (record_id, record) SELECT id, record FROM records",
    "ALTER TABLE records DROP COLUMN record",
)

SCHEMA_PG = (
    SCHEMA_SQLITE.replace(
        "id INTEGER PRIMARY KEY", "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    )
    .replace("record_id INTEGER", "record_id BIGINT")
    .replace(" WITHOUT ROWID", "")
)

Rows = tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]
"""One entry's rows: the ``records`` row (its JSON last), components, options, compilers."""


def open_sqlite_rw(path: str) -> sqlite3.Connection:
    """A read-write connection to the SQLite catalog at ``path``, created when missing."""
    memory = path == ":memory:"
    created = not memory and not os.path.lexists(path)
    try:
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    except (sqlite3.Error, OSError) as exc:
        raise CatalogError(f"{path}: cannot open the catalog: {reason(exc)}") from exc
    try:
        _check_sqlite(conn, path, required=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        if not memory:
            conn.execute("PRAGMA journal_mode = WAL")
        _tune(conn)
        _create_sqlite(conn)
    except (sqlite3.Error, OSError, CatalogError) as exc:
        conn.close()
        if created:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(path + suffix)
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(f"{path}: cannot open the catalog: {reason(exc)}") from exc
    return conn


def open_sqlite_ro(path: str) -> sqlite3.Connection:
    """A read-only connection to the existing SQLite catalog at ``path``."""
    if path == ":memory:":
        raise CatalogError(":memory: is empty: no catalog to read")
    p = Path(path)
    if not p.is_file():
        why = "is not a file" if p.exists() else "no such catalog (run nameplate index first)"
        raise CatalogError(f"{path}: {why}")
    uri = "file:" + urllib.parse.quote(str(p.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise CatalogError(f"{path}: cannot open the catalog: {reason(exc)}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        _check_sqlite(conn, path, required=True)
        _tune(conn)
    except (sqlite3.Error, CatalogError) as exc:
        conn.close()
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(f"{path}: cannot open the catalog: {reason(exc)}") from exc
    return conn


def open_pg(url: str, *, readonly: bool = False) -> Any:
    """A connection to the PostgreSQL catalog at ``url`` (its schema created unless
    ``readonly``)."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the postgres extra is missing
        raise CatalogError(
            "a PostgreSQL catalog needs psycopg: pip install 'nameplate[postgres]'"
        ) from exc
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise CatalogError(f"{safe(url)}: cannot open the catalog: {exc}") from exc
    try:
        if readonly:
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            present = conn.execute(
                "SELECT " + ", ".join(f"to_regclass('{t}') IS NOT NULL" for t in TABLES)
            ).fetchone()
            if not present or not all(present):
                raise CatalogError(f"{safe(url)}: not a nameplate catalog (no records table)")
        else:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(7400731)")
                for stmt in filter(str.strip, SCHEMA_PG.split(";")):
                    conn.execute(stmt)
                if _old_layout(conn):
                    for stmt in MIGRATE:
                        conn.execute(stmt)
    except psycopg.Error as exc:
        conn.close()
        raise CatalogError(f"{safe(url)}: cannot open the catalog: {exc}") from exc
    except CatalogError:
        conn.close()
        raise
    return conn


def write_sqlite(conn: sqlite3.Connection, rows: list[Rows]) -> int:
    """Replace the entries of ``rows`` in one ``BEGIN IMMEDIATE`` transaction."""
    c = conn
    docs: list[tuple[Any, ...]] = []
    comps: list[tuple[Any, ...]] = []
    opts: list[tuple[Any, ...]] = []
    compilers: list[tuple[Any, ...]] = []
    c.execute("BEGIN IMMEDIATE")
    try:
        for head, comp, opt, compiler in {r[0][0]: r for r in rows}.values():
            old = c.execute("SELECT id FROM records WHERE key = ?", (head[0],)).fetchone()
            if old is not None:
                for table in ("components", "options", "compilers", "documents"):
                    c.execute(f"DELETE FROM {table} WHERE record_id = ?", old)  # noqa: S608
                c.execute("DELETE FROM records WHERE id = ?", old)
            rid = c.execute(
                "INSERT INTO records (key, ref, repository, tag, platform, subject, version,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                head[:-1],
            ).lastrowid
            docs.append((rid, head[-1]))
            comps.extend((rid, *x) for x in comp)
            opts.extend((rid, *x) for x in opt)
            compilers.extend((rid, *x) for x in compiler)
        c.executemany("INSERT INTO documents VALUES (?, ?)", docs)
        c.executemany("INSERT INTO components VALUES (?, ?, ?, ?, ?, ?, ?)", comps)
        c.executemany("INSERT INTO options VALUES (?, ?, ?, ?)", opts)
        c.executemany("INSERT INTO compilers VALUES (?, ?, ?)", compilers)
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    return len(rows)


def write_pg(conn: Any, url: str, rows: list[Rows]) -> int:
    """Upsert the entries of ``rows`` and rewrite their children, retrying on deadlocks."""
    import psycopg

    upsert = (
        "INSERT INTO records (key, ref, repository, tag, platform, subject,"
        " version, created) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON CONFLICT (key) DO UPDATE SET ref=EXCLUDED.ref,"
        " repository=EXCLUDED.repository, tag=EXCLUDED.tag,"
        " platform=EXCLUDED.platform, subject=EXCLUDED.subject,"
        " version=EXCLUDED.version, created=EXCLUDED.created RETURNING id"
    )
    # one upsert per key, in key order, so concurrent writers lock rows in the same order
    by_key = {r[0][0]: r for r in rows}
    ordered = [by_key[k] for k in sorted(by_key)]
    for attempt in range(20):
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(upsert, [r[0][:-1] for r in ordered], returning=True)
                ids: list[int] = []
                while True:
                    row = cur.fetchone()
                    ids.append(int(row[0]))
                    if not cur.nextset():
                        break
                for table in ("components", "options", "compilers", "documents"):
                    cur.execute(f"DELETE FROM {table} WHERE record_id = ANY(%s)", (ids,))  # noqa: S608
                pairs = list(zip(ids, ordered, strict=True))
                _copy(cur, "documents", [(rid, r[0][-1]) for rid, r in pairs])
                _copy(cur, "components", [(rid, *x) for rid, r in pairs for x in r[1]])
                _copy(cur, "options", [(rid, *x) for rid, r in pairs for x in r[2]])
                _copy(cur, "compilers", [(rid, *x) for rid, r in pairs for x in r[3]])
            return len(rows)
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            time.sleep(0.05 * (attempt + 1))
        except psycopg.Error as exc:
            raise CatalogError(f"{url}: write failed: {exc}") from exc
    raise CatalogError(f"{url}: write kept deadlocking")


def _copy(cur: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        with cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _old_layout(conn: Any) -> bool:
    """Whether ``records`` still holds the JSON (a catalog written by an earlier version)."""
    cur = conn.execute("SELECT * FROM records LIMIT 0")
    return "record" in [d[0] for d in cur.description]


SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
"""A URL scheme: anything but ``sqlite:///`` and ``postgresql://`` is refused, never a path."""

TABLES = ("records", "documents", "components", "options", "compilers")
"""The tables of a catalog: an existing database without them is not one."""

APPLICATION_ID = 0x4E504354
"""``PRAGMA application_id`` of a nameplate SQLite catalog (``NPCT``), set when created."""


def reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _tune(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # A site catalog is read far more than written: a 64 MiB page cache, memory-mapped
    # reads and in-memory temporary sorts keep the joins of spec queries off the disk.
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA mmap_size = 268435456")
    conn.execute("PRAGMA temp_store = MEMORY")


def _check_sqlite(conn: sqlite3.Connection, path: str, *, required: bool) -> None:
    """Refuse a SQLite database that is not a nameplate catalog. An empty database (a new or
    empty file) is one to create unless ``required``."""
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        tables = {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as exc:
        raise CatalogError(f"{path}: not a nameplate catalog ({exc})") from exc
    if not tables and app_id == 0:
        if required:
            raise CatalogError(f"{path}: not a nameplate catalog (an empty database)")
        return
    if app_id not in (0, APPLICATION_ID) or not {"records", "components"} <= tables:
        raise CatalogError(f"{path}: not a nameplate catalog (an unrelated SQLite database)")
    if required and not set(TABLES) <= tables:
        raise CatalogError(
            f"{path}: a catalog of an older layout: run nameplate index once to upgrade it"
        )


def _create_sqlite(conn: sqlite3.Connection) -> None:
    for attempt in range(40):
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in filter(str.strip, SCHEMA_SQLITE.split(";")):
                    conn.execute(stmt)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                if _old_layout(conn):
                    for stmt in MIGRATE:
                        conn.execute(stmt)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 39:
                raise
            time.sleep(0.05 * (attempt + 1))


def safe(url: str) -> str:
    """A URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, creds = head.partition("://")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{tail}"
