"""Spack nodes → record: components, typed edges, HPC fields. Pure; no file access.

The same builder serves every Spack input (prefix, store, environment, build cache, OCI
config, and Spack's own API), so every path gives the same record for the same DAG.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from ... import normalize
from ..._codec import empty_map, frozen_map
from ...record import (
    Compiler,
    Component,
    CpuTarget,
    Dependency,
    DepType,
    Evidence,
    Gpu,
    Hash,
    Hpc,
    Libc,
    MathLibrary,
    Mpi,
    OperatingSystem,
    Patch,
    Provenance,
    Record,
    Status,
    Subject,
    SubjectKind,
    Unknown,
)
from .._common import ExtractOptions, extracted_at, generator
from .graph import Extras, Graph, SourceFacts, component_id
from .metadata import builder_of, sbom_facts_of
from .roots import choose_roots, match_root
from .specfile import FLAG_KEYS, LANGUAGES, Node

__all__ = ["build_records", "choose_roots", "component_id", "match_root"]

_DEPTYPES: tuple[DepType, ...] = ("build", "link", "run", "test")
_EMPTY_MAP: Mapping[str, Any] = empty_map()
#: MPI providers by package name, for specfiles older than v4 (no virtuals on edges).
_MPI_NAMES = frozenset(
    {"openmpi", "mpich", "mvapich", "mvapich2", "intel-mpi", "intel-oneapi-mpi", "cray-mpich"}
    | {"spectrum-mpi", "hpcx-mpi", "fujitsu-mpi", "mpt", "mpich2", "mpilander", "msmpi"}
)
_MATH_ROLES = {"blas": "blas", "lapack": "lapack", "fftw-api": "fft", "scalapack": "scalapack"}
_VARIANT_SKIP = frozenset({*FLAG_KEYS, "patches", "dev_path"})
_CUDA_ARCH = re.compile(r"^[0-9]+[af]?$")
#: An AMD GPU target with its features (``gfx90a``, ``gfx90a:xnack+``, ``gfx942:sramecc+:xnack-``).
_AMD_TARGET = re.compile(r"^gfx[0-9a-f]+(:(xnack|sramecc)[+-])*$")


def _with_elf(graph: Graph, roots: Sequence[str], hpc: Hpc) -> tuple[Hpc, list[Evidence]]:
    """The HPC fields completed by the ELF objects the roots load (their entry points and the
    runtime closures of those, :mod:`.closure`): the libc and libstdc++ floors, the MPI soname
    and whether the subject ships it, OpenMP and Fortran runtimes, CUDA code and runtime."""
    seen: dict[str, tuple[str, Any, str | None, str | None]] = {}
    for h in roots:
        for item in graph.elf.get(h, ()):
            seen.setdefault(item[0], item)
    own = {component_id(h) for h in roots}  # a floor names the roots' own files first
    items = sorted(seen.values(), key=lambda i: (i[3] not in own, i[0]))
    if not items:
        return hpc, []
    from dataclasses import replace

    from ...elf.rollup import elf_rollup

    roll = elf_rollup(items)
    libc = hpc.libc
    if roll.libc is not None:
        libc = (
            replace(libc, min_version=roll.libc.min_version, required_by=roll.libc.required_by)
            if libc is not None and libc.family == roll.libc.family
            else roll.libc
            if libc is None
            else replace(roll.libc, version=libc.version)
        )
    mpi = hpc.mpi
    if mpi is not None and roll.mpi is not None:
        mpi = replace(
            mpi,
            soname=roll.mpi.soname,
            abi_version=roll.mpi.abi_version,
            shipped=roll.mpi.shipped,
        )
    elif roll.mpi is not None:
        mpi = roll.mpi
    gpu = list(hpc.gpu)
    for found in roll.gpu:
        same = next((i for i, g in enumerate(gpu) if g.runtime == found.runtime), None)
        if same is None:
            gpu.append(found)
            continue
        g = gpu[same]
        gpu[same] = replace(
            g,
            architectures=tuple(
                sorted(set(g.architectures) | set(found.architectures), key=normalize.version_key)
            ),
            ptx=tuple(sorted(set(g.ptx) | set(found.ptx), key=normalize.version_key)),
            ptx_isa=found.ptx_isa or g.ptx_isa,
            soname=found.soname or g.soname,
            min_driver=found.min_driver or g.min_driver,
        )
    out = replace(
        hpc,
        libc=libc,
        cxx=roll.cxx or hpc.cxx,
        mpi=mpi,
        gpu=tuple(gpu),
        openmp=roll.openmp,
        fortran=roll.fortran,
    )
    return out, list(roll.evidence)


def _compiler_id(name: str, version: str) -> str:
    return f"spack-compiler:{name}@{version}"


def _option_value(value: Any) -> bool | str | tuple[str, ...] | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None


def _options(node: Node) -> dict[str, bool | str | tuple[str, ...]]:
    out: dict[str, bool | str | tuple[str, ...]] = {}
    for key, value in node.parameters.items():
        if key in _VARIANT_SKIP:
            continue
        converted = _option_value(value)
        if converted is not None:
            out[str(key)] = converted
    return out


def _flags(node: Node) -> dict[str, tuple[str, ...]]:
    out = {}
    for key in FLAG_KEYS:
        value = node.parameters.get(key)
        if isinstance(value, list) and value:
            out[key] = tuple(str(v) for v in value)
    return out


def _compiler_hashes(graph: Graph, hashes: Sequence[str]) -> frozenset[str]:
    """Nodes that act as compilers: targets of c/cxx/fortran edges, or externals with compilers."""
    out = {h for h in hashes if graph.nodes[h].external_compilers}
    for h in hashes:
        for e in graph.nodes[h].edges:
            if set(e.virtuals) & set(LANGUAGES):
                target = graph.resolve(e.hash)
                if target is not None:
                    out.add(target)
    return frozenset(out)


def _component(
    graph: Graph, h: str, compilers: frozenset[str], status: Status, facts: SourceFacts
) -> Component:
    node = graph.nodes[h]
    extra = graph.extras.get(h, Extras())
    sources, licenses = facts.get(h, ((), ()))
    hashes = [Hash(algorithm="spack-dag", value=node.hash)]
    hashes += [
        Hash(algorithm=f"spack-{k.replace('_', '-')}", value=v)
        for k, v in sorted(node.other_hashes.items())
    ]
    target = normalize.cpu_target(node.target) if node.target is not None else None
    external = node.external
    props = {}
    if node.compiler is not None:
        props["spack.compiler"] = f"{node.compiler[0]}@{node.compiler[1]}"
    if node.build_spec:
        props["spack.build_spec"] = node.build_spec
    props.update(extra.properties)
    return Component(
        id=component_id(h),
        name=node.name,
        version=node.version,
        kind="compiler" if h in compilers else "package",
        ecosystem="spack",
        status="external" if external else (extra.status or status),
        purl=normalize.spack_purl(
            node.name, node.version, namespace=node.namespace, dag_hash=node.hash
        ),
        namespace=node.namespace,
        hashes=tuple(hashes),
        licenses=licenses,
        options=_codec_map(_options(node)),
        flags=_codec_map(_flags(node)),
        sources=() if external else sources,
        patches=tuple(Patch(checksums=(Hash(algorithm="sha256", value=p),)) for p in node.patches),
        external=external,
        explicit=extra.explicit,
        prefix=node.external_path if external else extra.prefix,
        modules=node.external_modules,
        platform=node.platform,
        os=node.os,
        target=target,
        installed_at=extra.installed_at,
        files=extra.files,
        found_by=("spack",),
        properties=_codec_map(props),
    )


def _codec_map(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return frozen_map(d) if d else _EMPTY_MAP


def _edges(graph: Graph, hashes: Sequence[str]) -> list[Dependency]:
    out = []
    canonical: dict[tuple[str, ...], tuple[DepType, ...]] = {}
    for h in hashes:
        dependent = component_id(h)
        for edge in graph.nodes[h].edges:
            target = graph.resolve(edge.hash)
            if target is None:
                continue
            types = canonical.get(edge.types)
            if types is None:  # Spack's order, and "build" for an edge with no types
                types = tuple(t for t in _DEPTYPES if t in edge.types) or ("build",)
                canonical[edge.types] = types
            virtuals = (
                edge.virtuals if len(edge.virtuals) < 2 else tuple(sorted(set(edge.virtuals)))
            )
            out.append(
                Dependency(
                    dependent=dependent,
                    dependency=component_id(target),
                    types=types,
                    virtuals=virtuals,
                    direct=edge.direct,
                )
            )
    return out


def _legacy_compilers(
    graph: Graph, hashes: Sequence[str]
) -> tuple[list[Component], list[Dependency]]:
    """Pre-1.0 ``compiler`` attributes as compiler components with build edges, like 1.x."""
    comps: dict[str, Component] = {}
    edges = []
    for h in hashes:
        node = graph.nodes[h]
        if node.compiler is None or (node.external and not node.edges):
            continue
        name, version = node.compiler
        cid = _compiler_id(name, version)
        comps.setdefault(
            cid,
            Component(
                id=cid,
                name=name,
                version=version,
                kind="compiler",
                ecosystem="spack",
                status="external",
                external=True,
                found_by=("spack",),
                properties=_codec_map({"spack.from": "compiler attribute (specfile < v5)"}),
            ),
        )
        edges.append(Dependency(dependent=component_id(h), dependency=cid, types=("build",)))
    return list(comps.values()), edges


def _gpu(graph: Graph, hashes: Sequence[str]) -> list[Gpu]:
    cuda_archs: set[str] = set()
    rocm_archs: set[str] = set()
    cuda_version = rocm_version = None
    cuda_component = rocm_component = None
    for h in hashes:
        node = graph.nodes[h]
        params = node.parameters
        if params.get("cuda") is True:
            raw = params.get("cuda_arch")
            for arch in [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []:
                if _CUDA_ARCH.match(str(arch)):  # 90, 90a (arch-specific), 100f (family)
                    cuda_archs.add(f"sm_{arch}")
        if params.get("rocm") is True:
            raw = params.get("amdgpu_target")
            for arch in [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []:
                if _AMD_TARGET.match(str(arch)):
                    rocm_archs.add(str(arch))
        if node.name == "cuda":
            cuda_version, cuda_component = node.version, component_id(h)
        if node.name in ("hip", "hipcc") and rocm_version is None:
            rocm_version, rocm_component = node.version, component_id(h)
    out = []
    if cuda_archs or cuda_version:
        out.append(
            Gpu(
                vendor="nvidia",
                runtime="cuda",
                version=cuda_version,
                architectures=tuple(sorted(cuda_archs, key=normalize.version_key)),
                component=cuda_component,
            )
        )
    if rocm_archs or rocm_version:
        out.append(
            Gpu(
                vendor="amd",
                runtime="rocm",
                version=rocm_version,
                architectures=tuple(sorted(rocm_archs)),
                component=rocm_component,
            )
        )
    return out


def _hpc(
    graph: Graph,
    roots: Sequence[str],
    hashes: Sequence[str],
    edges: Sequence[Dependency],
    components: Mapping[str, Component],
) -> Hpc:
    root_nodes = [graph.nodes[h] for h in roots]
    in_scope = {component_id(h) for h in hashes}
    root_ids = [component_id(h) for h in roots]
    # Compilers: what the roots were compiled with (fall back to any node in the closure), as
    # Spack's ``%`` says: edges that provide a language (1.x), or the compiler attribute (< 1.0).
    # A plain build edge to a compiler package (gcc-runtime's to gcc) compiles nothing.
    languages: dict[str, set[str]] = {}
    for wanted in (set(root_ids), in_scope):
        for e in edges:
            target = components.get(e.dependency)
            if e.dependent not in wanted or target is None or target.kind != "compiler":
                continue
            langs = set(e.virtuals) & set(LANGUAGES)
            if langs or e.dependency.startswith("spack-compiler:"):
                languages.setdefault(e.dependency, set()).update(langs)
        if languages:
            break
    root_flags = _flags(root_nodes[0]) if root_nodes else {}
    compilers = tuple(
        Compiler(
            name=components[cid].name,
            version=components[cid].version,
            languages=tuple(lang for lang in LANGUAGES if lang in langs),
            flags=_codec_map(root_flags),
            component=cid,
        )
        for cid, langs in sorted(languages.items())
    )
    # MPI: the provider of virtual ``mpi`` (by name for formats without virtuals).
    mpi = None
    for e in edges:
        target = components.get(e.dependency)
        if target is None or e.dependent not in in_scope:
            continue
        if "mpi" in e.virtuals or (not e.virtuals and target.name in _MPI_NAMES):
            abi = normalize.mpi_abi_family(target.name)
            cuda = target.options.get("cuda")
            mpi = Mpi(
                implementation=target.name,
                version=target.version,
                abi=abi,
                soname={"mpich": "libmpi.so.12", "openmpi": "libmpi.so.40"}.get(abi),
                component=target.id,
                cuda_aware=cuda if isinstance(cuda, bool) else None,
            )
            if e.dependent in root_ids:
                break
    math = {}
    for e in edges:
        target = components.get(e.dependency)
        if target is None or e.dependent not in in_scope:
            continue
        for virtual in e.virtuals:
            role = _MATH_ROLES.get(virtual)
            if role and role not in math:
                math[role] = MathLibrary(
                    role=role, name=target.name, version=target.version, component=target.id
                )
    libc = None
    for e in edges:  # the build libc: the provider of virtual libc (a glibc/musl external)
        target = components.get(e.dependency)
        if target is not None and "libc" in e.virtuals:
            libc = Libc(family=target.name, version=target.version)
            break
    if libc is None:  # specfiles without virtuals: a glibc or musl node
        for h in hashes:
            node = graph.nodes[h]
            if node.name in ("glibc", "musl") and node.version:
                libc = Libc(family=node.name, version=node.version)
                break
    root = root_nodes[0] if root_nodes else None
    target_value: CpuTarget | None = None
    if root is not None and root.target is not None:
        target_value = normalize.cpu_target(root.target)
    os_value = None
    if root is not None and root.os:
        os_value = OperatingSystem(name=root.os, platform=root.platform)
    return Hpc(
        target=target_value,
        compilers=compilers,
        mpi=mpi,
        gpu=tuple(_gpu(graph, hashes)),
        libc=libc,
        os=os_value,
        math_libraries=tuple(math[k] for k in sorted(math)),
    )


def unknown_owners(graph: Graph) -> dict[Unknown, str | None]:
    """For each of the graph's unknowns, the install whose prefix holds the file it is about
    (None: not about an install's file), so that a store read whole and described one root at
    a time gives each record only its own DAG's unknowns."""
    by_prefix = {e.prefix.rstrip("/"): h for h, e in graph.extras.items() if e.prefix}
    owners: dict[Unknown, str | None] = {}
    for u in graph.unknowns:
        path = PurePosixPath(u.path)
        owners[u] = next(
            (by_prefix[str(p)] for p in (path, *path.parents) if str(p) in by_prefix), None
        ) or _hashed_owner(graph, path)
    return owners


_HASHED = re.compile(r"^.+-([a-z2-7]{32})$")


def _hashed_owner(graph: Graph, path: PurePosixPath) -> str | None:
    """The install whose recorded prefix (``.../<name>-<version>-<hash>``, Spack's default
    projection) holds ``path``: a closure's unknowns name files by their recorded paths, not by
    where the store is read."""
    for part in reversed(path.parts[:-1]):
        m = _HASHED.match(part)
        if m and m.group(1) in graph.nodes:
            return m.group(1)
    return None


def build_record(
    graph: Graph,
    roots: Sequence[str],
    *,
    subject_kind: SubjectKind,
    subject_name: str | None,
    status: Status,
    options: ExtractOptions,
    identity: str,
    owners: Mapping[Unknown, str | None] | None = None,
) -> Record:
    """One record for the DAG under ``roots`` (hashes in ``graph``); ``owners`` is
    :func:`unknown_owners` of the graph, when several records are made from it."""
    hashes = graph.closure(roots)
    compilers = _compiler_hashes(graph, hashes)
    facts = sbom_facts_of(graph, roots, hashes)
    components = [_component(graph, h, compilers, status, facts) for h in hashes]
    edges = _edges(graph, hashes)
    legacy_comps, legacy_edges = _legacy_compilers(graph, hashes)
    components += legacy_comps
    edges += legacy_edges
    by_id = {c.id: c for c in components}
    hpc, elf_evidence = _with_elf(graph, roots, _hpc(graph, roots, hashes, edges, by_id))
    first = graph.nodes[roots[0]] if roots else None
    installed = [graph.extras[h].installed_at for h in roots if h in graph.extras]
    built_at = max((t for t in installed if t), default=None)
    subject = Subject(
        kind=subject_kind,
        name=subject_name or (first.name if first else "spack"),
        version=first.version if first and len(roots) == 1 else None,
        status=status,
    )
    ids = {c.id for c in components}
    evidence = [e for e in graph.evidence if e.component is None or e.component in ids]
    for h in hashes:
        evidence += graph.extras.get(h, Extras()).evidence
    installs = [graph.install(h) for h in roots]
    for facts_of in installs:
        evidence += facts_of.evidence
    evidence += elf_evidence
    builder, builder_unknowns = builder_of(graph, roots)
    build_host = next((dict(i.build_host) for i in installs if i.build_host), graph.build_host)
    owners = unknown_owners(graph) if owners is None else owners
    inside = set(hashes)
    unknowns = [
        *(u for u in graph.unknowns if owners.get(u) is None or owners[u] in inside),
        *(u for i in installs for u in i.unknowns),
        *builder_unknowns,
    ]
    return Record(
        serial=normalize.serial_for("spack", subject_kind, *roots),
        subject=subject,
        roots=tuple(component_id(h) for h in roots),
        components=tuple(sorted(components, key=lambda c: (c.name, c.version, c.id))),
        dependencies=tuple(
            sorted(edges, key=lambda d: (d.dependent, d.dependency, d.types, d.virtuals))
        ),
        hpc=hpc,
        provenance=Provenance(
            generator=generator(),
            extracted_at=extracted_at(options),
            builder=builder,
            built_at=built_at,
            build_host=_codec_map(build_host),
            read_from=tuple(dict.fromkeys(graph.read_from)),
        ),
        evidence=tuple(dict.fromkeys(evidence)),
        unknowns=tuple(sorted(set(unknowns), key=lambda u: (u.path, u.field, u.reason))),
    )


def build_records(
    graph: Graph,
    roots: Sequence[str],
    *,
    subject_kind: SubjectKind,
    combined_name: str,
    status: Status,
    options: ExtractOptions,
    identity: str,
    per_root_kind: SubjectKind | None = None,
) -> list[Record]:
    """One record per root, or one combined record when ``options.combined``."""
    roots = choose_roots(graph, roots, options, identity=identity)
    if options.combined or len(roots) == 1:
        name = combined_name if len(roots) > 1 else None
        return [
            build_record(
                graph,
                roots,
                subject_kind=subject_kind if len(roots) > 1 else (per_root_kind or subject_kind),
                subject_name=name,
                status=status,
                options=options,
                identity=identity,
            )
        ]
    owners = unknown_owners(graph)
    records = []
    for h in roots:
        records.append(
            build_record(
                graph,
                [h],
                subject_kind=per_root_kind or subject_kind,
                subject_name=None,
                status=status,
                options=options,
                identity=identity,
                owners=owners,
            )
        )
        if options.on_progress is not None:
            options.on_progress(len(records), len(roots))
    return records
