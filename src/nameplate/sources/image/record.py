"""Assemble the record of an image: run every finder on the merged layers and merge the results.

Finders: Spack (:func:`..spack.extract.extract_tree`), EasyBuild
(:func:`..easybuild.extract.extract_tree`), the OS package databases, and the ELF reader over
the binaries of each component found. Components are deduplicated by id; ``found_by`` lists
every finder that saw one. A finder that fails on bad input leaves an unknown in the record
instead of failing the image.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from ...elf import ElfFacts, MalformedElf, parse_elf
from ...elf.objects import ObjectCache
from ...elf.resolver import Resolver
from ...elf.rollup import elf_rollup
from ...errors import SourceError
from ...normalize import serial_for, upstream_version, version_key
from ...record import (
    Component,
    Dependency,
    Hpc,
    Libc,
    Mpi,
    Provenance,
    Record,
    Subject,
    Tool,
    Unknown,
)
from .._common import ExtractOptions, extracted_at, generator
from . import ospkgs as _ospkgs
from .layers import LayerTree

__all__ = ["build_image_record", "metadata_keep"]

_ELF_LIMIT = 128 * 1024 * 1024
_ELF_MAX_FILES = 20000
_GLIBC_RELEASE = re.compile(rb"GNU C Library [^\n]*?release version (\d+\.\d+(?:\.\d+)?)")
_RUNTIME_LIB = re.compile(r"^lib(mpi|mpich|mpi_abi|cudart)(_[a-z0-9]+)?\.so(\.\d+)*$")
_SPACK_SPEC = "/.spack/spec.json"
_EB_DIR = re.compile(r"^(?P<prefix>(?:.*/)?software/(?P<name>[^/]+)/(?P<version>[^/]+))/easybuild$")


def metadata_keep(path: str, size: int) -> bool:
    """Files a layer scan keeps in memory: the metadata the finders read (small, few)."""
    if _ospkgs.keep(path):
        return True
    slashed = "/" + path
    if "/.spack/" in slashed:
        return "/.spack/repos/" not in slashed
    if "/.spack-db/" in slashed or slashed.endswith(("/spack.lock", "/spack.yaml")):
        return True
    if "/easybuild/" in slashed or "/ebfiles_repo/" in slashed:
        return True
    return "/modules/" in slashed and path.endswith(".lua")


def _merge_components(groups: Iterable[tuple[str, Iterable[Component]]]) -> list[Component]:
    merged: dict[str, Component] = {}
    for finder, comps in groups:
        for c in comps:
            seen = tuple(dict.fromkeys((*c.found_by, finder)))
            old = merged.get(c.id)
            if old is None:
                merged[c.id] = dataclasses.replace(c, found_by=seen)
            else:
                both = tuple(dict.fromkeys((*old.found_by, *seen)))
                merged[c.id] = dataclasses.replace(old, found_by=both)
    return list(merged.values())


def _component_dirs(tree: LayerTree, components: list[Component]) -> dict[str, str]:
    """In-image prefix directory → component id, for Spack and EasyBuild installs."""
    by_hash = {h.value: c.id for c in components for h in c.hashes if h.algorithm == "spack-dag"}
    out: dict[str, str] = {}
    for path, entry in tree.entries.items():
        if path.endswith(_SPACK_SPEC):
            prefix = path[: -len(_SPACK_SPEC)]
            dag = prefix.rpartition("-")[2]
            cid = by_hash.get(dag) or next(
                (c.id for c in components if c.prefix and c.prefix.strip("/") == prefix), None
            )
            if cid:
                out[prefix] = cid
        elif entry.kind == "d":
            m = _EB_DIR.match(path)
            if m is None:
                continue
            for c in components:
                if c.ecosystem == "spack":
                    continue
                if (c.prefix and c.prefix.strip("/").endswith(m["prefix"])) or (
                    c.name == m["name"] and m["version"].startswith(c.version)
                ):
                    out[m["prefix"]] = c.id
                    break
    return out


def _env(config: Mapping[str, Any]) -> dict[str, str]:
    cfg = config.get("config") if isinstance(config.get("config"), dict) else {}
    out: dict[str, str] = {}
    for item in (cfg or {}).get("Env") or []:
        if isinstance(item, str) and "=" in item:
            key, _, value = item.partition("=")
            out[key] = value
    return out


def _command_entries(tree: LayerTree, config: Mapping[str, Any]) -> list[str]:
    """The programs the image runs: the first word of ``Entrypoint`` (else ``Cmd``), found on
    the image's ``PATH`` as the container's shell would."""
    cfg = config.get("config") if isinstance(config.get("config"), dict) else {}
    out = []
    for key in ("Entrypoint", "Cmd"):
        argv = (cfg or {}).get(key)
        if isinstance(argv, list) and argv and isinstance(argv[0], str):
            out.append(argv[0])
            if key == "Entrypoint":
                break
    path = _env(config).get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    found = []
    for prog in out:
        candidates = [prog] if "/" in prog else [f"{d}/{prog}" for d in path.split(":") if d]
        for c in candidates:
            rel = c.strip("/")
            if rel and tree.is_file(PurePosixPath(rel)):
                found.append(tree.realpath(rel))
                break
    return found


def _libc_release(data: bytes) -> str | None:
    m = _GLIBC_RELEASE.search(data)
    return m.group(1).decode() if m else None


@dataclasses.dataclass(slots=True)
class ElfIndex:
    """Every ELF file of an image read once (bounded), and a resolver over the merged layers."""

    resolver: Resolver
    unknowns: list[Unknown]
    libc_release: str | None = None


def index_elf(tree: LayerTree, config: Mapping[str, Any]) -> ElfIndex:
    """Read the ELF facts of every ELF file of ``tree`` once (one stream per layer) and set up a
    loader-faithful resolver over the image (its ``ld.so.cache``, default directories and
    ``LD_LIBRARY_PATH``)."""
    unknowns: list[Unknown] = []
    # every ELF file: a closure may reach any of them (a SIF reads each head in place, once)
    wanted = sorted(p for p in tree.file_paths() if "/.spack/" not in "/" + p and tree.is_elf(p))
    if len(wanted) > _ELF_MAX_FILES:
        unknowns.append(
            Unknown(
                path=tree.name,
                field="elf",
                reason=f"{len(wanted)} ELF files; only the first {_ELF_MAX_FILES} were read",
            )
        )
        wanted = wanted[:_ELF_MAX_FILES]
    for path in wanted:
        if tree.entries[path].size > _ELF_LIMIT:
            unknowns.append(
                Unknown(path=f"/{path}", field="elf", reason=f"over {_ELF_LIMIT} bytes: not read")
            )
    cache = ObjectCache(tree, known_only=True)
    release = None
    for path, data in tree.read_many(wanted, limit=_ELF_LIMIT):
        try:
            facts = parse_elf(data, where=f"{tree.name}:/{path}")
        except MalformedElf as exc:
            unknowns.append(Unknown(path=f"/{path}", field="elf", reason=str(exc)))
            continue
        cache.put(path, facts, _sha256(data))
        if release is None and facts.soname == "libc.so.6":
            release = _libc_release(data)
    library_path = [p for p in _env(config).get("LD_LIBRARY_PATH", "").split(":") if p]
    resolver = Resolver(tree, rooted=True, cache=cache, library_path=library_path)
    unknowns += [Unknown(path=p, field="elf", reason=r) for p, r in resolver.unknowns]
    return ElfIndex(resolver=resolver, unknowns=unknowns, libc_release=release)


def _elf_scan(
    tree: LayerTree, components: list[Component], index: ElfIndex, config: Mapping[str, Any]
) -> tuple[
    list[tuple[str, ElfFacts, str | None, str | None]], list[tuple[str, str]], list[Unknown]
]:
    """The objects the image's programs load: the entry points of its Spack and EasyBuild
    installs, its ``Entrypoint``/``Cmd`` program, the MPI and CUDA runtimes it holds, and the
    runtime closure of each, resolved as ``ld.so`` would inside the image."""
    dirs = _component_dirs(tree, components)
    res = index.resolver
    cache = res.cache
    entries: list[str] = []
    for path in sorted(p for p, f in cache.facts.items() if f is not None):
        parts = path.split("/")
        owned = any("/".join(parts[:i]) in dirs for i in range(len(parts) - 1, 0, -1))
        if (owned and _is_entry(path, dirs)) or _RUNTIME_LIB.match(parts[-1]):
            entries.append(path)
    entries += _command_entries(tree, config)

    def owner(path: str) -> str | None:
        parts = path.split("/")
        for i in range(len(parts) - 1, 0, -1):
            cid = dirs.get("/".join(parts[:i]))
            if cid:
                return cid
        return None

    loaded: dict[str, None] = {}
    outside: dict[tuple[str, str], None] = {}
    for entry in dict.fromkeys(entries):
        closure = res.closure(entry)
        if closure is None:
            continue
        loaded[closure.entry_tree_path] = None
        for link in closure.links:
            if link.tree_path is not None:
                loaded[res.canon(link.tree_path)] = None
            else:
                outside[(link.name, link.needed_by)] = None
    unknowns = [
        Unknown(
            path=needed_by,
            field="elf.closure",
            reason=f"needs {name}: not in the image (searched as ld.so does)",
        )
        for name, needed_by in outside
        if not _injected(name)
    ]
    items: list[tuple[str, ElfFacts, str | None, str | None]] = []
    for tp in loaded:
        facts = cache.facts.get(tp)
        if facts is not None:
            items.append((f"/{tp}", facts, cache.digests.get(tp), owner(tp)))
    items.sort(key=lambda item: item[0])
    return items, list(outside), unknowns


def _is_entry(path: str, dirs: Mapping[str, str]) -> bool:
    """A file in a component's ``bin/``... or a shared library in its ``lib/``..."""
    parts = path.split("/")
    for i in range(len(parts) - 1, 0, -1):
        if "/".join(parts[:i]) in dirs:
            rest = parts[i:]
            return len(rest) >= 2 and (
                rest[0] in ("bin", "sbin", "libexec")
                or (rest[0] in ("lib", "lib64") and ".so" in rest[-1])
            )
    return False


