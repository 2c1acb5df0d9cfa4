"""Where an image lives, read-only: an OCI layout folder, an image tarball, or a registry.

Each store answers the :class:`~.extract.BlobStore` protocol (a manifest or index by reference, a
blob by digest): :class:`OciLayoutStore` (``oci-layout``, ``index.json``, ``blobs/``),
:class:`ArchiveStore` (a ``docker save``/``podman save``/``skopeo copy`` tarball, with an OCI
layout or Docker's ``manifest.json`` inside; the latter resolved by
:meth:`ArchiveStore.docker_image`), and ``_RegistryStore`` (a registry through
:mod:`nameplate.oci`). Also here: the bounded JSON, digest and descriptor checks they share with
:mod:`.image`, and :class:`ImageManifest`, the resolved image. Paths and digests are checked
before use; nothing leads out of a layout, and no blob is read whole from a registry.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Literal, cast

from ...errors import SourceError, UnsafeInput
from ...tree import open_regular
from .layers import LayerRef

if TYPE_CHECKING:
    from ...oci import Transport
    from ...squashfs import ReadAt
    from .ranged import RangedBlob

__all__ = ["ArchiveStore", "ImageManifest", "OciLayoutStore"]

_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_DOC_LIMIT = 4 * 1024 * 1024
#: Largest blob read whole from a server that ignores HTTP ``Range`` (else refused).
_WHOLE_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageManifest:
    """One platform image, resolved: what the record needs before any layer is read."""

    ref: str
    digest: str
    config: dict[str, Any]
    config_digest: str
    layers: tuple[LayerRef, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    platform: str | None = None
    tag: str | None = None
    #: what the image says about itself that does not agree (recorded as unknowns)
    conflicts: tuple[str, ...] = ()
    #: the registry blob read by byte ranges (a SIF artifact): what it fetched, for reports
    ranged: RangedBlob | None = field(default=None, compare=False, repr=False)


def _check_digest(digest: Any, where: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise UnsafeInput(f"{where}: {digest!r} is not a sha256/sha512 digest")
    return digest


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(data: bytes, where: str) -> Any:
    if len(data) > _DOC_LIMIT:
        raise SourceError(f"{where}: {len(data)} bytes is too large for a manifest or config")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SourceError(f"{where}: not valid JSON: {exc}") from exc


def _media_type(doc: Any, where: str) -> str:
    if not isinstance(doc, dict):
        raise SourceError(f"{where}: a manifest is a JSON object")
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    if "manifests" in doc:
        return "application/vnd.oci.image.index.v1+json"
    return "application/vnd.oci.image.manifest.v1+json"


def _index_entries(index: Any, where: str) -> list[dict[str, Any]]:
    """The ``manifests`` of an image index, each checked to be a descriptor object with an
    object ``annotations``, a string ref name and an integer ``size`` when present."""
    if not isinstance(index, dict):
        raise SourceError(f"{where}: an image index is a JSON object")
    manifests = index.get("manifests")
    if manifests is None:
        return []
    if not isinstance(manifests, list):
        raise SourceError(f"{where}: manifests: not a list")
    for i, d in enumerate(manifests):
        at = f"{where}: manifests[{i}]"
        if not isinstance(d, dict):
            raise SourceError(f"{at}: not a descriptor object")
        annotations = d.get("annotations")
        if annotations is not None and not isinstance(annotations, dict):
            raise SourceError(f"{at}.annotations: not an object")
        if annotations is not None and not isinstance(annotations.get(_REF_NAME, ""), str):
            raise SourceError(f"{at}.annotations: {_REF_NAME} is not a string")
        if "platform" in d and not isinstance(d["platform"], dict):
            raise SourceError(f"{at}.platform: not an object")
        _check_size(d, at)
    return manifests


def _check_size(desc: dict[str, Any], where: str) -> int:
    """A descriptor's ``size``: a non-negative integer (0 when absent), as the OCI commands
    require."""
    size = desc.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise SourceError(f"{where}.size: not a non-negative integer")
    return size


def _check_length(desc: dict[str, Any], actual: int, where: str) -> None:
    """Refuse content whose length is not its descriptor's ``size``: the size is part of the
    descriptor, so a matching digest is not enough."""
    if "size" in desc and _check_size(desc, where) != actual:
        raise SourceError(
            f"{where}.size: the descriptor's size is {desc['size']} bytes, the content has {actual}"
        )


def _pick(index: Any, reference: str | None, where: str) -> tuple[str, dict[str, Any]] | None:
    """(digest, entry) of the ``index.json`` entry for ``reference`` (a ref.name), or None."""
    entries = _index_entries(index, where)
    if reference is None:
        named = [d for d in entries if (d.get("annotations") or {}).get(_REF_NAME)]
        pool = named or entries
        if len(pool) == 1:
            at = f"{where}: manifests[{entries.index(pool[0])}]"
            return _check_digest(pool[0].get("digest"), at), pool[0]
        return None
    for i, d in enumerate(entries):
        name = (d.get("annotations") or {}).get(_REF_NAME)
        if name == reference or (isinstance(name, str) and name.endswith(f":{reference}")):
            return _check_digest(d.get("digest"), f"{where}: manifests[{i}]"), d
    raise SourceError(f"{where}: no image named {reference!r} in index.json")


def _pick_entry(index: Any, reference: str | None, where: str) -> str | None:
    """The digest an ``index.json`` entry names for ``reference`` (a ref.name), or None."""
    picked = _pick(index, reference, where)
    return None if picked is None else picked[0]


_REF_NAME = "org.opencontainers.image.ref.name"


class OciLayoutStore:
    """An OCI image layout folder (``oci-layout``, ``index.json``, ``blobs/``), read-only."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        if not (self.root / "oci-layout").is_file() or not (self.root / "index.json").is_file():
            raise SourceError(f"{self.root}: not an OCI image layout (no oci-layout/index.json)")

    @property
    def name(self) -> str:
        return str(self.root)

    def _read(self, rel: str) -> bytes:
        path = (self.root / rel).resolve()
        if self.root not in path.parents:
            raise UnsafeInput(f"{self.root}: {rel} leads out of the layout")
        with open_regular(path, where=f"{self.root}/{rel}") as f:
            try:
                return f.read(_DOC_LIMIT + 1)
            except OSError as exc:
                raise SourceError(f"{self.root}/{rel}: cannot read: {exc.strerror}") from exc

    def manifest(self, reference: str | None) -> tuple[bytes, str, str]:
        entry: dict[str, Any] | None = None
        if reference is None or not _DIGEST.match(reference):
            index_bytes = self._read("index.json")
            index = _json(index_bytes, f"{self.root}/index.json")
            picked = _pick(index, reference, f"{self.root}/index.json")
            if picked is None:
                return index_bytes, _media_type(index, self.name), _sha256(index_bytes)
            reference, entry = picked
        digest = _check_digest(reference, self.name)
        alg, _, hexpart = digest.partition(":")
        data = self._read(f"blobs/{alg}/{hexpart}")
        if alg == "sha256" and _sha256(data) != digest:
            raise SourceError(f"{self.name}: blob {digest} does not match its digest")
        if entry is not None:
            _check_length(entry, len(data), f"{self.root}/index.json: {digest}")
        return data, _media_type(_json(data, f"{self.name}@{digest}"), digest), digest

    def random_blob(self, digest: str, size: int | None) -> ReadAt:
        """Random access to blob ``digest`` (a SIF or squashfs layer), read in place."""
        from .sif import FileReader

        alg, _, hexpart = _check_digest(digest, self.name).partition(":")
        path = (self.root / "blobs" / alg / hexpart).resolve()
        if self.root not in path.parents:
            raise UnsafeInput(f"{self.root}: blob {digest} leads out of the layout")
        reader = FileReader(path)
        if size is not None and reader.size != size:
            raise SourceError(f"{self.name}: blob {digest} has {reader.size} bytes, not {size}")
        return reader

    def open_blob(self, digest: str) -> BinaryIO:
        alg, _, hexpart = _check_digest(digest, self.name).partition(":")
        path = (self.root / "blobs" / alg / hexpart).resolve()
        if self.root not in path.parents:
            raise UnsafeInput(f"{self.root}: blob {digest} leads out of the layout")
        return open_regular(path, where=f"{self.name}: blob {digest}")


