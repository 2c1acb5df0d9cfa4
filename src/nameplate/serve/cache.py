"""Parsed records, summaries and computed answers, cached by content.

A record is stored in the catalog as JSON; turning it into a :class:`~nameplate.record.Record`
costs far more than the query that found it (12 ms for a 100 KiB Spack record, against 0.1 ms
for its compatibility check), and ranking a repository's tags runs every rule on every tag.
Everything here is keyed by *content*: an entry by its catalog key and a hash of its JSON, a
host profile by a hash of its canonical JSON. A record re-indexed under the same key, or a
profile replaced, therefore misses the cache: it never answers with stale data, and replicas
need no invalidation. All caches are bounded (LRU) and thread-safe.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from ..compat.catalog import CatalogEntry
from ..record import Record

__all__ = [
    "Fresh",
    "Memo",
    "Miss",
    "RecordCache",
    "cached_only",
    "fingerprint",
    "summary_of",
]

_T = TypeVar("_T")

_CACHED_ONLY: ContextVar[bool] = ContextVar("nameplate_serve_cached_only", default=False)


class Miss(Exception):
    """Under :func:`cached_only`, an answer is not cached and would have to be computed."""


@contextlib.contextmanager
def cached_only() -> Iterator[None]:
    """Within this block a cache miss raises :class:`Miss` instead of computing: the event
    loop answers what is cached at once and hands the rest to a database thread."""
    token = _CACHED_ONLY.set(True)
    try:
        yield
    finally:
        _CACHED_ONLY.reset(token)


def _miss() -> None:
    if _CACHED_ONLY.get():
        raise Miss


Fingerprint = tuple[str, int, int]
"""An entry's identity and content: its key, and the length and hash of its JSON."""


def fingerprint(entry: CatalogEntry) -> Fingerprint:
    """What identifies an entry's content in this process (``hash`` of a string is a keyed
    SipHash, computed at memory speed; the key and length make a collision moot)."""
    return entry.key, len(entry.record_json), hash(entry.record_json)


class Memo(Generic[_T]):
    """A bounded LRU of computed values."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, _T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """The value for ``key``, computed (outside the lock) when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        _miss()
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class Fresh(Generic[_T]):
    """Values kept for ``ttl`` seconds: the one cache here that is not keyed by content, for
    what only a query can tell (which records match a spec). ``ttl`` 0 keeps nothing.

    One caller at a time computes a key (the others wait for its answer, or take the expired
    value while it is being refreshed): when a popular query expires under load, the database
    runs it once, not once per waiting request.
    """

    def __init__(self, ttl: float, size: int = 1000) -> None:
        self.ttl = ttl
        self._size = size
        self._items: OrderedDict[Hashable, tuple[float, _T]] = OrderedDict()
        self._running: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """The value for ``key`` if computed less than ``ttl`` seconds ago, else computed (or,
        while another caller computes it, the expired value when there is one)."""
        if self.ttl <= 0:
            _miss()
            return compute()
        while True:
            now = time.monotonic()
            with self._lock:
                hit = self._items.get(key)
                if hit is not None and now - hit[0] < self.ttl:
                    return hit[1]
                running = self._running.get(key)
                if running is not None and hit is not None:
                    return hit[1]  # being refreshed: the last answer, at most one query old
                if running is None:
                    _miss()
                    mine = self._running[key] = threading.Event()
                    break
            _miss()
            running.wait(60)
        try:
            value = compute()
            with self._lock:
                self._items[key] = (now, value)
                self._items.move_to_end(key)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        finally:
            with self._lock:
                del self._running[key]
            mine.set()
        return value


class RecordCache:
    """Parsed records, bounded by the bytes of JSON they came from, and their summaries."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._size = 0
        self._records: OrderedDict[Fingerprint, Record] = OrderedDict()
        self._summaries: Memo[dict[str, Any]] = Memo(50_000)
        self._lock = threading.Lock()

    def record(self, entry: CatalogEntry) -> Record:
        """The entry's record, parsed once per content."""
        key = fingerprint(entry)
        with self._lock:
            hit = self._records.get(key)
            if hit is not None:
                self._records.move_to_end(key)
                return hit
        _miss()
        record = entry.record()
        with self._lock:
            if key not in self._records:
                self._records[key] = record
                self._size += key[1]
            while self._size > self._max and len(self._records) > 1:
                dropped, _ = self._records.popitem(last=False)
                self._size -= dropped[1]
        return record

    def summary(self, entry: CatalogEntry) -> dict[str, Any]:
        """The entry's summary (:func:`summary_of`), computed once per content."""
        return self._summaries.get(fingerprint(entry), lambda: summary_of(entry))


def _get(doc: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(p)
    return doc


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def summary_of(entry: CatalogEntry) -> dict[str, Any]:
    """What a search result shows of a record: id, where it came from, subject, CPU target,
    MPI, GPU runtimes, floors. Read from the JSON (no full parse: a list of 50 results stays
    cheap)."""
    doc = json.loads(entry.record_json)
    hpc = _get(doc, "hpc") or {}
    mpi = _get(hpc, "mpi")
    gpus = _get(hpc, "gpu")
    gpu_text = []
    if isinstance(gpus, list):
        for g in gpus:
            runtime, version = _text(_get(g, "runtime")), _text(_get(g, "version"))
            if runtime:
                gpu_text.append(f"{runtime} {version}" if version else runtime)
    compilers = _get(hpc, "compilers")
    comp_text = []
    if isinstance(compilers, list):
        for c in compilers[:3]:
            name, version = _text(_get(c, "name")), _text(_get(c, "version"))
            if name:
                comp_text.append(f"{name}@{version}" if version else name)
    mpi_text = None
    if isinstance(mpi, dict) and _text(mpi.get("implementation")):
        mpi_text = str(mpi["implementation"])
        if _text(mpi.get("version")):
            mpi_text += f"@{mpi['version']}"
    components = _get(doc, "components")
    return {
        "id": entry.key,
        "ref": entry.ref,
        "repository": entry.repository,
        "tag": entry.tag,
        "platform": entry.platform,
        "kind": _text(_get(doc, "subject", "kind")),
        "subject": entry.subject,
        "version": entry.version,
        "created": entry.created,
        "target": _text(_get(hpc, "target", "name")),
        "compilers": comp_text,
        "mpi": mpi_text,
        "mpi_abi": _text(_get(mpi, "abi")),
        "gpu": gpu_text,
        "libc_min": _text(_get(hpc, "libc", "min_version")),
        "components": len(components) if isinstance(components, list) else 0,
    }
