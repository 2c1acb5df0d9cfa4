"""Regressions: catalogs are never created or overwritten by a reader, nor written into an
unrelated database; missing references, files and deep JSON are one-line errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from nameplate.cli import cli
from nameplate.compat.catalog import Catalog
from nameplate.errors import CatalogError

from ._helpers import HOSTS, RECORDS
from .postgres import fresh_schema

HDF5 = str(RECORDS / "spack-hdf5-icelake-openmpi.record.json")
H200 = str(HOSTS / "linux-h200-icelake.host.json")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def one_line_error(stderr: str, *parts: str) -> None:
    assert stderr.startswith("error: "), stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    for part in parts:
        assert part in stderr, stderr


def unrelated_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE foo (x)")
    conn.commit()
    conn.close()


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


# -- query reads, never creates ---------------------------------------------------------------


def test_query_does_not_touch_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    code, _, stderr = run("query", "--catalog", str(empty), "hdf5")
    assert code == 3
    one_line_error(stderr, "empty.json", "not a nameplate catalog")
    assert empty.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.json"]


def test_query_does_not_create_a_missing_catalog(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "c.db"
    code, _, stderr = run("query", "--catalog", str(missing), "hdf5")
    assert code == 3
    one_line_error(stderr, str(missing), "no such catalog")
    assert not (tmp_path / "nonexistent").exists()
    code, _, stderr = run("query", "--catalog", f"sqlite:///{missing}", "hdf5")
    assert code == 3 and not (tmp_path / "nonexistent").exists()


def test_query_refuses_unknown_schemes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("mysql://x/y", "mysql://user:secret@x/y", "http://x/c.db"):
        code, _, stderr = run("query", "--catalog", url, "hdf5")
        assert code == 3
        one_line_error(stderr, "not a catalog URL")
        assert "secret" not in stderr
        code, _, stderr = run("index", "--catalog", url, HDF5)
        assert code == 3 and "not a catalog URL" in stderr
    assert list(tmp_path.iterdir()) == []


def test_query_refuses_an_unrelated_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    unrelated_db(other)
    code, _, stderr = run("query", "--catalog", str(other), "hdf5")
    assert code == 3
    one_line_error(stderr, "other.db", "not a nameplate catalog")
    assert tables(other) == {"foo"}


def test_query_opens_read_only(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    code, _, _ = run("index", "--catalog", str(db), HDF5)
    assert code == 0
    with Catalog.open(db, readonly=True) as cat:
        assert cat.count() == 1
        with pytest.raises(CatalogError, match=r"write failed.*readonly"):
            cat.add_many([cat.query("hdf5")[0].record()])
    db.chmod(0o444)
    code, stdout, _ = run("query", "--catalog", str(db), "hdf5")
    assert code == 0 and "hdf5@1.14.6" in stdout


# -- index writes only into a catalog, and only once its inputs are read -----------------------


def test_index_refuses_an_unrelated_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    unrelated_db(other)
    before = other.read_bytes()
    code, _, stderr = run("index", "--catalog", str(other), HDF5)
    assert code == 3
    one_line_error(stderr, "other.db", "not a nameplate catalog")
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_index_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    record.write_bytes(Path(HDF5).read_bytes())
    code, _, stderr = run("index", "--catalog", str(record), HDF5)
    assert code == 3
    one_line_error(stderr, "r.json", "not a nameplate catalog")
    assert record.read_bytes() == Path(HDF5).read_bytes()


def test_index_leaves_no_catalog_when_its_input_fails(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "c.db"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for args in ([HDF5, str(bad)], [str(tmp_path / "nope.json")], [f"oci:{tmp_path / 'none'}"]):
        code, _, stderr = run("index", "--catalog", str(db), *args)
        assert code == 3, stderr
        assert len(stderr.strip().splitlines()) == 1
        assert not (tmp_path / "sub").exists()


def test_index_marks_and_reopens_its_catalog(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    db.write_bytes(b"")  # an empty file (mktemp) becomes a catalog
    code, stdout, _ = run("index", "--catalog", str(db), HDF5)
    assert code == 0 and "indexed 1 records (1 in the catalog)" in stdout
    code, stdout, _ = run("index", "--catalog", str(db), HDF5)
    assert code == 0 and "(1 in the catalog)" in stdout
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x4E504354
    conn.close()


def test_postgres_query_is_read_only(postgres_url: str) -> None:
    fresh_schema(postgres_url)
    with pytest.raises(CatalogError, match="not a nameplate catalog"):
        Catalog.open(postgres_url, readonly=True)
    code, _, stderr = run("query", "--catalog", postgres_url, "hdf5")
    assert code == 3 and "not a nameplate catalog" in stderr
    code, _, _ = run("index", "--catalog", postgres_url, HDF5)
    assert code == 0
    code, stdout, _ = run("query", "--catalog", postgres_url, "hdf5")
    assert code == 0 and "hdf5@1.14.6" in stdout
    with Catalog.open(postgres_url, readonly=True) as cat, pytest.raises(CatalogError):
        cat.add_many([cat.query("hdf5")[0].record()])


# -- missing references and files ---------------------------------------------------------------


def test_missing_layout_is_an_error(tmp_path: Path) -> None:
    missing = f"oci:{tmp_path / 'nonexistent'}"
    code, stdout, stderr = run("select", missing, "--host", H200)
    assert code == 3 and stdout == ""
    one_line_error(stderr, "nonexistent", "no OCI image layout")
    code, stdout, stderr = run("index", "--catalog", str(tmp_path / "c.db"), missing)
    assert code == 3 and stdout == ""
    one_line_error(stderr, "nonexistent", "no OCI image layout")
    assert not (tmp_path / "c.db").exists()
    assert not (tmp_path / "nonexistent").exists()


def test_missing_registry_is_exit_4(tmp_path: Path) -> None:
    # nothing listens on port 1 of the loopback: a registry error
    code, _, stderr = run("select", "127.0.0.1:1/none/repo", "--host", H200)
    assert code == 4
    one_line_error(stderr)
    code, _, stderr = run("index", "--catalog", str(tmp_path / "c.db"), "127.0.0.1:1/none/repo")
    assert code == 4
    assert not (tmp_path / "c.db").exists()


def test_missing_files_are_no_such_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMEPLATE_STORE", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    for target in ("nope.json", "./nope", str(tmp_path / "nope"), "build/app"):
        code, _, stderr = run("check", target, "--host", H200)
        assert code == 3, (target, stderr)
        one_line_error(stderr, f"{target}: no such file")
        code, _, stderr = run("index", "--catalog", "c.db", target)
        assert code == 3, (target, stderr)
        one_line_error(stderr, f"{target}: no such file")
    assert not (tmp_path / "c.db").exists()
    assert not (tmp_path / "store").exists()


# -- deep JSON in compat inputs -----------------------------------------------------------------


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    return path


def test_deep_host_json_is_one_line(tmp_path: Path, deep: Path) -> None:
    db = tmp_path / "c.db"
    assert run("index", "--catalog", str(db), HDF5)[0] == 0
    nested = tmp_path / "nested.json"
    nested.write_text('{"schema_version": ' + "[" * 200_000 + "]" * 200_000 + "}")
    for host in (deep, nested):
        for args in (
            ("check", HDF5, "--host", str(host)),
            ("select", f"oci:{tmp_path}", "--host", str(host)),
            ("query", "--catalog", str(db), "--compatible-with", str(host), "hdf5"),
        ):
            code, _, stderr = run(*args)
            assert code == 3, (args, stderr)
            one_line_error(stderr, f"{host}: JSON nested too deeply")


def test_bad_host_bytes_are_one_line(tmp_path: Path) -> None:
    host = tmp_path / "h.json"
    host.write_bytes(b"\xff\xfe{}")
    code, _, stderr = run("check", HDF5, "--host", str(host))
    assert code == 3
    one_line_error(stderr, "h.json: not valid JSON")
    code, _, stderr = run("check", HDF5, "--host", str(tmp_path))
    assert code == 2  # click refuses a folder as --host
