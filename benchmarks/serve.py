"""Service benchmark: ``nameplate serve`` over a PostgreSQL catalog of 100,000 records, 64
concurrent clients for 30 s, p50/p95 of ``/v1/select``, ``/v1/check`` and the search page,
against the same queries run on the catalog in process (the floor).

Run: ``.venv/bin/python benchmarks/serve.py [--records 100000] [--clients 64] [--seconds 30]
[--workers 2] [--postgres auto|URL]``. ``auto`` starts a throw-away cluster from Debian's
postgresql package, as ``benchmarks/catalog.py`` does.

- The catalog: generated records (``tests/compat/_gen.py``), each indexed as a tag of one of
  ``records / 50`` repositories (``bench.example.org/hpc/<root>-<n>``), and the site's five host
  profiles (``tests/serve/site.py``).
- The floor: each request's work done sequentially in this process on one catalog connection,
  no HTTP, no cache: select = ``in_repository`` + parse + ``rank``; check = ``get`` + parse +
  ``check``; search = ``query(limit=50)``.
- The load: a separate process (uvloop), ``--clients`` keep-alive HTTP/1.1 connections, closed
  loop (each sends its next request when the answer is in), the three kinds interleaved; 3 s of
  warm-up are not counted. The load generator, the server's workers and PostgreSQL share this
  machine's cores: the figures are latencies under that contention, printed with the load
  average before the run (above ~1 on this 2-core machine, other work was running: "busy").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog import QUERIES, postgres_cluster

from nameplate.compat.catalog import Catalog, Entry
from nameplate.compat.report import check
from nameplate.compat.select import Found, rank
from tests.compat._gen import record
from tests.serve import server, site

TAGS_PER_REPO = 50


def repo_of(i: int, root: str) -> str:
    return f"bench.example.org/hpc/{root}-{i // (TAGS_PER_REPO * 8)}"


def entries(n: int) -> Iterator[Entry]:
    for i in range(n):
        r = record(i)
        repo = repo_of(i, r.subject.name)
        yield Entry(record=r, ref=f"{repo}@sha256:{i:064x}", repository=repo, tag=f"v{i}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def plan(cat: Catalog, n: int, hosts: list[str]) -> dict[str, list[tuple[str, ...]]]:
    """The requests of each kind (the same for the floor and the server)."""
    rng = random.Random(7)
    repos = sorted({repo_of(i, record(i).subject.name) for i in rng.sample(range(n), 40)})
    keys = [
        f"{repo_of(i, record(i).subject.name)}@sha256:{i:064x}" for i in rng.sample(range(n), 400)
    ]
    return {
        "select": [(repo, hosts[j % len(hosts)]) for j, repo in enumerate(repos)],
        "check": [(key, hosts[j % len(hosts)]) for j, key in enumerate(keys)],
        "search": [(q,) for q, _any in QUERIES],  # the search page asks about roots, as query does
    }


def floor(
    url: str, work: dict[str, list[tuple[str, ...]]], hosts: dict[str, object], rounds: int
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in work}
    with Catalog.open(url, readonly=True) as cat:
        for _ in range(rounds):
            for repo, host in work["select"]:
                t = time.perf_counter()
                found = [
                    Found(
                        ref=e.ref or e.key,
                        tag=e.tag or "",
                        digest=e.key,
                        platform=e.platform,
                        record=e.record(),
                    )
                    for e in cat.in_repository(repo)
                ]
                rank(found, hosts[host])  # type: ignore[arg-type]
                out["select"].append((time.perf_counter() - t) * 1000)
            for key, host in work["check"][:80]:
                t = time.perf_counter()
                e = cat.get(key)
                assert e is not None
                check(e.record(), hosts[host])  # type: ignore[arg-type]
                out["check"].append((time.perf_counter() - t) * 1000)
            for (q,) in work["search"]:
                t = time.perf_counter()
                cat.query(q, limit=50)
                out["search"].append((time.perf_counter() - t) * 1000)
    return out


def paths(work: dict[str, list[tuple[str, ...]]]) -> list[tuple[str, str]]:
    enc = urllib.parse.urlencode
    sel = [("select", "/v1/select?" + enc({"repository": r, "host": h})) for r, h in work["select"]]
    chk = [("check", "/v1/check?" + enc({"record": k, "host": h})) for k, h in work["check"]]
    srch = [("search", "/?" + enc({"q": q})) for (q,) in work["search"]]
    mixed = []
    for i in range(max(len(sel), len(chk), len(srch)) * 3):
        mixed.append(sel[i % len(sel)])
        mixed.append(chk[i % len(chk)])
        mixed.append(srch[i % len(srch)])
    return mixed


async def _client(
    port: int,
    requests: list[tuple[str, str]],
    start: float,
    stop: float,
    offset: int,
    out: dict[str, list[float]],
    errors: dict[str, int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while True:
            now = time.perf_counter()
            if now >= stop:
                return
            label, path = requests[i % len(requests)]
            i += 1
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            took = (time.perf_counter() - now) * 1000
            errors["_all"] = errors.get("_all", 0) + 1
            if now >= start:
                out.setdefault(label, []).append(took)
                if status != 200:
                    errors[label] = errors.get(label, 0) + 1
    finally:
        writer.close()


def load(
    args: tuple[int, list[tuple[str, str]], int, float, float],
) -> tuple[dict[str, list[float]], dict[str, int]]:
    port, requests, clients, warmup, seconds = args
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    out: dict[str, list[float]] = {}
    errors: dict[str, int] = {}

    async def main() -> None:
        t0 = time.perf_counter()
        start, stop = t0 + warmup, t0 + warmup + seconds
        await asyncio.gather(
            *(_client(port, requests, start, stop, c * 17, out, errors) for c in range(clients))
        )

    asyncio.run(main())
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    errors["_cpu_ms"] = int((usage.ru_utime + usage.ru_stime) * 1000)
    return out, errors


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of process ``root`` and all its descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(child for child, up in parent.items() if up == pid)
    return total


def postmaster(url: str) -> int | None:
    """The pid of the PostgreSQL server listening on ``url``'s port (started by this run)."""
    port = urllib.parse.urlsplit(url).port
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "postgres" in cmd and f"-p {port}" in cmd and "-D" in cmd:
                return int(entry.name)
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--query-ttl", type=float, default=1.0, help="the server's --query-ttl")
    ap.add_argument("--postgres", default="auto")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average before the run: {os.getloadavg()[0]:.2f}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_cluster()) if args.postgres == "auto" else args.postgres
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        t0 = time.perf_counter()
        with Catalog.open(url) as cat:
            cat.add_many(entries(args.records), batch=2000)
            cat.analyze()
            total = cat.count()
            hosts = site.hosts()
            work = plan(cat, args.records, sorted(hosts))
        print(f"catalog: {total} records in PostgreSQL, loaded in {time.perf_counter() - t0:.0f} s")
        named = {n: h for n, h in hosts.items()}
        floor(url, work, named, 1)  # warm PostgreSQL's cache
        base = floor(url, work, named, 3)
        hosts_dir = site.write_hosts(tmp / "hosts")
        served = server.start(
            tmp,
            "--catalog", url, "--hosts", str(hosts_dir), "--workers", str(args.workers),
            "--threads", str(args.threads), "--query-ttl", str(args.query_ttl),
            "--log-level", "warning",
        )  # fmt: skip
        try:
            port = int(served.base.rsplit(":", 1)[1])
            ctx = multiprocessing.get_context("spawn")
            pg = postmaster(url)
            cpu0 = (tree_cpu(served.proc.pid), tree_cpu(pg) if pg else 0.0)
            with ctx.Pool(1) as pool:
                got, errors = pool.apply(
                    load, ((port, paths(work), args.clients, args.warmup, args.seconds),)
                )
            cpu1 = (tree_cpu(served.proc.pid), tree_cpu(pg) if pg else 0.0)
        finally:
            served.stop()
        print(
            f"load: {args.clients} clients, {args.seconds:.0f} s (after {args.warmup:.0f} s warm-up), "
            f"server: {args.workers} workers x {args.threads} database threads,"
            f" --query-ttl {args.query_ttl:g}"
        )
        print(
            f"{'':8} {'floor p50':>10} {'floor p95':>10} {'p50':>9} {'p95':>9} {'req/s':>7} {'p95/floor':>10} {'goal p95<=100ms':>16}"
        )
        for kind in ("select", "check", "search"):
            fl, xs = base[kind], got.get(kind, [])
            if not xs:
                print(f"{kind:8} no answers")
                continue
            p95 = pct(xs, 95)
            print(
                f"{kind:8} {pct(fl, 50):8.2f}ms {pct(fl, 95):8.2f}ms {pct(xs, 50):7.1f}ms {p95:7.1f}ms"
                f" {len(xs) / args.seconds:7.0f} {p95 / pct(fl, 95):9.1f}x {'met' if p95 <= 100 else 'missed':>16}"
                + (f"  errors {errors[kind]}" if errors.get(kind) else "")
            )
        everything = [x for xs in got.values() for x in xs]
        print(
            f"all      {statistics.median(everything):7.1f}ms median, {len(everything) / args.seconds:.0f} req/s in all;"
            f" load average after: {os.getloadavg()[0]:.2f}"
        )
        answered = errors.pop("_all", 0)
        load_cpu = errors.pop("_cpu_ms", 0)
        per = {
            "server": (cpu1[0] - cpu0[0]) * 1000 / max(answered, 1),
            "postgres": (cpu1[1] - cpu0[1]) * 1000 / max(answered, 1),
            "load": load_cpu / max(answered, 1),
        }
        whole = sum(per.values())
        print(
            f"CPU per request (all {answered} answers, warm-up included): server {per['server']:.2f} ms,"
            f" PostgreSQL {per['postgres']:.2f} ms, load generator {per['load']:.2f} ms;"
            f" {whole:.2f} ms in all: {os.cpu_count()} idle cores would answer about"
            f" {1000 * (os.cpu_count() or 1) / whole:.0f} req/s"
        )
        print(json.dumps({"records": total, "cpu_ms_per_request": per}))


if __name__ == "__main__":
    main()
