"""The bounded expression evaluator behind :mod:`.easyconfig` (plain data, no ``exec``).

:class:`_Evaluator` computes one :mod:`ast` expression over literals, names, ``+ - * / // %``,
comparisons, f-strings, subscripts and slices, comprehensions, whitelisted builtins and
``str``/``list``/``dict`` methods. Every step and every value built is bounded; a bound hit raises
:class:`_Budget`, which the reader turns into an ``Unresolved`` value.

Three budgets bound a file by the size of what it builds, not only by time: the elements and
characters of every new value (:data:`MAX_BUILT` per file), the *weight* of each value (what
writing it out would cost: a container shared ``n`` times counts ``n`` times, so ``d = {'a': d,
'b': d}`` repeated 60 times weighs 2**60 and is refused at once, :data:`MAX_WEIGHT`), and the
nodes visited to weigh values (:data:`MAX_VISITS` per file). A value that contains itself is
refused too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .templates import constants

__all__ = ["MAX_BUILT", "MAX_LOOP", "MAX_SIZE", "MAX_STEPS", "MAX_VISITS", "MAX_WEIGHT"]

#: Evaluation steps allowed for one file (the whole collection needs < 2,000 per file).
MAX_STEPS = 200_000
#: Largest string or container an evaluation may build.
MAX_SIZE = 1_000_000
#: Longest ``range()`` and ``for`` loop.
MAX_LOOP = 10_000
#: Heaviest value: characters plus elements reached, a shared container counted each time.
MAX_WEIGHT = 1_000_000
#: Elements and characters of all the values one file may build (memory and time, bounded).
MAX_BUILT = 10_000_000
#: Nodes one file may visit to weigh its values.
MAX_VISITS = 10_000_000
#: Deepest nesting of a value.
MAX_DEPTH = 100
#: %-format specifiers with a huge or ``*`` width/precision (``'%999999999s' % x``)
_WIDE_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{5,}|\.\*|\.\d{5,})")
#: str.format fields with attribute/index access, nested fields or a huge width
_BAD_FORMAT = re.compile(r"\{[^{}]*(?:[.\[]|:[^{}]*(?:\d{5,}|\{))")
_WIDE_SPEC = re.compile(r"\d{5,}")


class _Budget(Exception):
    """Raised inside the evaluator when a bound is hit; turned into an Unresolved."""


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


_CONTAINERS = (list, tuple, dict)
_CONTAINER_TYPES = frozenset(_CONTAINERS)
_SCALARS = frozenset({int, float, bool, type(None)})
_SIZED = frozenset({str, bytes, list, tuple, dict, set, frozenset})
#: Nodes whose value already exists (a name, an item of a value): nothing new is built.
_EXISTING = frozenset({ast.Name, ast.Subscript})
_MEMO_LIMIT = 100_000


class _Evaluator:
    def __init__(self, env: dict[str, Any], arch: str) -> None:
        self.env = env
        self.arch = arch
        self.steps = 0
        self.built = 0
        self.visits = 0
        #: id -> (container, weight, depth); holds the container so that its id stays its own.
        #: Cleared whenever a statement mutates a container (its weight, or a holder's, changed).
        self._weights: dict[int, tuple[Any, int, int]] = {}

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget("evaluation step limit reached")

    def charge(self, value: Any) -> None:
        """Count a newly built value against the file's :data:`MAX_BUILT`."""
        self.built += _size(value)
        if self.built > MAX_BUILT:
            raise _Budget("the file builds values that are too large in all")

    def mutated(self) -> None:
        """A container was changed in place: every weight known may be stale."""
        self._weights.clear()

    def weigh(self, value: Any) -> int:
        """The weight of ``value``; :class:`_Budget` past :data:`MAX_WEIGHT` or
        :data:`MAX_DEPTH`, for a value that contains itself, or when the file has weighed too
        much already."""
        return self._weigh(value, set())[0]

    def _weigh(self, value: Any, active: set[int]) -> tuple[int, int]:
        """(weight, depth) of a container, memoised."""
        if type(value) is range:
            return len(value) + 1, 0
        if not isinstance(value, _CONTAINERS):
            return (len(value) + 1 if isinstance(value, str) else 1), 0
        key = id(value)
        known = self._weights.get(key)
        if known is not None and known[0] is value:
            return known[1], known[2]
        if key in active:
            raise _Budget("a value contains itself")
        self.visits += len(value) + 1
        if self.visits > MAX_VISITS:
            raise _Budget("the file's values are too large to weigh")
        active.add(key)
        total, depth = 1, 1
        items: Iterable[Any] = (
            [x for kv in value.items() for x in kv] if isinstance(value, dict) else value
        )
        for item in items:
            kind = type(item)
            if kind is str:
                total += len(item) + 1
            elif kind is int or kind is float or kind is bool or item is None:
                total += 1
            else:
                weight, inner = self._weigh(item, active)
                total += weight
                depth = max(depth, inner + 1)
                if depth > MAX_DEPTH:
                    raise _Budget("value nested too deeply")
            if total > MAX_WEIGHT:
                raise _Budget("value too large (shared parts counted each time they appear)")
        active.discard(key)
        if len(self._weights) >= _MEMO_LIMIT:
            self._weights.clear()
        self._weights[key] = (value, total, depth)
        return total, depth

    def check(self, value: Any) -> Any:
        """``value``, if its size and weight are within bounds."""
        _check(value)
        if isinstance(value, _CONTAINERS):
            self.weigh(value)
        return value

    # expressions -------------------------------------------------------
    def evaluate(self, node: ast.expr, scope: Mapping[str, Any] | None = None) -> Any:
        self.tick()
        kind = type(node)
        if kind is ast.Constant:  # text of the file itself: bounded by the file's size
            return self._Constant(node, scope or {})  # type: ignore[arg-type]
        method = getattr(self, "_" + kind.__name__, None)
        if method is None:
            raise TypeError(f"unsupported expression {kind.__name__}")
        result: Any = method(node, scope or {})
        made = type(result)
        if made in _SCALARS:
            return result
        size = len(result) if made in _SIZED else 1
        if size > MAX_SIZE:
            raise _Budget("value too large")
        if kind not in _EXISTING:  # a new value: count what it built
            self.built += size
            if self.built > MAX_BUILT:
                raise _Budget("the file builds values that are too large in all")
        if made in _CONTAINER_TYPES:
            self.weigh(result)
        return result

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
