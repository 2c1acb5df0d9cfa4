"""Spack build caches and single Spack files.

- flat layouts v0-v2: ``build_cache/*.spec.json``, ``*.spec.json.sig`` (clearsigned),
  ``*.spec.yaml``, ``build_cache/index.json``;
- the v3 layout (Spack 1.x): ``v3/layout.json``, ``v3/manifests/spec/<name>/*.spec.manifest.json``
  (optionally clearsigned) pointing at content-addressed ``blobs/sha256/<2>/<digest>``; every
  blob read is checked against its manifest checksum and size;
- single files: a spec file, a lockfile, a DB or build-cache ``index.json``, a v3 manifest, an
  OCI build-cache image config (its ``spec`` key).

Signatures are verified with ``gpg`` only when asked (``verify_signatures`` with the user's
public keys); otherwise each signed file is read and an *unknown* says it was not verified.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ..._gpg import verify_clearsigned
from ...errors import SignatureError, SourceError, UnsupportedFormat
from ...record import Evidence, Unknown
from ...tree import DirectoryTree, FileTree, read_gzip_bounded
from .._common import ExtractOptions
from .files import load_json, parse_yaml
from .graph import Extras, Graph, component_id
from .lockfile import read_lockfile
from .specfile import Node, node_from_dict, parse_specfile, strip_clearsign
from .tarball import TarballRef

__all__ = [
    "file_kind",
    "is_buildcache",
    "read_buildcache",
    "read_file",
    "read_index",
    "tops",
]

_LAYOUTS = (0, 1, 2)
_LIMIT = 512 * 1024 * 1024
_SPEC_SUFFIXES = (".spec.json", ".spec.json.sig", ".spec.yaml", "spec.json", "spec.yaml")
_CACHE_SPECS = (".spec.json", ".spec.json.sig", ".spec.yaml")


def is_buildcache(tree: FileTree, top: PurePosixPath) -> bool:
    """True if ``top`` is the root of a Spack build cache (any layout)."""
    if tree.is_dir(top / "build_cache") or tree.is_file(top / "v3" / "layout.json"):
        return True
    return any(n.endswith(_CACHE_SPECS) for n in tree.listdir(top))


def file_kind(path: Path) -> str | None:
    """What kind of Spack file ``path`` is (``specfile``, ``lockfile``, ``index``,
    ``manifest``), or None when it is none of them."""
    return _sniff(path)[0]


def _sniff(path: Path) -> tuple[str | None, Any]:
    """The kind of ``path`` and, when telling it needed parsing a ``.json`` file, the parsed
    document (so the reader does not parse it again)."""
    name = path.name
    if name.endswith(".spec.manifest.json"):
        return "manifest", None
    if name.endswith(_SPEC_SUFFIXES):
        return "specfile", None
    if name == "spack.lock" or name.endswith(".lock"):
        return "lockfile", None
    if not name.endswith(".json"):
        return None, None
    try:
        if path.stat().st_size > 64 * 1024 * 1024:
            return None, None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None, None
    if not isinstance(data, Mapping):
        return None, None
    if "spec" in data:
        return "specfile", data
    if "database" in data:
        return "index", data
    meta = data.get("_meta")
    if isinstance(meta, Mapping) and meta.get("file-type") == "spack-lockfile":
        return "lockfile", data
    return None, None


def _signed_payload(raw: bytes, *, where: str, graph: Graph, options: ExtractOptions) -> bytes:
    """The payload of a possibly clearsigned file, verified when asked."""
    try:
        payload, signed = strip_clearsign(raw)
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from exc
    if options.verify_signatures:
        if not signed:
            raise SignatureError(f"{where}: not signed, and --verify-signatures was given")
        fingerprint = verify_clearsigned(raw, options.public_keys, where=where)
        graph.evidence.append(
            Evidence(kind="openpgp-signature", path=where, detail=f"verified, signer {fingerprint}")
        )
    elif signed:
        graph.unknowns.append(
            Unknown(
                path=where,
                field="signature",
                reason="clearsigned, not verified (use --verify-signatures --public-key KEY)",
            )
        )
    return payload


def _parse_spec_bytes(payload: bytes, *, where: str, yaml_text: bool) -> Any:
    if yaml_text:
        return parse_yaml(payload, where=where)
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{where}: not a readable spec file: {exc}") from exc


def _check_layout(data: Any, where: str) -> None:
    if not isinstance(data, Mapping):
        raise SourceError(f"{where}: $: expected an object")
    layout = data.get("buildcache_layout_version", 0)
    try:
        number = int(layout)
    except (TypeError, ValueError, OverflowError):  # an inf or nan from JSON
        number = -1
    if number not in _LAYOUTS:
        raise UnsupportedFormat(
            f"{where}: $.buildcache_layout_version: {layout!r} is not readable "
            f"(readable: {', '.join(map(str, _LAYOUTS))})"
        )


def _add_spec(data: Any, *, where: str, graph: Graph) -> str:
    _, nodes = parse_specfile(data, where=where)
    for node in nodes:
        graph.add(node)
    graph.check_edges(where)
    graph.read_from.append(where)
    return nodes[0].hash


def _read_spec_file(
    tree: FileTree,
    path: PurePosixPath,
    graph: Graph,
    options: ExtractOptions,
    parsed: Any = None,
) -> str:
    where = tree.describe(path)
    data = parsed  # an unsigned JSON spec file already parsed to tell what it is
    if data is None:
        raw = tree.read_bytes(path, limit=_LIMIT)
        payload = _signed_payload(raw, where=where, graph=graph, options=options)
        data = _parse_spec_bytes(payload, where=where, yaml_text=path.name.endswith(".yaml"))
    _check_layout(data, where)
    root = _add_spec(data, where=where, graph=graph)
    checksum = data.get("binary_cache_checksum") if isinstance(data, Mapping) else None
    if isinstance(checksum, Mapping) and isinstance(checksum.get("hash"), str):
        graph.evidence.append(
            Evidence(
                kind="spack-buildcache-tarball",
                path=where,
                digest=f"{checksum.get('hash_algorithm', 'sha256')}:{checksum['hash']}",
                component=component_id(root),
            )
        )
    cache_keys = ("buildcache_layout_version", "binary_cache_checksum", "buildinfo", "rootfs")
    if any(k in data for k in cache_keys) or path.name.endswith(".sig"):
        _mark_cached(graph, root)
    return root


def _mark_cached(graph: Graph, h: str) -> None:
    graph.update(h, status="cached")


def _blob(tree: FileTree, top: PurePosixPath, entry: Mapping[str, Any], *, where: str) -> bytes:
    digest = entry.get("checksum")
    if entry.get("checksumAlgorithm") != "sha256" or not isinstance(digest, str):
        raise SourceError(f"{where}: $.data[].checksum: expected a sha256 checksum")
    path = top / "blobs" / "sha256" / digest[:2] / digest
    if not tree.is_file(path):
        raise SourceError(
            f"{where}: $.data[].checksum: blob {digest[:12]} is missing from the cache"
        )
    raw = tree.read_bytes(path, limit=_LIMIT)
    if hashlib.sha256(raw).hexdigest() != digest:
        raise SourceError(f"{tree.describe(path)}: content does not match its sha256 (tampered?)")
    size = entry.get("contentLength")
    if isinstance(size, int) and size != len(raw):
        raise SourceError(f"{tree.describe(path)}: {len(raw)} bytes, the manifest says {size}")
    if entry.get("compression") == "gzip":
        return read_gzip_bounded(raw, where=tree.describe(path), limit=_LIMIT)
    return raw


def _read_v3_manifest(
    tree: FileTree,
    top: PurePosixPath,
    path: PurePosixPath,
    graph: Graph,
    options: ExtractOptions,
) -> str:
    where = tree.describe(path)
    payload = _signed_payload(
        tree.read_bytes(path, limit=16 * 1024 * 1024), where=where, graph=graph, options=options
    )
    try:
        manifest = json.loads(payload)
    except ValueError as exc:
        raise SourceError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(manifest, Mapping) or manifest.get("version") != 3:
        raise UnsupportedFormat(f"{where}: $.version: not a v3 build-cache manifest")
    entries = manifest.get("data")
    if not isinstance(entries, list):
        raise SourceError(f"{where}: $.data: missing")
    spec_entry = next(
        (
            e
            for e in entries
            if isinstance(e, Mapping)
            and str(e.get("mediaType", "")).startswith("application/vnd.spack.spec.")
        ),
        None,
    )
    if spec_entry is None:
        raise SourceError(f"{where}: $.data: no spec blob")
    data = _parse_spec_bytes(
        _blob(tree, top, spec_entry, where=where), where=where, yaml_text=False
    )
    root = _add_spec(data, where=where, graph=graph)
    for e in entries:
        if isinstance(e, Mapping) and str(e.get("mediaType", "")).startswith(
            "application/vnd.spack.install."
        ):
            graph.evidence.append(
                Evidence(
                    kind="spack-buildcache-tarball",
                    path=where,
                    digest=f"sha256:{e.get('checksum')}",
                    component=component_id(root),
                )
            )
            _tarball(tree, top, e, graph, root)
    _mark_cached(graph, root)
    return root


def _tarball(
    tree: FileTree, top: PurePosixPath, entry: Mapping[str, Any], graph: Graph, h: str
) -> None:
    """Note where the install tarball of ``h`` is; it is read only if ``h`` becomes a root."""
    digest, size = entry.get("checksum"), entry.get("contentLength")
    if entry.get("checksumAlgorithm") != "sha256" or not isinstance(digest, str):
        return
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        return
    path = top / "blobs" / "sha256" / digest[:2] / digest
    if isinstance(tree, DirectoryTree):
        opener: Callable[[], BinaryIO] = partial(tree.open, path)
    else:
        opener = partial(_in_memory, tree, path)
    graph.tarballs[h] = TarballRef(
        where=tree.describe(path),
        digest=f"sha256:{digest}",
        size=size if type(size) is int else None,
        open=opener,
    )


def _in_memory(tree: FileTree, path: PurePosixPath) -> BinaryIO:
    return io.BytesIO(tree.read_bytes(path, limit=_LIMIT))


def tops(graph: Graph, entries: list[str]) -> list[str]:
    """The roots of a build cache: its entries that no spec in it depends on (what Spack's
    index counts as ``ref_count`` 0). A spec pushed by name that another pushed spec depends on
    is not told apart from a dependency: the cache does not record which were named."""
    needed = {graph.resolve(e.hash) for n in graph.nodes.values() for e in n.edges}
    return [h for h in entries if h not in needed]


def read_index(data: Any, *, where: str, graph: Graph) -> list[str]:
    """Add a build-cache index (a DB of ``{spec, ref_count, in_buildcache}`` records) to
    ``graph``; return the cache's roots (:func:`tops`), every entry being selectable."""
    return _read_index(data, where=where, graph=graph)


