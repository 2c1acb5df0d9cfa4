"""Query parameters and path values of requests, read into typed values (pure).

Every function raises :class:`~nameplate.errors.ServeError` (status 400, naming the parameter)
for a value it does not accept, and nothing else: a request never reaches the catalog or a rule
with a value these functions did not check. Tested with Hypothesis on arbitrary strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..compat.specquery import SpecQuery, parse
from ..errors import CatalogError, ExportError, ServeError

__all__ = [
    "MPI_MODES",
    "export_format",
    "host_name",
    "limit",
    "mpi_mode",
    "params_of",
    "record_id",
    "repository",
    "spec",
]

MPI_MODES = ("auto", "contained", "mpi_replace", "mpi_system", "libfabric_inject")
"""``mpi_mode`` values (HPC3 names; ``auto``: the record's annotation, else its default)."""

_MAX_VALUE = 4096
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REPOSITORY = re.compile(
    r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$"
)


def _printable(value: str, field: str, *, limit: int = _MAX_VALUE) -> str:
    if len(value) > limit:
        raise ServeError(f"{field}: longer than {limit} characters", field=field)
    if any(ch < " " or ch == "\x7f" for ch in value):
        raise ServeError(f"{field}: control characters are not allowed", field=field)
    return value


def params_of(items: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """The query parameters as a dict; a repeated or unknown parameter is refused (a typo
    such as ``hots=`` is an error, not a silently ignored filter)."""
    known = set(allowed)
    out: dict[str, str] = {}
    for key, value in items:
        if key not in known:
            shown = key if len(key) <= 40 and key.isprintable() else repr(key[:40])
            listed = ", ".join(sorted(known)) or "none"
            raise ServeError(f"{shown}: unknown parameter (accepted: {listed})", field=shown)
        if key in out:
            raise ServeError(f"{key}: given more than once", field=key)
        out[key] = _printable(value, key)
    return out


def spec(params: Mapping[str, str], field: str = "q") -> SpecQuery | None:
    """The Spack spec query in ``field``, or None when absent or blank."""
    text = params.get(field, "").strip()
    if not text:
        return None
    try:
        return parse(text)
    except CatalogError as exc:  # SpecSyntaxError, or a bad version/target range
        raise ServeError(f"{field}: {exc}", field=field) from exc
    except RecursionError as exc:  # pragma: no cover - the parser is iterative
        raise ServeError(f"{field}: nested too deeply", field=field) from exc


def flag(params: Mapping[str, str], field: str) -> bool:
    """A yes/no parameter: ``1``/``true``/``yes`` or ``0``/``false``/``no`` (absent or blank:
    no)."""
    text = params.get(field, "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise ServeError(f"{field}: not a yes/no value (1, true, 0, false): {text[:20]!r}", field=field)


def limit(params: Mapping[str, str], *, default: int, most: int, field: str = "limit") -> int:
    """A positive count, at most ``most``."""
    text = params.get(field)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ServeError(f"{field}: not a whole number: {text[:20]!r}", field=field)
    value = int(text)
    if not 1 <= value <= most:
        raise ServeError(f"{field}: {value} is not between 1 and {most}", field=field)
    return value


def host_name(value: str | None, field: str = "host") -> str:
    """A site host profile name: a partition or node type (``gpu-h100``, ``zen4.large``)."""
    if not value:
        raise ServeError(f"{field}: a host profile name is required", field=field)
    if not _HOST_NAME.match(value):
        raise ServeError(
            f"{field}: {value[:64]!r} is not a host name (letters, digits, '.', '_', '-';"
            " at most 64)",
            field=field,
        )
    return value


def record_id(value: str | None, field: str = "id") -> str:
    """A record id: its catalog key (an image reference, or the record's serial)."""
    if not value:
        raise ServeError(f"{field}: a record id is required", field=field)
    return _printable(value, field, limit=1024)


def repository(value: str | None, field: str = "repository") -> str:
    """A repository as indexed: ``HOST[:PORT]/NAME[/NAME...]``."""
    if not value:
        raise ServeError(f"{field}: a repository (HOST/NAME) is required", field=field)
    if len(value) > 512 or not _REPOSITORY.match(value):
        raise ServeError(
            f"{field}: {value[:80]!r} is not a repository (HOST[:PORT]/NAME)", field=field
        )
    return value


def mpi_mode(params: Mapping[str, str], field: str = "mpi_mode") -> str | None:
    """The MPI portability mode, None for ``auto``."""
    value = params.get(field) or "auto"
    if value not in MPI_MODES:
        raise ServeError(f"{field}: one of {', '.join(MPI_MODES)}", field=field)
    return None if value == "auto" else value


def export_format(value: str, field: str = "format") -> str:
    """An export format name (or alias), as ``nameplate export --format`` takes it."""
    from .. import formats

    try:
        return formats.resolve(_printable(value, field, limit=64))
    except ExportError as exc:
        raise ServeError(f"{field}: {exc}", field=field) from exc
