"""Fixtures of the service tests: the site indexed into SQLite and PostgreSQL catalogs, host
profiles, a token, an in-process client, and ``nameplate serve`` processes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from nameplate.record import Record
from tests.compat.postgres import postgres_url

from . import site

__all__ = ["postgres_url"]

TOKEN = "s3rv3-t0ken-0123456789abcdef"


@pytest.fixture(scope="session")
def site_records() -> list[Record]:
    return site.fixture_records()


@pytest.fixture(scope="session")
def hosts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return site.write_hosts(tmp_path_factory.mktemp("hosts"))


@pytest.fixture(scope="session")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def new_database(server_url: str) -> str:
    """A fresh database on the test cluster (each test module its own)."""
    import psycopg

    name = f"serve_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A catalog holding the site, in SQLite and in PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path_factory.mktemp("catalog") / "catalog.db")
    return new_database(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module")
def site_ids(catalog_url: str, site_records: list[Record]) -> dict[str, str]:
    return site.fill(catalog_url, site_records)
