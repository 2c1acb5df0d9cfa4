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
A Spack OCI build-cache image is read from its config (the spec sits under ``spec``) and its
root's own layer (``.spack/`` only); Spack's index image of the cache (``index.spack``) as a
build-cache index.
The stores (layout, archive, registry) are in :mod:`.stores`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform as _platform
import sys
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from ...errors import NameplateError, SourceError
from ...record import Record
from ...squashfs import ReadAt
from .._common import ExtractOptions
from .layers import LayerRef, LayerTree, Limits, scan_layers
from .ranged import RangedBlob
from .sif import DATA_OCI_ROOT_INDEX, FileReader, is_sif, read_sif
from .sifstore import (
    SIF_CONFIG_TYPE,
    SIF_LAYER_TYPE,
    SQUASHFS_LAYER_TYPES,
    SifOciStore,
    sif_annotations,
    sif_manifest,
)
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

log = logging.getLogger(__name__)

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
#: The largest Spack build-cache index layer read (the DB of every spec in the cache).
_INDEX_LIMIT = 256 * 1024 * 1024
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
    index_platform: str | None = None
    for _ in range(4):  # nested indexes, bounded
        doc = _json(data, f"{store.name}@{digest}")
        if media_type not in INDEX_TYPES and "manifests" not in doc:
            break
        where = f"{store.name}@{digest}"
        chosen = _select(doc, wanted, where)
        index_platform = _platform_of(chosen) or index_platform
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
    if config_desc.get("mediaType") == SIF_CONFIG_TYPE:
        return _sif_artifact(store, doc, ref=ref, digest=digest, reference=reference)
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
        media_type = str(layer.get("mediaType", ""))
        size = _check_size(layer, at)
        if size == 0 and "size" in layer:  # an empty tar is 1024 bytes, an empty gzip 20
            raise SourceError(f"{at}.size: 0 bytes: no layer is empty")
        layers.append(
            LayerRef(
                digest=ld,
                media_type=media_type,
                open=_blob_opener(store, ld),
                size=size,
                random=_random_opener(store, ld, media_type),
            )
        )
    annotations.update(_str_map(doc.get("annotations")))
    found: str | None = _config_platform(config) or wanted
    conflicts: tuple[str, ...] = ()
    if index_platform and found and not _matches(found, index_platform):
        conflicts = (
            f"the index says {index_platform} for manifest {digest}, its config says "
            f"{found}: the platform is unknown",
        )
        log.warning("%s: %s", ref, conflicts[0])
        found = None
    return ImageManifest(
        ref=ref,
        digest=digest,
        config=config if isinstance(config, dict) else {},
        config_digest=config_digest,
        layers=tuple(layers),
        annotations=annotations,
        platform=found,
        tag=reference if reference and not _DIGEST.match(reference) else None,
        conflicts=conflicts,
    )


def _report_fetch(image: ImageManifest) -> None:
    ranged = image.ranged
    if ranged is not None:
        log.info(
            "%s: fetched %d of %d bytes in %d range requests",
            ranged.where,
            ranged.fetched,
            ranged.size,
            ranged.requests,
        )


def _sif_artifact(
    store: BlobStore, doc: dict[str, Any], *, ref: str, digest: str, reference: str | None
) -> ImageManifest:
    """A SIF pushed as an artifact (``apptainer push oras://``): its SIF layer, read in place
    (byte ranges from a registry); the subject is the artifact's manifest."""
    at = f"{ref}@{digest}"
    sifs = [
        d
        for d in doc.get("layers") or []
        if isinstance(d, dict) and d.get("mediaType") == SIF_LAYER_TYPE
    ]
    if len(sifs) != 1:
        raise SourceError(f"{at}: a SIF artifact has one {SIF_LAYER_TYPE} layer, not {len(sifs)}")
    layer_digest = _check_digest(sifs[0].get("digest", ""), f"{at}: layers[0]")
    size = _check_size(sifs[0], f"{at}: layers[0]")
    random_blob = getattr(store, "random_blob", None)
    if random_blob is None:
        raise SourceError(f"{at}: a SIF layer can only be read from a registry or a layout")
    source = cast("ReadAt", random_blob(layer_digest, size))
    tag = reference if reference and not _DIGEST.match(reference) else None
    image = open_sif(
        source, ref=ref, digest=digest, where=f"{ref}@{layer_digest}", platform=None, tag=tag
    )
    notes = {**image.annotations, "nameplate.sif.digest": layer_digest}
    ranged = source if isinstance(source, RangedBlob) else None
    return dataclasses.replace(image, annotations=notes, ranged=ranged)


