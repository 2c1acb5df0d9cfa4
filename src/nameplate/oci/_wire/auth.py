"""Authentication of the OCI wire: challenges, credentials and bearer tokens per scope.

Anonymous, ``Basic``, or ``Bearer`` tokens fetched per scope (``repository:R:pull`` for reads,
``repository:R:pull,push`` for writes) and cached by scope until they expire. A token realm on
plain HTTP is refused unless the transport names it (or it is the loopback). No message ever
contains a password or a token.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable

from ...errors import RegistryAuthError, RegistryError
from . import credentials as _credentials
from .credentials import Credentials
from .transport import ERROR_BODY_LIMIT, LOOPBACK, Transport, exchange

__all__ = ["Authenticator", "parse_challenge", "parse_token"]

#: Opens a connection to ``(netloc, scheme)`` with the registry's TLS settings.
Connect = Callable[[str, str], http.client.HTTPConnection]


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """The scheme (lower case) and parameters of a ``WWW-Authenticate`` header."""
    scheme, _, rest = value.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def parse_token(data: bytes, *, where: str) -> tuple[str, float]:
    """(token, lifetime in seconds) of a token service's JSON answer (untrusted): the lifetime
    defaults to 60 s and is kept within 5 s .. 1 day."""
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RegistryError(f"{where}: not JSON") from exc
    if not isinstance(doc, dict):
        raise RegistryError(f"{where}: not a JSON object")
    token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token:
        raise RegistryError(f"{where}: no token")
    lifetime = doc.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or not lifetime:
        lifetime = 60
    return token, min(max(float(lifetime), 5.0), 86400.0)


class Authenticator:
    """What one registry host asked for (its challenge) and what we answer with."""

    def __init__(self, host: str, transport: Transport, connect: Connect) -> None:
        self.host, self.transport, self._connect = host, transport, connect
        self._lock = threading.Lock()
        self.challenge: tuple[str, dict[str, str]] | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._creds: Credentials | None = None
        self._creds_loaded = False

    def credentials(self) -> Credentials | None:
        """The transport's credentials, else those looked up for the host (once)."""
        if not self._creds_loaded:
            self._creds = self.transport.credentials or _credentials.lookup(self.host)
            self._creds_loaded = True
        return self._creds

    def who(self) -> str:
        """Who we are to the registry, for messages (never the secret)."""
        creds = self.credentials()
        if creds is None:
            return "anonymous"
        return "an identity token" if creds.identity_token else f"user {creds.username!r}"

    def challenged(self, value: str) -> bool:
        """Record a new challenge; True when its scheme differs from the one known before."""
        new = parse_challenge(value)
        with self._lock:
            changed = self.challenge is None or self.challenge[0] != new[0]
            self.challenge = new
        return changed

    def reload(self) -> bool:
        """Look the credentials up again (after ``docker login``, a changed environment);
        True when they changed, and then the cached tokens are dropped."""
        if self.transport.credentials is not None:
            return False
        fresh = _credentials.lookup(self.host)
        with self._lock:
            if fresh == self._creds:
                return False
            self._creds, self._creds_loaded, self._tokens = fresh, True, {}
        return True

    def headers(self, scopes: tuple[str, ...], *, refresh: bool = False) -> dict[str, str]:
        """The ``Authorization`` header the current challenge asks for (none when anonymous)."""
        if self.challenge is None:
            return {}
        scheme, _ = self.challenge
        if scheme == "basic":
            creds = self.credentials()
            if creds is None:
                raise RegistryAuthError(f"{self.host}: needs credentials (Basic auth), none found")
            return {"Authorization": creds.basic()}
        if scheme == "bearer":
            return {"Authorization": "Bearer " + self._token(scopes, refresh=refresh)}
        raise RegistryError(f"{self.host}: unsupported auth scheme {scheme!r}")

    def _token(self, scopes: tuple[str, ...], *, refresh: bool = False) -> str:
        assert self.challenge is not None
        _, params = self.challenge
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
            self.transport.plain(url.netloc) or url.hostname in LOOPBACK
        ):
            raise RegistryError(f"{self.host}: refusing a plain-HTTP token realm {url.netloc}")
        query = [("service", params["service"])] if "service" in params else []
        query += [("scope", s) for s in scopes]
        creds = self.credentials()
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
        conn = self._connect(url.netloc, url.scheme)
        try:
            resp, data = exchange(
                conn,
                method,
                path,
                body=body,
                headers=headers,
                limit=ERROR_BODY_LIMIT,
                seconds=self.transport.deadline,
                where=f"{self.host}: token service {url.netloc}",
            )
            status = resp.status
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"{self.host}: token service {url.netloc}: {exc}") from exc
        finally:
            conn.close()
        if status in (401, 403):
            raise RegistryAuthError(
                f"{self.host}: authentication failed for {self.who()} "
                f"({status} from the token service)"
            )
        if status != 200:
            raise RegistryError(f"{self.host}: token service {url.netloc} answered {status}")
        token, expires = parse_token(data, where=f"{self.host}: token service answer")
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires - 10, 5))
        return token
