"""The catalog in SQLite and PostgreSQL: queries agree with in-memory matching; concurrent
indexers lose no record."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from nameplate import sources
from nameplate.compat.catalog import Catalog, Entry, default_catalog
from nameplate.compat.specquery import parse, record_matches
from nameplate.errors import CatalogError
from nameplate.record import Record
from nameplate.sources._common import ExtractOptions
from tests.conftest import DATA

from ._gen import record
from ._helpers import hdf5, hypre
from .postgres import fresh_schema

N = 400
STORE = DATA / "spack" / "spack1.3-fake-store"
QUERIES = [
    "hdf5",
    "hdf5 ^mpi",
    "gromacs ^zlib-api@2.2",
    "mpi",
    "/a",
    "^/b",
    "lammps/c ^mpi +cuda",
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
    # a virtual whose providers hold no such version: the SQL dropped the version test
    "hdf5 ^mpi@1.14",
    "^mpi@=5.0.5",
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
    for spec in [*QUERIES, "zlib-ng", "openmpi +cuda", "cmake@3.30"]:
        for any_node in (False, True):
            got = {e.key for e in catalog.query(spec, any_node=any_node)}
            assert got == expected(records, spec, any_node=any_node), (spec, any_node)
    assert all(expected(records, q) for q in ("hdf5 ^mpi", "gromacs ^zlib-api@2.2", "/a", "^/b"))
    assert not expected(records, "zlib-ng") and expected(records, "zlib-ng", any_node=True)


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


def _spack_truth() -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Spack's own ``spack find --json`` of the fake store, by hash, and the store's roots."""
    specs = json.loads((STORE / "spack-find.json").read_text())
    return {s["hash"]: s for s in specs}, ["hdf5", "py-numpy", "zlib-ng"]


def _closure(by_hash: dict[str, dict[str, Any]], root: str) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    todo = [root]
    while todo:
        h = todo.pop()
        if h not in seen:
            seen[h] = by_hash[h]
            todo.extend(d["hash"] for d in by_hash[h].get("dependencies", ()))
    return list(seen.values())


def test_spack_forms_on_a_real_store(catalog: Catalog) -> None:
    """Spack's spec language as Spack users read it, on the records of a real Spack 1.3 store,
    each answer checked against Spack's own ``spack find --json`` of that store: a bare name
    is a root (``--any-node``: any node), a virtual matches its providers, ``/hash`` a DAG hash
    prefix."""
    records = sources.extract_all(STORE / "opt" / "spack", kind="spack", options=ExtractOptions())
    catalog.add_many(records)
    by_hash, roots = _spack_truth()
    root_specs = {s["name"]: s for s in by_hash.values() if s["name"] in roots}
    dags = {name: _closure(by_hash, s["hash"]) for name, s in root_specs.items()}

    def names(spec: str, *, any_node: bool = False) -> set[str]:
        return {e.subject for e in catalog.query(spec, any_node=any_node)}

    # a bare name: the records whose root it is; --any-node: every DAG that contains it
    assert names("zlib-ng") == {"zlib-ng"}
    assert (
        names("zlib-ng", any_node=True)
        == {n for n, dag in dags.items() if any(s["name"] == "zlib-ng" for s in dag)}
        == {"hdf5", "py-numpy", "zlib-ng"}
    )
    # a virtual: any provider (the virtuals on Spack's own edges)
    for virtual in ("mpi", "blas", "zlib-api"):
        providers = {
            n
            for n, dag in dags.items()
            if any(
                virtual in d["parameters"]["virtuals"]
                for s in dag
                for d in s.get("dependencies", ())
            )
        }
        assert names(f"^{virtual}", any_node=True) == providers, virtual
        assert names(f"hdf5 ^{virtual}") == providers & {"hdf5"}, virtual
    assert names("hdf5 ^mpi") == {"hdf5"} and names("py-numpy ^blas") == {"py-numpy"}
    assert names("py-numpy ^mpi") == set()
    # a hash prefix, alone, after a name, or as a dependency
    hdf5 = root_specs["hdf5"]["hash"]
    assert hdf5.startswith("ijgf36w")
    assert names("/ijgf36w") == {"hdf5"} and names("hdf5/ijgf36w") == {"hdf5"}
    assert names("zlib-ng/ijgf36w") == set()
    zlib = root_specs["zlib-ng"]["hash"]
    assert names(f"^/{zlib[:7]}", any_node=True) == {"hdf5", "py-numpy", "zlib-ng"}
    assert names(f"/{zlib[:7]}", any_node=False) == {"zlib-ng"}
    assert names(f"hdf5 ^/{zlib[:5]}") == {"hdf5"}


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


def test_a_batch_of_new_entries_and_the_newest_replaced(catalog: Catalog) -> None:
    # the replaced entries hold the largest ids; the new ones must not be given them again
    # (found by the eight-indexer test: UNIQUE constraint failed: records.id)
    newest = [record(2), record(3)]
    catalog.add_many([record(1), *newest])
    assert catalog.add_many([record(4), record(5), *newest]) == 4
    assert catalog.count() == 5
    assert set(catalog.keys()) == {record(i).serial for i in range(1, 6)}


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


def test_stored_documents_are_bounded(tmp_path: Path) -> None:
    """SQLite keeps each record's JSON as a zstd frame; a catalog file whose frames claim more
    than a record may hold, or are not zstd, gives a CatalogError naming the entry."""
    import sqlite3

    import zstandard

    from nameplate.compat._catalog_rows import unpack

    db = tmp_path / "c.db"
    with Catalog.open(db) as cat:
        cat.add(hdf5())
    stored = sqlite3.connect(db).execute("SELECT record FROM documents").fetchone()[0]
    assert isinstance(stored, bytes) and len(stored) < len(hdf5().to_json()) / 3
    assert json.loads(unpack(stored, "k")) == hdf5().to_dict()
    bomb = zstandard.ZstdCompressor().compress(b" " * (300 * 1024 * 1024))
    with pytest.raises(CatalogError, match="k: a stored record claims 314572800 bytes"):
        unpack(bomb, "k")
    with pytest.raises(CatalogError, match="neither JSON text nor zstd"):
        unpack(b"\x00\x01", "k")
