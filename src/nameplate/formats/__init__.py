"""Export records to standard formats, and import SBOMs made by other tools.

:func:`encode` turns a :class:`~nameplate.record.Record` into the bytes of one format; each format
lives in its own module and only *maps* record fields (a value the record lacks is never computed
here). Output is deterministic: serial numbers, timestamps and references come from the record,
and components and edges are sorted, so the same record gives the same bytes whatever the order
of its components.

========================  =====================================  ==============================
name (aliases)            what                                   media type
========================  =====================================  ==============================
``cyclonedx-json``        CycloneDX 1.6 JSON (``cyclonedx``,      ``application/vnd.cyclonedx+json``
                          ``cdx``, ``cyclonedx-1.6-json``)
``cyclonedx-1.7-json``    CycloneDX 1.7 JSON                      ``application/vnd.cyclonedx+json``
``cyclonedx-xml``         CycloneDX 1.6 XML                       ``application/vnd.cyclonedx+xml``
                          (``cyclonedx-1.6-xml``)
``cyclonedx-1.7-xml``     CycloneDX 1.7 XML                       ``application/vnd.cyclonedx+xml``
``spdx-2.3``              SPDX 2.3 JSON (``spdx``, ``spdx-json``)  ``application/spdx+json``
``spdx-3.0.1``            SPDX 3.0.1 JSON-LD (``spdx3``)          ``application/spdx3+json``
``jsonld``                the record as JSON-LD (``json-ld``)     ``application/ld+json``
``turtle``                the record as Turtle (``ttl``)          ``text/turtle``
``intoto-slsa``           in-toto Statement, SLSA Provenance v1   ``application/vnd.in-toto+json``
                          (``slsa``, ``intoto``)
``intoto-cyclonedx``      in-toto Statement wrapping CycloneDX    ``application/vnd.in-toto+json``
``nfd``                   node-feature-discovery image-           ``application/vnd.nfd.image-``
                          compatibility spec, YAML                ``compatibility.v1alpha1``
                          (``nfd-image-compatibility``)
========================  =====================================  ==============================
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import BinaryIO

from ..errors import ExportError
from ..record import Record

__all__ = [
    "ALIASES",
    "EXTENSIONS",
    "FORMATS",
    "LAYER_TYPES",
    "MEDIA_TYPES",
    "PREDICATE_TYPES",
    "WRITERS",
    "encode",
    "resolve",
    "write",
]

Encoder = Callable[[Record], bytes]
Writer = Callable[[Record, BinaryIO], None]


def _cdx(version: str, fmt: str) -> Writer:
    def write_cdx(record: Record, out: BinaryIO) -> None:
        from . import cyclonedx

        cyclonedx.write(record, out, version=version, fmt=fmt)

    return write_cdx


def _spdx2(record: Record, out: BinaryIO) -> None:
    from . import spdx2

    spdx2.write(record, out)


def _spdx3(record: Record, out: BinaryIO) -> None:
    from . import spdx3

    spdx3.write(record, out)


def _jsonld(record: Record, out: BinaryIO) -> None:
    from . import jsonld

    jsonld.write(record, out, fmt="json-ld")


def _turtle(record: Record, out: BinaryIO) -> None:
    from . import jsonld

    jsonld.write(record, out, fmt="turtle")


def _slsa(record: Record, out: BinaryIO) -> None:
    from . import intoto

    intoto.write_slsa(record, out)


def _intoto_cdx(record: Record, out: BinaryIO) -> None:
    from . import intoto

    intoto.write_cyclonedx(record, out)


def _nfd(record: Record, out: BinaryIO) -> None:
    from . import nfd

    out.write(nfd.encode(record))


#: Format name → writer (record, binary stream): every format is written as it is made, a
#: component at a time, so exporting a record needs little memory beyond the record itself.
WRITERS: Mapping[str, Writer] = MappingProxyType(
    {
        "cyclonedx-json": _cdx("1.6", "json"),
        "cyclonedx-1.7-json": _cdx("1.7", "json"),
        "cyclonedx-xml": _cdx("1.6", "xml"),
        "cyclonedx-1.7-xml": _cdx("1.7", "xml"),
        "spdx-2.3": _spdx2,
        "spdx-3.0.1": _spdx3,
        "jsonld": _jsonld,
        "turtle": _turtle,
        "intoto-slsa": _slsa,
        "intoto-cyclonedx": _intoto_cdx,
        "nfd": _nfd,
    }
)


def _encoder(writer: Writer) -> Encoder:
    def encode_to_bytes(record: Record) -> bytes:
        buf = io.BytesIO()
        writer(record, buf)
        return buf.getvalue()

    return encode_to_bytes


#: Format name → encoder (record → bytes). Modules are imported on first use.
FORMATS: Mapping[str, Encoder] = MappingProxyType(
    {name: _encoder(writer) for name, writer in WRITERS.items()}
)

#: Format name → IANA (or de-facto) media type, usable as an OCI ``artifactType``.
MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "cyclonedx-json": "application/vnd.cyclonedx+json",
        "cyclonedx-1.7-json": "application/vnd.cyclonedx+json",
        "cyclonedx-xml": "application/vnd.cyclonedx+xml",
        "cyclonedx-1.7-xml": "application/vnd.cyclonedx+xml",
        "spdx-2.3": "application/spdx+json",
        "spdx-3.0.1": "application/spdx3+json",
        "jsonld": "application/ld+json",
        "turtle": "text/turtle",
        "intoto-slsa": "application/vnd.in-toto+json",
        "intoto-cyclonedx": "application/vnd.in-toto+json",
        "nfd": "application/vnd.nfd.image-compatibility.v1alpha1",
    }
)

#: Formats whose OCI layer media type differs from their artifact type (NFD's own convention).
LAYER_TYPES: Mapping[str, str] = MappingProxyType(
    {"nfd": "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml"}
)

#: Format name → the usual file name extension.
EXTENSIONS: Mapping[str, str] = MappingProxyType(
    {
        "cyclonedx-json": ".cdx.json",
        "cyclonedx-1.7-json": ".cdx.json",
        "cyclonedx-xml": ".cdx.xml",
        "cyclonedx-1.7-xml": ".cdx.xml",
        "spdx-2.3": ".spdx.json",
        "spdx-3.0.1": ".spdx3.json",
        "jsonld": ".jsonld",
        "turtle": ".ttl",
        "intoto-slsa": ".intoto.json",
        "intoto-cyclonedx": ".intoto.json",
        "nfd": ".nfd.yaml",
    }
)

#: in-toto formats → their ``predicateType`` (the ``in-toto.io/predicate-type`` annotation).
PREDICATE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "intoto-slsa": "https://slsa.dev/provenance/v1",
        "intoto-cyclonedx": "https://cyclonedx.org/bom",
    }
)

#: Other accepted names → format name.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "nfd-image-compatibility": "nfd",
        "cyclonedx": "cyclonedx-json",
        "cdx": "cyclonedx-json",
        "cdx-json": "cyclonedx-json",
        "cyclonedx-1.6-json": "cyclonedx-json",
        "cyclonedx-1.6-xml": "cyclonedx-xml",
        "spdx": "spdx-2.3",
        "spdx-json": "spdx-2.3",
        "spdx2": "spdx-2.3",
        "spdx3": "spdx-3.0.1",
        "spdx-3": "spdx-3.0.1",
        "json-ld": "jsonld",
        "ttl": "turtle",
        "slsa": "intoto-slsa",
        "intoto": "intoto-slsa",
    }
)


def resolve(fmt: str) -> str:
    """The format name for ``fmt`` or one of its aliases; ``ExportError`` when unknown."""
    name = ALIASES.get(fmt.lower(), fmt.lower())
    if name not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ExportError(f"unknown export format {fmt!r} (known: {known})")
    return name


def encode(record: Record, fmt: str) -> bytes:
    """``record`` in format ``fmt`` (a name of :data:`FORMATS` or an alias), as bytes."""
    return FORMATS[resolve(fmt)](record)


def write(record: Record, fmt: str, out: BinaryIO) -> None:
    """Write ``record`` in format ``fmt`` to the binary stream ``out`` (the bytes of
    :func:`encode`), as they are made."""
    WRITERS[resolve(fmt)](record, out)


def __dir__() -> list[str]:
    """Only the public names (``__all__``): what ``dir()`` and tab completion show."""
    return sorted(__all__)
