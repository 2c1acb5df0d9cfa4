"""Dict <-> frozen dataclass conversion driven by type hints, with JSON paths in errors.

Supports the shapes the record uses: ``str``, ``int``, ``float``, ``bool``, ``None``,
``Literal[...]``, ``tuple[T, ...]``, ``Mapping[str, T]``, unions of those, and nested dataclasses.
Empty values (``None``, ``()``, ``{}``) are dropped by :func:`to_jsonable`, so a record's JSON
holds only what is known, and ``from_dict(to_dict(x)) == x`` whenever the defaults are empty.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar, Union, get_args, get_origin

from .errors import RecordError

T = TypeVar("T")


_SCALARS = (str, bool, int, float)
_SCALAR_TYPES = frozenset({str, bool, int, float, type(None)})
_Convert = Callable[[Any], Any]
_CONVERTERS: dict[type, _Convert] = {}


def _value_converter(tp: Any) -> _Convert | None:
    """How to turn a non-empty value of type ``tp`` into JSON data; None means "as is"."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        convs = [_value_converter(a) for a in options]
        if all(c is None for c in convs):
            return None
        return _generic
    if origin is tuple:
        (item,) = (a for a in get_args(tp) if a is not Ellipsis)
        item_conv = _value_converter(item)
        if item_conv is None:
            return list
        return lambda v: [item_conv(x) for x in v]
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        _, item = get_args(tp)
        inner = _value_converter(item)
        if inner is None:
            return dict
        return lambda v: {k: inner(x) for k, x in v.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dynamic
    return None


def _generic(value: Any) -> Any:
    if type(value) is tuple:
        return [_generic(v) for v in value]
    if type(value) in _SCALAR_TYPES:
        return value
    if isinstance(value, Mapping):
        return {str(k): _generic(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _converter(type(value))(value)
    return value


#: How :func:`_converter` puts a field into the output: as it is unless None (scalars), or
#: through its converter unless None or an empty tuple/mapping.
_AS_IS, _CONVERT = 0, 1
_EMPTYABLE = (tuple, Mapping)


def _instance_converter(tp: type, owner: type) -> _Convert:
    """The converter of a dataclass-typed value: ``tp``'s own, looked up once, unless the value
    is a subclass (or ``tp`` is the class being built): then by the runtime type."""
    if tp is owner:
        return _dynamic
    conv = _converter(tp)

    def convert(x: Any) -> Any:
        return (conv if type(x) is tp else _dynamic)(x)

    return convert


def _field_plan(tp: Any, owner: type) -> tuple[int, _Convert | None]:
    """How a field of type ``tp`` of dataclass ``owner`` converts (see :data:`_AS_IS`)."""
    inner = _value_converter(tp)
    if inner is None:  # a scalar (or a union of scalars)
        return _AS_IS, None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _CONVERT, _instance_converter(tp, owner)
    origin = get_origin(tp)
    if origin is tuple:
        (item,) = (a for a in get_args(tp) if a is not Ellipsis)
        if _value_converter(item) is None:
            return _CONVERT, list
        if dataclasses.is_dataclass(item) and isinstance(item, type):
            one = _instance_converter(item, owner)
            return _CONVERT, lambda x: [one(i) for i in x]
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        _, item = get_args(tp)
        if _value_converter(item) is None:
            return _CONVERT, dict
    return _CONVERT, inner


def _converter(cls: type) -> _Convert:
    """The converter of dataclass ``cls``: the fields read by one ``attrgetter`` call, each put
    by a plan made once per class (no per-value look-up of type hints)."""
    conv = _CONVERTERS.get(cls)
    if conv is not None:
        return conv
    types_of = hints(cls)
    fields = dataclasses.fields(cls)
    _CONVERTERS[cls] = _dynamic  # a class that contains itself converts through the lookup
    plan = tuple(
        (f.metadata.get("json", f.name), *_field_plan(types_of[f.name], cls)) for f in fields
    )
    names = [f.name for f in fields]
    getter = operator.attrgetter(*names) if len(names) > 1 else None

    def convert(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        values = getter(value) if getter is not None else [getattr(value, n) for n in names]
        for (key, mode, inner), x in zip(plan, values, strict=True):
            if x is None:
                continue
            if mode == _AS_IS:
                out[key] = x
            elif x or not isinstance(x, _EMPTYABLE):
                out[key] = inner(x)  # type: ignore[misc]
        return out

    _CONVERTERS[cls] = convert
    return convert


def _dynamic(value: Any) -> Any:
    """Convert a dataclass by its runtime type."""
    return _converter(type(value))(value)


def to_jsonable(value: object) -> Any:
    """A dataclass (or value inside one) as plain JSON data, empty fields dropped."""
    return _generic(value)


_HINTS: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    """The type hints of dataclass ``cls`` (resolved once)."""
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if origin is tuple:
        return "array"
    if origin is not None and issubclass(origin, Mapping):
        return "object"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in names:
        return names[tp]
    if dataclasses.is_dataclass(tp):
        return "object"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Literal:
        if value in get_args(tp):
            return value
        raise RecordError(f"{path}: {value!r} is not one of {_type_name(tp)}")
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors: list[RecordError] = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, path)
            except RecordError as exc:
                errors.append(exc)
        raise RecordError(f"{path}: expected {_type_name(tp)}, got {_json_type(value)}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise RecordError(f"{path}: expected array, got {_json_type(value)}")
        (item,) = (a for a in get_args(tp) if a is not Ellipsis)
        return tuple(_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        if not isinstance(value, Mapping):
            raise RecordError(f"{path}: expected object, got {_json_type(value)}")
        _, item = get_args(tp)
        return MappingProxyType(
            {str(k): _convert(item, v, f"{path}.{k}") for k, v in sorted(value.items())}
        )
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, path=path)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    raise RecordError(f"{path}: expected {_type_name(tp)}, got {_json_type(value)}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def from_dict(cls: type[T], data: Any, *, path: str = "$") -> T:
    """Build dataclass ``cls`` from JSON data; errors name the JSON path of the bad field."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{path}: expected object, got {_json_type(data)}")
    types_of = hints(cls)
    fields = {f.metadata.get("json", f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RecordError(f"{path}: unknown field {unknown[0]!r}")
    kwargs: dict[str, Any] = {}
    for key, f in fields.items():
        if key not in data or data[key] is None:
            no_default = (
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            )
            if no_default:
                raise RecordError(f"{path}: missing required field {key!r}")
            continue
        kwargs[f.name] = _convert(types_of[f.name], data[key], f"{path}.{key}")
    return cls(**kwargs)


#: A code point that is half of a UTF-16 pair: in a Python string it always stands alone (from a
#: ``\\ud800`` JSON or Python escape, or a file name that is not UTF-8) and no writer can encode it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_str(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def clean_text(value: T) -> T:
    """``value`` with every lone surrogate in its strings (dataclass fields, tuples, mapping keys
    and values, recursively) replaced by U+FFFD; the very same object when there is none, so
    the check costs one pass and no copy."""
    return typing.cast(T, _clean(value))


_PLAIN = frozenset({int, float, bool, type(None)})
#: Per dataclass: its field names, and one getter of all their values as a tuple.
_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _fields_of(kind: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    names = tuple(f.name for f in dataclasses.fields(kind))
    if len(names) > 1:
        get: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)
    else:

        def get(v: Any) -> tuple[Any, ...]:
            return tuple(getattr(v, n) for n in names)

    _FIELDS[kind] = (names, get)
    return names, get


def _clean(value: Any) -> Any:
    # A record holds hundreds of thousands of strings and numbers: each is checked in the
    # loop that meets it (ASCII text, a number), and only anything else costs a call.
    kind = type(value)
    if kind is str:
        return value if value.isascii() else _clean_str(value)
    if kind in _PLAIN:
        return value
    if kind is tuple:
        for i, item in enumerate(value):
            t = type(item)
            if (t is str and item.isascii()) or t in _PLAIN:
                continue
            new = _clean(item)
            if new is not item:  # copy only from the first change on
                return (*value[:i], new, *(_clean(v) for v in value[i + 1 :]))
        return value
    if isinstance(value, Mapping):
        for key, item in value.items():
            t = type(item)
            if not ((type(key) is str and key.isascii()) or _clean(key) is key) or not (
                (t is str and item.isascii()) or t in _PLAIN or _clean(item) is item
            ):
                return MappingProxyType({_clean(k): _clean(v) for k, v in value.items()})
        return value
    plan = _FIELDS.get(kind)
    if plan is None:
        if not (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            return value
        plan = _fields_of(kind)
    names, get = plan
    changes: dict[str, Any] | None = None
    for name, before in zip(names, get(value), strict=True):
        t = type(before)
        if (t is str and before.isascii()) or t in _PLAIN:
            continue
        after = _clean(before)
        if after is not before:
            if changes is None:
                changes = {}
            changes[name] = after
    return dataclasses.replace(value, **changes) if changes else value


def frozen_map(items: Mapping[str, T] | None = None) -> Mapping[str, T]:
    """An immutable, key-sorted mapping (dataclass fields must not share mutable state)."""
    return MappingProxyType(dict(sorted((items or {}).items())))


def empty_map() -> Mapping[str, Any]:
    """Default factory for mapping fields."""
    return MappingProxyType({})
