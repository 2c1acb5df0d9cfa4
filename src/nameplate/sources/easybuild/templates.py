"""EasyBuild's easyconfig constants and templates, as data (never EasyBuild's code).

:func:`constants` loads ``SYSTEM``, ``SOURCE_TAR_GZ``, ``GITHUB_SOURCE``... from
``vocab/easybuild-toolchains.json``; :func:`template_values` computes the documented templates
(``%(name)s``, ``%(version_major)s``, ``%(pyshortver)s``...) of an easyconfig's raw parameters and
:func:`resolve_templates` fills them in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from ... import _resources

__all__ = ["constants", "resolve_templates", "template_values"]

_TEMPLATE = re.compile(r"%\((\w+)\)s")


@functools.cache
def constants() -> Mapping[str, Any]:
    """EasyBuild's easyconfig and template constants (``SYSTEM``, ``SOURCE_TAR_GZ``...)."""
    table = _resources.load_json("vocab", "easybuild-toolchains.json")
    out: dict[str, Any] = {}
    for key, value in table["constants"].items():
        out[key] = _freeze(value)
    return out


def _freeze(value: Any) -> Any:
    # JSON has no tuples; the constants that are tuples in EasyBuild are stored as lists
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    return value


def _version_parts(prefix: str, version: str) -> dict[str, str]:
    parts = version.split(".")
    out = {f"{prefix}ver": version, f"{prefix}majver": parts[0]}
    if len(parts) > 1:
        out[f"{prefix}shortver"] = ".".join(parts[:2])
        out[f"{prefix}minver"] = parts[1]
    return out


def template_values(values: Mapping[str, Any], *, arch: str = "x86_64") -> dict[str, str]:
    """The values of EasyBuild's documented templates (``%(name)s``, ``%(version_major)s``,
    ``%(pyshortver)s``...) for an easyconfig's raw parameters."""
    out: dict[str, str] = {"arch": arch}
    for key in ("name", "version", "versionsuffix", "versionprefix", "github_account",
                "bitbucket_account"):  # fmt: skip
        value = values.get(key)
        if isinstance(value, str):
            out[key] = value
    out.setdefault("versionsuffix", "")
    out.setdefault("versionprefix", "")
    name = out.get("name")
    if name:
        out["namelower"] = name.lower()
        out["nameletter"] = name[0]
        out["nameletterlower"] = name[0].lower()
        out.setdefault("github_account", out["namelower"])
        out.setdefault("bitbucket_account", out["namelower"])
    version = out.get("version")
    if version:
        parts = version.split(".")
        out["version_major"] = parts[0]
        if len(parts) > 1:
            out["version_minor"] = parts[1]
            out["version_major_minor"] = ".".join(parts[:2])
        if len(parts) > 2:
            out["version_patch"] = parts[2]
            out["version_minor_patch"] = ".".join(parts[1:3])
            out["version_major_minor_patch"] = ".".join(parts[:3])
    toolchain = values.get("toolchain")
    if isinstance(toolchain, dict):
        if isinstance(toolchain.get("name"), str):
            out["toolchain_name"] = toolchain["name"]
        if isinstance(toolchain.get("version"), str):
            out["toolchain_version"] = toolchain["version"]
    soft = constants().get("_software_versions", {})
    # runtime dependencies first, then build dependencies (EasyBuild takes either)
    for key in ("builddependencies", "dependencies"):
        deps = values.get(key)
        if not isinstance(deps, (list, tuple)):
            continue
        for dep in deps:
            if isinstance(dep, (list, tuple)) and len(dep) >= 2:
                dname, dver = dep[0], dep[1]
                if isinstance(dname, str) and isinstance(dver, str) and dname in soft:
                    out.update(_version_parts(soft[dname], dver))
    return out


def resolve_templates(value: Any, templates: Mapping[str, str], depth: int = 0) -> Any:
    """``value`` with every ``%(key)s`` that ``templates`` knows filled in; unknown templates
    are left as they are (EasyBuild's ``--allow-unresolved-templates``)."""
    if depth > 50:
        return value
    if isinstance(value, str):
        if "%(" not in value:
            return value
        return _TEMPLATE.sub(lambda m: templates.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [resolve_templates(v, templates, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_templates(v, templates, depth + 1) for v in value)
    if isinstance(value, dict):
        return {
            resolve_templates(k, templates, depth + 1): resolve_templates(v, templates, depth + 1)
            for k, v in value.items()
        }
    return value
