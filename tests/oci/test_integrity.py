"""Regressions of the review: links out of a layout, partial copies, corrupt referrers, and
references that must fail before any lookup."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nameplate import oci
from nameplate.cli import cli
from nameplate.errors import RegistryError, UnsafeInput
from nameplate.oci import Descriptor, Layout
from nameplate.oci import manifest as m
from nameplate.oci.reference import BadReference, parse

from . import registries as regs
from .conftest import make_record, push_image


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="nameplate")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _one_line(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


def _attached(tmp_path: Path, name: str = "src") -> tuple[Path, str]:
    """A layout with a pushed file tagged ``art:v1`` and one record attached to it."""
    layout = tmp_path / name
    (tmp_path / "f.txt").write_text("hi\n")
    oci.push(tmp_path / "f.txt", f"oci:{layout}:art:v1")
    desc = oci.attach(make_record(1), f"oci:{layout}:art:v1")
    return layout, desc.digest


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.partition(":")[2]


# -- 1. writes never follow a link out of the layout --------------------------------------


@pytest.mark.parametrize("linked", ["blobs", "blobs/sha256", "index.json"])
@pytest.mark.parametrize("command", ["attach", "push", "copy"])
def test_writes_refuse_links_out_of_the_layout(tmp_path: Path, linked: str, command: str) -> None:
    src, _ = _attached(tmp_path)
    layout = tmp_path / "l"
    shutil.copytree(src, layout)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(layout / linked, elsewhere / "moved")
    os.symlink(elsewhere / "moved", layout / linked)
    before, inside = _snapshot(elsewhere), _snapshot(layout)
    record = tmp_path / "rec.json"
    record.write_text(make_record(2).to_json())
    (tmp_path / "g.txt").write_text("another file\n")
    args = {
        "attach": ("attach", str(record), "--to", f"oci:{layout}:art:v1"),
        "push": ("push", str(tmp_path / "g.txt"), "--to", f"oci:{layout}:art:v2"),
        "copy": ("copy", f"oci:{src}:art:v1", f"oci:{layout}:art:v3"),
    }[command]
    _one_line(run(*args), 3, "leads out of the layout")
    assert _snapshot(elsewhere) == before
    assert _snapshot(layout) == inside
    with pytest.raises(UnsafeInput, match="leads out of the layout"):  # reads refuse too
        oci.discover(f"oci:{layout}:art:v1")


def test_links_inside_the_layout_are_fine(tmp_path: Path) -> None:
    layout, digest = _attached(tmp_path)
    shutil.move(layout / "blobs", layout / "real-blobs")
    os.symlink("real-blobs", layout / "blobs")
    oci.attach(make_record(2), f"oci:{layout}:art:v1")
    assert oci.pull(f"oci:{layout}:art:v1") == make_record(2)
    assert digest in {d.digest for d in oci.discover(f"oci:{layout}:art:v1")}


# -- 2. copy: no tag in the destination unless everything was read and verified ---------------


def test_copy_with_a_tampered_blob_leaves_no_tag(tmp_path: Path) -> None:
    src, record_digest = _attached(tmp_path)
    man = oci.resolve(f"oci:{src}@{record_digest}").json
    layer = _blob(src, man["layers"][0]["digest"])
    layer.chmod(0o644)
    layer.write_bytes(layer.read_bytes().replace(b"zen3", b"zen4"))
    dst = tmp_path / "dst"
    _one_line(run("copy", f"oci:{src}:art:v1", f"oci:{dst}:art:v1"), 4, "does not match")
    assert Layout(dst).tags() == []
    assert not any(m.ANNOTATION_REF_NAME in str(e) for e in json.loads(_index(dst))["manifests"])


def _index(layout: Path) -> str:
    path = layout / "index.json"
    return path.read_text() if path.exists() else '{"manifests": []}'


def test_copy_to_a_registry_with_a_tampered_blob_leaves_no_tag(
    tmp_path: Path, distribution: regs.Registry, repo: str
) -> None:
    src, record_digest = _attached(tmp_path)
    man = oci.resolve(f"oci:{src}@{record_digest}").json
    layer = _blob(src, man["layers"][0]["digest"])
    layer.chmod(0o644)
    layer.write_bytes(b"{}" + layer.read_bytes()[2:])
    t = distribution.transport
    with pytest.raises(RegistryError):
        oci.copy(f"oci:{src}:art:v1", distribution.ref(f"{repo}:v1"), transport=t)
    assert oci.list_tags(distribution.ref(repo), internal=True, transport=t) == []


# -- 3. a corrupt or missing referrer is an error naming it, never silence -----------------------


@pytest.mark.parametrize("damage", ["overwrite", "delete"])
def test_corrupt_referrer_in_a_layout_is_an_error(tmp_path: Path, damage: str) -> None:
    layout, digest = _attached(tmp_path)
    blob = _blob(layout, digest)
    blob.chmod(0o644)
    if damage == "overwrite":
        blob.write_bytes(b'{"bad":1}')
    else:
        blob.unlink()
    ref = f"oci:{layout}:art:v1"
    _one_line(run("discover", ref), 4, digest)
    _one_line(run("pull", ref), 4, digest)
    _one_line(run("copy", ref, f"oci:{tmp_path / 'dst'}:art:v1"), 4, digest)
    assert Layout(tmp_path / "dst").tags() == []


def test_missing_referrer_in_a_fallback_index_is_an_error(
    distribution: regs.Registry, repo: str
) -> None:
    t = distribution.transport
    ref = distribution.ref(f"{repo}:v1")
    subject = push_image(ref, transport=t)
    digest = oci.attach(make_record(1), ref, transport=t).digest
    st, _ = oci.open_store(ref, transport=t)
    # a fallback index entry without artifactType (as other tools write it) must be completed
    # from its manifest; then the manifest goes away (registry GC, a manual delete)
    size = oci.resolve(distribution.ref(f"{repo}@{digest}"), transport=t).descriptor().size
    bare = Descriptor(media_type=m.MANIFEST, digest=digest, size=size)
    st.put_manifest(m.empty_index([bare]), m.INDEX, tag=m.referrers_tag(subject))
    url = f"http://{distribution.host}/v2/{repo}/manifests/{digest}"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE")) as resp:
        assert resp.status == 202
    with pytest.raises(RegistryError, match=digest):
        oci.discover(ref, transport=t)
    with pytest.raises(RegistryError, match=digest):
        oci.pull(ref, transport=t)
    assert oci.reindex(ref, transport=t) == 0  # reindex drops it
    assert oci.discover(ref, transport=t) == []


# -- 4. references and missing layouts -------------------------------------------------------------


@pytest.mark.parametrize("text", ["host:99999/x", "localhost:0/x", "docker://h.io:65536/x:1"])
def test_port_out_of_range_is_a_bad_reference(text: str) -> None:
    with pytest.raises(BadReference, match="out of range"):
        parse(text)
    _one_line(run("discover", text), 3, "out of range")


def test_port_in_range_parses() -> None:
    assert parse("h.io:65535/x").registry == "h.io:65535"
    assert parse("[::1]:5000/x").registry == "[::1]:5000"


@pytest.mark.parametrize("suffix", ["", ":art:v1"])
def test_missing_layout_folder_says_so(tmp_path: Path, suffix: str) -> None:
    ref = f"oci:{tmp_path / 'nonexistent'}{suffix}"
    for args in (("discover", ref), ("pull", ref)):
        result = run(*args)
        _one_line(result, 4, "does not exist")
        assert "None" not in result.output
    assert not (tmp_path / "nonexistent").exists()


def test_layout_without_tags_says_so(tmp_path: Path) -> None:
    layout = tmp_path / "l"
    (tmp_path / "f").write_text("x")
    oci.push(tmp_path / "f", f"oci:{layout}:a")
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": []}))
    result = run("discover", f"oci:{layout}")
    _one_line(result, 4, "no tagged manifest")
    assert "None" not in result.output
