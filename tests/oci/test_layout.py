"""The embedded store: attach → discover → pull on an OCI layout folder, concurrency, reindex."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from nameplate import oci
from nameplate.errors import RegistryError
from nameplate.oci import manifest as m

from .conftest import make_record, push_image


def test_round_trip_identical_bytes(layout: Path) -> None:
    push_image(f"oci:{layout}:app:1")
    rec = make_record(3)
    desc = oci.attach(rec, f"oci:{layout}:app:1")
    assert desc.artifact_type == oci.ARTIFACT_TYPE
    assert desc.annotations["dev.nameplate.cpu.target"] == "zen3"
    assert desc.annotations["dev.nameplate.mpi.abi"] == "mpich"
    assert desc.annotations["dev.nameplate.libc.min"] == "2.34"
    assert desc.annotations[m.ANNOTATION_CREATED] == rec.provenance.extracted_at
    found = oci.discover(f"oci:{layout}:app:1")
    assert [d.digest for d in found] == [desc.digest]
    assert found[0].annotations == desc.annotations
    _, data = oci.pull_bytes(f"oci:{layout}:app:1")
    assert data == rec.to_json().encode()
    assert oci.pull(f"oci:{layout}:app:1") == rec
    # the layout is a valid OCI layout: marker and index
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}


def test_newest_record_wins_and_digest_pick(layout: Path) -> None:
    ref = f"oci:{layout}:app:1"
    push_image(ref)
    descs = [oci.attach(make_record(n), ref) for n in (5, 9, 2)]
    assert oci.pull(ref) == make_record(9)
    assert oci.pull(ref, digest=descs[2].digest) == make_record(2)
    assert [d.digest for d in oci.discover(ref, artifact_type=oci.ARTIFACT_TYPE)] == [
        descs[2].digest,
        descs[0].digest,
        descs[1].digest,
    ]


def test_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMEPLATE_STORE", str(tmp_path / "default"))
    push_image("myapp:1.0")
    oci.attach(make_record(), "myapp:1.0")
    assert oci.pull("myapp:1.0") == make_record()
    assert oci.list_tags("myapp") == ["myapp:1.0"]
    assert oci.pull(f"oci:{tmp_path / 'default'}:myapp:1.0") == make_record()


def test_index_resolves_to_platform(layout: Path) -> None:
    ref = f"oci:{layout}:multi"
    push_image(ref, arches=("amd64", "arm64"))
    amd = oci.resolve(ref, platform="linux/amd64")
    arm = oci.resolve(ref, platform="linux/arm64")
    assert amd.digest != arm.digest and not amd.is_index
    oci.attach(make_record(1), ref, platform="linux/arm64")
    assert oci.discover(ref, platform="linux/amd64") == []
    assert len(oci.discover(ref, platform="linux/arm64")) == 1
    with pytest.raises(RegistryError, match="no manifest for platform"):
        oci.resolve(ref, platform="linux/s390x")


def test_compat_mode(layout: Path) -> None:
    ref = f"oci:{layout}:app"
    push_image(ref)
    desc = oci.attach(make_record(), ref, compat=True)
    assert desc.artifact_type == oci.CONFIG_COMPAT_TYPE
    assert oci.discover(ref, artifact_type=oci.ARTIFACT_TYPE)[0].digest == desc.digest
    assert oci.pull(ref) == make_record()


def test_concurrent_attachers_all_kept(layout: Path) -> None:
    ref = f"oci:{layout}:app"
    push_image(ref)
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            oci.attach(make_record(n), ref)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(oci.discover(ref)) == 12


def test_reindex_recovers_lost_entries(layout: Path) -> None:
    ref = f"oci:{layout}:app"
    subject = push_image(ref)
    for n in range(3):
        oci.attach(make_record(n), ref)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"] = [
        d
        for d in index["manifests"]
        if "annotations" in d and m.ANNOTATION_REF_NAME in d["annotations"]
    ]
    (layout / "index.json").write_text(json.dumps(index))
    assert oci.discover(ref) == []
    assert oci.reindex(ref) == 3
    assert len(oci.discover(f"oci:{layout}@{subject}")) == 3


def test_push_file_and_folder_then_attach(layout: Path, tmp_path: Path) -> None:
    binary = tmp_path / "hello"
    binary.write_bytes(b"\x7fELF" + b"\0" * 100)
    folder = tmp_path / "prefix"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "tool").write_text("x")
    (folder / "link").symlink_to("bin/tool")
    a = oci.push(binary, f"oci:{layout}:hello")
    b = oci.push(folder, f"oci:{layout}:prefix")
    b2 = oci.push(folder, f"oci:{layout}:prefix")
    assert b.digest == b2.digest  # reproducible tar
    assert a.artifact_type == oci.FILES_ARTIFACT_TYPE
    oci.attach(make_record(), f"oci:{layout}:hello")
    assert oci.pull(f"oci:{layout}:hello") == make_record()
    man = oci.resolve(f"oci:{layout}:hello").json
    with oci.open_blob(f"oci:{layout}", man["layers"][0]["digest"]) as f:
        assert f.read() == binary.read_bytes()


def test_corrupt_layout_is_a_clear_error(layout: Path) -> None:
    layout.mkdir()
    (layout / "index.json").write_text("{nope")
    with pytest.raises(RegistryError, match=r"index\.json: not valid JSON"):
        oci.discover(f"oci:{layout}:x")
    (layout / "index.json").write_text('{"schemaVersion":2,"manifests":[{"mediaType":"a/b"}]}')
    with pytest.raises(RegistryError, match=r"manifests\[0\]"):
        oci.discover(f"oci:{layout}:x")
    (layout / "index.json").unlink()
    push_image(f"oci:{layout}:x")
    with pytest.raises(RegistryError, match="no nameplate record"):
        oci.pull(f"oci:{layout}:x")
