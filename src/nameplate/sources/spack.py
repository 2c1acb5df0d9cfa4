"""The Spack source: install prefixes, stores, environments, build caches, OCI configs.

Reads Spack's on-disk formats as data, without Spack (see ``docs/sources/spack.md``):

- a prefix's ``.spack/spec.json`` (specfile v2-v5) or ``spec.yaml`` (v1), its
  ``install_manifest.json`` (file digests) and Spack's own ``.spack/sbom/spdx-2.3.json``
  (sources and licenses, kept as evidence; the spec decides everything else);
- a store's ``.spack-db/index.json`` (DB versions 5-8), which says installed / explicit /
  external and where each prefix is;
- an environment's ``spack.lock`` (lockfile versions 1-7);
- build caches (flat ``build_cache/`` layouts v0-v2, the v3 manifest layout, ``index.json``),
  see :mod:`._spack_cache`; an OCI build-cache image config (its ``spec`` key).

``package.py`` files archived in ``.spack/repos`` are code and are never read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .. import normalize
from ..errors import SourceError, UnsupportedFormat
from ..record import Evidence, FileDigest, Hash, Record, Source, Tool, Unknown
from . import _spack_api, _spack_cache
from ._common import ExtractOptions
from ._spack_record import Extras, Graph, build_records
from ._spack_spec import node_from_dict, parse_specfile
from ._tree import DirectoryTree, FileTree

__all__ = [
    "CAPABILITIES",
    "KIND",
    "detect",
    "extract_all",
    "extract_tree",
    "find",
    "load_json",
    "read_lockfile",
    "record_from_specfile_data",
]

KIND = "spack"

#: What this source fills in, field by field (``docs/sources/spack.md`` lists the same).
CAPABILITIES: Mapping[str, str] = {
    "components": "yes: every node of the DAG, externals included",
    "components.hashes": "yes: DAG hash, package hash (v3+), legacy full/build hashes",
    "components.files": "yes: install_manifest.json (base32 SHA-1 per file), prefixes only",
    "components.sources": "partial: from Spack's own SBOM (1.3+), absent in older installs",
    "components.licenses": "partial: from Spack's own SBOM (1.3+)",
    "components.options": "yes: variants",
    "components.patches": "yes: sha256 of each patch, in order",
    "dependencies": "yes: build/link/run/test; virtuals from specfile v4 on",
    "hpc.target": "yes: archspec name, completed from archspec",
    "hpc.compilers": "yes: compiler attribute (< v5) or c/cxx/fortran edges (v5)",
    "hpc.mpi": "yes: the provider of virtual mpi (by name before v4)",
    "hpc.gpu": "yes: cuda/rocm variants, cuda_arch, amdgpu_target, versions; SASS/PTX from fatbins",
    "hpc.libc": "yes: the libc provider (1.x); the floor from ELF files of the run-time closure",
    "hpc.cxx": "yes: GLIBCXX/CXXABI floors from the ELF files of the run-time closure",
    "provenance.builder": "partial: Spack version from spack.lock or install_environment.json",
}

_SPECFILE_LIMIT = 512 * 1024 * 1024
_LOCK_VERSIONS = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 5}
_DB_VERSIONS = {"0.9.3": 1, "5": 1, "6": 3, "7": 4, "8": 5}
_MAX_PREFIX_DEPTH = 6


# --------------------------------------------------------------------------- reading helpers


def load_json(tree: FileTree, path: PurePosixPath, *, limit: int = _SPECFILE_LIMIT) -> Any:
    """Parse a JSON file of the tree; ``SourceError`` names the file and the position."""
    raw = tree.read_bytes(path, limit=limit)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{tree.describe(path)}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SourceError(f"{tree.describe(path)}: JSON nested too deeply") from exc


def load_yaml(tree: FileTree, path: PurePosixPath) -> Any:
    """Parse a YAML file safely (no tags that construct objects)."""
    raw = tree.read_bytes(path, limit=_SPECFILE_LIMIT)
    try:
        return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        raise SourceError(f"{tree.describe(path)}: not valid YAML: {exc}") from exc


def _specfile(tree: FileTree, spack_dir: PurePosixPath) -> tuple[PurePosixPath, Any]:
    json_path = spack_dir / "spec.json"
    if tree.is_file(json_path):
        return json_path, load_json(tree, json_path)
    yaml_path = spack_dir / "spec.yaml"
    if tree.is_file(yaml_path):
        return yaml_path, load_yaml(tree, yaml_path)
    raise SourceError(f"{tree.describe(spack_dir)}: no spec.json or spec.yaml")


def _manifest_files(
    tree: FileTree, prefix: PurePosixPath, recorded_prefix: str | None, graph: Graph
) -> tuple[FileDigest, ...]:
    path = prefix / ".spack" / "install_manifest.json"
    try:
        data = load_json(tree, path)
    except SourceError:
        if tree.is_file(path):
            raise
        graph.unknowns.append(
            Unknown(
                path=tree.describe(path), field="components.files", reason="no install manifest"
            )
        )
        return ()
    if not isinstance(data, Mapping):
        raise SourceError(f"{tree.describe(path)}: $: expected an object of paths")
    root = recorded_prefix
    if root is None:  # the prefix itself is the shortest key
        root = min((k for k in data if isinstance(k, str)), key=len, default="")
    root = root.rstrip("/") + "/"
    out = []
    cut = len(root)
    for key, entry in data.items():
        if type(entry) is not dict or "hash" not in entry or not key.startswith(root):
            continue
        rel = key[cut:]
        if rel.startswith(".spack/"):
            continue
        size = entry.get("size")
        out.append(
            FileDigest(
                path=rel,
                digests=(Hash(algorithm="spack-sha1-b32", value=str(entry["hash"])),),
                size=size if type(size) is int else None,
            )
        )
    out.sort(key=lambda f: f.path)
    return tuple(out)


def _sbom_facts(
    tree: FileTree, prefix: PurePosixPath, graph: Graph
) -> dict[tuple[str, str], tuple[tuple[Source, ...], tuple[str, ...]]]:
    """Sources and licenses per (name, version) from Spack's own SPDX SBOM, kept as evidence."""
    path = prefix / ".spack" / "sbom" / "spdx-2.3.json"
    if not tree.is_file(path):
        return {}
    raw = tree.read_bytes(path, limit=64 * 1024 * 1024)
    graph.evidence.append(
        Evidence(
            kind="spack-spdx-2.3",
            path=tree.describe(path),
            digest="sha256:" + _sha256(raw),
            detail="Spack's own SBOM; used for sources and licenses only",
        )
    )
    try:
        doc = json.loads(raw)
        packages = doc["packages"]
    except (ValueError, KeyError, TypeError) as exc:
        graph.unknowns.append(
            Unknown(
                path=tree.describe(path), field="components.sources", reason=f"unreadable: {exc}"
            )
        )
        return {}
    out: dict[tuple[str, str], tuple[tuple[Source, ...], tuple[str, ...]]] = {}
    for pkg in packages if isinstance(packages, list) else []:
        if not isinstance(pkg, Mapping):
            continue
        name, version = pkg.get("name"), pkg.get("versionInfo")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        url = pkg.get("downloadLocation")
        checksums = tuple(
            Hash(algorithm=str(c.get("algorithm", "")).lower(), value=str(c.get("checksumValue")))
            for c in pkg.get("checksums", pkg.get("checksum", [])) or []
            if isinstance(c, Mapping) and c.get("checksumValue")
        )
        sources: tuple[Source, ...] = ()
        if (isinstance(url, str) and url not in ("NOASSERTION", "NONE", "None", "")) or checksums:
            sources = (
                Source(
                    url=url
                    if isinstance(url, str) and url not in ("NOASSERTION", "NONE", "None", "")
                    else None,
                    checksums=checksums,
                ),
            )
        lic = pkg.get("licenseDeclared")
        licenses = (lic,) if isinstance(lic, str) and lic not in ("NOASSERTION", "NONE") else ()
        out[(name, version)] = (sources, licenses)
    return out


