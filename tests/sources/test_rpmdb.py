"""A real ``rpmdb.sqlite`` made by rpm 4.18 (tests/data/images/rpmdb): library and image level."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import schema
from nameplate.errors import NameplateError, SourceError
from nameplate.record import Component, Record
from nameplate.sources import ExtractOptions, image
from nameplate.sources.image import ospkgs as _ospkgs
from nameplate.sources.image.ospkgs import find_os_packages, read_rpmdb_sqlite
from nameplate.tree import DirectoryTree
from tests import imagetools as it
from tests.conftest import DATA, FIXED_TIME

FIXTURE = DATA / "images/rpmdb"
RPMDB = (FIXTURE / "rpmdb.sqlite").read_bytes()
OPTS = ExtractOptions(clock=FIXED_TIME, platform="linux/amd64")
OS_RELEASE = b'NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4"\n'


def _ground_truth() -> list[tuple[str, str, str, str, str, str]]:
    """``rpm -qa --qf '%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}'`` lines."""
    rows = []
    for line in (FIXTURE / "rpm-qa.txt").read_text().splitlines():
        name, epoch, version, release, arch, lic = line.split("|")
        rows.append((name, "" if epoch == "(none)" else epoch, version, release, arch, lic))
    return sorted(rows)


def _as_rows(comps: list[Component] | tuple[Component, ...]) -> list[tuple[str, ...]]:
    rows = []
    for c in comps:
        version, release = c.version.rsplit("-", 1)
        epoch = c.id.split("@", 1)[1].split(":", 1)[0] if ":" in c.id.split("@", 1)[1] else ""
        arch = c.id.split(":")[2].split("@")[0]
        rows.append((c.name, epoch, version, release, arch, *c.licenses))
    return sorted(rows)


def test_ground_truth_is_what_make_fixture_wrote() -> None:
    assert [r[0] for r in _ground_truth()] == ["hello-hpc", "libfoo", "mpi-shim"]
    # rpm keeps its database in WAL mode: the case an in-memory copy cannot open as is
    assert RPMDB[:16] == b"SQLite format 3\0" and RPMDB[18:20] == b"\x02\x02"


def test_real_rpmdb_gives_exactly_the_ground_truth() -> None:
    comps = read_rpmdb_sqlite(RPMDB, where="rpmdb.sqlite")
    assert _as_rows(comps) == _ground_truth()
    assert {c.kind for c in comps} == {"os-package"}
    assert {c.ecosystem for c in comps} == {"rpm"}
    assert {c.found_by for c in comps} == {("rpm",)}
    by = {c.name: c for c in comps}
    assert by["hello-hpc"].purl == "pkg:rpm/hello-hpc@1.2-3?arch=noarch"
    assert by["libfoo"].purl == "pkg:rpm/libfoo@0.9-1?arch=x86_64"
    # Vendor "Nameplate Test Vendor" → its first word; the epoch is a qualifier
    assert by["mpi-shim"].purl == "pkg:rpm/nameplate/mpi-shim@4.1.5-7.el9?arch=x86_64&epoch=2"
    assert by["mpi-shim"].id == "rpm:mpi-shim:x86_64@2:4.1.5-7.el9"
    assert by["hello-hpc"].description == "Tiny test package for the nameplate rpmdb fixture"
    assert by["hello-hpc"].homepage == "https://example.org/hello-hpc"
    assert by["libfoo"].properties == {"rpm.sourcerpm": "libfoo-0.9-1.src.rpm"}


def test_namespace_and_distro_from_the_caller() -> None:
    comps = read_rpmdb_sqlite(RPMDB, where="x", distro="rocky-9.4", namespace="rocky")
    assert sorted(c.purl or "" for c in comps) == [
        "pkg:rpm/rocky/hello-hpc@1.2-3?arch=noarch&distro=rocky-9.4",
        "pkg:rpm/rocky/libfoo@0.9-1?arch=x86_64&distro=rocky-9.4",
        "pkg:rpm/rocky/mpi-shim@4.1.5-7.el9?arch=x86_64&distro=rocky-9.4&epoch=2",
    ]


@pytest.mark.parametrize(
    ("vendor", "namespace"),
    [
        ("Red Hat, Inc.", "redhat"),
        ("Fedora Project", "fedora"),
        ("SUSE LLC <https://www.suse.com/>", "suse"),
        ("Rocky Enterprise Software Foundation", "rocky"),
        ("Acme", "acme"),
        ("", None),
    ],
)
def test_vendor_namespaces(vendor: str, namespace: str | None) -> None:
    assert _ospkgs._rpm_namespace("", vendor) == namespace


def test_read_is_private_and_leaves_the_input_alone(tmp_path: Path) -> None:
    data = bytes(RPMDB)
    read_rpmdb_sqlite(data, where="x")
    assert data == RPMDB


def test_packages_must_be_a_table(tmp_path: Path) -> None:
    """A crafted database whose ``Packages`` is an endless view is refused, not run."""
    db = tmp_path / "rpmdb.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(
            "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS "
            "(SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS hnum, x AS blob FROM c"
        )
        conn.commit()
    with pytest.raises(SourceError, match="no Packages table"):
        read_rpmdb_sqlite(db.read_bytes(), where=str(db))


def test_sqlite_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ospkgs, "_SQLITE_STEPS", 0)
    with pytest.raises(SourceError, match=r"rpmdb\.sqlite: not a readable rpm sqlite database"):
        read_rpmdb_sqlite(RPMDB, where="rpmdb.sqlite")


def test_undecodable_sqlite_error_is_a_source_error() -> None:
    """Found by mutating the real database: SQLite's own error message (quoting the broken
    schema) is not UTF-8, so Python raises UnicodeDecodeError instead of sqlite3.Error."""
    data = bytearray(RPMDB)
    data[3974], data[142972] = 253, 241
    with pytest.raises(SourceError, match="not a readable rpm sqlite database"):
        read_rpmdb_sqlite(bytes(data), where="rpmdb.sqlite")


def _rootfs(tmp_path: Path, *, wal: bytes) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_bytes(OS_RELEASE)
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "var/lib/rpm/rpmdb.sqlite").write_bytes(RPMDB)
    (root / "var/lib/rpm/rpmdb.sqlite-wal").write_bytes(wal)
    return root


def _image_record(tmp_path: Path, root: Path) -> Record:
    layer = it.tar_members(
        it.tree_members(root / "etc", "etc") + it.tree_members(root / "var", "var")
    )
    out = tmp_path / "img"
    it.write_layout(out, [it.Image(layers=[layer])], tag="v1")
    (record,) = image.extract_all(f"oci:{out}:v1", OPTS)
    schema.validate(record.to_dict())
    return record


def test_image_with_rpmdb_has_its_os_packages(tmp_path: Path) -> None:
    record = _image_record(tmp_path, _rootfs(tmp_path, wal=b""))
    rpms = [c for c in record.components if c.ecosystem == "rpm"]
    assert _as_rows(rpms) == _ground_truth()
    assert {(c.kind, c.found_by) for c in rpms} == {("os-package", ("rpm",))}
    assert sorted(c.purl or "" for c in rpms) == [
        "pkg:rpm/rocky/hello-hpc@1.2-3?arch=noarch&distro=rocky-9.4",
        "pkg:rpm/rocky/libfoo@0.9-1?arch=x86_64&distro=rocky-9.4",
        "pkg:rpm/rocky/mpi-shim@4.1.5-7.el9?arch=x86_64&distro=rocky-9.4&epoch=2",
    ]
    assert record.hpc.os is not None and (record.hpc.os.name, record.hpc.os.version) == (
        "rocky",
        "9.4",
    )
    assert not [u for u in record.unknowns if u.field == "rpm"]


def test_non_empty_wal_is_an_unknown(tmp_path: Path) -> None:
    found = find_os_packages(DirectoryTree(_rootfs(tmp_path, wal=b"\x37\x7f\x06\x82" + b"\0" * 28)))
    assert len([c for c in found.components if c.ecosystem == "rpm"]) == 3
    (unknown,) = [u for u in found.unknowns if u.field == "rpm"]
    assert unknown.path.endswith("rpmdb.sqlite-wal") and "write-ahead log" in unknown.reason


@pytest.mark.property
@given(st.lists(st.tuples(st.integers(0, len(RPMDB) - 1), st.integers(0, 255)), max_size=16))
def test_fuzz_mutated_real_rpmdb_only_raises_nameplate_errors(
    edits: list[tuple[int, int]],
) -> None:
    data = bytearray(RPMDB)
    for pos, value in edits:
        data[pos] = value
    with contextlib.suppress(NameplateError):
        read_rpmdb_sqlite(bytes(data), where="fuzz")


HEADERS = [blob for _, blob in _ospkgs._sqlite_rows(RPMDB, where="x") if isinstance(blob, bytes)]


@pytest.mark.property
@given(
    st.integers(0, len(HEADERS) - 1),
    st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=16),
    st.integers(0, 4096),
)
def test_fuzz_mutated_real_headers_only_raise_nameplate_errors(
    which: int, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(HEADERS[which])
    for pos, value in edits:
        data[pos % len(data)] = value
    with contextlib.suppress(NameplateError):
        _ospkgs.parse_rpm_header(bytes(data[: len(data) - cut % len(data)]), where="fuzz")


FILES = DATA / "images/rpmdb-files"


def test_rpm_file_lists_are_rpms_own() -> None:
    """DIRNAMES/BASENAMES/DIRINDEXES of a real header give exactly what ``rpm -qa --qf
    '[%{FILENAMES}]'`` lists (rpmdb-files/rpm-ql.txt); the file's package owns them."""
    from nameplate.sources.image.ospkgs import parse_rpm_files

    want = {
        tuple(line.split("|")) for line in (FILES / "rpm-ql.txt").read_text().splitlines() if line
    }
    owners: dict[str, str] = {}
    (comp,) = read_rpmdb_sqlite(
        (FILES / "rpmdb.sqlite").read_bytes(), where="rpmdb.sqlite", owners=owners
    )
    assert {(comp.name, "/" + path) for path in owners} == want
    assert set(owners.values()) == {comp.id}
    with pytest.raises(SourceError):
        parse_rpm_files(b"\0\0\0\x02\0\0\0\x10" + b"\0" * 8, where="x")


