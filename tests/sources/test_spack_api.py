"""Spack's API path and the on-disk path give the same record for the same real store.

Runs Spack itself (``spack python``, with this interpreter as SPACK_PYTHON so nameplate is
importable there). Skipped only when Spack is absent: set SPACK_ROOT or put ``spack`` on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nameplate import sources
from nameplate.record import Record
from nameplate.sources import ExtractOptions
from tests.conftest import DATA, FIXED_TIME


def spack_command() -> str | None:
    root = os.environ.get("SPACK_ROOT")
    if root and (Path(root) / "bin/spack").is_file():
        return str(Path(root) / "bin/spack")
    return shutil.which("spack")


SPACK = spack_command()
pytestmark = pytest.mark.skipif(SPACK is None, reason="Spack is not installed (SPACK_ROOT / PATH)")


def relocate(src: Path, dest: Path) -> Path:
    """Copy a store and rewrite its recorded prefixes to where it now is (as Spack would have)."""
    shutil.copytree(src, dest)
    index = dest / ".spack-db/index.json"
    db = json.loads(index.read_text())
    by_hash = {p.name[-32:]: p for p in dest.glob("*/*") if (p / ".spack").is_dir()}
    for h, rec in db["database"]["installs"].items():
        if h in by_hash:
            old, new = rec["path"], str(by_hash[h])
            rec["path"] = new
            manifest = by_hash[h] / ".spack/install_manifest.json"
            data = json.loads(manifest.read_text())
            manifest.write_text(json.dumps({k.replace(old, new, 1): v for k, v in data.items()}))
    index.write_text(json.dumps(db))
    return dest


_SCRIPT = """
import json, sys
from pathlib import Path
from nameplate.sources import ExtractOptions
from nameplate.sources.spack import api as _spack_api
import datetime as dt
assert _spack_api.available()
opts = ExtractOptions(clock=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), combined=True)
(record,) = _spack_api.extract_all(Path(sys.argv[1]), opts)
print(record.to_json())
"""


def spack_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    env = dict(
        os.environ,
        SPACK_PYTHON=sys.executable,
        SPACK_DISABLE_LOCAL_CONFIG="1",
        SPACK_USER_CONFIG_PATH=str(tmp_path / "spack-user"),
        SPACK_USER_CACHE_PATH=str(tmp_path / "spack-cache"),
        PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"),
    )
    # A local, empty package repository: Spack must not try to clone its builtin repo.
    repo = tmp_path / "repo"
    (repo / "packages").mkdir(parents=True, exist_ok=True)
    (repo / "repo.yaml").write_text("repo:\n  namespace: builtin\n  api: v2.0\n")
    scope = tmp_path / "scope"
    scope.mkdir(exist_ok=True)
    (scope / "repos.yaml").write_text(f"repos:\n  builtin: {repo}\n")
    (scope / "bootstrap.yaml").write_text("bootstrap:\n  enable: false\n")
    return env, scope


def via_spack(target: Path, tmp_path: Path) -> Record:
    env, scope = spack_env(tmp_path)
    script = tmp_path / "via_spack.py"
    script.write_text(_SCRIPT)
    out = subprocess.run(
        [SPACK or "spack", "-C", str(scope), "python", str(script), str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return Record.from_dict(json.loads(out.stdout))


def on_disk(target: Path) -> Record:
    return sources.extract(
        target, kind="spack", options=ExtractOptions(clock=FIXED_TIME, combined=True)
    )


def test_store_api_and_disk_agree(tmp_path: Path) -> None:
    store = relocate(DATA / "spack/spack1.3-fake-store/opt/spack", tmp_path / "store")
    api, disk = via_spack(store, tmp_path), on_disk(store)
    # Spack's SBOM is read by the disk path only (Spack's API has no reader for it).
    strip = lambda r: Record.from_dict(
        {
            **r.to_dict(),
            "evidence": [],
            "components": [
                {k: v for k, v in c.items() if k not in ("sources", "licenses")}
                for c in r.to_dict()["components"]
            ],
        }
    )
    assert strip(api) == strip(disk)


def test_environment_api_and_disk_agree(tmp_path: Path) -> None:
    env = tmp_path / "env"
    shutil.copytree(DATA / "spack/spack1.3-fake-store/env", env)
    assert via_spack(env, tmp_path) == on_disk(env)


def test_spack_nameplate_extension(tmp_path: Path) -> None:
    """``spack nameplate extract /hash`` through the extension found by its entry point."""
    store = relocate(DATA / "spack/spack1.3-fake-store/opt/spack", tmp_path / "store")
    env, scope = spack_env(tmp_path)
    out = subprocess.run(
        [
            SPACK or "spack",
            "-C",
            str(scope),
            "-c",
            f"config:install_tree:root:{store}",
            "nameplate",
            "extract",
            "/g32vemq",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    record = Record.from_dict(json.loads(out.stdout))
    assert record.roots == ("spack:g32vemqewbcc2j2pcffahyu2y4kfw4t6",)
    assert record.component(record.roots[0]).name == "zlib-ng"  # type: ignore[union-attr]
