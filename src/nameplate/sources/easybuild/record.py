"""EasyBuild facts → a nameplate record (shared by the tree reader and the EasyBuild hook).

:class:`InstallFacts` is what one EasyBuild install (or one easyconfig on its own) tells us.
The tree reader (:mod:`nameplate.sources.easybuild`) fills it from files; the hook
(:mod:`nameplate.easybuild_hooks`) fills it from EasyBuild's live objects. :func:`build_record`
turns a list of them into one record, so both paths give the same record for the same install.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ... import _resources
from ...normalize import cpu_target, generic_purl, iso_time, mpi_abi_family, serial_for
from ...record import (
    Compiler,
    Component,
    ComponentKind,
    CpuTarget,
    Dependency,
    DepType,
    Evidence,
    Hash,
    Hpc,
    Libc,
    MathLibrary,
    Mpi,
    OperatingSystem,
    OptionValue,
    Patch,
    Provenance,
    Record,
    Source,
    Status,
    Subject,
    SubjectKind,
    Tool,
    Toolchain,
    Unknown,
)
from .._common import ExtractOptions, extracted_at, generator

__all__ = ["DepFacts", "InstallFacts", "build_record", "component_id", "toolchain_parts"]

#: buildstats keys copied into provenance.build_host (documented; hostname is not among them)
BUILD_HOST_KEYS = (
    "cpu_arch", "cpu_arch_name", "cpu_model", "cpu_vendor", "os_name", "os_version",
    "os_type", "glibc_version",
)  # fmt: skip

_OS_IDS = {
    "debian": "debian", "ubuntu": "ubuntu", "rocky": "rocky", "almalinux": "almalinux",
    "centos": "centos", "fedora": "fedora", "red hat": "rhel", "rhel": "rhel", "sles": "sles",
    "suse": "sles", "opensuse": "opensuse", "amazon": "amzn", "alpine": "alpine",
}  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class DepFacts:
    """A declared dependency; ``module`` is the resolved module name where it is known."""

    name: str
    version: str
    versionsuffix: str = ""
    toolchain: tuple[str, str] | None = None
    build_only: bool = False
    module: str | None = None
    resolved_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallFacts:
    """Everything one install (or one easyconfig) tells us, from files or from EasyBuild."""

    name: str
    version: str
    versionsuffix: str = ""
    versionprefix: str = ""
    toolchain: tuple[str, str] = ("system", "system")
    status: Status = "installed"
    easyblock: str | None = None
    homepage: str | None = None
    description: str | None = None
    moduleclass: str | None = None
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    installdir: str | None = None
    module_name: str | None = None
    module_syntax: str | None = None
    sources: tuple[Source, ...] = ()
    patches: tuple[Patch, ...] = ()
    deps: tuple[DepFacts, ...] = ()
    filtered_deps: tuple[str, ...] = ()
    easybuild_version: str | None = None
    optarch: str | None = None
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    build_host: Mapping[str, str] = field(default_factory=dict)
    built_at: float | None = None
    explicit: bool | None = None
    read_from: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    unknowns: tuple[Unknown, ...] = ()
    #: The install's folder in the tree it was read from.
    tree_dir: str | None = None
    #: The ELF objects its programs and libraries load (path, facts, digest, component id).
    elf: tuple[tuple[str, Any, str | None, str | None], ...] = ()

    @property
    def id(self) -> str:
        return component_id(
            self.name, self.versionprefix + self.version, self.versionsuffix, self.toolchain
        )


def component_id(name: str, version: str, suffix: str, toolchain: tuple[str, str] | None) -> str:
    """``easybuild:<name>/<version>[-<tc>-<tcver>]<suffix>``: the EasyBuildMNS module name,
    whatever naming scheme the install used (so ids do not collide under HierarchicalMNS)."""
    tc = ""
    if toolchain is not None and toolchain[0] != "system":
        tc = f"-{toolchain[0]}-{toolchain[1]}"
    return f"easybuild:{name}/{version}{tc}{suffix}"


@functools.cache
def _vocab() -> Mapping[str, Any]:
    table: Mapping[str, Any] = _resources.load_json("vocab", "easybuild-toolchains.json")
    return table


def _role(name: str) -> Mapping[str, Any]:
    roles: Mapping[str, Mapping[str, Any]] = _vocab()["roles"]
    return roles.get(name, {})


def toolchain_parts(
    name: str, version: str, installed: Mapping[tuple[str, str], InstallFacts]
) -> list[DepFacts]:
    """The parts of toolchain ``name/version``, flattened: installed toolchain easyconfigs
    first, then the table generated from the 5.4.1 collection. ``GCC`` includes ``GCCcore``."""
    out: list[DepFacts] = []
    seen: set[tuple[str, str]] = set()

    def visit(tc_name: str, tc_version: str, depth: int) -> None:
        if depth > 8 or (tc_name, tc_version) in seen or tc_name == "system":
            return
        seen.add((tc_name, tc_version))
        inst = installed.get((tc_name, tc_version))
        parts: list[DepFacts] = []
        if inst is not None and inst.easyblock in ("Toolchain", None) and inst.deps:
            parts = [d for d in inst.deps if not d.build_only]
        elif f"{tc_name}/{tc_version}" in _vocab()["toolchains"]:
            for p in _vocab()["toolchains"][f"{tc_name}/{tc_version}"]:
                tc = tuple(p["toolchain"].split("/", 1)) if "toolchain" in p else None
                parts.append(
                    DepFacts(
                        name=p["name"],
                        version=p["version"],
                        versionsuffix=p.get("versionsuffix", ""),
                        toolchain=(tc[0], tc[1]) if tc else None,
                    )
                )
        elif tc_name == "GCC":
            parts = [DepFacts(name="GCCcore", version=tc_version)]
        for part in parts:
            out.append(part)
            if part.name in ("GCC", "iccifort", "intel-compilers", "NVHPC"):
                visit(part.name, part.version, depth + 1)

    if _role(name).get("role") == "compiler":
        out.append(DepFacts(name=name, version=version))
        if name == "GCC":
            out.append(DepFacts(name="GCCcore", version=version))
        return out
    visit(name, version, 0)
    return out


# ---------------------------------------------------------------- record assembly


def _dep_id(dep: DepFacts, parent_tc: tuple[str, str]) -> str:
    if dep.resolved_id:
        return dep.resolved_id
    return component_id(dep.name, dep.version, dep.versionsuffix, dep.toolchain or parent_tc)


def _target(facts: InstallFacts) -> tuple[CpuTarget | None, Unknown | None]:
    optarch = facts.optarch
    if not optarch:
        return None, None
    where = facts.installdir or facts.name
    host = facts.build_host.get("cpu_arch_name")
    if "-march=native" in optarch or "-xHost" in optarch:
        if host and host != "UNKNOWN":
            return cpu_target(host, flags=optarch), None
        return None, Unknown(
            path=where,
            field="hpc.target",
            reason=f"built with {optarch} but the build host's CPU is not recorded",
        )
    if optarch.upper() == "GENERIC" or "-mtune=generic" in optarch:
        arch = facts.build_host.get("cpu_arch", "x86_64")
        return cpu_target(arch, flags=optarch), None
    name = _gcc_march(optarch)
    if name:
        return cpu_target(name, flags=optarch), None
    return None, Unknown(
        path=where, field="hpc.target", reason=f"optarch {optarch!r} not mapped to a CPU target"
    )


@functools.cache
def _march_table() -> Mapping[str, str]:
    import archspec.cpu

    out: dict[str, str] = {}
    for name, target in archspec.cpu.TARGETS.items():
        for entry in target.compilers.get("gcc", []):
            flags = str(entry.get("flags", ""))
            for word in flags.split():
                if word.startswith("-march="):
                    out.setdefault(word[len("-march=") :].replace("{name}", name), name)
    return out


def _gcc_march(optarch: str) -> str | None:
    for word in optarch.replace(";", " ").split():
        if word.startswith("-march="):
            return _march_table().get(word[len("-march=") :])
    return None


def _os(host: Mapping[str, str]) -> OperatingSystem | None:
    name = host.get("os_name")
    if not name:
        return None
    lowered = name.lower()
    os_id = next((v for k, v in _OS_IDS.items() if lowered.startswith(k)), lowered.split()[0])
    raw_version = host.get("os_version", "")
    version = raw_version.split()[0] if raw_version else None
    return OperatingSystem(
        name=os_id,
        version=version,
        platform=host.get("os_type", "Linux").lower(),
        pretty_name=f"{name} {raw_version}".strip(),
    )


def _component(facts: InstallFacts, target: CpuTarget | None) -> Component:
    url = None
    checksum = None
    if facts.sources:
        url = facts.sources[0].url
        sha = [h for h in facts.sources[0].checksums if h.algorithm == "sha256"]
        checksum = f"sha256:{sha[0].value}" if sha else None
    tc = facts.toolchain
    props: dict[str, str] = {}
    if facts.versionprefix:
        props["versionprefix"] = facts.versionprefix
    if facts.filtered_deps:
        props["filtered_dependencies"] = ",".join(facts.filtered_deps)
    role = _role(facts.name).get("role")
    kind: ComponentKind = "compiler" if role == "compiler" else "package"
    if facts.easyblock == "Toolchain":
        kind = "toolchain"
    return Component(
        id=facts.id,
        name=facts.name,
        version=facts.versionprefix + facts.version,
        kind=kind,
        ecosystem="easybuild",
        status=facts.status,
        purl=generic_purl(
            facts.name,
            facts.versionprefix + facts.version,
            download_url=url,
            checksum=checksum,
            toolchain=None if tc[0] == "system" else f"{tc[0]}-{tc[1]}",
            versionsuffix=facts.versionsuffix or None,
        ),
        description=facts.description,
        homepage=facts.homepage,
        options=facts.options,
        flags=facts.flags,
        sources=facts.sources,
        patches=facts.patches,
        explicit=facts.explicit,
        prefix=facts.installdir,
        target=target,
        toolchain=Toolchain(name=tc[0], version=tc[1]),
        versionsuffix=facts.versionsuffix or None,
        module_name=facts.module_name,
        moduleclass=facts.moduleclass,
        installed_at=iso_time(facts.built_at) if facts.built_at else None,
        found_by=("easybuild",),
        properties=props,
    )


def _declared_component(dep: DepFacts, dep_id: str, parent_tc: tuple[str, str]) -> Component:
    tc = dep.toolchain or parent_tc
    role = _role(dep.name).get("role")
    props = {"versionsuffix": dep.versionsuffix} if dep.versionsuffix else {}
    return Component(
        id=dep_id,
        name=dep.name,
        version=dep.version,
        kind="compiler" if role == "compiler" else "package",
        ecosystem="easybuild",
        status="declared",
        purl=generic_purl(
            dep.name,
            dep.version,
            toolchain=None if tc[0] == "system" else f"{tc[0]}-{tc[1]}",
            versionsuffix=dep.versionsuffix or None,
        ),
        toolchain=Toolchain(name=tc[0], version=tc[1]),
        found_by=("easybuild",),
        properties=props,
    )


def build_record(
    installs: Sequence[InstallFacts],
    *,
    subject_kind: SubjectKind,
    subject_name: str,
    identity: str,
    options: ExtractOptions,
    roots: Sequence[str] | None = None,
    extra_unknowns: Sequence[Unknown] = (),
) -> Record:
    """One record over ``installs`` (their components, typed edges and HPC fields)."""
    by_id: dict[str, InstallFacts] = {f.id: f for f in installs}
    by_name_version = {(f.name, f.version): f for f in installs}
    components: dict[str, Component] = {}
    edges: dict[tuple[str, str], set[DepType]] = {}
    unknowns: list[Unknown] = list(extra_unknowns)
    targets: dict[str, CpuTarget] = {}
    declared = all(f.status == "declared" for f in installs) and bool(installs)

    def edge(src: str, dst: str, types: Sequence[DepType]) -> None:
        edges.setdefault((src, dst), set()).update(types)

    def ensure(dep: DepFacts, dep_id: str, parent_tc: tuple[str, str]) -> None:
        if dep_id not in components and dep_id not in by_id:
            components[dep_id] = _declared_component(dep, dep_id, parent_tc)

    for facts in installs:
        target, unknown = _target(facts)
        if unknown:
            unknowns.append(unknown)
        if target:
            targets[facts.id] = target
        components[facts.id] = _component(facts, target)
        unknowns.extend(facts.unknowns)
        tc = facts.toolchain
        if tc[0] != "system":
            tc_version_key = (tc[0], tc[1])
            tc_inst = by_name_version.get(tc_version_key)
            tc_id = tc_inst.id if tc_inst else component_id(tc[0], tc[1], "", ("system", "system"))
            if tc_inst is None and tc_id not in components:
                components[tc_id] = _declared_component(
                    DepFacts(name=tc[0], version=tc[1]), tc_id, ("system", "system")
                )
            edge(facts.id, tc_id, ("build", "link", "run"))
        for dep in facts.deps:
            if dep.name in facts.filtered_deps:
                continue
            dep_id = _dep_id(dep, tc)
            ensure(dep, dep_id, tc)
            edge(facts.id, dep_id, ("build",) if dep.build_only else ("link", "run"))

    # toolchains that are not installed here: their parts from the table, as declared components
    for comp in list(components.values()):
        if comp.status != "declared":
            continue
        parts = toolchain_parts(comp.name, comp.version, {})
        if comp.kind == "compiler" or not parts:
            continue
        for part in parts:
            if part.name == comp.name:
                continue
            part_id = _dep_id(part, ("system", "system"))
            ensure(part, part_id, ("system", "system"))
            edge(comp.id, part_id, ("build", "link", "run"))

    hpc = _hpc(installs, components, by_name_version, targets, roots)
    all_roots = list(roots) if roots is not None else _top(components, edges)
    host = next((f.build_host for f in installs if f.build_host), {})
    built = [f.built_at for f in installs if f.built_at]
    eb_versions = sorted({f.easybuild_version for f in installs if f.easybuild_version})
    read_from = sorted({p for f in installs for p in f.read_from})
    return Record(
        serial=serial_for("easybuild", identity),
        subject=Subject(
            kind=subject_kind,
            name=subject_name,
            version=_subject_version(installs, roots),
            status="declared" if declared else "installed",
        ),
        roots=tuple(all_roots),
        components=tuple(sorted(components.values(), key=lambda c: c.id)),
        dependencies=tuple(
            Dependency(dependent=s, dependency=d, types=tuple(sorted(t)))
            for (s, d), t in sorted(edges.items())
        ),
        hpc=hpc,
        provenance=Provenance(
            generator=generator(),
            extracted_at=extracted_at(options),
            builder=Tool(name="easybuild", version=eb_versions[-1]) if eb_versions else None,
            built_at=iso_time(max(built)) if built else None,
            build_host={k: v for k, v in host.items() if k in BUILD_HOST_KEYS},
            read_from=tuple(read_from),
        ),
        evidence=(
            *(e for f in installs for e in f.evidence),
            *_elf_evidence([f for f in installs if roots is None or f.id in roots]),
        ),
        unknowns=tuple(dict.fromkeys(unknowns)),
    )


def _subject_version(installs: Sequence[InstallFacts], roots: Sequence[str] | None) -> str | None:
    if roots is not None and len(roots) == 1:
        root = next((f for f in installs if f.id == roots[0]), None)
        return root.version if root else None
    return installs[0].version if len(installs) == 1 else None


def _top(
    components: Mapping[str, Component], edges: Mapping[tuple[str, str], set[DepType]]
) -> list[str]:
    depended = {d for (_s, d) in edges}
    top = [c for c in sorted(components) if c not in depended]
    installed = [c for c in top if components[c].status != "declared"]
    return installed or top


def _hpc(
    installs: Sequence[InstallFacts],
    components: Mapping[str, Component],
    installed: Mapping[tuple[str, str], InstallFacts],
    targets: Mapping[str, CpuTarget],
    roots: Sequence[str] | None,
) -> Hpc:
    compilers: dict[tuple[str, str], Compiler] = {}
    mpi: Mpi | None = None
    maths: dict[tuple[str, str], MathLibrary] = {}
    first = next((f for f in installs if roots is None or f.id in roots), None)
    for facts in installs:
        parts = (
            list(toolchain_parts(*facts.toolchain, installed))
            if facts.toolchain[0] != "system"
            else []
        )
        parts += [d for d in facts.deps if not d.build_only and d.name not in facts.filtered_deps]
        for part in parts:
            role = _role(part.name)
            pid = _dep_id(part, facts.toolchain)
            if pid not in components:
                pid = next(
                    (
                        c
                        for c in components
                        if c.startswith(f"easybuild:{part.name}/{part.version}")
                    ),
                    pid,
                )
            ref = pid if pid in components else None
            if role.get("role") == "compiler":
                key = (str(role["compiler"]), part.version)
                if key not in compilers or (facts is first and facts.flags):
                    compilers[key] = Compiler(
                        name=key[0],
                        version=part.version,
                        languages=tuple(role.get("languages", ())),
                        flags=facts.flags
                        if facts is first
                        else compilers.get(key, Compiler(name="", version="")).flags,
                        component=ref,
                    )
            elif role.get("role") == "mpi" and mpi is None:
                impl = str(role["mpi"])
                mpi = Mpi(
                    implementation=impl,
                    version=part.version,
                    abi=mpi_abi_family(impl),
                    component=ref,
                )
            elif role.get("role") in ("blas", "lapack", "fft", "scalapack"):
                for provided in role.get("provides", [role["role"]]):
                    maths.setdefault(
                        (provided, part.name),
                        MathLibrary(
                            role=provided, name=part.name, version=part.version, component=ref
                        ),
                    )
    host = next((f.build_host for f in installs if f.build_host), {})
    target = None
    if first is not None and first.id in targets:
        target = targets[first.id]
    elif targets:
        target = next(iter(targets.values()))
    glibc = host.get("glibc_version")
    hpc = Hpc(
        target=target,
        compilers=tuple(compilers[k] for k in sorted(compilers)),
        mpi=mpi,
        libc=Libc(family="glibc", version=glibc) if glibc else None,
        os=_os(host),
        math_libraries=tuple(maths[k] for k in sorted(maths)),
    )
    return _with_elf(hpc, [f for f in installs if roots is None or f.id in roots])


def _elf_evidence(rooted: Sequence[InstallFacts]) -> list[Evidence]:
    """One piece of evidence per ELF object the roots load: where it is, what it needs."""
    from ...elf.rollup import summary

    seen: dict[str, Evidence] = {}
    for f in rooted:
        for path, facts, digest, comp in f.elf:
            seen.setdefault(
                path,
                Evidence(
                    kind="elf", path=path, digest=digest, component=comp, detail=summary(facts)
                ),
            )
    return [seen[k] for k in sorted(seen)]


def _with_elf(hpc: Hpc, rooted: Sequence[InstallFacts]) -> Hpc:
    """The floors of what the roots load (:mod:`.closure`), over the declared facts."""
    seen: dict[str, tuple[str, Any, str | None, str | None]] = {}
    for f in rooted:
        for item in f.elf:
            seen.setdefault(item[0], item)
    if not seen:
        return hpc
    from ...elf.rollup import elf_rollup

    roll = elf_rollup(sorted(seen.values(), key=lambda i: i[0]))
    libc = hpc.libc
    if roll.libc is not None:
        libc = replace(roll.libc, version=libc.version if libc is not None else None)
    mpi = hpc.mpi
    if mpi is not None and roll.mpi is not None:
        mpi = replace(mpi, soname=roll.mpi.soname, shipped=roll.mpi.shipped)
    elif roll.mpi is not None:
        mpi = roll.mpi
    return replace(
        hpc,
        libc=libc,
        cxx=roll.cxx or hpc.cxx,
        mpi=mpi,
        gpu=hpc.gpu or roll.gpu,
        openmp=roll.openmp,
        fortran=roll.fortran,
    )


def source_hashes(value: str | None) -> tuple[Hash, ...]:
    """A declared checksum string as hashes (``md5`` for 32 hex digits, ``sha256`` for 64)."""
    if not value:
        return ()
    if len(value) == 64:
        return (Hash(algorithm="sha256", value=value.lower()),)
    if len(value) == 32:
        return (Hash(algorithm="md5", value=value.lower()),)
    return ()
