"""Read an EasyBuild easyconfig (``*.eb``) without executing it.

EasyBuild itself ``exec``\\ s easyconfigs with full builtins, so a file found in an install or an
image could run anything. This module parses the text with :mod:`ast` and evaluates a small,
bounded subset of Python over plain data: literals, names, ``+ - * / // %``, comparisons,
f-strings, subscripts and slices, comprehensions, whitelisted builtins (``len``, ``sorted``,
``range``...) and ``str``/``list``/``dict`` methods, and top-level ``=``, ``+=``, ``if``/``elif``,
``for`` and ``x.append(...)`` statements. EasyBuild's constants (``SYSTEM``, ``SOURCE_TAR_GZ``,
``GITHUB_SOURCE``...) come from ``vocab/easybuild-toolchains.json``. Whatever cannot be evaluated
becomes an :class:`Unresolved` value, never an exception; every evaluation is bounded in steps
and in the size of the values it builds, so a hostile file ends in an unknown, not a hang. The
expression evaluator is :mod:`.evaluator`; the constants and templates are :mod:`.templates`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import InputTooLarge, SourceError
from .evaluator import _BINOPS, _MUTATORS, MAX_LOOP, MAX_WEIGHT, _Budget, _check, _Evaluator
from .templates import constants, resolve_templates, template_values

__all__ = [
    "Easyconfig",
    "Unresolved",
    "constants",
    "parse_easyconfig",
    "resolve_templates",
    "template_values",
]

#: Largest easyconfig read (the largest file of the 5.4.1 collection is about 200 kB).
MAX_TEXT = 4 * 1024 * 1024
#: Heaviest set of parameters one file may leave (see :data:`.evaluator.MAX_WEIGHT`).
MAX_TOTAL = 4 * MAX_WEIGHT


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A value the reader could not compute without executing code (``expr`` is its source)."""

    expr: str
    reason: str

    def __str__(self) -> str:
        return f"<unresolved: {self.expr}>"


