"""The transport layer of the OCI wire: how registries are reached, raw responses, streams.

Standard library only (``http.client``, ``ssl``): blobs stream in and out in 1 MiB pieces and
nothing re-serialises a manifest. :class:`Transport` says how hosts are reached (plain HTTP only
for hosts it names, an extra CA bundle, credentials, timeouts, retries).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ...errors import RegistryError
from .credentials import Credentials

__all__ = ["CHUNK", "ERROR_BODY_LIMIT", "BlobStream", "Limited", "Response", "Transport"]

CHUNK = 1024 * 1024
ERROR_BODY_LIMIT = 64 * 1024
#: Hosts whose token realm may be plain HTTP without being named in ``plain_http``.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


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
    credentials: Credentials | None = None
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
    if not value:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', value)
    return match.group(1) if match else None
