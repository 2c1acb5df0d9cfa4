"""A small deterministic image writer for tests (stdlib + zstandard): layers, OCI layouts,
``docker save``-style archives. Same input, same bytes, same digests (see the research note
``oci-compat.md`` §4: sorted PAX members, uid/gid 0, mtime 0, gzip mtime 0, compact JSON)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Member:
    """One tar member: ``kind`` file, dir, symlink, hardlink; ``data`` or ``link``."""

    name: str
    kind: str = "file"
    data: bytes = b""
    link: str = ""
    mode: int = 0o644


def tar_members(members: Iterable[Member], *, sort: bool = True) -> bytes:
    buf = io.BytesIO()
    items = sorted(members, key=lambda m: m.name) if sort else list(members)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in items:
            info = tarfile.TarInfo(m.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = m.mode
            if m.kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif m.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, m.link
                tar.addfile(info)
            elif m.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, m.link
                tar.addfile(info)
            else:
                info.size = len(m.data)
                tar.addfile(info, io.BytesIO(m.data))
    return buf.getvalue()


def tree_members(root: Path, prefix: str) -> list[Member]:
    """Members for every file, folder and symlink under ``root``, placed under ``prefix``."""
    out: list[Member] = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel = Path(dirpath).relative_to(root)
        base = f"{prefix}/{rel.as_posix()}" if str(rel) != "." else prefix
        out.append(Member(base, "dir"))
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                out.append(Member(f"{base}/{name}", "symlink", link=os.readlink(full)))
            else:
                mode = os.stat(full).st_mode & 0o777
                out.append(Member(f"{base}/{name}", data=Path(full).read_bytes(), mode=mode))
    return out


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0, compresslevel=6)
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(data)
    return data


@dataclass
class Image:
    """An image to write: uncompressed layer tars, config extras, labels, annotations."""

    layers: Sequence[bytes]
    compression: str = "gzip"
    architecture: str = "amd64"
    os: str = "linux"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    config_extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Written:
    manifest_digest: str
    manifest: bytes
    config: bytes
    blobs: dict[str, bytes]


def build(image: Image) -> Written:
    blobs: dict[str, bytes] = {}
    descs = []
    for tar in image.layers:
        comp = compress(tar, image.compression)
        blobs[digest(comp)] = comp
        descs.append(
            {"mediaType": LAYER[image.compression], "digest": digest(comp), "size": len(comp)}
        )
    config_doc = {
        "architecture": image.architecture,
        "os": image.os,
        "created": "2026-01-01T00:00:00Z",
        "config": {"Labels": image.labels} if image.labels else {},
        "rootfs": {"type": "layers", "diff_ids": [digest(t) for t in image.layers]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "tests/imagetools.py"}],
        **image.config_extra,
    }
    config = canonical(config_doc)
    blobs[digest(config)] = config
    manifest_doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": digest(config), "size": len(config)},
        "layers": descs,
    }
    if image.annotations:
        manifest_doc["annotations"] = image.annotations
    manifest = canonical(manifest_doc)
    blobs[digest(manifest)] = manifest
    return Written(digest(manifest), manifest, config, blobs)


def write_layout(
    path: Path,
    images: Sequence[Image],
    *,
    tag: str = "latest",
    index_of_platforms: bool | None = None,
) -> str:
    """Write ``images`` as an OCI layout; several images become a multi-platform index.
    Returns the digest the tag names (a manifest, or the index)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))
    blob_dir = path / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    written = [build(i) for i in images]
    for w in written:
        for d, data in w.blobs.items():
            (blob_dir / d.split(":")[1]).write_bytes(data)
    multi = len(images) > 1 if index_of_platforms is None else index_of_platforms
    ref = {"org.opencontainers.image.ref.name": tag}
    if not multi:
        w = written[0]
        top = {
            "mediaType": MANIFEST,
            "digest": w.manifest_digest,
            "size": len(w.manifest),
            "annotations": ref,
            "platform": {"architecture": images[0].architecture, "os": images[0].os},
        }
        (path / "index.json").write_bytes(
            canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": [top]})
        )
        return w.manifest_digest
    children = [
        {
            "mediaType": MANIFEST,
            "digest": w.manifest_digest,
            "size": len(w.manifest),
            "platform": {"architecture": i.architecture, "os": i.os},
        }
        for w, i in zip(written, images, strict=True)
    ]
    index = canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": children})
    (blob_dir / digest(index).split(":")[1]).write_bytes(index)
    (path / "index.json").write_bytes(
        canonical(
            {
                "schemaVersion": 2,
                "mediaType": INDEX,
                "manifests": [
                    {
                        "mediaType": INDEX,
                        "digest": digest(index),
                        "size": len(index),
                        "annotations": ref,
                    }
                ],
            }
        )
    )
    return digest(index)


def archive_folder(folder: Path, out: Path) -> None:
    """Tar an OCI layout folder (``oci-archive:``) deterministically."""
    members = [m for m in tree_members(folder, ".") if m.name != "."]
    for m in members:
        m.name = m.name.removeprefix("./")
    out.write_bytes(tar_members(members))


def write_docker_archive(out: Path, image: Image, *, repo_tag: str = "test/image:latest") -> str:
    """A ``docker save`` (legacy, pre-OCI) archive: manifest.json, <id>.json, <id>/layer.tar.
    Returns the image id (the config digest)."""
    w = build(
        Image(
            layers=image.layers,
            compression="none",
            architecture=image.architecture,
            os=image.os,
            labels=image.labels,
            config_extra=image.config_extra,
        )
    )
    config_name = w.config and digest(w.config).split(":")[1] + ".json"
    members = [Member(config_name, data=w.config)]
    layer_names = []
    for tar in image.layers:
        lid = digest(tar).split(":")[1]
        members.append(Member(f"{lid}/layer.tar", data=tar))
        members.append(Member(f"{lid}/VERSION", data=b"1.0"))
        layer_names.append(f"{lid}/layer.tar")
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]
    members.append(Member("manifest.json", data=json.dumps(manifest).encode()))
    out.write_bytes(tar_members(members))
    return digest(w.config)
