"""A runtime library missing from a tree is the host's only where nothing said the tree would
hold it: a C++ program compiled here with g++, its ``DT_RUNPATH`` into the install (checked
with ``readelf -d``) and libstdc++ left out, is an ``elf.closure`` unknown and ``check`` warns
(``closure.outside``); the same program without a RUNPATH into the tree still takes libstdc++
from the host, silently as before. For a Spack prefix, an EasyBuild install and one binary."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nameplate.compat import check
from nameplate.record import Record
from nameplate.sources import extract_all
from nameplate.sources._common import ExtractOptions
from tests.compat._helpers import cpu_host
from tests.conftest import DATA, FIXED_TIME, need

OPTS = ExtractOptions(clock=FIXED_TIME)
SOURCE = '#include <iostream>\nint main() { std::cout << "hi" << std::endl; return 0; }\n'
#: A real Spack 1.3 install's spec (tests/data/spack/spack1.3-real-store/README.md).
SPACK = DATA / "spack/spack1.3-real-store/opt/spack/linux-x86_64_v4"
HELLO = "omp-fortran-hello-1.0-cw5cxc5hhixi7gulbvy42ghde7cah776"
#: A real EasyBuild install, and the install dir its build log records.
EB = DATA / "easybuild/install/software/tinyhello/1.0-GCCcore-12.2.0"
EB_RECORDED = "/tmp/eb-offline/fixture/software/tinyhello/1.0-GCCcore-12.2.0"
HOST = "linux-debian12-icelake"


def _compile(out: Path, *runpath: str) -> Path:
    """A C++ program that needs libstdc++.so.6, with ``runpath`` as its DT_RUNPATH (as
    ``readelf -d`` shows)."""
    need(shutil.which("g++") is not None, "g++ missing (scripts/apt.d/easybuild.txt)")
    need(shutil.which("readelf") is not None, "readelf missing (binutils)")
    src = out.parent / "hello.cpp"
    src.write_text(SOURCE)
    flags = [f"-Wl,-rpath,{d}" for d in runpath]
    subprocess.run(["g++", str(src), "-o", str(out), *flags], check=True)
    dynamic = subprocess.run(
        ["readelf", "-d", str(out)], check=True, capture_output=True, text=True
    ).stdout
    assert "[libstdc++.so.6]" in dynamic
    paths = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r\w*path: \[(.*)\]", dynamic)
    assert paths == ([":".join(runpath)] if runpath else []), dynamic
    return out


def _ldd(binary: Path, cwd: Path | None = None) -> dict[str, str]:
    """What the loader itself resolves (``ldd``, on a program this test compiled): soname ->
    path."""
    need(shutil.which("ldd") is not None, "ldd missing (libc-bin)")
    out = subprocess.run(
        ["ldd", str(binary)], check=True, capture_output=True, text=True, cwd=cwd
    ).stdout
    return dict(re.findall(r"^\s*(\S+) => (\S+)", out, re.M))


def _libstdcxx(record: Record) -> list[str]:
    return [
        u.reason
        for u in record.unknowns
        if u.field == "elf.closure" and "needs libstdc++.so.6" in u.reason
    ]


def _warns(record: Record) -> dict[str, str]:
    report = check(record, cpu_host(HOST), only=["closure"])
    return {f.code: f.reason for f in report.findings if f.severity == "warn"}


def _spack_prefix(tmp: Path) -> Path:
    prefix = tmp / HELLO
    (prefix / ".spack").mkdir(parents=True)
    (prefix / "bin").mkdir()
    (prefix / "lib").mkdir()
    shutil.copy(SPACK / HELLO / ".spack/spec.json", prefix / ".spack/spec.json")
    return prefix


def test_spack_runpath_into_the_prefix_without_libstdcxx_is_unknown(tmp_path: Path) -> None:
    prefix = _spack_prefix(tmp_path)
    _compile(prefix / "bin/app", str(prefix / "lib"))
    (record,) = extract_all(prefix, kind="spack", options=OPTS)
    (reason,) = _libstdcxx(record)
    assert f"where its RPATH/RUNPATH points ({prefix}/lib" in reason
    assert "not assumed from the host" in reason
    warns = _warns(record)
    assert set(warns) == {"closure.outside"} and "libstdc++.so.6" in warns["closure.outside"]


def test_spack_runpath_into_the_prefix_with_libstdcxx_finds_it(tmp_path: Path) -> None:
    prefix = _spack_prefix(tmp_path)
    _compile(prefix / "bin/app", str(prefix / "lib"))
    lib = Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
    need(lib.exists(), "libstdc++6 missing")
    shutil.copy(lib.resolve(), prefix / "lib/libstdc++.so.6")
    (record,) = extract_all(prefix, kind="spack", options=OPTS)
    assert not _libstdcxx(record)
    assert any(e.path.endswith("/lib/libstdc++.so.6") for e in record.evidence), record.evidence
    # the loader takes the same file
    assert _ldd(prefix / "bin/app")["libstdc++.so.6"] == str(prefix / "lib/libstdc++.so.6")


@pytest.mark.parametrize("runpath", [(), ("/usr/lib/x86_64-linux-gnu",)], ids=["none", "host"])
def test_spack_search_outside_the_prefix_is_the_hosts(
    tmp_path: Path, runpath: tuple[str, ...]
) -> None:
    """No RUNPATH, or one that names a folder outside the tree too: libstdc++ may be there,
    the host's (as before: no unknown, no warning)."""
    prefix = _spack_prefix(tmp_path)
    dirs = (str(prefix / "lib"), *runpath) if runpath else ()
    _compile(prefix / "bin/app", *dirs)
    (record,) = extract_all(prefix, kind="spack", options=OPTS)
    assert not [u for u in record.unknowns if u.field == "elf.closure"]
    assert record.hpc.cxx is not None and record.hpc.cxx.required_by
    assert "closure.outside" not in _warns(record)


