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
from typing import Any

from ...elf import ElfFacts, MalformedElf, parse_elf
from ...elf.rollup import elf_rollup
from ...errors import SourceError
from ...normalize import max_version, serial_for, upstream_version
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
_ELF_MAX_FILES = 4000
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


def _elf_scan(
    tree: LayerTree, components: list[Component]
) -> tuple[list[tuple[str, ElfFacts, str | None, str | None]], list[Unknown]]:
    dirs = _component_dirs(tree, components)
    owner: dict[str, str | None] = {}
    for path in tree.file_paths():  # ELF heads read only for candidates (a SIF reads in place)
        if "/.spack/" in "/" + path:
            continue
        parts = path.split("/")
        cid = None
        for i in range(len(parts) - 1, 0, -1):
            cid = dirs.get("/".join(parts[:i]))
            if cid:
                break
        if (cid is not None or _RUNTIME_LIB.match(parts[-1])) and tree.is_elf(path):
            owner[path] = cid
    unknowns: list[Unknown] = []
    wanted = sorted(owner)
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
    items: list[tuple[str, ElfFacts, str | None, str | None]] = []
    for path, data in tree.read_many(wanted, limit=_ELF_LIMIT):
        try:
            facts = parse_elf(data, where=f"{tree.name}:/{path}")
        except MalformedElf as exc:
            unknowns.append(Unknown(path=f"/{path}", field="elf", reason=str(exc)))
            continue
        items.append((f"/{path}", facts, _sha256(data), owner[path]))
    items.sort(key=lambda item: item[0])
    return items, unknowns


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _run_finder(
    name: str, tree: LayerTree, options: ExtractOptions
) -> tuple[Record | None, Unknown | None]:
    try:
        if name == "spack":
            from ..spack.extract import extract_tree as spack_tree

            return spack_tree(tree, options), None
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


def _merge_hpc(records: list[Record], roll: Any, os_found: Any, comps: list[Component]) -> Hpc:
    metas = [r.hpc for r in records]
    target = next((h.target for h in metas if h.target), None) or roll.target
    compilers = tuple({(c.name, c.version): c for h in metas for c in h.compilers}.values())
    mpi: Mpi | None = next((h.mpi for h in metas if h.mpi), None)
    if mpi is None:
        mpi = roll.mpi
    elif roll.mpi is not None and mpi.soname is None:
        mpi = dataclasses.replace(
            mpi,
            soname=roll.mpi.soname,
            abi_version=mpi.abi_version or roll.mpi.abi_version,
            abi=mpi.abi if mpi.abi != "unknown" else roll.mpi.abi,
        )
    gpu = next((h.gpu for h in metas if h.gpu), ()) or roll.gpu
    meta_libc = next((h.libc for h in metas if h.libc), None)
    family = (meta_libc.family if meta_libc else None) or (roll.libc.family if roll.libc else None)
    libc: Libc | None = None
    if family or _libc_version(comps):
        mins = [x.min_version for x in (meta_libc, roll.libc) if x and x.min_version]
        libc = Libc(
            family=family or "glibc",
            version=_libc_version(comps) or (meta_libc.version if meta_libc else None),
            min_version=max_version(mins),
        )
    cxx = next((h.cxx for h in metas if h.cxx), None) or roll.cxx
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
    )


def _built_at(config: dict[str, Any]) -> str | None:
    created = config.get("created")
    if not isinstance(created, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(created.replace("Z", "+00:00")[:32])
    except ValueError:
        return None
    from ...normalize import iso_time

    return iso_time(moment)


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


def build_image_record(image: Any, tree: LayerTree | None, options: ExtractOptions) -> Record:
    """The record of ``image`` (an :class:`~.stores.ImageManifest`) from its merged ``tree``;
    with no tree, from the config alone (a Spack OCI build-cache image)."""
    opts = dataclasses.replace(options, combined=True)
    records: list[Record] = []
    unknowns: list[Unknown] = []
    groups: list[tuple[str, Iterable[Component]]] = []
    os_found = _ospkgs.OsFindings()
    items: list[tuple[str, ElfFacts, str | None, str | None]] = []
    if tree is None:
        from ..spack.extract import record_from_specfile_data

        rec = record_from_specfile_data(
            image.config, where=f"{image.ref}: config {image.config_digest}", options=opts
        )
        records.append(rec)
        groups.append(("spack", rec.components))
    else:
        for finder in ("spack", "easybuild"):
            rec_or_none, unknown = _run_finder(finder, tree, opts)
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
    if tree is not None:
        items, elf_unknowns = _elf_scan(tree, components)
        unknowns.extend(elf_unknowns)
        seen_by_elf = {cid for _, _, _, cid in items if cid}
        components = [
            dataclasses.replace(c, found_by=(*c.found_by, "elf"))
            if c.id in seen_by_elf and "elf" not in c.found_by
            else c
            for c in components
        ]
    roll = elf_rollup(items)
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
        hpc=_mpi_package(
            _with_portability(_merge_hpc(records, roll, os_found, components), labels), os_found
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
