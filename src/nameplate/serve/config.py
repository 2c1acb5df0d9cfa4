"""The configuration of ``nameplate serve``: the catalog, who may write, which registries it
may talk to, and the limits it keeps.

A :class:`ServeConfig` travels to uvicorn's worker processes as JSON in one environment variable
(:func:`ServeConfig.to_env` / :func:`from_env`). It names the token *file*, never the token:
each worker reads the file itself (:func:`read_token`), so the secret is in no environment, no
command line and no log.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ServeError
from ..oci import Credentials

__all__ = ["ENV", "ServeConfig", "from_env", "read_token", "registry_host"]

ENV = "NAMEPLATE_SERVE_CONFIG"
"""The environment variable that carries a worker's configuration (JSON, no secrets)."""

_TOKEN_MIN = 16
_TOKEN_MAX = 4096
_TOKEN = re.compile(rb"^[\x21-\x7e]+$")
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)


def registry_host(value: str) -> str:
    """A registry named as ``HOST[:PORT]`` (what clients put in image references), checked."""
    text = value.strip().lower()
    if text.startswith(("http://", "https://", "docker://")):
        text = text.split("://", 1)[1]
    text = text.rstrip("/")
    if not _HOST.match(text) or len(text) > 255:
        raise ServeError(f"{value!r}: a registry is HOST[:PORT]", field="registry")
    return text


@dataclass(frozen=True, kw_only=True, slots=True)
class ServeConfig:
    """What one ``nameplate serve`` process needs.

    ``catalog``: a SQLite path or ``postgresql://`` URL. ``token_file``: the bearer token that
    writes need (none: writes are refused). ``hosts_dir``: named host profiles (``NAME.json``).
    ``registries``: the only registries contacted, and those whose notifications are indexed.
    ``plain_http``, ``ca_file``, ``credentials``: how they are reached (as
    :class:`~nameplate.oci.Transport` takes them; the credentials never leave the process).
    ``threads``: database threads of the process. ``poll``: seconds between looks at the
    notification queue when idle.
    ``query_ttl``: seconds a search's matches are reused (0: every search queries).
    """

    catalog: str
    token_file: str | None = None
    hosts_dir: str | None = None
    registries: frozenset[str] = frozenset()
    plain_http: bool | frozenset[str] = frozenset()
    ca_file: str | None = None
    credentials: Credentials | None = field(default=None, repr=False, compare=False)
    threads: int = 4
    poll: float = 1.0
    indexing: bool = True
    cache_bytes: int = 64 << 20
    query_ttl: float = 1.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_env(self) -> str:
        """JSON for :data:`ENV` (no secret: the token stays in its file)."""
        if self.credentials is not None:
            raise ServeError(
                "registry credentials from --username cannot be handed to several workers:"
                " use the docker config or NAMEPLATE_REGISTRY_USERNAME/PASSWORD"
            )
        data = {k: v for k, v in asdict(self).items() if k != "credentials"}
        data["registries"] = sorted(self.registries)
        plain = self.plain_http
        data["plain_http"] = plain if isinstance(plain, bool) else sorted(plain)
        data["extra"] = dict(self.extra)
        return json.dumps(data, sort_keys=True)


def from_env(environ: Mapping[str, str]) -> ServeConfig:
    """The configuration a parent process put in :data:`ENV`."""
    text = environ.get(ENV)
    if not text:
        raise ServeError(f"{ENV} is not set: start the service with nameplate serve")
    try:
        data = json.loads(text)
        return ServeConfig(
            catalog=str(data["catalog"]),
            token_file=data.get("token_file"),
            hosts_dir=data.get("hosts_dir"),
            registries=frozenset(data.get("registries") or ()),
            plain_http=(
                data["plain_http"]
                if isinstance(data.get("plain_http"), bool)
                else frozenset(data.get("plain_http") or ())
            ),
            ca_file=data.get("ca_file"),
            threads=int(data.get("threads", 4)),
            poll=float(data.get("poll", 1.0)),
            indexing=bool(data.get("indexing", True)),
            cache_bytes=int(data.get("cache_bytes", 64 << 20)),
            query_ttl=float(data.get("query_ttl", 1.0)),
            extra=dict(data.get("extra") or {}),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ServeError(f"{ENV}: not a serve configuration ({exc})") from exc


def read_token(path: str) -> bytes:
    """The bearer token in ``path``: one line of at least 16 visible ASCII characters (for
    example ``openssl rand -hex 32``). The message of an error never shows the file's content."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ServeError(f"{path}: the token file is not a regular file")
            data = f.read(_TOKEN_MAX + 1)
    except OSError as exc:
        raise ServeError(f"{path}: cannot read the token file: {exc.strerror}") from exc
    token = data.strip()
    if len(data) > _TOKEN_MAX:
        raise ServeError(f"{path}: the token file is over {_TOKEN_MAX} bytes")
    if len(token) < _TOKEN_MIN or not _TOKEN.match(token):
        raise ServeError(
            f"{path}: the token must be one line of at least {_TOKEN_MIN} visible ASCII"
            " characters (for example: openssl rand -hex 32 > FILE)"
        )
    return token
