"""Fixtures of the compat tests: a throw-away PostgreSQL cluster."""

from __future__ import annotations

from .postgres import postgres_url

__all__ = ["postgres_url"]
