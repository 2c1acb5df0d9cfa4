"""A catalog of records, queried in Spack's spec syntax: SQLite (a file) or PostgreSQL (a site).

``Catalog.open("catalog.db")`` (or ``sqlite:///path``) is the embedded default;
``Catalog.open("postgresql://user@host/db")`` is a shared catalog (``psycopg`` 3, the ``postgres``
extra). Every write is one transaction that replaces the whole entry of a key, so concurrent
indexers lose no record: SQLite takes the write lock up front (``BEGIN IMMEDIATE``, WAL, a busy
timeout); PostgreSQL upserts the row (``ON CONFLICT``) and rewrites its children under its lock.

Queries are pushed into SQL: the names, the versions (the distinct versions of a name are read
and filtered with Spack's range semantics, then used as an ``IN`` list), archspec target ranges
(expanded to names), variants and compilers; each ``^`` clause joins one more component of the
same record. With a ``limit``, the newest records are probed first, in the order of an index
on ``created``; a rare spec falls back to every match, sorted without its JSON. Only the rows
returned have their JSON read (kept apart, in ``documents``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CatalogError
from ..record import OptionValue, Record
from .specquery import NodeQuery, SpecQuery, parse, target_names

if TYPE_CHECKING:
    from .select import Found

__all__ = ["Catalog", "CatalogEntry", "Entry", "collect", "default_catalog", "index"]

_SCHEMA_SQLITE = """
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, ref TEXT, repository TEXT, tag TEXT,
  platform TEXT, subject TEXT NOT NULL, version TEXT, created TEXT);
CREATE TABLE IF NOT EXISTS documents (
  record_id INTEGER NOT NULL PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
  record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_created ON records(created DESC, key);
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
written by an earlier version (see ``_MIGRATE`` for its ``records.record`` column)."""

_MIGRATE = (
    "INSERT INTO documents (record_id, record) SELECT id, record FROM records",
    "ALTER TABLE records DROP COLUMN record",
)

_SCHEMA_PG = (
    _SCHEMA_SQLITE.replace(
        "id INTEGER PRIMARY KEY", "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    )
    .replace("record_id INTEGER", "record_id BIGINT")
    .replace(" WITHOUT ROWID", "")
)


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


_Rows = tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]
"""One entry's rows: the ``records`` row (its JSON last), components, options, compilers."""


def _rows(entry: Entry) -> _Rows:
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
        _stored_json(r),
    )
    comps: list[tuple[Any, ...]] = []
    opts: list[tuple[Any, ...]] = []
    for cid, c in enumerate(r.components):
        comps.append(
            (cid, c.name, c.version, c.target.name if c.target else None, c.os, c.platform)
        )
        for key, value in c.options.items():
            opts.extend((cid, key, v) for v in dict.fromkeys(_option_values(value)))
    compilers = list(dict.fromkeys((c.name, c.version) for c in r.hpc.compilers))
    return head, comps, opts, compilers


