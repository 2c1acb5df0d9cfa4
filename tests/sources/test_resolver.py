"""The loader-faithful resolver against the loader itself: ``ldd`` output recorded on the real
Spack store, ``ldd`` run here on this machine's own programs, and ``ldconfig -p`` on caches
``ldconfig`` writes in all three formats."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.elf.ldcache import MalformedLdCache, parse_ldcache
from nameplate.elf.resolver import Resolver
from nameplate.errors import SourceError
from nameplate.normalize import max_version
from nameplate.tree import DirectoryTree
from tests.conftest import DATA, need
from tests.sources._real_store import real_store

REAL = DATA / "spack" / "spack1.3-real-store"
TRUTH = REAL / "ground-truth"
RECORDED = "/tmp/realspack2/store/opt/spack"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real store's ``opt/spack``, its links restored (``tests/sources/_real_store.py``)."""
    return real_store(tmp_path_factory.mktemp("real-store"))


def _store_resolver(store: Path) -> Resolver:
    tree = DirectoryTree(store)
    installs = json.loads((store / ".spack-db/index.json").read_text())["database"]
    mounts = [
        (rec["path"], rec["path"].removeprefix(RECORDED + "/"))
        for rec in installs["installs"].values()
        if rec["path"].startswith(RECORDED)
    ]
    return Resolver(tree, mounts=mounts)


def _ldd_truth(path: Path) -> tuple[str, list[tuple[str, str]]]:
    lines = path.read_text().splitlines()
    entry = lines[0].split("# file: ", 1)[1]
    pairs = [(m[1], m[2]) for line in lines if (m := re.match(r"\s+(\S+) => (\S+)", line))]
    return entry, pairs


@pytest.mark.parametrize("truth", sorted(TRUTH.glob("*.ldd.txt")), ids=lambda p: p.name)
def test_store_closure_equals_ldd(store: Path, truth: Path) -> None:
    """Every library ``ldd`` found inside the store is found at the same path; what it found
    outside the store (the host's glibc and GCC runtime) is outside the tree for us too."""
    res = _store_resolver(store)
    entry, pairs = _ldd_truth(truth)
    closure = res.closure(entry.removeprefix(RECORDED + "/"))
    assert closure is not None and closure.entry == entry
    ours = {link.name: link for link in closure.links}
    checked = 0
    for name, path in pairs:
        if not path.startswith(RECORDED):
            assert name not in ours or ours[name].path is None, (name, ours[name])
            continue
        on_disk = res.to_tree(path)
        assert on_disk is not None
        if (store / on_disk).resolve().is_file():
            assert ours[name].path == path, (name, ours.get(name))
            checked += 1
        else:  # pruned from the fixture (REMOVED-FILES.tsv): the loader would not find it here
            assert name not in ours or ours[name].path is None
    assert checked == sum(
        1
        for _, p in pairs
        if p.startswith(RECORDED) and (store / p.removeprefix(RECORDED + "/")).resolve().is_file()
    )


def test_store_ldd_facts_worth_testing(store: Path) -> None:
    """The README's loader facts: the program's libquadmath/libstdc++/libgcc_s come through its
    DT_RPATH (gcc-runtime), but libgfortran read alone has no RPATH: its needs are the host's."""
    res = _store_resolver(store)
    prog = res.closure(
        "linux-x86_64_v4/omp-fortran-hello-1.0-cw5cxc5hhixi7gulbvy42ghde7cah776/bin/omp-fortran-hello"
    )
    assert prog is not None
    by = {link.name: link for link in prog.links}
    assert by["libgfortran.so.5"].via and by["libgfortran.so.5"].via.startswith("RPATH of")
    assert by["libzstd.so.1"].path and by["libzstd.so.1"].path.endswith("/lib/libzstd.so.1")
    alone = res.closure(
        "linux-x86_64_v4/gcc-runtime-12.2.0-6ax4uhtlybyiruf6b2pvqsnpkvvpodzi/lib/libgfortran.so.5"
    )
    assert alone is not None and all(link.path is None and link.host for link in alone.links)


def _readelf_needs(path: Path) -> list[str]:
    return re.findall(r"Name: (GLIBC_[\d.]+)", path.read_text().split("version needs")[1])


