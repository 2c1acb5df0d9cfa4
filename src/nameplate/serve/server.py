"""Running the service: uvicorn on a TCP address or a Unix socket, with TLS when given a
certificate, one or several worker processes.

The configuration is checked here, in the parent, before anything listens: the token file, the
host profiles and the catalog (created when missing). Workers re-read the same configuration
from :data:`~.config.ENV`. Logs are one line each, with a time stamp; no log line carries a
request header (uvicorn's ``trace`` level, which would, is not offered).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ServeError
from .config import ENV, ServeConfig

__all__ = ["LOG_LEVELS", "Bind", "log_config", "parse_bind", "run"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@dataclass(frozen=True, kw_only=True, slots=True)
class Bind:
    """Where to listen: ``host`` and ``port``, or a Unix socket ``uds``."""

    host: str | None = None
    port: int | None = None
    uds: str | None = None


def parse_bind(text: str) -> Bind:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``unix:PATH``."""
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise ServeError("--bind unix:PATH needs a path", field="bind")
        return Bind(uds=path)
    m = re.match(
        r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]*)):(?P<port>[0-9]{1,5})$", text
    )
    if not m or not 0 < int(m["port"]) < 65536:
        raise ServeError(f"--bind {text!r}: HOST:PORT, [IPv6]:PORT or unix:PATH", field="bind")
    return Bind(host=m["v6"] or m["host"] or "127.0.0.1", port=int(m["port"]))


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, one time-stamped line per event, the service's logger included."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    access = '%(asctime)s %(levelname)s access: %(client_addr)s "%(request_line)s" %(status_code)s'
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"format": fmt},
            "access": {"()": "uvicorn.logging.AccessFormatter", "fmt": access, "use_colors": False},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": ["access"], "level": upper, "propagate": False},
            "nameplate.serve": {"handlers": ["default"], "level": upper, "propagate": False},
        },
    }


def run(
    config: ServeConfig,
    *,
    bind: str = "127.0.0.1:8080",
    workers: int = 1,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve until interrupted."""
    import uvicorn

    from .app import create_app, latency_first

    where = parse_bind(bind)
    if log_level not in LOG_LEVELS:
        raise ServeError(f"--log-level: one of {', '.join(LOG_LEVELS)}", field="log-level")
    if (tls_cert is None) != (tls_key is None):
        raise ServeError("--tls-cert and --tls-key go together", field="tls-cert")
    for path in (tls_cert, tls_key):
        if path is not None and not os.access(path, os.R_OK):
            raise ServeError(f"{path}: cannot read the TLS file", field="tls-cert")
    if workers < 1:
        raise ServeError("--workers: at least 1", field="workers")
    app = create_app(config)  # every configuration error surfaces here, before listening
    latency_first()
    common: dict[str, Any] = {
        "host": where.host or "127.0.0.1",
        "port": where.port or 8080,
        "uds": where.uds,
        "log_config": log_config(log_level),
        "log_level": log_level,
        "access_log": access_log,
        "server_header": False,
        "ws": "none",
        "lifespan": "on",
        "ssl_certfile": tls_cert,
        "ssl_keyfile": tls_key,
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        uvicorn.run(app, **common)
        return
    os.environ[ENV] = config.to_env()
    uvicorn.run("nameplate.serve.app:create_app_from_env", factory=True, workers=workers, **common)
