"""Loading a record file one component at a time, in bounded memory.

``json.loads`` of a 130 MB record builds about 450 MB of dicts before a single component
exists, on top of the bytes read; the record then holds its own copy of every string. This
reader decodes the file in chunks and parses the top-level object itself: each element of
``components`` and ``dependencies`` is decoded alone (the standard library's C scanner,
``raw_decode``), checked against its schema definition and turned into its dataclass at once,
so the only whole thing in memory is the record being built. Short strings (ids, names,
versions, kinds, variant values) are shared, so an edge's ids are the very strings of its
components', and equal targets, variant maps and edge types are one object each.

Validation is the schema's: each element is checked against its definition in every released
schema version (the file's ``schema_version`` may come after its components), the rest of the
record against the full schema. Anything this reader does not accept as a valid record
(a syntax error, a schema error, an unknown version) is :class:`Fallback`: the caller then
loads the file the plain way, which reports the error exactly as before, with its JSON path.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import _decode
from .record import Component, CpuTarget, Dependency, Record

__all__ = ["Fallback", "load"]


class Fallback(Exception):
    """The file is not a record this reader takes: load it the plain way."""


_CHUNK = 1 << 20
"""Bytes read at a time (a buffer grows past this only for an element larger than it)."""
_SHARED = 40
"""Strings shorter than this are shared (ids, names, versions, kinds, variant values...)."""
_ARRAYS = {"components": Component, "dependencies": Dependency}
_COMPONENT_STRINGS = (
    "id",
    "name",
    "version",
    "kind",
    "ecosystem",
    "status",
    "namespace",
    "platform",
    "os",
)
"""The fields of a component whose values repeat (or, for ``id``, are repeated by edges)."""
_EDGE_KEYS = frozenset({"dependent", "dependency", "types", "virtuals", "direct"})
"""An edge with only these keys (every field of :class:`Dependency`, checked by a test) is
built without the generic codec."""
_WS = " \t\n\r"


class _Reader:
    """A str buffer over a file of UTF-8 JSON, refilled on demand."""

    def __init__(self, path: Path, limit: int) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - closed by load()
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.read_total = 0
        self.limit = limit

    def more(self) -> bool:
        if self.eof:
            return False
        data = self.file.read(_CHUNK)
        self.read_total += len(data)
        if self.read_total > self.limit:
            raise Fallback  # the plain loader names the limit
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise Fallback from exc
        self.eof = not data
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self.more():
                return ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise Fallback
        self.pos += 1

    def value(self, decode: Callable[[str, int], tuple[Any, int]]) -> Any:
        """One JSON value; the character after it is in the buffer (so that a number is
        never cut short by the end of a chunk)."""
        self.peek()
        while True:
            try:
                value, end = decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.more():
                    continue
                raise Fallback from exc
            if end < len(self.buf) or self.eof:
                self.pos = end
                return value
            if not self.more():
                self.pos = end
                return value


@functools.cache
def _validators() -> dict[str, dict[str, Any]]:
    """Released version → {definition name → jsonschema-rs validator of that definition}."""
    import jsonschema_rs

    from . import _resources
    from .schema import RELEASED

    out: dict[str, dict[str, Any]] = {}
    for version, name in RELEASED.items():
        schema = _resources.load_json("schemas", name)
        defs = schema.get("$defs", {})
        out[version] = {
            key: jsonschema_rs.validator_for(
                {"$schema": schema.get("$schema"), "$ref": f"#/$defs/{d}", "$defs": defs},
                validate_formats=True,
            )
            for key, d in (("components", "Component"), ("dependencies", "Dependency"))
        }
    return out


class _Builder:
    """Turns elements into dataclasses, sharing equal small values."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.objects: dict[Any, Any] = {}
        self.valid = set(_validators())
        self.items: dict[str, list[Any]] = {key: [] for key in _ARRAYS}

    def share(self, value: Any) -> Any:
        """``value`` (JSON data) with its short strings replaced by shared ones."""
        if isinstance(value, str):
            return self.strings.setdefault(value, value) if len(value) < _SHARED else value
        if isinstance(value, dict):
            return {self.share(k): self.share(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.share(v) for v in value]
        return value

    def _fields(self, data: dict[str, Any], names: tuple[str, ...]) -> None:
        """Share the (short string) values of ``names`` in ``data``, in place."""
        strings = self.strings
        for name in names:
            value = data.get(name)
            if isinstance(value, str) and len(value) < _SHARED:
                data[name] = strings.setdefault(value, value)

    def one(self, value: Any) -> Any:
        """The one object equal to ``value`` (a frozen, hashable value)."""
        return self.objects.setdefault(value, value)

    def add(self, key: str, data: Any) -> None:
        for version, validators in _validators().items():
            try:
                valid = version not in self.valid or validators[key].is_valid(data)
            except UnicodeEncodeError as exc:  # a key holding a lone surrogate: read whole
                raise Fallback from exc
            if not valid:
                self.valid.discard(version)
        if not self.valid:
            raise Fallback
        if key == "components":
            self._fields(data, _COMPONENT_STRINGS)
            for h in data.get("hashes") or ():
                self._fields(h, ("algorithm",))
            if data.get("licenses"):
                data["licenses"] = [self.share(x) for x in data["licenses"]]
        else:
            self._fields(data, ("dependent", "dependency"))
            if data.keys() <= _EDGE_KEYS and _ascii(data):
                # the common edge, built directly (the generic codec costs 4x more)
                self.items[key].append(
                    Dependency(
                        dependent=data["dependent"],
                        dependency=data["dependency"],
                        types=self.one(tuple(data["types"])),
                        virtuals=self.one(tuple(data.get("virtuals") or ())),
                        direct=data.get("direct"),
                    )
                )
                return
        try:  # the decoder cleans the text it meets (lone surrogates), see load()
            cls = _ARRAYS[key]
            item: Any = cls(**_decode.decode_fields(cls, data))
        except Exception as exc:  # the plain loader reports it
            raise Fallback from exc
        self.items[key].append(self._shared(item))

    def _shared(self, item: Any) -> Any:
        if isinstance(item, Dependency):
            types, virtuals = self.one(item.types), self.one(item.virtuals)
            if types is not item.types or virtuals is not item.virtuals:
                item = dataclasses.replace(item, types=types, virtuals=virtuals)
            return item
        changes: dict[str, Any] = {}
        if isinstance(item.target, CpuTarget):
            target = self.one(item.target)
            if target is not item.target:
                changes["target"] = target
        for name in ("options", "licenses", "found_by", "flags"):
            value = getattr(item, name)
            key = (name, tuple(value.items())) if isinstance(value, Mapping) else (name, value)
            if value and _hashable(key):
                same = self.objects.setdefault(key, value)
                if same is not value:
                    changes[name] = same
        for name, value in changes.items():
            # ``item`` was made just now and is held nowhere else: set in place (a replace()
            # runs the whole __init__ again, a third of the time of building a component)
            object.__setattr__(item, name, value)
        return item


def _ascii(edge: dict[str, Any]) -> bool:
    """The text of an edge is ASCII (so holds no lone surrogate: see load())."""
    return bool(
        edge["dependent"].isascii()
        and edge["dependency"].isascii()
        and all(v.isascii() for v in edge.get("virtuals") or ())
    )


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _elements(reader: _Reader, decode: Callable[[str, int], tuple[Any, int]]) -> Iterator[Any]:
    reader.expect("[")
    if reader.peek() == "]":
        reader.pos += 1
        return
    while True:
        yield reader.value(decode)
        nxt = reader.peek()
        reader.pos += 1
        if nxt == "]":
            return
        if nxt != ",":
            raise Fallback


def load(path: str | Path, *, limit: int) -> Record:
    """The record in ``path``, read one element at a time; :class:`Fallback` when it is not
    a valid record (or not one this reader takes)."""
    from . import schema
    from .errors import NameplateError

    decode = json.JSONDecoder().raw_decode
    builder = _Builder()
    rest: dict[str, Any] = {}
    try:
        reader = _Reader(Path(path), limit)
    except OSError as exc:
        raise Fallback from exc
    try:
        reader.expect("{")
        if reader.peek() == "}":
            raise Fallback
        while True:
            key = reader.value(decode)
            if not isinstance(key, str):
                raise Fallback
            reader.expect(":")
            if key in _ARRAYS and reader.peek() == "[":
                if builder.items[key]:
                    raise Fallback  # a repeated key: the plain loader keeps the last one
                for data in _elements(reader, decode):
                    builder.add(key, data)
                rest[key] = []
            else:
                rest[key] = reader.value(decode)
            nxt = reader.peek()
            reader.pos += 1
            if nxt == "}":
                break
            if nxt != ",":
                raise Fallback
        if reader.peek() != "":
            raise Fallback
    except (RecursionError, OSError, MemoryError) as exc:
        raise Fallback from exc
    finally:
        reader.file.close()
    version = rest.get("schema_version")
    if not isinstance(version, str) or version not in builder.valid:  # a list is unhashable
        raise Fallback
    try:
        schema.validate(rest)
        top = Record.from_dict(builder.share(rest))
    except NameplateError as exc:
        raise Fallback from exc
    builder.strings.clear()
    # Every string of the parts is clean (the decoder replaced lone surrogates, an edge built
    # directly is ASCII), and so is ``top``'s (Record.from_dict): the record is made without
    # __post_init__'s walk over every string again.
    fields = {f.name: getattr(top, f.name) for f in dataclasses.fields(Record)}
    fields["components"] = tuple(builder.items["components"])
    fields["dependencies"] = tuple(builder.items["dependencies"])
    return _decode.new_unchecked(Record, fields)
