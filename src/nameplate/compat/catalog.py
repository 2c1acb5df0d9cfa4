"""A catalog of records, queried in Spack's spec syntax: SQLite (a file) or PostgreSQL (a site).

``Catalog.open("catalog.db")`` (or ``sqlite:///path``) is the embedded default;
``Catalog.open("postgresql://user@host/db")`` is a shared catalog (``psycopg`` 3, the ``postgres``
extra). Every write is one transaction that replaces the whole entry of each key, so concurrent
indexers lose no record: SQLite takes the write lock up front (``BEGIN IMMEDIATE``, WAL, a busy
timeout); PostgreSQL ``COPY``s a batch and upserts its rows in key order.

Each component is a row of ``nodes`` with the spec attributes as columns; queries are pushed
into SQL that the indexes answer (see ``_catalog_query``): the first clause is about a record's
root (``any_node=True``: any component), each ``^`` clause about any component; a virtual
matches its providers and ``/hash`` a Spack DAG hash prefix. Results come newest first, and
only the rows returned have their JSON read (kept apart, in ``documents``).

A catalog written by an earlier version is migrated when a writer opens it; a reader refuses
it with the command to run.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import CatalogError
from ..record import Record
from ._catalog_query import SELECT, query_rows
from ._catalog_rows import Rows, Term, pack, rows, terms, unpack
from ._catalog_sql import SCHEME, open_pg, open_sqlite_ro, open_sqlite_rw, safe
from ._catalog_write import STAGING_PG, write_pg, write_sqlite
from .specquery import SpecQuery, parse

if TYPE_CHECKING:
    from ..sign import TrustedKeys
    from .select import Found

__all__ = ["Catalog", "CatalogEntry", "Entry", "collect", "default_catalog", "index"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """What to index: a record and where it was found.

    ``data`` is the record's JSON data when it was read as JSON (a file, a registry blob): the
    catalog stores and indexes it as it is, instead of converting ``record`` back.
    ``origin`` is the file a record was read from (``ref`` the registry reference).
    """

    record: Record
    ref: str | None = None
    repository: str | None = None
    tag: str | None = None
    platform: str | None = None
    origin: str | None = None
    data: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        """The catalog key: the reference when known, else the record's serial."""
        return self.ref or self.record.serial


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogEntry:
    """One catalog hit: ``ref`` (the registry reference) or ``origin`` (the file it was indexed
    from) say where the record came from; :attr:`source` is whichever is known."""

    key: str
    ref: str | None
    subject: str
    version: str | None
    created: str | None
    platform: str | None
    record_json: str
    repository: str | None = None
    tag: str | None = None
    origin: str | None = None

    @property
    def source(self) -> str:
        """Where the record came from: its reference, else its file, else its key."""
        return self.ref or self.origin or self.key

    def record(self) -> Record:
        """The stored record."""
        return Record.from_dict(json.loads(self.record_json))


def _batches(entries: Iterable[Entry | Record], size: int) -> Iterator[list[Entry]]:
    chunk: list[Entry] = []
    for e in entries:
        chunk.append(e if isinstance(e, Entry) else Entry(record=e))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rows(entry: Entry, *, postgres: bool) -> Rows:
    data = entry.data if entry.data is not None else entry.record.to_dict()
    return rows(
        data,
        pack(_stored_json(data), postgres=postgres),
        key=entry.key,
        ref=entry.ref,
        origin=entry.origin,
        repository=entry.repository,
        tag=entry.tag,
        platform=entry.platform,
    )


