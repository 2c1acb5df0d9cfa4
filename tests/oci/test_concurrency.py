"""32 concurrent attachers (separate processes) to one subject on real registries.

distribution 2.8.2 has no referrers API and ignores ``If-Match``: the ``sha256-<hex>`` fallback
index is a read-modify-write race between processes. Every attacher tags its artifact first,
then rounds of read, union with the tagged referrers, write, wait until a read finds nothing
missing (``Repository._add_to_fallback``): all 32 must be listed by ``discover`` right after the
race, with no ``reindex``. ``NAMEPLATE_RACE_RUNS=10`` repeats the race (the 10-run figure of the
report). On ggcr (referrers API) all 32 are listed too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nameplate import oci
from nameplate.oci import Transport

from . import registries as regs
from .conftest import push_image

N = 32
RUNS = int(os.environ.get("NAMEPLATE_RACE_RUNS", "1"))
_SCRIPT = """
import os, sys, time
from nameplate import oci
from nameplate.oci import Transport
from tests.oci.conftest import make_record
ref, n, verify, go = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
t = Transport(plain_http=True, verify_fallback=verify)
record = make_record(n)
print("ready", flush=True)
while not os.path.exists(go):  # every process imported and ready: start together
    time.sleep(0.005)
oci.attach(record, ref, transport=t)
"""


def _race(ref: str, go: Path, *, verify: bool = True) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, ref, str(n), "1" if verify else "0", str(go)],
            cwd=regs.ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in range(N)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == b"ready"
        go.touch()
        outputs = [p.communicate(timeout=300)[0].decode(errors="replace") for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [out[-800:] for p, out in zip(procs, outputs, strict=True) if p.returncode != 0]
    assert not failed, f"{len(failed)} attacher(s) failed: {failed}"


@pytest.mark.slow
def test_distribution_32_attachers_all_listed(
    distribution: regs.Registry,
    repo: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    t = Transport(plain_http=True)
    listed = []
    for run in range(RUNS):
        ref = distribution.ref(f"{repo}-{run}:v1")
        push_image(ref, transport=t)
        start = time.monotonic()
        _race(ref, tmp_path / f"go-{run}")
        seconds = time.monotonic() - start
        found = len(oci.discover(ref, transport=t))
        listed.append(found)
        print(
            f"\nrun {run + 1}: {found} of {N} listed after {N} concurrent attachers ({seconds:.1f} s)"
        )
        assert found == N
    assert oci.reindex(ref, transport=t) == N  # the tags agree with the index
    record_property("listed", listed)


@pytest.mark.slow
def test_ggcr_lists_all(ggcr: regs.Registry, repo: str, tmp_path: Path) -> None:
    ref = ggcr.ref(f"{repo}:v1")
    push_image(ref, transport=ggcr.transport)
    _race(ref, tmp_path / "go")
    assert len(oci.discover(ref, transport=ggcr.transport)) == N
