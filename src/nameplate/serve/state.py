"""What the request handlers share: the configuration, the token, the database threads, the
answers, the templates and the notification worker (one per process)."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment

from .cache import Memo
from .config import ServeConfig
from .db import Database
from .indexer import IndexWorker
from .service import Service

__all__ = ["State"]


@dataclass(slots=True)
class State:
    """What the handlers share: configuration, token, database, answers, templates."""

    config: ServeConfig
    token: bytes | None
    db: Database
    service: Service
    env: Environment
    pages: Memo[str]
    worker: IndexWorker | None = None
