"""Man pages (roff, ``man 7 man``) generated from the click commands.

``pages(cli)`` gives ``nameplate.1`` and one ``nameplate-<command>.1`` per command (and per
subcommand: ``nameplate-extract-spack.1``), built from the same help texts as ``--help``.
``scripts/update-docs`` writes them to ``docs/man/``; a test checks they are current and that
``groff -man -ww`` reads them without a warning.
"""

from __future__ import annotations

import inspect

import click

from .._version import __version__

__all__ = ["pages"]

_EXIT = (
    ("0", "success (check: it runs here)"),
    ("1", "a negative answer: an invalid record, an incompatible host, no match"),
    ("2", "usage error"),
    ("3", "bad input, or an unknown verdict"),
    ("4", "a registry or network failure"),
)


def _roff(text: str) -> str:
    """Text escaped for roff: backslashes, hyphens, and a leading control character."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    lines = out.split("\n")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in lines)


def _paragraphs(text: str) -> list[str]:
    """click's help text as paragraphs; a ``\\b`` paragraph keeps its lines."""
    out = []
    for block in inspect.cleandoc(text).split("\n\n"):
        if block.startswith("\b\n"):
            out.append(".nf\n" + _roff(block[2:]) + "\n.fi")
        else:
            out.append(_roff(" ".join(line.strip() for line in block.splitlines())))
    return out


def _option_rows(command: click.Command, ctx: click.Context) -> list[tuple[str, str]]:
    rows = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option):
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            rows.append(record)
    return rows


def _page(name: str, command: click.Command, ctx: click.Context) -> str:
    title = name.upper().replace(" ", "-")
    summary = command.get_short_help_str(limit=200).rstrip(".")
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [
        f'.TH {title} 1 "" "nameplate {__version__}" "nameplate manual"',
        ".SH NAME",
        f"{_roff(name.replace(' ', '-'))} \\- {_roff(summary)}",
        ".SH SYNOPSIS",
        f".B {_roff(name)}",
        _roff(usage),
        ".SH DESCRIPTION",
    ]
    lines += "\n.PP\n".join(_paragraphs(command.help or "")).split("\n")
    if isinstance(command, click.Group):
        lines.append(".SH COMMANDS")
        for sub in command.list_commands(ctx):
            subcommand = command.get_command(ctx, sub)
            if subcommand is None:  # pragma: no cover - list_commands names loadable commands
                continue
            lines += [".TP", f"\\fB{_roff(sub)}\\fR", _roff(subcommand.get_short_help_str(200))]
    rows = _option_rows(command, ctx)
    if rows:
        lines.append(".SH OPTIONS")
        for opts, help_text in rows:
            lines += [".TP", f"\\fB{_roff(opts)}\\fR", _roff(help_text)]
    if command.epilog:
        lines.append(".PP")
        lines += "\n.PP\n".join(_paragraphs(command.epilog)).split("\n")
    lines.append(".SH EXIT STATUS")
    for code, meaning in _EXIT:
        lines += [".TP", code, _roff(meaning)]
    see = "nameplate (1)" if name != "nameplate" else "the pages nameplate\\-COMMAND (1)"
    lines += [".SH SEE ALSO", see + ", and the documentation in docs/."]
    return "\n".join(lines) + "\n"


def pages(root: click.Group) -> dict[str, str]:
    """File name → roff text, for the root command and every (sub)command."""
    out: dict[str, str] = {}

    def walk(name: str, command: click.Command, parent: click.Context | None) -> None:
        settings = command.context_settings if parent is None else {}
        ctx = click.Context(command, info_name=name.rsplit(" ", 1)[-1], parent=parent, **settings)
        out[f"{name.replace(' ', '-')}.1"] = _page(name, command, ctx)
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                subcommand = command.get_command(ctx, sub)
                if subcommand is not None:
                    walk(f"{name} {sub}", subcommand, ctx)

    walk("nameplate", root, None)
    return out
