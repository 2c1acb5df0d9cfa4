"""nameplate: machine-readable nameplates for HPC binaries and containers.

Public modules:

- ``nameplate.record``: the typed build record (frozen dataclasses).
- ``nameplate.schema``: JSON Schema validation of records, every error with its JSON path.
- ``nameplate.sources``: extraction from Spack, EasyBuild, images and binaries.
- ``nameplate.formats``: CycloneDX, SPDX, JSON-LD and in-toto exports.
- ``nameplate.oci``: attach records to OCI registries and layouts, discover and pull them back.
- ``nameplate.compat``: host detection and compatibility checks.
- ``nameplate.errors``: the error hierarchy and exit codes.

The convenience functions below import lazily, so ``import nameplate`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from .record import Record

__all__ = ["__version__", "extract", "extract_all", "validate"]


def extract(path: str | Path, *, kind: str | None = None, **options: Any) -> Record:
    """Extract one record from PATH (a combined record when the source has several roots)."""
    from . import sources

    return sources.extract(path, kind=kind, **options)


def extract_all(path: str | Path, *, kind: str | None = None, **options: Any) -> list[Record]:
    """Extract one record per root found at PATH."""
    from . import sources

    return sources.extract_all(path, kind=kind, **options)


def validate(data: Any) -> None:
    """Validate a record (a ``Record`` or its dict form); raises ``RecordValidationError``."""
    from . import schema
    from .record import Record

    schema.validate(data.to_dict() if isinstance(data, Record) else data)
