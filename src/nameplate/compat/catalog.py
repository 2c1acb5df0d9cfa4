"""A catalog of records, queried in Spack's spec syntax: SQLite (a file) or PostgreSQL (a site).

``Catalog.open("catalog.db")`` (or ``sqlite:///path``) is the embedded default;
``Catalog.open("postgresql://user@host/db")`` is a shared catalog (``psycopg`` 3, the ``postgres``
extra). Every write is one transaction that replaces the whole entry of a key, so concurrent
indexers lose no record: SQLite takes the write lock up front (``BEGIN IMMEDIATE``, WAL, a busy
timeout); PostgreSQL upserts the row (``ON CONFLICT``) and rewrites its children under its lock.

Queries are pushed into SQL: the names, the versions (the distinct versions of a name are read
and filtered with Spack's range semantics, then used as an ``IN`` list), archspec target ranges
(expanded to names), variants and compilers; each ``^`` clause is an ``INTERSECT``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CatalogError
from ..record import OptionValue, Record
from .specquery import NodeQuery, SpecQuery, parse, target_names

__all__ = ["Catalog", "CatalogEntry", "Entry", "default_catalog", "index"]

_SCHEMA_SQLITE = """
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, ref TEXT, repository TEXT, tag TEXT,
  platform TEXT, subject TEXT NOT NULL, version TEXT, created TEXT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS components (
  record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE, cid INTEGER NOT NULL,
  name TEXT NOT NULL, version TEXT NOT NULL, target TEXT, os TEXT, platform TEXT,
  PRIMARY KEY (record_id, cid));
