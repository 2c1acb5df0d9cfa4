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

import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CatalogError
from ..record import Record
from ._catalog_query import SELECT, option_values, query_rows
from ._catalog_sql import (
    SCHEME,
    Rows,
    open_pg,
    open_sqlite_ro,
    open_sqlite_rw,
    safe,
    write_pg,
    write_sqlite,
)
from .specquery import SpecQuery, parse

if TYPE_CHECKING:
    from ..sign import TrustedKeys
    from .select import Found

__all__ = ["Catalog", "CatalogEntry", "Entry", "collect", "default_catalog", "index"]


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
    repository: str | None = None
    tag: str | None = None

    def record(self) -> Record:
        """The stored record."""
        return Record.from_dict(json.loads(self.record_json))


def _rows(entry: Entry) -> Rows:
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
            opts.extend((cid, key, v) for v in dict.fromkeys(option_values(value)))
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
            return write_pg(self._conn, self.url, rows)
        for attempt in range(20):
            try:
                return write_sqlite(self._conn, rows)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise CatalogError(f"{self.url}: write failed: {exc}") from exc
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                raise CatalogError(f"{self.url}: write failed: {exc}") from exc
        raise CatalogError(f"{self.url}: the catalog stayed locked")

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

    def query(self, spec: str | SpecQuery, *, limit: int | None = None) -> list[CatalogEntry]:
        """Records with a component matching the root and one matching each ``^`` clause,
        newest first (then by key)."""
        q = parse(spec) if isinstance(spec, str) else spec
        return [_entry(r) for r in query_rows(self._all, q, limit=limit)]

    def entries(self) -> Iterator[CatalogEntry]:
        """Every entry, newest first."""
        for r in self._all(f"{SELECT} ORDER BY r.created DESC, r.key"):
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
                f"{SELECT} WHERE r.repository = ? ORDER BY r.created DESC, r.key",
                [repository],
            )
        ]

    def recent(self, limit: int) -> list[CatalogEntry]:
        """The ``limit`` newest entries (then by key)."""
        return [
            _entry(r)
            for r in self._all(
                f"{SELECT} ORDER BY r.created DESC, r.key LIMIT ?", [max(0, int(limit))]
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
        record_json=str(r[6]),
        repository=r[7],
        tag=r[8],
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
    records signed by one of them are entries (a record file never is)."""
    from .select import or_no_such_file

    entries: list[Entry] = []
    problems: list[str] = []
    for ref in refs:
        if Path(ref).is_file():
            if trusted is not None:
                problems.append(f"{ref}: a local file carries no signature (--require-signed)")
                continue
            entries.append(Entry(record=Record.load(ref)))
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
