"""Inputs that ended in a traceback or were wrongly accepted: a YAML alias bomb in a build
cache, DB time stamps that are no time (``1e300``, ``NaN``, ``-1e18``), ``depends_on("")`` in a
module file, a lone surrogate in an easyconfig, and descriptors whose size disagrees with the
content (layouts and archives). All made at test time from the real fixtures."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from nameplate import oci
from nameplate.oci import manifest as m
from tests import imagetools as it
from tests.conftest import DATA
from tests.oci.conftest import make_record, push_image

from ._run import run_cli

SPACK = DATA / "spack"
LEGACY_YAML = SPACK / "spack-test-data/mirrors/legacy_yaml"
STORE = SPACK / "spack1.3-fake-store/opt/spack"
EASYBUILD = DATA / "easybuild/install"
TINYGREET = "modules/all/tinygreet/2.1-GCCcore-12.2.0-demo.lua"


def test_yaml_alias_bomb_in_a_build_cache_is_refused(tmp_path: Path) -> None:
    """Spack's own legacy ``*.spec.yaml``, with ``cflags`` an alias of 10**8 strings."""
    cache = tmp_path / "mirror"
    shutil.copytree(LEGACY_YAML, cache)
    (cache / "build_cache/index.json").unlink()
    spec = next((cache / "build_cache").glob("*.spec.yaml"))
    bomb = ['lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"lol{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = spec.read_text()
    assert "      cflags: []" in text
    spec.write_text(
        "\n".join(bomb) + "\n" + text.replace("      cflags: []", "      cflags: *a8", 1)
    )
    out = tmp_path / "out.json"
    result = run_cli("extract", "spack", cache, "-o", out)
    result.assert_error(3, spec.name, "YAML aliases expand to more than")
    assert result.peak_mib < 400 and not out.exists(), result


def test_yaml_aliases_within_bounds_still_read(tmp_path: Path) -> None:
    cache = tmp_path / "mirror"
    shutil.copytree(LEGACY_YAML, cache)
    (cache / "build_cache/index.json").unlink()
    spec = next((cache / "build_cache").glob("*.spec.yaml"))
    text = spec.read_text().replace("      cflags: []", "      cflags: &f []", 1)
    spec.write_text(text.replace("      cppflags: []", "      cppflags: *f", 1))
    result = run_cli("extract", "spack", cache, "-o", tmp_path / "out.json")
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("when", [1e300, math.nan, -1e18, math.inf, "1700000000", True])
def test_db_installation_time_that_is_no_time(tmp_path: Path, when: object) -> None:
    store = tmp_path / "store"
    shutil.copytree(STORE, store, symlinks=True)
    index = store / ".spack-db/index.json"
    doc = json.loads(index.read_text())
    key = next(k for k, v in doc["database"]["installs"].items() if v["spec"]["name"] == "zlib-ng")
    doc["database"]["installs"][key]["installation_time"] = when
    index.write_text(json.dumps(doc))  # NaN and Infinity as Python writes them (Spack too)
    out = tmp_path / "out"
    result = run_cli("extract", "spack", store, "-o", out)
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
    records = [json.loads(p.read_text()) for p in out.iterdir()]
    zlib = [r for r in records if r["subject"]["name"].startswith("zlib-ng")]
    assert len(zlib) == 1
    (unknown,) = [u for u in zlib[0]["unknowns"] if u["field"] == "components.installed_at"]
    assert unknown["path"] == str(index.resolve())
    assert f"$.database.installs.{key}.installation_time" in unknown["reason"]
    root = next(c for c in zlib[0]["components"] if c["id"] == zlib[0]["roots"][0])
    assert "installed_at" not in root


@pytest.mark.parametrize("arg", ["", "/", "a//b", "../x", " "])
def test_lua_depends_on_that_names_no_module(tmp_path: Path, arg: str) -> None:
    tree = tmp_path / "eb"
    shutil.copytree(EASYBUILD, tree, symlinks=True)
    module = tree / TINYGREET
    text = module.read_text()
    assert 'depends_on("tinyhello/1.0-GCCcore-12.2.0")' in text
    module.write_text(text + f'\ndepends_on("{arg}")\n')
    out = tmp_path / "alone.json"
    result = run_cli("extract", "easybuild", module, "-o", out)  # the module file alone
    assert result.code == 0, result.stderr
    reasons = [u["reason"] for u in json.loads(out.read_text())["unknowns"]]
    assert f"depends_on({arg!r}): not a module name; skipped" in reasons
    result = run_cli("extract", "easybuild", tree, "--combined", "-o", tmp_path / "all.json")
    assert result.code == 0, result.stderr


def test_lone_surrogate_in_an_easyconfig_is_written(tmp_path: Path) -> None:
    easyconfig = next((EASYBUILD / "software/tinyhello/1.0-GCCcore-12.2.0/easybuild").glob("*.eb"))
    text = easyconfig.read_text()
    hostile = tmp_path / easyconfig.name
    hostile.write_text(text + "\ndescription = 'before \\ud800 after'\n")
    out = tmp_path / "out.json"
    for args in (["-o", str(out)], []):
        result = run_cli("extract", "easybuild", hostile, *args)
        assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
    record = json.loads(out.read_text())
    assert "before \ufffd after" in {c.get("description") for c in record["components"]}
    formats = ("cyclonedx-json", "cyclonedx-xml", "spdx-2.3", "spdx-3.0.1", "jsonld", "turtle")
    for fmt in formats:
        exported = run_cli("export", out, "-f", fmt, "-o", tmp_path / f"x.{fmt}")
        assert exported.code == 0, (fmt, exported.stderr)


def test_record_file_with_an_escaped_surrogate_loads(tmp_path: Path) -> None:
    """``"\\ud800"`` is valid JSON text; the record made from it holds U+FFFD."""
    src = tmp_path / "r.json"
    record = make_record(0)
    src.write_text(record.to_json().replace('"hello"', '"hel\\ud800lo"', 1))
    for args in (["show", str(src)], ["validate", str(src)], ["export", str(src), "-f", "spdx"]):
        result = run_cli(*args)
        assert result.code == 0 and "Traceback" not in result.stderr, (args, result.stderr)


def _image_layout(tmp_path: Path) -> tuple[Path, Path, dict]:  # type: ignore[type-arg]
    layer = it.tar_members(
        [it.Member("etc/os-release", data=(DATA / "images/debian12/os-release").read_bytes())]
    )
    path = tmp_path / "layout"
    it.write_layout(path, [it.Image(layers=[layer])], tag="v1")
    index = json.loads((path / "index.json").read_text())
    blob = path / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]
    return path, blob, json.loads(blob.read_text())