def scan_tarballs(graph: Graph, hashes: list[str], where: str) -> None:
    """Stream the install tarballs of ``hashes`` once each into one in-memory tree (checked
    against their digests first) and resolve the closures of the prefixes they hold, at the
    build-time paths the tarballs name them by: the ELF facts a store of them would give."""
    from ...tartree import TarTree
    from .closure import ClosureScanner
    from .prefix import scan_installed

    mem = TarTree(where)
    seen: set[str] = set()
    for h in hashes:
        ref = graph.tarballs.get(h)
        if ref is None or ref.digest in seen:
            continue
        seen.add(ref.digest)
        try:
            with ref.open() as f:
                raw = f.read(_LIMIT + 1)
        except (SourceError, OSError) as exc:
            reason = str(exc) if isinstance(exc, SourceError) else exc.strerror or str(exc)
            graph.unknowns.append(
                Unknown(path=ref.where, field="elf", reason=f"install tarball not read: {reason}")
            )
            continue
        if len(raw) > _LIMIT:
            graph.unknowns.append(
                Unknown(path=ref.where, field="elf", reason=f"over {_LIMIT} bytes: not read")
            )
            continue
        if "sha256:" + hashlib.sha256(raw).hexdigest() != ref.digest:
            graph.unknowns.append(  # a tampered tarball is no source of facts
                Unknown(path=ref.where, field="elf", reason="does not match its sha256: not read")
            )
            continue
        try:
            mem.add(io.BytesIO(raw), ref.where)
        except SourceError as exc:
            graph.unknowns.append(Unknown(path=ref.where, field="elf", reason=str(exc)))
    scan_installed(mem, graph, ClosureScanner(mem, rooted=True, cache=mem.cache))


