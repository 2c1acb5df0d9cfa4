"""Catalog benchmark: load generated records into SQLite and PostgreSQL, run ten spec-syntax
queries, report p50/p95 latencies; then 8 concurrent indexers, checking no record is lost.

Run: ``.venv/bin/python benchmarks/catalog.py [--records 100000] [--postgres auto|none|URL]``.
``auto`` starts a throw-away cluster from Debian's postgresql package (as ``postgres`` when run
as root). Figures are printed with ratios against a baseline measured in the same run: the time
of a plain indexed name lookup in SQL on the same database.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nameplate.compat.catalog import Catalog
from tests.compat._gen import record

QUERIES = [
    "hdf5",
    "hdf5@1.14: +mpi ^mpich target=zen3:",
    "hypre ^openmpi@5:",
    "petsc@3.22 %gcc@13:",
    "gromacs target=x86_64_v3:zen4",
    "lammps ^mvapich2 target=:icelake",
    "netcdf-c build_type=Release ~shared",
    "openmpi +cuda",
    "fftw@=3.3.10 ^zlib-ng@2.2: target=neoverse_v1",
    "+mpi %gcc@14: target=sapphirerapids",
]
REPEAT = 20


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    import glob
    import pwd
    import shutil
    import socket
    import subprocess

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if not bins:
        raise SystemExit("no PostgreSQL server (apt-get install postgresql)")
    bindir = Path(bins[0])
    root = tempfile.mkdtemp(prefix="nameplate-bench-pg-")
    kw: dict[str, int] = {}
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        kw = {"user": user.pw_uid, "group": user.pw_gid}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = f"{root}/data"
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "HOME": root}
    subprocess.run(
        [str(bindir / "initdb"), "-D", data, "-U", "nameplate", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
        env=env,
        **kw,
    )  # type: ignore[call-overload]
    opts = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off"
    subprocess.run(
        [str(bindir / "pg_ctl"), "-D", data, "-o", opts, "-l", f"{root}/log", "-w", "start"],
        check=True,
        capture_output=True,
        env=env,
        **kw,
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql://nameplate@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            env=env,
            **kw,
        )  # type: ignore[call-overload]
        shutil.rmtree(root, ignore_errors=True)


def _ms(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return (time.perf_counter() - t0) * 1000


def bench(label: str, url: str, n: int) -> None:
    with Catalog.open(url) as cat:
        t0 = time.perf_counter()
        cat.add_many((record(i) for i in range(n)), batch=2000)
        load = time.perf_counter() - t0
        cat.analyze()
        # baseline: the cheapest indexed lookup, a name-only SQL query with no spec processing
        base = statistics.median(
            _ms(
                lambda: cat._all(
                    "SELECT record_id FROM components WHERE name = ? LIMIT 100", ["hdf5"]
                )
            )
            for _ in range(REPEAT)
        )
        print(f"[{label}] loaded {cat.count()} records in {load:.1f} s ({n / load:.0f} records/s)")
        print(f"[{label}] baseline indexed name lookup: {base:.2f} ms")
        all_times: list[float] = []
        for q in QUERIES:
            times = []
            hits = 0
            for _ in range(REPEAT):
                t = time.perf_counter()
                hits = len(cat.query(q, limit=100))
                times.append((time.perf_counter() - t) * 1000)
            all_times.extend(times)
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20)[18]
            print(
                f"[{label}] {q:<48} hits {hits:>4}  p50 {p50:7.2f} ms"
                f"  p95 {p95:7.2f} ms  p95/base {p95 / base:5.1f}x"
            )
        p50 = statistics.median(all_times)
        p95 = statistics.quantiles(all_times, n=20)[18]
        print(
            f"[{label}] all queries: p50 {p50:.2f} ms, p95 {p95:.2f} ms"
            f" ({p95 / base:.1f}x the baseline)"
        )


def _worker(args: tuple[str, int, int]) -> int:
    url, w, per = args
    with Catalog.open(url) as cat:
        return cat.add_many(
            (record(10_000_000 + w * per + i, seed=1) for i in range(per)), batch=25
        )


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
    wanted = {record(10_000_000 + w * per + i, seed=1).serial for w in range(8) for i in range(per)}
    lost = len(wanted - keys)
    print(
        f"[{label}] 8 concurrent indexers wrote {written} records in {took:.1f} s; "
        f"catalog {before} -> {after}; lost {lost}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--postgres", default="auto")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"{tmp}/catalog.db"
        bench("sqlite", url, args.records)
        concurrent("sqlite", url)
    if args.postgres == "none":
        return
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres_cluster()) if args.postgres == "auto" else args.postgres
        bench("postgresql", pg, args.records)
        concurrent("postgresql", pg)


if __name__ == "__main__":
    main()