_TarMode = Literal["r:", "r:gz", "r:bz2", "r:xz"]
_TAR_MAGIC: tuple[tuple[bytes, _TarMode], ...] = (
    (b"\x1f\x8b", "r:gz"),
    (b"BZh", "r:bz2"),
    (b"\xfd7zXZ\x00", "r:xz"),
)


def _tar_mode(path: Path) -> _TarMode:
    """The tarfile mode for ``path`` from its first bytes. ``r:*`` would try every decompressor
    in turn over the whole file: minutes on a large file that is not an archive at all."""
    with open_regular(path) as f:
        try:
            head = f.read(6)
        except OSError as exc:
            raise SourceError(f"{path}: cannot read: {exc.strerror}") from exc
    return next((mode for magic, mode in _TAR_MAGIC if head.startswith(magic)), "r:")


class ArchiveStore:
    """A tarball of an image (OCI layout inside, or ``docker save``'s ``manifest.json``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            with tarfile.open(self.path, _tar_mode(self.path)) as tf:  # headers only
                self._compressed = not isinstance(tf.fileobj, io.BufferedReader)
                self._members = {
                    m.name.lstrip("./"): (m.offset_data, m.size, m.name)
                    for m in tf.getmembers()
                    if m.isfile()
                }
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceError(f"{self.path}: not a readable image archive: {exc}") from exc
        self.is_oci = "index.json" in self._members
        if not self.is_oci and "manifest.json" not in self._members:
            raise SourceError(f"{self.path}: no index.json or manifest.json: not an image archive")

    @property
    def name(self) -> str:
        return str(self.path)

    def _open(self, name: str) -> BinaryIO:
        found = self._members.get(name.lstrip("./"))
        if found is None:
            raise SourceError(f"{self.path}: no file {name!r} in the archive")
        offset, size, member = found
        if self._compressed:  # no random access: re-read the archive up to the member
            tf = tarfile.open(self.path, _tar_mode(self.path))  # noqa: SIM115 - closed with the stream
            f = tf.extractfile(member)
            if f is None:
                tf.close()
                raise SourceError(f"{self.path}: {name!r} is not a regular file")
            return cast(BinaryIO, _Slice(f, 0, size, also_close=tf))
        return cast(BinaryIO, _Slice(open_regular(self.path), offset, size))

    def _opener(self, name: str) -> Callable[[], BinaryIO]:
        return lambda: self._open(name)

    def _read(self, name: str) -> bytes:
        with self._open(name) as f:
            return f.read(_DOC_LIMIT + 1)

    def manifest(self, reference: str | None) -> tuple[bytes, str, str]:
        entry: dict[str, Any] | None = None
        if reference is None or not _DIGEST.match(reference):
            index_bytes = self._read("index.json")
            index = _json(index_bytes, f"{self.path}:index.json")
            picked = _pick(index, reference, f"{self.path}:index.json")
            if picked is None:
                return index_bytes, _media_type(index, self.name), _sha256(index_bytes)
            reference, entry = picked
        digest = _check_digest(reference, self.name)
        data = self._read("blobs/" + digest.replace(":", "/"))
        if digest.startswith("sha256:") and _sha256(data) != digest:
            raise SourceError(f"{self.name}: blob {digest} does not match its digest")
        if entry is not None:
            _check_length(entry, len(data), f"{self.path}:index.json: {digest}")
        return data, _media_type(_json(data, f"{self.path}@{digest}"), digest), digest

    def open_blob(self, digest: str) -> BinaryIO:
        return self._open("blobs/" + _check_digest(digest, self.name).replace(":", "/"))

    def docker_image(self, reference: str | None, ref: str) -> ImageManifest:
        """The image of a Docker-format archive (``manifest.json``); digest = the image id."""
        where = f"{self.path}:manifest.json"
        entries = _json(self._read("manifest.json"), where)
        if not isinstance(entries, list) or not entries:
            raise SourceError(f"{where}: expected a non-empty list")
        chosen = None
        wanted = docker_name(reference) if reference is not None else None
        for e in entries:
            tags = e.get("RepoTags") or [] if isinstance(e, dict) else []
            if reference is None or any(
                isinstance(t, str)
                and (t == reference or t.endswith(f":{reference}") or docker_name(t) == wanted)
                for t in tags
            ):
                chosen = e
                break
        if not isinstance(chosen, dict):
            raise SourceError(f"{where}: no image tagged {reference!r}")
        config_name, layer_names = chosen.get("Config"), chosen.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise SourceError(f"{where}: Config and Layers are required")
        config_bytes = self._read(config_name)
        config = _json(config_bytes, f"{self.path}:{config_name}")
        layers = tuple(
            LayerRef(
                digest=str(n),
                media_type="application/vnd.docker.image.rootfs.diff.tar",
                open=self._opener(str(n)),
            )
            for n in layer_names
        )
        digest = _sha256(config_bytes)
        return ImageManifest(
            ref=ref,
            digest=digest,
            config=config,
            config_digest=digest,
            layers=layers,
            platform=_config_platform(config),
            tag=reference,
        )


def docker_name(ref: str) -> str:
    """A Docker reference in full, as docker and skopeo write ``RepoTags``: ``holdout/a:tag`` →
    ``docker.io/holdout/a:tag``, ``a`` → ``docker.io/library/a:latest``."""
    name, at, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name if '/' in name else 'library/' + name}"
    if at:
        return f"{name}@{digest}"
    return f"{name}:{tag or 'latest'}"


class _Slice(io.RawIOBase):
    """A window of ``size`` bytes at ``offset`` of a file: one member of an archive."""

    def __init__(
        self, f: IO[bytes], offset: int, size: int, *, also_close: tarfile.TarFile | None = None
    ) -> None:
        self._f, self._left, self._also = f, size, also_close
        if offset:
            f.seek(offset)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left)
        if n <= 0:
            return 0
        data = self._f.read(n)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._f.close()
            if self._also is not None:
                self._also.close()
        super().close()


class _RegistryStore:
    """A registry repository through :mod:`nameplate.oci`; ``transport`` says how to reach it
    (plain HTTP, CA file, credentials). Blobs are streamed, never read whole."""

    def __init__(self, ref: str, transport: Transport | None) -> None:
        from ...oci import artifacts
        from ...oci.reference import BadReference

        try:
            self._store, parsed = artifacts.open_store(ref, transport=transport)
        except BadReference as exc:
            raise SourceError(str(exc)) from exc
        if parsed.kind != "registry":
            raise SourceError(f"{ref}: not a registry reference")
        #: the tag or digest the reference names (a tag defaults to ``latest``)
        self.reference: str = parsed.reference or "latest"

    @property
    def name(self) -> str:
        return str(self._store)

    def manifest(self, reference: str | None) -> tuple[bytes, str, str]:
        # a TLS handshake that fails (a plain-HTTP registry) carries its hint from the wire
        resolved = self._store.resolve(reference or self.reference)
        return resolved.data, resolved.media_type, resolved.digest

    def open_blob(self, digest: str) -> BinaryIO:
        return self._store.open_blob(_check_digest(digest, self.name))

    def random_blob(self, digest: str, size: int | None) -> ReadAt:
        """Blob ``digest`` read by HTTP byte ranges (a SIF: never downloaded whole)."""
        from .ranged import RangedBlob

        if size is None:
            raise SourceError(f"{self.name}: blob {digest}: no size to read it by ranges")
        repo = self._store
        read = getattr(repo, "read_blob_range", None)
        if read is None:
            raise SourceError(f"{self.name}: blob {digest} cannot be read by ranges")
        checked = _check_digest(digest, self.name)

        def fetch(start: int, length: int) -> tuple[bytes, bool]:
            data, whole = read(checked, start, length, whole_limit=_WHOLE_LIMIT)
            return cast("tuple[bytes, bool]", (data, whole))

        return RangedBlob(fetch, size, where=f"{self.name}@{digest}")


def _config_platform(config: Any) -> str | None:
    if not isinstance(config, dict) or not config.get("architecture"):
        return None
    parts = [str(config.get("os") or "linux"), str(config["architecture"])]
    if config.get("variant"):
        parts.append(str(config["variant"]))
    return "/".join(parts)
