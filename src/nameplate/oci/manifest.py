"""Pure OCI code: media types, digests, descriptors, manifests, indexes. No I/O.

Manifests travel as exact bytes: :func:`canonical_json` serialises once (compact, sorted keys)
and the digest is always the SHA-256 of the bytes that are stored or sent, never of a
re-serialisation. Everything read back from a registry or a layout is untrusted input and goes
through :func:`parse_manifest` / :func:`Descriptor.from_dict`, which raise ``RegistryError``
naming the field.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._codec import clean_text, empty_map
from ..errors import RegistryError, SubjectMismatch

if TYPE_CHECKING:
    from ..record import Record

__all__ = [
    "ANNOTATION_CREATED",
    "ANNOTATION_PREFIX",
    "ANNOTATION_REF_NAME",
    "ANNOTATION_TITLE",
    "ARTIFACT_TYPE",
    "CONFIG_COMPAT_TYPE",
    "DOCKER_INDEX",
    "DOCKER_MANIFEST",
    "EMPTY",
    "EMPTY_JSON",
    "EMPTY_TYPE",
    "FILES_ARTIFACT_TYPE",
    "INDEX",
    "INDEX_TYPES",
    "MANIFEST",
    "MANIFEST_ACCEPT",
    "MANIFEST_LIMIT",
    "MANIFEST_TYPES",
    "RECORD_LAYER_TYPE",
    "RECORD_TYPES",
    "Descriptor",
    "ResolvedManifest",
    "artifact_manifest",
    "artifact_type_of",
    "canonical_json",
    "check_digest",
    "check_subject",
    "digest_of",
    "empty_index",
    "index_descriptors",
    "media_type_of",
    "parse_manifest",
    "referrers_tag",
    "subject_of",
    "validate_media_type",
]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = frozenset({MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({INDEX, DOCKER_INDEX})
#: Accept header for manifest GETs: distribution 2.8 answers 404 to a GET without OCI types.
MANIFEST_ACCEPT = ", ".join((MANIFEST, INDEX, DOCKER_MANIFEST, DOCKER_INDEX))
#: Manifests and indexes above this size are refused (the distribution-spec's 4 MiB).
MANIFEST_LIMIT = 4 * 1024 * 1024

EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"

#: The nameplate record as an OCI 1.1 artifact; the layer holds the record JSON.
ARTIFACT_TYPE = "application/vnd.nameplate.record.v1+json"
RECORD_LAYER_TYPE = ARTIFACT_TYPE
#: OCI 1.0 compatibility mode: the type goes in the config media type (no ``artifactType``).
CONFIG_COMPAT_TYPE = "application/vnd.nameplate.record.config.v1+json"
RECORD_TYPES = frozenset({ARTIFACT_TYPE, CONFIG_COMPAT_TYPE})
#: A file or folder pushed by ``nameplate push`` so that records can attach to it.
FILES_ARTIFACT_TYPE = "application/vnd.nameplate.files.v1"

ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
#: Our annotation namespace: reverse DNS of nameplate.dev, as the image-spec asks.
ANNOTATION_PREFIX = "dev.nameplate."

_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_MEDIA_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)


def digest_of(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of exactly these bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: object, *, where: str = "digest") -> str:
    """Return ``digest`` if it is a well-formed sha256/sha512 digest, else raise RegistryError."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise RegistryError(f"{where}: not a sha256 or sha512 digest: {str(digest)[:80]!r}")
    return digest


def check_size(desc: Descriptor, actual: int, *, where: str) -> None:
    """Refuse content whose length is not its descriptor's ``size``: the size is part of the
    descriptor (the image spec requires it to match), so a matching digest is not enough."""
    if actual != desc.size:
        raise RegistryError(
            f"{where}: {desc.digest}: the descriptor's size is {desc.size} bytes, "
            f"the content has {actual}"
        )