def _read_index(data: Any, *, where: str, graph: Graph) -> list[str]:
    db = data.get("database") if isinstance(data, Mapping) else None
    installs = db.get("installs") if isinstance(db, Mapping) else None
    if not isinstance(db, Mapping) or not isinstance(installs, Mapping):
        raise SourceError(f"{where}: $.database.installs: missing (not a Spack index)")
    version = {"0.9.3": 1, "5": 1, "6": 3, "7": 4, "8": 5}.get(str(db.get("version")))
    if version is None:
        raise UnsupportedFormat(
            f"{where}: $.database.version: {db.get('version')!r} is not readable"
        )
    roots = []
    nodes: list[Node] = []
    for key, rec in installs.items():
        spec = rec.get("spec") if isinstance(rec, Mapping) else None
        if not isinstance(spec, Mapping):
            raise SourceError(f"{where}: $.database.installs.{key}.spec: missing")
        if not any(k in spec for k in ("hash", "_hash", "full_hash", "build_hash")):
            spec = {**spec, "hash": key}
        node = node_from_dict(
            spec, version=max(version, 2), where=f"{where}: $.database.installs.{key}.spec"
        )
        graph.add(node)
        nodes.append(node)
        if rec.get("in_buildcache", True) is not False and not node.external:
            roots.append(node.hash)
    graph.check_edges(where)
    graph.read_from.append(where)
    for node in nodes:
        _mark_cached(graph, node.hash)
    graph.selectable += roots
    return tops(graph, roots)


