"""The catalog in SQLite and PostgreSQL: queries agree with in-memory matching; concurrent
indexers lose no record."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from nameplate.compat.catalog import Catalog, Entry, default_catalog
from nameplate.compat.specquery import parse, record_matches
from nameplate.errors import CatalogError
from nameplate.record import Record

from ._gen import record
from ._helpers import hdf5, hypre
from .postgres import fresh_schema

N = 400
QUERIES = [
    "hdf5",
    "hdf5@1.14: +mpi ^mpich target=zen3:",
    "hypre ^openmpi@5:",
    "petsc@3.22 %gcc@13:",
    "+mpi ~shared",
    "gromacs target=x86_64_v3:zen4",
    "lammps ^mvapich2 target=:icelake",
    "netcdf-c build_type=Release",
    "openmpi +cuda",
    "fftw@=3.3.10 ^zlib-ng@2.2:",
    "nosuchpackage",
]


def expected(records: list[Record], spec: str, *, any_node: bool = False) -> set[str]:
    q = parse(spec)
    return {r.serial for r in records if record_matches(q, r, any_node=any_node)}


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        url = str(tmp_path / "catalog.db")
    else:
        url = request.getfixturevalue("postgres_url")
        fresh_schema(url)
    with Catalog.open(url) as cat:
        yield cat


def test_queries_match_in_memory_semantics(catalog: Catalog) -> None:
    records = [record(i) for i in range(N)]
    assert catalog.add_many(records, batch=64) == N
    assert catalog.count() == N
    for spec in QUERIES:
        got = {e.key for e in catalog.query(spec)}
        assert got == expected(records, spec), spec
    assert any(expected(records, q) for q in QUERIES[1:5])


def test_limit_returns_the_newest_matches(catalog: Catalog) -> None:
    """``limit`` keeps the newest matches (equal times: the latest indexed first), the same as
    cutting the full answer, for common and rare specs alike."""
    records = [record(i) for i in range(N)]
    catalog.add_many(records, batch=100)
    by_key = {r.serial: r for r in records}
    indexed = {r.serial: i for i, r in enumerate(records)}
    for spec in [*QUERIES, "+mpi"]:
        full = catalog.query(spec)
        keys = [e.key for e in full]
        created = {k: by_key[k].provenance.extracted_at for k in keys}
        assert keys == sorted(keys, key=lambda k: (_desc(created[k]), -indexed[k])), spec
        for limit in (0, 1, 3, 25):
            assert [e.key for e in catalog.query(spec, limit=limit)] == keys[:limit], spec
    hit = catalog.query("hdf5", limit=1)[0]
    assert hit.record() == by_key[hit.key]


def _desc(text: str) -> tuple[int, ...]:
    return tuple(-b for b in text.encode())


def test_real_records_round_trip(catalog: Catalog) -> None:
    catalog.add(
        Entry(record=hypre(), ref="oci:/x@sha256:" + "a" * 64, tag="t", platform="linux/amd64")
    )
    catalog.add(hdf5())
    hits = catalog.query("hypre ^openmpi@5: ^cuda@12:")
    assert [h.subject for h in hits] == ["hypre"]
    assert hits[0].platform == "linux/amd64"
    assert hits[0].record() == hypre()
    assert [h.subject for h in catalog.query("hdf5@1.14 target=icelake")] == ["hdf5"]
    assert catalog.query("hdf5 target=zen4:") == []


def test_reindexing_replaces(catalog: Catalog) -> None:
    r = record(1)
    catalog.add(r)
    catalog.add(r)
    assert catalog.count() == 1
    assert len(catalog.query(r.subject.name)) >= 1


def _index_worker(args: tuple[str, int, int]) -> int:
    url, worker, per = args
    with Catalog.open(url) as cat:
        # every worker writes its own records and re-writes a shared range
        mine = [record(worker * 1000 + i) for i in range(per)]
        shared = [record(900_000 + i) for i in range(10)]
        total = 0
        for start in range(0, per, 10):
            total += cat.add_many(mine[start : start + 10] + shared[:2], batch=6)
        return total


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_eight_concurrent_indexers_lose_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = str(tmp_path / "shared.db")
    else:
        url = request.getfixturevalue("postgres_url")
        fresh_schema(url)
    Catalog.open(url).close()
    per = 40
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=8, mp_context=ctx) as pool:
        written = list(pool.map(_index_worker, [(url, w, per) for w in range(8)]))
    assert sum(written) == 8 * (per + 8)
    with Catalog.open(url) as cat:
        keys = cat.keys()
    wanted = {record(w * 1000 + i).serial for w in range(8) for i in range(per)}
    wanted |= {record(900_000 + i).serial for i in range(2)}
    assert keys == wanted


def test_bad_catalog_paths(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        Catalog.open(tmp_path / "file" / "sub" / "c.db")
    not_db = tmp_path / "not.db"
    not_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match=r"not\.db"):
        Catalog.open(not_db)


def test_bad_postgres_url() -> None:
    with pytest.raises(CatalogError, match=r"postgresql://nobody@127\.0\.0\.1:1/x: cannot open"):
        Catalog.open("postgresql://nobody:secret@127.0.0.1:1/x")


def test_default_catalog_location() -> None:
    assert default_catalog({"NAMEPLATE_CATALOG": "/x.db"}) == "/x.db"
    assert default_catalog({"XDG_DATA_HOME": "/d"}) == "/d/nameplate/catalog.db"
