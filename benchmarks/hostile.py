"""Hostile inputs against their benign twins, each command in a fresh process: wall time and peak
resident memory (``VmHWM``). The floor is the same command on the real fixture unmodified; the
result is the hostile variant of it; the ratio says what the attack costs now (before the fixes
each of these ran past 60 s, or until memory ran out).

    .venv/bin/python benchmarks/hostile.py [--repeat 3]

Prints one JSON object: per case the floor and result (median seconds, peak MiB) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
STORE = DATA / "spack/spack1.3-fake-store/opt/spack"
ZLIB = "linux-icelake/zlib-ng-2.3.3-g32vemqewbcc2j2pcffahyu2y4kfw4t6"
LEGACY_YAML = DATA / "spack/spack-test-data/mirrors/legacy_yaml"
EASYCONFIG = next(
    (DATA / "easybuild/install/software/tinyhello/1.0-GCCcore-12.2.0/easybuild").glob("*.eb")
)

_CHILD = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    sys.stderr.write(f"@@peak {kb}\\n")
atexit.register(_peak)
from nameplate.cli import main
main(sys.argv[1:])
"""


def run(args: list[str]) -> tuple[float, float, int]:
    """(seconds, peak MiB, exit code) of ``nameplate ARGS`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - start
    peak = next(
        (int(line.split()[1]) / 1024 for line in done.stderr.splitlines() if "@@peak" in line),
        float("nan"),
    )
    return seconds, peak, done.returncode


def _easyconfig(tmp: Path, hostile: bool) -> list[str]:
    path = tmp / EASYCONFIG.name
    text = EASYCONFIG.read_text()
    if hostile:
        text += "\nd = {}\n" + "d = {'a': d, 'b': d}\n" * 60 + "x = [d]\n"
    path.write_text(text)
    return ["extract", "easybuild", str(path), "-o", str(tmp / "out.json")]


def _yaml(tmp: Path, hostile: bool) -> list[str]:
    cache = tmp / "mirror"
    shutil.copytree(LEGACY_YAML, cache)
    (cache / "build_cache/index.json").unlink()
    if hostile:
        spec = next((cache / "build_cache").glob("*.spec.yaml"))
        bomb = ['lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        bomb += [f"lol{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        text = spec.read_text().replace("      cflags: []", "      cflags: *a8", 1)
        spec.write_text("\n".join(bomb) + "\n" + text)
    return ["extract", "spack", str(cache), "-o", str(tmp / "out.json")]


def _fifo(tmp: Path, hostile: bool) -> list[str]:
    store = tmp / "store"
    shutil.copytree(STORE, store, symlinks=True)
    if hostile:
        manifest = store / ZLIB / ".spack/install_manifest.json"
        doc = json.loads(manifest.read_text())
        root = min(doc, key=len)
        doc[f"{root}/lib/libz.so.1"] = {"mode": 33261, "size": 4096, "hash": "a" * 32}
        manifest.write_text(json.dumps(doc))
        os.mkfifo(store / ZLIB / "lib/libz.so.1")
    return ["extract", "spack", str(store), "-o", str(tmp / "out")]


def _db_times(tmp: Path, hostile: bool) -> list[str]:
    store = tmp / "store"
    shutil.copytree(STORE, store, symlinks=True)
    if hostile:
        index = store / ".spack-db/index.json"
        doc = json.loads(index.read_text())
        for n, entry in enumerate(doc["database"]["installs"].values()):
            entry["installation_time"] = (1e300, float("nan"), -1e18)[n % 3]
        index.write_text(json.dumps(doc))
    return ["extract", "spack", str(store), "-o", str(tmp / "out")]


CASES: dict[str, Callable[[Path, bool], list[str]]] = {
    "easyconfig reference bomb (2**60)": _easyconfig,
    "build-cache YAML alias bomb (10**8)": _yaml,
    "FIFO listed in an install manifest": _fifo,
    "DB installation_time 1e300/NaN/-1e18": _db_times,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out: dict[str, object] = {"cpus": os.cpu_count(), "loadavg": os.getloadavg()[0]}
    for name, make in CASES.items():
        figures = {}
        for hostile in (False, True):
            runs = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
                    runs.append(run(make(Path(tmp), hostile)))
            figures["result" if hostile else "floor"] = {
                "seconds": round(statistics.median(r[0] for r in runs), 3),
                "peak_mib": round(max(r[1] for r in runs), 1),
                "exit": sorted({r[2] for r in runs}),
            }
        floor, result = figures["floor"], figures["result"]
        figures["ratio_time"] = round(result["seconds"] / floor["seconds"], 2)  # type: ignore[index]
        figures["ratio_peak"] = round(result["peak_mib"] / floor["peak_mib"], 2)  # type: ignore[index]
        out[name] = figures
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
