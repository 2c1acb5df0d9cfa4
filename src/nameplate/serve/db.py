"""Database access for the service: a bounded pool of threads, each with its own read-only
:class:`~nameplate.compat.catalog.Catalog` and :class:`~.store.Store` connection.

Request handlers are coroutines; every catalog call runs on this pool (``await db.run(fn,
...)``), so a slow query never blocks the event loop and at most ``threads`` connections per
process reach the database. A connection that fails (PostgreSQL restarted) is closed and opened
again by the next call on that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ..compat.catalog import Catalog
from ..errors import CatalogError
from .cache import Miss, cached_only
from .store import Store

__all__ = ["OFFLINE", "Database", "Session"]

_T = TypeVar("_T")


@dataclass(slots=True)
class Session:
    """One thread's connections."""

    catalog: Catalog
    store: Store

    def close(self) -> None:
        """Close both connections."""
        with contextlib.suppress(Exception):
            self.catalog.close()
        self.store.close()


class Database:
    """Thread-local sessions on a pool of ``threads`` threads."""

    def __init__(self, url: str, *, threads: int) -> None:
        self.url = url
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="np-db")
        self._local = threading.local()
        self._open: list[Session] = []
        self._lock = threading.Lock()

    def _session(self) -> Session:
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            catalog = Catalog.open(self.url, readonly=True)
            try:
                store = Store.open(self.url)
            except BaseException:
                catalog.close()
                raise
            session = Session(catalog, store)
            self._local.session = session
            with self._lock:
                self._open.append(session)
        return session

    def _drop(self) -> None:
        session: Session | None = getattr(self._local, "session", None)
        if session is not None:
            self._local.session = None
            with self._lock:
                if session in self._open:
                    self._open.remove(session)
            session.close()

    def _call(self, fn: Callable[..., _T], args: tuple[Any, ...]) -> _T:
        try:
            return fn(self._session(), *args)
        except CatalogError:
            self._drop()  # a broken connection is opened again by the next call
            raise

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(session, *args)`` on a database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(self._call, fn, args))

    async def answer(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(session, *args)``: at once on the event loop when every query and computation it
        needs is cached (no thread, no connection), else on a database thread."""
        with cached_only():
            try:
                return fn(OFFLINE, *args)
            except Miss:
                pass
        return await self.run(fn, *args)

    def close(self) -> None:
        """Stop the threads and close every connection."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            sessions, self._open = self._open, []
        for s in sessions:
            s.close()


class _Offline:
    """The session of :meth:`Database.answer`'s first try: any use of a connection is a miss."""

    @property
    def catalog(self) -> Catalog:
        raise Miss

    @property
    def store(self) -> Store:
        raise Miss


OFFLINE: Session = _Offline()  # type: ignore[assignment]
"""A session without connections (see :meth:`Database.answer`)."""
