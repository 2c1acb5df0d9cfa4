"""What every source shares: extraction options, the generator stamp, the clock."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._version import __version__
from ..normalize import iso_time
from ..record import Tool

if TYPE_CHECKING:
    from ..oci import Transport

__all__ = ["ExtractOptions", "extracted_at", "generator"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ExtractOptions:
    """Options every source accepts; a source ignores those that do not apply to it.

    ``clock`` fixes ``provenance.extracted_at`` (tests, reproducible builds); without it,
    ``SOURCE_DATE_EPOCH`` is honoured, then the current time. ``transport``: how registry
    images are reached (plain HTTP, CA file, credentials); default ``nameplate.oci.Transport()``.
    ``on_progress(done, total)``: called as a source makes headway through many roots (the CLI
    draws a bar on a terminal); it must not raise.
    """

    clock: _dt.datetime | None = None
    roots: tuple[str, ...] = ()
    combined: bool = False
    verify_signatures: bool = False
    public_keys: tuple[Path, ...] = ()
    platform: str | None = None
    include_files: bool = True
    progress: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    transport: Transport | None = None
    on_progress: Callable[[int, int], None] | None = None


def generator() -> Tool:
    """nameplate itself, as the tool that wrote the record."""
    return Tool(name="nameplate", version=__version__)


def extracted_at(options: ExtractOptions) -> str:
    """The extraction time: the fixed clock, ``SOURCE_DATE_EPOCH``, or now."""
    if options.clock is not None:
        return iso_time(options.clock)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return iso_time(float(epoch))
    return iso_time(_dt.datetime.now(tz=_dt.timezone.utc))
