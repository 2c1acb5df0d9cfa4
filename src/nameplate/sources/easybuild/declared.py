"""EasyBuild easyconfig → :class:`InstallFacts`: what an easyconfig declares.

Used for an easyconfig on its own (a *declared* record) and, by :mod:`.install`, for the
easyconfig copy of an install. Values come from :func:`.easyconfig.parse_easyconfig` (never
executed); templates are resolved where the reader can.
"""

from __future__ import annotations

import re
from typing import Any

from ...errors import SourceError
from ...normalize import purl_name
from ...record import OptionValue, Patch, Source, Unknown
from .easyconfig import Easyconfig, Unresolved, resolve_templates, template_values
from .record import DepFacts, InstallFacts, source_hashes

__all__ = ["facts_from_easyconfig"]

_OPTION_KEYS = (
    "configopts", "buildopts", "installopts", "preconfigopts", "prebuildopts", "preinstallopts",
    "testopts", "pretestopts", "runtest",
)  # fmt: skip


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
            if not purl_name(name):
                problems.append(f"{key}: entry {item!r:.80}: {name!r} is not a software name")
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
    if not purl_name(name):
        raise SourceError(f"{where}: name: {name!r} is not a software name")
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
