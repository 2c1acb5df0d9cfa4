"""Helpers shared by the exporters: property flattening, stable ordering, digests, JSON bytes.

HPC fields that a standard has no slot for travel as ``name=value`` properties under our own
namespace, :data:`NS` (``nameplate:``; never ``spack:``, which the Spack project registered with
CycloneDX). :func:`flatten` turns a JSON value into such pairs by its path, so every field
survives, and :func:`unflatten` reads them back.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, BinaryIO

import orjson

from ..errors import ExportError
from ..record import Component, Dependency, Hash, Record

NS = "nameplate"

#: Record hash algorithm → CycloneDX ``hash.alg`` (others become properties).
CDX_HASH_ALGS: Mapping[str, str] = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "sha3-256": "SHA3-256",
    "sha3-384": "SHA3-384",
    "sha3-512": "SHA3-512",
    "blake2b-256": "BLAKE2b-256",
    "blake2b-384": "BLAKE2b-384",
    "blake2b-512": "BLAKE2b-512",
    "blake3": "BLAKE3",
}

#: Record hash algorithm → SPDX checksum algorithm (2.3 and 3.0 share the names, case aside).
SPDX_HASH_ALGS: Mapping[str, str] = {
    "md5": "MD5",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
    "sha3-256": "SHA3-256",
    "sha3-384": "SHA3-384",
    "sha3-512": "SHA3-512",
    "blake2b-256": "BLAKE2b-256",
    "blake2b-384": "BLAKE2b-384",
    "blake2b-512": "BLAKE2b-512",
    "blake3": "BLAKE3",
}

#: Fields of a component that the exporters map to a standard slot (the rest become properties).
MAPPED_COMPONENT_FIELDS = frozenset(
    {
        "id",
        "name",
        "version",
        "kind",
        "purl",
        "cpe",
        "description",
        "homepage",
        "licenses",
        "sources",
    }
)


#: Component kind → CycloneDX component ``type`` and SPDX 3 ``software_primaryPurpose`` (both
#: standards use these same names for these kinds).
COMPONENT_PURPOSE: Mapping[str, str] = MappingProxyType(
    {
        "package": "library",
        "library": "library",
        "os-package": "library",
        "application": "application",
        "compiler": "application",
        "toolchain": "framework",
        "image": "container",
    }
)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    """``value`` (JSON data) as ``(name, text)`` pairs named by path, ``:``-separated.

    Objects add their key, arrays of objects add the index, arrays of scalars repeat the name
    once per item; booleans are ``true``/``false``.
    """
    out: list[tuple[str, str]] = []
    _flatten(prefix, value, out)
    return out


_SCALARS = (str, bool, int, float)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    # exact type checks first: ABC checks (Mapping) cost more than the rest of the work
    kind = type(value)
    if kind in _SCALARS:
        out.append((prefix, _scalar(value)))
    elif kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
        for key in sorted(value):
            _flatten(f"{prefix}:{key}", value[key], out)
    elif kind is list or kind is tuple or isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if type(item) in _SCALARS:
                out.append((prefix, _scalar(item)))
            elif isinstance(item, Mapping | list | tuple):
                _flatten(f"{prefix}:{i}", item, out)
            else:
                out.append((prefix, _scalar(item)))
    elif value is not None:
        out.append((prefix, _scalar(value)))


def unflatten(pairs: Iterable[tuple[str, str]], prefix: str) -> dict[str, list[str]]:
    """The pairs under ``prefix`` as ``{rest of name: [values]}`` (the reader for tests/tools)."""
    out: dict[str, list[str]] = {}
    head = prefix + ":"
    for name, value in pairs:
        if name.startswith(head):
            out.setdefault(name[len(head) :], []).append(value)
    return out


def hpc_pairs(record: Record) -> list[tuple[str, str]]:
    """The record's HPC fields (and subject) as ``nameplate:hpc:...`` pairs."""
    return flatten(f"{NS}:hpc", _jsonable(record.hpc))


