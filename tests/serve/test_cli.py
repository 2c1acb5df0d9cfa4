"""``nameplate serve`` refuses a bad configuration with one line and exit 3, before it
listens; a good one serves (with several workers too)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nameplate.cli import cli
from nameplate.record import Record

from . import server, site


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["serve", *args], prog_name="nameplate")
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token-file", "/nonexistent/token"], "/nonexistent/token: cannot read the token file"),
        (["--bind", "nowhere"], "--bind 'nowhere': HOST:PORT"),
        (["--bind", "127.0.0.1:70000"], "HOST:PORT"),
        (["--hosts", "/nonexistent/hosts"], "--hosts is not a folder"),
        (["--tls-cert", "/etc/hostname"], "--tls-cert and --tls-key go together"),
        (["--workers", "0"], "--workers: at least 1"),
    ],
)
def test_bad_configuration(tmp_path: Path, args: list[str], message: str) -> None:
    code, out = run("--catalog", str(tmp_path / "c.db"), *args)
    assert code == 3, out
    assert out.startswith("error: ")
    assert message in out
    assert len(out.strip().splitlines()) == 1


def test_usage_errors(tmp_path: Path) -> None:
    code, out = run("--catalog", str(tmp_path / "c.db"), "--registry", "http://a b")
    assert code == 2
    assert "a registry is HOST[:PORT]" in out
    code, out = run("--catalog", str(tmp_path / "c.db"), "--plain-http", "registry.example.org")
    assert code == 2  # --plain-http is a flag: every --registry is reached over plain HTTP
    code, out = run("--catalog", str(tmp_path / "c.db"), "--username", "u")
    assert code == 2
    assert "--password-stdin" in out


def test_weak_token_and_bad_profiles(tmp_path: Path) -> None:
    weak = tmp_path / "weak"
    weak.write_text("short\n")
    code, out = run("--catalog", str(tmp_path / "c.db"), "--token-file", str(weak))
    assert code == 3
    assert "at least 16 visible ASCII characters" in out
    assert "short" not in out.replace(str(weak), "")  # the token is never shown
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    (hosts / "broken.json").write_text('{"cpu": {"family": 7}}')
    code, out = run("--catalog", str(tmp_path / "c.db"), "--hosts", str(hosts))
    assert code == 3
    assert "broken.json" in out
    (hosts / "broken.json").unlink()
    (hosts / "bad name.json").write_text("{}")
    code, out = run("--catalog", str(tmp_path / "c.db"), "--hosts", str(hosts))
    assert code == 3
    assert "not a host name" in out


def test_not_a_catalog(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    code, out = run("--catalog", str(other))
    assert code == 3
    assert "not a nameplate catalog" in out
    code, out = run("--catalog", "mysql://x/y")
    assert code == 3
    assert "not a catalog URL" in out


@pytest.mark.service
def test_several_workers(tmp_path: Path, site_records: list[Record], hosts_dir: Path) -> None:
    url = str(tmp_path / "catalog.db")
    site.fill(url, site_records)
    served = server.start(tmp_path, "--catalog", url, "--hosts", str(hosts_dir), "--workers", "2")
    try:
        for _ in range(10):
            assert served.json("/v1/records?q=hdf5")["count"] == 2
        assert served.json("/v1/hosts")["hosts"]
    finally:
        served.stop()
    assert served.proc.returncode == 0
