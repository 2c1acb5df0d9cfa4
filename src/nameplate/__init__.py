"""nameplate: machine-readable nameplates for HPC binaries and containers.

Public modules:

- :mod:`nameplate.record`: the typed build record (frozen dataclasses), with
  ``Record.load``, ``Record.loads`` and ``Record.dump``.
- :mod:`nameplate.schema`: JSON Schema validation of records, every error with its JSON path.
- :mod:`nameplate.sources`: extraction from Spack, EasyBuild, images and binaries.
- :mod:`nameplate.formats`: CycloneDX, SPDX, JSON-LD and in-toto exports.
- :mod:`nameplate.oci`: attach records to OCI registries and layouts, discover and pull them back.
- :mod:`nameplate.compat`: host detection and compatibility checks.
- :mod:`nameplate.errors`: the error hierarchy and exit codes.

The functions below import lazily, so ``import nameplate`` stays cheap::

    import nameplate

    record = nameplate.extract("/opt/spack", kind="spack", roots=("hdf5",))
    records = nameplate.extract_all("/opt/spack", kind="spack")
    nameplate.validate(record)
"""

from __future__ import annotations

import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
    from pathlib import Path

    from .record import Record

__all__ = ["Record", "__version__", "extract", "extract_all", "validate"]


def extract(
    path: str | Path, *, kind: str | None = None, combined: bool = False, **options: _typing.Any
) -> Record:
    """The one record of ``path`` (an install prefix, a binary, an image, a Spack store...).

    A target with several roots is refused (:class:`~nameplate.errors.SourceError` naming
    them) unless ``combined=True`` asks for one record over all roots, or ``roots=(...)`` picks
    one; :func:`extract_all` gives one record per root. ``kind`` (``spack``, ``easybuild``,
    ``image``, ``binary``) is detected when not given; ``options`` are the fields of
    :class:`nameplate.sources.ExtractOptions` (``roots``, ``clock``, ``platform``...).
    """
    from . import sources

    return sources.extract(path, kind=kind, combined=combined, **options)


def extract_all(
    path: str | Path, *, kind: str | None = None, **options: _typing.Any
) -> list[Record]:
    """One record per root found at ``path`` (see :func:`extract` for the arguments)."""
    from . import sources

    return sources.extract_all(path, kind=kind, **options)


def validate(data: Record | _typing.Mapping[str, _typing.Any]) -> None:
    """Validate a record (a :class:`~nameplate.record.Record` or its JSON data); raises
    :class:`~nameplate.errors.RecordValidationError` listing every error with its JSON path."""
    from . import schema
    from .record import Record

    schema.validate(data.to_dict() if isinstance(data, Record) else data)


def __getattr__(name: str) -> _typing.Any:
    if name == "Record":  # the class, imported on first use (import nameplate stays cheap)
        from .record import Record

        return Record
    raise AttributeError(f"module 'nameplate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