def _stored_json(record: Record) -> str:
    """The JSON stored for a record: ``Record.to_json``'s sorted keys, without its indent
    (written by the C encoder, several times faster, and half the size)."""
    return json.dumps(record.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class Catalog:
    """A record catalog in SQLite or PostgreSQL."""

    def __init__(self, conn: Any, *, postgres: bool, url: str) -> None:
        self._conn = conn
        self._pg = postgres
        self.url = url

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | os.PathLike[str], *, readonly: bool = False) -> Catalog:
        """Open ``catalog.db``, ``sqlite:///path`` or ``postgresql://...``.

        A writer creates the catalog (and its folder) when missing, and refuses an existing
        database that is not a nameplate catalog. A ``readonly`` reader creates and changes
        nothing: a missing catalog, or a database that is not one, is a :class:`CatalogError`.
        Any other URL scheme (``mysql://``...) is refused.
        """
        text = str(url)
        if text.startswith(("postgresql://", "postgres://")):
            return cls._open_pg(text, readonly=readonly)
        if text.startswith("sqlite:///"):
            path = text.removeprefix("sqlite:///")
            path = path if path.startswith("/") else "/" + path
        elif _SCHEME.match(text):
            raise CatalogError(
                f"{_safe(text)}: not a catalog URL (a SQLite file, sqlite:///PATH or"
                " postgresql://...)"
            )
        else:
            path = text
        if not path:
            raise CatalogError("the catalog path is empty")
        if readonly:
            return cls._open_sqlite_ro(path)
        return cls._open_sqlite_rw(path)

    @classmethod
    def _open_sqlite_rw(cls, path: str) -> Catalog:
        memory = path == ":memory:"
        created = not memory and not os.path.lexists(path)
        try:
            if not memory:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise CatalogError(f"{path}: cannot open the catalog: {_reason(exc)}") from exc
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
            raise CatalogError(f"{path}: cannot open the catalog: {_reason(exc)}") from exc
        return cls(conn, postgres=False, url=path)

    @classmethod
    def _open_sqlite_ro(cls, path: str) -> Catalog:
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
            raise CatalogError(f"{path}: cannot open the catalog: {_reason(exc)}") from exc
        try:
            conn.execute("PRAGMA busy_timeout = 60000")
            _check_sqlite(conn, path, required=True)
            _tune(conn)
        except (sqlite3.Error, CatalogError) as exc:
            conn.close()
            if isinstance(exc, CatalogError):
                raise
            raise CatalogError(f"{path}: cannot open the catalog: {_reason(exc)}") from exc
        return cls(conn, postgres=False, url=path)

    @classmethod
    def _open_pg(cls, url: str, *, readonly: bool = False) -> Catalog:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - the postgres extra is missing
            raise CatalogError(
                "a PostgreSQL catalog needs psycopg: pip install 'nameplate[postgres]'"
            ) from exc
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise CatalogError(f"{_safe(url)}: cannot open the catalog: {exc}") from exc
        try:
            if readonly:
                conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                present = conn.execute(
                    "SELECT " + ", ".join(f"to_regclass('{t}') IS NOT NULL" for t in _TABLES)
                ).fetchone()
                if not present or not all(present):
                    raise CatalogError(f"{_safe(url)}: not a nameplate catalog (no records table)")
            else:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(7400731)")
                    for stmt in filter(str.strip, _SCHEMA_PG.split(";")):
                        conn.execute(stmt)
                    if _old_layout(conn):
                        for stmt in _MIGRATE:
                            conn.execute(stmt)
        except psycopg.Error as exc:
            conn.close()
            raise CatalogError(f"{_safe(url)}: cannot open the catalog: {exc}") from exc
        except CatalogError:
            conn.close()
            raise
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

    def _write_sqlite(self, rows: list[_Rows]) -> int:
        c = self._conn
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

    def _write_pg(self, rows: list[_Rows]) -> int:
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
                with self._conn.transaction(), self._conn.cursor() as cur:
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

    def _node_parts(self, node: NodeQuery, alias: str) -> _Parts | None:
        """The conditions on component ``alias`` for one node, and the joins of its option and
        compiler rows; None when nothing can match."""
        where: list[str] = []
        params: list[Any] = []
        if node.name is not None:
            where.append(f"{alias}.name = ?")
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
        values = [(key, v) for key, want in node.variants for v in _option_values(want)]
        for n, (key, value) in enumerate(values):
            o = f"{alias}o{n}"
            joins.append(
                f" JOIN options {o} ON {o}.record_id = {alias}.record_id"
                f" AND {o}.cid = {alias}.cid AND {o}.key = ? AND {o}.value = ?"
            )
            join_params.extend([key, value])
        if node.compiler is not None:
            rows = self._all(
                "SELECT DISTINCT version FROM compilers WHERE name = ?", [node.compiler]
            )
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

    def _parts(self, q: SpecQuery) -> list[_Parts] | None:
        """Each node's parts (root first); None when a node cannot match."""
        parts = []
        for i, node in enumerate(q.nodes):
            built = self._node_parts(node, f"d{i - 1}" if i else "c")
            if built is None:
                return None
            parts.append(built)
        return parts

    @staticmethod
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

    def query(self, spec: str | SpecQuery, *, limit: int | None = None) -> list[CatalogEntry]:
        """Records with a component matching the root and one matching each ``^`` clause,
        newest first (then by key)."""
        q = parse(spec) if isinstance(spec, str) else spec
        parts = self._parts(q)
        if parts is None or (limit is not None and limit <= 0):
            return []
        ids, params = self._ids_sql(parts)
        if limit is not None:
            limit = int(limit)
            # a common spec matches among the newest records: probe those in order first
            # (``created`` is never NULL: a record always has ``extracted_at``)
            probe, probe_params = self._ids_sql(parts, of="r.id")
            edge = self._all(
                "SELECT created, key FROM records ORDER BY created DESC, key LIMIT 1 OFFSET ?",
                [_WINDOW * limit - 1],
            )
            within = "r.created >= ? AND NOT (r.created = ? AND r.key > ?) AND " if edge else ""
            window = (
                f"SELECT r.id FROM records r WHERE {within}EXISTS ({probe})"  # noqa: S608
                f" ORDER BY r.created DESC, r.key LIMIT {limit}"
            )
            bounds = [edge[0][0], edge[0][0], edge[0][1]] if edge else []
            found = [r[0] for r in self._all(window, [*bounds, *probe_params])]
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
        sql = f"{_SELECT} WHERE r.id IN ({ids}) ORDER BY r.created DESC, r.key"
        return [_entry(r) for r in self._all(sql, params)]

    def entries(self) -> Iterator[CatalogEntry]:
        """Every entry, newest first."""
        for r in self._all(f"{_SELECT} ORDER BY r.created DESC, r.key"):
            yield _entry(r)


