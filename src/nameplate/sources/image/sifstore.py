"""A SIF image as the image source sees it: one platform image whose only layer is the root
file system partition (squashfs, read in place), or, for an OCI-SIF, an OCI blob store whose
blobs are SIF descriptors addressed by digest.

The SIF's own metadata is recorded: its labels (as image labels), the definition file, the SIF
id, the architecture and the partition (as ``nameplate.sif.*`` annotations).
"""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO, cast

from ...errors import SourceError
from ...squashfs import ReadAt
from .layers import LayerRef
from .sif import (
    DATA_DEFFILE,
    DATA_OCI_ROOT_INDEX,
    DATA_SBOM,
    SifImage,
    Window,
    oci_blobs,
    partition_is_squashfs,
)
from .stores import _DIGEST, _DOC_LIMIT, ImageManifest, _json, _media_type, _pick_entry

__all__ = [
    "SIF_CONFIG_TYPE",
    "SIF_LAYER_TYPE",
    "SQUASHFS_LAYER_TYPES",
    "SifOciStore",
    "sif_annotations",
    "sif_manifest",
]

#: Layer media types read as squashfs (SingularityCE's OCI-SIF layers; a SIF partition).
SQUASHFS_LAYER_TYPES = frozenset(
    {
        "application/vnd.sylabs.image.layer.v1.squashfs",
        "application/vnd.sylabs.sif.partition.squashfs",
    }
)
#: What ``apptainer push oras://`` writes: the config and the layer that is the SIF file.
SIF_CONFIG_TYPE = "application/vnd.sylabs.sif.config.v1+json"
SIF_LAYER_TYPE = "application/vnd.sylabs.sif.layer.v1.sif"
_DEFFILE_LIMIT = 64 * 1024


def sif_annotations(image: SifImage) -> dict[str, str]:
    """``nameplate.sif.*``: the SIF id, architecture, definition file and embedded SBOM."""
    out = {"nameplate.sif.id": image.id}
    if image.arch:
        out["nameplate.sif.arch"] = image.arch
    deffile = image.first(DATA_DEFFILE)
    if deffile is not None:
        text = image.data(deffile, limit=_DEFFILE_LIMIT).decode("utf-8", "replace")
        out["nameplate.sif.deffile"] = text
    sbom = image.first(DATA_SBOM)
    if sbom is not None:
        out["nameplate.sif.sbom"] = f"{sbom.sbom_format} ({sbom.size} bytes, object {sbom.id})"
    return out


def sif_manifest(
    image: SifImage, *, ref: str, digest: str, tag: str | None = None
) -> ImageManifest:
    """A plain SIF as an :class:`ImageManifest`: config from the header and labels, one squashfs
    layer (the primary system partition)."""
    part = image.primary_partition()
    if part is None:
        raise SourceError(f"{image.where}: no system partition (not a container image?)")
    if part.fs_type != "squashfs" or not partition_is_squashfs(image, part):
        raise SourceError(
            f"{image.where}: partition {part.id} is {part.fs_type}: only squashfs root file "
            "systems are read"
        )
    arch = part.arch or image.arch
    labels = image.labels()
    config = {
        "architecture": arch or "unknown",
        "os": "linux",
        "created": image.created_at(),
        "config": {"Labels": labels},
    }
    annotations = sif_annotations(image)
    annotations["nameplate.sif.partition"] = (
        f"object {part.id}: {part.fs_type}, {part.part_type}, {part.size} bytes"
    )
    window = image.window(part)

    def _no_stream() -> BinaryIO:
        raise SourceError(f"{image.where}: a squashfs partition is read in place, not streamed")

    layer = LayerRef(
        digest=f"partition {part.id}",
        media_type="application/vnd.sylabs.sif.partition.squashfs",
        open=_no_stream,
        size=part.size,
        random=lambda: window,
    )
    return ImageManifest(
        ref=ref,
        digest=digest,
        config=config,
        config_digest="",
        layers=(layer,),
        annotations=annotations,
        platform=f"linux/{arch}" if arch else None,
        tag=tag,
    )


class SifOciStore:
    """An OCI-SIF as a blob store: the root index descriptor is ``index.json``; every other
    blob is the ``oci-blob`` descriptor that carries its digest. Documents are checked against
    their digests; squashfs layers are read in place."""

    def __init__(self, image: SifImage) -> None:
        self.image = image
        self.blobs = oci_blobs(image)
        root = image.first(DATA_OCI_ROOT_INDEX)
        if root is None:
            raise SourceError(f"{image.where}: no OCI root index: not an OCI-SIF")
        self.root = root

    @property
    def name(self) -> str:
        return self.image.where

    def _doc(self, digest: str) -> bytes:
        desc = self.blobs.get(digest)
        if desc is None:
            raise SourceError(f"{self.name}: no blob {digest} in the SIF")
        data = self.image.data(desc, limit=_DOC_LIMIT)
        alg, _, hexpart = digest.partition(":")
        if alg in ("sha256", "sha512") and hashlib.new(alg, data).hexdigest() != hexpart:
            raise SourceError(f"{self.name}: blob {digest} does not match its digest")
        return data

    def manifest(self, reference: str | None) -> tuple[bytes, str, str]:
        if reference is None or not _DIGEST.match(reference):
            index_bytes = self.image.data(self.root, limit=_DOC_LIMIT)
            index = _json(index_bytes, f"{self.name}: OCI root index")
            picked = _pick_entry(index, reference, f"{self.name}: OCI root index")
            if picked is None:
                digest = "sha256:" + hashlib.sha256(index_bytes).hexdigest()
                return index_bytes, _media_type(index, self.name), digest
            reference = picked
        data = self._doc(reference)
        return data, _media_type(_json(data, f"{self.name}@{reference}"), reference), reference

    def open_blob(self, digest: str) -> BinaryIO:
        desc = self.blobs.get(digest)
        if desc is None:
            raise SourceError(f"{self.name}: no blob {digest} in the SIF")
        if desc.size <= _DOC_LIMIT:
            return io.BytesIO(self.image.data(desc, limit=_DOC_LIMIT))
        return cast(BinaryIO, io.BufferedReader(_WindowStream(self.image.window(desc))))

    def random_blob(self, digest: str, size: int | None) -> ReadAt:
        """Random access to blob ``digest`` (a squashfs layer)."""
        desc = self.blobs.get(digest)
        if desc is None:
            raise SourceError(f"{self.name}: no blob {digest} in the SIF")
        return self.image.window(desc)


class _WindowStream(io.RawIOBase):
    """A SIF data object as a stream (tar layers of an OCI-SIF)."""

    def __init__(self, window: Window) -> None:
        self._w, self._pos = window, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._w.read_at(self._pos, len(buffer))
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
