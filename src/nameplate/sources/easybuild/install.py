"""EasyBuild install reading: one install's files, module files, and dependency resolution.

:func:`read_install` reads ``<installdir>/easybuild/``: the easyconfig copy, the build log
(EasyBuild version, easyblock, sha256 of each source, optarch and compiler flags),
``reprod/*.env`` (the resolved modules loaded for the build), the test report's *configuration*
block (never its environment section), the install's module file and ``ebfiles_repo``
``buildstats``. :func:`_collect` finds every install under a folder of a :class:`FileTree` and
:func:`_resolve` points each dependency at the install it resolved to.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from ...errors import InputTooLarge, SourceError
from ...normalize import epoch_seconds
from ...record import Evidence, Hash, Source, Unknown
from ...tree import FileTree
from .declared import _text, facts_from_easyconfig
from .easyconfig import parse_easyconfig
from .modulefile import ModuleFile, parse_modulefile, skipped_unknowns, sniff_syntax
from .record import DepFacts, InstallFacts

__all__ = ["MAX_LOG", "MAX_MODULES", "read_install"]

#: Largest build log read in full (bigger logs: only the checksum/flag lines of the first part).
MAX_LOG = 64 * 1024 * 1024
#: Largest number of module files indexed under one installpath.
MAX_MODULES = 50_000


@dataclass(frozen=True, kw_only=True, slots=True)
class _Log:
    easybuild_version: str | None = None
    easyblock: str | None = None
    installdir: str | None = None
    sha256: Mapping[str, str] | None = None
    optarch: str | None = None
    flags: Mapping[str, tuple[str, ...]] | None = None


_LOG_PATTERNS = {
    "version": re.compile(r"This is EasyBuild (\S+) \(framework"),
    "easyblock": re.compile(r"This is easyblock (\S+) from module"),
    "installdir": re.compile(r"Software install dir set to (\S+)"),
    "sha256": re.compile(r"sha256 checksum for (\S+): ([0-9a-f]{64})\s*$"),
    "optarch": re.compile(r"using (.+?) as optarch for"),
    "flags": re.compile(
        r"Environment variable (CFLAGS|CXXFLAGS|FFLAGS|FCFLAGS) set to (.*?) \(previously"
    ),
}


def _read_log(data: bytes) -> _Log:
    text = data.decode("utf-8", errors="replace")
    found: dict[str, Any] = {"sha256": {}, "flags": {}}
    for line in text.splitlines():
        if "INFO" not in line:
            continue
        for key, pattern in _LOG_PATTERNS.items():
            m = pattern.search(line)
            if not m:
                continue
            if key == "sha256":
                found["sha256"].setdefault(PurePosixPath(m.group(1)).name, m.group(2))
            elif key == "flags":
                found["flags"].setdefault(m.group(1).lower(), tuple(m.group(2).split()))
            else:
                found.setdefault(key, m.group(1))
    return _Log(
        easybuild_version=found.get("version"),
        easyblock=found.get("easyblock"),
        installdir=found.get("installdir"),
        sha256=found["sha256"],
        optarch=found.get("optarch"),
        flags=found["flags"],
    )


def _read_config(data: bytes) -> dict[str, str]:
    """The documented options of a test report's configuration block (never the environment)."""
    text = data.decode("utf-8", errors="replace")
    out: dict[str, str] = {}
    block = text.split("full configuration", 1)[-1].split("#### ", 1)[0]
    for key in ("filter-deps", "optarch", "module-naming-scheme", "module-syntax"):
        m = re.search(rf"^--{key}='([^'\n]*)'", block, re.M)
        if m:
            out[key] = m.group(1)
    return out


