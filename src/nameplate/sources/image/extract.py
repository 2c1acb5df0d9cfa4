"""Source ``image``: a container image → one record of the HPC stack inside it.

Targets (``nameplate extract image REF``):

- ``oci:PATH[:NAME]`` or ``oci:PATH@DIGEST``, or a folder holding ``oci-layout``: an OCI layout;
- ``oci-archive:PATH[:NAME]``, ``docker-archive:PATH[:TAG]``, or a ``.tar`` file: a tarball from
  ``docker save``, ``podman save`` or ``skopeo copy`` (OCI layout inside, or Docker's
  ``manifest.json`` format);
- ``docker://HOST/REPO:TAG``, ``HOST/REPO@DIGEST``: a registry, through :mod:`nameplate.oci`.

An index resolves to the manifest of ``options.platform`` (default: this host). The image is
never run and never extracted: layers are streamed into a merged read-only file tree
(:mod:`.layers`) on which the Spack and EasyBuild finders run unchanged, next to the OS package
databases (:mod:`.ospkgs`) and an ELF reader for the binaries of every component found.
A Spack OCI build-cache image is read from its config alone (the spec sits under ``spec``).
The stores (layout, archive, registry) are in :mod:`.stores`.
"""

from __future__ import annotations

import os
import platform as _platform
import sys
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ...errors import SourceError
from ...record import Record
from .._common import ExtractOptions
from .layers import LayerRef, Limits, scan_layers
from .stores import (
    _DIGEST,
    _DOC_LIMIT,
    ArchiveStore,
    ImageManifest,
    OciLayoutStore,
    _check_digest,
    _check_length,
    _check_size,
    _config_platform,
    _index_entries,
    _json,
    _RegistryStore,
    _sha256,
    _tar_mode,
)

__all__ = [
    "ArchiveStore",
    "BlobStore",
    "ImageManifest",
    "OciLayoutStore",
    "detect",
    "extract_all",
    "open_image",
]

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class BlobStore(Protocol):
    """Where an OCI image lives: manifests by reference, blobs by digest (read-only)."""

    @property
    def name(self) -> str:
        """How the store is named in messages."""
        ...

    def manifest(self, reference: str | None) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of the manifest or index ``reference`` names (a tag, a
        digest, or None for the store's only or top-level entry)."""
        ...

    def open_blob(self, digest: str) -> BinaryIO:
        """A binary stream of the blob ``digest``."""
        ...


def host_platform() -> str:
    """This host as an OCI platform (``linux/amd64``)."""
    machine = _platform.machine().lower()
    return f"linux/{_GOARCH.get(machine, machine)}"


def _platform_of(desc: dict[str, Any]) -> str | None:
    p = desc.get("platform")
    if not isinstance(p, dict) or not p.get("architecture"):
        return None
    parts = [str(p.get("os") or ""), str(p["architecture"])]
    if p.get("variant"):
        parts.append(str(p["variant"]))
    return "/".join(parts)


def _matches(have: str, wanted: str) -> bool:
    h, w = have.split("/"), wanted.split("/")
    if h[:2] != w[:2]:
        return False
    if len(w) > 2:
        hv = h[2] if len(h) > 2 else ("v8" if h[1] == "arm64" else "")
        return hv == w[2]
    return True


def _select(index: dict[str, Any], wanted: str, where: str) -> dict[str, Any]:
    entries = _index_entries(index, where)
    images = [d for d in entries if _platform_of(d) is not None]
    for d in images:
        if _matches(str(_platform_of(d)), wanted):
            return d
    if not images and len(entries) == 1:
        return entries[0]
    have = ", ".join(sorted({str(_platform_of(d)) for d in images})) or "none"
    raise SourceError(f"{where}: no manifest for platform {wanted} (the index has: {have})")


def resolve_image(
    store: BlobStore, reference: str | None, *, ref: str, platform: str | None
) -> ImageManifest:
    """Resolve ``reference`` in ``store`` to one platform's manifest, config and layers."""
    wanted = platform or host_platform()
    data, media_type, digest = store.manifest(reference)
    annotations: dict[str, str] = {}
    for _ in range(4):  # nested indexes, bounded
        doc = _json(data, f"{store.name}@{digest}")
        if media_type not in INDEX_TYPES and "manifests" not in doc:
            break
        where = f"{store.name}@{digest}"
        chosen = _select(doc, wanted, where)
        annotations.update(_str_map(chosen.get("annotations")))
        data, media_type, digest = store.manifest(_check_digest(chosen.get("digest", ""), ref))
        _check_length(chosen, len(data), f"{where}: manifests[{digest}]")
    else:
        raise SourceError(f"{ref}: image indexes nest too deeply")
    doc = _json(data, f"{store.name}@{digest}")
    config_desc = doc.get("config")
    if not isinstance(config_desc, dict) or not isinstance(doc.get("layers", []), list):
        raise SourceError(f"{ref}@{digest}: not an image manifest (no config)")
    config_digest = _check_digest(config_desc.get("digest", ""), ref)
    with store.open_blob(config_digest) as f:
        config_bytes = f.read(_DOC_LIMIT + 1)
    if config_digest.startswith("sha256:") and _sha256(config_bytes) != config_digest:
        raise SourceError(f"{ref}: config blob {config_digest} does not match its digest")
    config = _json(config_bytes, f"{ref}: config {config_digest}")
    _check_length(config_desc, len(config_bytes), f"{ref}@{digest}: config")
    layers = []
    for i, layer in enumerate(doc.get("layers") or []):
        if not isinstance(layer, dict):
            raise SourceError(f"{ref}@{digest}: layers[{i}] is not a descriptor")
        at = f"{ref}@{digest}: layers[{i}]"
        ld = _check_digest(layer.get("digest", ""), at)
        size = _check_size(layer, at)
        if size == 0 and "size" in layer:  # an empty tar is 1024 bytes, an empty gzip 20
            raise SourceError(f"{at}.size: 0 bytes: no layer is empty")
        layers.append(
            LayerRef(
                digest=ld,
                media_type=str(layer.get("mediaType", "")),
                open=_blob_opener(store, ld),
                size=size,
            )
        )
    annotations.update(_str_map(doc.get("annotations")))
    return ImageManifest(
        ref=ref,
        digest=digest,
        config=config if isinstance(config, dict) else {},
        config_digest=config_digest,
        layers=tuple(layers),
        annotations=annotations,
        platform=_config_platform(config) or wanted,
        tag=reference if reference and not _DIGEST.match(reference) else None,
    )


def _blob_opener(store: BlobStore, digest: str) -> Callable[[], BinaryIO]:
    return lambda: store.open_blob(digest)


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float)}


