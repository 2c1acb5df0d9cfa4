"""The transport layer of the OCI wire: how registries are reached, raw responses, streams.

Standard library only (``http.client``, ``ssl``): blobs stream in and out in 1 MiB pieces and
nothing re-serialises a manifest. :class:`Transport` says how hosts are reached (plain HTTP only
for hosts it names, an extra CA bundle, credentials, timeouts, retries).

No answer can hold us forever: every request has a total deadline (:func:`exchange`, enforced
by a watchdog thread that shuts the socket down, since a timeout per read never fires on a
registry that drips a byte every few seconds); a blob download must keep a minimum average rate
(:class:`BlobStream`); and a ``Link``-paged listing stops at a page it already read, at a page
on another host, and after :data:`MAX_PAGES` pages (:func:`follow`).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import http.client
import io
import itertools
import json
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ...errors import RegistryError
from .credentials import Credentials

__all__ = [
    "CHUNK",
    "ERROR_BODY_LIMIT",
    "MAX_PAGES",
    "BlobStream",
    "Limited",
    "Response",
    "Transport",
    "exchange",
    "follow",
]

CHUNK = 1024 * 1024
ERROR_BODY_LIMIT = 64 * 1024
#: Most pages one ``Link``-paged listing (tags, referrers) may take.
MAX_PAGES = 1000
#: Hosts whose token realm may be plain HTTP without being named in ``plain_http``.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _env_plain() -> bool | frozenset[str]:
    value = os.environ.get("NAMEPLATE_PLAIN_HTTP", "")
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    return frozenset(h.strip() for h in value.split(",") if h.strip())


def _env_deadline() -> float:
    value = os.environ.get("NAMEPLATE_DEADLINE", "")
    try:
        seconds = float(value)
    except ValueError:
        return 300.0
    return seconds if 0 < seconds < 1e6 else 300.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Transport:
    """How to reach registries.

    ``plain_http``: True, or the ``host[:port]`` names that speak plain HTTP (never the
    default). ``ca_file``: an extra CA bundle (PEM) to trust. ``credentials``: instead of the
    docker config / environment lookup. ``chunk_size``: upload blobs in PATCH chunks of this
    size (default: one streamed PUT). ``verify_fallback``: re-read the fallback index after
    writing it and retry when our entry was lost to a concurrent writer.
    ``reindex_tags``: tag each fallback-written artifact so ``reindex`` can find it.
    ``timeout``: seconds one read or connect may wait; ``deadline``: seconds one whole request
    may take (plus the time its body needs at ``min_rate``); ``min_rate``: bytes per second a
    blob download must average once ``min(timeout, deadline)`` seconds have passed. Defaults
    come from ``NAMEPLATE_PLAIN_HTTP`` (``1`` or a comma list of hosts), ``NAMEPLATE_CA_FILE``
    and ``NAMEPLATE_DEADLINE`` (seconds, default 300).
    """

    plain_http: bool | frozenset[str] = field(default_factory=_env_plain)
    ca_file: str | None = field(default_factory=lambda: os.environ.get("NAMEPLATE_CA_FILE"))
    credentials: Credentials | None = None
    chunk_size: int | None = None
    timeout: float = 60.0
    deadline: float = field(default_factory=_env_deadline)
    min_rate: float = 16 * 1024
    retries: int = 3
    verify_fallback: bool = True
    fallback_attempts: int = 20
    reindex_tags: bool = True

    def plain(self, host: str) -> bool:
        """Whether ``host`` is reached over plain HTTP."""
        if isinstance(self.plain_http, bool):
            return self.plain_http
        return host in self.plain_http


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Limited(io.RawIOBase):
    """At most ``size`` bytes of ``stream`` (what http.client sends as a request body)."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream, self._left = stream, size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n < 0 else min(n, self._left)
        data = self._stream.read(n)
        self._left -= len(data)
        return data


class BlobStream(io.RawIOBase):
    """A streamed blob download that checks the digest when fully read. Once ``grace`` seconds
    have passed it must average ``min_rate`` bytes per second, or it is cut off (a registry that
    drips a byte every few seconds never trips a per-read timeout)."""

    def __init__(
        self,
        conn: http.client.HTTPConnection,
        resp: http.client.HTTPResponse,
        digest: str,
        where: str,
        *,
        min_rate: float = 0.0,
        grace: float = 60.0,
    ) -> None:
        self._conn, self._resp, self._digest, self._where = conn, resp, digest, where
        self._hash = hashlib.new(digest.partition(":")[0])
        self._min_rate, self._grace = min_rate, grace
        self._start = time.monotonic()
        self._got = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._resp.read1(len(buffer))
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"{self._where}: blob {self._digest}: {exc}") from exc
        if not data:
            got = f"{self._digest.partition(':')[0]}:{self._hash.hexdigest()}"
            if got != self._digest:
                raise RegistryError(f"{self._where}: blob {self._digest}: digest mismatch")
            return 0
        self._got += len(data)
        elapsed = time.monotonic() - self._start
        slow = self._got < self._min_rate * (elapsed - self._grace)
        if self._min_rate and elapsed > self._grace and slow:
            raise RegistryError(
                f"{self._where}: blob {self._digest}: arrives too slowly "
                f"({self._got} bytes in {elapsed:.0f} s); cut off"
            )
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        super().close()