@functools.cache
def _component_fields() -> tuple[str, ...]:
    """The fields :func:`component_pairs` writes, and ``deptypes``, sorted (the order of
    their pairs)."""
    names = [
        f.name
        for f in dataclasses.fields(Component)
        if f.name not in MAPPED_COMPONENT_FIELDS and f.name != "properties"
    ]
    return tuple(sorted([*names, "deptypes"]))


Memo = dict[tuple[str, int], tuple[Any, list[tuple[str, str]]]]
"""The pairs of a field's value by the value's identity (the value is kept with them, so
that the identity stays its own while the memo lives): a record read by ``load_record`` shares
equal targets and variant maps between components, and each is flattened once."""


def component_pairs(
    component: Component, deptypes: Iterable[str] = (), memo: Memo | None = None
) -> list[tuple[str, str]]:
    """The fields of ``component`` that have no standard slot, as ``nameplate:...`` pairs
    (``memo``: one :data:`Memo` for every component of one export)."""
    pairs: list[tuple[str, str]] = []
    for name in _component_fields():
        if name == "deptypes":
            pairs.extend((f"{NS}:deptypes", t) for t in sorted(set(deptypes)))
            continue
        value = getattr(component, name)
        kind = type(value)
        if kind in _SCALARS:  # exact types first: most fields are strings and booleans
            pairs.append((f"{NS}:{name}", _scalar(value)))
            continue
        if value is None or value == () or (isinstance(value, Mapping) and not value):
            continue
        if name == "hashes":  # a digest per component: not shared, and the commonest field
            for i, h in enumerate(value):
                pairs.append((f"{NS}:hashes:{i}:algorithm", h.algorithm))
                pairs.append((f"{NS}:hashes:{i}:value", h.value))
            continue
        slot = (name, id(value))
        known = memo.get(slot) if memo is not None else None
        if known is None:
            known = (value, flatten(f"{NS}:{name}", _jsonable(value)))
            if memo is not None:
                memo[slot] = known
        pairs.extend(known[1])
    # Properties already carry their own namespace (``syft:...``); others get ours.
    for key, value in sorted(component.properties.items()):
        pairs.append((key if ":" in key else f"{NS}:property:{key}", value))
    return pairs


def _jsonable(value: object) -> Any:
    from .._codec import to_jsonable

    return to_jsonable(value)


def record_part(record: Record, name: str) -> Any:
    """One top-level field of the record as JSON data (cheaper than ``record.to_dict()``)."""
    return _jsonable(getattr(record, name))


def sorted_components(record: Record) -> list[Component]:
    """Components in a stable order: by id; ``ExportError`` when two share an id (every
    format names components by id, so the export would be ambiguous or invalid)."""
    out = sorted(record.components, key=lambda c: c.id)
    for before, after in itertools.pairwise(out):
        if before.id == after.id:
            raise ExportError(f"record {record.serial}: two components have the id {after.id!r}")
    return out


def sorted_edges(record: Record) -> list[Dependency]:
    """Dependency edges in a stable order: by (dependent, dependency)."""
    return sorted(record.dependencies, key=lambda d: (d.dependent, d.dependency, d.types))


def incoming_types(record: Record) -> dict[str, frozenset[str]]:
    """Component id → the union of the types of the edges that point at it (equal unions
    are one shared set: a record of 100,000 components has a handful of them)."""
    out: dict[str, frozenset[str]] = {}
    shared: dict[frozenset[str], frozenset[str]] = {}
    empty: frozenset[str] = frozenset()
    for edge in record.dependencies:
        union = out.get(edge.dependency, empty).union(edge.types)
        out[edge.dependency] = shared.setdefault(union, union)
    return out


def build_only(record: Record) -> set[str]:
    """Ids of components reached only by ``build``/``test`` edges (tools, not shipped code)."""
    runtime: set[str] = set(record.roots)
    tools: set[str] = set()
    for edge in record.dependencies:
        if {"link", "run"} & set(edge.types):
            runtime.add(edge.dependency)
        else:
            tools.add(edge.dependency)
    return tools - runtime


