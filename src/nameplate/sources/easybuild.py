"""EasyBuild source: installs (``installpath``, one prefix, one module file) and easyconfigs.

What is read, per install (``<installdir>/easybuild/``): the easyconfig copy (parsed with
:mod:`ast`, never executed), the build log (EasyBuild version, easyblock, sha256 of each source,
optarch and compiler flags), ``reprod/*.env`` (the resolved modules loaded for the build), the
test report's *configuration* block (``--filter-deps``, ``--optarch``, naming scheme; never its
environment section), the module file (Lua or Tcl: resolved runtime dependencies) and
``ebfiles_repo/<name>/*.eb`` ``buildstats`` (build host CPU, OS, glibc, time). An easyconfig on
its own gives a *declared* record. Everything goes through a :class:`FileTree`, so the image
source calls :func:`extract_tree` on image layers.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputTooLarge, SourceError
from ..record import Evidence, Hash, OptionValue, Patch, Record, Source, Unknown
from ._common import ExtractOptions
from ._easyconfig import (
    Easyconfig,
    Unresolved,
    parse_easyconfig,
    resolve_templates,
    template_values,
)
from ._eb_record import DepFacts, InstallFacts, build_record, source_hashes
from ._modulefile import ModuleFile, parse_modulefile, sniff_syntax
from ._tree import DirectoryTree, FileTree

__all__ = [
    "CAPABILITIES",
    "KIND",
    "detect",
    "extract_all",
    "extract_tree",
    "facts_from_easyconfig",
    "read_install",
]

KIND = "easybuild"

#: What this source can tell (syft-style capabilities declaration).
CAPABILITIES: Mapping[str, str] = {
    "targets": "installpath (software/, modules/, ebfiles_repo/), one install prefix, one module "
    "file, one easyconfig or a folder of easyconfigs",
    "components": "one per install (status installed) or easyconfig (status declared), plus "
    "toolchain parts and dependencies not installed in the tree (status declared)",
    "dependencies": "dependencies → link+run, builddependencies → build, "
    "toolchain → build+link+run",
    "hpc": "compilers, MPI (+ABI family), maths libraries from the toolchain; target from optarch "
    "or the build host (buildstats); OS and glibc from buildstats",
    "provenance": "EasyBuild version, build time, build host (documented buildstats fields only)",
    "never": "executes easyconfigs, module files, hooks or easyblocks; copies the build "
    "environment of test reports or devel modules",
}

#: Largest build log read in full (bigger logs: only the checksum/flag lines of the first part).
MAX_LOG = 64 * 1024 * 1024
#: Largest number of module files indexed under one installpath.
MAX_MODULES = 50_000
_OPTION_KEYS = (
    "configopts", "buildopts", "installopts", "preconfigopts", "prebuildopts", "preinstallopts",
    "testopts", "pretestopts", "runtest",
)  # fmt: skip


# ---------------------------------------------------------------- easyconfig → facts


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _toolchain(value: Any) -> tuple[str, str] | None:
    if isinstance(value, dict):
        name, version = value.get("name"), value.get("version")
        if isinstance(name, str) and isinstance(version, str):
            return (name, version)
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, str) for v in value)
    ):
        return (str(value[0]), str(value[1]))
    if value is True:
        return ("system", "system")
    return None


def _deps(ec: Easyconfig, key: str, build_only: bool) -> tuple[list[DepFacts], list[str]]:
    raw = ec.get(key)
    out: list[DepFacts] = []
    problems: list[str] = []
    if raw is None:
        return out, problems
    if not isinstance(raw, (list, tuple)):
        return out, [f"{key} is not a list"]
    for item in raw:
        if isinstance(item, (list, tuple)) and len(item) >= 2:
            name, version = item[0], item[1]
            suffix = item[2] if len(item) > 2 else ""
            if not isinstance(name, str) or not isinstance(version, str):
                problems.append(f"{key}: entry {item!r:.80} unresolved")
                continue
            tc = _toolchain(item[3]) if len(item) > 3 else None
            out.append(
                DepFacts(
                    name=name,
                    version=version,
                    versionsuffix=suffix if isinstance(suffix, str) else "",
                    toolchain=tc,
                    build_only=build_only,
                )
            )
        elif isinstance(item, list):  # iterated build deps: a list of alternatives per pass
            sub = Easyconfig(values={key: item})
            more, extra = _deps(sub, key, build_only)
            out.extend(more)
            problems.extend(extra)
        else:
            problems.append(f"{key}: entry {item!r:.80} not understood")
    return out, problems


def _names(value: Any) -> list[tuple[str, str | None, int | None]]:
    """(filename, download source url override, patch level) of sources/patches entries."""
    out: list[tuple[str, str | None, int | None]] = []
    if not isinstance(value, (list, tuple)):
        return out
    for item in value:
        if isinstance(item, str):
            out.append((item, None, None))
        elif isinstance(item, dict):
            name = item.get("filename") or item.get("name")
            urls = item.get("source_urls")
            level = item.get("level")
            if isinstance(name, str):
                url = (
                    urls[0]
                    if isinstance(urls, (list, tuple)) and urls and isinstance(urls[0], str)
                    else None
                )
                out.append((name, url, level if isinstance(level, int) else None))
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            level = item[1] if len(item) > 1 and isinstance(item[1], int) else None
            out.append((item[0], None, level))
    return out


def _checksum_for(checksums: Any, index: int, filename: str) -> str | None:
    if not isinstance(checksums, (list, tuple)) or index >= len(checksums):
        return None
    entry = checksums[index]
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        value = entry.get(filename)
        return value if isinstance(value, str) else None
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] in ("sha256", "md5"):
        return entry[1] if isinstance(entry[1], str) else None
    if isinstance(entry, (list, tuple)) and entry:  # alternatives: the first that is a string
        first = entry[0]
        return first if isinstance(first, str) else None
    return None


def _options(ec: Easyconfig) -> dict[str, OptionValue]:
    out: dict[str, OptionValue] = {}
    easyblock = _text(ec.get("easyblock"))
    name = _text(ec.get("name"))
    if easyblock:
        out["easyblock"] = easyblock
    elif name:
        out["easyblock"] = "EB_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    tcopts = ec.get("toolchainopts")
    if isinstance(tcopts, dict):
        for key, value in sorted(tcopts.items()):
            out[f"toolchainopts.{key}"] = value if isinstance(value, bool) else str(value)
    for key in _OPTION_KEYS:
        value = ec.get(key)
        if isinstance(value, bool):
            out[key] = value
        elif isinstance(value, (str, int)) and value != "":
            out[key] = str(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            out[key] = tuple(value)
    return out


def facts_from_easyconfig(
    ec: Easyconfig, *, where: str, status: str = "declared", arch: str = "x86_64"
) -> InstallFacts:
    """The facts an easyconfig declares (templates resolved where the reader can)."""
    name, version = _text(ec.get("name")), _text(ec.get("version"))
    if not name or not version:
        missing = "name" if not name else "version"
        raise SourceError(f"{where}: easyconfig has no literal '{missing}'")
    tmpl = template_values(ec.values, arch=arch)
    values = resolve_templates(
        {k: v for k, v in ec.values.items() if not isinstance(v, Unresolved)}, tmpl
    )
    rec = Easyconfig(values=values, unresolved=ec.unresolved)
    unknowns = [
        Unknown(path=where, field=key, reason=reason)
        for key, reason in sorted(ec.unresolved.items())
        if key in ("sources", "source_urls", "checksums", "patches", "dependencies",
                   "builddependencies", "toolchain", "versionsuffix", "easyblock")
    ]  # fmt: skip
    tc = _toolchain(rec.get("toolchain"))
    if tc is None:
        unknowns.append(Unknown(path=where, field="toolchain", reason="no literal toolchain"))
        tc = ("system", "system")
    deps, problems = _deps(rec, "dependencies", False)
    bdeps, bproblems = _deps(rec, "builddependencies", True)
    unknowns += [Unknown(path=where, field="dependencies", reason=p) for p in problems + bproblems]
    urls = rec.get("source_urls")
    base = (
        urls[0] if isinstance(urls, (list, tuple)) and urls and isinstance(urls[0], str) else None
    )
    checksums = rec.get("checksums")
    srcs = _names(rec.get("sources")) + _names(rec.get("data_sources"))
    sources = []
    for i, (fname, url, _lvl) in enumerate(srcs):
        full = url or base
        sources.append(
            Source(
                url=(full.rstrip("/") + "/" + fname) if full else None,
                filename=fname,
                checksums=source_hashes(_checksum_for(checksums, i, fname)),
            )
        )
    patches = tuple(
        Patch(
            name=p, level=lvl, checksums=source_hashes(_checksum_for(checksums, len(srcs) + i, p))
        )
        for i, (p, _u, lvl) in enumerate(_names(rec.get("patches")))
    )
    return InstallFacts(
        name=name,
        version=version,
        versionsuffix=_text(rec.get("versionsuffix")) or "",
        versionprefix=_text(rec.get("versionprefix")) or "",
        toolchain=tc,
        status="declared" if status == "declared" else "installed",
        easyblock=_text(rec.get("easyblock")),
        homepage=_text(rec.get("homepage")),
        description=(_text(rec.get("description")) or "").strip() or None,
        moduleclass=_text(rec.get("moduleclass")),
        options=_options(rec),
        sources=tuple(sources),
        patches=patches,
        deps=tuple(deps + bdeps),
        read_from=(where,),
        unknowns=tuple(unknowns),
    )


# ---------------------------------------------------------------- install files


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
        except InputTooLarge:
            unknowns.append(
                Unknown(path=str(log_path), field="log", reason="build log over the size limit")
            )
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
        built_at=float(buildstats["timestamp"])
        if isinstance(buildstats.get("timestamp"), (int, float))
        else None,
        explicit=explicit,
        read_from=tuple(read_from),
        evidence=tuple(evidence),
        unknowns=facts.unknowns + tuple(unknowns),
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


# ---------------------------------------------------------------- public entry points


def extract_tree(tree: FileTree, options: ExtractOptions) -> Record | None:
    """ONE record for every EasyBuild install found anywhere in ``tree``; None when none."""
    installs = _collect(tree, PurePosixPath("."))
    if not installs:
        return None
    ident = sorted({f.installdir or f.id for f in installs})
    return build_record(
        installs,
        subject_kind="easybuild-installation",
        subject_name=_common_prefix(installs) or tree.name,
        identity="\x1f".join(ident),
        options=options,
    )


def _common_prefix(installs: list[InstallFacts]) -> str | None:
    dirs = [f.installdir for f in installs if f.installdir]
    if not dirs:
        return None
    parents = {str(PurePosixPath(d).parent.parent.parent) for d in dirs}
    return parents.pop() if len(parents) == 1 else None


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
    return _resolve(out)


def _installation_root(path: Path) -> tuple[Path, PurePosixPath] | None:
    """(installpath, installdir relative to it) when ``path`` is ``<ip>/software/<n>/<v>``."""
    if path.parent.parent.name == "software":
        root = path.parent.parent.parent
        if (root / "modules").is_dir() or (root / "ebfiles_repo").is_dir():
            return root, PurePosixPath("software", path.parent.name, path.name)
    return None


def detect(target: str | Path) -> bool:
    """True for an installpath, an install prefix, an EasyBuild module file or easyconfigs."""
    path = Path(target)
    try:
        if path.is_file():
            if path.suffix == ".eb":
                return True
            if path.stat().st_size > 1024 * 1024:
                return False
            return sniff_syntax(path.read_text(encoding="utf-8", errors="replace")) is not None
        if not path.is_dir():
            return False
        if any((path / "easybuild").glob("*.eb")):
            return True
        if (path / "software").is_dir() and (
            (path / "modules").is_dir() or (path / "ebfiles_repo").is_dir()
        ):
            return True
        return any(p.suffix == ".eb" for p in path.iterdir())
    except OSError:
        return False


def extract_all(target: str | Path, options: ExtractOptions) -> list[Record]:
    """Records for ``target``: one per install (or one combined with ``options.combined``)."""
    path = Path(target)
    if path.is_file():
        if path.suffix == ".eb":
            return [
                _declared(
                    DirectoryTree(path.parent), [PurePosixPath(path.name)], options, path.name
                )
            ]
        return [_from_module(path, options)]
    if not path.is_dir():
        raise SourceError(f"{path}: no such file or directory")
    if any((path / "easybuild").glob("*.eb")):
        located = _installation_root(path.resolve())
        if located is None:
            tree = DirectoryTree(path)
            installs = _resolve([read_install(tree, PurePosixPath("."))])
            return [_single(installs, installs[0], options)]
        tree = DirectoryTree(located[0])
        installs = _collect(tree, PurePosixPath("software"))
        mine = [
            f for f in installs if any(p.startswith(str(located[1]) + "/") for p in f.read_from)
        ]
        if not mine:
            raise SourceError(f"{path}: no EasyBuild install found")
        return [_single(installs, mine[0], options)]
    tree = DirectoryTree(path)
    if (path / "software").is_dir():
        installs = _collect(tree, PurePosixPath("software"))
        if installs:
            if options.roots:
                return _selected(installs, options, str(path))
            if options.combined:
                record = extract_tree(tree, options)
                return [record] if record else []
            return [_single(installs, f, options) for f in installs]
    ebs = sorted(PurePosixPath(p.relative_to(path).as_posix()) for p in path.rglob("*.eb"))
    if not ebs:
        raise SourceError(f"{path}: no EasyBuild install, module file or easyconfig found")
    if options.combined:
        return [_declared(tree, ebs, options, str(path))]
    return [_declared(tree, [eb], options, str(eb)) for eb in ebs]


def _matches(facts: InstallFacts, query: str) -> bool:
    """``name``, ``name@version`` (a version prefix matches) or the module name."""
    module = facts.id.removeprefix("easybuild:")
    if query in (facts.name, module):
        return True
    name, _, version = query.partition("@")
    full = facts.versionprefix + facts.version
    return (
        name == facts.name and bool(version) and (full == version or full.startswith(version + "."))
    )


def _selected(installs: list[InstallFacts], options: ExtractOptions, where: str) -> list[Record]:
    """Records for the installs ``options.roots`` name (one each, or one combined)."""
    chosen = [f for f in installs if any(_matches(f, q) for q in options.roots)]
    if not chosen:
        known = ", ".join(sorted(f.id.removeprefix("easybuild:") for f in installs))
        raise SourceError(
            f"{where}: no install matches {', '.join(options.roots)} (installs: {known})"
        )
    if not options.combined:
        return [_single(installs, f, options) for f in chosen]
    union: dict[str, InstallFacts] = {}
    for f in chosen:
        for g in _closure(installs, f):
            union.setdefault(g.id, g)
    ordered = chosen + [f for f in union.values() if f not in chosen]
    return [
        build_record(
            ordered,
            subject_kind="easybuild-installation",
            subject_name=where,
            identity="\x1f".join(f.installdir or f.id for f in chosen),
            options=options,
            roots=[f.id for f in chosen],
        )
    ]


def _closure(installs: list[InstallFacts], root: InstallFacts) -> list[InstallFacts]:
    by_id = {f.id: f for f in installs}
    by_nv = {(f.name, f.version): f for f in installs}
    seen: dict[str, InstallFacts] = {}
    todo = [root]
    while todo:
        f = todo.pop()
        if f.id in seen:
            continue
        seen[f.id] = f
        nxt = [by_id.get(d.resolved_id or "") for d in f.deps if d.name not in f.filtered_deps]
        nxt.append(by_nv.get(f.toolchain))
        todo.extend(n for n in nxt if n is not None)
    return [root] + [f for f in installs if f.id in seen and f is not root]


def _single(installs: list[InstallFacts], root: InstallFacts, options: ExtractOptions) -> Record:
    return build_record(
        _closure(installs, root),
        subject_kind="easybuild-prefix",
        subject_name=root.id.removeprefix("easybuild:"),
        identity=root.installdir or root.id,
        options=options,
        roots=[root.id],
    )


def _declared(
    tree: FileTree, paths: list[PurePosixPath], options: ExtractOptions, name: str
) -> Record:
    facts: list[InstallFacts] = []
    for p in paths:
        where = tree.describe(p)
        data = tree.read_bytes(p, limit=8 * 1024 * 1024)
        ec = parse_easyconfig(data, where=where)
        facts.append(replace(facts_from_easyconfig(ec, where=where), read_from=(str(p),)))
    facts = _resolve(facts)
    return build_record(
        facts,
        subject_kind="easybuild-easyconfig",
        subject_name=facts[0].id.removeprefix("easybuild:") if len(facts) == 1 else name,
        identity="declared\x1f" + "\x1f".join(sorted(f.id for f in facts)),
        options=options,
        roots=[facts[0].id] if len(facts) == 1 else None,
    )


def _from_module(path: Path, options: ExtractOptions) -> Record:
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{where}: cannot read: {exc.strerror}") from exc
    mod = parse_modulefile(data, where=where)
    if mod.root:
        located = _installation_root(Path(mod.root)) if Path(mod.root).is_dir() else None
        if located is not None:
            tree = DirectoryTree(located[0])
            installs = _collect(tree, PurePosixPath("software"))
            mine = [f for f in installs if f.installdir == mod.root]
            if mine:
                return _single(installs, mine[0], options)
    # the module file alone: name and version from EBROOT/EBVERSION, runtime deps from depends_on
    ebname = mod.ebroot_name
    version = next((v for k, v in mod.env.items() if k.startswith("EBVERSION") and v), None)
    if not ebname or not version:
        raise SourceError(f"{where}: module file sets no EBROOT/EBVERSION variable")
    name = (
        path.parent.name
        if path.parent.name.upper().replace("-", "MIN") == ebname
        else ebname.lower()
    )
    deps = tuple(
        DepFacts(
            name=m.split("/")[-2] if "/" in m else m,
            version=m.split("/")[-1],
            resolved_id="easybuild:" + m,
        )
        for m in mod.depends_on
    )
    fullver = path.name[: -len(".lua")] if path.name.endswith(".lua") else path.name
    facts = InstallFacts(
        name=name,
        version=version,
        installdir=mod.root,
        module_name=f"{path.parent.name}/{fullver}",
        module_syntax=mod.syntax,
        homepage=mod.homepage,
        description=mod.description,
        deps=deps,
        easybuild_version=mod.easybuild_version,
        read_from=(where,),
        evidence=(Evidence(kind="module-file", path=where),),
        unknowns=(
            Unknown(
                path=where, field="toolchain", reason="install not found; module file read alone"
            ),
        ),
    )
    record = build_record(
        [facts],
        subject_kind="easybuild-module",
        subject_name=facts.module_name or name,
        identity=mod.root or where,
        options=options,
        roots=[facts.id],
    )
    return record