#: Folders of a prefix whose files may be executables or shared libraries.
_ELF_DIRS = frozenset({"bin", "sbin", "libexec", "lib", "lib64"})
_ELF_FILE_LIMIT = 128 * 1024 * 1024
_ELF_FILES_PER_PREFIX = 2048


def _scan_elf(
    tree: FileTree,
    prefix: PurePosixPath,
    files: tuple[FileDigest, ...],
    component: str,
    graph: Graph,
) -> None:
    """ELF facts of a prefix's executables and shared libraries, as listed by its manifest.

    Only regular files under ``bin/``, ``lib/``… that the manifest says are not empty are read
    (a ``--fake`` install holds none), each bounded, at most a few thousand per prefix."""
    from .elf import ELF_MAGIC, parse_elf

    items: list[tuple[str, Any, str | None, str | None]] = []
    candidates = [
        f
        for f in files
        if (f.size or 0) >= 64
        and f.path.split("/", 1)[0] in _ELF_DIRS
        and (f.path.startswith(("bin/", "sbin/", "libexec/")) or ".so" in f.path.rsplit("/", 1)[-1])
    ]
    for f in candidates[:_ELF_FILES_PER_PREFIX]:
        path = prefix / f.path
        try:
            data = tree.read_bytes(path, limit=_ELF_FILE_LIMIT)
        except SourceError as exc:
            graph.unknowns.append(Unknown(path=tree.describe(path), field="elf", reason=str(exc)))
            continue
        if not data.startswith(ELF_MAGIC):
            continue
        where = tree.describe(path)
        try:
            facts = parse_elf(data, where=where)
        except SourceError as exc:
            graph.unknowns.append(Unknown(path=where, field="elf", reason=str(exc)))
            continue
        items.append((where, facts, "sha256:" + _sha256(data), component))
    if len(candidates) > _ELF_FILES_PER_PREFIX:
        graph.unknowns.append(
            Unknown(
                path=tree.describe(prefix),
                field="elf",
                reason=f"{len(candidates)} candidate files; read the first {_ELF_FILES_PER_PREFIX}",
            )
        )
    if items:
        graph.elf[component.removeprefix("spack:")] = items


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- prefixes


