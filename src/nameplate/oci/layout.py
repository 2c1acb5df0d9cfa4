"""The embedded store: an OCI image layout folder (``oci-layout``, ``index.json``, ``blobs/``).

Tags are ``org.opencontainers.image.ref.name`` annotations of ``index.json`` entries. Attached
artifacts (any manifest with a ``subject``) are listed in ``index.json`` without a ref name,
with their ``artifactType`` and annotations: the way the oras CLI keeps referrers in a layout,
so ``oras discover --oci-layout`` sees ours and we see theirs.

Writes are atomic (temporary file and rename) and ``index.json`` updates hold an exclusive
``flock`` on the layout folder, so concurrent attachers in several processes never lose one.
Blob names come only from validated digests: nothing read from the layout can name a path.
Every path is checked before it is read or written: ``index.json``, ``oci-layout``, ``blobs/``,
``blobs/sha256/`` or a blob that is a link leading out of the layout is refused
(:class:`~nameplate.errors.UnsafeInput`), so a write never lands outside the layout folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .._io import atomic_write
from ..errors import NotInStore, RegistryError, SourceError, UnsafeInput
from ..tree import open_regular
from . import manifest as m
from .manifest import Descriptor, ResolvedManifest

__all__ = ["Layout"]

_LAYOUT_MARKER = b'{"imageLayoutVersion":"1.0.0"}'
_INDEX_LIMIT = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


def _read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of regular file ``path`` (never a FIFO or a device: refused before ``open``
    could block), at most ``limit``; ``RegistryError`` naming ``what`` otherwise."""
    try:
        with open_regular(path, where=what) as f:
            if os.fstat(f.fileno()).st_size > limit:
                raise RegistryError(f"{what}: over the {limit}-byte limit")
            data = f.read(limit + 1)
    except SourceError as exc:
        raise RegistryError(str(exc)) from exc
    except OSError as exc:
        raise RegistryError(f"{what}: cannot read: {exc.strerror}") from exc
    if len(data) > limit:
        raise RegistryError(f"{what}: over the {limit}-byte limit")
    return data


