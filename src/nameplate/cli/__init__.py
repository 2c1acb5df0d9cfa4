"""The ``nameplate`` command: a thin click layer over the library.

Commands are loaded lazily (``nameplate --help`` imports no command module), each command
module parses options, calls one library function, renders, and picks the exit code. Every
``NameplateError`` becomes one line on stderr and its documented exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from .._version import __version__
from ..errors import NameplateError

__all__ = ["COMMANDS", "cli", "main"]


def _table(name: str) -> dict[str, click.Command]:
    # Explicit imports (no dynamic import by name): one branch per command module.
    if name == "extract":
        from .extract import COMMANDS as extract_commands

        return extract_commands
    if name in ("validate", "show"):
        from .record import COMMANDS as record_commands

        return record_commands
    if name in ("export", "sparql", "merge"):
        from .formats import COMMANDS as formats_commands

        return formats_commands
    if name in ("attach", "discover", "pull", "push", "copy", "reindex"):
        from .oci import COMMANDS as oci_commands

        return oci_commands
    if name in ("host", "check", "select", "index", "query"):
        from .compat import COMMANDS as compat_commands

        return compat_commands
    if name == "verify":
        from .trust import COMMANDS as trust_commands

        return trust_commands
    if name == "serve":
        from .serve import COMMANDS as serve_commands

        return serve_commands
    if name == "easybuild-hooks":
        from .easybuild import COMMANDS as easybuild_commands

        return easybuild_commands
    if name == "completion":
        from .completion import COMMANDS as completion_commands

        return completion_commands
    raise KeyError(name)  # pragma: no cover - COMMANDS and this table are tested together


def _load(name: str) -> click.Command:
    return _table(name)[name]


#: Command name → one-line summary (shown by ``nameplate --help`` without importing anything).
COMMANDS: dict[str, str] = {
    "extract": "Extract build records from Spack, EasyBuild, images or binaries.",
    "validate": "Validate record files against the record schema.",
    "show": "Show a record: root, dependency tree with edge types, HPC fields.",
    "export": "Export a record as CycloneDX, SPDX, JSON-LD, Turtle or in-toto.",
    "merge": "Add the OS packages of a Syft or Trivy SBOM to a record.",
    "sparql": "Run a SPARQL query over records.",
    "attach": "Attach a record to an image or artifact in a registry or layout.",
    "discover": "List the records and SBOMs attached to a reference.",
    "pull": "Pull the newest record attached to a reference.",
    "push": "Push a file or folder as an OCI artifact, so records can attach to it.",
    "copy": "Copy an image or artifact with everything attached to it.",
    "reindex": "Rebuild the referrers fallback index of a reference.",
    "verify": "Say which records attached to a reference are signed by a trusted key.",
    "host": "Detect this host: CPU, libc, MPI, GPUs, OS.",
    "check": "Check whether a record, image or binary runs on a host.",
    "select": "Pick the tag of a repository that fits a host best.",
    "index": "Crawl repositories into a catalog of records.",
    "query": "Query the catalog in Spack spec syntax.",
    "serve": "Serve the catalog: JSON API, web pages, indexing on push.",
    "easybuild-hooks": "Print the path of the EasyBuild hooks file (eb --hooks=...).",
    "completion": "Print the shell completion script for bash, zsh or fish.",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        return _load(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, summary) for name, summary in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NameplateError as exc:
            from .._terminal import escape

            # one line; names from records, images and registries cannot forge another
            click.echo(f"error: {escape(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:  # `nameplate ... | head`: the reader left; not an error of ours
            sys.stderr.close()
            ctx.exit(0)
        except OSError as exc:  # the terminal or a file failed under us (a full disk, /dev/full)
            from .._terminal import escape

            where = exc.filename or "standard output"
            click.echo(f"error: {escape(f'{where}: {exc.strerror or exc}')}", err=True)
            ctx.exit(3)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nameplate")
def cli() -> None:
    """Give HPC binaries and containers a machine-readable nameplate.

    Extract build records from Spack, EasyBuild, images and binaries; validate and export
    them as SBOMs; attach them to OCI registries; check them against a host.

    Exit codes: 0 success, 1 a negative answer (invalid, incompatible), 2 usage error,
    3 bad input or unknown verdict, 4 registry or network failure.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m nameplate``."""
    entry: Callable[..., Any] = cli
    entry(args=argv, prog_name="nameplate")
