"""Options shared by several commands: one definition, one help text, one convention.

- ``-o/--output FILE|DIR|-``: where a command writes. ``-`` is standard output; a path ending in
  ``/`` (or an existing folder) is a folder, in which the command names the file itself.
- ``-f/--format``: what a command prints (``text`` for people, ``json`` for scripts).
- the registry options (``--plain-http``, ``--ca-file``, ``-u/--username``, ``--password-stdin``)
  on every command that accepts a reference (:data:`REF`), gathered into one
  :class:`~nameplate.oci.Transport` argument by :func:`option_group`.

:func:`option_group` is how a family of options becomes one value: a later group (signing keys,
say) adds its options and a builder, and the command receives one argument.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..oci import Transport

__all__ = [
    "DOCUMENTS",
    "REF",
    "Destination",
    "OutputPath",
    "ReferenceType",
    "format_option",
    "option_group",
    "output_option",
    "registry_options",
]

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:  # click 8.5 made ParamType generic; older clicks cannot subscript it
    ParamBase = click.ParamType[Any, Any]
else:
    ParamBase = click.ParamType


#: Commands whose output is a document rather than a report, so they have no ``-f text|json``:
#: the command path → what it prints. Every other command that prints has ``-f json``.
DOCUMENTS: dict[str, str] = {
    "extract": "records: JSON, always",
    "pull": "the record: JSON, byte for byte",
    "merge": "the merged record: JSON",
    "export": "the export format chosen with -f (CycloneDX, SPDX, JSON-LD...)",
    "completion": "a shell script",
    "easybuild-hooks": "the path of a file",
    "serve": "nothing: it answers HTTP until interrupted (its log on standard error)",
}


# -- -o/--output ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Destination:
    """Where output goes: standard output (``path`` None), a file, or a folder."""

    path: Path | None
    folder: bool = False
    given: str = "-"

    @property
    def stdout(self) -> bool:
        """Standard output (``-o -`` or no ``-o``)."""
        return self.path is None


STDOUT = Destination(None)


class OutputPath(ParamBase):
    """``FILE``, ``DIR/`` (a trailing ``/``, or an existing folder) or ``-`` (standard output)."""

    name = "output"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "PATH"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Destination:
        if isinstance(value, Destination):
            return value
        text = os.fspath(value)
        if text == "-":
            return STDOUT
        if not text or "\0" in text:
            self.fail(f"{text!r} is not a path", param, ctx)
        path = Path(text)
        folder = text.endswith(("/", os.sep)) or path.is_dir()
        return Destination(path, folder=folder, given=text)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(incomplete, type="file")]


def output_option(what: str, *, folder: str = "", file: str = "") -> Callable[[F], F]:
    """``-o/--output PATH``: a file, a folder (``DIR/``) or ``-``; default standard output.
    ``what`` names the output (``the report``); ``file`` and ``folder`` say what a file or a
    folder receives."""
    in_folder = f", DIR/ ({folder})" if folder else ", DIR/"
    in_file = f" ({file})" if file else ""
    return click.option(
        "-o",
        "--output",
        "output",
        type=OutputPath(),
        default="-",
        show_default=False,
        help=f"Write {what} to FILE{in_file}{in_folder} or - (standard output, the default).",
    )


# -- -f/--format ----------------------------------------------------------------------------


def format_option(
    choices: Sequence[str] = ("text", "json"), *, default: str = "text", help_text: str = ""
) -> Callable[[F], F]:
    """``-f/--format``: what the command prints; ``text`` for people, ``json`` for scripts."""
    return click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(list(choices), case_sensitive=False),
        default=default,
        show_default=True,
        help=help_text or "What to print: text for people, json for scripts.",
    )


# -- option groups -------------------------------------------------------------------------


def option_group(
    name: str,
    options: Sequence[Callable[[Any], Any]],
    build: Callable[..., Any],
    params: Sequence[str],
) -> Callable[[F], F]:
    """Decorate a command with ``options`` whose values (the keyword arguments ``params``) are
    turned into one argument ``name`` by ``build(**values)`` before the command runs."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {p: kwargs.pop(p) for p in params}
            kwargs[name] = build(**values)
            return func(*args, **kwargs)

        out: Any = wrapper
        for option in reversed(options):
            out = option(out)
        return out  # type: ignore[no-any-return]

    return decorate


# -- references and the registry options -----------------------------------------------------


class ReferenceType(ParamBase):
    """A registry or layout reference (``HOST/REPO[:TAG|@DIGEST]``, ``oci:PATH[:NAME]``,
    ``NAME[:TAG]``); a command with such an argument has the registry options."""

    name = "reference"

    def __init__(self, *, path_ok: bool = False) -> None:
        #: whether a local path (a record file, an install, a binary) is accepted too
        self.path_ok = path_ok

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text:
            self.fail("an empty reference", param, ctx)
        return text


#: A reference argument (registry, layout or default store).
REF = ReferenceType()

_PASSWORD_LIMIT = 64 * 1024


def _read_password() -> str:
    data = sys.stdin.buffer.read(_PASSWORD_LIMIT + 1)
    if len(data) > _PASSWORD_LIMIT:
        raise click.UsageError(f"--password-stdin: over {_PASSWORD_LIMIT} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.UsageError("--password-stdin: the password is not UTF-8") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise click.UsageError("--password-stdin: standard input holds no password")
    return text


def _build_transport(
    plain_http: bool, ca_file: str | None, username: str | None, password_stdin: bool
) -> Transport | None:
    """The registry transport the options ask for; None: the defaults of ``Transport()``
    (``NAMEPLATE_PLAIN_HTTP``, ``NAMEPLATE_CA_FILE``, the docker config)."""
    if password_stdin and not username:
        raise click.UsageError("--password-stdin needs --username")
    if username and not password_stdin:
        raise click.UsageError(
            "--username needs --password-stdin (the password is never an option)"
        )
    if not (plain_http or ca_file or username):
        return None
    from ..oci import Credentials, Transport

    base = Transport()
    return Transport(
        plain_http=True if plain_http else base.plain_http,
        ca_file=ca_file or base.ca_file,
        credentials=Credentials(username, _read_password()) if username else None,
    )


_REGISTRY_OPTIONS = (
    click.option(
        "--plain-http",
        is_flag=True,
        help="Talk plain HTTP to the registry (never the default; or NAMEPLATE_PLAIN_HTTP).",
    ),
    click.option(
        "--ca-file",
        type=click.Path(exists=True, dir_okay=False),
        help="Extra CA bundle (PEM) to trust for registry TLS (or NAMEPLATE_CA_FILE).",
    ),
    click.option(
        "-u",
        "--username",
        metavar="USER",
        help="Registry user name (default: the docker config, NAMEPLATE_REGISTRY_USERNAME).",
    ),
    click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the registry password (or token) from standard input.",
    ),
)

#: ``--plain-http``, ``--ca-file``, ``-u/--username``, ``--password-stdin``, passed to the
#: command as one ``transport`` argument (a :class:`~nameplate.oci.Transport` or None).
registry_options = option_group(
    "transport",
    _REGISTRY_OPTIONS,
    _build_transport,
    ("plain_http", "ca_file", "username", "password_stdin"),
)
