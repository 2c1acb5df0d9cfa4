"""JSON data -> frozen dataclasses, fast: a decoder per type, made once from the type hints.

:func:`nameplate._codec.from_dict` reads the type hints of every value it converts (``get_origin``,
``get_args``, ``is_dataclass``) and builds a JSON path for each, in case it is needed: a
100,000-component record spent most of its loading time there. Here each type gets a decoder
made once (closures over the decoders of its parts: no generated code), which checks the value's
JSON type and nothing else, and replaces lone surrogates in the strings as it meets them (so
what it builds holds Unicode only, as ``Record`` requires). Anything a decoder does not take
raises :class:`Mismatch`, and the data is then converted again by ``_codec.from_dict``, which
either builds the same value or raises the :class:`~nameplate.errors.RecordError` naming the
JSON path of the bad field, exactly as before.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar, Union, get_args, get_origin

from . import _codec

__all__ = ["Mismatch", "decode_fields", "from_dict", "new_unchecked"]

T = TypeVar("T")
_Decode = Callable[[Any], Any]


class Mismatch(Exception):
    """A value the fast decoder does not take: the checked conversion names the error."""


_DECODERS: dict[Any, _Decode] = {}
#: Per dataclass: {JSON key: (field name, decoder)} and the names of the required fields.
_PLANS: dict[type, tuple[dict[str, tuple[str, _Decode]], tuple[str, ...]]] = {}


def _text(value: Any) -> str:
    if type(value) is not str:
        raise Mismatch
    return value if value.isascii() else _codec.clean_text(value)


def _key(key: Any) -> str:
    return key if type(key) is str and key.isascii() else _codec.clean_text(str(key))


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise Mismatch
    return value


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise Mismatch
    return value


def _number(value: Any) -> float:
    if type(value) is not float and type(value) is not int:
        raise Mismatch
    return float(value)


def _same(value: Any) -> Any:
    return value


def _decoder(tp: Any) -> _Decode:
    decode = _DECODERS.get(tp)
    if decode is None:
        decode = _DECODERS[tp] = _make(tp)
    return decode


def _literal(choices: tuple[Any, ...]) -> _Decode:
    def decode(value: Any) -> Any:
        if value in choices:
            return value
        raise Mismatch

    return decode


def _union(options: tuple[Any, ...]) -> _Decode:
    nullable = type(None) in options
    decoders = tuple(_decoder(o) for o in options if o is not type(None))
    if len(decoders) == 1:
        (only,) = decoders

        def one(value: Any) -> Any:
            if value is None:
                if nullable:
                    return None
                raise Mismatch
            return only(value)

        return one

    def first(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise Mismatch
        for decode in decoders:  # in order, as the checked conversion tries them
            try:
                return decode(value)
            except Mismatch:
                continue
        raise Mismatch

    return first


def _array(item: _Decode) -> _Decode:
    def decode(value: Any) -> tuple[Any, ...]:
        if type(value) is not list and type(value) is not tuple:
            raise Mismatch
        return tuple([item(x) for x in value])

    return decode


def _mapping(item: _Decode) -> _Decode:
    def decode(value: Any) -> Mapping[str, Any]:
        if type(value) is not dict:
            raise Mismatch
        return MappingProxyType({_key(k): item(v) for k, v in sorted(value.items())})

    return decode


def _instance(cls: type) -> _Decode:
    def decode(value: Any) -> Any:
        return cls(**decode_fields(cls, value))

    return decode


def _make(tp: Any) -> _Decode:
    origin = get_origin(tp)
    if tp is Any:
        return _same
    if origin is typing.Literal:
        return _literal(get_args(tp))
    if origin in (Union, types.UnionType):
        return _union(get_args(tp))
    if origin is tuple:
        (item,) = (a for a in get_args(tp) if a is not Ellipsis)
        return _array(_decoder(item))
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        _, item = get_args(tp)
        return _mapping(_decoder(item))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _instance(tp)
    simple: dict[Any, _Decode] = {str: _text, bool: _boolean, int: _integer, float: _number}
    if tp in simple:
        return simple[tp]

    def refuse(value: Any) -> Any:
        raise Mismatch

    return refuse


def _plan(cls: type) -> tuple[dict[str, tuple[str, _Decode]], tuple[str, ...]]:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = _codec.hints(cls)
        fields = dataclasses.fields(cls)
        plan = _PLANS[cls] = (
            {f.metadata.get("json", f.name): (f.name, _decoder(hints[f.name])) for f in fields},
            tuple(
                f.name
                for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ),
        )
    return plan


def decode_fields(cls: type, data: Any) -> dict[str, Any]:
    """The keyword arguments of dataclass ``cls`` for the JSON object ``data``, their text
    cleaned of lone surrogates; :class:`Mismatch` for anything the checked conversion would
    have to judge."""
    if type(data) is not dict:
        raise Mismatch
    decoders, required = _plan(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        try:
            name, decode = decoders[key]
        except KeyError:  # an unknown field, even one set to null
            raise Mismatch from None
        if value is not None:
            kwargs[name] = decode(value)
    for name in required:
        if name not in kwargs:
            raise Mismatch
    return kwargs


def from_dict(cls: type[T], data: Any, *, path: str = "$", post_init: bool = True) -> T:
    """``_codec.from_dict(cls, data, path=path)``: the same value or the same error, faster.

    ``post_init=False``: where the fast decoder takes ``data``, the value is made without
    running ``cls.__post_init__`` (:func:`new_unchecked`), whose only work (``Record``'s) is
    the check of its text that the decoder has done."""
    try:
        kwargs = decode_fields(cls, data)
    except Mismatch:
        return _codec.from_dict(cls, data, path=path)
    return cls(**kwargs) if post_init else new_unchecked(cls, kwargs)


_DEFAULTS: dict[type, tuple[tuple[str, Any, Any], ...]] = {}


def new_unchecked(cls: type[T], kwargs: Mapping[str, Any]) -> T:
    """An instance of frozen dataclass ``cls`` from ``kwargs`` (missing fields take their
    defaults) without running its ``__post_init__``: for values whose text is already clean,
    where that check (``Record``'s) would walk every string again."""
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = _DEFAULTS[cls] = tuple(
            (f.name, f.default, f.default_factory)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )
    obj = object.__new__(cls)
    for name, default, factory in defaults:
        if name in kwargs:
            value = kwargs[name]
        elif factory is not dataclasses.MISSING:
            value = factory()
        elif default is not dataclasses.MISSING:
            value = default
        else:
            raise TypeError(f"{cls.__name__}: missing {name!r}")
        object.__setattr__(obj, name, value)
    return obj