def _read_prefix(
    tree: FileTree, prefix: PurePosixPath, graph: Graph, options: ExtractOptions
) -> str:
    """Add a prefix's DAG to ``graph``; return the root hash."""
    path, data = _specfile(tree, prefix / ".spack")
    where = tree.describe(path)
    _, nodes = parse_specfile(data, where=where)
    for node in nodes:
        graph.add(node)
    graph.read_from.append(where)
    graph.check_edges(where)
    root = nodes[0]
    sbom = _sbom_facts(tree, prefix, graph)
    files = _manifest_files(tree, prefix, None, graph) if options.include_files else ()
    _scan_elf(tree, prefix, files, f"spack:{root.hash}", graph)
    env = prefix / ".spack" / "install_environment.json"
    if tree.is_file(env):
        _install_environment(tree, env, graph)
    for node in nodes:
        sources, licenses = sbom.get((node.name, node.version), ((), ()))
        prior = graph.extras.get(node.hash, Extras())
        graph.update(
            node.hash,
            sources=sources or prior.sources,
            licenses=licenses or prior.licenses,
        )
    graph.update(root.hash, prefix=tree.describe(prefix), files=files)
    return root.hash


def _install_environment(tree: FileTree, path: PurePosixPath, graph: Graph) -> None:
    data = load_json(tree, path, limit=1024 * 1024)
    if not isinstance(data, Mapping):
        return
    version = data.get("spack_version")
    if isinstance(version, str) and graph.builder is None:
        graph.builder = Tool(name="spack", version=version.split(" ")[0])
    for key in ("host_os", "platform", "host_target", "kernel_version"):  # no hostname
        if isinstance(data.get(key), str):
            graph.build_host[key] = data[key]


# --------------------------------------------------------------------------- stores


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