def _rewrite_manifest(path: Path, blob: Path, doc: dict) -> None:  # type: ignore[type-arg]
    data = it.canonical(doc)
    blob.unlink()
    (path / "blobs/sha256" / it.digest(data).split(":")[1]).write_bytes(data)
    index = json.loads((path / "index.json").read_text())
    index["manifests"][0].update(digest=it.digest(data), size=len(data))
    (path / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("which", ["layer", "config", "index entry"])
@pytest.mark.parametrize("container", ["oci", "oci-archive"])
def test_image_descriptor_with_a_wrong_size_is_refused(
    tmp_path: Path, which: str, container: str
) -> None:
    path, blob, doc = _image_layout(tmp_path)
    if which == "layer":
        doc["layers"][0]["size"] += 1
        _rewrite_manifest(path, blob, doc)
        must = f"size is {doc['layers'][0]['size']} bytes"
    elif which == "config":
        doc["config"]["size"] -= 1
        _rewrite_manifest(path, blob, doc)
        must = f"config.size: the descriptor's size is {doc['config']['size']} bytes"
    else:
        index = json.loads((path / "index.json").read_text())
        index["manifests"][0]["size"] += 7
        (path / "index.json").write_text(json.dumps(index))
        must = f"size is {index['manifests'][0]['size']} bytes"
    target = f"oci:{path}:v1"
    if container == "oci-archive":
        archive = tmp_path / "image.tar"
        it.archive_folder(path, archive)
        target = f"oci-archive:{archive}:v1"
    out = tmp_path / "out.json"
    result = run_cli("extract", "image", target, "-o", out)
    result.assert_error(3, must)
    assert not out.exists()


def test_layout_record_with_a_wrong_size_is_refused(tmp_path: Path) -> None:
    ref = f"oci:{tmp_path / 'store'}:app"
    push_image(ref)
    desc = oci.attach(make_record(1), ref)
    st, _ = oci.open_store(ref)
    doc = json.loads(st.resolve(desc.digest).data)
    size = doc["layers"][0]["size"]
    doc["layers"][0]["size"] = size - 1
    lying = st.put_manifest(m.canonical_json(doc), doc["mediaType"])
    result = run_cli("pull", ref, "--digest", lying.digest)
    result.assert_error(4, f"size is {size - 1} bytes, the content has {size}")


@pytest.mark.parametrize("name", ["/", " ", "//"])
def test_easyconfig_names_that_make_no_package_url(tmp_path: Path, name: str) -> None:
    """Found by the fuzz pass: packageurl drops the slashes and spaces and fails with TypeError."""
    easyconfig = next((EASYBUILD / "software/tinyhello/1.0-GCCcore-12.2.0/easybuild").glob("*.eb"))
    hostile = tmp_path / easyconfig.name
    hostile.write_text(easyconfig.read_text() + f"\nname = {name!r}\n")
    run_cli("extract", "easybuild", hostile).assert_error(
        3, str(hostile), f"name: {name!r} is not a software name"
    )
    hostile.write_text(easyconfig.read_text() + f"\ndependencies = [({name!r}, '1.0')]\n")
    out = tmp_path / "out.json"
    result = run_cli("extract", "easybuild", hostile, "-o", out)
    assert result.code == 0, result.stderr
    reasons = [u["reason"] for u in json.loads(out.read_text())["unknowns"]]
    assert any(f"{name!r} is not a software name" in r for r in reasons), reasons
