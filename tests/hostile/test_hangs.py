"""Inputs that made nameplate hang: a FIFO where a file is expected (in a Spack prefix, an OCI
layout, an image archive, an EasyBuild tree), an easyconfig reference bomb, ``--public-key
/dev/zero``. Each must end within 10 s in bounded memory; made at test time from real fixtures."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests import imagetools as it
from tests.conftest import DATA

from ._run import run_cli

SPACK = DATA / "spack" / "spack1.3-fake-store"
ZLIB = "linux-icelake/zlib-ng-2.3.3-g32vemqewbcc2j2pcffahyu2y4kfw4t6"
EASYBUILD = DATA / "easybuild" / "install"


def _store_with_fifo(tmp_path: Path) -> tuple[Path, Path]:
    """The real fake store, with ``lib/libz.so.1`` of zlib-ng listed in its install manifest
    (size 4096, as a real library) and present on disk as a FIFO."""
    store = tmp_path / "store"
    shutil.copytree(SPACK / "opt" / "spack", store, symlinks=True)
    prefix = store / ZLIB
    manifest = prefix / ".spack" / "install_manifest.json"
    doc = json.loads(manifest.read_text())
    root = min(doc, key=len)
    doc[f"{root}/lib/libz.so.1"] = {"mode": 33261, "owner": 0, "group": 0, "size": 4096,
                                    "hash": "a" * 32}  # fmt: skip
    manifest.write_text(json.dumps(doc))
    fifo = prefix / "lib" / "libz.so.1"
    os.mkfifo(fifo)
    return store, fifo


def test_fifo_in_a_spack_prefix_is_not_opened(tmp_path: Path) -> None:
    store, fifo = _store_with_fifo(tmp_path)
    out = tmp_path / "out"
    result = run_cli("extract", "spack", store, "-o", out)
    assert result.code == 0, result.stderr
    unknowns = [
        u
        for f in out.iterdir()
        for u in json.loads(f.read_text()).get("unknowns", [])
        if u.get("field") == "elf"
    ]
    # never opened: refused as "not a regular file", or (the closure scanner) not a tree file
    assert any(u["path"] == str(fifo) for u in unknowns), unknowns
    assert result.seconds < 10 and result.peak_mib < 400, result


def _layout(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    layer = it.tar_members(
        [it.Member("etc/os-release", data=(DATA / "images/debian12/os-release").read_bytes())]
    )
    path = tmp_path / "layout"
    it.write_layout(path, [it.Image(layers=[layer])], tag="v1")
    index = json.loads((path / "index.json").read_text())
    top = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((path / "blobs/sha256" / top).read_text())
    return path, manifest


def _fifo_instead_of(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("which", ["layer", "config", "manifest"])
def test_fifo_blob_in_an_oci_layout_is_refused(tmp_path: Path, which: str) -> None:
    path, manifest = _layout(tmp_path)
    index = json.loads((path / "index.json").read_text())
    digest = {
        "layer": manifest["layers"][0]["digest"],  # type: ignore[index]
        "config": manifest["config"]["digest"],  # type: ignore[index]
        "manifest": index["manifests"][0]["digest"],
    }[which]
    blob = path / "blobs/sha256" / digest.split(":")[1]
    _fifo_instead_of(blob)
    out = tmp_path / "out.json"
    result = run_cli("extract", "image", f"oci:{path}:v1", "-o", out)
    result.assert_error(3, "not a regular file", digest.split(":")[1][:12])
    assert not out.exists()


def test_fifo_in_a_layout_is_refused_by_every_oci_command(tmp_path: Path) -> None:
    path, _manifest = _layout(tmp_path)
    _fifo_instead_of(path / "index.json")
    for args in (["discover", f"oci:{path}:v1"], ["pull", f"oci:{path}:v1"]):
        run_cli(*args).assert_error(4, "index.json", "not a regular file")
    path2, _ = _layout(tmp_path / "b")
    index = json.loads((path2 / "index.json").read_text())
    top = index["manifests"][0]["digest"]
    _fifo_instead_of(path2 / "blobs/sha256" / top.split(":")[1])
    run_cli("discover", f"oci:{path2}:v1").assert_error(4, top, "not a regular file")


def test_fifo_as_an_image_archive_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)
    run_cli("extract", "image", f"oci-archive:{fifo}").assert_error(
        3, str(fifo), "not a regular file"
    )


def test_fifo_in_an_easybuild_install_is_skipped(tmp_path: Path) -> None:
    """A module file and a build log that are FIFOs: never opened; the log becomes an unknown."""
    tree = tmp_path / "eb"
    shutil.copytree(EASYBUILD, tree, symlinks=True)
    _fifo_instead_of(tree / "modules/all/tinyhello/1.0-GCCcore-12.2.0.lua")
    log = next((tree / "software/tinyhello/1.0-GCCcore-12.2.0/easybuild").glob("*.log"))
    _fifo_instead_of(log)
    out = tmp_path / "out.json"
    result = run_cli("extract", "easybuild", tree, "--combined", "-o", out)
    assert result.code == 0, result.stderr
    reasons = [u["reason"] for u in json.loads(out.read_text())["unknowns"] if u["field"] == "log"]
    assert f"{log}: not a regular file" in reasons
    assert result.seconds < 10


def test_easyconfig_reference_bomb_ends(tmp_path: Path) -> None:
    """``d = {'a': d, 'b': d}`` 60 times builds 2**60 paths through 61 dicts: refused by the
    weight of the value, not by a clock."""
    text = (DATA / "easybuild/install/software/tinyhello/1.0-GCCcore-12.2.0/easybuild").glob(
        "tinyhello-*.eb"
    )
    easyconfig = next(text).read_text()
    bomb = tmp_path / "tinyhello-1.0-GCCcore-12.2.0.eb"
    bomb.write_text(easyconfig + "\nd = {}\n" + "d = {'a': d, 'b': d}\n" * 60 + "x = [d]\n")
    out = tmp_path / "out.json"
    result = run_cli("extract", "easybuild", bomb, "-o", out)
    assert result.code == 0, result.stderr
    assert "tinyhello" in {c["name"] for c in json.loads(out.read_text())["components"]}
    assert result.seconds < 10 and result.peak_mib < 400, result


def test_public_key_from_dev_zero_is_refused_at_once() -> None:
    signed = SPACK / "buildcache/file-v3-signed"
    result = run_cli("extract", "spack", signed, "--verify-signatures", "--public-key", "/dev/zero")
    result.assert_error(3, "/dev/zero", "over the", limit_s=5)
