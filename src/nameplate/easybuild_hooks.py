"""EasyBuild hooks that write a nameplate record at the end of every install.

Use it with ``eb --hooks=$(nameplate easybuild-hooks) ...`` (or ``EASYBUILD_HOOKS``). At the end
of each successful install (EasyBuild's ``post_easyblock`` hook, after the log, easyconfig copy
and ``ebfiles_repo`` entry are written) it builds the record from EasyBuild's *live* objects (the
parsed easyconfig, the resolved dependencies with their module names, the toolchain's optarch
and flags, EasyBuild's own host detection) and writes ``<installdir>/easybuild/nameplate.json``
atomically.

Publishing the record, configured by environment variables or in a site's hooks file
(:func:`configured`, which ``nameplate easybuild-hooks --push/--attach/--sign -o
FILE`` writes):

- ``NAMEPLATE_EB_PUSH=REF``: push the install folder to ``REF`` as an artifact (``nameplate
  push``) and attach the record to it;
- ``NAMEPLATE_EB_ATTACH=REF``: attach the record to ``REF``, which exists already (an image);
- ``NAMEPLATE_EB_SIGN=KEY``: sign it (a PEM private key, or ``gpg:KEYID``), as ``nameplate attach
  --sign`` does.

``REF`` is a template: ``{name}``, ``{version}``, ``{versionsuffix}``, ``{toolchain}``
(``name-version``), ``{module}`` (the module name), ``{repo}`` (the name as a registry repository:
lower case) and ``{tag}`` (EasyBuild's full version, e.g. ``2.1-GCCcore-12.2.0-demo``, as a valid
tag) are filled in. Registry access (plain HTTP, CA, credentials) is ``nameplate``'s, from its
environment variables and the docker configuration.

This file runs inside ``eb``: it never raises. Any failure becomes a warning in EasyBuild's log
and on its output, never a failed install; a record that cannot be attached is still written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "RECORD_NAME",
    "Publish",
    "configured",
    "post_easyblock_hook",
    "record_for",
]

RECORD_NAME = "nameplate.json"
ATTACH_ENV = "NAMEPLATE_EB_ATTACH"
PUSH_ENV = "NAMEPLATE_EB_PUSH"
SIGN_ENV = "NAMEPLATE_EB_SIGN"


class Publish(NamedTuple):
    """Where the hook publishes a record: ``push`` (the install folder to this reference, the
    record attached to it) or ``attach`` (to an existing reference), signed with ``sign``.
    (A ``NamedTuple``: EasyBuild loads this file outside ``sys.modules``, where a dataclass
    cannot be made.)"""

    attach: str | None = None
    push: str | None = None
    sign: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Publish:
        """From ``NAMEPLATE_EB_PUSH``, ``NAMEPLATE_EB_ATTACH`` and ``NAMEPLATE_EB_SIGN``."""
        return cls(
            attach=env.get(ATTACH_ENV) or None,
            push=env.get(PUSH_ENV) or None,
            sign=env.get(SIGN_ENV) or None,
        )


def _warn(app: Any, message: str) -> None:
    text = f"nameplate hook: {message}"
    try:
        from easybuild.tools.build_log import print_warning

        print_warning(text, log=getattr(app, "log", None))
    except Exception:
        with contextlib.suppress(Exception):
            app.log.warning(text)


def _sha256(path: str | None) -> str | None:
    if not path or not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _host() -> dict[str, str]:
    from easybuild.tools import systemtools as st

    host: dict[str, str] = {}
    probes = {
        "cpu_arch": st.get_cpu_architecture,
        "cpu_arch_name": lambda: st.get_cpu_arch_name(show_warning=False),
        "cpu_model": st.get_cpu_model,
        "cpu_vendor": st.get_cpu_vendor,
        "os_name": st.get_os_name,
        "os_version": st.get_os_version,
        "os_type": st.get_os_type,
        "glibc_version": st.get_glibc_version,
    }
    for key, probe in probes.items():
        try:
            value = probe()
        except Exception:  # noqa: S112 - a probe that fails is an unknown
            continue
        if value not in (None, "", "UNKNOWN"):
            host[key] = str(value)
    return host


def _facts(app: Any) -> Any:
    """InstallFacts from EasyBuild's live objects (the trusted path)."""
    from easybuild.tools.build_log import EasyBuildError
    from easybuild.tools.config import build_option
    from easybuild.tools.version import VERSION

    from nameplate.record import Hash, Patch, Source, Unknown
    from nameplate.sources.easybuild.declared import _options  # the same mapping as the reader
    from nameplate.sources.easybuild.easyconfig import Easyconfig
    from nameplate.sources.easybuild.record import DepFacts, InstallFacts, component_id

    cfg = app.cfg
    tc = cfg["toolchain"] or {"name": "system", "version": "system"}
    toolchain = (str(tc["name"]), str(tc["version"]))
    filtered = [str(f).split("=")[0] for f in (build_option("filter_deps") or [])]
    deps = []
    for dep in cfg.dependencies():
        dep_tc = dep.get("toolchain") or {"name": "system", "version": "system"}
        module = dep.get("full_mod_name") or dep.get("short_mod_name")
        resolved_tc = (str(dep_tc["name"]), str(dep_tc["version"]))
        deps.append(
            DepFacts(
                name=dep["name"],
                version=str(dep["version"]),
                versionsuffix=dep.get("versionsuffix") or "",
                toolchain=resolved_tc,
                build_only=bool(dep.get("build_only")),
                module=module,
                resolved_id=component_id(
                    dep["name"], str(dep["version"]), dep.get("versionsuffix") or "", resolved_tc
                ),
            )
        )
    for name in filtered:  # filtered deps are not in dependencies(): keep their declaration
        for raw in list(cfg.get_ref("builddependencies") or []) + list(
            cfg.get_ref("dependencies") or []
        ):
            if isinstance(raw, (list, tuple)) and raw and raw[0] == name:
                deps.append(DepFacts(name=name, version=str(raw[1]), build_only=True))
    urls = cfg["source_urls"] or []
    sources = []
    for src in app.src:
        fname = src.get("name") or os.path.basename(src.get("path", ""))
        sha = _sha256(src.get("path"))
        base = urls[0] if urls else None
        sources.append(
            Source(
                url=(str(base).rstrip("/") + "/" + fname) if base else None,
                filename=fname,
                checksums=(Hash(algorithm="sha256", value=sha),) if sha else (),
            )
        )
    patches = []
    for patch in app.patches:
        sha = _sha256(patch.get("path"))
        level = patch.get("level")
        patches.append(
            Patch(
                name=patch.get("name") or os.path.basename(patch.get("path", "")),
                level=level if isinstance(level, int) else None,
                checksums=(Hash(algorithm="sha256", value=sha),) if sha else (),
            )
        )
    # the options as the easyconfig declares them: easyblocks rewrite cfg[...] while building
    from easybuild.framework.easyconfig.easyconfig import resolve_template

    declared = cfg.parser.get_config_dict(validate=False)
    raw = {
        k: resolve_template(declared[k], cfg.template_values, expect_resolved=False)
        for k in ("easyblock", "name", "toolchainopts", "configopts", "buildopts", "installopts",
                  "preconfigopts", "prebuildopts", "preinstallopts", "testopts", "pretestopts",
                  "runtest")
        if k in declared
    }  # fmt: skip
    options = _options(Easyconfig(values={k: v for k, v in raw.items() if v is not None}))
    options["easyblock"] = type(app).__name__
    flags: dict[str, tuple[str, ...]] = {}
    optarch = None
    unknowns = []
    if toolchain[0] != "system":
        try:
            optarch = app.toolchain.options.options_map.get("optarch")
            for var in ("CFLAGS", "CXXFLAGS", "FFLAGS", "FCFLAGS"):
                value = app.toolchain.get_variable(var)
                if value:
                    flags[var.lower()] = tuple(str(value).split())
        except (EasyBuildError, AttributeError, KeyError, TypeError) as exc:
            unknowns.append(
                Unknown(path=app.installdir, field="hpc.target", reason=f"optarch: {exc}")
            )
    command_line = build_option("command_line") or []
    ec_name = os.path.basename(cfg.path or "")
    explicit = (
        any(os.path.basename(str(a)) == ec_name for a in command_line) if command_line else None
    )
    module_syntax = None
    with contextlib.suppress(AttributeError):
        module_syntax = app.module_generator.SYNTAX
    return InstallFacts(
        name=cfg["name"],
        version=str(cfg["version"]),
        versionsuffix=cfg["versionsuffix"] or "",
        versionprefix=cfg["versionprefix"] or "",
        toolchain=toolchain,
        status="installed",
        easyblock=type(app).__name__,
        homepage=cfg["homepage"],
        description=(cfg["description"] or "").strip() or None,
        moduleclass=cfg["moduleclass"],
        options=options,
        installdir=app.installdir,
        module_name=app.full_mod_name,
        module_syntax=module_syntax,
        sources=tuple(sources),
        patches=tuple(patches),
        deps=tuple(deps),
        filtered_deps=tuple(n for n in filtered if any(d.name == n for d in deps)),
        easybuild_version=str(VERSION),
        optarch=optarch or None,
        flags=flags,
        build_host=_host(),
        built_at=time.time(),
        explicit=explicit,
        read_from=("easybuild:live",),
        unknowns=tuple(unknowns),
    )


