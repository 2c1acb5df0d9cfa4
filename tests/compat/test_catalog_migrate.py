"""A catalog written by nameplate 0.1 (layout 1): a reader refuses it with the command to run,
a writer migrates it, in SQLite and PostgreSQL; nothing is lost on the way."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from nameplate.compat.catalog import Catalog
from nameplate.errors import CatalogError
from tests.conftest import DATA

from ._helpers import hypre
from .postgres import fresh_schema
from .test_cli import run

OLD = DATA / "compat" / "catalog-layout1.db"
OLD_PG = DATA / "compat" / "catalog-layout1.pg.sql"
HYPRE_REF = "oci:layout@sha256:" + "a" * 64


def _check_migrated(cat: Catalog) -> None:
    assert cat.count() == 2
    hits = cat.query("hypre ^mpi ^cuda@12:")
    assert [h.ref for h in hits] == [HYPRE_REF] and hits[0].platform == "linux/amd64"
    assert hits[0].record() == hypre()
    assert [h.subject for h in cat.query("hdf5 ^mpi")] == ["hdf5"]
    assert [h.subject for h in cat.query("/ijgf36w")] == ["hdf5"]
    assert {h.subject for h in cat.query("zlib-ng", any_node=True)} == {"hdf5", "hypre"}


def test_sqlite_layout1_is_refused_by_query_and_migrated_by_index(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(OLD, db)
    before = db.read_bytes()
    code, stdout, stderr = run("query", "hdf5", "--catalog", str(db))
    assert code == 3 and stdout == ""
    assert stderr.strip() == (
        f"error: {db}: a catalog of an older layout (1): run"
        f" 'nameplate index --catalog {db}' once to upgrade it"
    )
    assert db.read_bytes() == before  # a reader changes nothing
    code, stdout, _ = run("index", "--catalog", str(db))
    assert code == 0 and stdout.strip() == "indexed 0 records (2 in the catalog)"
    tables = {
        r[0]
        for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert "components" not in tables and not any(t.startswith("old_") for t in tables)
    code, stdout, _ = run("query", "hypre ^mpi", "--catalog", str(db))
    assert code == 0 and stdout.startswith(HYPRE_REF + "  hypre@3.1.0")
    with Catalog.open(db, readonly=True) as cat:
        _check_migrated(cat)


def test_postgresql_layout1_is_refused_by_a_reader_and_migrated_by_a_writer(
    postgres_url: str,
) -> None:
    import psycopg

    fresh_schema(postgres_url)
    old = sqlite3.connect(f"file:{OLD}?mode=ro", uri=True)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for stmt in filter(str.strip, OLD_PG.read_text().split(";")):
            conn.execute(stmt)
        for table in ("records", "documents", "components", "options", "compilers"):
            rows = old.execute(f"SELECT * FROM {table}").fetchall()
            columns = [d[0] for d in old.execute(f"SELECT * FROM {table} LIMIT 0").description]
            with conn.cursor() as cur:
                over = " OVERRIDING SYSTEM VALUE" if table == "records" else ""
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}){over}"
                    f" VALUES ({', '.join(['%s'] * len(columns))})",
                    rows,
                )
    with pytest.raises(CatalogError, match=r"older layout \(1\): run 'nameplate index --catalog"):
        Catalog.open(postgres_url, readonly=True)
    with Catalog.open(postgres_url) as cat:
        _check_migrated(cat)
    with Catalog.open(postgres_url, readonly=True) as cat:
        _check_migrated(cat)