def _injected(soname: str) -> bool:
    """Libraries a container runtime injects from the host (the NVIDIA driver's)."""
    return soname.startswith(("libcuda.so", "libnvidia-", "libnvcuvid", "libnvoptix"))


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _run_finder(
    name: str, tree: LayerTree, options: ExtractOptions, index: ElfIndex | None = None
) -> tuple[Record | None, Unknown | None]:
    try:
        if name == "spack":
            from ..spack.closure import ClosureScanner
            from ..spack.extract import extract_tree as spack_tree

            scanner = None
            if index is not None:
                scanner = ClosureScanner(tree, rooted=True, cache=index.resolver.cache)
            return spack_tree(tree, options, scanner=scanner), None
        from ..easybuild.extract import extract_tree as easybuild_tree

        return easybuild_tree(tree, options), None
    except SourceError as exc:
        return None, Unknown(path=tree.name, field=name, reason=str(exc))


def _libc_version(components: list[Component]) -> str | None:
    for c in components:
        if c.kind == "os-package" and c.name in ("libc6", "glibc", "musl"):
            m = re.match(r"^(?:\d+:)?(\d+\.\d+(?:\.\d+)?)", c.version)
            if m:
                return m.group(1)
    return None


def _merge_hpc(
    records: list[Record],
    roll: Any,
    os_found: Any,
    comps: list[Component],
    libc_release: str | None = None,
) -> Hpc:
    metas = [r.hpc for r in records]
    target = next((h.target for h in metas if h.target), None) or roll.target
    compilers = tuple({(c.name, c.version): c for h in metas for c in h.compilers}.values())
    mpi: Mpi | None = next((h.mpi for h in metas if h.mpi), None)
    if mpi is None:
        mpi = roll.mpi
    elif roll.mpi is not None:
        mpi = dataclasses.replace(
            mpi,
            soname=mpi.soname or roll.mpi.soname,
            abi_version=mpi.abi_version or roll.mpi.abi_version,
            abi=mpi.abi if mpi.abi != "unknown" else roll.mpi.abi,
            shipped=roll.mpi.shipped,
        )
    gpu = next((h.gpu for h in metas if h.gpu), ()) or roll.gpu
    meta_libc = next((h.libc for h in metas if h.libc), None)
    family = (meta_libc.family if meta_libc else None) or (roll.libc.family if roll.libc else None)
    libc: Libc | None = None
    os_libc = _libc_version(comps) or libc_release  # the package DB, else libc.so.6 itself
    if family or os_libc:
        floors = [x for x in (meta_libc, roll.libc) if x and x.min_version]
        top = max(floors, key=lambda x: version_key(x.min_version or ""), default=None)
        libc = Libc(
            family=family or "glibc",
            version=os_libc or (meta_libc.version if meta_libc else None),
            min_version=top.min_version if top else None,
            required_by=top.required_by if top else None,
        )
    cxxs = [c for c in [*(h.cxx for h in metas), roll.cxx] if c is not None and c.glibcxx_min]
    cxx = max(cxxs, key=lambda c: version_key(c.glibcxx_min or ""), default=None)
    cxx = cxx or next((h.cxx for h in metas if h.cxx), None) or roll.cxx
    math = tuple({(m.role, m.name): m for h in metas for m in h.math_libraries}.values())
    os_info = os_found.os or next((h.os for h in metas if h.os), None)
    return Hpc(
        target=target,
        compilers=compilers,
        mpi=mpi,
        gpu=gpu,
        libc=libc,
        cxx=cxx,
        os=os_info,
        math_libraries=math,
        openmp=roll.openmp or next((h.openmp for h in metas if h.openmp), None),
        fortran=roll.fortran or next((h.fortran for h in metas if h.fortran), None),
    )


