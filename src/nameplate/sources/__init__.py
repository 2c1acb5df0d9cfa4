"""Sources: read build facts from Spack, EasyBuild, images and binaries into records.

Each source is a module with ``KIND``, ``CAPABILITIES``, ``detect(target) -> bool`` and
``extract_all(target, options) -> list[Record]`` (one record per root; ``options.combined``
asks for a single record over all roots). :data:`SOURCES` maps kinds to loaders so that a
source's dependencies are imported only when it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import SourceError
from ..record import Record
from ._common import ExtractOptions

__all__ = ["SOURCES", "ExtractOptions", "detect", "extract", "extract_all", "load_source"]


def _spack() -> ModuleType:
    from . import spack

    return spack


def _easybuild() -> ModuleType:
    from . import easybuild

    return easybuild


def _image() -> ModuleType:
    from . import image

    return image


def _binary() -> ModuleType:
    from . import binary

    return binary


#: Source kinds in detection order → a loader of the module that reads them.
SOURCES: Mapping[str, Callable[[], ModuleType]] = {
    "spack": _spack,
    "easybuild": _easybuild,
    "image": _image,
    "binary": _binary,
}


def load_source(kind: str) -> ModuleType:
    """The module of source ``kind``; ``SourceError`` for an unknown kind."""
    loader = SOURCES.get(kind)
    if loader is None:
        raise SourceError(f"unknown source kind {kind!r} (known: {', '.join(SOURCES)})")
    return loader()


def detect(target: str | Path) -> str:
    """The kind of source ``target`` is; ``SourceError`` if no source recognises it."""
    for kind in SOURCES:
        if load_source(kind).detect(target):
            return kind
    raise SourceError(f"{target}: not a Spack, EasyBuild, image or binary target")


def _options(options: Mapping[str, Any]) -> ExtractOptions:
    opts = options.get("options")
    if isinstance(opts, ExtractOptions):
        return opts
    return ExtractOptions(**options)


def extract_all(target: str | Path, *, kind: str | None = None, **options: Any) -> list[Record]:
    """One record per root found at ``target`` (kind detected when not given)."""
    module = load_source(kind or detect(target))
    records: list[Record] = module.extract_all(target, _options(options))
    return records


def extract(
    target: str | Path, *, kind: str | None = None, combined: bool = False, **options: Any
) -> Record:
    """The one record of ``target``. A target with several roots (a store, an environment, a
    folder of easyconfigs) is refused with a :class:`SourceError` that names them, unless
    ``combined`` asks for one record over all of them (or ``roots`` picks one)."""
    from dataclasses import replace

    opts = _options(options)
    if combined:
        opts = replace(opts, combined=True)
    records = load_source(kind or detect(target)).extract_all(target, opts)
    if len(records) == 1:
        return records[0]  # type: ignore[no-any-return]
    names = ", ".join(r.subject.name for r in records[:5]) + (", ..." if len(records) > 5 else "")
    raise SourceError(
        f"{target}: {len(records)} roots ({names}): pick one with roots=(...), join them with "
        "combined=True, or use extract_all for one record each"
    )


def __dir__() -> list[str]:
    """Only the public names (``__all__``): what ``dir()`` and tab completion show."""
    return sorted(__all__)
