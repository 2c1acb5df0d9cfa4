"""Read through Spack's own Python API, where Spack is importable (``spack python``, the
``spack nameplate`` extension).

Spack gives node dicts (``Spec.node_dict_with_hashes``), store records (``db.get_record``) and
environments (``Environment.concretized_specs``); from there the same builder as the on-disk
reader makes the record, so both paths give the same record for the same store.

Spack's modules are untyped and only present inside Spack, so this module talks to them through
``Any`` and is imported only when Spack is importable.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from ...errors import SourceError
from ...record import FileDigest, Record, Unknown
from ...tree import DirectoryTree
from .._common import ExtractOptions
from .db import installed_at
from .files import load_json
from .graph import Extras, Graph
from .installs import read_installs
from .lockfile import lockfile_facts
from .prefix import manifest_files
from .record import build_records
from .roots import choose_roots
from .specfile import node_from_dict

__all__ = ["available", "extract_all", "extract_specs"]


def available() -> bool:
    """True when Spack's API can be used: inside ``spack python`` or the extension, and not
    switched off with ``NAMEPLATE_SPACK_API=0``."""
    if os.environ.get("NAMEPLATE_SPACK_API") == "0":
        return False
    try:
        return importlib.util.find_spec("spack.store") is not None
    except (ImportError, ValueError):
        return False


def _spack() -> Any:
    import spack.environment
    import spack.spec
    import spack.store

    return spack


@contextlib.contextmanager
def _store(root: Path) -> Iterator[Any]:
    spack = _spack()
    with spack.store.use_store(str(root)):
        yield spack.store.STORE


def _add(graph: Graph, spec: Any) -> str:
    node = node_from_dict(spec.node_dict_with_hashes(), version=5, where=f"spack:{spec.name}")
    graph.add(node)
    return node.hash


def _extras(graph: Graph, store: Any, spec: Any, options: ExtractOptions) -> None:
    try:
        rec = store.db.get_record(spec)
    except Exception:
        return
    prefix = None if spec.external else str(spec.prefix)
    files: tuple[FileDigest, ...] = ()
    h = spec.dag_hash()
    if prefix and Path(prefix).is_dir() and h not in graph.prefixes:
        tree = DirectoryTree(prefix)
        graph.prefixes[h] = (tree, PurePosixPath("."))  # its .spack/, read if it is a root
        graph.selectable.append(h)
        if options.include_files:
            files = manifest_files(tree, PurePosixPath("."), rec.path, graph)
    elif h in graph.extras:
        return
    when = installed_at(rec.installation_time or None, "installation_time", f"spack:{h}", graph)
    graph.extras[spec.dag_hash()] = Extras(
        prefix=prefix,
        explicit=bool(rec.explicit),
        installed_at=when,
        status="installed" if rec.installed else "declared",
        files=files,
    )


def _closures(graph: Graph, store_root: str, options: ExtractOptions) -> None:
    """The ELF closures of the nodes installed in the store, through the same resolver as the
    file readers (:func:`.db.scan_environment`): the same root gets the same ``hpc``."""
    from .db import scan_environment

    try:
        scan_environment(DirectoryTree(store_root), PurePosixPath("."), graph, options)
    except SourceError as exc:
        graph.unknowns.append(Unknown(path=store_root, field="elf", reason=str(exc)))


def _lockfile_facts(graph: Graph, lock: Path) -> None:
    """What the lockfile says beyond its specs (the Spack that concretized it), read as data
    by the same code as the on-disk path."""
    tree = DirectoryTree(lock.parent)
    rel = PurePosixPath(lock.name)
    data = load_json(tree, rel)
    if isinstance(data, dict):
        lockfile_facts(data, where=tree.describe(rel), graph=graph)


def extract_all(target: Path, options: ExtractOptions) -> list[Record]:
    """Records for a store root, a prefix or an environment, read through Spack's API."""
    spack = _spack()
    graph = Graph()  # the running Spack read the store; it need not be the one that built it
    roots: list[str] = []
    if (target / ".spack-db" / "index.json").is_file():
        kind = ("spack-store", "spack-prefix", "installed")
        with _store(target) as store:
            specs = store.db.query(installed=True)
            for spec in specs:
                for node in spec.traverse(deptype="all"):
                    _add(graph, node)
            for spec in specs:
                for node in spec.traverse(deptype="all"):
                    _extras(graph, store, node, options)
            _closures(graph, str(store.root), options)
            roots = sorted(
                (
                    s.dag_hash()
                    for s in specs
                    if graph.extras.get(s.dag_hash(), Extras()).explicit and not s.external
                ),
                key=lambda h: (graph.nodes[h].name, h),
            )
        graph.read_from.append(str((target / ".spack-db" / "index.json").resolve()))
    elif (target / "spack.lock").is_file():
        kind = ("spack-environment", "spack-environment", "declared")
        env = spack.environment.Environment(str(target))
        for _, spec in env.concretized_specs():
            for node in spec.traverse(deptype="all"):
                _add(graph, node)
            if spec.dag_hash() not in roots:
                roots.append(spec.dag_hash())
        graph.read_from.append(str((target / "spack.lock").resolve()))
        graph.selectable += [h for h in graph.nodes if not graph.nodes[h].external]
        _lockfile_facts(graph, target / "spack.lock")
        _closures(graph, str(spack.store.STORE.root), options)

    else:
        raise SourceError(f"{target}: not a Spack store or environment")
    subject_kind, per_root, status = kind
    name = str(target.resolve())
    roots = choose_roots(graph, roots, options, identity=name)
    read_installs(graph, roots, options)  # each root's SBOM and install_environment.json
    options = replace(options, roots=())
    return build_records(
        graph,
        roots,
        subject_kind=subject_kind,  # type: ignore[arg-type]
        per_root_kind=per_root,  # type: ignore[arg-type]
        combined_name=name,
        status=status,  # type: ignore[arg-type]
        options=options,
        identity=name,
    )


def extract_specs(queries: list[str], options: ExtractOptions) -> list[Record]:
    """Records for installed specs of Spack's configured store matching ``queries`` (spec
    syntax, ``/hash`` included); with no query, the explicitly installed specs."""
    spack = _spack()
    store = spack.store.STORE
    if queries:
        specs = []
        for query in queries:
            found = store.db.query(query, installed=True)
            if not found:
                raise SourceError(f"spack store {store.root}: no installed spec matches {query!r}")
            specs += [s for s in found if s not in specs]
    else:
        specs = store.db.query(installed=True, explicit=True)
    graph = Graph()
    for spec in specs:
        for node in spec.traverse(deptype="all"):
            _add(graph, node)
            _extras(graph, store, node, options)
    _closures(graph, str(store.root), options)
    graph.read_from.append(str(Path(store.root) / ".spack-db" / "index.json"))
    roots = [s.dag_hash() for s in specs]
    read_installs(graph, roots, options)  # each root's SBOM and install_environment.json
    name = str(Path(store.root).resolve())
    return build_records(
        graph,
        roots,
        subject_kind="spack-store",
        per_root_kind="spack-prefix",
        combined_name=name,
        status="installed",
        options=options,
        identity=name,
    )