def _with_elf(facts: Any, app: Any) -> Any:
    """The facts with what the install's programs load, resolved as the tree reader does
    (:mod:`nameplate.sources.easybuild.closure`) over the installpath, with the installs of the
    loaded dependencies (``get_software_root``) placed where EasyBuild put them."""
    from easybuild.tools.modules import get_software_root

    from nameplate.errors import NameplateError
    from nameplate.sources.easybuild.closure import with_closures
    from nameplate.sources.easybuild.record import InstallFacts
    from nameplate.tree import DirectoryTree

    installdir = Path(app.installdir).resolve()
    if installdir.parent.parent.name != "software":
        return facts
    installpath = installdir.parent.parent.parent
    try:
        tree = DirectoryTree(installpath)
    except NameplateError:
        return facts
    placed = [replace(facts, tree_dir=str(installdir.relative_to(installpath)))]
    loaded = [(d.name, d.version, d.versionsuffix, d.toolchain) for d in facts.deps if d.module]
    if facts.toolchain[0] != "system":
        loaded.append((*facts.toolchain, "", ("system", "system")))
    for name, version, suffix, toolchain in loaded:
        root = get_software_root(name)
        if not root or not Path(root).resolve().is_relative_to(installpath):
            continue
        placed.append(
            InstallFacts(
                name=name,
                version=version,
                versionsuffix=suffix,
                toolchain=toolchain or facts.toolchain,
                installdir=root,
                tree_dir=str(Path(root).resolve().relative_to(installpath)),
            )
        )
    with contextlib.suppress(NameplateError):
        return with_closures(tree, placed)[0]
    return facts