@dataclass(frozen=True, kw_only=True, slots=True)
class Easyconfig:
    """The top-level parameters of an easyconfig: raw values (templates not resolved).

    ``local_*`` helper variables are dropped, as EasyBuild drops them. ``unresolved`` maps a
    parameter to the reason its value (or part of it) could not be computed; ``ignored`` lists
    statements that were skipped (imports, function definitions, ``while`` loops...).
    """

    values: Mapping[str, Any]
    unresolved: Mapping[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value of ``key`` (an :class:`Unresolved` where it could not be computed)."""
        return self.values.get(key, default)


class _Reader:
    def __init__(self, arch: str) -> None:
        self.env: dict[str, Any] = {}
        self.unresolved: dict[str, str] = {}
        self.ignored: list[str] = []
        self.ev = _Evaluator(self.env, arch)

    def value(self, node: ast.expr) -> Any:
        try:
            return self.ev.evaluate(node)
        except _Budget as exc:
            return Unresolved(_source(node), str(exc))
        except (RecursionError, MemoryError) as exc:
            return Unresolved(_source(node), type(exc).__name__)
        except Exception as exc:
            return Unresolved(_source(node), f"{type(exc).__name__}: {exc}"[:200])

    def assign(self, name: str, value: Any) -> None:
        self.env[name] = value
        if isinstance(value, Unresolved):
            self.unresolved[name] = value.reason
        else:
            self.unresolved.pop(name, None)

    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            try:
                self.ev.tick()
                self.statement(stmt)
            except _Budget as exc:
                self.ignored.append(f"line {stmt.lineno}: {exc}")
                return
            except RecursionError:
                self.ignored.append(f"line {stmt.lineno}: nesting too deep")

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            value = self.value(stmt.value)
            for target in stmt.targets:
                self.bind(target, value, stmt)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.bind(stmt.target, self.value(stmt.value), stmt)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            current = self.env.get(name, Unresolved(name, "not defined"))
            value = self.value(stmt.value)
            if isinstance(current, Unresolved) or isinstance(value, Unresolved):
                self.assign(name, Unresolved(_source(stmt), "operand unresolved"))
                return
            op = _BINOPS.get(type(stmt.op))
            try:
                if op is None:
                    raise TypeError("unsupported operator")
                result = op(current, value)
                self.ev.charge(result)
                self.assign(name, self.ev.check(result))
            except (_Budget, TypeError, ValueError, KeyError) as exc:
                self.assign(name, Unresolved(_source(stmt), str(exc)))
        elif isinstance(stmt, ast.If):
            test = self.value(stmt.test)
            if isinstance(test, Unresolved):
                self.ignored.append(f"line {stmt.lineno}: if {test.expr}: {test.reason}")
                for name in _assigned(stmt):
                    self.assign(name, Unresolved(name, "assigned under an unresolved condition"))
                return
            self.run(stmt.body if test else stmt.orelse)
        elif isinstance(stmt, ast.For) and not stmt.orelse:
            iterable = self.value(stmt.iter)
            if not isinstance(iterable, (list, tuple, str, dict, range)):
                self.ignored.append(f"line {stmt.lineno}: for loop over an unresolved value")
                for name in _assigned(stmt):
                    self.assign(name, Unresolved(name, "assigned in an unresolved loop"))
                return
            for count, item in enumerate(iterable):
                if count >= MAX_LOOP:
                    raise _Budget("loop too long")
                try:
                    self.ev._bind(stmt.target, item, self.env)
                except TypeError:
                    return
                self.run(stmt.body)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.mutate(stmt)
        elif isinstance(stmt, (ast.Pass, ast.Expr)):
            return
        else:
            self.ignored.append(f"line {stmt.lineno}: {type(stmt).__name__} statement skipped")
            for name in _assigned(stmt):
                self.assign(name, Unresolved(name, f"assigned in a {type(stmt).__name__}"))

    def bind(self, target: ast.expr, value: Any, stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            self.assign(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (list, tuple)) and len(value) == len(target.elts):
                for t, v in zip(target.elts, value, strict=False):
                    self.bind(t, v, stmt)
            else:
                for name in _names(target):
                    self.assign(name, Unresolved(_source(stmt), "cannot unpack"))
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            container = self.env.get(target.value.id)
            key = self.value(target.slice)
            self.ev.mutated()
            if isinstance(container, dict) and not isinstance(key, Unresolved):
                try:
                    container[key] = value
                    return
                except TypeError:
                    pass
            elif (
                isinstance(container, list)
                and isinstance(key, int)
                and -len(container) <= key < len(container)
            ):
                container[key] = value
                return
            self.ignored.append(f"line {stmt.lineno}: item assignment skipped")
        else:
            self.ignored.append(f"line {stmt.lineno}: assignment target skipped")

    def mutate(self, stmt: ast.Expr) -> None:
        call = stmt.value
        assert isinstance(call, ast.Call)
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.attr in _MUTATORS
            and not call.keywords
        ):
            self.ignored.append(f"line {stmt.lineno}: call {_source(call)[:60]} skipped")
            return
        name = func.value.id
        target = self.env.get(name)
        args = [self.value(a) for a in call.args]
        if any(isinstance(a, Unresolved) for a in args) or not isinstance(target, (list, dict)):
            self.assign(name, Unresolved(_source(stmt), f"{func.attr}() on an unresolved value"))
            return
        try:
            method = getattr(target, func.attr)
            self.ev.mutated()
            method(*args)
            _check(target)
        except (_Budget, TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            self.assign(name, Unresolved(_source(stmt), str(exc)))


def _names(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _assigned(stmt: ast.stmt) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                out.update(_names(t) if not isinstance(t, ast.Subscript) else _names(t.value))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                out.add(func.value.id)
    return out


def _source(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:200]
    except Exception:
        return type(node).__name__


def parse_easyconfig(text: str | bytes, *, where: str, arch: str = "x86_64") -> Easyconfig:
    """The parameters of easyconfig ``text``, read without executing it.

    ``arch`` is the value of EasyBuild's ``ARCH`` constant (files branch on it). Raises
    :class:`~nameplate.errors.SourceError` only when the text is not Python at all; values that
    cannot be computed come back as :class:`Unresolved`.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_TEXT:
            raise InputTooLarge(f"{where}: easyconfig larger than {MAX_TEXT} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{where}: easyconfig is not UTF-8 text: {exc.reason}") from exc
    if len(text) > MAX_TEXT:
        raise InputTooLarge(f"{where}: easyconfig larger than {MAX_TEXT} bytes")
    try:
        tree = ast.parse(text, filename=where)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        line = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise SourceError(f"{where}: not a readable easyconfig: {detail}{line}") from exc
    reader = _Reader(arch)
    reader.run(tree.body)
    values = {
        k: v
        for k, v in reader.env.items()
        if not k.startswith(("local_", "_")) and k.isidentifier()
    }
    unresolved = {k: v for k, v in reader.unresolved.items() if k in values}
    _bound_values(reader.ev, values, unresolved)
    for key, value in values.items():
        if key not in unresolved and _contains_unresolved(value):
            unresolved[key] = "part of the value is unresolved"
    return Easyconfig(values=values, unresolved=unresolved, ignored=tuple(reader.ignored))


def _bound_values(ev: _Evaluator, values: dict[str, Any], unresolved: dict[str, str]) -> None:
    """Weigh what the file leaves (a container changed in place since it was last weighed is
    weighed again): a value over the bounds, or past :data:`MAX_TOTAL` for the whole file,
    becomes :class:`Unresolved`, so whatever reads the values later stays bounded too."""
    total = 0
    for key, value in values.items():
        try:
            total += ev.weigh(value)
            if total > MAX_TOTAL:
                raise _Budget("the file's values are too large in all")
        except _Budget as exc:
            values[key] = Unresolved(key, str(exc))
            unresolved[key] = str(exc)


def _contains_unresolved(value: Any, depth: int = 0) -> bool:
    if isinstance(value, Unresolved):
        return True
    if depth > 50:
        return False
    if isinstance(value, (list, tuple)):
        return any(_contains_unresolved(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_contains_unresolved(v, depth + 1) for v in value.values())
    return False
