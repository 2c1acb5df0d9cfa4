"""One root, five ways to read it, one ``hpc``: a store, a prefix of that store, an environment
of that Spack instance, the file build cache (layout v3) and the OCI build-cache image.

Every input is Spack's own output, the team's shared fixture ``fixtures/spack/real-store`` (the
copy in ``tests/data`` leaves the install tarballs out): the store is made here by unpacking the
build cache's real install tarballs at their build-time paths, with the fixture store's real DB
(``.spack-db/index.json``) and environment (``spack.lock``). Both build caches lack
gcc-runtime's tarball (pruned from the fixture, see its README), so the store made here holds
gcc-runtime's metadata only, exactly the files every other input holds.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from nameplate.record import Record
from nameplate.sources import extract_all
from nameplate.sources._common import ExtractOptions
from tests.conftest import need
from tests.sources._real_store import SHARED_REAL

FIXTURE = SHARED_REAL
RUNTIME = "linux-x86_64_v4/gcc-runtime-12.2.0-6ax4uhtlybyiruf6b2pvqsnpkvvpodzi"
ROOTS = {
    "omp-fortran-hello": "omp-fortran-hello-1.0-cw5cxc5hhixi7gulbvy42ghde7cah776",
    "zstd": "zstd-1.5.4-kiaxfa2ktv6lqnzpvnm6idtmq247xekb",
}


def _is_tarball(path: Path) -> bool:
    try:
        with tarfile.open(path):
            return True
    except tarfile.ReadError:
        return False


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<tmp>/tmp/realspack2/store``: a Spack instance whose ``opt/spack`` is the store."""
    need(FIXTURE.is_dir(), f"{FIXTURE}: the team's shared fixture (with the install tarballs)")
    root = tmp_path_factory.mktemp("same-hpc")
    for blob in sorted((FIXTURE / "buildcache-v3" / "blobs").rglob("*")):
        if blob.is_file() and blob.read_bytes()[:2] == b"\x1f\x8b":
            if not _is_tarball(blob):  # a gzip-compressed spec, not an install tarball
                continue
            with tarfile.open(blob) as tar:
                tar.extractall(root, filter="tar")
    store = root / "tmp/realspack2/store/opt/spack"
    shutil.copytree(FIXTURE / "opt/spack/.spack-db", store / ".spack-db")
    shutil.copytree(FIXTURE / "opt/spack" / RUNTIME / ".spack", store / RUNTIME / ".spack")
    env = root / "tmp/realspack2/store/var/spack/environments/real"
    shutil.copytree(FIXTURE / "env", env)
    return root / "tmp/realspack2/store"


def _by_name(records: list[Record]) -> dict[str, Record]:
    return {r.subject.name: r for r in records}


def _hpc(rec: Record) -> dict[str, object]:
    return rec.to_dict()["hpc"]


def test_every_reading_gives_the_same_hpc(instance: Path) -> None:
    opts = ExtractOptions()
    store = _by_name(extract_all(instance / "opt/spack", kind="spack", options=opts))
    env = _by_name(
        extract_all(instance / "var/spack/environments/real", kind="spack", options=opts)
    )
    cache = {  # a build cache's roots are the specs nothing in it needs: name each one
        name: extract_all(
            FIXTURE / "buildcache-v3", kind="spack", options=ExtractOptions(roots=(name,))
        )[0]
        for name in ROOTS
    }
    for name, dirname in ROOTS.items():
        prefix = instance / "opt/spack/linux-x86_64_v4" / dirname
        (from_prefix,) = extract_all(prefix, kind="spack", options=opts)
        (oci,) = extract_all(
            f"oci:{FIXTURE / 'buildcache-oci-layout'}:{dirname}.spack", kind="image", options=opts
        )
        want = _hpc(store[name])
        assert want.get("libc", {}).get("min_version") == "2.34"
        readings = {
            "prefix": from_prefix,
            "environment": env[name],
            "file build cache": cache[name],
            "OCI build-cache image": oci,
        }
        for how, rec in readings.items():
            assert _hpc(rec) == want, f"{name} read from the {how}"
    omp = _hpc(store["omp-fortran-hello"])
    assert omp["cxx"] == {
        "glibcxx_min": "3.4.21",
        "cxxabi_min": "1.3.9",
        "required_by": "/tmp/realspack2/store/opt/spack/linux-x86_64_v4/"
        + ROOTS["omp-fortran-hello"]
        + "/lib/libzhello.so",
    }
    assert omp["openmp"]["versions"] == ["GOMP_4.0", "OMP_1.0"]
    assert omp["fortran"] == {
        "name": "libgfortran",
        "soname": "libgfortran.so.5",
        "versions": ["GFORTRAN_10"],
        "shipped": False,
        "required_by": "/tmp/realspack2/store/opt/spack/linux-x86_64_v4/"
        + ROOTS["omp-fortran-hello"]
        + "/bin/omp-fortran-hello",
    }
