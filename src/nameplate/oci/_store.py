"""The one interface both stores implement: an OCI layout folder and a registry repository."""

from __future__ import annotations

from typing import BinaryIO, Protocol

from .manifest import Descriptor, ResolvedManifest, check_size

__all__ = ["Store", "resolve_listed"]


class Store(Protocol):
    """Content-addressed blobs and manifests, tags, and referrers of a subject."""

    def __str__(self) -> str: ...

    def resolve(self, reference: str) -> ResolvedManifest:
        """The manifest a tag (ref name) or digest names; raises RegistryError when absent."""
        ...

    def has_manifest(self, digest: str) -> bool:
        """Whether a manifest with this digest is stored."""
        ...

    def put_manifest(self, data: bytes, media_type: str, *, tag: str | None = None) -> Descriptor:
        """Store exact manifest bytes (by digest, then ``tag``); a manifest with a ``subject``
        is also recorded as a referrer of it (API, fallback index or layout index)."""
        ...

    def has_blob(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        ...

    def put_blob(self, stream: BinaryIO, digest: str, size: int) -> None:
        """Store a blob read (streamed) from ``stream``; verifies digest and size."""
        ...

    def open_blob(self, digest: str) -> BinaryIO:
        """A stream of the blob's bytes."""
        ...

    def tags(self) -> list[str]:
        """All tags (ref names)."""
        ...

    def referrers(self, subject: str) -> list[Descriptor]:
        """The referrers of ``subject`` (unfiltered; callers filter by artifact type)."""
        ...

    def reindex(self, subject: str) -> int:
        """Rebuild the referrers record of ``subject``; returns how many referrers it lists."""
        ...


def resolve_listed(st: Store, desc: Descriptor, where: str) -> ResolvedManifest:
    """The manifest ``desc`` names, refused when its length is not the descriptor's size (a
    matching digest is not enough: the size is part of the descriptor)."""
    man = st.resolve(desc.digest)
    check_size(desc, len(man.data), where=where)
    return man
