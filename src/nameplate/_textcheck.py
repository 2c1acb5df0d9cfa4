"""Is every string of a record Unicode (no lone surrogate)? One look per field, not per value.

``Record`` replaces lone surrogates in its text when it is made (:func:`_codec.clean_text`), a
walk that visits every value of every component one Python call at a time: a fifth of the time
of a 10,000-spec Spack store. Almost always there is nothing to replace, and this answers that
first, by columns: for each field of a dataclass, the values of all its instances at once,
gathered and tested by C iterators (``attrgetter``, ``chain``, ``filterfalse(str.isascii)``),
so that only non-ASCII strings cost a Python step. Nested dataclasses are checked the same way,
all instances of a class together. Where it cannot tell (a value whose type is not the one
the field declares), it answers False and the walk decides.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, filterfalse
from operator import attrgetter, methodcaller
from typing import Any, Union, get_args, get_origin

from . import _codec

__all__ = ["is_clean"]

_Values = Callable[[list[Any]], Iterator[Any]]
#: Per dataclass: getters of its text fields, tuple-of-text fields, dataclass fields (with
#: their class), tuple-of-dataclass fields, and mapping fields.
_Plan = tuple[
    _Values | None,
    _Values | None,
    tuple[tuple[_Values, type], ...],
    tuple[tuple[_Values, type], ...],
    _Values | None,
]
_PLANS: dict[type, _Plan | None] = {}
_SCALARS = frozenset({str, bool, int, float, type(None), tuple})
_values_of = methodcaller("values")


def _column(names: list[str]) -> _Values | None:
    """The values of fields ``names`` of a list of instances, as one iterator."""
    if not names:
        return None
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda objs: map(one, objs)
    many = attrgetter(*names)
    return lambda objs: chain.from_iterable(map(many, objs))


def _bare(tp: Any) -> Any:
    """``tp`` without ``| None``."""
    if get_origin(tp) in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return tp


def _is_text(tp: Any) -> bool:
    if tp is str:
        return True
    return get_origin(tp) is typing.Literal and all(type(a) is str for a in get_args(tp))


def _plan(cls: type) -> _Plan | None:
    if cls in _PLANS:
        return _PLANS[cls]
    text: list[str] = []
    texts: list[str] = []
    objects: list[tuple[_Values, type]] = []
    arrays: list[tuple[_Values, type]] = []
    maps: list[str] = []
    hints = _codec.hints(cls)
    for f in dataclasses.fields(cls):
        tp = _bare(hints[f.name])
        origin = get_origin(tp)
        item = get_args(tp)[0] if origin is tuple else None
        if _is_text(tp):
            text.append(f.name)
        elif origin is tuple and _is_text(item):
            texts.append(f.name)
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            objects.append((_column([f.name]), tp))  # type: ignore[arg-type]
        elif origin is tuple and isinstance(item, type) and dataclasses.is_dataclass(item):
            arrays.append((_column([f.name]), item))  # type: ignore[arg-type]
        elif isinstance(origin, type) and issubclass(origin, Mapping):
            maps.append(f.name)
        elif tp not in (bool, int, float):  # a type this check does not know: the walk decides
            plan = _PLANS[cls] = None
            return None
    plan = _PLANS[cls] = (
        _column(text),
        _column(texts),
        tuple(objects),
        tuple(arrays),
        _column(maps),
    )
    return plan


def _strings(values: Iterable[Any]) -> bool:
    """Every one of ``values`` (strings) is Unicode; a TypeError for a value that is not a
    string. Only the non-ASCII ones cost a Python step."""
    for text in filterfalse(str.isascii, values):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _same_class(objs: list[Any], cls: type) -> bool:
    return not objs or set(map(type, objs)) == {cls}


def _mappings(maps: list[Mapping[Any, Any]]) -> bool:
    values = list(chain.from_iterable(map(_values_of, maps)))
    if not set(map(type, values)) <= _SCALARS:
        return False
    return (
        _strings(chain.from_iterable(maps))  # the keys
        and _strings(filter(str.__instancecheck__, values))
        and _strings(chain.from_iterable(filter(tuple.__instancecheck__, values)))
    )


def _all(cls: type, objs: list[Any]) -> bool:
    plan = _plan(cls)
    if plan is None:
        return False
    text, texts, objects, arrays, maps = plan
    if text is not None and not _strings(filter(None, text(objs))):
        return False
    if texts is not None and not _strings(chain.from_iterable(texts(objs))):
        return False
    for values, kind in objects:
        found = list(filter(None, values(objs)))
        if not (_same_class(found, kind) and _all(kind, found)):
            return False
    for values, kind in arrays:
        found = list(chain.from_iterable(values(objs)))
        if not (_same_class(found, kind) and _all(kind, found)):
            return False
    return maps is None or _mappings(list(filter(None, maps(objs))))


def is_clean(value: object) -> bool:
    """True when dataclass ``value`` surely holds no lone surrogate in any string; False when
    it may (then :func:`_codec.clean_text` walks it)."""
    try:
        return _all(type(value), [value])
    except (TypeError, AttributeError):  # a value that is not what its field declares
        return False
