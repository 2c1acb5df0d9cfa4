"""The service's own tables, in the catalog's database: host profiles registered through the
API, the queue of registry notifications, and the tags seen in them.

They live beside the catalog's tables (SQLite file or PostgreSQL database) but are created and
written only here, through a connection of their own; the catalog's records are read and written
only through :class:`~nameplate.compat.catalog.Catalog`. So replicas over one PostgreSQL share
host profiles and the queue, and a notification is indexed once by whichever replica claims it
(``FOR UPDATE SKIP LOCKED``; on SQLite, ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import contextlib
import datetime
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CatalogError
from .notify import PushEvent

__all__ = ["QueuedEvent", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS serve_hosts (
  name TEXT PRIMARY KEY, profile TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS serve_events (
  id INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
  registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, tag TEXT,
  media_type TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  received DOUBLE PRECISION NOT NULL, not_before DOUBLE PRECISION NOT NULL,
  claimed DOUBLE PRECISION, detail TEXT);
CREATE INDEX IF NOT EXISTS serve_events_by_state ON serve_events(state, not_before);
CREATE TABLE IF NOT EXISTS serve_tags (
  registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  platform TEXT NOT NULL DEFAULT '', PRIMARY KEY (registry, repository, tag, digest));
CREATE INDEX IF NOT EXISTS serve_tags_by_digest ON serve_tags(registry, repository, digest)
"""

_SCHEMA_PG = _SCHEMA.replace(
    "id INTEGER PRIMARY KEY", "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
)

_LOCK = 7400732
"""The advisory lock that serialises schema creation between replicas (the catalog's + 1)."""

STALE = 300.0
"""A claim older than this many seconds was lost with its replica: the event is claimed again."""

