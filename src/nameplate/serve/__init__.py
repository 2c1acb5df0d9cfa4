"""``nameplate serve``: a compatibility service and web view over a record catalog.

A Starlette application (:func:`create_app`) answers a versioned JSON API under ``/v1/`` and
server-rendered pages (search, record, compatibility matrix, diff) from a catalog in SQLite or
PostgreSQL. It holds no state of its own between requests: host profiles registered through the
API and the queue of registry notifications live in tables of the catalog's database, so several
workers or replicas over one PostgreSQL behave as one service. Side effects stay at the edges:
:mod:`.db` (the database), :mod:`.indexer` (registries, only those configured), :mod:`.server`
(the socket); :mod:`.notify`, :mod:`.params`, :mod:`.views` and :mod:`.diff` are pure.

Needs the ``serve`` extra (``pip install 'nameplate[serve]'``; add ``postgres`` for PostgreSQL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ServeConfig

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["ServeConfig", "create_app"]


def create_app(config: ServeConfig) -> Starlette:
    """The ASGI application for ``config`` (see :func:`nameplate.serve.app.create_app`)."""
    from .app import create_app as _create

    return _create(config)


def __getattr__(name: str) -> Any:  # pragma: no cover - no other lazy names
    raise AttributeError(name)
