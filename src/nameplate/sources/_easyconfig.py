"""Read an EasyBuild easyconfig (``*.eb``) without executing it.

EasyBuild itself ``exec``\\ s easyconfigs with full builtins, so a file found in an install or an
image could run anything. This module parses the text with :mod:`ast` and evaluates a small,
bounded subset of Python over plain data: literals, names, ``+ - * / // %``, comparisons,
f-strings, subscripts and slices, comprehensions, whitelisted builtins (``len``, ``sorted``,
``range``...) and ``str``/``list``/``dict`` methods, and top-level ``=``, ``+=``, ``if``/``elif``,
``for`` and ``x.append(...)`` statements. EasyBuild's constants (``SYSTEM``, ``SOURCE_TAR_GZ``,
``GITHUB_SOURCE``...) come from ``vocab/easybuild-toolchains.json``. Whatever cannot be evaluated
becomes an :class:`Unresolved` value, never an exception; every evaluation is bounded in steps
and in the size of the values it builds, so a hostile file ends in an unknown, not a hang.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _resources
from ..errors import InputTooLarge, SourceError

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
#: Evaluation steps allowed for one file (the whole collection needs < 2,000 per file).
MAX_STEPS = 200_000
#: Largest string or container an evaluation may build.
MAX_SIZE = 1_000_000
#: Longest ``range()`` and ``for`` loop.
MAX_LOOP = 10_000

_TEMPLATE = re.compile(r"%\((\w+)\)s")
#: %-format specifiers with a huge or ``*`` width/precision (``'%999999999s' % x``)
_WIDE_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{5,}|\.\*|\.\d{5,})")
#: str.format fields with attribute/index access, nested fields or a huge width
_BAD_FORMAT = re.compile(r"\{[^{}]*(?:[.\[]|:[^{}]*(?:\d{5,}|\{))")
_WIDE_SPEC = re.compile(r"\d{5,}")


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


class _Budget(Exception):
    """Raised inside the evaluator when a bound is hit; turned into an Unresolved."""


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


# ---------------------------------------------------------------- the evaluator


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    return 1


def _check(value: Any) -> Any:
    if _size(value) > MAX_SIZE:
        raise _Budget("value too large")
    return value


def _safe_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        if _WIDE_PERCENT.search(left):
            raise _Budget("format width too large")
        if not isinstance(right, (str, int, float, bool, tuple, dict)):
            raise TypeError("% of unsupported value")
        return left % right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left % right
    raise TypeError("unsupported %")


def _safe_mult(left: Any, right: Any) -> Any:
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
            if _size(seq) * max(n, 0) > MAX_SIZE:
                raise _Budget("repetition too large")
            return seq * n
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        if abs(left) > 2**64 or abs(right) > 2**64:
            raise _Budget("number too large")
        return left * right
    raise TypeError("unsupported *")


def _safe_add(left: Any, right: Any) -> Any:
    if isinstance(left, (str, list, tuple)) and type(left) is type(right):
        if _size(left) + _size(right) > MAX_SIZE:
            raise _Budget("value too large")
        joined: Any = left + right  # type: ignore[operator]  # same type, checked above
        return joined
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left + right
    raise TypeError("unsupported +")


def _numbers(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def op(left: Any, right: Any) -> Any:
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return fn(left, right)
        raise TypeError("numbers only")

    return op


def _safe_range(*args: Any) -> range:
    if not all(isinstance(a, int) for a in args):
        raise TypeError("range() of non-integers")
    r = range(*args)
    if len(r) > MAX_LOOP:
        raise _Budget("range too long")
    return r


def _safe_format(text: Any, *args: Any, **kwargs: Any) -> str:
    if not isinstance(text, str) or _BAD_FORMAT.search(text):
        raise _Budget("format() field with attribute access, nesting or a huge width")
    if any(not isinstance(a, (str, int, float, bool)) for a in (*args, *kwargs.values())):
        raise TypeError("format() of non-scalar")
    return text.format(*args, **kwargs)


def _safe_replace(text: Any, old: Any, new: Any, *rest: Any) -> str:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        raise TypeError("replace() of non-strings")
    grow = (text.count(old) if old else len(text) + 1) * len(new)
    if len(text) + grow > MAX_SIZE:
        raise _Budget("replace result too large")
    return text.replace(old, new, *rest)


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _safe_add,
    ast.Sub: _numbers(lambda a, b: a - b),
    ast.Mult: _safe_mult,
    ast.Div: _numbers(lambda a, b: a / b),
    ast.FloorDiv: _numbers(lambda a, b: a // b),
    ast.Mod: _safe_mod,
}

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.Lt: lambda a, b: bool(a < b),
    ast.LtE: lambda a, b: bool(a <= b),
    ast.Gt: lambda a, b: bool(a > b),
    ast.GtE: lambda a, b: bool(a >= b),
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
}

_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len,
    "sorted": sorted,
    "range": _safe_range,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "set": set,
    "zip": lambda *a: list(zip(*a, strict=False)),
    "enumerate": lambda a, *s: list(enumerate(a, *s)),
    "min": min,
    "max": max,
    "any": any,
    "all": all,
    "reversed": lambda a: list(reversed(a)),
}

_STR_METHODS = {
    "join", "split", "rsplit", "lower", "upper", "strip", "lstrip", "rstrip", "startswith",
    "endswith", "count", "find", "rfind", "index", "isdigit", "partition", "rpartition",
    "splitlines", "title", "capitalize", "removeprefix", "removesuffix",
}  # fmt: skip
_LIST_METHODS = {"index", "count", "copy"}
_DICT_METHODS = {"get", "keys", "values", "items", "copy"}
_MUTATORS = {"append", "extend", "insert", "update", "pop", "remove"}


class _Evaluator:
    def __init__(self, env: dict[str, Any], arch: str) -> None:
        self.env = env
        self.arch = arch
        self.steps = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget("evaluation step limit reached")

    # expressions -------------------------------------------------------
    def evaluate(self, node: ast.expr, scope: Mapping[str, Any] | None = None) -> Any:
        self.tick()
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise TypeError(f"unsupported expression {type(node).__name__}")
        result: Any = method(node, scope or {})
        return _check(result)

    def _Constant(self, node: ast.Constant, scope: Mapping[str, Any]) -> Any:
        if isinstance(node.value, (str, int, float, bool, type(None))):
            return node.value
        raise TypeError("unsupported constant")

    def _Name(self, node: ast.Name, scope: Mapping[str, Any]) -> Any:
        name = node.id
        if name in scope:
            return scope[name]
        if name in self.env:
            return self.env[name]
        if name == "ARCH":
            return self.arch
        consts = constants()
        if name in consts:
            return consts[name]
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        raise NameError(f"name {name!r} is not defined")

    def _List(self, node: ast.List, scope: Mapping[str, Any]) -> Any:
        return [self.evaluate(e, scope) for e in node.elts]

    def _Tuple(self, node: ast.Tuple, scope: Mapping[str, Any]) -> Any:
        return tuple(self.evaluate(e, scope) for e in node.elts)

    def _Set(self, node: ast.Set, scope: Mapping[str, Any]) -> Any:
        # EasyBuild keeps a set as a set; we keep the written order (sets of tuples in 8 files)
        return [self.evaluate(e, scope) for e in node.elts]

    def _Dict(self, node: ast.Dict, scope: Mapping[str, Any]) -> Any:
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=False):
            if k is None:
                extra = self.evaluate(v, scope)
                if not isinstance(extra, dict):
                    raise TypeError("** of non-dict")
                out.update(extra)
            else:
                key = self.evaluate(k, scope)
                hash(key)
                out[key] = self.evaluate(v, scope)
        return out

    def _BinOp(self, node: ast.BinOp, scope: Mapping[str, Any]) -> Any:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise TypeError(f"unsupported operator {type(node.op).__name__}")
        return op(self.evaluate(node.left, scope), self.evaluate(node.right, scope))

    def _UnaryOp(self, node: ast.UnaryOp, scope: Mapping[str, Any]) -> Any:
        value = self.evaluate(node.operand, scope)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(node.op, ast.USub) and isinstance(value, (int, float)):
            return -value
        if isinstance(node.op, ast.UAdd) and isinstance(value, (int, float)):
            return value
        raise TypeError("unsupported unary operator")

    def _BoolOp(self, node: ast.BoolOp, scope: Mapping[str, Any]) -> Any:
        result: Any = None
        for value_node in node.values:
            result = self.evaluate(value_node, scope)
            if isinstance(node.op, ast.And) and not result:
                return result
            if isinstance(node.op, ast.Or) and result:
                return result
        return result

    def _Compare(self, node: ast.Compare, scope: Mapping[str, Any]) -> Any:
        left = self.evaluate(node.left, scope)
        for op, right_node in zip(node.ops, node.comparators, strict=False):
            right = self.evaluate(right_node, scope)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp, scope: Mapping[str, Any]) -> Any:
        if self.evaluate(node.test, scope):
            return self.evaluate(node.body, scope)
        return self.evaluate(node.orelse, scope)

    def _JoinedStr(self, node: ast.JoinedStr, scope: Mapping[str, Any]) -> Any:
        parts: list[str] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                inner = self.evaluate(value.value, scope)
                if not isinstance(inner, (str, int, float, bool)):
                    raise TypeError("f-string of non-scalar")
                spec = ""
                if value.format_spec is not None:
                    spec = str(self.evaluate(value.format_spec, scope))
                    if _WIDE_SPEC.search(spec):
                        raise _Budget("format width too large")
                if value.conversion == ord("r"):
                    inner = repr(inner)
                parts.append(format(inner, spec))
            else:
                raise TypeError("unsupported f-string part")
        return "".join(parts)

    def _Subscript(self, node: ast.Subscript, scope: Mapping[str, Any]) -> Any:
        value = self.evaluate(node.value, scope)
        if not isinstance(value, (str, list, tuple, dict)):
            raise TypeError("subscript of unsupported value")
        index = self.evaluate(node.slice, scope)
        return value[index]

    def _Slice(self, node: ast.Slice, scope: Mapping[str, Any]) -> Any:
        def part(n: ast.expr | None) -> Any:
            return None if n is None else self.evaluate(n, scope)

        return slice(part(node.lower), part(node.upper), part(node.step))

    def _comprehension(
        self, generators: list[ast.comprehension], scope: Mapping[str, Any]
    ) -> Iterable[dict[str, Any]]:
        if not generators:
            yield dict(scope)
            return
        first, rest = generators[0], generators[1:]
        if first.is_async:
            raise TypeError("async comprehension")
        iterable = self.evaluate(first.iter, scope)
        if not isinstance(iterable, (list, tuple, str, dict, range)):
            raise TypeError("iteration over unsupported value")
        for item in iterable:
            self.tick()
            inner = dict(scope)
            self._bind(first.target, item, inner)
            if all(self.evaluate(cond, inner) for cond in first.ifs):
                yield from self._comprehension(rest, inner)

    def _ListComp(self, node: ast.ListComp, scope: Mapping[str, Any]) -> Any:
        out = []
        for inner in self._comprehension(node.generators, scope):
            out.append(self.evaluate(node.elt, inner))
            if len(out) > MAX_LOOP:
                raise _Budget("comprehension too long")
        return out

    _GeneratorExp = _ListComp

    def _SetComp(self, node: ast.SetComp, scope: Mapping[str, Any]) -> Any:
        return self._ListComp(node, scope)  # type: ignore[arg-type]

    def _DictComp(self, node: ast.DictComp, scope: Mapping[str, Any]) -> Any:
        out: dict[Any, Any] = {}
        for inner in self._comprehension(node.generators, scope):
            key = self.evaluate(node.key, inner)
            hash(key)
            out[key] = self.evaluate(node.value, inner)
            if len(out) > MAX_LOOP:
                raise _Budget("comprehension too long")
        return out

    def _Call(self, node: ast.Call, scope: Mapping[str, Any]) -> Any:
        args: list[Any] = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                extra = self.evaluate(a.value, scope)
                if not isinstance(extra, (list, tuple)):
                    raise TypeError("* of non-sequence")
                args.extend(extra)
            else:
                args.append(self.evaluate(a, scope))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise TypeError("** in call")
            kwargs[kw.arg] = self.evaluate(kw.value, scope)
        func = node.func
        if isinstance(func, ast.Name):
            builtin = _BUILTINS.get(func.id)
            if builtin is None or func.id in scope or func.id in self.env:
                raise TypeError(f"call of {func.id!r} is not allowed")
            if func.id in ("str", "repr") and args and not isinstance(args[0], (str, int, float)):
                raise TypeError("str() of non-scalar")
            return builtin(*args, **kwargs)
        if isinstance(func, ast.Attribute):
            target = self.evaluate(func.value, scope)
            return self._method(target, func.attr, args, kwargs)
        raise TypeError("unsupported call")

    def _method(self, target: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if isinstance(target, str):
            if name == "format":
                return _safe_format(target, *args, **kwargs)
            if name == "replace":
                return _safe_replace(target, *args)
            if name in _STR_METHODS:
                return getattr(target, name)(*args, **kwargs)
        elif isinstance(target, (list, tuple)) and name in _LIST_METHODS:
            return getattr(target, name)(*args, **kwargs)
        elif isinstance(target, dict) and name in _DICT_METHODS:
            result = getattr(target, name)(*args, **kwargs)
            return list(result) if name in ("keys", "values", "items") else result
        raise TypeError(f"method {name!r} is not allowed")

    # statements ----------------------------------------------------------
    def _bind(self, target: ast.expr, value: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            scope[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(value, (list, tuple)) or len(value) != len(target.elts):
                raise TypeError("cannot unpack")
            for t, v in zip(target.elts, value, strict=False):
                self._bind(t, v, scope)
        else:
            raise TypeError("unsupported assignment target")


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
                self.assign(name, _check(op(current, value)))
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
    for key, value in values.items():
        if key not in unresolved and _contains_unresolved(value):
            unresolved[key] = "part of the value is unresolved"
    return Easyconfig(values=values, unresolved=unresolved, ignored=tuple(reader.ignored))


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


# ---------------------------------------------------------------- templates


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
