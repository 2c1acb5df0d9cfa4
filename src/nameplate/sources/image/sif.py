"""Apptainer / SingularityCE images (SIF): the global header, the descriptor table, and what
the descriptors hold.

A SIF file (sylabs/sif, format version 01) starts with a 128-byte global header (launch
script, ``SIF_MAGIC``, version, primary architecture, the image's UUID, times, and where the
descriptor table and the data lie), then a table of fixed-size (585-byte) descriptors, each
naming a data object by type, id, group, offset and size: the definition file, JSON labels,
environment, partitions (squashfs, ext3), signatures, an embedded SBOM, and, in OCI-SIF images
(SingularityCE 4), an OCI root index and OCI blobs addressed by digest.

Everything is read through :class:`~nameplate.squashfs.ReadAt` (a local file with ``pread``, or
byte ranges of a registry blob), never mapped, mounted or run. Offsets and sizes are checked
against the file before use; the number of descriptors and the size of each metadata object are
bounded. A malformed file raises :class:`~nameplate.errors.SourceError`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import struct
import uuid
from dataclasses import dataclass
from typing import Any

from ...errors import SourceError, UnsafeInput
from ...squashfs import MAGIC as SQUASHFS_MAGIC
from ...squashfs import ReadAt

__all__ = [
    "Descriptor",
    "FileReader",
    "SifImage",
    "Window",
    "is_sif",
    "read_sif",
]

_HEADER = struct.Struct("<32s10s3s3s16sqqqqqqqq")
_DESCRIPTOR = struct.Struct("<iBIIIqqqqqqq128s384s")
_MAGIC = b"SIF_MAGIC\x00"
_MAX_DESCRIPTORS = 4096
_META_LIMIT = 4 * 1024 * 1024
_GROUP_MASK = 0xF0000000

DATA_DEFFILE = 0x4001
DATA_ENVVAR = 0x4002
DATA_LABELS = 0x4003
DATA_PARTITION = 0x4004
DATA_SIGNATURE = 0x4005
DATA_GENERIC_JSON = 0x4006
DATA_GENERIC = 0x4007
DATA_CRYPTO_MESSAGE = 0x4008
DATA_SBOM = 0x4009
DATA_OCI_ROOT_INDEX = 0x400A
DATA_OCI_BLOB = 0x400B

_DATA_NAMES = {
    DATA_DEFFILE: "deffile",
    DATA_ENVVAR: "env",
    DATA_LABELS: "labels",
    DATA_PARTITION: "partition",
    DATA_SIGNATURE: "signature",
    DATA_GENERIC_JSON: "generic-json",
    DATA_GENERIC: "generic",
    DATA_CRYPTO_MESSAGE: "crypto-message",
    DATA_SBOM: "sbom",
    DATA_OCI_ROOT_INDEX: "oci-root-index",
    DATA_OCI_BLOB: "oci-blob",
}
FS_TYPES = {1: "squashfs", 2: "ext3", 3: "archive", 4: "raw", 5: "encrypted-squashfs"}
PART_TYPES = {1: "system", 2: "primary-system", 3: "data", 4: "overlay"}
#: SIF architecture codes (sylabs/sif ``arch.go``) as Go / OCI architecture names.
ARCHES = {
    b"01": "386",
    b"02": "amd64",
    b"03": "arm",
    b"04": "arm64",
    b"05": "ppc64",
    b"06": "ppc64le",
    b"07": "mips",
    b"08": "mipsle",
    b"09": "mips64",
    b"10": "mips64le",
    b"11": "s390x",
    b"12": "riscv64",
}
_SBOM_FORMATS = {
    1: "cyclonedx-json",
    2: "cyclonedx-xml",
    3: "github-json",
    4: "spdx-json",
    5: "spdx-rdf",
    6: "spdx-tag-value",
    7: "spdx-yaml",
    8: "syft-json",
}


class FileReader:
    """A local file as a :class:`~nameplate.squashfs.ReadAt` (``pread``: no shared position)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot open: {exc.strerror}") from exc
        st = os.fstat(self._fd)
        import stat

        if not stat.S_ISREG(st.st_mode):
            os.close(self._fd)
            raise SourceError(f"{self.path}: not a regular file")
        self._size = st.st_size
        #: bytes read, for the benchmark and the progress bar
        self.fetched = 0

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, n: int) -> bytes:
        try:
            data = os.pread(self._fd, n, offset)
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read at {offset}: {exc.strerror}") from exc
        self.fetched += len(data)
        return data

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class Window:
    """``size`` bytes at ``offset`` of another :class:`ReadAt` (one SIF data object)."""

    def __init__(self, source: ReadAt, offset: int, size: int) -> None:
        if offset < 0 or size < 0 or offset + size > source.size:
            raise SourceError(f"a data object at {offset} (+{size}) runs past the file")
        self.source, self.offset, self._size = source, offset, size

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, n: int) -> bytes:
        if offset >= self._size or n <= 0:
            return b""
        return self.source.read_at(self.offset + offset, min(n, self._size - offset))


