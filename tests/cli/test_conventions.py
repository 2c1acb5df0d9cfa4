"""Every command, including the ones added later, follows the command-line conventions.

The walk starts at the top group and visits every (sub)command click knows, so a new command
is held to the same rules without being listed here:

- ``-o/--output`` is a destination (a file, ``DIR/`` or ``-`` for standard output), never a
  format; ``-f/--format`` is a format;
- a command that accepts a reference (a registry, a layout or the default store) has the
  registry options, defined once (the same help text everywhere);
- a command that prints a report has ``-f json``; only the commands listed in
  ``nameplate.cli._options.DOCUMENTS`` print a document instead (a record, an export, a script);
- every command has a docs page whose ``--help`` block is current (``tests/test_docs.py``).
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from nameplate.cli import cli
from nameplate.cli._options import DOCUMENTS, Destination, OutputPath, ReferenceType
from tests.conftest import ROOT


def _walk(command: click.Command, path: tuple[str, ...], ctx: click.Context | None) -> list:
    here = click.Context(command, info_name=path[-1] if path else "nameplate", parent=ctx)
    if isinstance(command, click.Group):
        out = []
        for name in command.list_commands(here):
            sub = command.get_command(here, name)
            assert sub is not None, name
            out += _walk(sub, (*path, name), here)
        return out
    return [(path, command)]


COMMANDS = _walk(cli, (), None)
IDS = [" ".join(p) for p, _ in COMMANDS]


def _option(command: click.Command, flag: str) -> click.Option | None:
    for p in command.params:
        if isinstance(p, click.Option) and flag in p.opts + p.secondary_opts:
            return p
    return None


def test_the_walk_finds_every_command() -> None:
    names = set(IDS)
    assert {"show", "check", "select", "index", "extract spack", "extract image"} <= names
    assert "completion" in names and len(names) >= 22


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_o_is_a_destination(path: tuple[str, ...], command: click.Command) -> None:
    option = _option(command, "-o")
    if option is None:
        assert _option(command, "--output") is None, "--output without -o"
        return
    assert "--output" in option.opts, f"{' '.join(path)}: -o must be --output"
    assert isinstance(option.type, OutputPath), f"{' '.join(path)}: -o is not a path"
    convert = option.type.convert
    assert convert("-", option, None).stdout
    assert convert("out/", option, None) == Destination(Path("out/"), folder=True, given="out/")
    assert not convert("report.json", option, None).folder
    for word in ("json", "text", "table"):  # a word is a file name now, never a format
        assert convert(word, option, None).path == Path(word)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_f_is_a_format(path: tuple[str, ...], command: click.Command) -> None:
    option = _option(command, "-f")
    if option is None:
        assert _option(command, "--format") is None, "--format without -f"
        return
    assert "--format" in option.opts
    assert isinstance(option.type, click.Choice), f"{' '.join(path)}: -f takes a format"


def _takes_a_reference(command: click.Command) -> bool:
    return any(isinstance(p.type, ReferenceType) for p in command.params)


REGISTRY = ("--plain-http", "--ca-file", "--username", "--password-stdin")


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_a_reference_brings_the_registry_options(
    path: tuple[str, ...], command: click.Command
) -> None:
    options = [_option(command, flag) for flag in REGISTRY]
    if not _takes_a_reference(command):
        assert options == [None] * len(options), f"{' '.join(path)}: registry options, no REF"
        return
    assert all(options), f"{' '.join(path)} takes a reference but lacks registry options"
    assert _option(command, "-u") is options[2]


def test_registry_options_are_defined_once() -> None:
    """The same four options (one help text each) on every command that has them."""
    helps: dict[str, set[str | None]] = {flag: set() for flag in REGISTRY}
    for _, command in COMMANDS:
        for flag in REGISTRY:
            option = _option(command, flag)
            if option is not None:
                helps[flag].add(option.help)
    assert all(len(h) == 1 for h in helps.values()), helps


def test_every_command_that_names_a_registry_takes_a_reference() -> None:
    """The commands that reach registries today, so none can drop the reference type."""
    wanted = {
        "attach",
        "discover",
        "pull",
        "push",
        "copy",
        "reindex",
        "check",
        "select",
        "index",
        "extract image",
        "extract auto",
    }
    have = {" ".join(p) for p, c in COMMANDS if _takes_a_reference(c)}
    assert wanted <= have, wanted - have


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_report_has_f_json(path: tuple[str, ...], command: click.Command) -> None:
    if path[0] in DOCUMENTS:
        return
    option = _option(command, "-f")
    assert option is not None and isinstance(option.type, click.Choice), (
        f"{' '.join(path)} prints a report but has no -f json "
        "(or list it in nameplate.cli._options.DOCUMENTS with what it prints)"
    )
    assert "json" in option.type.choices


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_has_a_page(path: tuple[str, ...], command: click.Command) -> None:
    page = ROOT / "docs" / "commands" / f"{path[0]}.md"
    assert page.is_file(), f"no docs/commands/{path[0]}.md"
    marker = "<!-- @begin-help -->" if len(path) == 1 else f"<!-- @begin-help {' '.join(path)} -->"
    assert marker in page.read_text(), f"{page.name} has no help block for {' '.join(path)}"
    assert (ROOT / "docs" / "man" / f"nameplate-{'-'.join(path)}.1").is_file()
