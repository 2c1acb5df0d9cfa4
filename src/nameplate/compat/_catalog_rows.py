"""The rows a record becomes in the catalog, read straight from its JSON data (pure).

A record is indexed from the JSON it was read as (a file, a registry blob), or from
``Record.to_dict()``: either way no ``Record`` is rebuilt. One row per component goes to
``nodes``, with the spec attributes a query filters on as columns: name, version, target, os,
platform, Spack DAG hash, whether it is a root, its variants and the virtuals it provides (read
from the edges that point at it), the last two as lines of text a query tests with a substring
search on the row it already reads. The record's compilers go to ``compilers``.

Private to :mod:`nameplate.compat.catalog`.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["SEP", "Rows", "Term", "option_values", "pack", "rows", "terms", "token", "unpack"]

Term = tuple[str, str, str]
"""A ``terms`` row: ``(kind, name, value)``; kinds ``v`` (a component's name and version),
``c`` (a compiler and its version), ``p`` (a virtual and a component name that provides it),
``t`` (a target)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Rows:
    """One entry's rows, without the record id (the writer assigns it)."""

    head: tuple[Any, ...]
    """``key, ref, origin, repository, tag, platform, subject, version, created``."""
    document: str | bytes
    """The stored JSON, as :func:`pack` made it for the backend."""
    nodes: list[tuple[Any, ...]]
    """``cid, root, name, version, target, os, platform, hash, variants, provides``."""
    compilers: list[tuple[str, str]]
    virtuals: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """``(virtual, name of the component that provides it)``, for ``terms``."""

    @property
    def key(self) -> str:
        """The catalog key."""
        return str(self.head[0])

    @property
    def created(self) -> str:
        """When the record was built (else extracted): the order of query results."""
        return str(self.head[-1])


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAX_DOCUMENT = 256 * 1024 * 1024
"""The largest record JSON a catalog hands back (the size limit of a record file)."""


def pack(json_bytes: bytes, *, postgres: bool) -> str | bytes:
    """How the JSON of a record is stored: text for PostgreSQL (which compresses it, with lz4
    where it can), a zstd frame for SQLite: a quarter of the size, and about a third less
    written per record (the WAL writes every page twice), for some 14 µs of compression."""
    if postgres:
        return json_bytes.decode()
    frame: bytes = _compressor().compress(json_bytes)
    return frame


def unpack(stored: str | bytes, where: str) -> str:
    """The JSON text of a stored document (see :func:`pack`); a frame that claims more than
    a record file may hold, or is not zstd, is a ``CatalogError`` naming ``where``."""
    if isinstance(stored, str):
        return stored
    import zstandard

    from ..errors import CatalogError

    data = bytes(stored)
    if not data.startswith(_ZSTD_MAGIC):
        raise CatalogError(f"{where}: a stored record is neither JSON text nor zstd")
    size = zstandard.frame_content_size(data)
    if size < 0 or size > _MAX_DOCUMENT:
        raise CatalogError(f"{where}: a stored record claims {size} bytes")
    try:
        text: str = _decompressor().decompress(data, max_output_size=size).decode()
        return text
    except (zstandard.ZstdError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{where}: a stored record cannot be read: {exc}") from exc


@functools.cache
def _compressor() -> Any:
    import zstandard

    return zstandard.ZstdCompressor(level=1)


_LOCAL = threading.local()


def _decompressor() -> Any:
    """This thread's decompressor (a new one costs five times a record's decompression; one
    may not be shared between threads)."""
    found = getattr(_LOCAL, "zstd", None)
    if found is None:
        import zstandard

        found = _LOCAL.zstd = zstandard.ZstdDecompressor()
    return found


def option_values(value: object) -> list[str]:
    """The strings a variant value is stored (and queried) as."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\e")


def token(name: str, value: str | None = None) -> str:
    """How a variant (``name=value``) or a virtual (``name``) is found in the ``variants`` or
    ``provides`` column: a line of its own (``SEP`` on both sides), so that a query is a
    substring test on the row it is already reading."""
    text = _escape(name) if value is None else f"{_escape(name)}={_escape(value)}"
    return f"{SEP}{text}{SEP}"


SEP = "\n"
"""What separates the tokens of a ``variants`` or ``provides`` column (escaped inside them)."""


def _tokens(items: list[str]) -> str | None:
    return SEP + SEP.join(items) + SEP if items else None


def _variants(options: Mapping[str, Any]) -> str | None:
    """The ``variants`` column of a component's options."""
    return _tokens(
        [
            _variant(str(name), v)
            for name, value in options.items()
            for v in dict.fromkeys(option_values(value))
        ]
    )


@functools.lru_cache(maxsize=1 << 14)
def _variant(name: str, value: str) -> str:
    """One variant's token (without its separators); the same few come back record after
    record (``mpi=true``, ``build_type=Release``)."""
    return f"{_escape(name)}={_escape(value)}"


def _dag_hash(component: Mapping[str, Any]) -> str | None:
    for h in component.get("hashes") or ():
        if h.get("algorithm") == "spack-dag":
            return str(h.get("value"))
    return None


def rows(
    data: Mapping[str, Any],
    document: str | bytes,
    *,
    key: str,
    ref: str | None = None,
    origin: str | None = None,
    repository: str | None = None,
    tag: str | None = None,
    platform: str | None = None,
) -> Rows:
    """The rows of record ``data`` (schema-valid JSON data) stored as ``document``."""
    subject = data.get("subject") or {}
    prov = data.get("provenance") or {}
    created = str(prov.get("built_at") or prov.get("extracted_at") or "")
    components = data.get("components") or ()
    roots = {str(r) for r in data.get("roots") or ()}
    provides: dict[str, dict[str, None]] = {}
    for edge in data.get("dependencies") or ():
        virtuals = edge.get("virtuals")
        if virtuals:
            have = provides.setdefault(str(edge.get("dependency")), {})
            have.update((str(v), None) for v in virtuals)
    nodes: list[tuple[Any, ...]] = []
    virtuals_seen: list[tuple[str, str]] = []
    for cid, c in enumerate(components):
        cid_text = str(c.get("id"))
        name = str(c.get("name"))
        target = c.get("target")
        options = c.get("options")
        given = provides.get(cid_text)
        if given:
            virtuals_seen.extend((v, name) for v in given)
        nodes.append(
            (
                cid,
                cid_text in roots,
                name,
                str(c.get("version") or ""),
                str(target.get("name")) if target else None,
                c.get("os"),
                c.get("platform"),
                _dag_hash(c),
                _variants(options) if options else None,
                _tokens([_escape(v) for v in given]) if given else None,
            )
        )
    compilers = {
        (str(c.get("name")), str(c.get("version"))): None
        for c in (data.get("hpc") or {}).get("compilers") or ()
    }
    head = (
        key,
        ref,
        origin,
        repository,
        tag,
        platform,
        str(subject.get("name")),
        subject.get("version"),
        created,
    )
    return Rows(head, document, nodes, list(compilers), virtuals_seen)


def terms(batch: list[Rows]) -> Iterator[Term]:
    """The ``terms`` of a batch: every (name, version), compiler, virtual (with the name of a
    provider) and target seen. A query reads them to turn names, version and target ranges
    into lists the indexes can use."""
    for r in batch:
        for node in r.nodes:
            yield ("v", node[2], node[3])
            if node[4] is not None:
                yield ("t", node[4], "")
        for virtual, provider in r.virtuals:
            yield ("p", virtual, provider)
        for name, version in r.compilers:
            yield ("c", name, version)