class _Watchdog:
    """One daemon thread that shuts down the socket of a request past its deadline, so that a
    blocked read returns at once (``socket.shutdown`` is safe from another thread)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Guard]] = []
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, guard: _Guard) -> None:
        with self._cond:
            heapq.heappush(self._heap, (guard.deadline, next(self._ids), guard))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="nameplate-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    if self._heap:
                        self._cond.wait(self._heap[0][0] - time.monotonic())
                    else:
                        self._cond.wait()
                _, _, guard = heapq.heappop(self._heap)
            if not guard.done and not guard.fire():
                guard.deadline = time.monotonic() + 0.2  # not connected yet: look again
                self.watch(guard)


class _Guard:
    def __init__(self, conn: http.client.HTTPConnection, seconds: float) -> None:
        self.conn: http.client.HTTPConnection | None = conn
        #: the socket, kept: ``http.client`` forgets it once an answer says ``Connection: close``
        self.sock: socket.socket | None = None
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.done = False

    def connect(self) -> None:
        """Connect now (within the deadline) and keep the socket to shut down."""
        conn = self.conn
        if conn is not None:
            if conn.sock is None:
                conn.connect()
            self.sock = conn.sock

    def fire(self) -> bool:
        """Shut the connection's socket down; False when it has none yet."""
        conn = self.conn
        if conn is None:
            return True
        self.expired = True
        sock = self.sock or conn.sock
        if sock is None:
            return False
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        return True


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def deadline(conn: http.client.HTTPConnection, seconds: float) -> Iterator[_Guard]:
    """Within the block, ``conn``'s socket is shut down ``seconds`` from now; the guard says
    whether that happened (``expired``)."""
    guard = _Guard(conn, seconds)
    _WATCHDOG.watch(guard)
    try:
        yield guard
    finally:
        guard.done = True
        guard.conn = guard.sock = None


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    body: Any,
    headers: Mapping[str, str],
    limit: int,
    seconds: float,
    where: str,
) -> tuple[http.client.HTTPResponse, bytes]:
    """Send one request and read its answer (at most ``limit`` bytes of body, none for HEAD),
    all within ``seconds``; past it, :class:`~nameplate.errors.RegistryError`. Other failures
    are raised as they come (``OSError``, ``http.client.HTTPException``) for the caller's
    retries."""
    with deadline(conn, seconds) as guard:
        try:
            guard.connect()
            conn.request(method, path, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data = b"" if method == "HEAD" else resp.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            if guard.expired:
                conn.close()
                raise RegistryError(
                    f"{where}: {method} {bare(path)}: no complete answer within {seconds:.0f} s"
                ) from exc
            raise
    if guard.expired:
        conn.close()
        raise RegistryError(
            f"{where}: {method} {bare(path)}: no complete answer within {seconds:.0f} s"
        )
    return resp, data


def error_text(resp: Response) -> str:
    try:
        doc = json.loads(resp.body)
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return f"{first.get('code', '')} {first.get('message', '')}".strip()[:200]
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    text = resp.body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    return text or http.client.responses.get(resp.status, "")


def seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError):
        return False


def bare(path: str) -> str:
    """A request path without its query (upload state and digests stay out of messages)."""
    return path.split("?", maxsplit=1)[0]


def next_link(value: str | None) -> str | None:
    """The target of a ``Link: <...>; rel="next"`` header, or None."""
    if not value:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', value)
    return match.group(1) if match else None


def follow(
    link: str | None,
    current: str,
    *,
    host: str,
    seen: set[str],
    where: str,
    limit: int = MAX_PAGES,
) -> str | None:
    """The path of the next page of a ``Link``-paged listing, or None at the end.

    ``seen`` holds the pages read so far (``current`` among them). A next page that was read
    already (a registry answering ``Link: <the same URL>`` loops forever), one on another host,
    or one past ``limit`` pages is a :class:`~nameplate.errors.RegistryError`."""
    target = next_link(link)
    if target is None:
        return None
    url = urllib.parse.urlsplit(urllib.parse.urljoin(current, target))
    if url.netloc and url.netloc != host:
        raise RegistryError(f"{where}: the next page is on another host ({url.netloc[:80]})")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    seen.add(current)
    if path in seen:
        raise RegistryError(
            f"{where}: the registry's Link header names a page already read "
            f"({path[:120]}): stopped after {len(seen)} pages"
        )
    if len(seen) >= limit:
        raise RegistryError(f"{where}: more than {limit} pages: stopped")
    return path