class Layout:
    """An OCI image layout folder used as a store (created on the first write)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._subjects: dict[str, str | None] = {}

    def __str__(self) -> str:
        return f"oci:{self.path}"

    # -- files ---------------------------------------------------------------------------

    def _inside(self, rel: str) -> Path:
        """``self.path / rel``, refused when it (or a link on the way) leads out of the layout."""
        path = self.path / rel
        try:
            root = self.path.resolve()
            real = path.resolve()
        except (OSError, RuntimeError) as exc:  # a link loop
            raise UnsafeInput(f"{self}: {rel}: cannot resolve: {exc}") from exc
        if real != root and root not in real.parents:
            raise UnsafeInput(f"{self}: {rel} leads out of the layout")
        return path

    def _blob_path(self, digest: str) -> Path:
        alg, _, hexpart = m.check_digest(digest).partition(":")
        return self._inside(f"blobs/{alg}/{hexpart}")

    def _ensure(self) -> None:
        for rel in ("oci-layout", "index.json", "blobs", "blobs/sha256"):
            self._inside(rel)
        try:
            (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            marker = self.path / "oci-layout"
            if not marker.exists():
                atomic_write(marker, _LAYOUT_MARKER)
            if not (self.path / "index.json").exists():
                atomic_write(self.path / "index.json", m.empty_index())
        except OSError as exc:
            raise RegistryError(f"{self}: cannot create the layout: {exc.strerror}") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read_index(self) -> dict[str, Any]:
        where = f"{self.path / 'index.json'}"
        p = self._inside("index.json")
        if not p.exists():
            return {"schemaVersion": 2, "mediaType": m.INDEX, "manifests": []}
        data = _read_regular(p, _INDEX_LIMIT, where)
        try:
            doc = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise RegistryError(f"{where}: not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
            raise RegistryError(f"{where}: manifests: not an image index")
        doc.setdefault("manifests", [])
        return doc

    def _entries(self) -> list[Descriptor]:
        doc = self._read_index()
        where = str(self.path / "index.json")
        return [
            Descriptor.from_dict(d, where=f"{where}: manifests[{i}]")
            for i, d in enumerate(doc["manifests"])
        ]

    def _write_index(self, doc: dict[str, Any]) -> None:
        atomic_write(self._inside("index.json"), m.canonical_json(doc))

    # -- blobs ---------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        """Whether the blob is present."""
        return self._blob_path(digest).is_file()

    def put_blob(self, stream: BinaryIO, digest: str, size: int) -> None:
        """Copy ``stream`` into ``blobs/`` (streamed), checking size and digest first."""
        target = self._blob_path(digest)
        if target.is_file():
            return
        self._ensure()
        target.parent.mkdir(parents=True, exist_ok=True)
        alg = digest.partition(":")[0]
        h = hashlib.new(alg)
        written = 0
        fd, tmp = tempfile.mkstemp(prefix=".blob.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    written += len(chunk)
                    if written > size:
                        break
                    h.update(chunk)
                    out.write(chunk)
            if written != size or f"{alg}:{h.hexdigest()}" != digest:
                raise RegistryError(
                    f"{self}: blob {digest}: content does not match its digest and size"
                )
            os.replace(tmp, target)
        except OSError as exc:
            raise RegistryError(f"{self}: cannot write blob {digest}: {exc.strerror}") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def open_blob(self, digest: str) -> BinaryIO:
        """The blob as an open binary file."""
        path = self._blob_path(digest)
        if not path.exists():
            raise RegistryError(f"{self}: blob {digest} not found")
        try:
            return open_regular(path, where=f"{self}: blob {digest}")
        except SourceError as exc:
            raise RegistryError(str(exc)) from exc

    def _read_manifest(self, digest: str, *, listed: bool = False) -> bytes:
        """The manifest blob, checked against its digest. ``listed``: ``index.json`` names it
        (the error then says so)."""
        path = self._blob_path(digest)
        if not self.path.is_dir():
            raise RegistryError(f"{self}: the layout folder {self.path} does not exist")
        what = f"index.json lists manifest {digest}, which" if listed else f"manifest {digest}"
        try:
            path.lstat()
        except OSError as exc:
            raise RegistryError(f"{self}: {what} is not in blobs/ ({exc.strerror})") from exc
        data = _read_regular(path, m.MANIFEST_LIMIT, f"{self}: {what}")
        alg = digest.partition(":")[0]
        if f"{alg}:{hashlib.new(alg, data).hexdigest()}" != digest:
            raise RegistryError(f"{self}: {what} does not match its digest")
        return data

    # -- manifests and tags ----------------------------------------------------------------

    def has_manifest(self, digest: str) -> bool:
        """Whether the manifest blob is present."""
        return self.has_blob(digest)

    def resolve(self, reference: str | None) -> ResolvedManifest:
        """The manifest a ref name or digest names (None: the only entry of the layout)."""
        if reference is not None and reference.startswith(("sha256:", "sha512:")):
            data = self._read_manifest(reference)
            doc = m.parse_manifest(data, where=f"{self}@{reference}")
            return ResolvedManifest(digest=reference, media_type=m.media_type_of(doc), data=data)
        entries = [
            e
            for e in self._entries()
            if (reference is None and m.ANNOTATION_REF_NAME in e.annotations)
            or (reference is not None and e.annotations.get(m.ANNOTATION_REF_NAME) == reference)
        ]
        if not entries:
            if not self.path.is_dir():
                raise RegistryError(f"{self}: the layout folder {self.path} does not exist")
            if reference is None:
                raise RegistryError(
                    f"{self}: no tagged manifest in index.json; name a ref (oci:PATH:NAME) "
                    "or a digest (oci:PATH@DIGEST)"
                )
            raise RegistryError(
                f"{self}: no manifest named {reference!r} (to attach to a file or folder, "
                "push it first: nameplate push PATH --to REF)"
            )
        if len({e.digest for e in entries}) > 1:
            raise RegistryError(f"{self}: name a ref: several manifests match {reference!r}")
        data = self._read_manifest(entries[-1].digest)
        m.check_size(entries[-1], len(data), where=f"{self}: index.json")
        doc = m.parse_manifest(data, where=f"{self}:{reference}")
        return ResolvedManifest(
            digest=entries[-1].digest,
            media_type=entries[-1].media_type or m.media_type_of(doc),
            data=data,
        )

    def put_manifest(self, data: bytes, media_type: str, *, tag: str | None = None) -> Descriptor:
        """Store the manifest bytes; index it under ``tag`` and/or as a referrer."""
        digest = m.digest_of(data)
        doc = m.parse_manifest(data, where=f"{self}: new manifest")
        self._ensure()
        if not self.has_blob(digest):
            atomic_write(self._blob_path(digest), data)
        subject = m.subject_of(doc)
        desc = Descriptor(media_type=media_type, digest=digest, size=len(data))
        if tag is None and subject is None:
            return desc
        entry = Descriptor(
            media_type=media_type,
            digest=digest,
            size=len(data),
            artifact_type=m.artifact_type_of(doc) if subject else None,
            annotations=dict(doc.get("annotations") or {}) if subject else {},
        )
        with self._locked():
            index = self._read_index()
            items: list[Any] = index["manifests"]
            if tag is not None:
                kept = []
                for item in items:
                    ann = item.get("annotations") if isinstance(item, dict) else None
                    if isinstance(ann, dict) and ann.get(m.ANNOTATION_REF_NAME) == tag:
                        continue
                    kept.append(item)
                items = kept
                tagged = entry.to_dict()
                tagged.setdefault("annotations", {})[m.ANNOTATION_REF_NAME] = tag
                items.append(tagged)
            if subject is not None and not any(
                isinstance(i, dict)
                and i.get("digest") == digest
                and m.ANNOTATION_REF_NAME not in (i.get("annotations") or {})
                for i in items
            ):
                items.append(entry.to_dict())
            index["manifests"] = items
            self._write_index(index)
        return desc

    def require_entry(self, name: str) -> None:
        """Raise :class:`~nameplate.errors.NotInStore`, saying what to run first, when this
        layout (the default store) has no entry ``name`` yet."""
        if not (self.path / "index.json").is_file():
            raise NotInStore(
                f"{name}: the default store {self.path} is empty; push what the record "
                f"describes first (nameplate push PATH --to {name}), or name a registry "
                "(HOST/REPO:TAG) or a layout (oci:DIR:NAME)"
            )
        names = self.tags()
        if name not in names:
            shown = (", ".join(names[:5]) + (", ..." if len(names) > 5 else "")) or "none"
            raise NotInStore(
                f"{name}: not in the default store {self.path} (names: {shown}); push it "
                f"first: nameplate push PATH --to {name}"
            )

    def tags(self) -> list[str]:
        """The ref names of ``index.json``."""
        names = {e.annotations.get(m.ANNOTATION_REF_NAME) for e in self._entries()}
        return sorted(n for n in names if n)

    # -- referrers ---------------------------------------------------------------------------

    def _subject(self, digest: str) -> str | None:
        """The subject of an indexed manifest; a missing or corrupt one is an error (a referrer
        that cannot be read must not silently vanish from discover, pull or copy)."""
        if digest not in self._subjects:
            doc = m.parse_manifest(
                self._read_manifest(digest, listed=True),
                where=f"{self}@{digest}",
            )
            self._subjects[digest] = m.subject_of(doc)
        return self._subjects[digest]

    def referrers(self, subject: str) -> list[Descriptor]:
        """Entries of ``index.json`` whose manifest names ``subject``."""
        seen: dict[str, Descriptor] = {}
        for entry in self._entries():
            if entry.media_type not in m.MANIFEST_TYPES | m.INDEX_TYPES:
                continue
            if entry.digest in seen or self._subject(entry.digest) != subject:
                continue
            annotations = {k: v for k, v in entry.annotations.items() if k != m.ANNOTATION_REF_NAME}
            if not entry.artifact_type or entry.artifact_type == m.EMPTY_TYPE:
                doc = m.parse_manifest(self._read_manifest(entry.digest), where=entry.digest)
                found = Descriptor(
                    media_type=entry.media_type,
                    digest=entry.digest,
                    size=entry.size,
                    artifact_type=m.artifact_type_of(doc),
                    annotations=dict(doc.get("annotations") or {}),
                )
            else:
                found = Descriptor(
                    media_type=entry.media_type,
                    digest=entry.digest,
                    size=entry.size,
                    artifact_type=entry.artifact_type,
                    annotations=annotations,
                )
            seen[found.digest] = found
        return list(seen.values())

    def reindex(self, subject: str) -> int:
        """Re-add to ``index.json`` every manifest blob whose subject is ``subject``."""
        blobs = self._inside("blobs/sha256")
        found: list[tuple[str, bytes]] = []
        for path in sorted(blobs.iterdir()) if blobs.is_dir() else []:
            if path.name.startswith("."):
                continue
            self._inside(f"blobs/sha256/{path.name}")
            try:
                data = _read_regular(path, m.MANIFEST_LIMIT, f"{self}: {path.name}")
                doc = m.parse_manifest(data)
            except RegistryError:
                continue
            if m.subject_of(doc) == subject and m.digest_of(data) == f"sha256:{path.name}":
                found.append((m.media_type_of(doc), data))
        for media_type, data in found:
            self.put_manifest(data, media_type)
        return len(self.referrers(subject))