def test_mpi_version_from_the_rpm_that_owns_the_library(tmp_path: Path) -> None:
    """``libmpi.so.40`` is a file of ``openmpi-libs 4.1.5-2.el9``: its upstream version."""
    import dataclasses

    from nameplate.record import Hpc, Mpi
    from nameplate.sources.image.record import _mpi_package
    from nameplate.tree import DirectoryTree

    db = tmp_path / "var/lib/rpm"
    db.mkdir(parents=True)
    (db / "rpmdb.sqlite").write_bytes((FILES / "rpmdb.sqlite").read_bytes())
    found = find_os_packages(DirectoryTree(tmp_path))
    owner = found.owner_of("libmpi.so.40")
    assert owner is not None and owner.name == "openmpi-libs"
    hpc = Hpc(mpi=Mpi(implementation="openmpi", abi="openmpi", soname="libmpi.so.40"))
    mpi = _mpi_package(hpc, found).mpi
    assert mpi is not None and (mpi.version, mpi.component) == ("4.1.5", owner.id)
    assert _mpi_package(dataclasses.replace(hpc, mpi=None), found).mpi is None


FILE_HEADERS = [
    blob
    for _, blob in _ospkgs._sqlite_rows((FILES / "rpmdb.sqlite").read_bytes(), where="x")
    if isinstance(blob, bytes)
]


@pytest.mark.property
@given(
    st.lists(st.tuples(st.integers(0, 8191), st.integers(0, 255)), max_size=16),
    st.integers(0, 8192),
)
def test_fuzz_mutated_file_lists_only_raise_nameplate_errors(
    edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(FILE_HEADERS[0])
    for pos, value in edits:
        data[pos % len(data)] = value
    with contextlib.suppress(NameplateError):
        _ospkgs.parse_rpm_files(bytes(data[: len(data) - cut % len(data)]), where="fuzz")