def _easybuild_install(tmp: Path, *runpath: str) -> Path:
    install = tmp / "tinyhello"
    shutil.copytree(EB, install)
    app = install / "bin/tinyhello"
    app.unlink()
    _compile(app, *runpath)
    return install


def test_easybuild_runpath_into_the_install_without_libstdcxx_is_unknown(tmp_path: Path) -> None:
    """The RUNPATH names the install dir the build log records (mounted on the copy)."""
    install = _easybuild_install(tmp_path, f"{EB_RECORDED}/lib")
    (record,) = extract_all(install, kind="easybuild", options=OPTS)
    (reason,) = _libstdcxx(record)
    assert f"where its RPATH/RUNPATH points ({EB_RECORDED}/lib" in reason
    assert "libstdc++.so.6" in _warns(record)["closure.outside"]


def test_easybuild_without_runpath_takes_libstdcxx_from_the_host(tmp_path: Path) -> None:
    install = _easybuild_install(tmp_path)
    (record,) = extract_all(install, kind="easybuild", options=OPTS)
    assert not _libstdcxx(record)
    assert "closure.outside" not in _warns(record)


def test_binary_runpath_origin_without_libstdcxx_is_unknown(tmp_path: Path) -> None:
    """A binary whose RUNPATH is its own folder (``$ORIGIN``) ships its libraries beside it:
    libstdc++ not there is an unknown, and ``check`` warns."""
    app = _compile(tmp_path / "app", "$ORIGIN")
    (record,) = extract_all(app, kind="binary", options=OPTS)
    (reason,) = _libstdcxx(record)
    assert f"where its RPATH/RUNPATH points ({tmp_path.resolve()}" in reason
    assert "libstdc++.so.6" in _warns(record)["closure.outside"]
    assert [u.field for u in record.unknowns] == ["elf.closure"]  # libc.so.6 is the host's


def test_binary_without_runpath_takes_everything_from_the_host(tmp_path: Path) -> None:
    app = _compile(tmp_path / "app")
    (record,) = extract_all(app, kind="binary", options=OPTS)
    assert record.unknowns == ()
    assert _warns(record) == {}
    assert record.hpc.cxx is not None and record.hpc.cxx.glibcxx_min


def test_binary_runpath_origin_with_libstdcxx_beside_it(tmp_path: Path) -> None:
    app = _compile(tmp_path / "app", "$ORIGIN")
    lib = Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
    need(lib.exists(), "libstdc++6 missing")
    shutil.copy(lib.resolve(), tmp_path / "libstdc++.so.6")
    (record,) = extract_all(app, kind="binary", options=OPTS)
    assert record.unknowns == ()
    assert _ldd(app)["libstdc++.so.6"] == str(tmp_path / "libstdc++.so.6")  # as the loader


def test_binary_runpath_with_a_relative_folder_takes_libstdcxx_from_the_host(
    tmp_path: Path,
) -> None:
    """A relative RUNPATH element (``lib``) is searched by ld.so relative to the working
    directory, which is not the tree: not every folder searched lies inside it, so libstdc++
    missing beside the file is the host's (it was an unknown 'not assumed from the host')."""
    app = _compile(tmp_path / "app", "$ORIGIN", "lib")
    (record,) = extract_all(app, kind="binary", options=OPTS)
    assert not _libstdcxx(record)
    assert _warns(record) == {}
    # the loader agrees that "lib" is the working directory's: from elsewhere it takes the
    # host's libstdc++, from a folder holding lib/libstdc++.so.6 that one
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "lib").mkdir(parents=True)
    assert not _ldd(app, cwd=tmp_path)["libstdc++.so.6"].startswith(str(tmp_path))
    lib = Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
    need(lib.exists(), "libstdc++6 missing")
    shutil.copy(lib.resolve(), elsewhere / "lib/libstdc++.so.6")
    assert _ldd(app, cwd=elsewhere)["libstdc++.so.6"] == "lib/libstdc++.so.6"