@dataclass(frozen=True, kw_only=True, slots=True)
class Descriptor:
    """One used SIF descriptor: the data object's type, ids, place and type-specific fields."""

    data_type: int
    id: int
    group: int
    link: int
    offset: int
    size: int
    created: int
    name: str
    fs_type: str | None = None
    part_type: str | None = None
    arch: str | None = None
    digest: str | None = None
    sbom_format: str | None = None

    @property
    def kind(self) -> str:
        """The data type's name (``partition``, ``deffile``, ``oci-blob``...)."""
        return _DATA_NAMES.get(self.data_type, f"unknown-{self.data_type:#x}")


@dataclass(frozen=True, kw_only=True, slots=True)
class SifImage:
    """A SIF file's header and descriptors, and the source it is read from."""

    source: ReadAt
    where: str
    id: str
    version: str
    arch: str | None
    created: int
    modified: int
    descriptors: tuple[Descriptor, ...]

    def data(self, desc: Descriptor, *, limit: int = _META_LIMIT) -> bytes:
        """The bytes of a (small) data object; ``SourceError`` past ``limit``."""
        if desc.size > limit:
            raise SourceError(
                f"{self.where}: {desc.kind} object {desc.id}: {desc.size} bytes is over {limit}"
            )
        data = self.source.read_at(desc.offset, desc.size)
        if len(data) != desc.size:
            raise SourceError(f"{self.where}: {desc.kind} object {desc.id} is truncated")
        return data

    def window(self, desc: Descriptor) -> Window:
        """A data object as a random-access source of its own."""
        return Window(self.source, desc.offset, desc.size)

    def first(self, data_type: int) -> Descriptor | None:
        """The first descriptor of ``data_type`` (by id), or None."""
        return next((d for d in self.descriptors if d.data_type == data_type), None)

    def primary_partition(self) -> Descriptor | None:
        """The partition that holds the root file system: the primary system partition, else the
        first system partition (images built before the primary flag)."""
        parts = [d for d in self.descriptors if d.data_type == DATA_PARTITION]
        for wanted in ("primary-system", "system"):
            found = next((d for d in parts if d.part_type == wanted), None)
            if found is not None:
                return found
        return None

    def labels(self) -> dict[str, str]:
        """The JSON labels object (``org.label-schema.*`` and the definition's ``%labels``),
        string values only; bad JSON is a ``SourceError``."""
        desc = self.first(DATA_LABELS)
        if desc is None:
            return {}
        try:
            doc = json.loads(self.data(desc))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise SourceError(f"{self.where}: labels object {desc.id}: not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise SourceError(f"{self.where}: labels object {desc.id}: not a JSON object")
        return {str(k): v for k, v in doc.items() if isinstance(v, str)}

    def text(self, data_type: int) -> str | None:
        """The first object of ``data_type`` as text (the definition file), or None."""
        desc = self.first(data_type)
        if desc is None:
            return None
        return self.data(desc).decode("utf-8", "replace")

    def created_at(self) -> str:
        """The header's creation time (RFC 3339, UTC)."""
        moment = _dt.datetime.fromtimestamp(max(0, min(self.created, 2**33)), tz=_dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_sif(head: bytes) -> bool:
    """True if ``head`` (the first 64 bytes of a file) is a SIF global header."""
    return head[32:42] == _MAGIC


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _descriptor(raw: bytes, where: str, file_size: int) -> Descriptor | None:
    (
        data_type,
        used,
        did,
        group,
        link,
        offset,
        size,
        _padded,
        created,
        _modified,
        _uid,
        _gid,
        name,
        extra,
    ) = _DESCRIPTOR.unpack(raw)
    if not used:
        return None
    if offset < 0 or size < 0 or offset + size > file_size:
        raise SourceError(
            f"{where}: descriptor {did}: data at {offset} (+{size}) runs past the file"
        )
    fields: dict[str, Any] = {}
    if data_type == DATA_PARTITION:
        fs, part = struct.unpack_from("<ii", extra, 0)
        fields = {
            "fs_type": FS_TYPES.get(fs, f"unknown-{fs}"),
            "part_type": PART_TYPES.get(part, f"unknown-{part}"),
            "arch": ARCHES.get(extra[8:10]),
        }
    elif data_type in (DATA_OCI_ROOT_INDEX, DATA_OCI_BLOB):
        digest = _text(extra)
        if digest:
            fields["digest"] = digest
    elif data_type == DATA_SBOM:
        (fmt,) = struct.unpack_from("<i", extra, 0)
        fields["sbom_format"] = _SBOM_FORMATS.get(fmt, f"unknown-{fmt}")
    return Descriptor(
        data_type=data_type,
        id=did,
        group=group & ~_GROUP_MASK if group else 0,
        link=link,
        offset=offset,
        size=size,
        created=created,
        name=_text(name),
        **fields,
    )


def read_sif(source: ReadAt, *, where: str) -> SifImage:
    """The header and used descriptors of the SIF file ``source``."""
    head = source.read_at(0, _HEADER.size)
    if len(head) < _HEADER.size or not is_sif(head):
        raise SourceError(f"{where}: not a SIF image (no SIF_MAGIC)")
    (
        _launch,
        _magic,
        version,
        arch,
        sif_id,
        created,
        modified,
        _free,
        total,
        desc_offset,
        desc_size,
        _data_offset,
        _data_size,
    ) = _HEADER.unpack(head)
    ver = _text(version)
    if ver != "01":
        raise SourceError(f"{where}: SIF format version {ver!r} is not read (only 01)")
    if not 0 <= total <= _MAX_DESCRIPTORS:
        raise SourceError(f"{where}: header: {total} descriptors (at most {_MAX_DESCRIPTORS})")
    need = total * _DESCRIPTOR.size
    if desc_offset < _HEADER.size or desc_size < need or desc_offset + need > source.size:
        raise SourceError(f"{where}: header: the descriptor table is not inside the file")
    table = source.read_at(desc_offset, need)
    if len(table) != need:
        raise SourceError(f"{where}: the descriptor table is truncated")
    descriptors = []
    for i in range(total):
        d = _descriptor(
            table[i * _DESCRIPTOR.size : (i + 1) * _DESCRIPTOR.size], where, source.size
        )
        if d is not None:
            descriptors.append(d)
    descriptors.sort(key=lambda d: d.id)
    return SifImage(
        source=source,
        where=where,
        id=str(uuid.UUID(bytes=sif_id)),
        version=ver,
        arch=ARCHES.get(arch[:2]),
        created=created,
        modified=modified,
        descriptors=tuple(descriptors),
    )


def partition_is_squashfs(image: SifImage, desc: Descriptor) -> bool:
    """True if ``desc``'s data starts with the squashfs magic (whatever its fs type says)."""
    return image.source.read_at(desc.offset, 4) == SQUASHFS_MAGIC


def oci_blobs(image: SifImage) -> dict[str, Descriptor]:
    """OCI-SIF: each OCI blob (and the root index) by its digest."""
    out: dict[str, Descriptor] = {}
    for d in image.descriptors:
        if d.data_type in (DATA_OCI_BLOB, DATA_OCI_ROOT_INDEX) and d.digest:
            if d.digest in out and out[d.digest].size != d.size:
                raise UnsafeInput(f"{image.where}: two OCI blobs claim digest {d.digest}")
            out[d.digest] = d
    return out
