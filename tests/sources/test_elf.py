"""ELF facts against the toolchain's own tools (readelf, cuobjdump), run on real binaries."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.elf import MalformedElf, parse_elf
from nameplate.elf.parse import parse_fatbin
from nameplate.errors import NameplateError, SourceError
from nameplate.normalize import max_version
from tests.conftest import DATA, need

ELF = DATA / "elf"
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
MPICH = LIBDIR / "libmpich.so.12"
OPENMPI = LIBDIR / "libmpi.so.40"


def _readelf(path: Path, *flags: str) -> str:
    need(shutil.which("readelf") is not None, "readelf missing (binutils, scripts/apt.d/core.txt)")
    return subprocess.run(
        ["readelf", "-W", *flags, str(path)], capture_output=True, text=True, check=True
    ).stdout


def _truth(path: Path) -> dict[str, object]:
    """needed/soname/runpath and the highest versions needed, as readelf prints them."""
    dyn = _readelf(path, "-d")
    ver = _readelf(path, "-V")
    names = (
        re.findall(r"Name: (\S+)\s+Flags", ver.split("Version needs section")[-1])
        if ("Version needs section" in ver)
        else []
    )

    def top(prefix: str) -> str | None:
        return max_version(
            n[len(prefix) :] for n in names if n.startswith(prefix) and n[len(prefix)].isdigit()
        )

    soname = re.search(r"\(SONAME\)\s+Library soname: \[(.+?)\]", dyn)
    runpath = re.search(r"\(RUNPATH\)\s+Library runpath: \[(.+?)\]", dyn)
    return {
        "needed": tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn)),
        "soname": soname.group(1) if soname else None,
        "runpath": tuple(runpath.group(1).split(":")) if runpath else (),
        "glibc": top("GLIBC_"),
        "glibcxx": top("GLIBCXX_"),
        "cxxabi": top("CXXABI_"),
    }


def _check_against_readelf(path: Path) -> None:
    facts = parse_elf(path.read_bytes(), where=str(path))
    truth = _truth(path)
    assert facts.needed == truth["needed"]
    assert facts.soname == truth["soname"]
    assert facts.runpath == truth["runpath"]
    assert facts.glibc_min == truth["glibc"]
    assert facts.glibcxx_min == truth["glibcxx"]
    assert facts.cxxabi_min == truth["cxxabi"]


@pytest.mark.parametrize("name", ["ls", "bash", "readelf", "gpg", "tar"])
def test_usr_bin_glibc_floor_matches_readelf(name: str) -> None:
    path = shutil.which(name, path="/usr/bin:/bin")
    need(path is not None, f"{name} not installed")
    assert path is not None
    _check_against_readelf(Path(path).resolve())


def test_libstdcxx_definitions_match_readelf() -> None:
    path = (LIBDIR / "libstdc++.so.6").resolve()
    need(path.exists(), "libstdc++6 missing")
    facts = parse_elf(path.read_bytes(), where=str(path))
    ver = _readelf(path, "-V").split("Version definition section")[1].split("Version needs")[0]
    defined = re.findall(r"Name: (\S+)", ver)
    # readelf lists the base definition (the soname) first and parents after "Parent": skip them
    pattern = r"Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)"
    names = [n for n in re.findall(pattern, ver) if "BASE" not in n[0]]
    assert set(facts.version_definitions) == {n for _, n in names}
    assert "GLIBCXX_3.4.30" in facts.version_definitions  # GCC 12 (Debian 12)
    assert set(defined) >= set(facts.version_definitions)


@pytest.mark.parametrize(
    ("lib", "family", "soname"),
    [(MPICH, "mpich", "libmpich.so.12"), (OPENMPI, "openmpi", "libmpi.so.40")],
)
def test_debian_mpi_libraries(lib: Path, family: str, soname: str) -> None:
    need(lib.exists(), f"{lib.name} missing (scripts/apt.d/images.txt: libmpich12, libopenmpi3)")
    real = lib.resolve()
    _check_against_readelf(real)
    facts = parse_elf(real.read_bytes(), where=str(real))
    assert facts.mpi_soname == soname
    assert facts.mpi_abi == family
    objdump = subprocess.run(
        ["objdump", "-p", str(real)], capture_output=True, text=True, check=True
    ).stdout
    assert f"SONAME               {soname}" in objdump


def test_openmpi_fortran_library_needs_libmpi_40() -> None:
    lib = LIBDIR / "libmpi_mpifh.so.40"
    need(lib.exists(), "libopenmpi3 missing")
    facts = parse_elf(lib.resolve().read_bytes(), where=str(lib))
    assert "libmpi.so.40" in facts.needed
    assert facts.mpi_abi == "openmpi"


def test_x86_isa_level_matches_readelf_notes() -> None:
    path = Path("/usr/bin/ls").resolve()
    notes = _readelf(path, "-n")
    facts = parse_elf(path.read_bytes(), where=str(path))
    m = re.search(r"x86 ISA needed: (\S+)", notes)
    expected = {
        "x86-64-baseline": "x86_64",
        "x86-64-v2": "x86_64_v2",
        "x86-64-v3": "x86_64_v3",
        "x86-64-v4": "x86_64_v4",
    }
    assert facts.x86_isa_level == (expected[m.group(1).rstrip(",")] if m else None)


def test_cuda_fatbin_matches_cuobjdump() -> None:
    lib = ELF / "libsaxpy_a.so"
    facts = parse_elf(lib.read_bytes(), where=str(lib))
    listing = (ELF / "libsaxpy_a.so.cuobjdump.txt").read_text()
    sass = sorted(set(re.findall(r"ELF file\s+\d+: \S+\.(sm_\d+)\.cubin", listing)))
    ptx = sorted(
        {f"compute_{n}" for n in re.findall(r"PTX file\s+\d+: \S+\.sm_(\d+)\.ptx", listing)}
    )
    assert list(facts.cuda_sass) == sass == ["sm_75", "sm_80"]
    assert list(facts.cuda_ptx) == ptx == ["compute_80"]
    assert facts.cuda_runtime_soname == "libcudart.so.13"
    assert facts.cuda_runtime_version == "13"
    truth = (ELF / "libsaxpy_a.so.readelf.txt").read_text()
    assert facts.needed == tuple(re.findall(r"Shared library: \[(.+?)\]", truth))
    assert facts.glibc_min == "2.4" and facts.cxxabi_min == "1.3"
    assert facts.x86_isa_level is None  # the note has only IBT/SHSTK features


def test_stream_and_bytes_agree() -> None:
    lib = ELF / "libsaxpy_a.so"
    with open(lib, "rb") as f:
        assert parse_elf(f, where="x") == parse_elf(lib.read_bytes(), where="x")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x7fEL",
        b"not an elf at all",
        b"\x7fELF\x03\x01" + b"\0" * 58,
        b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x03\x00\x3e\x00" + b"\xff" * 44,
    ],
)
def test_malformed_is_a_source_error(data: bytes) -> None:
    with pytest.raises(SourceError):
        parse_elf(data, where="bad.so")


def test_truncated_real_library_is_malformed() -> None:
    data = (ELF / "libsaxpy_a.so").read_bytes()
    with pytest.raises(MalformedElf, match=r"bad\.so"):
        parse_elf(data[: len(data) // 2], where="bad.so")


def test_fatbin_container_running_past_section_is_refused() -> None:
    blob = bytes.fromhex("50ed55ba") + b"\x01\x00\x10\x00" + (10**6).to_bytes(8, "little")
    with pytest.raises(MalformedElf):
        parse_fatbin(blob, where="x")


@pytest.mark.property
@given(st.binary(max_size=4096), st.integers(0, 27095), st.binary(min_size=1, max_size=64))
def test_fuzz_parse_elf_only_raises_nameplate_errors(junk: bytes, at: int, patch: bytes) -> None:
    real = bytearray((ELF / "libsaxpy_a.so").read_bytes())
    real[at : at + len(patch)] = patch
    for data in (junk, bytes(real), b"\x7fELF" + junk):
        with contextlib.suppress(NameplateError):
            parse_elf(data, where="fuzz")