def record_for(app: Any) -> Any:
    """The nameplate record of the install ``app`` (an EasyBlock) just finished."""
    from nameplate.sources._common import ExtractOptions
    from nameplate.sources.easybuild.record import build_record, component_id

    facts = _with_elf(_facts(app), app)
    record = build_record(
        [facts],
        subject_kind="easybuild-prefix",
        subject_name=facts.id.removeprefix("easybuild:"),
        identity=facts.installdir or facts.id,
        options=ExtractOptions(),
        roots=[facts.id],
    )
    # dependencies EasyBuild resolved and loaded are installed, not merely declared
    loaded = {d.resolved_id for d in facts.deps if d.module and d.name not in facts.filtered_deps}
    if facts.toolchain[0] != "system":
        tc_name, tc_version = facts.toolchain
        loaded.add(component_id(tc_name, tc_version, "", ("system", "system")))
    comps = tuple(
        replace(c, status="installed") if c.id in loaded and c.status == "declared" else c
        for c in record.components
    )
    return replace(record, components=comps)


def _succeeded(app: Any) -> bool:
    from easybuild.tools.config import build_option

    if build_option("extended_dry_run") or build_option("sanity_check_only") or app.cfg["stop"]:
        return False
    copy = Path(app.installdir) / "easybuild" / app.cfg.filename()
    return copy.is_file() and Path(app.mod_filepath).is_file()


