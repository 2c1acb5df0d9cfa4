"""Parse the whole easybuild-easyconfigs collection with nameplate's ast reader, and compare it
with EasyBuild's own ``EasyConfigParser`` (time per file and agreement) in the same run.

    .venv/bin/python benchmarks/easyconfigs.py                 # all files
    .venv/bin/python benchmarks/easyconfigs.py --sample 500    # a random sample (seeded)

Needs easybuild-framework and easybuild-easyconfigs 5.4.1 in this venv
(``scripts/setup.d/30-easybuild.sh``). EasyBuild's parser *executes* each file; it runs in a
child process here, on the trusted collection only. Prints one JSON object (figures and ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: the raw parameters compared with EasyConfigParser (templates left unresolved on both sides)
KEYS = (
    "name", "version", "versionsuffix", "toolchain", "dependencies", "builddependencies",
    "sources", "checksums", "patches", "source_urls", "easyblock", "toolchainopts",
)  # fmt: skip

_ORACLE = r"""
import json, os, sys, time
from easybuild.tools.options import set_up_configuration
args = ['--allow-use-as-root-and-accept-consequences'] if os.getuid() == 0 else []
set_up_configuration(args=args, silent=True)
from easybuild.framework.easyconfig.parser import EasyConfigParser
keys = json.loads(sys.argv[1])
def enc(v):
    if isinstance(v, (set, frozenset)):
        return {"__set__": sorted((enc(x) for x in v), key=repr)}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {str(k): enc(x) for k, x in v.items()}
    return v
paths = [l.strip() for l in sys.stdin if l.strip()]
out = {}
t0 = time.perf_counter()
for p in paths:
    try:
        cfg = EasyConfigParser(p).get_config_dict()
        out[p] = {k: enc(cfg[k]) for k in keys if k in cfg}
    except Exception as exc:
        out[p] = {"__error__": str(exc)[:200]}
elapsed = time.perf_counter() - t0
print(json.dumps({"elapsed": elapsed, "results": out}))
"""


def collection() -> Path:
    path = Path(sys.prefix) / "easybuild" / "easyconfigs"
    if not path.is_dir():
        raise SystemExit(f"{path}: easybuild-easyconfigs is not installed in this venv")
    return path


def _enc(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_enc(x) for x in value]
    if isinstance(value, dict):
        return {str(k): _enc(x) for k, x in value.items()}
    return value


def ours(paths: list[Path]) -> tuple[float, dict[str, dict[str, Any]], int]:
    from nameplate.errors import NameplateError
    from nameplate.sources.easybuild.easyconfig import Unresolved, parse_easyconfig

    out: dict[str, dict[str, Any]] = {}
    errors = 0
    texts = [(str(p), p.read_bytes()) for p in paths]
    t0 = time.perf_counter()
    for where, data in texts:
        try:
            ec = parse_easyconfig(data, where=where)
        except NameplateError as exc:
            errors += 1
            out[where] = {"__error__": str(exc)}
            continue
        out[where] = {
            k: (None if isinstance(ec.values[k], Unresolved) else _enc(ec.values[k]))
            for k in KEYS
            if k in ec.values
        }
    return time.perf_counter() - t0, out, errors


def oracle(paths: list[Path]) -> tuple[float, dict[str, dict[str, Any]]]:
    done = subprocess.run(
        [sys.executable, "-c", _ORACLE, json.dumps(KEYS)],
        input="\n".join(str(p) for p in paths),
        capture_output=True,
        text=True,
        check=True,
        cwd="/tmp",
    )
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return float(data["elapsed"]), data["results"]


def _same(mine: Any, theirs: Any) -> bool:
    if isinstance(theirs, dict) and "__set__" in theirs:
        return isinstance(mine, list) and sorted(map(repr, mine)) == sorted(
            map(repr, theirs["__set__"])
        )
    return bool(mine == theirs)


def _unordered(mine: Any, theirs: Any) -> bool:
    # a Python *set* of dependencies: EasyBuild lists it in hash order, which varies per run
    return (
        isinstance(mine, list) and isinstance(theirs, list)
        and sorted(map(repr, mine)) == sorted(map(repr, theirs))
    )  # fmt: skip


def compare(mine: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    files_equal = 0
    set_order_only = 0
    mismatches: list[str] = []
    for path, expected in theirs.items():
        got = mine.get(path, {})
        bad = [k for k in KEYS if not _same(got.get(k), expected.get(k))]
        if "__error__" in expected:
            bad = ["oracle error"]
        if bad and all(
            k in ("dependencies", "builddependencies") and _unordered(got.get(k), expected.get(k))
            for k in bad
        ):
            set_order_only += 1
            bad = []
        if bad:
            mismatches.append(f"{Path(path).name}: {', '.join(bad)}")
        else:
            files_equal += 1
    return {
        "files": len(theirs),
        "equal": files_equal,
        "set_order_only": set_order_only,
        "mismatches": mismatches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sample", type=int, default=0, help="random sample size (0 = all)")
    parser.add_argument("--seed", type=int, default=5401)
    args = parser.parse_args()
    paths = sorted(collection().rglob("*.eb"))
    if args.sample:
        paths = sorted(random.Random(args.seed).sample(paths, min(args.sample, len(paths))))
    t_ours, mine, errors = ours(paths)
    t_eb, theirs = oracle(paths)
    result = compare(mine, theirs)
    n = len(paths)
    print(json.dumps({
        "files": n,
        "ours_errors": errors,
        "ours_ms_per_file": round(1000 * t_ours / n, 3),
        "easyconfigparser_ms_per_file": round(1000 * t_eb / n, 3),
        "speedup_vs_easyconfigparser": round(t_eb / t_ours, 2),
        "agreement_files": result["equal"],
        "agreement_rate": round(result["equal"] / max(result["files"], 1), 5),
        "equal_up_to_set_order": result["set_order_only"],
        "keys": list(KEYS),
        "mismatches": result["mismatches"][:50],
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
