"""``extract binary``: one ELF file → a valid record; OS package databases and os-release."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import schema
from nameplate.errors import NameplateError, SourceError
from nameplate.sources import ExtractOptions, binary
from nameplate.sources.image.ospkgs import (
    parse_apk_installed,
    parse_dpkg_status,
    parse_os_release,
    parse_rpm_header,
    read_rpmdb_sqlite,
)
from tests.conftest import DATA, FIXED_TIME, need

OPTS = ExtractOptions(clock=FIXED_TIME)


def test_cuda_library_record() -> None:
    (record,) = binary.extract_all(DATA / "elf/libsaxpy_a.so", OPTS)
    schema.validate(record.to_dict())
    assert record.subject.kind == "binary" and record.subject.digest
    (gpu,) = record.hpc.gpu
    assert gpu.architectures == ("sm_75", "sm_80") and gpu.ptx == ("compute_80",)
    assert gpu.version == "13" and gpu.min_driver == "580"
    assert record.hpc.libc is not None and record.hpc.libc.min_version == "2.4"
    assert record.evidence[0].kind == "elf"


def test_openmpi_library_record() -> None:
    lib = Path("/usr/lib/x86_64-linux-gnu/libmpi.so.40")
    need(lib.exists(), "libopenmpi3 missing (scripts/apt.d/images.txt)")
    (record,) = binary.extract_all(lib, OPTS)
    schema.validate(record.to_dict())
    assert record.hpc.mpi is not None
    assert (record.hpc.mpi.abi, record.hpc.mpi.soname, record.hpc.mpi.abi_version) == (
        "openmpi",
        "libmpi.so.40",
        "40",
    )


def test_detect_and_errors(tmp_path: Path) -> None:
    assert binary.detect(DATA / "elf/libsaxpy_a.so")
    assert not binary.detect(DATA / "elf/PROVENANCE.md")
    bad = tmp_path / "bad.so"
    bad.write_bytes(b"\x7fELF" + b"\0" * 10)
    with pytest.raises(SourceError, match=r"bad\.so"):
        binary.extract_all(bad, OPTS)


def test_real_dpkg_status_and_os_release() -> None:
    comps = parse_dpkg_status((DATA / "images/debian12/dpkg-status").read_bytes())
    names = {c.name for c in comps}
    assert {"libc6", "dpkg", "bash"} <= names
    libc = next(c for c in comps if c.name == "libc6")
    assert libc.purl is not None and libc.purl.startswith("pkg:deb/debian/libc6@2.36")
    assert libc.purl.endswith("?arch=amd64")
    release = parse_os_release((DATA / "images/debian12/os-release").read_bytes())
    assert (release["ID"], release["VERSION_ID"]) == ("debian", "12")


def test_apk_and_not_installed_dpkg() -> None:
    apk = b"C:Q1x=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\nT:the musl c library\no:musl\n\nP:busybox\nV:1.36.1-r5\n"
    comps = parse_apk_installed(apk)
    assert [c.purl for c in comps] == [
        "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64",
        "pkg:apk/alpine/busybox@1.36.1-r5",
    ]
    status = b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n"
    assert parse_dpkg_status(status) == []


def test_rpm_inputs_that_are_not_databases() -> None:
    with pytest.raises(SourceError):
        read_rpmdb_sqlite(b"SQLite format 3\0" + b"\0" * 100, where="rpmdb.sqlite")
    with pytest.raises(SourceError):
        parse_rpm_header(b"\0\0\0\x05\0\0\0\x10", where="h")


@pytest.mark.property
@given(st.binary(max_size=2048))
def test_fuzz_os_databases_only_raise_nameplate_errors(data: bytes) -> None:
    for fn in (parse_dpkg_status, parse_apk_installed, parse_os_release):
        fn(data)
    for fn2 in (read_rpmdb_sqlite, parse_rpm_header):
        with contextlib.suppress(NameplateError):
            fn2(data, where="fuzz")