def _blob_opener(store: BlobStore, digest: str) -> Callable[[], BinaryIO]:
    return lambda: store.open_blob(digest)


def _random_opener(store: BlobStore, digest: str, media_type: str) -> Callable[[], ReadAt] | None:
    """Random access to a squashfs layer, where the store offers it (an OCI-SIF)."""
    random_blob = getattr(store, "random_blob", None)
    if media_type not in SQUASHFS_LAYER_TYPES:
        return None
    if random_blob is None:
        raise SourceError(f"{store.name}: squashfs layer {digest} cannot be read from here")
    return lambda: cast("ReadAt", random_blob(digest, None))


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


def _sif_head(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return is_sif(f.read(64))
    except OSError:
        return False


def open_sif(
    source: ReadAt, *, ref: str, digest: str, where: str, platform: str | None, tag: str | None
) -> ImageManifest:
    """A SIF (local or in a registry) as one platform image: its squashfs partition, or for an
    OCI-SIF the image its root index names."""
    image = read_sif(source, where=where)
    if image.first(DATA_OCI_ROOT_INDEX) is not None:
        oci_image = resolve_image(SifOciStore(image), None, ref=ref, platform=platform)
        notes = {**oci_image.annotations, **sif_annotations(image)}
        return dataclasses.replace(oci_image, annotations=notes, tag=tag)
    return sif_manifest(image, ref=ref, digest=digest, tag=tag)


def open_image(target: str, options: ExtractOptions) -> ImageManifest:
    """Resolve an image reference (see the module docstring) to one platform manifest."""
    platform = options.platform
    sif_path = _local_sif(target)
    if sif_path is not None:
        return open_sif(
            FileReader(sif_path),
            ref=target,
            digest="",
            where=str(sif_path),
            platform=platform,
            tag=None,
        )
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


def _local_sif(target: str) -> Path | None:
    """The SIF file ``target`` names (``sif:PATH``, or a file with the SIF magic), or None."""
    if target.startswith("sif:"):
        path = Path(target[4:])
        if not path.is_file():
            raise SourceError(f"{path}: no such SIF file")
        return path
    path = Path(target)
    if not target.startswith(("oci:", "oci-archive:", "docker-archive:")) and path.is_file():
        return path if _sif_head(path) else None
    return None


def detect(target: str | os.PathLike[str]) -> bool:
    """True for an image reference: a layout folder, an image tarball, a SIF file or a registry
    ref."""
    text = os.fspath(target)
    if text.startswith(("oci:", "oci-archive:", "docker-archive:", "docker://", "sif:")):
        return True
    path = Path(text)
    if path.is_dir():
        return (path / "oci-layout").is_file()
    if path.is_file() and _sif_head(path):
        return True
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
    sif_path = _local_sif(text)
    hasher = _FileHash(sif_path) if sif_path is not None else None
    try:
        image = open_image(text, options)
        spec = image.config.get("spec")
        if isinstance(spec, dict):  # a Spack OCI build-cache image: layers are install tarballs
            layers = _buildcache_layers(text, image)
            return [build_image_record(image, None, options, layers=layers)]
        index = _spack_index(image)
        if index is not None:
            from ..spack.extract import records_from_buildcache_index

            where = f"{text}: layer {image.layers[0].digest}"
            return records_from_buildcache_index(index, where=where, options=options)
        limits = Limits(**_limit_overrides(options))
        total = sum(layer.size for layer in image.layers)
        with _progress(options, total, f"scanning {len(image.layers)} layers") as bar:
            tree = scan_layers(text, image.layers, keep=metadata_keep, limits=limits, progress=bar)
        _report_fetch(image)
    finally:
        digest = hasher.result() if hasher is not None else None
    if digest and not image.digest:
        image = dataclasses.replace(image, digest=digest)  # a SIF file: its sha256
    return [build_image_record(image, tree, options)]


class _FileHash:
    """The sha256 of a file, computed in a thread while the scan runs (hashlib lets go of the
    GIL): the identity of a SIF file, equal to the digest of the blob `apptainer push` sends."""

    def __init__(self, path: Path) -> None:
        import threading

        self._path, self._digest, self._error = path, "", ""
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="nameplate-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        h = hashlib.sha256()
        try:
            with open(self._path, "rb", buffering=0) as f:
                while not self._stop:
                    chunk = f.read(4 * 1024 * 1024)
                    if not chunk:
                        break
                    h.update(chunk)
        except OSError as exc:
            self._error = f"{self._path}: cannot read: {exc.strerror}"
            return
        self._digest = "sha256:" + h.hexdigest()

    def result(self) -> str:
        """The digest (after the thread ends); ``SourceError`` if the file could not be read."""
        import sys

        if sys.exc_info()[0] is not None:
            self._stop = True  # the scan failed: no need to finish
        self._thread.join()
        if self._error:
            raise SourceError(self._error)
        return self._digest


def _buildcache_layers(text: str, image: ImageManifest) -> tuple[LayerTree | None, list[str]]:
    """The layers of a Spack build-cache image merged (every prefix at its build-time path);
    the digests of those that cannot be read (a blob missing, or not what its digest says) are
    returned so the record names them. One pass when every layer reads."""
    try:
        return scan_layers(text, image.layers, keep=_spack_keep, limits=Limits()), []
    except NameplateError:
        pass
    present, missing = [], []
    for layer in image.layers:
        try:
            scan_layers(text, [layer], keep=_spack_keep, limits=Limits())
        except NameplateError:
            missing.append(layer.digest)
            continue
        present.append(layer)
    if not present:
        return None, missing
    try:
        return scan_layers(text, present, keep=_spack_keep, limits=Limits()), missing
    except NameplateError:
        return None, missing


def _spack_keep(path: str, size: int) -> bool:
    return "/.spack/" in "/" + path and "/.spack/repos/" not in "/" + path


def _spack_index(image: ImageManifest) -> Any:
    """The DB of a Spack OCI build cache's index image (``index.spack``: an empty config and
    one layer that is the DB's JSON, though labelled a tar layer), else None."""
    if image.config or len(image.layers) != 1 or image.layers[0].size > _INDEX_LIMIT:
        return None
    layer = image.layers[0]
    with layer.open() as f:
        raw = f.read(_INDEX_LIMIT + 1)
    if len(raw) > _INDEX_LIMIT or not raw.lstrip().startswith(b"{"):
        return None
    _check_layer_digest(raw, layer.digest, image.ref)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and "database" in data else None


def _check_layer_digest(raw: bytes, digest: str, ref: str) -> None:
    algorithm, _, value = digest.partition(":")
    if hashlib.new(algorithm, raw).hexdigest() != value:
        raise SourceError(f"{ref}: layer {digest} does not match its digest")


def _limit_overrides(options: ExtractOptions) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in ("max_bytes", "max_ratio", "max_entries", "keep_total"):
        value = options.extra.get(f"image.{key}")
        if value is not None and value.isdigit():
            out[key] = int(value)
    return out