def _fields(app: Any) -> dict[str, str]:
    """The values a reference template may use."""
    from easybuild.tools.module_naming_scheme.utilities import det_full_ec_version

    cfg = app.cfg
    tc = cfg["toolchain"] or {"name": "system", "version": "system"}
    full = str(det_full_ec_version(cfg))
    return {
        "name": str(cfg["name"]),
        "version": str(cfg["version"]),
        "versionsuffix": str(cfg["versionsuffix"] or ""),
        "toolchain": f"{tc['name']}-{tc['version']}",
        "module": str(app.full_mod_name),
        "repo": re.sub(r"[^a-z0-9._-]+", "-", str(cfg["name"]).lower()).strip("._-") or "x",
        "tag": re.sub(r"[^A-Za-z0-9_.-]", "_", full).lstrip(".-")[:128] or "latest",
    }


def _publish(app: Any, record: Any, settings: Publish) -> str:
    """Push and/or attach (and sign) the record as ``settings`` say; returns the reference."""
    from nameplate import oci

    template = settings.push or settings.attach
    assert template is not None
    ref = template.format_map(_fields(app))
    signer = None
    if settings.sign:
        from nameplate.sign import load_signer

        signer = load_signer(settings.sign)  # before anything is pushed
    if settings.push:
        oci.push(app.installdir, ref, created=record.provenance.built_at)
    if signer is not None:
        oci.attach_signed(record, ref, signer=signer)
    else:
        oci.attach(record, ref)
    return ref


def _after_install(app: Any, settings: Publish) -> None:
    try:
        if not _succeeded(app):
            return
        from nameplate import schema
        from nameplate._io import atomic_write

        record = record_for(app)
        schema.validate(record.to_dict())
        target = Path(app.installdir) / "easybuild" / RECORD_NAME
        atomic_write(target, record.to_json().encode())
        app.log.info("nameplate hook: wrote %s", target)
    except Exception as exc:
        _warn(app, f"no record written for {getattr(app, 'full_mod_name', '?')}: {exc}")
        return
    if not (settings.push or settings.attach):
        return
    try:
        ref = _publish(app, record, settings)
        signed = " (signed)" if settings.sign else ""
        app.log.info("nameplate hook: attached the record to %s%s", ref, signed)
    except Exception as exc:
        where = settings.push or settings.attach
        _warn(
            app, f"the record of {app.full_mod_name} was written but not attached to {where}: {exc}"
        )


def configured(
    *, attach: str | None = None, push: str | None = None, sign: str | None = None
) -> Callable[..., None]:
    """A ``post_easyblock_hook`` that publishes as told (for a site's hooks file)."""
    settings = Publish(attach=attach, push=push, sign=sign)

    def post_easyblock_hook(app: Any, *args: Any, **kwargs: Any) -> None:
        _after_install(app, settings)

    return post_easyblock_hook


def post_easyblock_hook(app: Any, *args: Any, **kwargs: Any) -> None:
    """EasyBuild calls this after each install; it writes ``easybuild/nameplate.json`` and
    publishes it as ``NAMEPLATE_EB_PUSH``/``_ATTACH``/``_SIGN`` say."""
    _after_install(app, Publish.from_env(os.environ))