def test_root_floor_is_the_max_over_its_closure(store: Path) -> None:
    """The program's libc floor equals the maximum of ``readelf -V`` over the objects it loads
    that are in the fixture (the truth files), and the record names the file that needs it."""
    from nameplate import extract_all
    from nameplate.sources._common import ExtractOptions

    (rec,) = [
        r
        for r in extract_all(store, options=ExtractOptions())
        if r.subject.name == "omp-fortran-hello"
    ]
    files = ["omp-fortran-hello", "libzhello.so", "libzstd.so.1.5.4", "libgfortran.so.5"]
    truth = max_version(
        v.removeprefix("GLIBC_") for f in files for v in _readelf_needs(TRUTH / f"{f}.readelf.txt")
    )
    assert rec.hpc.libc is not None and rec.hpc.libc.min_version == truth == "2.34"
    assert rec.hpc.libc.version == "2.36"  # the glibc external: the build libc
    assert rec.hpc.cxx is not None and rec.hpc.cxx.glibcxx_min == "3.4.21"
    assert rec.hpc.cxx.required_by and rec.hpc.cxx.required_by.endswith("/lib/libzhello.so")
    assert rec.hpc.openmp is not None and rec.hpc.openmp.versions == ("GOMP_4.0", "OMP_1.0")
    assert rec.hpc.fortran is not None and rec.hpc.fortran.versions == ("GFORTRAN_10",)
    (zstd,) = [r for r in extract_all(store, options=ExtractOptions()) if r.subject.name == "zstd"]
    # zstd loads only its own library: no libstdc++ from gcc-runtime's unrelated files
    assert zstd.hpc.cxx is None and zstd.hpc.openmp is None


def test_closure_unknowns_stay_with_their_root(store: Path) -> None:
    """An unresolved library of one root's file (libzhello.so needs liblzma.so.5, pruned from
    the fixture) is an unknown of that root's record only: zstd's DAG holds no libzhello.so.
    The unknown names the file by its recorded path (``/tmp/realspack2/...``), not by where the
    store is read."""
    from nameplate import extract_all
    from nameplate.sources._common import ExtractOptions

    records = {r.subject.name: r for r in extract_all(store, options=ExtractOptions())}
    about = lambda r: [u for u in r.unknowns if u.field == "elf.closure"]
    hello = about(records["omp-fortran-hello"])
    assert any(u.path.endswith("/lib/libzhello.so") for u in hello), hello
    assert about(records["zstd"]) == [], about(records["zstd"])


# -- this machine's own programs, against ldd ------------------------------------------------


def _ldd(path: str) -> dict[str, str]:
    need(shutil.which("ldd") is not None, "ldd missing (libc-bin)")
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    return {m[1]: m[2] for line in out.splitlines() if (m := re.match(r"\s+(\S+) => (\S+)", line))}


@pytest.mark.parametrize(
    "program", ["/usr/bin/readelf", "/usr/bin/gcc", "/usr/bin/openssl", "/bin/ls"]
)
def test_system_closure_equals_ldd(program: str) -> None:
    """The root file system as a rooted tree: ld.so.cache and the default directories give
    exactly what ``ldd`` prints (paths compared after resolving links, as the loader opens)."""
    if not Path(program).is_file() or Path(program).read_bytes()[:4] != b"\x7fELF":
        pytest.skip(f"{program}: not an ELF program here")
    res = Resolver(DirectoryTree("/"), rooted=True)
    closure = res.closure(program.lstrip("/"))
    assert closure is not None
    truth = _ldd(program)
    ours = {link.name: link.path for link in closure.links if link.path}
    for name, path in truth.items():
        assert name in ours, (name, closure.links)
        assert Path(ours[name]).resolve() == Path(path).resolve(), name


