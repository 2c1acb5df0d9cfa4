"""Validate records against their JSON Schema, reporting every error with its JSON path.

The schema is chosen by the record's ``schema_version`` (SchemaVer; published schema files are
never edited). Validation runs ``jsonschema-rs`` first, which is two orders of magnitude faster on
large records; only when it rejects a record does the pure-Python ``jsonschema`` run, to report
every error with its JSON path. A test proves both agree on every fixture.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from . import _resources
from .errors import RecordValidationError

__all__ = ["RELEASED", "SCHEMA_VERSION", "load_schema", "validate"]

SCHEMA_VERSION = "1.2.0"
"""The version records are written in. 1.2.0 (ADDITION, released and pinned: see
``docs/concepts/record.md``). 1.1.0 (ADDITION): ``Component.versionsuffix``, ``module_name``,
``moduleclass``; ``Subject.platform``; ``Mpi.portability_mode``; ``Provenance.started_at``."""

#: Released record schema versions → file under ``schemas/record/``.
RELEASED: Mapping[str, str] = {
    "1.0.0": "record/record-1.0.0.schema.json",
    "1.1.0": "record/record-1.1.0.schema.json",
    "1.2.0": "record/record-1.2.0.schema.json",
}

#: Host profile schema versions → file under ``schemas/host/``.
HOST_RELEASED: Mapping[str, str] = {
    "1.0.0": "host/host-1.0.0.schema.json",
    "1.1.0": "host/host-1.1.0.schema.json",
}


def load_schema(version: str = SCHEMA_VERSION, *, table: Mapping[str, str] = RELEASED) -> Any:
    """The parsed JSON Schema for ``version``; raises ``RecordValidationError`` if unknown."""
    name = table.get(version)
    if name is None:
        known = ", ".join(sorted(table))
        raise RecordValidationError(
            [("$.schema_version", f"unknown schema version {version!r} (known: {known})")]
        )
    return _resources.load_json("schemas", name)


@functools.cache
def _fast(name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(_resources.load_json("schemas", name), validate_formats=True)


@functools.cache
def _slow(name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schema = _resources.load_json("schemas", name)
    resource = Resource.from_contents(schema)
    registry: Registry[Any] = Registry().with_resource(schema["$id"], resource)
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _version_of(data: Any, default: str) -> str:
    if isinstance(data, Mapping):
        v = data.get("schema_version", default)
        return v if isinstance(v, str) else default
    return default


def errors_of(
    data: Any, *, table: Mapping[str, str] = RELEASED, default: str = SCHEMA_VERSION
) -> list[tuple[str, str]]:
    """Every (json_path, message) by which ``data`` breaks its schema; empty when valid."""
    version = _version_of(data, default)
    load_schema(version, table=table)
    name = table[version]
    try:
        valid = _fast(name).is_valid(data)
    except UnicodeEncodeError:  # a key holding a lone surrogate: jsonschema-rs cannot take it
        valid = False
    if valid:
        return []
    errors = sorted(_slow(name).iter_errors(data), key=lambda e: (e.json_path, e.message))
    return [(e.json_path, e.message) for e in errors]


def validate(data: Any, *, where: str = "") -> None:
    """Raise ``RecordValidationError`` listing every error if ``data`` is not a valid record."""
    try:
        errors = errors_of(data)
    except RecordValidationError as exc:  # an unknown schema_version: say which file
        raise RecordValidationError(exc.errors, where=where) from exc
    if errors:
        raise RecordValidationError(errors, where=where)


def validate_host(data: Any, *, where: str = "") -> None:
    """Raise ``RecordValidationError`` if ``data`` is not a valid host profile."""
    errors = errors_of(data, table=HOST_RELEASED, default="1.0.0")
    if errors:
        raise RecordValidationError(errors, where=where)


def __dir__() -> list[str]:
    """Only the public names (``__all__``): what ``dir()`` and tab completion show."""
    return sorted(__all__)
