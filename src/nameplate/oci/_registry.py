"""The HTTP wire of the OCI distribution-spec: the one module that talks to registries.

Standard library only (``http.client``, ``ssl``): nothing re-serialises a manifest, blobs
stream in and out in 1 MiB pieces, and the auth and retry rules are ours:

- auth: anonymous, ``Basic``, or ``Bearer`` tokens fetched per scope (``repository:R:pull`` for
  reads, ``repository:R:pull,push`` for writes) and cached by scope until they expire;
- TLS verification always on (a CA bundle can be added); plain HTTP only for hosts the
  :class:`Transport` names;
- bounded retries (connection errors, 429 and 5xx) for idempotent requests only: GET, HEAD,
  DELETE and manifest PUTs; an upload (POST, PATCH, blob PUT) is never repeated blindly;
- referrers: the API with ``Link`` pagination, unioned with the ``sha256-<hex>`` tag-schema
  fallback index, which :class:`Repository` maintains by read-modify-write, verified and
  retried, under a per-subject lock.

No message ever contains a password or a token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import io
import json
import logging
import os
import random
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from ..errors import RegistryAuthError, RegistryError
from . import _auth
from . import manifest as m
from .manifest import Descriptor, ResolvedManifest

__all__ = ["REINDEX_TAG_PREFIX", "Registry", "Repository", "Transport", "is_internal_tag"]

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
_POOL = 16
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Tag given to each artifact written through the fallback, so ``reindex`` can find it again
#: race-free with ``tags/list``: ``nameplate-ref-<subject hex>-<artifact hex[:32]>``.
REINDEX_TAG_PREFIX = "nameplate-ref-"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def is_internal_tag(tag: str) -> bool:
    """True for referrers bookkeeping tags (``sha256-<hex>``, ``nameplate-ref-...``)."""
    return bool(re.match(r"^(sha256|sha512)-[a-f0-9]{64,128}$", tag)) or tag.startswith(
        REINDEX_TAG_PREFIX
    )


def _env_plain() -> bool | frozenset[str]:
    value = os.environ.get("NAMEPLATE_PLAIN_HTTP", "")
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    return frozenset(h.strip() for h in value.split(",") if h.strip())


@dataclass(frozen=True, kw_only=True, slots=True)
class Transport:
    """How to reach registries.

    ``plain_http``: True, or the ``host[:port]`` names that speak plain HTTP (never the
    default). ``ca_file``: an extra CA bundle (PEM) to trust. ``credentials``: instead of the
    docker config / environment lookup. ``chunk_size``: upload blobs in PATCH chunks of this
    size (default: one streamed PUT). ``verify_fallback``: re-read the fallback index after
    writing it and retry when our entry was lost to a concurrent writer.
    ``reindex_tags``: tag each fallback-written artifact so ``reindex`` can find it.
    Defaults come from ``NAMEPLATE_PLAIN_HTTP`` (``1`` or a comma list of hosts) and
    ``NAMEPLATE_CA_FILE``.
    """

    plain_http: bool | frozenset[str] = field(default_factory=_env_plain)
    ca_file: str | None = field(default_factory=lambda: os.environ.get("NAMEPLATE_CA_FILE"))
    credentials: _auth.Credentials | None = None
    chunk_size: int | None = None
    timeout: float = 60.0
    retries: int = 3
    verify_fallback: bool = True
    fallback_attempts: int = 10
    reindex_tags: bool = True

    def plain(self, host: str) -> bool:
        """Whether ``host`` is reached over plain HTTP."""
        if isinstance(self.plain_http, bool):
            return self.plain_http
        return host in self.plain_http


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _Limited(io.RawIOBase):
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


class _BlobStream(io.RawIOBase):
    """A streamed blob download that checks the digest when fully read."""

    def __init__(
        self,
        conn: http.client.HTTPConnection,
        resp: http.client.HTTPResponse,
        digest: str,
        where: str,
    ) -> None:
        self._conn, self._resp, self._digest, self._where = conn, resp, digest, where
        self._hash = hashlib.new(digest.partition(":")[0])

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._resp.read(len(buffer))
        if not data:
            got = f"{self._digest.partition(':')[0]}:{self._hash.hexdigest()}"
            if got != self._digest:
                raise RegistryError(f"{self._where}: blob {self._digest}: digest mismatch")
            return 0
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        super().close()


def _parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = value.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


#: Waits before re-sending a manifest that a registry refused while blobs were still linking.
_MANIFEST_RACE_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
_MANIFEST_RACE_CODES = ("DIGEST_INVALID", "BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN")


def _error_text(resp: _Response) -> str:
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


def _seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError):
        return False


def _bare(path: str) -> str:
    """A request path without its query (upload state and digests stay out of messages)."""
    return path.split("?", maxsplit=1)[0]


def _next_link(value: str | None) -> str | None:
    if not value:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', value)
    return match.group(1) if match else None


class Registry:
    """One registry host: connections, authentication, retries."""

    def __init__(self, host: str, transport: Transport | None = None) -> None:
        self.host = host
        self.transport = transport or Transport()
        self.scheme = "http" if self.transport.plain(host) else "https"
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._pinged = False
        self._tokens: dict[str, tuple[str, float]] = {}
        self._creds: _auth.Credentials | None = None
        self._creds_loaded = False
        self._context: ssl.SSLContext | None = None

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
                netloc, timeout=self.transport.timeout, context=self._ssl(), blocksize=_CHUNK
            )
        return http.client.HTTPConnection(netloc, timeout=self.transport.timeout, blocksize=_CHUNK)

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

    # -- auth --------------------------------------------------------------------------------

    def _credentials(self) -> _auth.Credentials | None:
        if not self._creds_loaded:
            self._creds = self.transport.credentials or _auth.lookup(self.host)
            self._creds_loaded = True
        return self._creds

    def _who(self) -> str:
        creds = self._credentials()
        if creds is None:
            return "anonymous"
        return "an identity token" if creds.identity_token else f"user {creds.username!r}"

    def _ping(self) -> None:
        if self._pinged:
            return
        resp = self._send("GET", "/v2/", headers={}, idempotent=True)
        if resp.status == 401:
            value = resp.header("www-authenticate")
            if value:
                with self._lock:
                    self._challenge = _parse_challenge(value)
        self._pinged = True

    def _token(self, scopes: tuple[str, ...], *, refresh: bool = False) -> str:
        assert self._challenge is not None
        _, params = self._challenge
        key = " ".join(scopes)
        with self._lock:
            cached = self._tokens.get(key)
        if cached and not refresh and cached[1] > time.monotonic():
            return cached[0]
        realm = params.get("realm", "")
        url = urllib.parse.urlsplit(realm)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise RegistryError(f"{self.host}: bearer challenge has no usable realm: {realm!r}")
        if url.scheme == "http" and not (
            self.transport.plain(url.netloc) or url.hostname in _LOOPBACK
        ):
            raise RegistryError(f"{self.host}: refusing a plain-HTTP token realm {url.netloc}")
        query = [("service", params["service"])] if "service" in params else []
        query += [("scope", s) for s in scopes]
        creds = self._credentials()
        headers = {"Accept": "application/json"}
        method, body = "GET", None
        if creds is not None and creds.identity_token:
            method = "POST"
            form = dict(query)
            form.update(
                grant_type="refresh_token",
                refresh_token=creds.password,
                client_id="nameplate",
                scope=" ".join(scopes),
            )
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            path = url.path or "/"
        else:
            if creds is not None:
                headers["Authorization"] = creds.basic()
            sep = "&" if url.query else "?"
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            path += sep + urllib.parse.urlencode(query) if query else ""
        conn = self._new_conn(url.netloc, url.scheme)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(_ERROR_BODY_LIMIT)
            status = resp.status
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"{self.host}: token service {url.netloc}: {exc}") from exc
        finally:
            conn.close()
        if status in (401, 403):
            raise RegistryAuthError(
                f"{self.host}: authentication failed for {self._who()} "
                f"({status} from the token service)"
            )
        if status != 200:
            raise RegistryError(f"{self.host}: token service {url.netloc} answered {status}")
        try:
            doc = json.loads(data)
            token = doc.get("token") or doc.get("access_token")
            expires = float(doc.get("expires_in") or 60)
        except (
            json.JSONDecodeError,
            UnicodeDecodeError,
            AttributeError,
            TypeError,
            ValueError,
        ) as exc:
            raise RegistryError(f"{self.host}: token service answer is not a token") from exc
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: token service answer is not a token")
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires - 10, 5))
        return token

    def _auth_headers(self, scopes: tuple[str, ...], *, refresh: bool = False) -> dict[str, str]:
        if self._challenge is None:
            return {}
        scheme, _ = self._challenge
        if scheme == "basic":
            creds = self._credentials()
            if creds is None:
                raise RegistryAuthError(f"{self.host}: needs credentials (Basic auth), none found")
            return {"Authorization": creds.basic()}
        if scheme == "bearer":
            return {"Authorization": "Bearer " + self._token(scopes, refresh=refresh)}
        raise RegistryError(f"{self.host}: unsupported auth scheme {scheme!r}")

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
    ) -> _Response:
        """One request with transport-level retries; returns the (bounded) response."""
        attempts = self.transport.retries if idempotent else 1
        streamed = body is not None and not isinstance(body, bytes)
        rewindable = not streamed or (
            body is not None and not isinstance(body, bytes) and _seekable(body)
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
                payload = _Limited(body, length or 0)
                all_headers["Content-Length"] = str(length or 0)
            elif body is None and method in ("PUT", "POST", "PATCH"):
                all_headers["Content-Length"] = "0"
            try:
                conn.request(method, path, body=payload, headers=all_headers)
                resp = conn.getresponse()
                limit = m.MANIFEST_LIMIT + 1 if method == "GET" else _ERROR_BODY_LIMIT
                data = b"" if method == "HEAD" else resp.read(limit)
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
                raise RegistryError(f"{self.host}: {method} {_bare(path)}: {exc}") from exc
            log.debug("%s %s %s -> %s", self.host, method, _bare(path), resp.status)
            if idempotent and resp.status in _RETRY_STATUS and attempt < attempts:
                time.sleep(0.05 * (4**attempt) + random.uniform(0, 0.05))  # noqa: S311
                continue
            return _Response(resp.status, headers_out, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def _reload_credentials(self) -> bool:
        """Look the credentials up again (after ``docker login``, a changed environment);
        True when they changed, and then the cached tokens are dropped."""
        if self.transport.credentials is not None:
            return False
        fresh = _auth.lookup(self.host)
        with self._lock:
            if fresh == self._creds:
                return False
            self._creds, self._creds_loaded, self._tokens = fresh, True, {}
        return True

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
    ) -> _Response:
        """A request with authentication (one re-try after a 401 with a fresh challenge, and
        one after looking the credentials up again when they changed)."""

        def send() -> _Response:
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
            if not (body is None or isinstance(body, bytes)) or not self._reload_credentials():
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
    ) -> _Response:
        self._ping()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE")
        refresh = False
        for _ in range(2):
            all_headers = {**(headers or {}), **self._auth_headers(scopes, refresh=refresh)}
            resp = self._send(
                method, path, headers=all_headers, body=body, length=length, idempotent=idempotent
            )
            if resp.status != 401:
                return resp
            value = resp.header("www-authenticate")
            if not value:
                break
            new = _parse_challenge(value)
            had = "Authorization" in all_headers
            with self._lock:
                changed = self._challenge is None or self._challenge[0] != new[0]
                self._challenge = new
            if had and not changed and new[0] == "basic":
                break
            refresh = had
        raise RegistryAuthError(
            f"{self.host}: authentication failed for {self._who()} ({method} {_bare(path)})"
        )

    def open_stream(self, path: str, *, scopes: tuple[str, ...], digest: str) -> BinaryIO:
        """GET a blob as a stream (redirects followed; the digest checked at the end)."""
        self._ping()
        headers = self._auth_headers(scopes)
        netloc, scheme, target = self.host, self.scheme, path
        for _ in range(6):
            conn = self._new_conn(netloc, scheme)
            try:
                conn.request("GET", target, headers=headers)
                resp = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:
                conn.close()
                raise RegistryError(f"{netloc}: TLS certificate not trusted") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise RegistryError(f"{netloc}: GET blob {digest}: {exc}") from exc
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location") or ""
                conn.close()
                url = urllib.parse.urlsplit(
                    urllib.parse.urljoin(f"{scheme}://{netloc}{target}", location)
                )
                if url.netloc != self.host:
                    headers = {}  # never send our credentials to blob storage elsewhere
                netloc, scheme = url.netloc, url.scheme
                target = url.path + (f"?{url.query}" if url.query else "")
                continue
            if resp.status != 200:
                body = resp.read(_ERROR_BODY_LIMIT)
                conn.close()
                err = _error_text(_Response(resp.status, {}, body))
                raise RegistryError(f"{self.host}: GET blob {digest}: {resp.status} {err}")
            return io.BufferedReader(_BlobStream(conn, resp, digest, self.host), _CHUNK)
        raise RegistryError(f"{self.host}: GET blob {digest}: too many redirects")

    def repository(self, name: str) -> Repository:
        """A store view of one repository of this registry."""
        return Repository(self, name)


_REGISTRIES: dict[tuple[str, Transport], Registry] = {}
_REGISTRIES_LOCK = threading.Lock()
_SUBJECT_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}


def registry_for(host: str, transport: Transport | None = None) -> Registry:
    """A shared :class:`Registry` per (host, transport): connections and tokens are reused."""
    transport = transport or Transport()
    with _REGISTRIES_LOCK:
        reg = _REGISTRIES.get((host, transport))
        if reg is None:
            reg = _REGISTRIES[(host, transport)] = Registry(host, transport)
        return reg


class Repository:
    """One repository of a registry, as a :class:`~nameplate.oci._store.Store`."""

    def __init__(self, registry: Registry, name: str) -> None:
        self.registry, self.name = registry, name
        self._pull = (f"repository:{name}:pull",)
        self._push = (f"repository:{name}:pull,push",)

    def __str__(self) -> str:
        return f"{self.registry.host}/{self.name}"

    def _fail(self, what: str, resp: _Response) -> RegistryError:
        if resp.status in (401, 403):
            return RegistryAuthError(
                f"{self}: {what}: {resp.status} denied for {self.registry._who()}"
            )
        return RegistryError(f"{self}: {what}: {resp.status} {_error_text(resp)}")

    # -- blobs -------------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        resp = self.registry.request("HEAD", f"/v2/{self.name}/blobs/{digest}", scopes=self._pull)
        if resp.status == 404:
            return False
        if resp.status == 200:
            return True
        raise self._fail(f"HEAD blob {digest}", resp)

    def open_blob(self, digest: str) -> BinaryIO:
        m.check_digest(digest)
        return self.registry.open_stream(
            f"/v2/{self.name}/blobs/{digest}", scopes=self._pull, digest=digest
        )

    def _location(self, resp: _Response, what: str) -> str:
        location = resp.header("location")
        if not location:
            raise RegistryError(f"{self}: {what}: no Location in the answer")
        url = urllib.parse.urlsplit(location)
        if url.netloc and url.netloc != self.registry.host:
            raise RegistryError(f"{self}: {what}: upload redirected to another host {url.netloc}")
        return url.path + (f"?{url.query}" if url.query else "")

    @staticmethod
    def _with_query(location: str, **params: str) -> str:
        sep = "&" if "?" in location else "?"
        return location + sep + urllib.parse.urlencode(params)

    def put_blob(
        self, stream: BinaryIO, digest: str, size: int, *, mount_from: str | None = None
    ) -> None:
        """Upload a blob unless present: cross-repo mount, then a streamed PUT or PATCH chunks."""
        m.check_digest(digest)
        if self.has_blob(digest):
            return
        scopes: tuple[str, ...] = self._push
        query = ""
        if mount_from and mount_from != self.name:
            scopes = (*self._push, f"repository:{mount_from}:pull")
            query = "?" + urllib.parse.urlencode({"mount": digest, "from": mount_from})
        resp = self.registry.request(
            "POST", f"/v2/{self.name}/blobs/uploads/{query}", scopes=scopes, idempotent=False
        )
        if resp.status == 201 and query:
            return  # mounted
        if not 200 <= resp.status < 300:
            raise self._fail("start upload", resp)
        location = self._location(resp, "start upload")
        chunk = self.registry.transport.chunk_size
        if chunk:
            offset = 0
            while offset < size:
                n = min(chunk, size - offset)
                resp = self.registry.request(
                    "PATCH",
                    location,
                    scopes=self._push,
                    body=stream,
                    length=n,
                    idempotent=False,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + n - 1}",
                    },
                )
                if not 200 <= resp.status < 300:  # any 2xx: ggcr answers 204, the spec says 202
                    raise self._fail(f"upload blob {digest} (chunk at {offset})", resp)
                location = (
                    self._location(resp, "upload chunk") if resp.header("location") else location
                )
                offset += n
            resp = self.registry.request(
                "PUT",
                self._with_query(location, digest=digest),
                scopes=self._push,
                idempotent=False,
            )
        else:
            resp = self.registry.request(
                "PUT",
                self._with_query(location, digest=digest),
                scopes=self._push,
                body=stream,
                length=size,
                idempotent=False,
                headers={"Content-Type": "application/octet-stream"},
            )
        if not 200 <= resp.status < 300:
            raise self._fail(f"upload blob {digest}", resp)

    # -- manifests ---------------------------------------------------------------------------

    def get_manifest(self, reference: str) -> ResolvedManifest | None:
        """The manifest for a tag or digest, or None when the registry has none."""
        resp = self.registry.request(
            "GET",
            f"/v2/{self.name}/manifests/{reference}",
            scopes=self._pull,
            headers={"Accept": m.MANIFEST_ACCEPT},
        )
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise self._fail(f"GET manifest {reference}", resp)
        where = f"{self}@{reference}"
        if len(resp.body) > m.MANIFEST_LIMIT:
            raise RegistryError(f"{where}: manifest over the {m.MANIFEST_LIMIT}-byte limit")
        if reference.startswith(("sha256:", "sha512:")):
            alg = reference.partition(":")[0]
            if f"{alg}:{hashlib.new(alg, resp.body).hexdigest()}" != reference:
                raise RegistryError(f"{where}: the manifest bytes do not match the digest")
            digest = reference
        else:
            digest = m.digest_of(resp.body)
        doc = m.parse_manifest(resp.body, where=where)
        ctype = (resp.header("content-type") or "").split(";")[0].strip()
        media_type = m.media_type_of(doc) if doc.get("mediaType") or not ctype else ctype
        return ResolvedManifest(digest=digest, media_type=media_type, data=resp.body)

    def resolve(self, reference: str) -> ResolvedManifest:
        found = self.get_manifest(reference)
        if found is None:
            raise RegistryError(f"{self}: manifest {reference} not found")
        return found

    def has_manifest(self, digest: str) -> bool:
        resp = self.registry.request(
            "HEAD",
            f"/v2/{self.name}/manifests/{digest}",
            scopes=self._pull,
            headers={"Accept": m.MANIFEST_ACCEPT},
        )
        if resp.status == 404:
            return False
        if resp.status == 200:
            return True
        raise self._fail(f"HEAD manifest {digest}", resp)

    def _put(
        self, reference: str, data: bytes, media_type: str, *, etag: str | None = None
    ) -> _Response:
        headers = {"Content-Type": media_type}
        if etag:
            headers["If-Match"] = etag
        for attempt in range(len(_MANIFEST_RACE_DELAYS) + 1):
            resp = self.registry.request(
                "PUT",
                f"/v2/{self.name}/manifests/{reference}",
                scopes=self._push,
                body=data,
                headers=headers,
                idempotent=True,
            )
            if 200 <= resp.status < 300:
                return resp
            # distribution 2.8 answers a manifest PUT with 400 DIGEST_INVALID (or BLOB_UNKNOWN)
            # while another client is still linking the same blob (every artifact shares the
            # empty config): seen with 12 concurrent attachers. The PUT is content-addressed and
            # idempotent, so wait and send the same bytes again.
            if resp.status != 400 or attempt == len(_MANIFEST_RACE_DELAYS):
                break
            if not _error_text(resp).startswith(_MANIFEST_RACE_CODES):
                break
            time.sleep(_MANIFEST_RACE_DELAYS[attempt])
        raise self._fail(f"PUT manifest {reference}", resp)

    def put_manifest(self, data: bytes, media_type: str, *, tag: str | None = None) -> Descriptor:
        """PUT the exact bytes by digest (and tag); keep the fallback index of a subject."""
        digest = m.digest_of(data)
        doc = m.parse_manifest(data, where=f"{self}: new manifest")
        resp = self._put(digest, data, media_type)
        if tag is not None:
            self._put(tag, data, media_type)
        desc = Descriptor(media_type=media_type, digest=digest, size=len(data))
        subject = m.subject_of(doc)
        if subject is not None and resp.header("oci-subject") != subject:
            entry = replace(
                desc,
                artifact_type=m.artifact_type_of(doc),
                annotations=dict(doc.get("annotations") or {}),
            )
            if self.registry.transport.reindex_tags:
                self._put(self._reindex_tag(subject, digest), data, media_type)
            self._add_to_fallback(subject, entry)
        return desc

    def tags(self) -> list[str]:
        out: list[str] = []
        path: str | None = f"/v2/{self.name}/tags/list?n=1000"
        while path:
            resp = self.registry.request("GET", path, scopes=self._pull)
            if resp.status == 404:
                return out
            if resp.status != 200:
                raise self._fail("list tags", resp)
            try:
                doc = json.loads(resp.body)
                tags = doc.get("tags") or []
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
                raise RegistryError(f"{self}: tags/list answer is not JSON") from exc
            if not isinstance(tags, list):
                raise RegistryError(f"{self}: tags/list: tags is not an array")
            out.extend(t for t in tags if isinstance(t, str))
            path = _next_link(resp.header("link"))
        return out

    # -- referrers ---------------------------------------------------------------------------

    def _referrers_api(self, subject: str) -> list[Descriptor] | None:
        out: list[Descriptor] = []
        path: str | None = f"/v2/{self.name}/referrers/{subject}"
        while path:
            resp = self.registry.request(
                "GET", path, scopes=self._pull, headers={"Accept": m.INDEX}
            )
            if resp.status in (400, 404, 405) and not out:
                return None  # no referrers API: use the tag schema
            if resp.status != 200:
                raise self._fail(f"GET referrers {subject}", resp)
            doc = m.parse_manifest(resp.body, where=f"{self} referrers of {subject}")
            out.extend(_known(m.index_descriptors(doc, where=f"{self} referrers")))
            path = _next_link(resp.header("link"))
        return out

    def _fallback(self, subject: str) -> tuple[list[Descriptor], str | None]:
        tag = m.referrers_tag(subject)
        found = self.get_manifest(tag)
        if found is None:
            return [], None
        if not found.is_index:
            raise RegistryError(
                f"{self}:{tag}: the referrers tag does not name an image index; not overwriting it"
            )
        return m.index_descriptors(found.json, where=f"{self}:{tag}"), None

    def _complete(self, desc: Descriptor) -> Descriptor:
        if desc.artifact_type and desc.artifact_type != m.EMPTY_TYPE and desc.annotations:
            return desc
        found = self.get_manifest(desc.digest)  # verified against the digest
        if found is None:
            raise RegistryError(
                f"{self}: referrer {desc.digest} is listed but its manifest is missing "
                f"(run 'nameplate reindex' on its subject to drop it)"
            )
        doc = found.json
        return replace(
            desc,
            artifact_type=m.artifact_type_of(doc) or desc.artifact_type,
            annotations=dict(doc.get("annotations") or {}) or desc.annotations,
        )

    def referrers(self, subject: str) -> list[Descriptor]:
        """API ∪ fallback index, deduplicated by digest; types and annotations filled in."""
        api = self._referrers_api(subject)
        tagged, _ = self._fallback(subject)
        seen: dict[str, Descriptor] = {}
        for desc in [*(api or []), *_known(tagged)]:
            if desc.digest not in seen:
                seen[desc.digest] = self._complete(desc)
        return list(seen.values())

    @staticmethod
    def _reindex_tag(subject: str, artifact: str) -> str:
        subject_hex, artifact_hex = subject.partition(":")[2], artifact.partition(":")[2]
        return f"{REINDEX_TAG_PREFIX}{subject_hex[:64]}-{artifact_hex[:32]}"

    @contextlib.contextmanager
    def _subject_lock(self, subject: str) -> Iterator[None]:
        key = (self.registry.host, self.name, subject)
        with _REGISTRIES_LOCK:
            lock = _SUBJECT_LOCKS.setdefault(key, threading.Lock())
        with lock:
            yield

    def _add_to_fallback(self, subject: str, entry: Descriptor) -> None:
        tag = m.referrers_tag(subject)
        transport = self.registry.transport
        with self._subject_lock(subject):
            for attempt in range(transport.fallback_attempts):
                current, _ = self._fallback(subject)
                if any(d.digest == entry.digest for d in current):
                    return
                self._put(tag, m.empty_index([*current, entry]), m.INDEX)
                if not transport.verify_fallback:
                    return
                time.sleep(random.uniform(0.01, 0.04) * (attempt + 1))  # noqa: S311
                after, _ = self._fallback(subject)
                if any(d.digest == entry.digest for d in after):
                    return
        raise RegistryError(
            f"{self}: referrer {entry.digest} of {subject} kept being overwritten by concurrent "
            f"writers; run 'nameplate reindex {self}@{subject}'"
        )

    def reindex(self, subject: str) -> int:
        """Rebuild the fallback index from the reindex tags, the API and the current index."""
        prefix = f"{REINDEX_TAG_PREFIX}{subject.partition(':')[2][:64]}-"
        found: dict[str, Descriptor] = {}
        for desc in self._referrers_api(subject) or []:
            found[desc.digest] = desc
        with self._subject_lock(subject):
            current, _ = self._fallback(subject)
            for desc in current:
                if desc.digest not in found and self.has_manifest(desc.digest):
                    found[desc.digest] = desc
            for tag in self.tags():
                if not tag.startswith(prefix):
                    continue
                man = self.get_manifest(tag)
                if man is None or man.digest in found:
                    continue
                doc = man.json
                if m.subject_of(doc) != subject:
                    continue
                found[man.digest] = man.descriptor(
                    artifact_type=m.artifact_type_of(doc),
                    annotations=dict(doc.get("annotations") or {}),
                )
            entries = [self._complete(d) for d in found.values()]
            self._put(m.referrers_tag(subject), m.empty_index(entries), m.INDEX)
        return len(entries)


def _known(descs: list[Descriptor]) -> list[Descriptor]:
    """Referrer entries we can read (unknown media types are skipped, not fatal)."""
    return [d for d in descs if d.media_type in m.MANIFEST_TYPES | m.INDEX_TYPES]


def basic_token(username: str, password: str) -> str:
    """``base64(user:password)`` (used by tests writing a docker config)."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()
