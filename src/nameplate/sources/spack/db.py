"""A Spack store: its DB (``.spack-db/index.json``, versions 0.9.3 and 5-8) and prefixes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from ... import normalize
from ...errors import SourceError, UnsupportedFormat
from ...record import FileDigest, Unknown
from ...tree import FileTree
from .._common import ExtractOptions
from .closure import ClosureScanner
from .files import load_json
from .graph import Extras, Graph
from .prefix import manifest_files, scan_elf
from .specfile import node_from_dict

__all__ = ["find_store", "installed_at", "read_db", "scan_environment", "store_scanner"]

_DB_VERSIONS = {"0.9.3": 1, "5": 1, "6": 3, "7": 4, "8": 5}
_MAX_PREFIX_DEPTH = 6


def _find_prefixes(
    tree: FileTree, top: PurePosixPath, hashes: frozenset[str]
) -> dict[str, PurePosixPath]:
    """Prefix directories under a store root, keyed by the DAG hash that ends their name.

    Spack's projections are configurable, so the path is never parsed: a directory whose name
    ends with a DB hash is that install's prefix (Spack's own rule), and is not entered."""
    out: dict[str, PurePosixPath] = {}
    for dirpath, dirs, _files in tree.walk(top):
        depth = len(dirpath.parts) - len(top.parts) if str(top) != "." else len(dirpath.parts)
        keep = []
        for d in dirs:
            if d[-32:] in hashes:
                out[d[-32:]] = dirpath / d
            elif not d.startswith(".spack") and depth < _MAX_PREFIX_DEPTH:
                keep.append(d)
        dirs[:] = keep
    return out


def installed_at(value: object, at: str, where: str, graph: Graph) -> str | None:
    """The RFC 3339 time of an ``installation_time``; None when absent, and when it is not a
    time stamp (``1e300``, ``NaN``, ``-1e18``), which is then an unknown naming the field."""
    if value is None:
        return None
    seconds = normalize.epoch_seconds(value)
    if seconds is None:
        graph.unknowns.append(
            Unknown(
                path=where,
                field="components.installed_at",
                reason=f"{at}: {repr(value)[:40]} is not a time stamp from 1970 to 9999",
            )
        )
        return None
    return normalize.iso_time(seconds)


def _scanner(
    tree: FileTree, installs: Mapping[str, object], on_disk: Mapping[str, PurePosixPath]
) -> ClosureScanner:
    """One resolver for the whole store: each DB record's recorded ``path`` is mounted on its
    prefix folder, and each prefix is owned by its node."""
    mounts = []
    for key, rec in installs.items():
        prefix = on_disk.get(key[-32:])
        path = rec.get("path") if isinstance(rec, Mapping) else None
        if prefix is not None and isinstance(path, str) and path.startswith("/"):
            mounts.append((path, str(prefix)))
    scanner = ClosureScanner(tree, mounts=mounts)
    for h, prefix in on_disk.items():
        scanner.own(prefix, f"spack:{h}")
    return scanner


def store_scanner(
    tree: FileTree, store: PurePosixPath
) -> tuple[ClosureScanner, dict[str, PurePosixPath]]:
    """The resolver of the store at ``store`` (for a prefix or an environment read from it),
    and its prefixes by DAG hash."""
    data = load_json(tree, store / ".spack-db" / "index.json")
    db = data.get("database") if isinstance(data, Mapping) else None
    installs = db.get("installs") if isinstance(db, Mapping) else None
    if not isinstance(installs, Mapping):
        raise SourceError(f"{tree.describe(store)}: $.database.installs: missing")
    on_disk = _find_prefixes(tree, store, frozenset(k[-32:] for k in installs))
    return _scanner(tree, installs, on_disk), on_disk


def scan_environment(
    tree: FileTree, store: PurePosixPath, graph: Graph, options: ExtractOptions
) -> None:
    """The ELF closures of an environment's nodes installed in the store at ``store``."""
    scanner, on_disk = store_scanner(tree, store)
    for h in list(graph.nodes):
        prefix = on_disk.get(h)
        if prefix is None:
            continue
        listed = manifest_files(tree, prefix, None, graph)
        has_manifest = tree.is_file(prefix / ".spack" / "install_manifest.json")
        scan_elf(
            tree, prefix, listed if has_manifest else None, f"spack:{h}", graph, scanner=scanner
        )