def _built_at(config: dict[str, Any]) -> str | None:
    created = config.get("created")
    if not isinstance(created, str):
        return None
    from ...normalize import iso_time

    try:
        return iso_time(_dt.datetime.fromisoformat(created.replace("Z", "+00:00")[:32]))
    except ValueError:  # not a time, or outside years 1 to 9999 in UTC
        return None


_HPC3_MODE = "org.supercontainers.mpi.portability.mode"
_MODES = ("contained", "mpi_replace", "mpi_system", "libfabric_inject")


def _with_portability(hpc: Hpc, annotations: Mapping[str, str]) -> Hpc:
    """The HPC3 MPI portability mode label, when the image declares a known one."""
    mode = annotations.get(_HPC3_MODE)
    if hpc.mpi is None or mode not in _MODES:
        return hpc
    mpi = dataclasses.replace(hpc.mpi, portability_mode=mode)  # type: ignore[arg-type]
    return dataclasses.replace(hpc, mpi=mpi)


def _mpi_package(hpc: Hpc, os_found: _ospkgs.OsFindings) -> Hpc:
    """The MPI version from the OS package that installs its library (``libmpi.so.40`` is in
    ``libopenmpi3 4.1.4-3+b1``: ``openmpi@4.1.4``), when the binaries alone do not say it."""
    mpi = hpc.mpi
    if mpi is None or mpi.version or not mpi.soname:
        return hpc
    pkg = os_found.owner_of(mpi.soname)
    if pkg is None:
        return hpc
    found = dataclasses.replace(
        mpi, version=upstream_version(pkg.version), component=mpi.component or pkg.id
    )
    return dataclasses.replace(hpc, mpi=found)


