"""A throw-away PostgreSQL cluster on 127.0.0.1 (Debian's ``postgresql`` package), for tests."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need


def pg_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def cluster(*options: str) -> Iterator[str]:
    """A throw-away cluster on a free loopback port, its URL; removed on exit. ``options`` are
    extra ``-c name=value`` server settings."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (Debian package postgresql)")
    kwargs: dict[str, Any] = {}
    root = tempfile.mkdtemp(prefix="nameplate-pg-")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        kwargs["user"] = user.pw_uid
        kwargs["group"] = user.pw_gid
    data = Path(root) / "data"
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "HOME": root}
    try:
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "nameplate",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
            **kwargs,
        )
        extra = "".join(f" -c {o}" for o in options)
        opts = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=50{extra}"
        subprocess.run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(Path(root) / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=90,
            **kwargs,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"postgresql://nameplate@127.0.0.1:{port}/postgres"
    finally:
        if data.exists():
            subprocess.run(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                check=False,
                capture_output=True,
                env=env,
                timeout=60,
                **kwargs,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Start initdb + pg_ctl on a free loopback port (as ``postgres`` when run as root)."""
    need(
        pg_bindir() is not None,
        "PostgreSQL server binaries (Debian package postgresql) not installed",
    )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need(False, "psycopg (the postgres extra) is not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            need(False, "running as root and there is no postgres user")
    with cluster() as url:
        yield url


def fresh_schema(url: str) -> None:
    """Drop the catalog tables so each test starts empty."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in (
            "options",
            "compilers",
            "components",
            "records",
            "documents",
            "nodes",
            "provides",
            "terms",
            "catalog_meta",
        ):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
