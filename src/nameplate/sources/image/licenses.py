"""OS package licenses as SPDX expressions: dpkg copyright files, rpm ``License``, apk ``L:``.

- **dpkg** (``/usr/share/doc/<package>/copyright``): a machine-readable (DEP-5) file gives the
  ``License:`` of each ``Files:`` paragraph (and of the header), in Debian's syntax (``GPL-2+``,
  ``LGPL-2.1+ or BSD-3-clause``, ``GPL-3+ with Bison exception``, commas for precedence). A
  free-text file gives its ``/usr/share/common-licenses/<name>`` references (``or later`` when it
  says "any later version") and, when it names none, the common grants it quotes (MIT, ISC,
  zlib, the PSF license...). A doc folder that is a link to another package's (``libgomp1`` →
  ``gcc-12-base``) is followed inside the image.
- **rpm** ``License`` tags (SPDX in current Fedora/RHEL, ``GPLv2+ and BSD`` in older ones) and
  **apk** ``L:`` fields (SPDX, mostly) go through the same normaliser.

Each name is mapped through ``vocab/license-aliases.json``, then tried as an SPDX id by
``license-expression`` (which also corrects case and deprecated forms: ``GPL-2.0+`` →
``GPL-2.0-or-later``); what does not map becomes ``LicenseRef-<name>``. The text is data: never
evaluated, bounded in size.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ... import _resources

__all__ = ["copyright_licenses", "spdx_expression"]

_REF_SAFE = re.compile(r"[^A-Za-z0-9.-]+")
_COMMON = re.compile(r"/?usr/share/common-licenses/([0-9A-Za-z_.+-]*[0-9A-Za-z+])")
_GNU = re.compile(r"^(A|L)?GPL-(\d)(?:\.(\d))?(\+)?$", re.IGNORECASE)
_FEDORA_GNU = re.compile(r"^(A|L)?GPLv(\d)(?:\.(\d))?(\+)?$", re.IGNORECASE)
_GFDL = re.compile(r"^GFDL(-NIV)?-(\d\.\d)(\+)?$", re.IGNORECASE)
_WITH = re.compile(r"^(?P<lic>.+?)\s+with\s+(?P<exc>.+?)\s+exception$", re.IGNORECASE)
_OP = re.compile(r"\s+(and|or)\s+", re.IGNORECASE)
_TEXT_LIMIT = 1024 * 1024


@functools.cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = _resources.load_json("vocab", "license-aliases.json")
    data["_names"] = {k.lower(): v for k, v in data["names"].items()}
    return data


@functools.cache
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _ref(name: str) -> str:
    return "LicenseRef-" + (_REF_SAFE.sub("-", name.replace("+", "-plus")).strip("-") or "unknown")


@functools.lru_cache(maxsize=4096)
def _valid(expression: str) -> str | None:
    """``expression`` normalised by license-expression if it is a valid SPDX expression
    (``LicenseRef-`` symbols allowed), else None."""
    refs = set(re.findall(r"LicenseRef-[A-Za-z0-9.-]+", expression))
    probe = expression
    for ref in sorted(refs, key=len, reverse=True):
        probe = probe.replace(ref, "MIT")  # a valid stand-in: the reference's own syntax is ours
    try:
        info = _licensing().validate(probe)
    except Exception:
        return None
    normalized = info.normalized_expression
    if info.errors or info.invalid_symbols or normalized is None or not str(normalized).strip():
        return None
    if refs:
        return expression  # keep the references as written; the rest was valid
    return str(normalized)


def _gnu(family: str, major: str, minor: str | None, plus: bool) -> str:
    return f"{family.upper()}GPL-{major}.{minor or '0'}-{'or-later' if plus else 'only'}"


@functools.lru_cache(maxsize=4096)
def _name(raw: str) -> str:
    """One license name (Debian, Fedora, apk or SPDX) as an SPDX expression."""
    name = re.sub(r"\s+licen[cs]e$", "", raw.strip().strip("()").strip(), flags=re.IGNORECASE)
    if not name:
        return _ref("unknown")
    m = _WITH.match(name)
    if m is not None:
        base = _name(m["lic"])
        key = m["exc"].strip().lower().replace(" ", "-")
        exc = _table()["exceptions"].get(key)
        if exc == "Autoconf-exception-3.0" and base.startswith("GPL-2"):
            exc = "Autoconf-exception-2.0"
        if exc and " " not in base and not base.startswith("LicenseRef-"):
            found = _valid(f"{base} WITH {exc}")
            if found:
                return found
        return _ref(name)
    alias = _table()["_names"].get(name.lower())
    if alias:
        return str(alias)
    m = _GNU.match(name) or _FEDORA_GNU.match(name)
    if m is not None:
        return _gnu(m[1] or "", m[2], m[3], bool(m[4]))
    m = _GFDL.match(name)
    if m is not None:
        niv = "-no-invariants" if m[1] else ""
        return f"GFDL-{m[2]}{niv}-{'or-later' if m[3] else 'only'}"
    for candidate in (name, f"{name}.0", name.replace(" ", "-")):
        found = _valid(candidate)
        if found:
            return found
    return _ref(name)


def _terms(text: str) -> str:
    """A flat run of names joined by ``and``/``or`` as SPDX (AND binds tighter, as in both)."""
    parts = _OP.split(text.strip())
    out = [_name(parts[0])]
    for op, term in zip(parts[1::2], parts[2::2], strict=False):
        out.append(op.upper())
        out.append(_wrap(_name(term)))
    if len(out) > 1:
        out[0] = _wrap(out[0])
    return " ".join(out)


def _wrap(expression: str) -> str:
    return (
        f"({expression})" if " " in expression and "WITH" not in expression.split() else expression
    )


@functools.lru_cache(maxsize=4096)
def spdx_expression(raw: str) -> str:
    """``raw`` (a Debian ``License:`` value, an rpm ``License`` tag, an apk ``L:`` field) as a
    valid SPDX license expression; unknown names become ``LicenseRef-``."""
    text = " ".join(re.sub(r"_(and|or)_", r" \1 ", raw, flags=re.IGNORECASE).split())[:1000]
    if not text:
        return _ref("unknown")
    if not re.search(r"\b(and|or|with)\b", text):  # no Debian/Fedora operators: try SPDX
        direct = _valid(text)
        if direct is not None:
            return direct
    groups = [g for g in re.split(r"\s*,\s*", text) if g]
    if not groups:
        return _ref(text)
    pieces: list[str] = []
    for i, raw_group in enumerate(groups):
        group = raw_group
        m = re.match(r"^(and|or)\s+(.*)$", group, re.IGNORECASE)
        op = "AND"
        if m is not None:
            op, group = m[1].upper(), m[2]
        term = _terms(group)
        if i:
            pieces.append(op)
        pieces.append(f"({term})" if len(groups) > 1 and " " in term else term)
    expression = " ".join(pieces)
    return _valid(expression) or _ref(text)


def copyright_licenses(data: bytes) -> tuple[str, ...]:
    """The licenses a Debian copyright file declares, as SPDX expressions, in order, unique."""
    text = data[:_TEXT_LIMIT].decode("utf-8", "replace")
    lines = text.splitlines()
    found: list[str] = []
    for line in lines:  # DEP-5 License: fields (some files use them without the Format header)
        if line[:8].lower() == "license:":
            value = line[8:].strip()
            if value:
                found.append(spdx_expression(value))
    if not found:
        later = "any later version" in text.lower()
        stated = _stated_gnu(text)
        for name in _COMMON.findall(text):
            if name.lower() in ("", "."):
                continue
            m = _GNU.match(name)
            if m is not None and later and not m[4]:
                found.append(_gnu(m[1] or "", m[2], m[3], True))
            elif name.upper() in ("GPL", "LGPL") and stated and stated.startswith(name.upper()):
                found.append(stated)  # "the GPL" of a text that says which version
            else:
                found.append(_name(name))
        if not found:
            found.extend(_grants(text))
    return tuple(dict.fromkeys(found))


def _stated_gnu(text: str) -> str | None:
    """The GNU license and version a free text states ("GNU General Public License as
    published by the Free Software Foundation; either version 2 ... or any later version")."""
    low = " ".join(text.lower().split())
    m = re.search(
        r"gnu (lesser|library|affero)? ?general public license,? (?:as published by the free "
        r"software foundation[;,]? )?(?:either )?version (\d)(?:\.(\d))?",
        low,
    )
    if m is None:
        return None
    family = {"lesser": "L", "library": "L", "affero": "A"}.get(m[1] or "", "")
    return _gnu(family, m[2], m[3], "any later version" in low)


def _grants(text: str) -> list[str]:
    """Licenses a free-text file quotes or names (when it refers to no common-licenses file)."""
    low = " ".join(text.lower().split())
    out: list[str] = []
    for rule in _table()["texts"]:
        if rule["pattern"] in low:
            out.append(rule["license"])
    stated = _stated_gnu(text)
    if stated:
        out.append(stated)
    if "redistribution and use in source and binary forms" in low:
        if "advertising materials" in low:
            out.append("BSD-4-Clause")
        elif "neither the name" in low or "endorse or promote" in low:
            out.append("BSD-3-Clause")
        else:
            out.append("BSD-2-Clause")
    return out
