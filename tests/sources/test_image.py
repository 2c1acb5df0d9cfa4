"""Images: OCI layouts, archives and registries → one record, equal to reading the trees from disk."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from nameplate import schema
from nameplate.errors import SourceError
from nameplate.normalize import serial_for
from nameplate.record import Record
from nameplate.sources import ExtractOptions, image
from nameplate.sources.spack import extract as spack_extract
from nameplate.tree import DirectoryTree
from tests import imagetools as it
from tests.conftest import DATA, FIXED_TIME, SHARED, need

OPTS = ExtractOptions(clock=FIXED_TIME, platform="linux/amd64")
FAKE_STORE = SHARED / "fixtures" / "spack" / "fake-store"
EB_INSTALL = SHARED / "fixtures" / "easybuild" / "install"
MPI_LIB = Path("/usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4")


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's root file system, assembled on disk from the real fixtures."""
    need(FAKE_STORE.is_dir() and EB_INSTALL.is_dir(), "shared fixtures missing")
    root = tmp_path_factory.mktemp("rootfs")
    (root / "etc").mkdir()
    shutil.copy(DATA / "images/debian12/os-release", root / "etc/os-release")
    (root / "var/lib/dpkg").mkdir(parents=True)
    shutil.copy(DATA / "images/debian12/dpkg-status", root / "var/lib/dpkg/status")
    shutil.copytree(FAKE_STORE / "opt", root / "opt/spack/opt", symlinks=True)
    shutil.copytree(FAKE_STORE / "env", root / "opt/spack-environment", symlinks=True)
    shutil.copytree(EB_INSTALL, root / "opt/easybuild", symlinks=True)
    if MPI_LIB.exists():
        (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
        shutil.copy(MPI_LIB, root / "usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4")
    return root


def _layers(root: Path) -> list[bytes]:
    """Three layers (OS, Spack, EasyBuild) plus one that deletes a file with a whiteout."""
    os_layer = [m for m in it.tree_members(root / "etc", "etc")]
    os_layer += it.tree_members(root / "var", "var")
    if (root / "usr").exists():
        os_layer += it.tree_members(root / "usr", "usr")
    os_layer.append(it.Member("etc/removed-later", data=b"gone\n"))
    return [
        it.tar_members(os_layer),
        it.tar_members(
            it.tree_members(root / "opt/spack", "opt/spack")
            + it.tree_members(root / "opt/spack-environment", "opt/spack-environment")
        ),
        it.tar_members(it.tree_members(root / "opt/easybuild", "opt/easybuild")),
        it.tar_members([it.Member("etc/.wh.removed-later")]),
    ]


LABELS = {
    "org.opencontainers.image.title": "hpc-stack",
    "org.supercontainers.mpi.provider": "openmpi",
    "org.supercontainers.glibc.version": "2.36",
}


@pytest.fixture(scope="module")
def layout(staging: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("layout") / "img"
    digest = it.write_layout(
        out,
        [
            it.Image(
                layers=_layers(staging),
                labels=LABELS,
                annotations={"org.opencontainers.image.version": "1.0"},
            )
        ],
        tag="v1",
    )
    return out, digest


def _extract(ref: str, **kw: object) -> Record:
    (record,) = image.extract_all(ref, dataclasses.replace(OPTS, **kw))  # type: ignore[arg-type]
    schema.validate(record.to_dict())
    return record


def _comparable(record: Record, ecosystem: str) -> set[tuple[str, str, str, str | None]]:
    return {
        (c.id, c.name, c.version, c.purl) for c in record.components if c.ecosystem == ecosystem
    }


def test_layout_record_has_every_finder(layout: tuple[Path, str], staging: Path) -> None:
    path, digest = layout
    record = _extract(f"oci:{path}:v1")
    assert record.subject.kind == "image" and record.subject.digest == digest
    assert record.subject.version == "v1"
    by_finder: dict[str, int] = {}
    for c in record.components:
        for f in c.found_by:
            by_finder[f] = by_finder.get(f, 0) + 1
    assert by_finder.get("spack", 0) > 60
    assert by_finder.get("dpkg", 0) > 100
    # OS packages: registered purls and the OS from os-release
    libc6 = next(c for c in record.components if c.name == "libc6")
    assert (
        libc6.kind == "os-package" and libc6.purl and libc6.purl.startswith("pkg:deb/debian/libc6@")
    )
    assert record.hpc.os is not None and record.hpc.os.name == "debian"
    assert record.hpc.os.version == "12"
    assert record.hpc.libc is not None and record.hpc.libc.version == "2.36"
    # labels and annotations, HPC3 keys included
    assert record.annotations["org.supercontainers.mpi.provider"] == "openmpi"
    assert record.annotations["org.opencontainers.image.version"] == "1.0"
    assert record.subject.platform == "linux/amd64"
    assert record.serial == serial_for("image", digest)


def test_spack_in_image_equals_spack_on_disk(layout: tuple[Path, str], staging: Path) -> None:
    record = _extract(f"oci:{layout[0]}:v1")
    on_disk = spack_extract.extract_tree(DirectoryTree(staging), OPTS)
    assert on_disk is not None
    assert _comparable(record, "spack") == _comparable(on_disk, "spack")
    assert {(d.dependent, d.dependency, d.types) for d in on_disk.dependencies} <= {
        (d.dependent, d.dependency, d.types) for d in record.dependencies
    }
    assert set(on_disk.roots) <= set(record.roots)
    assert record.hpc.target == on_disk.hpc.target


def test_easybuild_in_image_equals_easybuild_on_disk(
    layout: tuple[Path, str], staging: Path
) -> None:
    from nameplate.sources.easybuild import extract as eb_extract

    record = _extract(f"oci:{layout[0]}:v1")
    on_disk = eb_extract.extract_tree(DirectoryTree(staging), OPTS)
    assert on_disk is not None
    eb_ids = {c.id for c in on_disk.components}
    in_image = {c.id for c in record.components if "easybuild" in c.found_by}
    assert eb_ids == in_image
    assert {(c.id, c.name, c.version) for c in on_disk.components} == {
        (c.id, c.name, c.version) for c in record.components if c.id in eb_ids
    }


def test_elf_facts_of_component_binaries(layout: tuple[Path, str]) -> None:
    record = _extract(f"oci:{layout[0]}:v1")
    elf = [e for e in record.evidence if e.kind == "elf"]
    assert elf, "the EasyBuild install has real binaries"
    assert record.hpc.libc is not None and record.hpc.libc.min_version
    if MPI_LIB.exists():
        assert any(e.path.endswith("libmpi.so.40.30.4") for e in elf)
        assert record.hpc.mpi is not None and record.hpc.mpi.soname == "libmpi.so.40"
        assert record.hpc.mpi.abi == "openmpi"


def test_same_image_three_ways(layout: tuple[Path, str], staging: Path, tmp_path: Path) -> None:
    """A layout, its oci-archive, and a docker-archive of the same layers give the same facts."""
    path, _ = layout
    base = _extract(f"oci:{path}:v1")
    archive = tmp_path / "img.tar"
    it.archive_folder(path, archive)
    from_archive = _extract(f"oci-archive:{archive}:v1")
    assert from_archive.subject.digest == base.subject.digest
    assert {(c.id, c.version, c.found_by) for c in from_archive.components} == {
        (c.id, c.version, c.found_by) for c in base.components
    }
    docker = tmp_path / "docker.tar"
    image_id = it.write_docker_archive(docker, it.Image(layers=_layers(staging), labels=LABELS))
    assert image.detect(str(docker))
    from_docker = _extract(str(docker))
    assert from_docker.subject.digest == image_id
    assert {c.id for c in from_docker.components} == {c.id for c in base.components}
    assert from_docker.hpc.os == base.hpc.os


def test_zstd_and_uncompressed_layers(staging: Path, tmp_path: Path) -> None:
    layers = _layers(staging)
    results = []
    for how in ("zstd", "none"):
        out = tmp_path / how
        it.write_layout(out, [it.Image(layers=layers, compression=how)])
        results.append(_extract(f"oci:{out}"))
    assert [c.id for c in results[0].components] == [c.id for c in results[1].components]


def test_multi_platform_index_resolves_to_the_platform(tmp_path: Path) -> None:
    amd = it.Image(layers=[it.tar_members([it.Member("etc/os-release", data=b"ID=debian\n")])])
    arm = it.Image(
        layers=[it.tar_members([it.Member("etc/os-release", data=b"ID=alpine\n")])],
        architecture="arm64",
    )
    out = tmp_path / "multi"
    it.write_layout(out, [amd, arm], tag="latest")
    a = _extract(f"oci:{out}:latest", platform="linux/amd64")
    b = _extract(f"oci:{out}:latest", platform="linux/arm64")
    assert a.hpc.os is not None and a.hpc.os.name == "debian"
    assert b.hpc.os is not None and b.hpc.os.name == "alpine"
    assert a.subject.digest == it.build(amd).manifest_digest
    assert b.subject.digest == it.build(arm).manifest_digest
    with pytest.raises(SourceError, match="no manifest for platform linux/s390x"):
        _extract(f"oci:{out}:latest", platform="linux/s390x")


def test_spack_buildcache_image_read_from_config_alone(tmp_path: Path) -> None:
    manifest = json.loads((DATA / "images/spack-oci/manifest.json").read_text())
    config = (DATA / "images/spack-oci/config.json").read_bytes()
    manifest["config"] = {**manifest["config"], "digest": it.digest(config), "size": len(config)}
    data = it.canonical(manifest)
    out = tmp_path / "cache"
    (out / "blobs/sha256").mkdir(parents=True)
    (out / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
    for blob in (config, data):
        (out / "blobs/sha256" / it.digest(blob).split(":")[1]).write_bytes(blob)
    (out / "index.json").write_bytes(
        it.canonical(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": it.MANIFEST,
                        "digest": it.digest(data),
                        "size": len(data),
                        "annotations": {"org.opencontainers.image.ref.name": "hdf5"},
                    }
                ],
            }
        )
    )
    # no layer blob exists: reading one would fail
    record = _extract(f"oci:{out}:hdf5")
    names = {c.name for c in record.components}
    assert {"hdf5", "openmpi", "zlib-ng"} <= names
    assert all("spack" in c.found_by for c in record.components)
    assert record.subject.digest == it.digest(data)
    assert record.hpc.mpi is not None and record.hpc.mpi.implementation == "openmpi"


def test_detect() -> None:
    assert image.detect("oci:/nowhere:tag")
    assert image.detect("docker://127.0.0.1:5000/a/b:1")
    assert image.detect("registry.example.org/a/b@sha256:" + "0" * 64)
    assert not image.detect(str(DATA / "elf/libsaxpy_a.so"))
    assert not image.detect("plain-name")


def test_bad_references_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not an OCI image layout"):
        _extract(f"oci:{tmp_path}")
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with pytest.raises(SourceError, match=r"junk\.tar"):
        _extract(f"docker-archive:{tmp_path / 'junk.tar'}")
