"""Extraction + validation of a synthetic 10,000-spec Spack store, against json.load of the same files.

The store is made from the Spack 1.3 fixture store (tests/data/spack/spack1.3-fake-store) by
copying its DB records and prefixes with varied DAG hashes. Each measurement runs in a fresh
subprocess so that peak memory (ru_maxrss) is its own.

    python benchmarks/spack_store.py [--specs 10000] [--repeat 3] [--keep DIR]

``--keep DIR`` keeps the store (and reuses it when it is there). The two sides run interleaved,
each in a fresh process; the best of ``--repeat`` and the spread are printed, wall time and CPU
time (user + system, which other work on the machine disturbs less).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/data/spack/spack1.3-fake-store/opt/spack"


def new_hash(old: str, copy: int) -> str:
    if copy == 0:
        return old
    digest = hashlib.sha256(f"{old}/{copy}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:32]


def make_store(dest: Path, specs: int) -> int:
    db = json.loads((FIXTURE / ".spack-db/index.json").read_text())
    installs = db["database"]["installs"]
    prefixes = {p.name[-32:]: p for p in FIXTURE.glob("*/*") if (p / ".spack").is_dir()}
    out: dict[str, object] = {}
    copies = -(-specs // len(installs))
    old_root = None
    for copy in range(copies):
        for h, rec in installs.items():
            if len(out) >= specs:
                break
            nh = new_hash(h, copy)
            spec = json.loads(json.dumps(rec["spec"]))
            spec["hash"] = nh
            for dep in spec.get("dependencies", []):
                dep["hash"] = new_hash(dep["hash"], copy)
            rec2 = dict(rec, spec=spec)
            src = prefixes.get(h)
            if src is not None:
                rel = src.relative_to(FIXTURE)
                prefix = dest / rel.parent / (src.name[:-32] + nh)
                (prefix / ".spack").mkdir(parents=True)
                shutil.copy(src / ".spack/spec.json", prefix / ".spack/spec.json")
                manifest = json.loads((src / ".spack/install_manifest.json").read_text())
                if old_root is None:
                    old_root = rec["path"][: -len(str(rel)) - 1]
                new_prefix = f"{old_root}/{rel.parent}/{src.name[:-32]}{nh}"
                manifest = {k.replace(rec["path"], new_prefix): v for k, v in manifest.items()}
                (prefix / ".spack/install_manifest.json").write_text(json.dumps(manifest))
                rec2["path"] = new_prefix
            out[nh] = rec2
    (dest / ".spack-db").mkdir(parents=True)
    db["database"]["installs"] = out
    (dest / ".spack-db/index.json").write_text(json.dumps(db))
    return len(out)


FLOOR = """
import json, sys
from pathlib import Path
store = Path(sys.argv[1])
json.load(open(store / ".spack-db/index.json"))
for m in store.glob("*/*/.spack/install_manifest.json"):
    json.load(open(m))
"""

EXTRACT = """
import sys
import nameplate
from nameplate import schema
from nameplate.sources import ExtractOptions
record = nameplate.extract(sys.argv[1], kind="spack", options=ExtractOptions(combined=True))
data = record.to_dict()
schema.validate(data)
print(len(record.components), file=sys.stderr)
"""

VALIDATE_ONLY = """
import sys, json, time
from nameplate import schema
data = json.load(open(sys.argv[1]))
t = time.perf_counter(); schema.validate(data); fast = time.perf_counter() - t
schema._slow(schema.RELEASED[schema.SCHEMA_VERSION])
t = time.perf_counter(); errors = list(schema._slow(schema.RELEASED[schema.SCHEMA_VERSION]).iter_errors(data)); slow = time.perf_counter() - t
assert not errors
print(f"{fast:.3f} {slow:.3f}")
"""


def run(code: str, *args: str) -> tuple[float, int, str, float]:
    """Run ``code`` in a fresh process: (wall seconds, peak RSS in KiB, stdout, CPU seconds)."""
    wrapped = (
        "import resource, time\n_t = time.perf_counter(); _c = time.process_time()\n"
        + code
        + "\nimport sys\nprint('@@', time.perf_counter() - _t, "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - _c, "
        "file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapped, *args], capture_output=True, text=True, check=True
    )
    line = next(line for line in result.stderr.splitlines() if line.startswith("@@"))
    _, seconds, rss, cpu = line.split()
    return float(seconds), int(rss), result.stdout.strip(), float(cpu)


def _spread(xs: list[float]) -> str:
    return f"best of {len(xs)}, spread {min(xs):.2f}-{max(xs):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--specs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nameplate-bench-"))
    store = args.keep or tmp / "store"
    # Bytecode as an installed package has it (pip compiles on install): imports are timed too.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "nameplate")],
        check=True,
        capture_output=True,
    )
    try:
        t = time.perf_counter()
        if (store / ".spack-db" / "index.json").is_file():
            n = len(
                json.loads((store / ".spack-db/index.json").read_text())["database"]["installs"]
            )
            print(f"synthetic store: {n} specs, reused at {store}")
        else:
            n = make_store(store, args.specs)
            print(f"synthetic store: {n} specs in {time.perf_counter() - t:.1f} s at {store}")
        floors, ours = [], []
        for _ in range(args.repeat):  # interleaved: both sides see the same load
            floors.append(run(FLOOR, str(store)))
            ours.append(run(EXTRACT, str(store)))
        f_time = min(s for s, _, _, _ in floors)
        o_time = min(s for s, _, _, _ in ours)
        f_cpu = min(c for _, _, _, c in floors)
        o_cpu = min(c for _, _, _, c in ours)
        f_rss = min(r for _, r, _, _ in floors) / 1024
        o_rss = max(r for _, r, _, _ in ours) / 1024
        print(
            "floor: json.load of the DB and every install_manifest.json: "
            f"{f_time:.2f} s ({_spread([x[0] for x in floors])}), CPU {f_cpu:.2f} s, "
            f"peak {f_rss:.0f} MB"
        )
        print(
            "nameplate extract + validate (one combined record):      "
            f"{o_time:.2f} s ({_spread([x[0] for x in ours])}), CPU {o_cpu:.2f} s, "
            f"peak {o_rss:.0f} MB"
        )
        print(
            f"ratio time {o_time / f_time:.2f}x (aim <= 2.0x), CPU {o_cpu / f_cpu:.2f}x, "
            f"peak memory {o_rss / f_rss:.2f}x (aim <= 1.2x)"
        )
        import nameplate
        from nameplate.sources import ExtractOptions

        record = nameplate.extract(store, kind="spack", options=ExtractOptions(combined=True))
        path = tmp / "record.json"
        path.write_text(record.to_json())
        fast, slow = run(VALIDATE_ONLY, str(path))[2].split()
        print(
            f"validation of the {len(record.components)}-component record: jsonschema-rs {float(fast):.3f} s, "
            f"jsonschema {float(slow):.3f} s ({float(slow) / float(fast):.0f}x slower)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