def _read_db(
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
        external = node.external_path is not None
        prefix_dir = on_disk.get(node.hash)
        if installed and not external and prefix_dir is None:
            raise SourceError(
                f"{where}: {at}.path: prefix {rec.get('path')!r} is listed as installed "
                "but missing on disk"
            )
        when = rec.get("installation_time")
        files: tuple[FileDigest, ...] = ()
        if prefix_dir is not None and options.include_files and installed:
            recorded = rec.get("path") if isinstance(rec.get("path"), str) else None
            files = _manifest_files(tree, prefix_dir, recorded, graph)
            _scan_elf(tree, prefix_dir, files, f"spack:{node.hash}", graph)
        graph.extras[node.hash] = Extras(
            prefix=tree.describe(prefix_dir) if prefix_dir is not None else None,
            explicit=bool(rec.get("explicit", False)),
            installed_at=normalize.iso_time(float(when)) if isinstance(when, int | float) else None,
            status="installed" if installed else "declared",
            files=files,
        )
        if installed and rec.get("explicit") and not external:
            roots.append(node.hash)
    graph.check_edges(where)
    by_name: dict[tuple[str, str], list[str]] = {}
    for node in graph.nodes.values():
        by_name.setdefault((node.name, node.version), []).append(node.hash)
    for h in roots:  # Spack's own SBOM: sources and licenses (a package version's, not a build's)
        for key, (sources, licenses) in _sbom_facts(tree, on_disk[h], graph).items():
            for target in by_name.get(key, ()):
                prior = graph.extras.get(target, Extras())
                if not prior.sources and not prior.licenses:
                    graph.update(target, sources=sources, licenses=licenses)
    return sorted(roots, key=lambda h: (graph.nodes[h].name, h))


# --------------------------------------------------------------------------- environments


def read_lockfile(data: Any, *, where: str, graph: Graph) -> list[str]:
    """Add a parsed ``spack.lock`` to ``graph``; return its root hashes in order."""
    meta = data.get("_meta") if isinstance(data, Mapping) else None
    if not isinstance(meta, Mapping) or meta.get("file-type") != "spack-lockfile":
        raise SourceError(f"{where}: $._meta.file-type: not a Spack lockfile")
    raw_version = meta.get("lockfile-version")
    if type(raw_version) is not int or raw_version not in _LOCK_VERSIONS:
        raise UnsupportedFormat(
            f"{where}: $._meta.lockfile-version: {raw_version!r} is not readable "
            f"(readable: {', '.join(map(str, _LOCK_VERSIONS))})"
        )
    spec_version = meta.get("specfile-version", _LOCK_VERSIONS[raw_version])
    if type(spec_version) is not int or spec_version not in (1, 2, 3, 4, 5):
        raise UnsupportedFormat(
            f"{where}: $._meta.specfile-version: {spec_version!r} is not readable"
        )
    spack = data.get("spack")
    if isinstance(spack, Mapping) and isinstance(spack.get("version"), str):
        graph.builder = Tool(
            name="spack",
            version=spack["version"],
            commit=spack.get("commit") if isinstance(spack.get("commit"), str) else None,
        )
    roots: list[str] = []
    sections = [("$", data)]
    included = data.get("include_concrete")
    if isinstance(included, Mapping):
        sections += [(f"$.include_concrete.{k}", v) for k, v in included.items()]
    for at, section in sections:
        if not isinstance(section, Mapping):
            raise SourceError(f"{where}: {at}: expected an object")
        specs = section.get("concrete_specs")
        if not isinstance(specs, Mapping):
            raise SourceError(f"{where}: {at}.concrete_specs: missing")
        for key, node in specs.items():
            name = None
            if spec_version == 1:
                if not isinstance(node, Mapping) or len(node) != 1:
                    raise SourceError(
                        f"{where}: {at}.concrete_specs.{key}: expected {{name: node}}"
                    )
                ((name, node),) = node.items()  # noqa: PLW2901
            if isinstance(node, Mapping) and node.get("hash") != key:
                # Lockfiles v1-v3 key specs by a hash that is not always the node's own
                # (v2-v3: the build hash); the key is what roots and dependencies refer to.
                node = {**node, "hash": key}  # noqa: PLW2901
            graph.add(
                node_from_dict(
                    node,
                    version=spec_version,
                    where=f"{where}: {at}.concrete_specs.{key}",
                    name=name,
                )
            )
        section_roots = section.get("roots") or []
        if not isinstance(section_roots, list):
            raise SourceError(f"{where}: {at}.roots: expected a list")
        for i, root in enumerate(section_roots):
            h = root.get("hash") if isinstance(root, Mapping) else None
            target = graph.resolve(h) if isinstance(h, str) else None
            if target is None:
                raise SourceError(
                    f"{where}: {at}.roots[{i}].hash: no concrete spec with hash {h!r}"
                )
            if target not in roots:
                roots.append(target)
            group = root.get("group")
            if isinstance(group, str):
                graph.update(target, properties=(("spack.group", group),))
    graph.read_from.append(where)
    graph.check_edges(where)
    return roots


def _read_env(tree: FileTree, env: PurePosixPath, graph: Graph) -> list[str]:
    lock = env / "spack.lock"
    if not tree.is_file(lock):
        raise SourceError(
            f"{tree.describe(env)}: an environment without spack.lock (run spack concretize)"
        )
    return read_lockfile(load_json(tree, lock), where=tree.describe(lock), graph=graph)


# --------------------------------------------------------------------------- entry points


def _classify(tree: FileTree, top: PurePosixPath) -> str | None:
    if tree.is_file(top / ".spack-db" / "index.json"):
        return "store"
    if tree.is_file(top / ".spack" / "spec.json") or tree.is_file(top / ".spack" / "spec.yaml"):
        return "prefix"
    if tree.is_file(top / "spack.lock") or tree.is_file(top / "spack.yaml"):
        return "environment"
    if _spack_cache.is_buildcache(tree, top):
        return "buildcache"
    return None


def find(tree: FileTree) -> list[tuple[str, PurePosixPath]]:
    """Every Spack store, stand-alone prefix and environment in ``tree`` (kind, path)."""
    found: list[tuple[str, PurePosixPath]] = []
    for dirpath, dirs, files in tree.walk(PurePosixPath(".")):
        if ".spack-db" in dirs:
            found.append(("store", dirpath))
            dirs.clear()
        elif ".spack" in dirs and (tree.is_file(dirpath / ".spack" / "spec.json")):
            found.append(("prefix", dirpath))
            dirs.clear()
        elif "spack.lock" in files:
            found.append(("environment", dirpath))
            dirs[:] = [d for d in dirs if d != ".spack-env"]
    return found


def detect(target: str | os.PathLike[str]) -> bool:
    """True if ``target`` is a Spack prefix, store, environment, build cache or spec file."""
    path = Path(target)
    if path.is_file():
        return _spack_cache.file_kind(path) is not None
    if path.is_dir():
        try:
            tree = DirectoryTree(path)
        except SourceError:
            return False
        return _classify(tree, PurePosixPath(".")) is not None
    return False


def _classify_dir(path: Path) -> str | None:
    try:
        return _classify(DirectoryTree(path), PurePosixPath("."))
    except SourceError:
        return None


def _read_into(
    tree: FileTree, kind: str, top: PurePosixPath, graph: Graph, options: ExtractOptions
) -> list[str]:
    if kind == "store":
        return _read_db(tree, top, graph, options)
    if kind == "prefix":
        return [_read_prefix(tree, top, graph, options)]
    if kind == "environment":
        return _read_env(tree, top, graph)
    return _spack_cache.read_buildcache(tree, top, graph, options)


_SUBJECTS: Mapping[str, tuple[Any, Any, Any]] = {
    "store": ("spack-store", "spack-prefix", "installed"),
    "prefix": ("spack-prefix", "spack-prefix", "installed"),
    "environment": ("spack-environment", "spack-environment", "declared"),
    "buildcache": ("spack-buildcache", "spack-buildcache", "cached"),
    "specfile": ("spack-specfile", "spack-specfile", "declared"),
}


def extract_all(target: str | os.PathLike[str], options: ExtractOptions) -> list[Record]:
    """One record per root at ``target`` (or one combined record with ``options.combined``)."""
    path = Path(target)
    if path.is_dir() and _spack_api.available() and _classify_dir(path) in ("store", "environment"):
        return _spack_api.extract_all(path, options)
    graph = Graph()
    if path.is_file():
        kind, roots = _spack_cache.read_file(path, graph, options)
        tree_name = str(path.resolve())
    else:
        tree = DirectoryTree(path)
        top = PurePosixPath(".")
        classified = _classify(tree, top)
        if classified is None:
            record = extract_tree(tree, options)
            if record is None:
                raise SourceError(
                    f"{tree.name}: no Spack prefix, store, environment or cache found"
                )
            return [record]
        kind = classified
        roots = _read_into(tree, kind, top, graph, options)
        tree_name = tree.name
    subject_kind, per_root, status = _SUBJECTS[kind]
    return build_records(
        graph,
        roots,
        subject_kind=subject_kind,
        per_root_kind=per_root,
        combined_name=tree_name,
        status=status,
        options=options,
        identity=tree_name,
    )


def extract_tree(tree: FileTree, options: ExtractOptions) -> Record | None:
    """One combined record of every Spack install and environment in ``tree``; None if none."""
    graph = Graph()
    roots: list[str] = []
    for kind, top in find(tree):
        for h in _read_into(tree, kind, top, graph, options):
            if h not in roots:
                roots.append(h)
    if not roots:
        return None
    from dataclasses import replace

    (record,) = build_records(
        graph,
        roots,
        subject_kind="spack-store",
        combined_name=tree.name,
        status="installed",
        options=replace(options, combined=True, roots=()),
        identity=tree.name,
    )
    return record


def record_from_specfile_data(
    data: Mapping[str, Any], *, where: str, options: ExtractOptions
) -> Record:
    """A record from a parsed spec document: spec.json, a build-cache spec, an OCI config."""
    graph = Graph()
    _, nodes = parse_specfile(data, where=where)
    for node in nodes:
        graph.add(node)
    graph.check_edges(where)
    graph.read_from.append(where)
    kind = "buildcache" if "rootfs" in data or "buildcache_layout_version" in data else "specfile"
    subject_kind, _, status = _SUBJECTS[kind]
    (record,) = build_records(
        graph,
        [nodes[0].hash],
        subject_kind=subject_kind,
        combined_name=where,
        status=status,
        options=options,
        identity=where,
    )
    return record
