"""Catalog benchmark: load generated records into SQLite and PostgreSQL, run ten spec-syntax
queries (plus the Spack forms: a virtual, a hash prefix), report the load rate and p50/p95 per
query; then 8 concurrent indexers, checking that no record is lost.

Run::

    .venv/bin/python benchmarks/catalog.py [--records 100000] [--backend both|sqlite|postgresql]
        [--postgres auto|URL]

``auto`` starts a throw-away cluster from Debian's postgresql package (as ``postgres`` when run
as root) and removes it afterwards. Each figure comes with a floor or baseline measured in the
same run, on the same database:

- load: the records are given to ``Catalog.add_many`` as ``nameplate index`` gives them (the
  record with the JSON data it was read as), made ahead in blocks of ten batches so that the
  time to make them is measured apart and left out; the floor is writing the same stored JSON
  (as stored: text for PostgreSQL, a zstd frame for SQLite) alone into a table without indexes
  (``COPY`` for PostgreSQL, ``executemany`` for SQLite);
- queries: the baseline is the cheapest indexed lookup, a name-only SQL query with no spec
  processing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nameplate.compat.catalog import Catalog, Entry
from nameplate.record import Record
from tests.compat._gen import record

QUERIES = [
    ("hdf5", False),
    ("hdf5@1.14: +mpi ^mpich target=zen3:", False),
    ("hypre ^openmpi@5:", False),
    ("petsc@3.22 %gcc@13:", False),
    ("gromacs target=x86_64_v3:zen4", False),
    ("lammps ^mvapich2 target=:icelake", False),
    ("netcdf-c build_type=Release ~shared", False),
    ("openmpi +cuda", True),
    ("fftw@=3.3.10 ^zlib-ng@2.2: target=neoverse_v1", False),
    ("+mpi %gcc@14: target=sapphirerapids", False),
]
"""The ten queries of the first round (``openmpi +cuda`` asks about any node, as it did then)."""

SPACK_FORMS = [("hdf5 ^mpi", False), ("gromacs ^zlib-api", False)]
"""Virtuals; the hash-prefix queries are added from the generated records."""

REPEAT = 20
BATCH = 2000


def postgres_cluster() -> contextlib.AbstractContextManager[str]:
    """A throw-away PostgreSQL on 127.0.0.1 (the test suite's own fixture, as a context)."""
    from tests.compat.postgres import cluster

    return cluster()


class _Timed:
    """Iterates ``items`` and adds the time spent producing them to :attr:`seconds`."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = iter(items)
        self.seconds = 0.0

    def __iter__(self) -> Iterator[Any]:
        while True:
            t0 = time.perf_counter()
            try:
                item = next(self.items)
            except StopIteration:
                self.seconds += time.perf_counter() - t0
                return
            self.seconds += time.perf_counter() - t0
            yield item


def _entry(r: Record) -> Entry:
    """An entry as ``nameplate index`` makes it: the record, and the JSON it was read as."""
    return Entry(record=r, data=r.to_dict())


def _entries(n: int, start: int = 0, seed: int = 0) -> Iterator[Entry]:
    for i in range(start, start + n):
        yield _entry(record(i, seed=seed))


BLOCK = 10 * BATCH
"""Records made ahead of each timed ``add_many`` (ten batches): the writes of one batch overlap
the making of the next inside ``add_many``, never the making of the test records."""


def _load(cat: Catalog, n: int, make: Callable[[int], Entry | Record]) -> tuple[float, float]:
    """Seconds in ``add_many`` for records ``make(0..n-1)``, and seconds making them."""
    load = made = 0.0
    for start in range(0, n, BLOCK):
        t0 = time.perf_counter()
        block = [make(i) for i in range(start, min(n, start + BLOCK))]
        t1 = time.perf_counter()
        cat.add_many(block, batch=BATCH)
        made += t1 - t0
        load += time.perf_counter() - t1
    return load, made


def _ms(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _floor(cat: Catalog, n: int) -> float:
    """Seconds to write the stored JSON of ``n`` records into a bare table."""
    from nameplate.compat._catalog_rows import pack
    from nameplate.compat.catalog import _stored_json

    conn = cat._conn
    docs = _Timed(pack(_stored_json(e.data or {}), postgres=cat._pg) for e in _entries(n, seed=7))
    t0 = time.perf_counter()
    if cat._pg:
        conn.execute("CREATE TEMPORARY TABLE bench_floor (id BIGINT, record TEXT)")
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy("COPY bench_floor (id, record) FROM STDIN") as copy,
        ):
            for i, doc in enumerate(docs):
                copy.write_row((i, doc))
        took = time.perf_counter() - t0 - docs.seconds
        conn.execute("DROP TABLE bench_floor")
    else:
        conn.execute("CREATE TEMPORARY TABLE bench_floor (id INTEGER, record TEXT)")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO bench_floor VALUES (?, ?)", enumerate(docs))
        conn.execute("COMMIT")
        took = time.perf_counter() - t0 - docs.seconds
        conn.execute("DROP TABLE bench_floor")
    return took


def _percentiles(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def bench(label: str, url: str, n: int) -> None:
    with Catalog.open(url) as cat:
        floor_n = min(n, 100_000)
        floor = _floor(cat, floor_n) * n / floor_n
        load, made = _load(cat, n, lambda i: _entry(record(i)))
        t0 = time.perf_counter()
        cat.analyze()
        analyze = time.perf_counter() - t0
        print(
            f"[{label}] loaded {cat.count()} records in {load:.1f} s ({n / load:,.0f} records/s;"
            f" generating them took {made:.1f} s more, left out); ANALYZE {analyze:.1f} s"
        )
        print(
            f"[{label}] load floor (the stored JSON alone into a bare table"
            f"{', scaled from ' + format(floor_n, ',') if floor_n < n else ''}):"
            f" {floor:.1f} s ({n / floor:,.0f} records/s); load/floor {load / floor:.2f}x"
        )
        small = min(n, 20_000)
        plain, _ = _load(cat, small, lambda i: record(10_000_000 + i, seed=3))
        print(
            f"[{label}] from Record objects alone (record.to_dict() included), {small:,}"
            f" records: {small / plain:,.0f} records/s"
        )
        base = statistics.median(
            _ms(lambda: cat._all("SELECT record_id FROM nodes WHERE name = ? LIMIT 100", ["hdf5"]))
            for _ in range(REPEAT)
        )
        print(f"[{label}] baseline indexed name lookup: {base:.2f} ms")
        hashes = [
            str(
                json.loads(cat.query("hdf5", limit=1)[0].record_json)["components"][0]["hashes"][0][
                    "value"
                ]
            )
        ]
        extra = [*SPACK_FORMS, (f"/{hashes[0][:7]}", False), (f"hdf5 ^/{hashes[0][:2]}", True)]
        all_times: list[float] = []
        for group, queries in (("ten", QUERIES), ("spack", extra)):
            for q, any_node in queries:
                times = []
                hits = 0
                for _ in range(REPEAT):
                    t = time.perf_counter()
                    hits = len(cat.query(q, limit=100, any_node=any_node))
                    times.append((time.perf_counter() - t) * 1000)
                if group == "ten":
                    all_times.extend(times)
                p50, p95 = _percentiles(times)
                shown = q + (" (--any-node)" if any_node else "")
                print(
                    f"[{label}] {shown:<52} hits {hits:>4}  p50 {p50:7.2f} ms"
                    f"  p95 {p95:7.2f} ms  p95/base {p95 / base:6.1f}x"
                )
        p50, p95 = _percentiles(all_times)
        print(
            f"[{label}] the ten queries: p50 {p50:.2f} ms, p95 {p95:.2f} ms"
            f" ({p95 / base:.1f}x the baseline)"
        )


def _worker(args: tuple[str, int, int]) -> int:
    url, w, per = args
    with Catalog.open(url) as cat:
        return cat.add_many(_entries(per, start=20_000_000 + w * per, seed=1), batch=25)


def concurrent(label: str, url: str, per: int = 500) -> None:
    ctx = multiprocessing.get_context("spawn")
    with Catalog.open(url) as cat:
        before = cat.count()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=8, mp_context=ctx) as pool:
        written = sum(pool.map(_worker, [(url, w, per) for w in range(8)]))
    took = time.perf_counter() - t0
    with Catalog.open(url) as cat:
        after = cat.count()
        keys = cat.keys()
    wanted = {record(20_000_000 + w * per + i, seed=1).serial for w in range(8) for i in range(per)}
    lost = len(wanted - keys)
    print(
        f"[{label}] 8 concurrent indexers wrote {written} records in {took:.1f} s; "
        f"catalog {before} -> {after}; lost {lost}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--backend", choices=["both", "sqlite", "postgresql"], default="both")
    ap.add_argument("--postgres", default="auto", help="auto (a throw-away cluster) or a URL")
    ap.add_argument("--no-concurrent", action="store_true", help="skip the 8-indexer check")
    args = ap.parse_args()
    print(f"{args.records:,} records; {os.cpu_count()} CPUs; load average {os.getloadavg()}")
    if args.backend in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"{tmp}/catalog.db"
            bench("sqlite", url, args.records)
            if not args.no_concurrent:
                concurrent("sqlite", url)
    if args.backend in ("both", "postgresql"):
        with contextlib.ExitStack() as stack:
            pg = args.postgres
            if pg == "auto":
                pg = stack.enter_context(postgres_cluster())
            bench("postgresql", pg, args.records)
            if not args.no_concurrent:
                concurrent("postgresql", pg)


if __name__ == "__main__":
    main()