MAX_ATTEMPTS = 5
"""Attempts before an event whose registry kept failing is marked ``failed``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class QueuedEvent:
    """A claimed notification: the push, its queue id and how often it was tried."""

    id: int
    event: PushEvent
    attempts: int


def _safe(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, creds = head.partition("://")
    return f"{scheme}://{creds.split(':', 1)[0]}@{tail}"


class Store:
    """The service's tables on one connection (not shared between threads)."""

    def __init__(self, conn: Any, *, postgres: bool, url: str) -> None:
        self._conn = conn
        self._pg = postgres
        self.url = url

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to the catalog database ``url`` and create the service's tables."""
        if url.startswith(("postgresql://", "postgres://")):
            return cls(_open_pg(url), postgres=True, url=_safe(url))
        path = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and not path.startswith("/"):
            path = "/" + path
        try:
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 30000")
            with _sqlite_tx(conn):
                for stmt in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(stmt)
        except sqlite3.Error as exc:
            raise CatalogError(f"{path}: cannot open the service tables: {exc}") from exc
        return cls(conn, postgres=False, url=path)

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self._conn.close()

    # -- SQL ------------------------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        text = sql.replace("?", "%s") if self._pg else sql
        try:
            cur = self._conn.execute(text, tuple(params))
            rows: list[tuple[Any, ...]] = cur.fetchall() if cur.description else []
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
                raise CatalogError(f"{self.url}: service tables: {exc}") from exc
            raise
        return rows

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._pg:
            with self._conn.transaction():
                yield
        else:
            with _sqlite_tx(self._conn):
                yield

    # -- host profiles --------------------------------------------------------------------------

    def hosts(self) -> list[tuple[str, str]]:
        """Every registered host profile: ``(name, profile JSON)``, by name."""
        return [
            (str(r[0]), str(r[1]))
            for r in self._run("SELECT name, profile FROM serve_hosts ORDER BY name")
        ]

    def host(self, name: str) -> str | None:
        """The profile JSON registered as ``name``."""
        rows = self._run("SELECT profile FROM serve_hosts WHERE name = ?", [name])
        return str(rows[0][0]) if rows else None

    def put_host(self, name: str, profile: str) -> bool:
        """Register (or replace) ``name``; True when it is new."""
        with self._transaction():
            old = self._run("SELECT 1 FROM serve_hosts WHERE name = ?", [name])
            self._run(
                "INSERT INTO serve_hosts (name, profile, updated) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET profile = excluded.profile,"
                " updated = excluded.updated",
                [name, profile, time.time()],
            )
        return not old

    def delete_host(self, name: str) -> bool:
        """Remove ``name``; True when it was there."""
        with self._transaction():
            old = self._run("SELECT 1 FROM serve_hosts WHERE name = ?", [name])
            self._run("DELETE FROM serve_hosts WHERE name = ?", [name])
        return bool(old)

    # -- the notification queue -----------------------------------------------------------------

    def enqueue(self, events: Sequence[PushEvent]) -> int:
        """Queue push events (an event id seen before is not queued again); how many were new."""
        now = time.time()
        new = 0
        with self._transaction():
            for e in events:
                rows = self._run(
                    "INSERT INTO serve_events (event_id, source, registry, repository, digest,"
                    " tag, media_type, state, received, not_before)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
                    " ON CONFLICT (event_id) DO NOTHING RETURNING id",
                    [
                        e.event_id,
                        e.source,
                        e.registry,
                        e.repository,
                        e.digest,
                        e.tag,
                        e.media_type,
                        now,
                        now,
                    ],
                )
                new += len(rows)
        return new

    def claim(self) -> QueuedEvent | None:
        """Take the oldest pending event (or one whose claim went stale) for this process."""
        now = time.time()
        pick = (
            "SELECT id FROM serve_events WHERE (state = 'pending' AND not_before <= ?)"
            " OR (state = 'working' AND claimed < ?) ORDER BY id LIMIT 1"
        )
        cols = "id, event_id, source, registry, repository, digest, tag, media_type, attempts"
        with self._transaction():
            if self._pg:
                rows = self._run(
                    f"UPDATE serve_events SET state = 'working', claimed = ?,"  # noqa: S608
                    f" attempts = attempts + 1 WHERE id = ({pick} FOR UPDATE SKIP LOCKED)"
                    f" RETURNING {cols}",
                    [now, now, now - STALE],
                )
            else:
                found = self._run(pick, [now, now - STALE])
                if not found:
                    return None
                self._run(
                    "UPDATE serve_events SET state = 'working', claimed = ?,"
                    " attempts = attempts + 1 WHERE id = ?",
                    [now, found[0][0]],
                )
                rows = self._run(f"SELECT {cols} FROM serve_events WHERE id = ?", [found[0][0]])  # noqa: S608
        if not rows:
            return None
        r = rows[0]
        event = PushEvent(
            event_id=str(r[1]),
            source=r[2],
            registry=str(r[3]),
            repository=str(r[4]),
            digest=str(r[5]),
            tag=r[6],
            media_type=r[7],
        )
        return QueuedEvent(id=int(r[0]), event=event, attempts=int(r[8]))

    def finish(self, qid: int, state: str, detail: str, *, retry_in: float | None = None) -> None:
        """Record the outcome of a claimed event: ``done``, ``ignored``, ``failed``, or back
        to ``pending`` after ``retry_in`` seconds."""
        now = time.time()
        if retry_in is not None:
            self._run(
                "UPDATE serve_events SET state = 'pending', not_before = ?, detail = ?"
                " WHERE id = ?",
                [now + retry_in, detail[:1000], qid],
            )
            return
        self._run(
            "UPDATE serve_events SET state = ?, detail = ?, claimed = ? WHERE id = ?",
            [state, detail[:1000], now, qid],
        )

    def events(self, limit: int) -> list[dict[str, Any]]:
        """The newest queued events, for operators (``GET /v1/notifications``)."""
        rows = self._run(
            "SELECT id, source, registry, repository, digest, tag, state, attempts, received,"
            " detail FROM serve_events ORDER BY id DESC LIMIT ?",
            [limit],
        )
        keys = (
            "id", "source", "registry", "repository", "digest", "tag", "state", "attempts",
            "received", "detail",
        )  # fmt: skip
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for event in out:
            event["received"] = _iso(float(event["received"]))
        return out

    def prune(self, older_than: float) -> int:
        """Forget finished events older than ``older_than`` seconds."""
        cutoff = time.time() - older_than
        rows = self._run(
            "DELETE FROM serve_events WHERE state IN ('done', 'ignored', 'failed')"
            " AND received < ? RETURNING id",
            [cutoff],
        )
        return len(rows)

    # -- tags seen in notifications --------------------------------------------------------------

    def set_tag(
        self, registry: str, repository: str, tag: str, digests: Sequence[tuple[str, str]]
    ) -> None:
        """``tag`` now names these manifests (``(digest, platform)``: the tagged manifest with
        platform ``""``, and the platform manifests of an index)."""
        with self._transaction():
            self._run(
                "DELETE FROM serve_tags WHERE registry = ? AND repository = ? AND tag = ?",
                [registry, repository, tag],
            )
            for digest, platform in dict.fromkeys(digests):
                self._run(
                    "INSERT INTO serve_tags (registry, repository, tag, digest, platform)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [registry, repository, tag, digest, platform],
                )

    def tags_of(self, registry: str, repository: str, digest: str) -> list[tuple[str, str]]:
        """The tags known to name ``digest`` (directly or through an index), with the platform
        of the manifest under that tag (``""`` when the tag names it directly)."""
        rows = self._run(
            "SELECT tag, platform FROM serve_tags WHERE registry = ? AND repository = ?"
            " AND digest = ? ORDER BY tag",
            [registry, repository, digest],
        )
        return [(str(r[0]), str(r[1])) for r in rows]


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, tz=datetime.timezone.utc).isoformat(
        timespec="seconds"
    )


@contextlib.contextmanager
def _sqlite_tx(conn: sqlite3.Connection) -> Iterator[None]:
    for attempt in range(50):
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 49:
                raise
            time.sleep(0.02 * (attempt + 1))
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _open_pg(url: str) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the postgres extra is missing
        raise CatalogError(
            "a PostgreSQL catalog needs psycopg: pip install 'nameplate[postgres]'"
        ) from exc
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            for stmt in filter(str.strip, _SCHEMA_PG.split(";")):
                conn.execute(stmt)
    except psycopg.Error as exc:
        raise CatalogError(f"{_safe(url)}: cannot open the service tables: {exc}") from exc
    return conn