def read_buildcache(
    tree: FileTree, top: PurePosixPath, graph: Graph, options: ExtractOptions
) -> list[str]:
    """Read every spec of a build cache; return its roots (:func:`tops`). Every entry may be
    named with ``--root`` (``graph.selectable``)."""
    roots: list[str] = []
    flat = top / "build_cache"
    for folder in (flat, top):  # a cache root, or a folder of spec files
        if tree.is_dir(folder):
            for name in tree.listdir(folder):
                if name.endswith(_CACHE_SPECS) and tree.is_file(folder / name):
                    roots.append(_read_spec_file(tree, folder / name, graph, options))
        index = flat / "index.json"
        if not roots and tree.is_file(index):
            raw = tree.read_bytes(index, limit=_LIMIT)
            roots += _read_index(json.loads(raw), where=tree.describe(index), graph=graph)
    specs = top / "v3" / "manifests" / "spec"
    if tree.is_dir(specs):
        for name in tree.listdir(specs):
            for manifest in tree.listdir(specs / name):
                if manifest.endswith(".spec.manifest.json"):
                    roots.append(
                        _read_v3_manifest(tree, top, specs / name / manifest, graph, options)
                    )
    cached = [h for h in roots if h in graph.tarballs]
    if cached:
        scan_tarballs(graph, cached, tree.describe(top))
    if not roots:
        raise SourceError(f"{tree.describe(top)}: a build cache with no spec files")
    entries = list(dict.fromkeys(roots))
    graph.selectable += entries
    return tops(graph, entries)


def read_file(path: Path, graph: Graph, options: ExtractOptions) -> tuple[str, list[str]]:
    """Read one Spack file; return (subject kind, roots)."""
    kind, data = _sniff(path)
    tree = DirectoryTree(path.parent)
    rel = PurePosixPath(path.name)
    where = tree.describe(rel)
    if kind == "specfile":
        root = _read_spec_file(tree, rel, graph, options, parsed=data)
        cached = graph.extras.get(root, Extras()).status == "cached"
        return ("buildcache" if cached else "specfile"), [root]
    if kind in ("lockfile", "index") and data is None:
        data = load_json(tree, rel)
    if kind == "lockfile":
        return "environment", read_lockfile(data, where=where, graph=graph)
    if kind == "index":
        return "buildcache", _read_index(data, where=where, graph=graph)
    if kind == "manifest":
        top = path.parents[4] if len(path.parents) > 4 else path.parent
        mtree = DirectoryTree(top)
        rel_manifest = PurePosixPath(path.resolve().relative_to(mtree.root).as_posix())
        return "buildcache", [
            _read_v3_manifest(mtree, PurePosixPath("."), rel_manifest, graph, options)
        ]
    raise SourceError(f"{where}: not a Spack spec file, lockfile, index or manifest")
