"""12 concurrent attachers (separate processes) to one subject on real registries.

distribution 2.8.2 has no referrers API and ignores ``If-Match``: the fallback index is a
read-modify-write race between processes. We measure how many referrers survive without and with
our verify-and-retry, and check that ``reindex`` recovers all of them (from the per-artifact
``nameplate-ref-*`` tags). On ggcr (referrers API) all 12 are listed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from nameplate import oci
from nameplate.oci import Transport

from . import registries as regs
from .conftest import push_image

N = 12
_SCRIPT = """
import sys, time
from nameplate import oci
from nameplate.oci import Transport
from tests.oci.conftest import make_record
ref, n, verify, start = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", float(sys.argv[4])
t = Transport(plain_http=True, verify_fallback=verify)
time.sleep(max(0.0, start - time.time()))
oci.attach(make_record(n), ref, transport=t)
"""


def _race(ref: str, *, verify: bool) -> list[int]:
    start = time.time() + 4.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, ref, str(n), "1" if verify else "0", str(start)],
            cwd=regs.ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in range(N)
    ]
    outputs = [p.communicate(timeout=120)[0].decode(errors="replace") for p in procs]
    codes = [p.returncode for p in procs]
    failed = [out[-800:] for code, out in zip(codes, outputs, strict=True) if code != 0]
    assert not failed, f"{len(failed)} attacher(s) failed: {failed}"
    return codes


@pytest.mark.slow
def test_distribution_race_and_reindex(
    distribution: regs.Registry, repo: str, record_property: Callable[[str, object], None]
) -> None:
    t = Transport(plain_http=True)
    results = {}
    for verify in (False, True):
        ref = distribution.ref(f"{repo}-{int(verify)}:v1")
        push_image(ref, transport=t)
        codes = _race(ref, verify=verify)
        assert all(c == 0 for c in codes), codes
        survived = len(oci.discover(ref, transport=t))
        results["with retry" if verify else "without retry"] = survived
        assert oci.reindex(ref, transport=t) == N
        assert len(oci.discover(ref, transport=t)) == N
    record_property("survivors", results)
    print(f"\n12 concurrent attachers on distribution 2.8.2, referrers surviving: {results}")


@pytest.mark.slow
def test_ggcr_lists_all(ggcr: regs.Registry, repo: str) -> None:
    ref = ggcr.ref(f"{repo}:v1")
    push_image(ref, transport=ggcr.transport)
    assert all(c == 0 for c in _race(ref, verify=True))
    assert len(oci.discover(ref, transport=ggcr.transport)) == N
