"""Read EasyBuild-generated module files (Lmod Lua and Tcl) as text, never through a module tool.

Only the statements EasyBuild writes are recognised, line by line: ``depends_on``/``load``
(``depends-on``/``module load`` in Tcl), ``local root =``/``set root``, ``setenv`` of the
``EBROOT*``/``EBVERSION*``/``EBDEVEL*`` variables, ``whatis`` Description/Homepage lines,
``extensions(...)``, ``module use`` and the ``Built with EasyBuild version`` footer. Anything
else is ignored; nothing is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ...errors import InputTooLarge, SourceError
from ...record import Unknown

__all__ = ["ModuleFile", "parse_modulefile", "skipped_unknowns", "sniff_syntax"]

#: Largest module file read (EasyBuild's are a few kB).
MAX_MODULE = 1024 * 1024

_LUA_STR = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|\[(=*)\[(.*?)\]\3\])"""
_LUA_CALL = re.compile(
    r"^\s*(depends_on|load|always_load|prereq|setenv|extensions|whatis|conflict)"
    r"\s*\(\s*" + _LUA_STR + r"(?:\s*,\s*" + _LUA_STR + r")?",
    re.S,
)
_LUA_ROOT = re.compile(r'^\s*local\s+root\s*=\s*"((?:[^"\\]|\\.)*)"')
_TCL_CMD = re.compile(
    r"^\s*(depends-on|module\s+load|prereq|setenv|module-whatis|conflict|"
    r"module\s+use|extensions|set\s+root)\s+(.*)$"
)
_FOOTER = re.compile(r"Built with EasyBuild version (\S+)")
#: A module name as Lmod and Environment Modules take it: ``name/version`` (or deeper), each
#: part non-empty, no ``.``/``..`` part, no whitespace or control characters.
_MODULE_PART = re.compile(r"^[^\s/\x00-\x1f\x7f]+$")


def _module_name(text: str) -> bool:
    parts = text.split("/")
    return all(_MODULE_PART.match(p) and p not in (".", "..") for p in parts)


@dataclass(frozen=True, kw_only=True, slots=True)
class ModuleFile:
    """The facts of a module file. ``depends_on`` are module names in file order; ``skipped``
    the arguments of ``depends_on``/``load`` that are no module name (``""``, ``"/"``)."""

    syntax: Literal["Lua", "Tcl"]
    root: str | None = None
    depends_on: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    homepage: str | None = None
    extensions: tuple[str, ...] = ()
    module_use: tuple[str, ...] = ()
    easybuild_version: str | None = None
    skipped: tuple[str, ...] = ()

    @property
    def ebroot_name(self) -> str | None:
        """The software name EasyBuild upper-cased into ``EBROOT<NAME>``."""
        for key in self.env:
            if key.startswith("EBROOT"):
                return key[len("EBROOT") :]
        return None


def sniff_syntax(text: str) -> Literal["Lua", "Tcl"] | None:
    """``Lua``, ``Tcl`` or None when ``text`` does not look like an EasyBuild module file."""
    head = text.lstrip()[:200]
    if head.startswith("#%Module"):
        return "Tcl"
    if "Built with EasyBuild" in text[-400:] or "EBROOT" in text:
        if re.search(r"^\s*(help|whatis|setenv|depends_on|prepend_path)\s*\(", text, re.M):
            return "Lua"
        if re.search(r"^\s*(setenv|prepend-path|module-whatis)\s", text, re.M):
            return "Tcl"
    return None


def _lua_arg(groups: tuple[str | None, ...]) -> str | None:
    double, single, _eq, long = groups
    for value in (double, single):
        if value is not None:
            return re.sub(r"\\(.)", r"\1", value)
    return long


def _tcl_words(text: str) -> list[str]:
    words: list[str] = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|\{([^{}]*)\}|(\S+)', text):
        word = m.group(1) if m.group(1) is not None else m.group(2) or m.group(3) or ""
        words.append(word)
    return words


