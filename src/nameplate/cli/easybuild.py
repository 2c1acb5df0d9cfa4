"""``nameplate easybuild-hooks``: the EasyBuild hooks file, its path or a site's copy."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["COMMANDS", "site_hooks"]


def site_hooks(*, push: str | None, attach: str | None, sign: str | None) -> str:
    """The text of a hooks file that publishes every record as told. The values appear only as
    Python literals (``repr``), in code and in one-line comments: nothing given is ever code."""
    given = {"push": push, "attach": attach, "sign": sign}
    args = ", ".join(f"{k}={v!r}" for k, v in given.items() if v is not None)
    what = (
        f"# and pushes the install to {push!r}, attaching the record to it"
        if push
        else (f"# and attaches the record to {attach!r}" if attach else "# and publishes nothing")
    )
    signed = f"\n# signed with {sign!r}" if sign else ""
    return (
        "# EasyBuild hooks written by `nameplate easybuild-hooks` (eb --hooks=THIS_FILE):\n"
        "# writes <installdir>/easybuild/nameplate.json after every install\n"
        f"{what}{signed}\n\n"
        "from nameplate.easybuild_hooks import configured\n\n"
        f"post_easyblock_hook = configured({args})\n"
    )


@click.command(
    "easybuild-hooks",
    epilog="Example: eb --hooks=$(nameplate easybuild-hooks) foo-1.0.eb --robot",
)
@click.option(
    "--push",
    metavar="REF",
    help="Push each install folder to REF (a template: {repo}, {tag}, {name}, {version}, "
    "{versionsuffix}, {toolchain}, {module}) and attach its record there.",
)
@click.option(
    "--attach", metavar="REF", help="Attach each record to REF (a template), which exists."
)
@click.option("--sign", metavar="KEY", help="Sign each record: a PEM private key or gpg:KEYID.")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a site hooks file with these settings here (for eb --hooks or hooks = in an "
    "EasyBuild configuration file) instead of printing the path of nameplate's.",
)
def easybuild_hooks(
    *, push: str | None, attach: str | None, sign: str | None, output: Path | None
) -> None:
    """Print the path of the EasyBuild hooks file shipped with nameplate, or write a site's.

    Pass it to EasyBuild (eb --hooks=PATH, EASYBUILD_HOOKS=PATH, or hooks = PATH in an
    EasyBuild configuration file): at the end of every install it writes
    <installdir>/easybuild/nameplate.json and, when configured, publishes the record:
    $NAMEPLATE_EB_PUSH (push the install there, attach to it), $NAMEPLATE_EB_ATTACH (attach to
    an existing reference), $NAMEPLATE_EB_SIGN (sign). With -o FILE the settings are written
    into a hooks file instead. A failure in the hook is a warning, never a failed install.
    """
    if push and attach:
        raise click.UsageError("give --push or --attach, not both")
    if output is None:
        if push or attach or sign:
            raise click.UsageError("--push, --attach and --sign go into a hooks file: add -o FILE")
        from .. import easybuild_hooks as hooks

        click.echo(str(Path(hooks.__file__).resolve()))
        return
    from .._io import atomic_write

    atomic_write(output, site_hooks(push=push, attach=attach, sign=sign).encode())
    click.echo(str(output))


COMMANDS: dict[str, click.Command] = {"easybuild-hooks": easybuild_hooks}
