"""Attach, discover, pull, push, copy and reindex, over a layout folder or a registry.

The record travels as an OCI 1.1 artifact: ``artifactType``
``application/vnd.nameplate.record.v1+json``, the empty config, one layer holding the record's
canonical JSON (``Record.to_json()``), a ``subject`` naming the per-platform image manifest,
and summary annotations (``org.opencontainers.image.created`` and ``dev.nameplate.*``) that the
referrers list carries, so clients filter without fetching. Exports (CycloneDX, SPDX...) are
sibling referrers with their standard media types as ``artifactType``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform as _platform
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import RecordError, RegistryError
from ..record import Record
from . import _wire
from . import manifest as m
from ._store import Store, resolve_listed
from .layout import Layout
from .manifest import Descriptor, ResolvedManifest
from .reference import Reference, default_store_path, parse

__all__ = [
    "DEFAULT_STORE",
    "attach",
    "copy",
    "discover",
    "list_tags",
    "open_blob",
    "open_store",
    "pull",
    "pull_bytes",
    "push",
    "record_from_bytes",
    "reindex",
    "resolve",
    "summary_annotations",
]

#: The embedded default store (the layout used for references without a registry host).
DEFAULT_STORE = default_store_path()

_RECORD_LIMIT = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

StoreArg = str | os.PathLike[str] | None


def open_store(
    ref: str | Reference, *, store: StoreArg = None, transport: _wire.Transport | None = None
) -> tuple[Store, Reference]:
    """The store a reference lives in, and the parsed reference."""
    r = ref if isinstance(ref, Reference) else parse(ref, store=store)
    if r.kind == "layout":
        assert r.path is not None
        return Layout(r.path), r
    return _wire.repository_for(r.registry, r.repository, transport), r


def _host_platform() -> str:
    return f"linux/{_GOARCH.get(_platform.machine().lower(), _platform.machine().lower())}"


def _matches(desc: Descriptor, wanted: str) -> bool:
    p = desc.platform or {}
    parts = wanted.split("/")
    if p.get("os") != parts[0] or (len(parts) > 1 and p.get("architecture") != parts[1]):
        return False
    return len(parts) < 3 or p.get("variant") == parts[2]


def _select(st: Store, man: ResolvedManifest, platform: str | None, where: str) -> ResolvedManifest:
    for _ in range(4):  # nested indexes, bounded
        if not man.is_index:
            return man
        children = [
            d
            for d in m.index_descriptors(man.json, where=where)
            if d.media_type in m.MANIFEST_TYPES | m.INDEX_TYPES
            and d.annotations.get("vnd.docker.reference.type") != "attestation-manifest"
        ]
        if not any(d.platform for d in children):
            return man  # an index of artifacts, not of platforms: the index is the subject
        wanted = platform or _host_platform()
        picked = [d for d in children if _matches(d, wanted)]
        if not picked:
            shown = sorted(
                {
                    "/".join(str(v) for v in (d.platform or {}).values() if isinstance(v, str))
                    for d in children
                }
            )
            raise RegistryError(
                f"{where}: no manifest for platform {wanted} (has {', '.join(shown)})"
            )
        man = resolve_listed(st, picked[0], where)
    raise RegistryError(f"{where}: indexes nested too deep")


def _check_default_store(st: Store, r: Reference) -> None:
    """A name of the default store that is not there: one line saying what to run first."""
    if r.default_store and isinstance(st, Layout) and r.name and not r.digest:
        st.require_entry(r.name)


def _resolve(st: Store, r: Reference, platform: str | None) -> ResolvedManifest:
    _check_default_store(st, r)
    reference = r.reference
    if reference is None and not isinstance(st, Layout):
        raise RegistryError(f"{r}: needs a tag or a digest")
    man = st.resolve(reference)  # type: ignore[arg-type]  # a Layout accepts None
    return _select(st, man, platform, str(r))


def resolve(
    ref: str,
    *,
    platform: str | None = None,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> ResolvedManifest:
    """Resolve a reference to manifest bytes; an image index resolves to its manifest for
    ``platform`` (``os/arch[/variant]``, default: this host)."""
    st, r = open_store(ref, store=store, transport=transport)
    return _resolve(st, r, platform)


def summary_annotations(record: Record) -> dict[str, str]:
    """The manifest annotations of a record artifact (also copied into referrers lists)."""
    p = m.ANNOTATION_PREFIX
    out = {
        m.ANNOTATION_CREATED: record.provenance.extracted_at,
        f"{p}record.schema": record.schema_version,
        f"{p}subject.kind": record.subject.kind,
        f"{p}subject.name": record.subject.name[:200],
    }
    hpc = record.hpc
    if hpc.target is not None:
        out[f"{p}cpu.target"] = hpc.target.name
        if hpc.target.generic:
            out[f"{p}cpu.generic"] = hpc.target.generic
    if hpc.mpi is not None:
        out[f"{p}mpi.abi"] = hpc.mpi.abi
    if hpc.libc is not None and hpc.libc.min_version:
        out[f"{p}libc.min"] = hpc.libc.min_version
    cuda = [g.version for g in hpc.gpu if g.runtime == "cuda" and g.version]
    if cuda:
        out[f"{p}cuda"] = cuda[0]
    return out


def _push_artifact(
    st: Store,
    *,
    artifact_type: str,
    layer_type: str,
    payload: bytes,
    title: str,
    subject: Descriptor | None,
    annotations: Mapping[str, str],
    compat: bool,
    config_type: str | None = None,
) -> Descriptor:
    st.put_blob(io.BytesIO(m.EMPTY_JSON), m.EMPTY.digest, m.EMPTY.size)
    layer = Descriptor(
        media_type=layer_type,
        digest=m.digest_of(payload),
        size=len(payload),
        annotations={m.ANNOTATION_TITLE: title},
    )
    st.put_blob(io.BytesIO(payload), layer.digest, layer.size)
    config = Descriptor(media_type=config_type or artifact_type, digest=m.EMPTY.digest, size=2)
    data = m.artifact_manifest(
        artifact_type=artifact_type,
        layers=[layer],
        subject=subject,
        annotations=annotations,
        compat=compat,
        config=config,
    )
    desc = st.put_manifest(data, m.MANIFEST)
    at = (config_type or artifact_type) if compat else artifact_type
    return Descriptor(
        media_type=desc.media_type,
        digest=desc.digest,
        size=desc.size,
        artifact_type=at,
        annotations=dict(annotations),
    )


def attach(
    record: Record,
    ref: str,
    *,
    exports: Sequence[str] = (),
    compat: bool = False,
    store: StoreArg = None,
    platform: str | None = None,
    transport: _wire.Transport | None = None,
    force: bool = False,
) -> Descriptor:
    """Attach ``record`` to the image or artifact ``ref`` names (its per-platform manifest).

    A record of an image or artifact whose subject digest is neither that manifest's nor (for
    a SIF artifact) its SIF layer's is refused with ``SubjectMismatch``, unless ``force``.

    ``exports``: format names of :mod:`nameplate.formats`, attached as sibling referrers.
    ``compat``: OCI 1.0 style (type in the config media type) for registries that reject
    ``artifactType``. ``store``: the default store for references without a registry.
    Returns the record artifact's descriptor.
    """
    st, r = open_store(ref, store=store, transport=transport)
    resolved = _resolve(st, r, platform)
    if not force:
        m.check_subject(record, resolved, str(r))
    return attach_to(st, resolved.descriptor(), record, exports, compat=compat)


def attach_to(
    st: Store, subject: Descriptor, record: Record, exports: Sequence[str], *, compat: bool
) -> Descriptor:
    """Attach ``record`` (and its ``exports``) to the resolved ``subject`` in ``st`` (no
    subject check: :func:`attach` makes it)."""
    annotations = summary_annotations(record)
    desc = _push_artifact(
        st,
        artifact_type=m.ARTIFACT_TYPE,
        layer_type=m.RECORD_LAYER_TYPE,
        payload=record.to_json().encode(),
        title="nameplate-record.json",
        subject=subject,
        annotations=annotations,
        compat=compat,
        config_type=m.CONFIG_COMPAT_TYPE if compat else None,
    )
    if exports:
        from .. import formats

        for fmt in exports:
            name = formats.resolve(fmt)
            media_type = formats.MEDIA_TYPES[name]
            ext = formats.EXTENSIONS.get(name, ".out")
            _push_artifact(
                st,
                artifact_type=media_type,
                layer_type=formats.LAYER_TYPES.get(name, media_type),
                payload=formats.encode(record, name),
                title=f"nameplate-record{ext}",
                subject=subject,
                compat=compat,
                annotations={
                    m.ANNOTATION_CREATED: record.provenance.extracted_at,
                    f"{m.ANNOTATION_PREFIX}format": name,
                },
            )
    return desc


def _filter(descs: list[Descriptor], artifact_type: str | None) -> list[Descriptor]:
    if artifact_type is None:
        out = descs
    else:
        wanted = m.RECORD_TYPES if artifact_type in m.RECORD_TYPES else {artifact_type}
        out = [d for d in descs if d.artifact_type in wanted]
    return sorted(out, key=lambda d: (d.created, d.digest))


def discover(
    ref: str,
    *,
    artifact_type: str | None = None,
    platform: str | None = None,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> list[Descriptor]:
    """The referrers of ``ref`` (oldest first by ``created``), optionally of one type; the
    record type matches records pushed in both the 1.1 and the 1.0 compatible form."""
    st, r = open_store(ref, store=store, transport=transport)
    subject = _resolve(st, r, platform)
    return _filter(st.referrers(subject.digest), artifact_type)


def _read_limited(stream: BinaryIO, limit: int, where: str) -> bytes:
    with contextlib.closing(stream):
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise RegistryError(f"{where}: over the {limit}-byte limit")
    return data


def pull_bytes(
    ref: str,
    *,
    digest: str | None = None,
    platform: str | None = None,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> tuple[Descriptor, bytes]:
    """The descriptor and exact bytes of the newest record attached to ``ref`` (or of the
    record artifact ``digest``)."""
    st, r = open_store(ref, store=store, transport=transport)
    if digest is None:
        records = _filter(st.referrers(_resolve(st, r, platform).digest), m.ARTIFACT_TYPE)
        if not records:
            raise RegistryError(f"{r}: no nameplate record is attached")
        return record_layer(st, str(r), records[-1].digest, listed=records[-1])
    return record_layer(st, str(r), digest)


def record_layer(
    st: Store, where: str, digest: str, *, listed: Descriptor | None = None
) -> tuple[Descriptor, bytes]:
    """The descriptor and exact bytes of the record artifact ``digest`` in ``st`` (``listed``:
    the referrers entry that named it, whose size the manifest must have)."""
    if listed is not None:
        man = resolve_listed(st, listed, where)
    else:
        man = st.resolve(m.check_digest(digest, where=f"{where}: digest"))
    doc = man.json
    if m.artifact_type_of(doc) not in m.RECORD_TYPES:
        raise RegistryError(f"{where}@{digest}: not a nameplate record artifact")
    layers = [
        d
        for d in m.index_descriptors({"manifests": doc.get("layers", [])})
        if d.media_type == m.RECORD_LAYER_TYPE
    ]
    if not layers:
        raise RegistryError(f"{where}@{digest}: layers: no {m.RECORD_LAYER_TYPE} layer")
    layer = layers[0]
    if layer.size > _RECORD_LIMIT:
        raise RegistryError(f"{where}@{digest}: record layer over the {_RECORD_LIMIT}-byte limit")
    data = _read_limited(st.open_blob(layer.digest), _RECORD_LIMIT, f"{where}@{layer.digest}")
    if m.digest_of(data) != layer.digest:
        raise RegistryError(f"{where}@{layer.digest}: blob does not match its digest")
    m.check_size(layer, len(data), where=f"{where}@{digest}: layers")
    return man.descriptor(
        artifact_type=m.artifact_type_of(doc), annotations=dict(doc.get("annotations") or {})
    ), data


def pull(
    ref: str,
    *,
    digest: str | None = None,
    platform: str | None = None,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> Record:
    """The newest record attached to ``ref`` (by ``org.opencontainers.image.created``), or the
    record artifact ``digest``; validated against the record schema."""
    _, data = pull_bytes(ref, digest=digest, platform=platform, store=store, transport=transport)
    return record_from_bytes(data, where=f"{ref}: record")


def record_from_bytes(data: bytes, *, where: str) -> Record:
    """Parse and validate record JSON pulled from a store (untrusted)."""
    from .. import schema

    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RecordError(f"{where}: $: a record is a JSON object")
    schema.validate(doc, where=where)
    return Record.from_dict(doc)


def _hash_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return f"sha256:{h.hexdigest()}", size


@contextlib.contextmanager
def _tar_of(folder: Path) -> Iterator[Path]:
    """A reproducible tar of ``folder`` (sorted, owner 0, mtime 0; links kept as links)."""
    with tempfile.TemporaryDirectory(prefix="nameplate-push-") as tmp:
        out = Path(tmp) / "layer.tar"
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in [folder, *sorted(folder.rglob("*"))]:
                info = tar.gettarinfo(
                    str(path), arcname=str(Path(folder.name) / path.relative_to(folder))
                )
                if not (info.isfile() or info.isdir() or info.issym()):
                    continue
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if info.isfile():
                    with path.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        yield out


def push(
    path: str | os.PathLike[str],
    ref: str,
    *,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
    created: str | None = None,
) -> Descriptor:
    """Push a file (one raw layer) or a folder (one reproducible tar layer) as an artifact
    tagged ``ref``, so that records can attach to it. Streams: memory does not grow with size."""
    source = Path(path)
    if not source.exists():
        raise RegistryError(f"{source}: no such file or folder")
    st, r = open_store(ref, store=store, transport=transport)
    if r.digest:
        raise RegistryError(f"{r}: push needs a tag, not a digest")
    with contextlib.ExitStack() as stack:
        if source.is_dir():
            blob = stack.enter_context(_tar_of(source))
            layer_type = "application/vnd.oci.image.layer.v1.tar"
        else:
            blob, layer_type = source, "application/octet-stream"
        try:
            digest, size = _hash_file(blob)
            with blob.open("rb") as f:
                st.put_blob(f, digest, size)
        except OSError as exc:
            raise RegistryError(f"{source}: cannot read: {exc.strerror}") from exc
        layer = Descriptor(
            media_type=layer_type,
            digest=digest,
            size=size,
            annotations={m.ANNOTATION_TITLE: source.name},
        )
    st.put_blob(io.BytesIO(m.EMPTY_JSON), m.EMPTY.digest, m.EMPTY.size)
    annotations = {m.ANNOTATION_TITLE: source.name}
    if created:
        annotations[m.ANNOTATION_CREATED] = created
    data = m.artifact_manifest(
        artifact_type=m.FILES_ARTIFACT_TYPE, layers=[layer], subject=None, annotations=annotations
    )
    desc = st.put_manifest(data, m.MANIFEST, tag=r.name)
    return Descriptor(
        media_type=desc.media_type,
        digest=desc.digest,
        size=desc.size,
        artifact_type=m.FILES_ARTIFACT_TYPE,
        annotations=annotations,
    )


def _copy_blob(src: Store, dst: Store, desc: Descriptor) -> None:
    if dst.has_blob(desc.digest):
        return
    mount = None
    if (
        isinstance(src, _wire.Repository)
        and isinstance(dst, _wire.Repository)
        and src.registry is dst.registry
    ):
        mount = src.name
    if isinstance(dst, _wire.Repository):
        with contextlib.closing(src.open_blob(desc.digest)) as stream:
            dst.put_blob(stream, desc.digest, desc.size, mount_from=mount)
    else:
        with contextlib.closing(src.open_blob(desc.digest)) as stream:
            dst.put_blob(stream, desc.digest, desc.size)


def _plan_copy(
    src: Store,
    man: ResolvedManifest,
    order: list[ResolvedManifest],
    blobs: dict[str, Descriptor],
    seen: set[str],
) -> None:
    """Read (and so verify against its digest) every manifest to copy: children before the
    index naming them, each manifest before its referrers; collect the blobs they name."""
    if man.digest in seen:
        return
    seen.add(man.digest)
    doc = man.json
    if man.is_index:
        for child in m.index_descriptors(doc, where=man.digest):
            if child.media_type in m.MANIFEST_TYPES | m.INDEX_TYPES:
                _plan_copy(src, resolve_listed(src, child, man.digest), order, blobs, seen)
    else:
        items: list[Any] = [doc.get("config"), *doc.get("layers", [])]
        for item in items:
            desc = Descriptor.from_dict(item, where=man.digest)
            blobs.setdefault(desc.digest, desc)
    order.append(man)
    for referrer in src.referrers(man.digest):
        _plan_copy(src, resolve_listed(src, referrer, man.digest), order, blobs, seen)


def _copy_graph(src: Store, dst: Store, root: ResolvedManifest, tag: str | None) -> int:
    """Copy in three steps, so that a failure leaves no new tag in ``dst``: read and verify
    every manifest; copy every blob (each checked against its digest and size); write the
    manifests, the tag last."""
    order: list[ResolvedManifest] = []
    blobs: dict[str, Descriptor] = {}
    _plan_copy(src, root, order, blobs, set())
    for desc in blobs.values():
        if desc.media_type == m.EMPTY_TYPE and desc.digest == m.EMPTY.digest:
            dst.put_blob(io.BytesIO(m.EMPTY_JSON), desc.digest, desc.size)
        else:
            _copy_blob(src, dst, desc)
    for man in order:
        if not dst.has_manifest(man.digest) or m.subject_of(man.json):
            dst.put_manifest(man.data, man.media_type)
    if tag is not None:
        dst.put_manifest(root.data, root.media_type, tag=tag)
    return len(order)


def copy(
    src: str,
    dst: str,
    *,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> int:
    """Copy the image or artifact ``src`` names to ``dst`` with everything attached to it
    (referrers, recursively, and those of each platform manifest). Manifest bytes and digests
    are kept. Everything is read and verified, and every blob copied, before the first manifest
    is written, and the tag last: a failure leaves no new tag in ``dst`` (blobs already copied
    stay; they are content-addressed). Returns how many manifests were copied."""
    s_store, s_ref = open_store(src, store=store, transport=transport)
    d_store, d_ref = open_store(dst, store=store, transport=transport)
    _check_default_store(s_store, s_ref)
    reference = s_ref.reference
    if reference is None and not isinstance(s_store, Layout):
        raise RegistryError(f"{s_ref}: needs a tag or a digest")
    man = s_store.resolve(reference)  # type: ignore[arg-type]
    if d_ref.digest and d_ref.digest != man.digest:
        raise RegistryError(f"{d_ref}: the destination digest differs from the source's")
    tag = d_ref.name if d_ref.name else (None if s_ref.digest else s_ref.name)
    return _copy_graph(s_store, d_store, man, tag)


def reindex(
    ref: str,
    *,
    platform: str | None = None,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> int:
    """Rebuild the referrers fallback index of ``ref`` (registry) or the referrer entries of
    ``index.json`` (layout); returns how many referrers it lists now."""
    st, r = open_store(ref, store=store, transport=transport)
    return st.reindex(_resolve(st, r, platform).digest)


def list_tags(
    repo_ref: str,
    *,
    internal: bool = False,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> list[str]:
    """The tags of a repository (ref names of a layout), without referrers bookkeeping tags
    (``sha256-<hex>``, ``nameplate-ref-*``) unless ``internal``."""
    st, _ = open_store(repo_ref, store=store, transport=transport)
    tags = st.tags()
    return tags if internal else [t for t in tags if not _wire.is_internal_tag(t)]


def open_blob(
    ref_or_repo: str,
    digest: str,
    *,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> BinaryIO:
    """A stream of one blob of the repository or layout ``ref_or_repo`` names."""
    st, _ = open_store(ref_or_repo, store=store, transport=transport)
    return st.open_blob(m.check_digest(digest))
