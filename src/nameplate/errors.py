"""One error hierarchy for nameplate, and the CLI's exit codes.

Every error the library raises on purpose is a :class:`NameplateError`. Its message is one line
that names the file (or reference) and the field at fault. The CLI prints ``error: <message>``
and exits with the error's ``exit_code``; library code never exits.

Exit codes (the CLI contract, documented on every command page):

====  =================================================================
0     success (``check``: the artifact runs here)
1     a negative answer: an invalid record, an incompatible host
2     usage error (click's own)
3     a ``NameplateError``: bad input, could not read, push or detect;
      ``check``: the verdict is *unknown*
4     a registry or network failure (``RegistryError``)
====  =================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_REGISTRY",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "CatalogError",
    "CompatError",
    "ExportError",
    "InputTooLarge",
    "InternalError",
    "NameplateError",
    "NotInStore",
    "RecordError",
    "RecordValidationError",
    "RegistryAuthError",
    "RegistryError",
    "ServeError",
    "SignatureError",
    "SourceError",
    "SubjectMismatch",
    "UnsafeInput",
    "UnsupportedFormat",
]

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_REGISTRY = 4


def _short(text: str, limit: int = 200) -> str:
    """One error message, cut so a huge offending value cannot flood the terminal."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NameplateError(Exception):
    """Base class. ``str(error)`` is one line; the CLI exits with ``exit_code``."""

    exit_code = EXIT_UNKNOWN


class SourceError(NameplateError, ValueError):
    """A path, file or image could not be read as the source it claims to be."""


class UnsupportedFormat(SourceError):
    """A file declares a format version this release cannot read (specfile, lockfile, DB...)."""


class InputTooLarge(SourceError):
    """An input exceeds a safety bound (file size, decompressed size, member count)."""


class UnsafeInput(SourceError):
    """An input tries to leave its tree (``..`` members, escaping links, absolute paths), or is
    not a regular file where one is expected (a FIFO or a device, which would block ``open``)."""


class SignatureError(SourceError):
    """A signed file did not verify, or verification was asked for and is impossible."""


class RecordError(NameplateError, ValueError):
    """A record (dict or file) does not have the shape of a record; carries the JSON path."""

    exit_code = EXIT_FAIL


class RecordValidationError(RecordError):
    """The record does not match its JSON Schema. ``errors`` holds (json_path, message) pairs."""

    def __init__(self, errors: Sequence[tuple[str, str]], *, where: str = "") -> None:
        self.errors = tuple(errors)
        self.where = where
        shown = "; ".join(f"{p}: {_short(m)}" for p, m in self.errors[:3])
        more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}invalid record: {shown}{more}")


class SubjectMismatch(NameplateError):
    """A record of one image attached to another (``attach`` without ``--force``): exit 3."""


class InternalError(NameplateError):
    """nameplate built something it must not have: a record that breaks the record schema after
    ``extract`` or ``merge``. The input was read, but a reader let a value through that it
    should have refused or normalised: a bug to report, not a negative answer (exit 3)."""


class ExportError(NameplateError):
    """A record could not be exported to (or imported from) a standard format."""


class RegistryError(NameplateError):
    """Talking to an OCI registry or layout failed: network, protocol or a non-conforming answer."""

    exit_code = EXIT_REGISTRY


class NotInStore(NameplateError):
    """A name of the default store (``myapp:1.0``) that is not there yet: a local lookup that
    found nothing, with the command to run first; not a registry failure (exit 3)."""


class RegistryAuthError(RegistryError):
    """The registry refused our credentials (the secret itself is never part of the message)."""


class CompatError(NameplateError):
    """A host profile or compatibility input could not be read."""


class CatalogError(NameplateError):
    """The catalog database could not be opened, written or queried."""


class ServeError(NameplateError):
    """``nameplate serve`` refuses a request: a bad parameter or body, a record or host that is
    not there, a write without the token. ``status`` is the HTTP status of the answer and
    ``field`` the parameter or body field at fault (None when the request as a whole is)."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(_short(message, 300))
        self.status = status
        self.field = field


def __dir__() -> list[str]:
    """Only the public names (``__all__``): what ``dir()`` and tab completion show."""
    return sorted(__all__)
