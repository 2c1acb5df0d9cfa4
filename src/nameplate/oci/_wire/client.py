"""One registry host: kept-alive connections, authenticated requests, bounded retries.

Retries (connection errors, 429 and 5xx) are for idempotent requests only: GET, HEAD, DELETE and
manifest PUTs; an upload (POST, PATCH, blob PUT) is never repeated blindly. TLS verification is
always on (a CA bundle can be added); plain HTTP only for hosts the :class:`Transport` names.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import logging
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any, BinaryIO

from ...errors import RegistryAuthError, RegistryError
from .. import manifest as m
from .auth import Authenticator
from .transport import (
    CHUNK,
    ERROR_BODY_LIMIT,
    BlobStream,
    Limited,
    Response,
    Transport,
    bare,
    deadline,
    error_text,
    exchange,
    seekable,
)

__all__ = ["Registry", "registry_for"]

log = logging.getLogger("nameplate.oci")

_POOL = 16
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class Registry:
    """One registry host: connections, authentication, retries."""

    def __init__(self, host: str, transport: Transport | None = None) -> None:
        self.host = host
        self.transport = transport or Transport()
        self.scheme = "http" if self.transport.plain(host) else "https"
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._pinged = False
        self._context: ssl.SSLContext | None = None
        self.auth = Authenticator(host, self.transport, self._new_conn)

    # -- connections -------------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext:
        if self._context is None:
            ctx = ssl.create_default_context()
            if self.transport.ca_file:
                try:
                    ctx.load_verify_locations(cafile=self.transport.ca_file)
                except (OSError, ssl.SSLError) as exc:
                    raise RegistryError(
                        f"{self.transport.ca_file}: cannot load the CA bundle: {exc}"
                    ) from exc
            self._context = ctx
        return self._context

    def _new_conn(self, netloc: str, scheme: str) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(
                netloc, timeout=self.transport.timeout, context=self._ssl(), blocksize=CHUNK
            )
        return http.client.HTTPConnection(netloc, timeout=self.transport.timeout, blocksize=CHUNK)

    def _acquire(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new_conn(self.host, self.scheme), False

    def _release(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < _POOL:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle keep-alive connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            for conn in self._idle:
                conn.close()

    def who(self) -> str:
        """Who we are to this registry, for messages (never the secret)."""
        return self.auth.who()

    def _ping(self) -> None:
        if self._pinged:
            return
        resp = self._send("GET", "/v2/", headers={}, idempotent=True)
        if resp.status == 401:
            value = resp.header("www-authenticate")
            if value:
                self.auth.challenged(value)
        self._pinged = True

    # -- requests ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        body: bytes | BinaryIO | None = None,
        length: int | None = None,
        idempotent: bool,
    ) -> Response:
        """One request with transport-level retries; returns the (bounded) response."""
        attempts = self.transport.retries if idempotent else 1
        streamed = body is not None and not isinstance(body, bytes)
        rewindable = not streamed or (
            body is not None and not isinstance(body, bytes) and seekable(body)
        )
        start = (
            body.tell()
            if streamed and rewindable and body is not None and not isinstance(body, bytes)
            else 0
        )
        for attempt in range(attempts + 1):
            conn, reused = self._acquire()
            all_headers = dict(headers)
            payload: Any = body
            if body is not None and not isinstance(body, bytes):
                if rewindable:
                    body.seek(start)
                payload = Limited(body, length or 0)
                all_headers["Content-Length"] = str(length or 0)
            elif body is None and method in ("PUT", "POST", "PATCH"):
                all_headers["Content-Length"] = "0"
            try:
                resp, data = exchange(
                    conn,
                    method,
                    path,
                    body=payload,
                    headers=all_headers,
                    limit=m.MANIFEST_LIMIT + 1 if method == "GET" else ERROR_BODY_LIMIT,
                    seconds=self._seconds(length if streamed else None),
                    where=self.host,
                )
                headers_out = {k.lower(): v for k, v in resp.getheaders()}
                if resp.isclosed() and headers_out.get("connection", "").lower() != "close":
                    self._release(conn)
                else:
                    conn.close()  # an unread rest (over the limit) or the server closes
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if isinstance(exc, ssl.SSLCertVerificationError):
                    raise RegistryError(
                        f"{self.host}: TLS certificate not trusted ({exc.verify_message}); "
                        "give the CA bundle (--ca-file / NAMEPLATE_CA_FILE)"
                    ) from exc
                stale = reused and isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                )
                if (stale or idempotent) and rewindable and attempt < attempts:
                    if not stale:
                        time.sleep(0.05 * (4**attempt) + random.uniform(0, 0.05))  # noqa: S311
                    continue
                raise RegistryError(
                    f"{self.host}: {method} {bare(path)}: {exc}{_tls_hint(exc)}"
                ) from exc
            log.debug("%s %s %s -> %s", self.host, method, bare(path), resp.status)
            if idempotent and resp.status in _RETRY_STATUS and attempt < attempts:
                time.sleep(0.05 * (4**attempt) + random.uniform(0, 0.05))  # noqa: S311
                continue
            return Response(resp.status, headers_out, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def _seconds(self, length: int | None) -> float:
        """The deadline of one request: ``Transport.deadline``, plus what a streamed body of
        ``length`` bytes needs at ``Transport.min_rate``."""
        t = self.transport
        return t.deadline + (length or 0) / t.min_rate if t.min_rate > 0 else t.deadline

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes | BinaryIO | None = None,
        length: int | None = None,
        idempotent: bool | None = None,
    ) -> Response:
        """A request with authentication (one re-try after a 401 with a fresh challenge, and
        one after looking the credentials up again when they changed)."""

        def send() -> Response:
            return self._request(
                method,
                path,
                scopes=scopes,
                headers=headers,
                body=body,
                length=length,
                idempotent=idempotent,
            )

        try:
            return send()
        except RegistryAuthError:
            if not (body is None or isinstance(body, bytes)) or not self.auth.reload():
                raise
        return send()

    def _request(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...],
        headers: Mapping[str, str] | None,
        body: bytes | BinaryIO | None,
        length: int | None,
        idempotent: bool | None,
    ) -> Response:
        self._ping()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE")
        refresh = False
        for _ in range(2):
            all_headers = {**(headers or {}), **self.auth.headers(scopes, refresh=refresh)}
            resp = self._send(
                method, path, headers=all_headers, body=body, length=length, idempotent=idempotent
            )
            if resp.status != 401:
                return resp
            value = resp.header("www-authenticate")
            if not value:
                break
            had = "Authorization" in all_headers
            changed = self.auth.challenged(value)
            scheme = self.auth.challenge[0] if self.auth.challenge else ""
            if had and not changed and scheme == "basic":
                break
            refresh = had
        raise RegistryAuthError(
            f"{self.host}: authentication failed for {self.who()} ({method} {bare(path)})"
        )

    def _blob_get(
        self, path: str, *, scopes: tuple[str, ...], digest: str, extra: Mapping[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, socket.socket | None]:
        """GET a blob (redirects followed, credentials never sent to another host); the open
        connection, a response of status 200 or 206, and the socket (for a deadline on the
        body: ``http.client`` forgets it once the answer says ``Connection: close``). The
        request and the headers of the answer have ``Transport.deadline`` in all."""
        self._ping()
        headers = {**self.auth.headers(scopes), **extra}
        netloc, scheme, target = self.host, self.scheme, path
        for _ in range(6):
            conn = self._new_conn(netloc, scheme)
            guard = None
            try:
                with deadline(conn, self.transport.deadline) as guard:
                    guard.connect()
                    sock = guard.sock
                    conn.request("GET", target, headers=headers)
                    resp = conn.getresponse()
                if guard.expired:
                    raise TimeoutError("expired")
            except ssl.SSLCertVerificationError as exc:
                conn.close()
                raise RegistryError(f"{netloc}: TLS certificate not trusted") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if guard is not None and guard.expired:
                    why = f"no answer within {self.transport.deadline:.0f} s"
                    raise RegistryError(f"{netloc}: GET blob {digest}: {why}") from exc
                raise RegistryError(f"{netloc}: GET blob {digest}: {exc}{_tls_hint(exc)}") from exc
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location") or ""
                conn.close()
                url = urllib.parse.urlsplit(
                    urllib.parse.urljoin(f"{scheme}://{netloc}{target}", location)
                )
                if url.netloc != self.host:
                    headers = dict(extra)  # never send our credentials to blob storage elsewhere
                netloc, scheme = url.netloc, url.scheme
                target = url.path + (f"?{url.query}" if url.query else "")
                continue
            if resp.status not in (200, 206):
                try:
                    with deadline(conn, self.transport.timeout) as reading:
                        reading.sock = sock
                        body = resp.read(ERROR_BODY_LIMIT)
                except (OSError, http.client.HTTPException):
                    body = b""
                conn.close()
                err = error_text(Response(resp.status, {}, body))
                raise RegistryError(f"{self.host}: GET blob {digest}: {resp.status} {err}")
            return conn, resp, sock
        raise RegistryError(f"{self.host}: GET blob {digest}: too many redirects")

    def open_stream(self, path: str, *, scopes: tuple[str, ...], digest: str) -> BinaryIO:
        """GET a blob as a stream (redirects followed; the digest checked at the end)."""
        conn, resp, _ = self._blob_get(path, scopes=scopes, digest=digest, extra={})
        if resp.status != 200:
            conn.close()
            raise RegistryError(f"{self.host}: GET blob {digest}: {resp.status} without Range")
        stream = BlobStream(
            conn,
            resp,
            digest,
            self.host,
            min_rate=self.transport.min_rate,
            grace=min(self.transport.timeout, self.transport.deadline),
        )
        return io.BufferedReader(stream, CHUNK)

    def read_range(
        self,
        path: str,
        *,
        scopes: tuple[str, ...],
        digest: str,
        start: int,
        length: int,
        whole_limit: int,
    ) -> tuple[bytes, bool]:
        """Bytes ``[start, start + length)`` of a blob, with an HTTP ``Range`` request.

        Returns ``(data, False)`` for a partial answer (206). A server that ignores ``Range``
        answers 200 with the whole blob: it is read only up to ``whole_limit`` bytes, checked
        against ``digest`` and returned as ``(blob, True)``; a larger one is refused."""
        end = start + length - 1
        conn, resp, sock = self._blob_get(
            path, scopes=scopes, digest=digest, extra={"Range": f"bytes={start}-{end}"}
        )
        seconds = self._seconds(max(length, whole_limit))
        late = f"{self.host}: GET blob {digest}: no complete answer within {seconds:.0f} s"
        try:
            with deadline(conn, seconds) as guard:
                guard.sock = sock
                try:
                    answer = self._range_answer(resp, digest, start, length, whole_limit)
                except (OSError, http.client.HTTPException, RegistryError) as exc:
                    if guard.expired:
                        raise RegistryError(late) from exc
                    if isinstance(exc, RegistryError):
                        raise
                    raise RegistryError(f"{self.host}: GET blob {digest}: {exc}") from exc
                if guard.expired:
                    raise RegistryError(late)
                return answer
        finally:
            conn.close()

    def _range_answer(
        self,
        resp: http.client.HTTPResponse,
        digest: str,
        start: int,
        length: int,
        whole_limit: int,
    ) -> tuple[bytes, bool]:
        """The bytes of a ranged answer (206), or of the whole blob (200, checked)."""
        end = start + length - 1
        if resp.status == 206:
            content_range = resp.getheader("Content-Range") or ""
            m_range = re.match(r"^bytes (\d+)-(\d+)/(\d+|\*)$", content_range.strip())
            if m_range is None or int(m_range.group(1)) != start:
                raise RegistryError(
                    f"{self.host}: GET blob {digest}: Content-Range {content_range!r} "
                    f"does not answer bytes={start}-{end}"
                )
            data = resp.read(length + 1)
            if len(data) > length or int(m_range.group(2)) - start + 1 != len(data):
                raise RegistryError(
                    f"{self.host}: GET blob {digest}: {len(data)} bytes for a range of {length}"
                )
            return data, False
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > whole_limit:
            raise RegistryError(
                f"{self.host}: GET blob {digest}: the server ignores Range and would send "
                f"{declared} bytes (over the {whole_limit}-byte limit)"
            )
        data = resp.read(whole_limit + 1)
        if len(data) > whole_limit:
            raise RegistryError(
                f"{self.host}: GET blob {digest}: the server ignores Range and sends more "
                f"than {whole_limit} bytes"
            )
        alg, _, hexpart = digest.partition(":")
        if hashlib.new(alg, data).hexdigest() != hexpart:
            raise RegistryError(f"{self.host}: blob {digest}: digest mismatch")
        return data, True


def _tls_hint(exc: BaseException) -> str:
    """The hint for a TLS handshake that failed for another reason than trust: most often a
    registry that speaks plain HTTP (every command gives it, since every command reaches
    registries through here)."""
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLCertVerificationError):
        return (
            " (the TLS handshake failed: a plain-HTTP registry? use --plain-http or"
            " NAMEPLATE_PLAIN_HTTP)"
        )
    return ""


_REGISTRIES: dict[tuple[str, Transport], Registry] = {}
_REGISTRIES_LOCK = threading.Lock()


def registry_for(host: str, transport: Transport | None = None) -> Registry:
    """A shared :class:`Registry` per (host, transport): connections and tokens are reused."""
    transport = transport or Transport()
    with _REGISTRIES_LOCK:
        reg = _REGISTRIES.get((host, transport))
        if reg is None:
            reg = _REGISTRIES[(host, transport)] = Registry(host, transport)
        return reg
