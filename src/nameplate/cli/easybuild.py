"""``nameplate easybuild-hooks``: print the path of the EasyBuild hooks file."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["COMMANDS"]


@click.command(
    "easybuild-hooks",
    epilog="Example: eb --hooks=$(nameplate easybuild-hooks) foo-1.0.eb --robot",
)
def easybuild_hooks() -> None:
    """Print the path of the EasyBuild hooks file shipped with nameplate.

    Pass it to EasyBuild (eb --hooks=PATH, or EASYBUILD_HOOKS=PATH): at the end of every
    install it writes <installdir>/easybuild/nameplate.json, and attaches the record to
    $NAMEPLATE_EB_ATTACH when that is set. A failure in the hook is a warning, never a failed
    install.
    """
    from .. import easybuild_hooks as hooks

    click.echo(str(Path(hooks.__file__).resolve()))


COMMANDS: dict[str, click.Command] = {"easybuild-hooks": easybuild_hooks}
