"""EasyBuild source: installs (``installpath``, one prefix, one module file) and easyconfigs.

What is read, per install (``<installdir>/easybuild/``): the easyconfig copy (parsed with
:mod:`ast`, never executed), the build log (EasyBuild version, easyblock, sha256 of each source,
optarch and compiler flags), ``reprod/*.env`` (the resolved modules loaded for the build), the
test report's *configuration* block (``--filter-deps``, ``--optarch``, naming scheme; never its
environment section), the module file (Lua or Tcl: resolved runtime dependencies) and
``ebfiles_repo/<name>/*.eb`` ``buildstats`` (build host CPU, OS, glibc, time). An easyconfig on
its own gives a *declared* record. Everything goes through a :class:`FileTree`, so the image
source calls :func:`extract_tree` on image layers. Install reading is :mod:`.install`;
easyconfig → facts is :mod:`.declared`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath

from ..._io import read_bounded
from ...errors import SourceError
from ...record import Evidence, Record, Unknown
from ...tree import DirectoryTree, FileTree
from .._common import ExtractOptions
from .closure import with_closures
from .declared import facts_from_easyconfig
from .easyconfig import parse_easyconfig
from .install import _collect, _resolve, read_install
from .modulefile import MAX_MODULE, parse_modulefile, skipped_unknowns, sniff_syntax
from .record import DepFacts, InstallFacts, build_record

__all__ = [
    "detect",
    "extract_all",
    "extract_tree",
    "facts_from_easyconfig",
    "read_install",
]

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
            installs = with_closures(tree, _resolve([read_install(tree, PurePosixPath("."))]))
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
    data = read_bounded(path, limit=MAX_MODULE)
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
            *skipped_unknowns(mod, where),
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