def _split(rest: str) -> tuple[str, str | None]:
    if "@" in rest:
        path, _, digest = rest.rpartition("@")
        return path, digest
    path, sep, name = rest.partition(":")
    return path, (name or None) if sep else None


def _looks_registry(target: str) -> bool:
    if target.startswith("docker://"):
        return True
    first = target.split("/", 1)[0]
    return "/" in target and ("." in first or ":" in first or first == "localhost")


def open_image(target: str, options: ExtractOptions) -> ImageManifest:
    """Resolve an image reference (see the module docstring) to one platform manifest."""
    platform = options.platform
    for scheme in ("oci:", "oci-archive:", "docker-archive:"):
        if target.startswith(scheme):
            path, reference = _split(target[len(scheme) :])
            if scheme == "oci:":
                return resolve_image(OciLayoutStore(path), reference, ref=target, platform=platform)
            return _from_archive(ArchiveStore(path), reference, target, platform)
    local = Path(target)
    if local.is_dir():
        return resolve_image(OciLayoutStore(local), None, ref=target, platform=platform)
    if local.is_file():
        return _from_archive(ArchiveStore(local), None, target, platform)
    if _looks_registry(target):
        store = _RegistryStore(target, options.transport)
        return resolve_image(store, store.reference, ref=target, platform=platform)
    raise SourceError(f"{target}: not an image layout, archive or registry reference")


def _from_archive(
    store: ArchiveStore, reference: str | None, ref: str, platform: str | None
) -> ImageManifest:
    if store.is_oci:
        return resolve_image(store, reference, ref=ref, platform=platform)
    return store.docker_image(reference, ref)


def detect(target: str | os.PathLike[str]) -> bool:
    """True for an image reference: a layout folder, an image tarball or a registry ref."""
    text = os.fspath(target)
    if text.startswith(("oci:", "oci-archive:", "docker-archive:", "docker://")):
        return True
    path = Path(text)
    if path.is_dir():
        return (path / "oci-layout").is_file()
    if path.is_file():
        try:
            with tarfile.open(path, _tar_mode(path)) as tf:
                for _, member in zip(range(10_000), tf, strict=False):
                    if member.name.lstrip("./") in ("index.json", "manifest.json"):
                        return True
        except (tarfile.TarError, OSError, EOFError, SourceError):
            return False
        return False
    return _looks_registry(text)


@contextmanager
def _progress(
    options: ExtractOptions, total: int, label: str
) -> Iterator[Callable[[int], None] | None]:
    if not options.progress or not sys.stderr.isatty():
        yield None
        return
    import click

    bar: Any
    with click.progressbar(length=total or None, label=label, file=sys.stderr) as bar:
        yield bar.update


def extract_all(target: str | os.PathLike[str], options: ExtractOptions) -> list[Record]:
    """One record for the image ``target`` (for the platform ``options.platform``)."""
    from .record import build_image_record, metadata_keep

    text = os.fspath(target)
    image = open_image(text, options)
    spec = image.config.get("spec")
    if isinstance(spec, dict):
        return [build_image_record(image, None, options)]
    limits = Limits(**_limit_overrides(options))
    total = sum(layer.size for layer in image.layers)
    with _progress(options, total, f"scanning {len(image.layers)} layers") as bar:
        tree = scan_layers(text, image.layers, keep=metadata_keep, limits=limits, progress=bar)
    return [build_image_record(image, tree, options)]


def _limit_overrides(options: ExtractOptions) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in ("max_bytes", "max_ratio", "max_entries", "keep_total"):
        value = options.extra.get(f"image.{key}")
        if value is not None and value.isdigit():
            out[key] = int(value)
    return out
