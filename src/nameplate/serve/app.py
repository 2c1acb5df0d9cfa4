"""The ASGI application: routes, errors, security headers, and the lifespan that opens the
catalog, starts the database threads and the notification worker, and stops them.

Errors become answers here, once: a :class:`~nameplate.errors.ServeError` its status; a spec
syntax error 400; an unreachable catalog 503; anything unexpected 500 with one line and no
traceback (the traceback goes to the log). API paths answer JSON
(``{"error": {"status", "message", "field"}}``), pages answer HTML.
"""

from __future__ import annotations

import contextlib
import http
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..compat.catalog import Catalog
from ..errors import CatalogError, NameplateError, ServeError
from . import api, pages
from .cache import Memo
from .config import ServeConfig, from_env, read_token
from .db import Database
from .hosts import load_dir
from .indexer import IndexWorker
from .security import SecurityHeaders, challenge
from .service import Service
from .state import State
from .store import Store

__all__ = ["create_app", "create_app_from_env", "latency_first"]

log = logging.getLogger("nameplate.serve")


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/v1/") or path in {"/healthz", "/v1"}


def _answer(
    request: Request,
    status: int,
    message: str,
    field: str | None = None,
    headers: dict[str, Any] | None = None,
) -> Response:
    if _wants_json(request):
        body = {"error": {"status": status, "message": message, "field": field}}
        return JSONResponse(body, status_code=status, headers=headers)
    state: State | None = getattr(request.app.state, "np", None)
    reason = (
        http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Error"
    )
    env = state.env if state is not None else pages.environment()
    return HTMLResponse(
        pages.render_error(env, status, reason, message), status_code=status, headers=headers
    )


async def _serve_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServeError)
    if exc.status in (401, 403):  # the reason only: never a header of the request
        log.debug("%s %s refused (%d): %s", request.method, request.url.path, exc.status, exc)
    return _answer(request, exc.status, str(exc), exc.field, challenge(exc) or None)


async def _catalog_error(request: Request, exc: Exception) -> Response:
    log.warning("catalog error on %s: %s", request.url.path, exc)
    return _answer(request, 503, "the catalog is unavailable; try again shortly")


async def _nameplate_error(request: Request, exc: Exception) -> Response:
    log.warning("error on %s: %s", request.url.path, exc)
    return _answer(request, 500, f"{type(exc).__name__}: {str(exc)[:300]}")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "no such page or endpoint", 405: "method not allowed here"}.get(
        exc.status_code, str(exc.detail)
    )
    return _answer(request, exc.status_code, message, headers=dict(exc.headers or {}) or None)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(request, 500, "internal error (logged on the server)")


def create_app(config: ServeConfig) -> Starlette:
    """The application over ``config.catalog``; the catalog and the service's tables are
    created when missing, and a bad configuration (token file, host profiles, catalog) is a
    :class:`~nameplate.errors.NameplateError` before anything listens."""
    token = read_token(config.token_file) if config.token_file else None
    files = load_dir(config.hosts_dir) if config.hosts_dir else {}
    with Catalog.open(config.catalog):  # create (or check) the catalog before serving it
        pass
    Store.open(config.catalog).close()
    state = State(
        config=config,
        token=token,
        db=Database(config.catalog, threads=config.threads),
        service=Service(config, files),
        env=pages.environment(),
        pages=Memo(500),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.indexing:
            state.worker = IndexWorker(config)
            state.worker.start()
        try:
            yield
        finally:
            if state.worker is not None:
                state.worker.stop()
                state.worker.join(timeout=30)
            state.db.close()

    routes = [
        Route(path, handler, methods=methods)
        for path, handler, methods in [*api.ROUTES, *pages.ROUTES]
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(GZipMiddleware, minimum_size=1024)],
        exception_handlers={
            ServeError: _serve_error,
            CatalogError: _catalog_error,
            NameplateError: _nameplate_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    app.state.np = state
    return app


def create_app_from_env() -> Starlette:
    """The application of a uvicorn worker (its configuration in ``$NAMEPLATE_SERVE_CONFIG``)."""
    latency_first()
    return create_app(from_env(os.environ))


def latency_first() -> None:
    """Hand the GIL over every 0.5 ms instead of 5 ms, in a server process: the event loop
    waits less for database threads that are parsing or ranking (measured by
    ``benchmarks/serve.py``)."""
    sys.setswitchinterval(0.0005)
