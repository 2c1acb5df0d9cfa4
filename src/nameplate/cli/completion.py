"""``nameplate completion bash|zsh|fish``: the shell completion script (click's own).

The script calls ``nameplate`` back with ``_NAMEPLATE_COMPLETE`` set, so completions (commands,
options, choices such as ``-f`` formats, file names for ``-o``) always match the installed
version.
"""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]

_INSTALL = {
    "bash": 'eval "$(nameplate completion bash)"   # in ~/.bashrc (bash 4.4 or newer)',
    "zsh": 'eval "$(nameplate completion zsh)"    # in ~/.zshrc, after compinit',
    "fish": "nameplate completion fish > ~/.config/fish/completions/nameplate.fish",
}


@click.command(
    "completion",
    epilog="Install:\n\n\b\n" + "\n".join(f"  {line}" for line in _INSTALL.values()),
)
@click.argument("shell", type=click.Choice(list(_INSTALL)))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish)."""
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root().command  # the nameplate group
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the choices are the shells click knows
        raise click.UsageError(f"no completion for {shell}")
    script = cls(root, {}, "nameplate", "_NAMEPLATE_COMPLETE").source()
    click.echo(script.rstrip("\n"))


COMMANDS: dict[str, click.Command] = {"completion": completion}