CREATE INDEX IF NOT EXISTS components_name ON components(name, version);
CREATE INDEX IF NOT EXISTS components_target ON components(target);
CREATE TABLE IF NOT EXISTS options (
  record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE, cid INTEGER NOT NULL,
  key TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS options_kv ON options(key, value, record_id, cid);
CREATE TABLE IF NOT EXISTS compilers (
  record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  name TEXT NOT NULL, version TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS compilers_name ON compilers(name, version);
"""

_SCHEMA_PG = _SCHEMA_SQLITE.replace(
    "id INTEGER PRIMARY KEY", "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
).replace("record_id INTEGER", "record_id BIGINT")


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """What to index: a record and where it was found."""

    record: Record
    ref: str | None = None
    repository: str | None = None
    tag: str | None = None
    platform: str | None = None

    @property
    def key(self) -> str:
        """The catalog key: the reference when known, else the record's serial."""
        return self.ref or self.record.serial


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogEntry:
    """One catalog hit."""

    key: str
    ref: str | None
    subject: str
    version: str | None
    created: str | None
    platform: str | None
    record_json: str

    def record(self) -> Record:
        """The stored record."""
        return Record.from_dict(json.loads(self.record_json))


def _option_values(value: OptionValue) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return [str(value)]


def _rows(
    entry: Entry,
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    r = entry.record
    head = (
        entry.key,
        entry.ref,
        entry.repository,
        entry.tag,
        entry.platform,
        r.subject.name,
        r.subject.version,
        r.provenance.built_at or r.provenance.extracted_at,
        r.to_json(),
    )
    comps: list[tuple[Any, ...]] = []
    opts: list[tuple[Any, ...]] = []
    for cid, c in enumerate(r.components):
        comps.append(
            (cid, c.name, c.version, c.target.name if c.target else None, c.os, c.platform)
        )
        for key, value in c.options.items():
            opts.extend((cid, key, v) for v in _option_values(value))
    compilers = [(c.name, c.version) for c in r.hpc.compilers]
    return head, comps, opts, compilers


class Catalog:
    """A record catalog in SQLite or PostgreSQL."""

    def __init__(self, conn: Any, *, postgres: bool, url: str) -> None:
        self._conn = conn
        self._pg = postgres
        self.url = url

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | os.PathLike[str]) -> Catalog:
        """Open (creating the tables) ``catalog.db``, ``sqlite:///path`` or ``postgresql://...``."""
        text = str(url)
        if text.startswith(("postgresql://", "postgres://")):
            return cls._open_pg(text)
        path = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            if path != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            _create_sqlite(conn)
        except (sqlite3.Error, OSError) as exc:
            raise CatalogError(f"{path}: cannot open the catalog: {exc}") from exc
        return cls(conn, postgres=False, url=path)

    @classmethod
    def _open_pg(cls, url: str) -> Catalog:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - the postgres extra is missing
            raise CatalogError(
                "a PostgreSQL catalog needs psycopg: pip install 'nameplate[postgres]'"
            ) from exc
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(7400731)")
                for stmt in filter(str.strip, _SCHEMA_PG.split(";")):
                    conn.execute(stmt)
        except psycopg.Error as exc:
            raise CatalogError(f"{_safe(url)}: cannot open the catalog: {exc}") from exc
        return cls(conn, postgres=True, url=_safe(url))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQL helpers ---------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self._pg else text

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            rows: list[tuple[Any, ...]] = self._conn.execute(
                self._sql(sql), tuple(params)
            ).fetchall()
        except Exception as exc:
            if isinstance(exc, (sqlite3.Error,)) or type(exc).__module__.startswith("psycopg"):
                raise CatalogError(f"{self.url}: query failed: {exc}") from exc
            raise
        return rows

    # -- writing -------------------------------------------------------------------------------

    def add(self, entry: Entry | Record) -> None:
        """Index one record (replacing an entry with the same key)."""
        self.add_many([entry])

    def add_many(self, entries: Iterable[Entry | Record], *, batch: int = 500) -> int:
        """Index records in transactions of ``batch``; returns how many were written."""
        pending: list[Entry] = []
        total = 0
        for e in entries:
            pending.append(e if isinstance(e, Entry) else Entry(record=e))
            if len(pending) >= batch:
                total += self._write(pending)
                pending = []
        if pending:
            total += self._write(pending)
        return total

    def _write(self, entries: list[Entry]) -> int:
        rows = [_rows(e) for e in entries]
        if self._pg:
            return self._write_pg(rows)
        for attempt in range(20):
            try:
                return self._write_sqlite(rows)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise CatalogError(f"{self.url}: write failed: {exc}") from exc
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                raise CatalogError(f"{self.url}: write failed: {exc}") from exc
        raise CatalogError(f"{self.url}: the catalog stayed locked")

    def _write_sqlite(self, rows: list[Any]) -> int:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            for head, comps, opts, compilers in rows:
                old = c.execute("SELECT id FROM records WHERE key = ?", (head[0],)).fetchone()
                if old is not None:
                    c.execute("DELETE FROM components WHERE record_id = ?", old)
                    c.execute("DELETE FROM options WHERE record_id = ?", old)
                    c.execute("DELETE FROM compilers WHERE record_id = ?", old)
                    c.execute("DELETE FROM records WHERE id = ?", old)
                cur = c.execute(
                    "INSERT INTO records (key, ref, repository, tag, platform, subject, version,"
                    " created, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    head,
                )
                rid = cur.lastrowid
                c.executemany(
                    "INSERT INTO components VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(rid, *x) for x in comps],
                )
                c.executemany("INSERT INTO options VALUES (?, ?, ?, ?)", [(rid, *x) for x in opts])
                c.executemany(
                    "INSERT INTO compilers VALUES (?, ?, ?)", [(rid, *x) for x in compilers]
                )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return len(rows)

    def _write_pg(self, rows: list[Any]) -> int:
        import psycopg

        upsert = (
            "INSERT INTO records (key, ref, repository, tag, platform, subject,"
            " version, created, record) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (key) DO UPDATE SET ref=EXCLUDED.ref,"
            " repository=EXCLUDED.repository, tag=EXCLUDED.tag,"
            " platform=EXCLUDED.platform, subject=EXCLUDED.subject,"
            " version=EXCLUDED.version, created=EXCLUDED.created,"
            " record=EXCLUDED.record RETURNING id"
        )
        # one upsert per key, in key order, so concurrent writers lock rows in the same order
        by_key = {r[0][0]: r for r in rows}
        ordered = [by_key[k] for k in sorted(by_key)]
        for attempt in range(20):
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    cur.executemany(upsert, [r[0] for r in ordered], returning=True)
                    ids: list[int] = []
                    while True:
                        row = cur.fetchone()
                        ids.append(int(row[0]))
                        if not cur.nextset():
                            break
                    for table in ("components", "options", "compilers"):
                        cur.execute(f"DELETE FROM {table} WHERE record_id = ANY(%s)", (ids,))  # noqa: S608
                    comps = [(rid, *x) for rid, r in zip(ids, ordered, strict=True) for x in r[1]]
                    opts = [(rid, *x) for rid, r in zip(ids, ordered, strict=True) for x in r[2]]
                    comp = [(rid, *x) for rid, r in zip(ids, ordered, strict=True) for x in r[3]]
                    if comps:
                        cur.executemany(
                            "INSERT INTO components VALUES (%s,%s,%s,%s,%s,%s,%s)", comps
                        )
                    if opts:
                        cur.executemany("INSERT INTO options VALUES (%s,%s,%s,%s)", opts)
                    if comp:
                        cur.executemany("INSERT INTO compilers VALUES (%s,%s,%s)", comp)
                return len(rows)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                time.sleep(0.05 * (attempt + 1))
            except psycopg.Error as exc:
                raise CatalogError(f"{self.url}: write failed: {exc}") from exc
        raise CatalogError(f"{self.url}: write kept deadlocking")

    def analyze(self) -> None:
        """Refresh the planner statistics (after a bulk load)."""
        try:
            self._conn.execute("ANALYZE")
        except Exception as exc:
            raise CatalogError(f"{self.url}: ANALYZE failed: {exc}") from exc

    # -- reading -------------------------------------------------------------------------------

    def count(self) -> int:
        """How many records the catalog holds."""
        return int(self._all("SELECT count(*) FROM records")[0][0])

    def keys(self) -> set[str]:
        """Every key in the catalog."""
        return {str(r[0]) for r in self._all("SELECT key FROM records")}

    def _node_sql(self, node: NodeQuery) -> tuple[str, list[Any]] | None:
        where: list[str] = []
        params: list[Any] = []
        if node.name is not None:
            where.append("c.name = ?")
            params.append(node.name)
        if node.versions:
            if node.name is not None:
                rows = self._all(
                    "SELECT DISTINCT version FROM components WHERE name = ?", [node.name]
                )
            else:
                rows = self._all("SELECT DISTINCT version FROM components")
            versions = [str(r[0]) for r in rows if node.version_ok(str(r[0]))]
            if not versions:
                return None
            where.append(f"c.version IN ({', '.join('?' * len(versions))})")
            params.extend(versions)
        if node.targets:
            names = sorted(target_names(node.targets))
            if not names:
                return None
            where.append(f"c.target IN ({', '.join('?' * len(names))})")
            params.extend(names)
        for column in ("os", "platform"):
            value = getattr(node, column)
            if value is not None:
                where.append(f"c.{column} = ?")
                params.append(value)
        for key, want in node.variants:
            for value in _option_values(want):
                where.append(
                    "EXISTS (SELECT 1 FROM options o WHERE o.record_id = c.record_id"
                    " AND o.cid = c.cid AND o.key = ? AND o.value = ?)"
                )
                params.extend([key, value])
        sql = "SELECT c.record_id FROM components c"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if node.compiler is not None:
            rows = self._all(
                "SELECT DISTINCT version FROM compilers WHERE name = ?", [node.compiler]
            )
            versions = [str(r[0]) for r in rows if node.compiler_version_ok(str(r[0]))]
            if not versions:
                return None
            marks = ", ".join("?" * len(versions))
            joiner = " AND" if where else " WHERE"
            inner = f"SELECT record_id FROM compilers WHERE name = ? AND version IN ({marks})"  # noqa: S608
            sql += f"{joiner} c.record_id IN ({inner})"
            params.extend([node.compiler, *versions])
        return sql, params

    def query(self, spec: str | SpecQuery, *, limit: int | None = None) -> list[CatalogEntry]:
        """Records with a component matching the root and one matching each ``^`` clause."""
        q = parse(spec) if isinstance(spec, str) else spec
        parts: list[str] = []
        params: list[Any] = []
        for node in q.nodes:
            built = self._node_sql(node)
            if built is None:
                return []
            parts.append(built[0])
            params.extend(built[1])
        columns = "key, ref, subject, version, created, platform, record"
        ids = " INTERSECT ".join(parts)
        sql = f"SELECT {columns} FROM records WHERE id IN ({ids}) ORDER BY created DESC, key"  # noqa: S608
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            CatalogEntry(
                key=str(r[0]),
                ref=r[1],
                subject=str(r[2]),
                version=r[3],
                created=r[4],
                platform=r[5],
                record_json=str(r[6]),
            )
            for r in self._all(sql, params)
        ]

    def entries(self) -> Iterator[CatalogEntry]:
        """Every entry, newest first."""
        for r in self._all(
            "SELECT key, ref, subject, version, created, platform, record FROM records"
            " ORDER BY created DESC, key"
        ):
            yield CatalogEntry(
                key=str(r[0]),
                ref=r[1],
                subject=str(r[2]),
                version=r[3],
                created=r[4],
                platform=r[5],
                record_json=str(r[6]),
            )


def _create_sqlite(conn: sqlite3.Connection) -> None:
    for attempt in range(40):
        try:
            conn.executescript(_SCHEMA_SQLITE)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 39:
                raise
            time.sleep(0.05 * (attempt + 1))


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, creds = head.partition("://")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{tail}"


def index(catalog: Catalog, refs: Iterable[str], *, store: Any = None) -> tuple[int, list[str]]:
    """Crawl each reference (a repository, a tag, a digest, or a local record file) into the
    catalog; returns how many records were written and the manifests that had none."""
    from .._io import load_record
    from .select import crawl

    entries: list[Entry] = []
    problems: list[str] = []
    for ref in refs:
        if Path(ref).is_file():
            entries.append(Entry(record=load_record(ref)))
            continue
        for found in crawl(ref, store=store):
            if found.record is None:
                problems.append(f"{found.ref}: {found.problem}")
                continue
            entries.append(
                Entry(
                    record=found.record,
                    ref=found.ref,
                    repository=found.ref.split("@", 1)[0],
                    tag=found.tag or None,
                    platform=found.platform,
                )
            )
    written = catalog.add_many(entries)
    catalog.analyze()
    return written, problems


def default_catalog(env: Mapping[str, str]) -> str:
    """``$NAMEPLATE_CATALOG``, else ``$XDG_DATA_HOME/nameplate/catalog.db``."""
    if env.get("NAMEPLATE_CATALOG"):
        return env["NAMEPLATE_CATALOG"]
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "nameplate" / "catalog.db")
