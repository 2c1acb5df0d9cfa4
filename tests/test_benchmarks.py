"""Every benchmark script still runs (at a toy size): a benchmark is only read when someone runs
it, so a change that breaks one would otherwise go unseen until then (``serve.py`` broke that
way when the catalog's queries changed form). Nothing here times anything or reads a figure;
the figures come from full-size runs (``benchmarks/README.md``)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, need

PG = "/usr/lib/postgresql/*/bin/initdb"

#: script and arguments -> the tools it needs beyond the virtual environment (a command on
#: PATH, a path under the checkout, or a glob)
RUNS = {
    "startup": (["startup.py"], ()),
    "spack_store": (["spack_store.py", "--specs", "40", "--repeat", "1"], ()),
    "export": (["export.py", "--components", "300", "--small", "50"], ()),
    "catalog": (
        ["catalog.py", "--records", "300", "--backend", "both", "--no-concurrent"],
        (PG,),
    ),
    "serve": (
        ["serve.py", "--records", "2000", "--clients", "4", "--seconds", "1", "--warmup", "0.2"],
        (PG,),
    ),
    "elf_closure": (["elf_closure.py", "--apps", "5", "--libs", "3"], ("gcc",)),
    "image_scan": (
        ["image_scan.py", "--size-mb", "4", "--files", "200", "--no-sif", "--repeat", "1"],
        ("zcat",),
    ),
    "attach": (["attach.py", "2"], ("docker-registry", ".cache/bin/oras")),
    "easyconfigs": (["easyconfigs.py", "--sample", "5"], ()),
    "hostile": (["hostile.py", "--repeat", "1"], ()),
}


def test_every_script_is_listed() -> None:
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py")}
    assert scripts == {args[0] for args, _ in RUNS.values()}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_runs_at_a_toy_size(name: str) -> None:
    args, tools = RUNS[name]
    for tool in tools:
        found = shutil.which(tool) or (ROOT / tool).exists() or glob.glob(tool)
        need(bool(found), f"{tool} (benchmarks/{args[0]})")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / args[0]), *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.strip(), "a benchmark prints its figures"