def canonical_json(data: Any) -> bytes:
    """Compact JSON with sorted keys: the one serialisation of manifests we write."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def referrers_tag(digest: str) -> str:
    """The referrers tag-schema fallback tag of a subject: ``<alg>-<hex>``."""
    alg, _, hexpart = check_digest(digest).partition(":")
    return re.sub(r"[^a-zA-Z0-9._-]", "-", f"{alg[:32]}-{hexpart[:64]}")


def _str_map(value: object, where: str) -> Mapping[str, str]:
    if value is None:
        return empty_map()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise RegistryError(f"{where}: expected an object of strings")
    return dict(sorted(value.items()))


@dataclass(frozen=True, kw_only=True, slots=True)
class Descriptor:
    """An OCI content descriptor, with ``artifactType`` and ``annotations`` as referrers lists."""

    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=empty_map)
    platform: Mapping[str, Any] | None = None
    data: str | None = None

    @classmethod
    def from_dict(cls, data: object, *, where: str = "descriptor") -> Descriptor:
        """Read a descriptor from untrusted JSON data; raises RegistryError naming the field."""
        if not isinstance(data, dict):
            raise RegistryError(f"{where}: a descriptor is a JSON object")
        media_type = data.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise RegistryError(f"{where}.mediaType: missing or not a string")
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryError(f"{where}.size: not a non-negative integer")
        artifact_type = data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise RegistryError(f"{where}.artifactType: not a string")
        platform = data.get("platform")
        if platform is not None and not isinstance(platform, dict):
            raise RegistryError(f"{where}.platform: not an object")
        inline = data.get("data")
        if inline is not None and not isinstance(inline, str):
            raise RegistryError(f"{where}.data: not a string")
        return cls(  # text made Unicode: a lone surrogate from a "\ud800" escape cannot be written
            media_type=clean_text(media_type),
            digest=check_digest(data.get("digest"), where=f"{where}.digest"),
            size=size,
            artifact_type=clean_text(artifact_type) or None,
            annotations=clean_text(_str_map(data.get("annotations"), f"{where}.annotations")),
            platform=platform,
            data=inline,
        )

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as OCI JSON (absent fields omitted)."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.data is not None:
            out["data"] = self.data
        return out

    @property
    def created(self) -> str:
        """``org.opencontainers.image.created`` ("" when absent, so such entries sort first)."""
        return self.annotations.get(ANNOTATION_CREATED, "")


EMPTY = Descriptor(
    media_type=EMPTY_TYPE,
    digest=digest_of(EMPTY_JSON),
    size=len(EMPTY_JSON),
    data=base64.b64encode(EMPTY_JSON).decode(),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedManifest:
    """A manifest or index as stored: its digest, media type and exact bytes."""

    digest: str
    media_type: str
    data: bytes

    @property
    def json(self) -> dict[str, Any]:
        """The parsed document (checked by :func:`parse_manifest`)."""
        return parse_manifest(self.data, where=self.digest)

    @property
    def is_index(self) -> bool:
        """True for an image index or a Docker manifest list."""
        return self.media_type in INDEX_TYPES

    def descriptor(self, **extra: Any) -> Descriptor:
        """A descriptor of this manifest (``extra``: artifact_type, annotations, platform)."""
        return Descriptor(
            media_type=self.media_type, digest=self.digest, size=len(self.data), **extra
        )


def parse_manifest(data: bytes, *, where: str = "manifest") -> dict[str, Any]:
    """Parse and shape-check a manifest or index from untrusted bytes."""
    if len(data) > MANIFEST_LIMIT:
        raise RegistryError(f"{where}: {len(data)} bytes is over the {MANIFEST_LIMIT}-byte limit")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RegistryError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RegistryError(f"{where}: a manifest is a JSON object")
    if doc.get("schemaVersion") != 2:
        raise RegistryError(f"{where}.schemaVersion: expected 2")
    media_type = doc.get("mediaType")
    if media_type is not None and not isinstance(media_type, str):
        raise RegistryError(f"{where}.mediaType: not a string")
    if "manifests" in doc:
        items = doc["manifests"]
        if not isinstance(items, list):
            raise RegistryError(f"{where}.manifests: not an array")
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("mediaType"), str):
                # unknown child types are kept (and skipped by readers), not fatal
                Descriptor.from_dict(item, where=f"{where}.manifests[{i}]")
            else:
                raise RegistryError(f"{where}.manifests[{i}]: not a descriptor")
    else:
        Descriptor.from_dict(doc.get("config"), where=f"{where}.config")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise RegistryError(f"{where}.layers: not an array")
        for i, item in enumerate(layers):
            Descriptor.from_dict(item, where=f"{where}.layers[{i}]")
    if "subject" in doc:
        Descriptor.from_dict(doc["subject"], where=f"{where}.subject")
    _str_map(doc.get("annotations"), f"{where}.annotations")
    at = doc.get("artifactType")
    if at is not None and not isinstance(at, str):
        raise RegistryError(f"{where}.artifactType: not a string")
    return doc


def media_type_of(doc: Mapping[str, Any]) -> str:
    """The media type a parsed document declares, or the one its shape implies."""
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    return INDEX if "manifests" in doc else MANIFEST


def artifact_type_of(doc: Mapping[str, Any]) -> str | None:
    """``artifactType``, else ``config.mediaType`` (the referrers API rule), for a manifest."""
    at = doc.get("artifactType")
    if isinstance(at, str) and at:
        return at
    config = doc.get("config")
    if isinstance(config, dict):
        mt = config.get("mediaType")
        if isinstance(mt, str) and mt:
            return mt
    return None


def subject_of(doc: Mapping[str, Any]) -> str | None:
    """The subject digest of a parsed manifest, or None."""
    subject = doc.get("subject")
    if isinstance(subject, dict):
        d = subject.get("digest")
        if isinstance(d, str):
            return d
    return None


def validate_media_type(value: str, *, where: str = "artifactType") -> str:
    """An RFC 6838 ``type/subtype`` (what the image-spec asks of ``artifactType``)."""
    if not _MEDIA_TYPE.match(value):
        raise RegistryError(f"{where}: not a media type: {value!r}")
    return value


def artifact_manifest(
    *,
    artifact_type: str,
    layers: Sequence[Descriptor],
    subject: Descriptor | None,
    annotations: Mapping[str, str],
    compat: bool = False,
    config: Descriptor | None = None,
) -> bytes:
    """The bytes of an OCI 1.1 artifact manifest (or an OCI 1.0 one with ``compat``).

    1.1: ``artifactType`` set, the empty config. 1.0 compatibility: no ``artifactType``, the
    type in ``config.mediaType`` (``config`` is then the descriptor of a ``{}`` blob of that type).
    """
    validate_media_type(artifact_type)
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": MANIFEST}
    if compat:
        if config is None:
            raise RegistryError("compat manifest: a config descriptor is required")
        doc["config"] = config.to_dict()
    else:
        doc["artifactType"] = artifact_type
        doc["config"] = EMPTY.to_dict()
    doc["layers"] = [d.to_dict() for d in layers] or [EMPTY.to_dict()]
    if subject is not None:
        doc["subject"] = Descriptor(
            media_type=subject.media_type, digest=subject.digest, size=subject.size
        ).to_dict()
    if annotations:
        doc["annotations"] = dict(sorted(annotations.items()))
    return canonical_json(doc)


def empty_index(manifests: Sequence[Descriptor] = ()) -> bytes:
    """The bytes of an image index listing ``manifests`` (the referrers fallback index)."""
    return canonical_json(
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": [d.to_dict() for d in manifests]}
    )


def index_descriptors(doc: Mapping[str, Any], *, where: str = "index") -> list[Descriptor]:
    """The child descriptors of a parsed index."""
    items = doc.get("manifests", [])
    if not isinstance(items, list):
        raise RegistryError(f"{where}.manifests: not an array")
    return [Descriptor.from_dict(d, where=f"{where}.manifests[{i}]") for i, d in enumerate(items)]


_SIF_CONFIG = "application/vnd.sylabs.sif.config.v1+json"


def check_subject(record: Record, target: ResolvedManifest, where: str) -> None:
    """Refuse to attach a record of an image or artifact to another one: its subject digest
    must be the target manifest's, or the SIF layer's of a SIF artifact (the sha256 of the
    SIF file a record of that file names). Records of builds (Spack, EasyBuild, binaries)
    describe no manifest and attach anywhere."""
    digest = record.subject.digest
    if record.subject.kind not in ("image", "artifact") or not digest:
        return
    allowed = {target.digest}
    if not target.is_index:
        doc = target.json
        config = doc.get("config")
        if isinstance(config, dict) and config.get("mediaType") == _SIF_CONFIG:
            allowed |= {
                str(d.get("digest")) for d in doc.get("layers") or [] if isinstance(d, dict)
            }
    if digest not in allowed:
        raise SubjectMismatch(
            f"{where}: the record describes {digest}, not this image ({target.digest}); "
            "use --force to attach it anyway"
        )