# -- ld.so.cache ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["old", "new", "compat"])
def test_ldcache_equals_ldconfig_p(fmt: str, tmp_path: Path) -> None:
    need(shutil.which("ldconfig") is not None, "ldconfig missing (libc-bin)")
    cache = tmp_path / f"ld.so.cache.{fmt}"
    subprocess.run(["ldconfig", "-X", "-c", fmt, "-C", str(cache)], check=True)
    printed = subprocess.run(
        ["ldconfig", "-p", "-C", str(cache)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    parsed = parse_ldcache(cache.read_bytes(), where=str(cache))
    truth = [
        (m[1], m[2]) for line in printed[1:] if (m := re.match(r"\s+(\S+) \(.*\) => (\S+)", line))
    ]
    assert [(e.name, e.path) for e in parsed.entries] == truth
    assert parsed.format == fmt
    assert int(printed[0].split()[0]) == len(parsed.entries)


@given(st.binary(max_size=512))
@pytest.mark.property
def test_ldcache_fuzz_raises_only_typed_errors(data: bytes) -> None:
    for blob in (data, b"glibc-ld.so.cache1.1" + data, b"ld.so-1.7.0\0" + data):
        try:
            parse_ldcache(blob, where="fuzz")
        except MalformedLdCache:
            pass


def test_ldcache_refuses_garbage() -> None:
    with pytest.raises(SourceError, match=r"not an ld\.so\.cache"):
        parse_ldcache(b"hello", where="x")
    with pytest.raises(SourceError, match="nlibs"):
        parse_ldcache(b"glibc-ld.so.cache1.1" + b"\xff" * 28, where="x")


# -- EasyBuild: RPATH and the module environment ----------------------------------------------


def test_easybuild_closure_under_module_load() -> None:
    """tinygreet's RPATH lists tinyhello's lib64/ (empty); its libtinyhello.so is found in
    tinyhello's lib/, which tinyhello's module puts on LD_LIBRARY_PATH. The floor is the max of
    readelf -V over the two."""
    need(shutil.which("readelf") is not None, "readelf missing (binutils)")
    from nameplate import extract_all
    from nameplate.sources._common import ExtractOptions

    install = DATA / "easybuild" / "install"
    records = {r.subject.name: r for r in extract_all(install, options=ExtractOptions())}
    rec = records["tinygreet/2.1-GCCcore-12.2.0-demo"]
    loaded = {e.path.rsplit("/", 1)[-1]: e for e in rec.evidence if e.kind == "elf"}
    assert set(loaded) == {"tinygreet", "libtinyhello.so"}
    assert loaded["libtinyhello.so"].component == "easybuild:tinyhello/1.0-GCCcore-12.2.0"
    files = [
        install / "software/tinygreet/2.1-GCCcore-12.2.0-demo/bin/tinygreet",
        install / "software/tinyhello/1.0-GCCcore-12.2.0/lib/libtinyhello.so",
    ]
    needs = [
        v.removeprefix("GLIBC_")
        for f in files
        for v in re.findall(
            r"Name: (GLIBC_[\d.]+)",
            subprocess.run(["readelf", "-V", str(f)], capture_output=True, text=True).stdout,
        )
    ]
    assert rec.hpc.libc is not None and rec.hpc.libc.min_version == max_version(needs)


def test_check_warns_when_the_closure_is_incomplete(store: Path) -> None:
    """The fixture lacks gcc-runtime's libstdc++.so.6 (a copy of Debian's, which needs
    GLIBC_2.36) and xz's liblzma: the record's floor, 2.34, leaves them out. ``check`` on a
    glibc 2.34 host may not pass in silence: it warns that the floors are over an incomplete
    closure, naming what was not read."""
    from nameplate import extract_all
    from nameplate.compat import check
    from nameplate.compat.profile import HostLibc
    from nameplate.sources._common import ExtractOptions
    from tests.compat._helpers import cpu_host

    (rec,) = [
        r
        for r in extract_all(store, options=ExtractOptions())
        if r.subject.name == "omp-fortran-hello"
    ]
    host = cpu_host("linux-unknown-sapphirerapids", libc=HostLibc(family="glibc", version="2.34"))
    report = check(rec, host, only=["libc", "closure"])
    assert report.codes("pass") == ("libc.ok",)
    warns = {f.code: f.reason for f in report.findings if f.severity == "warn"}
    assert set(warns) == {"closure.unread", "closure.outside"}, report.to_text()
    assert "could not be read" in warns["closure.unread"]
    assert "gcc-runtime-12.2.0" in warns["closure.unread"]
    assert "liblzma.so.5" in warns["closure.outside"]