def find_store(path: str) -> tuple[str, str] | None:
    """(store root, the path below it) when ``path`` (a prefix, an environment in a Spack
    instance) sits in a Spack store: a ``.spack-db`` up to three levels above a prefix, or the
    instance's default store ``opt/spack`` of ``<spack>/var/spack/environments/<name>``."""
    import os

    real = os.path.realpath(path)
    parts = real.rstrip("/").split("/")
    for up in (2, 1, 3):
        if len(parts) > up:
            root = "/".join(parts[:-up]) or "/"
            if os.path.isfile(os.path.join(root, ".spack-db", "index.json")):
                return root, "/".join(parts[-up:])
    if len(parts) > 4 and parts[-4:-1] == ["var", "spack", "environments"]:
        instance = "/".join(parts[:-4])
        if os.path.isfile(os.path.join(instance, "opt", "spack", ".spack-db", "index.json")):
            return instance, "/".join(parts[-4:])
    return None


def read_db(
    tree: FileTree, store: PurePosixPath, graph: Graph, options: ExtractOptions
) -> list[str]:
    """Add a store's DB to ``graph``; return the explicit installed roots."""
    path = store / ".spack-db" / "index.json"
    where = tree.describe(path)
    data = load_json(tree, path)
    db = data.get("database") if isinstance(data, Mapping) else None
    if not isinstance(db, Mapping) or not isinstance(db.get("installs"), Mapping):
        raise SourceError(f"{where}: $.database.installs: missing (not a Spack DB index)")
    version = str(db.get("version"))
    spec_version = _DB_VERSIONS.get(version)
    if spec_version is None:
        raise UnsupportedFormat(
            f"{where}: $.database.version: DB version {version!r} is not readable "
            f"(readable: {', '.join(_DB_VERSIONS)})"
        )
    graph.read_from.append(where)
    installs = db["installs"]
    on_disk = _find_prefixes(tree, store, frozenset(k[-32:] for k in installs))
    scanner = _scanner(tree, installs, on_disk)
    roots: list[str] = []
    for key, rec in db["installs"].items():
        at = f"$.database.installs.{key}"
        if not isinstance(rec, Mapping) or not isinstance(rec.get("spec"), Mapping):
            raise SourceError(f"{where}: {at}.spec: missing")
        spec = dict(rec["spec"])
        if not any(k in spec for k in ("hash", "_hash", "full_hash", "build_hash")):
            spec["hash"] = key
        if spec_version == 1 and "name" in spec and "version" not in spec:
            pass
        node = node_from_dict(
            spec, version=spec_version if spec_version > 1 else 2, where=f"{where}: {at}.spec"
        )
        graph.add(node)
        installed = rec.get("installed", True) is True
        external = node.external
        prefix_dir = on_disk.get(node.hash)
        if installed and not external and prefix_dir is None:
            raise SourceError(
                f"{where}: {at}.path: prefix {rec.get('path')!r} is listed as installed "
                "but missing on disk"
            )
        when = installed_at(rec.get("installation_time"), f"{at}.installation_time", where, graph)
        files: tuple[FileDigest, ...] = ()
        if prefix_dir is not None and installed:
            recorded = rec.get("path") if isinstance(rec.get("path"), str) else None
            listed = manifest_files(tree, prefix_dir, recorded, graph)
            files = listed if options.include_files else ()
            has_manifest = tree.is_file(prefix_dir / ".spack" / "install_manifest.json")
            scan_elf(
                tree,
                prefix_dir,
                listed if has_manifest else None,
                f"spack:{node.hash}",
                graph,
                scanner=scanner,
            )
        graph.extras[node.hash] = Extras(
            prefix=tree.describe(prefix_dir) if prefix_dir is not None else None,
            explicit=bool(rec.get("explicit", False)),
            installed_at=when,
            status="installed" if installed else "declared",
            files=files,
        )
        if prefix_dir is not None and installed and not external:
            graph.prefixes[node.hash] = (tree, prefix_dir)  # its .spack/, read if it is a root
            graph.selectable.append(node.hash)
        if installed and rec.get("explicit") and not external:
            roots.append(node.hash)
    graph.check_edges(where)
    return sorted(roots, key=lambda h: (graph.nodes[h].name, h))