def _stored_json(data: Mapping[str, Any]) -> bytes:
    """The JSON stored for a record: sorted keys, compact. Written by orjson: Python's encoder
    took more time than everything else a write does in Python (36 µs of about 90 per
    generated record on a quiet machine; orjson 5 µs), and gives the same text."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


class Catalog:
    """A record catalog in SQLite or PostgreSQL."""

    def __init__(self, conn: Any, *, postgres: bool, url: str) -> None:
        self._conn = conn
        self._pg = postgres
        self.url = url
        self._terms: set[Term] = set()  # the terms this connection has written (committed)
        self._staging = False

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
            return cls(open_pg(text, readonly=readonly), postgres=True, url=safe(text))
        if text.startswith("sqlite:///"):
            path = text.removeprefix("sqlite:///")
            path = path if path.startswith("/") else "/" + path
        elif SCHEME.match(text):
            raise CatalogError(
                f"{safe(text)}: not a catalog URL (a SQLite file, sqlite:///PATH or"
                " postgresql://...)"
            )
        else:
            path = text
        if not path:
            raise CatalogError("the catalog path is empty")
        if readonly:
            return cls(open_sqlite_ro(path), postgres=False, url=path)
        return cls(open_sqlite_rw(path), postgres=False, url=path)

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
        """Index records in transactions of ``batch``; returns how many were written.

        While one batch is written (by a helper thread: SQLite and the PostgreSQL server work
        without Python's lock), the rows of the next are made: the two overlap."""
        total = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-writer") as pool:
            writing: Future[int] | None = None
            for chunk in _batches(entries, batch):
                rows_ = [_rows(e, postgres=self._pg) for e in chunk]
                new = sorted(set(terms(rows_)) - self._terms)
                if writing is not None:
                    total += writing.result()
                writing = pool.submit(self._write_rows, rows_, new)
            if writing is not None:
                total += writing.result()
        return total

    def _write_rows(self, batch: list[Rows], new: list[Term]) -> int:
        written = self._write_pg(batch, new) if self._pg else self._write_sqlite(batch, new)
        self._terms.update(new)
        return written

    def _write_sqlite(self, batch: list[Rows], new: list[Term]) -> int:
        for attempt in range(20):
            try:
                return write_sqlite(self._conn, batch, new)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise CatalogError(f"{self.url}: write failed: {exc}") from exc
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                raise CatalogError(f"{self.url}: write failed: {exc}") from exc
        raise CatalogError(f"{self.url}: the catalog stayed locked")

    def _write_pg(self, batch: list[Rows], new: list[Term]) -> int:
        import psycopg

        for attempt in range(20):
            try:
                if not self._staging:
                    self._conn.execute(STAGING_PG)
                    self._staging = True
                with self._conn.transaction(), self._conn.cursor() as cur:
                    return write_pg(cur, batch, new)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                time.sleep(0.05 * (attempt + 1))
            except psycopg.Error as exc:
                raise CatalogError(f"{self.url}: write failed: {exc}") from exc
        raise CatalogError(f"{self.url}: write kept deadlocking")

    def analyze(self) -> None:
        """Refresh the planner statistics after a bulk load (on PostgreSQL also ``VACUUM``
        the tables a query reads, so that their indexes answer without visiting the rows)."""
        try:
            if self._pg:
                self._conn.execute("VACUUM (ANALYZE) records, nodes, compilers, terms")
            else:
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

    def query(
        self, spec: str | SpecQuery, *, limit: int | None = None, any_node: bool = False
    ) -> list[CatalogEntry]:
        """Records whose root matches the first clause (any component with ``any_node``) and
        with a component matching each ``^`` clause, newest first (``created``, then the
        latest indexed)."""
        q = parse(spec) if isinstance(spec, str) else spec
        return [
            _entry(r)
            for r in query_rows(self._all, q, limit=limit, any_node=any_node, postgres=self._pg)
        ]

    def entries(self) -> Iterator[CatalogEntry]:
        """Every entry, newest first."""
        for r in self._all(f"{SELECT} ORDER BY r.created DESC, r.id DESC"):
            yield _entry(r)

    # -- lookups by key, repository and time ----------------------------------------------------

    def get(self, key: str) -> CatalogEntry | None:
        """The entry whose catalog key is ``key`` (a reference, or a record's serial)."""
        rows = self._all(f"{SELECT} WHERE r.key = ?", [key])
        return _entry(rows[0]) if rows else None

    def in_repository(self, repository: str) -> list[CatalogEntry]:
        """Every entry indexed from ``repository`` (``HOST/REPO``, as ``index`` writes it),
        newest first."""
        return [
            _entry(r)
            for r in self._all(
                f"{SELECT} WHERE r.repository = ? ORDER BY r.created DESC, r.id DESC",
                [repository],
            )
        ]

    def recent(self, limit: int) -> list[CatalogEntry]:
        """The ``limit`` newest entries (equal times: the latest indexed first; the order of
        the ``records_newest`` index, so no sort)."""
        return [
            _entry(r)
            for r in self._all(
                f"{SELECT} ORDER BY r.created DESC, r.id DESC LIMIT ?", [max(0, int(limit))]
            )
        ]


def _entry(r: Sequence[Any]) -> CatalogEntry:
    return CatalogEntry(
        key=str(r[0]),
        ref=r[1],
        subject=str(r[2]),
        version=r[3],
        created=r[4],
        platform=r[5],
        record_json=unpack(r[6], str(r[0])),
        repository=r[7],
        tag=r[8],
        origin=r[9],
    )


def collect(
    refs: Iterable[str],
    *,
    store: Any = None,
    transport: Any = None,
    tags: Sequence[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    trusted: TrustedKeys | None = None,
) -> tuple[list[Entry], list[str]]:
    """What :func:`index` writes: the entries of each reference (a repository: every tag, or
    those matching the globs ``tags``; a tag or digest; or a local record file), and the
    manifests that had no record. A missing file or layout, or a registry that cannot be read,
    is an error (nothing is written). ``progress(ref, done, total)`` follows the tags of each
    repository; ``transport`` says how registries are reached. With ``trusted`` keys only
    records signed by one of them are entries (a record file never is). A file is remembered by
    its absolute path (``origin``)."""
    from .select import or_no_such_file

    entries: list[Entry] = []
    problems: list[str] = []
    for ref in refs:
        if Path(ref).is_file():
            if trusted is not None:
                problems.append(f"{ref}: a local file carries no signature (--require-signed)")
                continue
            entries.append(Entry(record=Record.load(ref), origin=str(Path(ref).resolve())))
            continue
        step = None if progress is None else functools.partial(progress, ref)
        crawled = functools.partial(_crawled, ref, store, transport, tags, step, trusted)
        for found in or_no_such_file(ref, crawled):
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


def _crawled(  # noqa: PLR0917 - a functools.partial target
    ref: str,
    store: Any,
    transport: Any,
    tags: Sequence[str] | None,
    progress: Callable[[int, int], None] | None,
    trusted: TrustedKeys | None = None,
) -> list[Found]:
    from .select import crawl

    return list(
        crawl(ref, store=store, transport=transport, tags=tags, progress=progress, trusted=trusted)
    )


def index(
    catalog: Catalog,
    refs: Iterable[str],
    *,
    store: Any = None,
    transport: Any = None,
    tags: Sequence[str] | None = None,
    trusted: TrustedKeys | None = None,
) -> tuple[int, list[str]]:
    """Crawl each reference (see :func:`collect`) into the catalog; returns how many records
    were written and the manifests that had none."""
    entries, problems = collect(refs, store=store, transport=transport, tags=tags, trusted=trusted)
    written = catalog.add_many(entries)
    catalog.analyze()
    return written, problems


def default_catalog(env: Mapping[str, str]) -> str:
    """``$NAMEPLATE_CATALOG``, else ``$XDG_DATA_HOME/nameplate/catalog.db``."""
    if env.get("NAMEPLATE_CATALOG"):
        return env["NAMEPLATE_CATALOG"]
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "nameplate" / "catalog.db")