def _read_buildstats(data: bytes, where: str) -> dict[str, Any]:
    text = data.decode("utf-8", errors="replace")
    idx = text.rfind("\nbuildstats = ")
    if idx < 0:
        return {}
    try:
        value = ast.literal_eval(text[idx + len("\nbuildstats = ") :].strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return {}
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        return dict(value[-1])
    return {}


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _read(tree: FileTree, path: PurePosixPath, limit: int = 8 * 1024 * 1024) -> bytes | None:
    try:
        if not tree.is_file(path):
            return None
        return tree.read_bytes(path, limit=limit)
    except InputTooLarge:
        return None


def _find_installdirs(tree: FileTree, top: PurePosixPath) -> Iterator[PurePosixPath]:
    for dirpath, dirs, _files in tree.walk(top):
        if "easybuild" in dirs and _ec_copy(tree, dirpath) is not None:
            yield dirpath
            dirs.clear()
            continue
        # never descend into places that cannot hold installs
        for skip in ("proc", "sys", "dev", ".git", "ebfiles_repo", "modules", "__pycache__"):
            if skip in dirs:
                dirs.remove(skip)


def _ec_copy(tree: FileTree, installdir: PurePosixPath) -> PurePosixPath | None:
    eb_dir = installdir / "easybuild"
    try:
        names = tree.listdir(eb_dir)
    except SourceError:
        return None
    ebs = [n for n in names if n.endswith(".eb")]
    if not ebs:
        return None
    stem = installdir.parent.name
    best = [n for n in ebs if n.startswith(stem + "-")]
    return eb_dir / (best or ebs)[0]


def _module_index(
    tree: FileTree, installpath: PurePosixPath | None
) -> dict[str, tuple[str, ModuleFile, PurePosixPath]]:
    """Original install dir → (module name, parsed module, path) for ``modules/all``."""
    out: dict[str, tuple[str, ModuleFile, PurePosixPath]] = {}
    if installpath is None:
        return out
    top = installpath / "modules" / "all"
    if not tree.is_dir(top):
        return out
    count = 0
    for dirpath, _dirs, files in tree.walk(top):
        for fname in files:
            count += 1
            if count > MAX_MODULES:
                return out
            path = dirpath / fname
            data = _read(tree, path, limit=1024 * 1024)
            if data is None:
                continue
            text = data.decode("utf-8", errors="replace")
            if sniff_syntax(text) is None:
                continue
            try:
                mod = parse_modulefile(text, where=tree.describe(path))
            except SourceError:
                continue
            rel = path.relative_to(top)
            name = str(rel)[: -len(".lua")] if fname.endswith(".lua") else str(rel)
            if mod.root:
                out.setdefault(mod.root, (name, mod, path))
    return out


def read_install(
    tree: FileTree,
    installdir: PurePosixPath,
    *,
    modules: Mapping[str, tuple[str, ModuleFile, PurePosixPath]] | None = None,
) -> InstallFacts:
    """The facts of the install at ``installdir`` (a folder with ``easybuild/*.eb``)."""
    ec_path = _ec_copy(tree, installdir)
    if ec_path is None:
        raise SourceError(f"{tree.describe(installdir)}: no easybuild/*.eb in this install")
    where = tree.describe(ec_path)
    data = _read(tree, ec_path)
    if data is None:
        raise SourceError(f"{where}: easyconfig copy is not readable")
    read_from = [str(ec_path)]
    evidence = [Evidence(kind="easyconfig", path=str(ec_path), digest=_sha256(data))]
    unknowns: list[Unknown] = []
    installpath = (
        installdir.parent.parent.parent if installdir.parent.parent.name == "software" else None
    )

    # the build host first: ARCH decides branches in easyconfigs
    buildstats: dict[str, Any] = {}
    if installpath is not None:
        repo = installpath / "ebfiles_repo" / installdir.parent.name / ec_path.name
        repo_data = _read(tree, repo)
        if repo_data is not None:
            buildstats = _read_buildstats(repo_data, tree.describe(repo))
            read_from.append(str(repo))
            evidence.append(
                Evidence(kind="easybuild-buildstats", path=str(repo), digest=_sha256(repo_data))
            )
    arch = str(buildstats.get("cpu_arch") or "x86_64")
    facts = facts_from_easyconfig(
        parse_easyconfig(data, where=where, arch=arch), where=where, status="installed", arch=arch
    )

    eb_dir = installdir / "easybuild"
    names = tree.listdir(eb_dir)
    log = _Log()
    logs = sorted(n for n in names if n.startswith("easybuild-") and n.endswith(".log"))
    if logs:
        log_path = eb_dir / logs[-1]
        try:
            log_bytes = tree.read_bytes(log_path, limit=MAX_LOG)
            log = _read_log(log_bytes)
            read_from.append(str(log_path))
            evidence.append(
                Evidence(kind="easybuild-log", path=str(log_path), digest=_sha256(log_bytes))
            )
        except SourceError as exc:  # over the size limit, or no regular file (a FIFO)
            too_large = isinstance(exc, InputTooLarge)
            reason = "build log over the size limit" if too_large else str(exc)
            unknowns.append(Unknown(path=str(log_path), field="log", reason=reason))
    else:
        unknowns.append(
            Unknown(path=str(eb_dir), field="log", reason="no build log in the install")
        )
    config: dict[str, str] = {}
    reports = sorted(n for n in names if n.endswith("_test_report.md"))
    if reports:
        report = eb_dir / reports[-1]
        report_data = _read(tree, report)
        if report_data is not None:
            config = _read_config(report_data)
            read_from.append(str(report))
    env_modules: list[str] = []
    env_path = eb_dir / "reprod" / (ec_path.name[: -len(".eb")] + ".env")
    env_data = _read(tree, env_path)
    if env_data is not None:
        read_from.append(str(env_path))
        env_modules = re.findall(
            r"^module load (\S+)\s*$", env_data.decode("utf-8", "replace"), re.M
        )

    # the module file of this install
    original = log.installdir
    mod: ModuleFile | None = None
    mod_name: str | None = None
    if modules:
        hit = modules.get(original or "") if original else None
        if hit is None:
            suffix = "/" + str(installdir.relative_to(installpath)) if installpath else None
            hit = next((v for k, v in modules.items() if suffix and k.endswith(suffix)), None)
        if hit is None:  # SystemCompiler modules have root /usr: try the EasyBuildMNS name
            mns = f"{facts.name}/{facts.id.split('/', 1)[1]}"
            hit = next(
                (v for v in modules.values() if v[0] == mns and _versioned(v[1], facts)), None
            )
        if hit is not None:
            mod_name, mod, mod_path = hit
            unknowns.extend(skipped_unknowns(mod, str(mod_path)))
            read_from.append(str(mod_path))
            evidence.append(Evidence(kind="module-file", path=str(mod_path)))
            original = original or mod.root

    # resolve dependencies: reprod .env (build + runtime), then the module's depends_on
    loaded = list(env_modules) + list(mod.depends_on if mod else ())
    deps = []
    for dep in facts.deps:
        module = next((m for m in loaded if _module_matches(m, dep)), None)
        deps.append(replace(dep, module=module))
    filtered = _split(config.get("filter-deps")) or _split(_cmdline(buildstats, "filter-deps"))
    filtered_here = tuple(d.name for d in deps if d.name in filtered)
    sources = tuple(_with_sha(s.filename, s, log.sha256) for s in facts.sources)
    patches = tuple(
        replace(p, checksums=_hashes(log.sha256, p.name) or p.checksums) if p.name else p
        for p in facts.patches
    )
    options = dict(facts.options)
    if log.easyblock:
        options["easyblock"] = log.easyblock
    optarch = log.optarch or config.get("optarch") or None
    if optarch is None and facts.toolchain[0] != "system":
        unknowns.append(
            Unknown(
                path=str(installdir),
                field="hpc.target",
                reason="optarch not recorded (no build log line for it)",
            )
        )
    host = {
        k: str(v)
        for k, v in buildstats.items()
        if isinstance(v, (str, int, float)) and not isinstance(v, bool)
    }
    if not buildstats:
        unknowns.append(
            Unknown(
                path=str(installdir),
                field="provenance.build_host",
                reason="no ebfiles_repo buildstats for this install",
            )
        )
    built_at = epoch_seconds(buildstats.get("timestamp"))
    if built_at is None and "timestamp" in buildstats:
        unknowns.append(
            Unknown(
                path=str(installdir),
                field="components.installed_at",
                reason=f"buildstats timestamp {repr(buildstats['timestamp'])[:40]} "
                "is not a time stamp from 1970 to 9999",
            )
        )
    explicit = None
    cmd = buildstats.get("command_line")
    if isinstance(cmd, list):
        explicit = any(isinstance(a, str) and PurePosixPath(a).name == ec_path.name for a in cmd)
    return replace(
        facts,
        easyblock=log.easyblock or facts.easyblock,
        options=options,
        installdir=original or str(installdir),
        module_name=mod_name,
        module_syntax=mod.syntax if mod else None,
        sources=sources,
        patches=patches,
        deps=tuple(deps),
        filtered_deps=filtered_here,
        easybuild_version=log.easybuild_version
        or (mod.easybuild_version if mod else None)
        or _text(buildstats.get("easybuild-framework_version")),
        optarch=optarch,
        flags=dict(log.flags or {}),
        build_host=host,
        built_at=built_at,
        explicit=explicit,
        read_from=tuple(read_from),
        evidence=tuple(evidence),
        unknowns=facts.unknowns + tuple(unknowns),
        tree_dir=str(installdir),
    )


def _versioned(mod: ModuleFile, facts: InstallFacts) -> bool:
    return any(k.startswith("EBVERSION") and v == facts.version for k, v in mod.env.items())


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def _cmdline(buildstats: Mapping[str, Any], option: str) -> str | None:
    cmd = buildstats.get("command_line")
    if isinstance(cmd, list):
        for arg in cmd:
            if isinstance(arg, str) and arg.startswith(f"--{option}="):
                return arg.split("=", 1)[1].strip("'\"")
    return None


def _hashes(sha: Mapping[str, str] | None, filename: str | None) -> tuple[Hash, ...]:
    if sha and filename and filename in sha:
        return (Hash(algorithm="sha256", value=sha[filename]),)
    return ()


def _with_sha(filename: str | None, source: Source, sha: Mapping[str, str] | None) -> Source:
    computed = _hashes(sha, filename)
    return replace(source, checksums=computed) if computed else source


def _module_matches(module: str, dep: DepFacts) -> bool:
    head, _, rest = module.rpartition("/")
    name = head.rsplit("/", 1)[-1]
    if name != dep.name:
        return False
    return (
        rest == dep.version
        or rest.startswith(dep.version + "-")
        or rest.startswith(dep.version + dep.versionsuffix)
    )


def _resolve(installs: list[InstallFacts]) -> list[InstallFacts]:
    """Point each dependency at the install it resolved to (by module name, then by name)."""
    by_module = {f.module_name: f for f in installs if f.module_name}
    by_id = {f.id: f for f in installs}
    out = []
    for facts in installs:
        deps = []
        for declared in facts.deps:
            dep = declared
            target = by_module.get(dep.module) if dep.module else None
            if target is None and dep.module:
                guess = "easybuild:" + dep.module
                target = by_id.get(guess)
                if target is None:
                    dep = replace(dep, resolved_id=guess)
            if target is None and dep.resolved_id is None:
                wanted = (dep.name, dep.version, dep.versionsuffix)
                cands = [
                    f
                    for f in installs
                    if (f.name, f.version, f.versionsuffix) == wanted
                    and (dep.toolchain is None or f.toolchain == dep.toolchain)
                ]
                if len(cands) == 1:
                    target = cands[0]
            if target is not None:
                dep = replace(dep, resolved_id=target.id)
            deps.append(dep)
        out.append(replace(facts, deps=tuple(deps)))
    return out


def _collect(
    tree: FileTree, top: PurePosixPath, only: PurePosixPath | None = None
) -> list[InstallFacts]:
    installdirs = list(_find_installdirs(tree, top))
    indexes: dict[PurePosixPath | None, dict[str, tuple[str, ModuleFile, PurePosixPath]]] = {}
    out = []
    for installdir in installdirs:
        installpath = (
            installdir.parent.parent.parent if installdir.parent.parent.name == "software" else None
        )
        if installpath not in indexes:
            indexes[installpath] = _module_index(tree, installpath)
        out.append(read_install(tree, installdir, modules=indexes[installpath]))
    from .closure import with_closures

    return with_closures(tree, _resolve(out))