def digest_hashes(hashes: Iterable[Hash], table: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(standard algorithm, value)`` for the hashes the standard knows, sorted."""
    return sorted((table[h.algorithm], h.value) for h in hashes if h.algorithm in table)


def is_url(text: str | None) -> bool:
    """True for an absolute URL (``scheme://...``); sources sometimes carry junk like ``None``."""
    if not text:
        return False
    scheme, sep, rest = text.partition("://")
    return bool(sep and rest and scheme.replace("+", "").replace("-", "").isalnum())


def dump_json(data: Any) -> bytes:
    """Compact JSON bytes (insertion order kept, trailing newline).

    Compact, because Python's C encoder only runs without ``indent``: pretty printing made a
    2,000-component CycloneDX document three times slower. Pipe through ``jq`` to read it.
    """
    return (_dumps(data) + "\n").encode()


def _dumps(data: Any) -> str:
    """Compact JSON text, as ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` writes
    it. orjson writes the same text five times faster for the data exports hold (strings,
    integers, booleans, null: a record has no floats); anything it refuses (a lone surrogate,
    an integer over 64 bits) goes to the standard library, which decides as before."""
    try:
        return orjson.dumps(data).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class Items:
    """A JSON array whose items are made while it is written (see :func:`write_json`)."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)


class Spine(dict[str, Any]):
    """A JSON object holding :class:`Items` (or other spines) among its values."""


def nonempty(items: Iterable[Any]) -> Items | None:
    """``items`` as :class:`Items`, or None when there is none (so that a key can be left
    out, as a document built whole would)."""
    it = iter(items)
    first = next(it, _NONE)
    if first is _NONE:
        return None
    return Items(itertools.chain([first], it))


_NONE = object()


def iter_json(data: Any) -> Iterator[str]:
    """The text of :func:`dump_json` (without its newline), in pieces: each item of an
    :class:`Items` is encoded on its own, so that no more than one exists at a time."""
    if isinstance(data, Spine):
        yield "{"
        for i, (key, value) in enumerate(data.items()):
            yield ("," if i else "") + _dumps(key) + ":"
            yield from iter_json(value)
        yield "}"
    elif isinstance(data, Items):
        # plain items are encoded a few hundred to a piece (a generator step per item cost
        # as much as encoding it)
        pending: list[str] = ["["]
        for i, item in enumerate(data):
            if isinstance(item, Spine | Items):
                yield "".join(pending) + ("," if i else "")
                pending = []
                yield from iter_json(item)
                continue
            pending.append("," + _dumps(item) if i else _dumps(item))
            if len(pending) >= 256:
                yield "".join(pending)
                pending = []
        pending.append("]")
        yield "".join(pending)
    else:
        yield _dumps(data)


def write_text(pieces: Iterable[str], out: BinaryIO, *, chunk: int = 1 << 16) -> None:
    """Write text ``pieces`` to ``out`` as UTF-8, in writes of about ``chunk`` characters."""
    buf: list[str] = []
    size = 0
    for piece in pieces:
        buf.append(piece)
        size += len(piece)
        if size >= chunk:
            out.write("".join(buf).encode())
            buf, size = [], 0
    if buf:
        out.write("".join(buf).encode())


def write_json(data: Any, out: BinaryIO) -> None:
    """Write :func:`dump_json`'s bytes of ``data`` (which may hold :class:`Items`) to ``out``."""
    write_text(itertools.chain(iter_json(data), ["\n"]), out)


def materialize(data: Any) -> Any:
    """``data`` with every :class:`Items` and :class:`Spine` made a plain list and dict."""
    if isinstance(data, Spine):
        return {k: materialize(v) for k, v in data.items()}
    if isinstance(data, Items):
        return [materialize(v) for v in data]
    return data


def tool_string(record: Record) -> str:
    """``nameplate-0.1.0`` style name of the generator that made the record."""
    gen = record.provenance.generator
    return f"{gen.name}-{gen.version}" if gen.version else gen.name
