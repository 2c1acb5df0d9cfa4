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
from nameplate.record import Record, Tool
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
combined = sys.argv[2] == "combined"
opts = ExtractOptions(clock=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), combined=combined)
print(json.dumps([r.to_dict() for r in _spack_api.extract_all(Path(sys.argv[1]), opts)]))
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


def via_spack(target: Path, tmp_path: Path, *, combined: bool = True) -> list[Record]:
    env, scope = spack_env(tmp_path)
    script = tmp_path / "via_spack.py"
    script.write_text(_SCRIPT)
    mode = "combined" if combined else "per-root"
    out = subprocess.run(
        [SPACK or "spack", "-C", str(scope), "python", str(script), str(target), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return [Record.from_dict(r) for r in json.loads(out.stdout)]


def on_disk(target: Path, *, combined: bool = True) -> list[Record]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NAMEPLATE_SPACK_API", "0")
        return sources.extract_all(
            target, kind="spack", options=ExtractOptions(clock=FIXED_TIME, combined=combined)
        )


STORES = ["spack1.3-fake-store", "spack1.3-real-store"]


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("combined", [True, False], ids=["combined", "per-root"])
def test_store_api_and_disk_agree(store: str, combined: bool, tmp_path: Path) -> None:
    """Every field, Spack's SBOM (sources, licenses, evidence) and the builder included."""
    target = relocate(DATA / "spack" / store / "opt/spack", tmp_path / "store")
    api, disk = via_spack(target, tmp_path, combined=combined), on_disk(target, combined=combined)
    assert api == disk
    for record in api:
        built = [c for c in record.components if not c.external]
        assert built and any(c.licenses for c in built)
        assert any(c.sources for c in built)
        assert not any(c.sources for c in record.components if c.external)
        assert any(e.kind == "spack-spdx-2.3" for e in record.evidence)
    if store == "spack1.3-real-store":  # real builds write install_environment.json
        assert all(r.provenance.builder == Tool(name="spack", version="1.3.0.dev0") for r in api)


@pytest.mark.parametrize("source", [f"{s}/env" for s in STORES] + ["external-modules"])
def test_environment_api_and_disk_agree(source: str, tmp_path: Path) -> None:
    env = tmp_path / "env"
    shutil.copytree(DATA / "spack" / source, env)
    for combined in (True, False):
        api = via_spack(env, tmp_path, combined=combined)
        assert api == on_disk(env, combined=combined)
        assert all(r.provenance.builder and r.provenance.builder.version for r in api)
        assert all({u.field for u in r.unknowns} >= {"components.sources"} for r in api)


@pytest.mark.parametrize(
    ("store", "root"),
    [
        ("spack1.3-fake-store", "g32vemqewbcc2j2pcffahyu2y4kfw4t6"),
        ("spack1.3-real-store", "cw5cxc5hhixi7gulbvy42ghde7cah776"),
        ("spack1.3-real-store", "kiaxfa2ktv6lqnzpvnm6idtmq247xekb"),
        ("spack1.3-real-store", "jc3kmofwtwai5bglz6cbp22o7p4cfw23"),  # xz: not explicit
    ],
)
def test_spack_nameplate_extension(store: str, root: str, tmp_path: Path) -> None:
    """``spack nameplate extract /hash`` through the extension found by its entry point gives
    the on-disk record of that root."""
    target = relocate(DATA / "spack" / store / "opt/spack", tmp_path / "store")
    env, scope = spack_env(tmp_path)
    out = subprocess.run(
        [
            SPACK or "spack",
            "-C",
            str(scope),
            "-c",
            f"config:install_tree:root:{target}",
            "nameplate",
            "extract",
            f"/{root[:7]}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    record = Record.from_dict(json.loads(out.stdout))
    assert record.roots == (f"spack:{root}",)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NAMEPLATE_SPACK_API", "0")
        disk = sources.extract(
            target, kind="spack", options=ExtractOptions(clock=FIXED_TIME, roots=(f"/{root}",))
        )
    generated = record.provenance.extracted_at
    assert record.to_dict() == {
        **disk.to_dict(),
        "provenance": {**disk.to_dict()["provenance"], "extracted_at": generated},
    }