@dataclass(frozen=True, slots=True)
class _Parts:
    where: list[str]
    params: list[Any]
    joins: str
    join_params: list[Any]


_WINDOW = 50
"""``query(limit=n)`` first looks for its matches among the ``_WINDOW * n`` newest records."""

_SELECT = (
    "SELECT r.key, r.ref, r.subject, r.version, r.created, r.platform, d.record"
    " FROM records r JOIN documents d ON d.record_id = r.id"
)


def _copy(cur: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        with cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _entry(r: Sequence[Any]) -> CatalogEntry:
    return CatalogEntry(
        key=str(r[0]),
        ref=r[1],
        subject=str(r[2]),
        version=r[3],
        created=r[4],
        platform=r[5],
        record_json=str(r[6]),
    )


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _old_layout(conn: Any) -> bool:
    """Whether ``records`` still holds the JSON (a catalog written by an earlier version)."""
    cur = conn.execute("SELECT * FROM records LIMIT 0")
    return "record" in [d[0] for d in cur.description]


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
"""A URL scheme: anything but ``sqlite:///`` and ``postgresql://`` is refused, never a path."""

_TABLES = ("records", "documents", "components", "options", "compilers")
"""The tables of a catalog: an existing database without them is not one."""

_APPLICATION_ID = 0x4E504354
"""``PRAGMA application_id`` of a nameplate SQLite catalog (``NPCT``), set when created."""


def _reason(exc: BaseException) -> str:
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
    if app_id not in (0, _APPLICATION_ID) or not {"records", "components"} <= tables:
        raise CatalogError(f"{path}: not a nameplate catalog (an unrelated SQLite database)")
    if required and not set(_TABLES) <= tables:
        raise CatalogError(
            f"{path}: a catalog of an older layout: run nameplate index once to upgrade it"
        )


def _create_sqlite(conn: sqlite3.Connection) -> None:
    for attempt in range(40):
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in filter(str.strip, _SCHEMA_SQLITE.split(";")):
                    conn.execute(stmt)
                conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                if _old_layout(conn):
                    for stmt in _MIGRATE:
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


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, creds = head.partition("://")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{tail}"


def collect(refs: Iterable[str], *, store: Any = None) -> tuple[list[Entry], list[str]]:
    """What :func:`index` writes: the entries of each reference (a repository, a tag, a
    digest, or a local record file), and the manifests that had no record. A missing file or
    layout, or a registry that cannot be read, is an error (nothing is written)."""
    from .._io import load_record
    from .select import or_no_such_file

    entries: list[Entry] = []
    problems: list[str] = []
    for ref in refs:
        if Path(ref).is_file():
            entries.append(Entry(record=load_record(ref)))
            continue
        for found in or_no_such_file(ref, functools.partial(_crawled, ref, store)):
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
    return entries, problems


def _crawled(ref: str, store: Any) -> list[Found]:
    from .select import crawl

    return list(crawl(ref, store=store))


def index(catalog: Catalog, refs: Iterable[str], *, store: Any = None) -> tuple[int, list[str]]:
    """Crawl each reference (see :func:`collect`) into the catalog; returns how many records
    were written and the manifests that had none."""
    entries, problems = collect(refs, store=store)
    written = catalog.add_many(entries)
    catalog.analyze()
    return written, problems


def default_catalog(env: Mapping[str, str]) -> str:
    """``$NAMEPLATE_CATALOG``, else ``$XDG_DATA_HOME/nameplate/catalog.db``."""
    if env.get("NAMEPLATE_CATALOG"):
        return env["NAMEPLATE_CATALOG"]
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "nameplate" / "catalog.db")