def _split_whatis(value: str, out: dict[str, str]) -> None:
    key, _, rest = value.partition(":")
    if rest and key.strip() in ("Description", "Homepage"):
        out.setdefault(key.strip(), rest.strip())


def _statements(text: str) -> list[str]:
    """Lines, with Lua long strings (``[==[...]==]``) kept in one statement."""
    out: list[str] = []
    buf: list[str] = []
    closing: str | None = None
    for line in text.splitlines():
        if closing is not None:
            buf.append(line)
            if closing in line:
                out.append("\n".join(buf))
                buf, closing = [], None
            continue
        m = re.search(r"\[(=*)\[", line)
        if m and f"]{m.group(1)}]" not in line[m.end() :]:
            closing = f"]{m.group(1)}]"
            buf = [line]
            continue
        out.append(line)
    if buf:
        out.append("\n".join(buf))
    return out


def parse_modulefile(text: str | bytes, *, where: str) -> ModuleFile:
    """The facts of module file ``text``; ``SourceError`` if it is not an EasyBuild module."""
    if isinstance(text, bytes):
        if len(text) > MAX_MODULE:
            raise InputTooLarge(f"{where}: module file larger than {MAX_MODULE} bytes")
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_MODULE:
        raise InputTooLarge(f"{where}: module file larger than {MAX_MODULE} bytes")
    syntax = sniff_syntax(text)
    if syntax is None:
        raise SourceError(f"{where}: not an EasyBuild module file (no EBROOT/Built with EasyBuild)")
    root: str | None = None
    deps: list[str] = []
    skipped: list[str] = []
    env: dict[str, str] = {}
    whatis: dict[str, str] = {}
    extensions: list[str] = []
    module_use: list[str] = []
    for stmt in _statements(text):
        if syntax == "Lua":
            m_root = _LUA_ROOT.match(stmt)
            if m_root:
                root = m_root.group(1)
                continue
            m = _LUA_CALL.match(stmt)
            if not m:
                continue
            cmd = m.group(1)
            first = _lua_arg(m.groups()[1:5])
            second = _lua_arg(m.groups()[5:9])
            if first is None:
                continue
            if cmd in ("depends_on", "load", "always_load", "prereq"):
                (deps if _module_name(first) else skipped).append(first)
            elif cmd == "setenv" and second is not None:
                env[first] = second
            elif cmd == "setenv" and first.startswith("EB"):
                # setenv("EBROOTX", root) / pathJoin(root, ...): keep that it is set
                env[first] = ""
            elif cmd == "whatis":
                _split_whatis(first, whatis)
            elif cmd == "extensions":
                extensions.extend(e for e in first.split(",") if e)
        else:
            m = _TCL_CMD.match(stmt)
            if not m:
                continue
            cmd = re.sub(r"\s+", " ", m.group(1))
            words = _tcl_words(m.group(2))
            if not words:
                continue
            if cmd == "set root":
                root = words[0]
            elif cmd in ("depends-on", "module load", "prereq"):
                for word in words:
                    (deps if _module_name(word) else skipped).append(word)
            elif cmd == "setenv" and len(words) >= 2:
                env[words[0]] = words[1]
            elif cmd == "module-whatis":
                _split_whatis(" ".join(words), whatis)
            elif cmd == "extensions":
                extensions.extend(words)
            elif cmd == "module use":
                module_use.extend(words)
    footer = _FOOTER.search(text[-400:])
    return ModuleFile(
        syntax=syntax,
        root=root,
        depends_on=tuple(dict.fromkeys(deps)),
        env=env,
        description=whatis.get("Description"),
        homepage=whatis.get("Homepage"),
        extensions=tuple(extensions),
        module_use=tuple(module_use),
        easybuild_version=footer.group(1) if footer else None,
        skipped=tuple(skipped),
    )


def skipped_unknowns(mod: ModuleFile, where: str) -> list[Unknown]:
    """An unknown per ``depends_on`` argument of ``mod`` that names no module."""
    return [
        Unknown(
            path=where,
            field="dependencies",
            reason=f"depends_on({repr(arg)[:60]}): not a module name; skipped",
        )
        for arg in mod.skipped
    ]
