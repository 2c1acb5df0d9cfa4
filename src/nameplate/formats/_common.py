"""Helpers shared by the exporters: property flattening, stable ordering, digests, JSON bytes.

HPC fields that a standard has no slot for travel as ``name=value`` properties under our own
namespace, :data:`NS` (``nameplate:``; never ``spack:``, which the Spack project registered with
CycloneDX). :func:`flatten` turns a JSON value into such pairs by its path, so every field
survives, and :func:`unflatten` reads them back.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

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
    if isinstance(value, Mapping):
        for key in sorted(value):
            out.extend(flatten(f"{prefix}:{key}", value[key]))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if isinstance(item, Mapping | list | tuple):
                out.extend(flatten(f"{prefix}:{i}", item))
            else:
                out.append((prefix, _scalar(item)))
    elif value is not None:
        out.append((prefix, _scalar(value)))
    return out


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


def component_pairs(component: Component, deptypes: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The fields of ``component`` that have no standard slot, as ``nameplate:...`` pairs."""
    data: dict[str, Any] = {}
    for f in dataclasses.fields(component):
        if f.name in MAPPED_COMPONENT_FIELDS or f.name == "properties":
            continue
        value = getattr(component, f.name)
        if value is None or value == () or (isinstance(value, Mapping) and not value):
            continue
        data[f.name] = _jsonable(value)
    types = sorted(set(deptypes))
    if types:
        data["deptypes"] = types
    pairs = flatten(NS, data)
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


def incoming_types(record: Record) -> dict[str, set[str]]:
    """Component id → the union of the types of the edges that point at it."""
    out: dict[str, set[str]] = {}
    for edge in record.dependencies:
        out.setdefault(edge.dependency, set()).update(edge.types)
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
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def tool_string(record: Record) -> str:
    """``nameplate-0.1.0`` style name of the generator that made the record."""
    gen = record.provenance.generator
    return f"{gen.name}-{gen.version}" if gen.version else gen.name
