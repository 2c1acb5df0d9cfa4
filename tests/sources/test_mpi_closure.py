"""MPI from what the loader finds: programs compiled here with gcc against Debian's MPICH and
Open MPI, alone and in images that ship (or do not ship) the MPI library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import tests.imagetools as it
from nameplate.compat import check
from nameplate.compat.profile import HostMpi
from nameplate.compat.report import Verdict
from nameplate.sources import extract_all
from nameplate.sources._common import ExtractOptions
from tests.compat._helpers import MPICH, OPENMPI, cpu_host
from tests.conftest import need

LIB = Path("/usr/lib/x86_64-linux-gnu")
SOURCE = """#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank; MPI_Init(&argc, &argv); MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  printf("rank %d\\n", rank); MPI_Finalize(); return 0; }
"""
FLAVOURS = {
    "mpich": (["-I/usr/include/x86_64-linux-gnu/mpich"], ["-l:libmpich.so.12"]),
    "openmpi": (
        ["-I/usr/lib/x86_64-linux-gnu/openmpi/include"],
        ["-L/usr/lib/x86_64-linux-gnu/openmpi/lib", "-lmpi"],
    ),
}
ICELAKE = "linux-debian12-icelake"


def _compile(tmp: Path, flavour: str) -> Path:
    need(shutil.which("gcc") is not None, "gcc missing (scripts/apt.d/easybuild.txt)")
    inc, libs = FLAVOURS[flavour]
    need(Path(inc[0][2:], "mpi.h").is_file(), f"{flavour} headers missing (scripts/apt.d/mpi.txt)")
    src = tmp / "m.c"
    src.write_text(SOURCE)
    out = tmp / f"app-{flavour}"
    subprocess.run(["gcc", *inc, str(src), "-o", str(out), *libs], check=True)
    return out


@pytest.mark.parametrize("flavour", ["mpich", "openmpi"])
def test_program_needs_a_host_mpi(flavour: str, tmp_path: Path) -> None:
    app = _compile(tmp_path, flavour)
    (rec,) = extract_all(app, kind="binary", options=ExtractOptions())
    mpi = rec.hpc.mpi
    assert mpi is not None and mpi.shipped is False and mpi.component is None
    assert mpi.abi == flavour
    other = OPENMPI if flavour == "mpich" else MPICH
    # Debian's MPICH is libmpich.so.12 (what the program needs), as ldconfig lists it here
    debian_mpich = HostMpi(soname="libmpich.so.12", abi="mpich", implementation="mpich")
    same = debian_mpich if flavour == "mpich" else OPENMPI
    bad = check(rec, cpu_host(ICELAKE, mpi=(other,)), only=["mpi"])
    assert bad.verdict is Verdict.FAIL and bad.codes("fail") == ("mpi.abi-mismatch",)
    good = check(rec, cpu_host(ICELAKE, mpi=(same,)), only=["mpi"])
    assert good.verdict is Verdict.PASS and good.codes("pass") == ("mpi.abi",)
    if flavour == "mpich":  # the MPICH ABI under another name: ld.so finds no libmpich.so.12
        upstream = check(rec, cpu_host(ICELAKE, mpi=(MPICH,)), only=["mpi"])
        assert upstream.codes("fail") == ("mpi.soname-missing",)
    none = check(rec, cpu_host(ICELAKE), only=["mpi"])
    assert none.codes("fail") == ("mpi.missing",)


def _image(tmp: Path, app: Path, *, ship: bool) -> str:
    members = [
        it.Member("usr", "dir"),
        it.Member("usr/bin", "dir"),
        it.Member("usr/bin/app", data=app.read_bytes(), mode=0o755),
        it.Member("usr/lib", "dir"),
        it.Member("usr/lib/x86_64-linux-gnu", "dir"),
    ]
    if ship:
        real = (LIB / "libmpich.so.12").resolve()
        members += [
            it.Member(f"usr/lib/x86_64-linux-gnu/{real.name}", data=real.read_bytes()),
            it.Member("usr/lib/x86_64-linux-gnu/libmpich.so.12", "symlink", link=real.name),
        ]
    out = tmp / ("ships" if ship else "bare")
    it.write_layout(
        out,
        [
            it.Image(
                layers=[it.tar_members(members)],
                config_extra={"config": {"Entrypoint": ["/usr/bin/app"]}},
            )
        ],
    )
    return f"oci:{out}:latest"


def test_image_that_ships_its_mpi_is_contained(tmp_path: Path) -> None:
    need((LIB / "libmpich.so.12").exists(), "libmpich.so.12 missing (scripts/apt.d/mpi.txt)")
    app = _compile(tmp_path, "mpich")
    (ships,) = extract_all(_image(tmp_path, app, ship=True), options=ExtractOptions())
    assert ships.hpc.mpi is not None and ships.hpc.mpi.shipped is True
    report = check(ships, cpu_host(ICELAKE, mpi=(OPENMPI,)), only=["mpi"])
    assert report.verdict is Verdict.PASS and report.codes() == ("mpi.contained",)
    assert ships.hpc.libc is not None and ships.hpc.libc.min_version  # from the app and libmpich
    (bare,) = extract_all(_image(tmp_path, app, ship=False), options=ExtractOptions())
    assert bare.hpc.mpi is not None and bare.hpc.mpi.shipped is False
    report = check(bare, cpu_host(ICELAKE, mpi=(OPENMPI,)), only=["mpi"])
    assert report.codes("fail") == ("mpi.abi-mismatch",)
    assert any(u.field == "elf.closure" for u in ships.unknowns)  # libmpich's own needs


def test_image_ld_so_cache_and_libc_release(tmp_path: Path) -> None:
    """A library in /opt/lib is found only through the image's /etc/ld.so.cache (written by the
    real ldconfig for that root); the C library's version is read from libc.so.6 itself (no
    package database in the image), and equals what ``ldd --version`` says of the same file."""
    need(shutil.which("ldconfig") is not None and shutil.which("gcc") is not None, "ldconfig/gcc")
    root = tmp_path / "root"
    (root / "opt/lib").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "usr/bin").mkdir(parents=True)
    (root / "lib/x86_64-linux-gnu").mkdir(parents=True)
    (tmp_path / "f.c").write_text("int f(void) { return 7; }\n")
    (tmp_path / "m.c").write_text("int f(void);\nint main(void) { return f(); }\n")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libf.so.1", "-o", str(root / "opt/lib/libf.so.1"),
         str(tmp_path / "f.c")],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["gcc", "-o", str(root / "usr/bin/app"), str(tmp_path / "m.c"), str(root / "opt/lib/libf.so.1")],
        check=True,
    )  # fmt: skip
    libc = (LIB / "libc.so.6").resolve()
    (root / "lib/x86_64-linux-gnu/libc.so.6").write_bytes(libc.read_bytes())
    (root / "etc/ld.so.conf").write_text("/opt/lib\n")
    subprocess.run(["ldconfig", "-X", "-r", str(root)], check=True)
    assert (root / "etc/ld.so.cache").is_file()
    out = tmp_path / "layout"
    it.write_layout(
        out,
        [
            it.Image(
                layers=[it.tar_members(it.tree_members(root, "."))],
                config_extra={"config": {"Entrypoint": ["app"]}},
            )
        ],
    )
    (rec,) = extract_all(f"oci:{out}:latest", options=ExtractOptions())
    ldd = subprocess.run(["ldd", "--version"], capture_output=True, text=True).stdout
    release = ldd.splitlines()[0].rsplit(" ", 1)[-1]
    assert rec.hpc.libc is not None and rec.hpc.libc.version == release
    loaded = {e.path for e in rec.evidence if e.kind == "elf"}
    assert "/opt/lib/libf.so.1" in loaded and "/usr/bin/app" in loaded
    assert not [u for u in rec.unknowns if u.field == "elf.closure" and "libf" in u.reason]