def _annotations(image: Any) -> dict[str, str]:
    cfg = image.config.get("config") if isinstance(image.config.get("config"), dict) else {}
    labels = cfg.get("Labels") if isinstance(cfg, dict) else None
    out = {str(k): str(v) for k, v in (labels or {}).items() if isinstance(v, str)}
    out.update(image.annotations)
    if image.config_digest:  # a SIF has no config blob
        out["nameplate.image.config"] = image.config_digest
    out["nameplate.image.layers"] = str(len(image.layers))
    return out


def build_image_record(
    image: Any,
    tree: LayerTree | None,
    options: ExtractOptions,
    *,
    layers: tuple[LayerTree | None, list[str]] | None = None,
) -> Record:
    """The record of ``image`` (an :class:`~.stores.ImageManifest`) from its merged ``tree``;
    with no tree, a Spack OCI build-cache image: its config's spec, and the ELF facts of the
    install tarballs its ``layers`` hold (the same facts as the store the root came from)."""
    opts = dataclasses.replace(options, combined=True)
    records: list[Record] = []
    unknowns: list[Unknown] = []
    groups: list[tuple[str, Iterable[Component]]] = []
    os_found = _ospkgs.OsFindings()
    items: list[tuple[str, ElfFacts, str | None, str | None]] = []
    if tree is None:
        from ..spack.closure import ClosureScanner
        from ..spack.extract import record_from_specfile_data

        installed = None
        spack_tree, missing = layers if layers is not None else (None, [])
        unknowns.extend(
            Unknown(path=f"{image.ref}: layer {d}", field="elf", reason="blob missing: not read")
            for d in missing
        )
        if spack_tree is not None:
            index = index_elf(spack_tree, image.config)
            unknowns.extend(index.unknowns)
            scanner = ClosureScanner(spack_tree, rooted=True, cache=index.resolver.cache)
            installed = (spack_tree, scanner)
        rec = record_from_specfile_data(
            image.config,
            where=f"{image.ref}: config {image.config_digest}",
            options=opts,
            layers=[(layer.digest, layer.size, layer.open) for layer in image.layers],
            installed=installed,
        )
        records.append(rec)
        groups.append(("spack", rec.components))
    else:
        index = index_elf(tree, image.config)
        unknowns.extend(index.unknowns)
        for finder in ("spack", "easybuild"):
            rec_or_none, unknown = _run_finder(finder, tree, opts, index)
            if unknown is not None:
                unknowns.append(unknown)
            if rec_or_none is not None:
                records.append(rec_or_none)
                groups.append((finder, rec_or_none.components))
        os_found = _ospkgs.find_os_packages(tree)
        for c in os_found.components:
            groups.append((c.found_by[0] if c.found_by else "os", [c]))
        unknowns.extend(os_found.unknowns)
        unknowns.extend(Unknown(path=f"/{p}", field="layers", reason=r) for p, r in tree.unknowns)
    unknowns.extend(Unknown(path=image.ref, field="platform", reason=c) for c in image.conflicts)
    components = _merge_components(groups)
    outside: list[tuple[str, str]] = []
    libc_release = None
    if tree is not None:
        libc_release = index.libc_release
        items, outside, elf_unknowns = _elf_scan(tree, components, index, image.config)
        unknowns.extend(elf_unknowns)
        seen_by_elf = {cid for _, _, _, cid in items if cid}
        components = [
            dataclasses.replace(c, found_by=(*c.found_by, "elf"))
            if c.id in seen_by_elf and "elf" not in c.found_by
            else c
            for c in components
        ]
    roll = elf_rollup(items, outside)
    spack_cache_image = tree is None
    deps = {(d.dependent, d.dependency): d for r in records for d in r.dependencies}
    roots = tuple(dict.fromkeys(root for r in records for root in r.roots))
    builder: Tool | None = next(
        (r.provenance.builder for r in records if r.provenance.builder), None
    )
    read_from = (
        image.ref,
        *os_found.read_from,
        *(x for r in records for x in r.provenance.read_from),
    )
    labels = _annotations(image)
    return Record(
        serial=serial_for("image", image.digest),
        subject=Subject(
            kind="image",
            name=image.ref,
            version=image.tag,
            digest=image.digest,
            platform=image.platform or None,
        ),
        roots=roots,
        components=tuple(components),
        dependencies=tuple(_ordered(deps.values())),
        hpc=records[0].hpc
        if spack_cache_image
        else _mpi_package(
            _with_portability(
                _merge_hpc(records, roll, os_found, components, libc_release), labels
            ),
            os_found,
        ),
        provenance=Provenance(
            generator=generator(),
            extracted_at=extracted_at(options),
            builder=builder,
            built_at=_built_at(image.config),
            read_from=tuple(dict.fromkeys(read_from)),
        ),
        annotations=labels,
        evidence=(*(e for r in records for e in r.evidence), *roll.evidence),
        unknowns=(*(u for r in records for u in r.unknowns), *unknowns),
    )


def _ordered(deps: Iterable[Dependency]) -> list[Dependency]:
    return sorted(deps, key=lambda d: (d.dependent, d.dependency))
